//! ICMP (net/ipv4/icmp.c): echo, errors passed to TCP/UDP, PMTU learning, and
//! `icmp_send` with its rules about what may be answered and its per-peer rate
//! limit (`icmpv4_xrlim_allow`: `icmp_ratelimit` 1000 ms, burst 6, for
//! destination unreachable, source quench, time exceeded and parameter problem).

use super::{Hk, Peer, Stack};
use crate::node::Outbox;
use crate::time::Instant;
use crate::wire::ETH_HLEN;
use crate::wire::IPPROTO_UDP;
use crate::wire::ip::{
    ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHO_REPLY, ICMP_FRAG_NEEDED, ICMP_HOST_UNREACH, ICMP_REDIRECT,
    ICMP_TIME_EXCEEDED, Icmp, IpHdr, Ipv4, L4, build, icmp_quote,
};
use std::net::Ipv4Addr;

/// `XRLIM_BURST_FACTOR`.
const BURST: u64 = 6;

/// What ICMP tells the transport layers about a packet they sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    pub typ: u8,
    pub code: u8,
    /// Next-hop MTU for FRAG_NEEDED.
    pub mtu: u16,
    pub about: crate::wire::ip::Embedded,
}

impl Stack {
    /// `icmp_rcv`.
    pub(super) fn icmp_rcv(
        &mut self,
        now: Instant,
        dev: usize,
        frame: &[u8],
        looped: bool,
        hk: &mut Hk,
        out: &mut Outbox,
    ) {
        let ip = Ipv4::trusted(&frame[ETH_HLEN..]).expect("validated");
        let m = match Icmp::parse(ip.payload) {
            Ok(m) => m,
            Err(e) => return self.verdict_or_note(dev, looped, out, format!("ICMP: {e}"), true),
        };
        match m.typ {
            ICMP_ECHO => {
                if ip.dst.is_broadcast() || ip.dst.is_multicast() || self.ifaces[dev].is_broadcast(ip.dst) {
                    return self.verdict_or_note(
                        dev,
                        looped,
                        out,
                        "echo to broadcast ignored (icmp_echo_ignore_broadcasts=1)".into(),
                        false,
                    );
                }
                if self.sysctl.globals.icmp_echo_ignore_all != 0 {
                    return self.verdict_or_note(dev, looped, out, "icmp_echo_ignore_all=1".into(), false);
                }
                let mut h = IpHdr::new(ip.dst, ip.src, crate::wire::IPPROTO_ICMP);
                h.df = false;
                h.id = self.next_ip_id();
                let reply = build(&h, &L4::Icmp { typ: ICMP_ECHO_REPLY, code: 0, rest: m.rest, payload: m.payload });
                self.verdict_or_note(dev, looped, out, "echo request: replying".into(), false);
                let _ = self.ip_output(now, reply, Some("echo reply".into()), hk, out);
            }
            ICMP_ECHO_REPLY => {
                let id = u16::from_be_bytes([m.rest[0], m.rest[1]]);
                let seq = u16::from_be_bytes([m.rest[2], m.rest[3]]);
                self.echo_replies.push_back((ip.src, id, seq));
                self.verdict_or_note(dev, looped, out, format!("echo reply id={id} seq={seq}"), false);
            }
            ICMP_DEST_UNREACH | ICMP_TIME_EXCEEDED => {
                let Some(about) = m.embedded() else {
                    return self.verdict_or_note(dev, looped, out, "ICMP error without a quoted header".into(), true);
                };
                let mut mtu = 0;
                if m.typ == ICMP_DEST_UNREACH && m.code == ICMP_FRAG_NEEDED {
                    mtu = self.update_pmtu(now, about.dst, u32::from(m.next_hop_mtu())) as u16;
                }
                let e = IcmpError { typ: m.typ, code: m.code, mtu, about };
                let learned = if mtu > 0 { format!("; path MTU to {} is now {mtu}", about.dst) } else { String::new() };
                self.verdict_or_note(
                    dev,
                    looped,
                    out,
                    format!("error for our {} > {}{learned}", about.src, about.dst),
                    false,
                );
                self.icmp_error_to_transport(now, e, hk, out);
            }
            ICMP_REDIRECT => self.verdict_or_note(
                dev,
                looped,
                out,
                "redirect noted; the model does not change routes on redirects".into(),
                false,
            ),
            t => self.verdict_or_note(dev, looped, out, format!("ICMP type {t} ignored"), false),
        }
    }

    fn verdict_or_note(&self, dev: usize, looped: bool, out: &mut Outbox, text: String, dropped: bool) {
        if looped {
            out.note(&self.ifaces[dev].name, "icmp", || text);
        } else if dropped {
            out.drop_rx(|| text);
        } else {
            out.verdict(|| text);
        }
    }

    /// Passes an ICMP error to the socket that sent the quoted packet.
    fn icmp_error_to_transport(&mut self, now: Instant, e: IcmpError, hk: &mut Hk, out: &mut Outbox) {
        match e.about.proto {
            IPPROTO_UDP => self.udp.on_icmp_error(&e),
            crate::wire::IPPROTO_TCP => self.tcp_icmp_error(now, &e, hk, out),
            _ => {}
        }
    }

    /// `inet_peer_xrlim_allow`: a token bucket of `icmp_ratelimit` ms per
    /// destination; a new peer starts full (`rate_last` = now − 60 s).
    fn icmp_allowed(&mut self, now: Instant, dst: Ipv4Addr, typ: u8) -> bool {
        // icmp_ratemask 0x1818: types 3, 4, 11, 12.
        if !matches!(typ, 3 | 4 | 11 | 12) {
            return true;
        }
        let limit = u64::from(self.sysctl.globals.icmp_ratelimit);
        if limit == 0 {
            return true;
        }
        // inet_getpeer sets rate_last = jiffies - 60 s, so the first calculation is
        // capped at the full burst. (Not `now - 60 s` here: the simulation starts
        // at 0, where that would saturate and leave a new peer a single token.)
        let p = self.icmp_peers.entry(dst).or_insert(Peer { tokens_ms: BURST * limit, last: now });
        let mut tokens = p.tokens_ms + now.since(p.last).as_millis() as u64;
        p.last = now;
        tokens = tokens.min(BURST * limit);
        let ok = tokens >= limit;
        if ok {
            tokens -= limit;
        }
        p.tokens_ms = tokens;
        ok
    }

    /// `__icmp_send`: an error about the packet in `frame` (Ethernet + IP) back to
    /// its source. Never about an ICMP error, a non-first fragment, a broadcast or
    /// multicast destination, or a source that is not a unicast host. The source
    /// is the offending packet's destination when that was us, else chosen by the
    /// route back (`icmp_errors_use_inbound_ifaddr` = 0).
    pub(crate) fn icmp_send(
        &mut self,
        now: Instant,
        frame: &[u8],
        in_dev: Option<usize>,
        typ: u8,
        code: u8,
        info: u32,
        hk: &mut Hk,
        out: &mut Outbox,
    ) {
        self.icmp_send_src(now, frame, in_dev, typ, code, info, None, hk, out);
    }

    /// `ipv4_link_failure`: host unreachable about a packet whose neighbour failed.
    /// By then the packet carries its *output* route, never RTCF_LOCAL, so the
    /// source comes from the route back even when the packet was addressed to one
    /// of our addresses (an IPVS DR/TUN packet for the VIP: the error comes from
    /// the director's own address, not the VIP).
    pub(crate) fn icmp_send_link_failure(&mut self, now: Instant, frame: &[u8], hk: &mut Hk, out: &mut Outbox) {
        self.icmp_send_src(now, frame, None, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0, Some(false), hk, out);
    }

    /// `__icmp_send` proper; `dst_route_local` says whether the offending packet's
    /// route was local (RTCF_LOCAL), `None` to decide by its destination address.
    #[allow(clippy::too_many_arguments)]
    fn icmp_send_src(
        &mut self,
        now: Instant,
        frame: &[u8],
        in_dev: Option<usize>,
        typ: u8,
        code: u8,
        info: u32,
        dst_route_local: Option<bool>,
        hk: &mut Hk,
        out: &mut Outbox,
    ) {
        let Some(pkt) = frame.get(ETH_HLEN..) else { return };
        let Ok(ip) = Ipv4::parse(pkt) else { return };
        if ip.frag_off != 0 || ip.src.is_unspecified() || ip.src.is_broadcast() || ip.src.is_multicast() {
            return;
        }
        if ip.dst.is_broadcast() || ip.dst.is_multicast() || in_dev.is_some_and(|d| self.ifaces[d].is_broadcast(ip.dst))
        {
            return;
        }
        if ip.proto == crate::wire::IPPROTO_ICMP
            && let Ok(m) = Icmp::parse(ip.payload)
            && m.is_error()
        {
            return;
        }
        let to_self = self.is_local(ip.src);
        if !to_self && !self.icmp_allowed(now, ip.src, typ) {
            out.note("-", "icmp", || format!("ICMP type {typ} code {code} to {} suppressed by icmp_ratelimit", ip.src));
            return;
        }
        let saddr = if dst_route_local.unwrap_or_else(|| self.is_local(ip.dst)) {
            ip.dst
        } else {
            match self.route_output(ip.src) {
                Some(r) => r.src,
                None => return,
            }
        };
        let rest = match typ {
            ICMP_DEST_UNREACH if code == ICMP_FRAG_NEEDED => {
                let m = (info as u16).to_be_bytes();
                [0, 0, m[0], m[1]]
            }
            ICMP_REDIRECT => info.to_be_bytes(),
            _ => [0; 4],
        };
        let mut h = IpHdr::new(saddr, ip.src, crate::wire::IPPROTO_ICMP);
        // IPTOS_PREC_INTERNETCONTROL; the ICMP socket does not set DF.
        h.tos = (ip.tos & 0x1e) | 0xc0;
        h.df = false;
        h.id = self.next_ip_id();
        let msg = build(&h, &L4::Icmp { typ, code, rest, payload: icmp_quote(pkt) });
        let why = match (typ, code) {
            (ICMP_DEST_UNREACH, 0) => "net unreachable".to_string(),
            (ICMP_DEST_UNREACH, 1) => "host unreachable".to_string(),
            (ICMP_DEST_UNREACH, 2) => "protocol unreachable".to_string(),
            (ICMP_DEST_UNREACH, 3) => "port unreachable".to_string(),
            (ICMP_DEST_UNREACH, 4) => format!("fragmentation needed, mtu {info}"),
            (ICMP_TIME_EXCEEDED, _) => "TTL exceeded".to_string(),
            (ICMP_REDIRECT, _) => format!("redirect: use {} (send_redirects=1)", Ipv4Addr::from(info)),
            _ => format!("type {typ} code {code}"),
        };
        let s = ip.src;
        let _ = self.ip_output(now, msg, out.tracing().then(|| format!("ICMP {why} to {s}")), hk, out);
    }
}
