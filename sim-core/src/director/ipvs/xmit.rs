//! Forwarding (ip_vs_xmit.c; reference §6): the common route step
//! (`__ip_vs_get_out_rt`: route, TTL, MTU), NAT, direct routing, IPIP tunnel,
//! local node, cache bypass, ICMP translation, and FULLNAT (not mainline; see
//! `fullnat`). Every rewrite keeps the IP and TCP/UDP checksums valid with the
//! incremental updates the kernel uses.

use super::Ipvs;
use super::conn::{NONE, ip as addr};
use super::core::{Iph, ap, ip_fmt};
use super::dest::{DestDst, Fwd};
use crate::node::Outbox;
use crate::stack::hooks::{HookEnv, HookPoint, HookVerdict, RouteInfo};
use crate::time::Instant;
use crate::wire::ip::{ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_HOST_UNREACH, ICMP_TIME_EXCEEDED, rewrite};
use crate::wire::{ETH_HLEN, IPPROTO_IPIP, IPPROTO_TCP, IPPROTO_UDP, checksum};

/// `IP_VS_RT_MODE_*`.
const RT_LOCAL: u8 = 0x01;
const RT_NON_LOCAL: u8 = 0x02;
const RT_RDR: u8 = 0x04;
const RT_TUNNEL: u8 = 0x10;

/// How a packet reaches the transmitters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Xmit {
    /// When the packet is handled (a kept route's learned PMTU may have expired).
    pub now: Instant,
    /// The hook the packet is at (for the local/non-local checks).
    pub hook: HookPoint,
    /// The packet is an ICMP error being forwarded (no MTU check).
    pub icmp: bool,
}

/// The result of the route step.
enum Rt {
    /// The destination is local: deliver to the local stack.
    Local,
    Out(RouteInfo),
}

/// Recomputes an IPv4 header checksum (`ip_send_check`).
fn ip_send_check(ip: &mut [u8], hlen: usize) {
    ip[10] = 0;
    ip[11] = 0;
    let c = checksum::checksum(&ip[..hlen]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
}

/// A UDP datagram sent without a checksum gets a full one after NAT, and a
/// computed 0 becomes 0xFFFF (`CSUM_MANGLED_0`) (§6.2).
fn udp_zero_csum_full(ip: &mut [u8]) {
    let hl = usize::from(ip[0] & 0x0f) * 4;
    if ip[9] != IPPROTO_UDP || ip.len() < hl + 8 || ip[hl + 6..hl + 8] != [0, 0] {
        return;
    }
    let (src, dst) = (
        addr(u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]])),
        addr(u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]])),
    );
    let len = ip.len() - hl;
    let sum = checksum::add(checksum::pseudo_header(src, dst, IPPROTO_UDP, len), &ip[hl..]);
    let c = match checksum::finish(sum) {
        0 => 0xffff,
        c => c,
    };
    ip[hl + 6..hl + 8].copy_from_slice(&c.to_be_bytes());
}

/// `tcp_dnat_handler`/`udp_dnat_handler` + `daddr = cp->daddr`: destination to the
/// real server, checksums updated incrementally.
pub(crate) fn dnat(ip: &mut [u8], daddr: u32, dport: u16) {
    rewrite::set_dport_dst(ip, dport, addr(daddr));
    udp_zero_csum_full(ip);
}

/// `tcp_snat_handler`/`udp_snat_handler` + `saddr = cp->vaddr`: a NAT reply gets
/// the virtual source.
pub(crate) fn snat(ip: &mut [u8], vaddr: u32, vport: u16) {
    rewrite::set_sport(ip, vport);
    rewrite::set_src(ip, addr(vaddr));
    udp_zero_csum_full(ip);
}

/// `ip_vs_nat_icmp`: translate an ICMP error about a NAT connection. Inbound
/// (`inout` false): outer destination and embedded source to the real server;
/// outbound: outer source and embedded destination to the virtual service. Both
/// IP header checksums are recomputed, then the whole ICMP checksum.
pub(crate) fn nat_icmp(ip: &mut [u8], hlen: usize, emb_hlen: usize, inout: bool, a: u32, port: u16) {
    let e = hlen + 8;
    let a = a.to_be_bytes();
    if inout {
        ip[12..16].copy_from_slice(&a);
        ip[e + 16..e + 20].copy_from_slice(&a);
    } else {
        ip[16..20].copy_from_slice(&a);
        ip[e + 12..e + 16].copy_from_slice(&a);
    }
    ip_send_check(ip, hlen);
    ip_send_check(&mut ip[e..], emb_hlen);
    let proto = ip[e + 9];
    let p = e + emb_hlen;
    if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) && ip.len() >= p + 4 {
        let at = if inout { p + 2 } else { p };
        ip[at..at + 2].copy_from_slice(&port.to_be_bytes());
    }
    ip[hlen + 2] = 0;
    ip[hlen + 3] = 0;
    let c = checksum::checksum(&ip[hlen..]);
    ip[hlen + 2..hlen + 4].copy_from_slice(&c.to_be_bytes());
}

/// `INET_ECN_encapsulate(tos, tos)`: DSCP and ECN copied, CE becomes ECT(0).
fn ecn_encapsulate(tos: u8) -> u8 {
    let ecn = tos & 3;
    (tos & !3) | if ecn == 3 { 2 } else { ecn }
}

impl Ipvs {
    /// The route to `daddr` through dest `d`: its `dest_dst` while that is still
    /// good (`__ip_vs_dst_check`), else a fresh lookup kept for the next packet
    /// (`do_output_route4` + `__ip_vs_dst_set`).
    #[inline]
    pub(crate) fn dest_dst(&mut self, d: usize, daddr: u32, now: Instant, env: &dyn HookEnv) -> Option<&RouteInfo> {
        let genid = env.route_genid();
        let dest = self.dests.get_mut(d)?;
        match &dest.dst {
            Some(dd) if dd.genid == genid && dd.daddr == daddr && now < dd.rt.expires => {
                debug_assert_eq!(Some(&dd.rt), env.route(addr(daddr)).as_ref(), "a kept route is what a lookup gives");
            }
            _ => dest.dst = Some(Box::new(DestDst { genid, daddr, rt: env.route(addr(daddr))? })),
        }
        dest.dst.as_deref().map(|dd| &dd.rt)
    }

    /// `__ip_vs_get_out_rt` (§6.1): route to `daddr`, refuse crossing the
    /// local/non-local boundary, decrement the TTL (Time Exceeded at ≤ 1), and check
    /// DF against the (tunnel) MTU (Fragmentation Needed).
    #[allow(clippy::too_many_arguments)]
    fn get_out_rt(
        &mut self,
        frame: &mut [u8],
        iph: &Iph,
        daddr: u32,
        dest: u32,
        mode: u8,
        x: Xmit,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> Result<Rt, HookVerdict> {
        let rt = match dest {
            NONE => env.route(addr(daddr)),
            d => self.dest_dst(d as usize, daddr, x.now, env).copied(),
        };
        let Some(rt) = rt else {
            out.note_with(
                "-",
                "ipvs",
                || format!("no route to {}", ip_fmt(daddr)),
                || {
                    format!(
                        "no route to {}: ICMP host unreachable to {} (dst_link_failure)",
                        ip_fmt(daddr),
                        ip_fmt(iph.saddr)
                    )
                },
            );
            return Err(HookVerdict::IcmpError { typ: ICMP_DEST_UNREACH, code: ICMP_HOST_UNREACH, info: 0 });
        };
        let old_local = x.hook != HookPoint::Forward;
        if rt.local {
            if mode & RT_LOCAL == 0 || (mode & RT_RDR == 0 && !old_local) {
                out.note_with(
                    "-",
                    "ipvs",
                    || format!("{} is local: dropped", ip_fmt(daddr)),
                    || "crossing from non-local to local routes is not allowed here".into(),
                );
                return Err(HookVerdict::Drop);
            }
            return Ok(Rt::Local);
        }
        if mode & RT_NON_LOCAL == 0 || addr(iph.saddr).is_loopback() {
            out.note_with(
                "-",
                "ipvs",
                || format!("{} -> {}: dropped", ip_fmt(iph.saddr), ip_fmt(daddr)),
                || "a loopback source may not leave the host".into(),
            );
            return Err(HookVerdict::Drop);
        }
        let ip = &mut frame[ETH_HLEN..];
        if ip[8] <= 1 {
            let ttl = ip[8];
            out.note_with(
                "-",
                "ipvs",
                || format!("{} -> {}: TTL {ttl} expires", ip_fmt(iph.saddr), ip_fmt(daddr)),
                || "decrement_ttl: TTL <= 1 on the way to the real server: ICMP time exceeded".into(),
            );
            return Err(HookVerdict::IcmpError { typ: ICMP_TIME_EXCEEDED, code: 0, info: 0 });
        }
        rewrite::dec_ttl(ip);
        let mtu = if mode & RT_TUNNEL != 0 {
            let m = rt.mtu.saturating_sub(20);
            if m < 68 {
                out.note_with(
                    "-",
                    "ipvs",
                    || format!("tunnel to {}: dropped", ip_fmt(daddr)),
                    || format!("tunnel MTU {m} is below 68"),
                );
                return Err(HookVerdict::Drop);
            }
            m
        } else {
            rt.mtu
        };
        let frag_check = !(mode & RT_TUNNEL != 0 && self.sysctl.pmtu_disc == 0);
        if frag_check && iph.df && iph.len as u32 > mtu && !x.icmp {
            let len = iph.len;
            let tunnel = mode & RT_TUNNEL != 0;
            out.note_with(
                "-",
                "ipvs",
                || format!("{} -> {}: {len} bytes with DF", ip_fmt(iph.saddr), ip_fmt(daddr)),
                || {
                    if tunnel {
                        format!("larger than the tunnel MTU {mtu} (route MTU {} less 20 for IPIP): ICMP fragmentation needed, mtu {mtu}", rt.mtu)
                    } else {
                        format!("larger than the path MTU {mtu}: ICMP fragmentation needed, mtu {mtu}")
                    }
                },
            );
            return Err(HookVerdict::IcmpError { typ: ICMP_DEST_UNREACH, code: ICMP_FRAG_NEEDED, info: mtu });
        }
        Ok(Rt::Out(rt))
    }

    /// `cp->packet_xmit` for the connection's method.
    pub(crate) fn xmit(
        &mut self,
        idx: u32,
        x: Xmit,
        frame: &mut Vec<u8>,
        iph: Iph,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> HookVerdict {
        frame.truncate(ETH_HLEN + iph.len);
        let c = self.conns.conn(idx);
        let (daddr, dport, fwd, dest) = (c.daddr, c.dport, c.fwd(), c.dest);
        match fwd {
            // ip_vs_nat_xmit
            Fwd::Masq => {
                let rt = match self.get_out_rt(frame, &iph, daddr, dest, RT_LOCAL | RT_NON_LOCAL | RT_RDR, x, env, out)
                {
                    Ok(r) => r,
                    Err(v) => return v,
                };
                if matches!(rt, Rt::Local) && addr(daddr).is_loopback() && x.hook != HookPoint::LocalOut {
                    return HookVerdict::Drop;
                }
                dnat(&mut frame[ETH_HLEN..], daddr, dport);
                match rt {
                    Rt::Local => HookVerdict::LocalDeliver,
                    Rt::Out(rt) => {
                        let next_hop = rt.gateway.unwrap_or(addr(daddr));
                        HookVerdict::Transmit { dev: rt.dev, next_hop }
                    }
                }
            }
            // ip_vs_dr_xmit: KNOWN_NH, the real server is the next hop; IP unchanged.
            Fwd::Route => match self.get_out_rt(frame, &iph, daddr, dest, RT_LOCAL | RT_NON_LOCAL, x, env, out) {
                Ok(Rt::Local) => HookVerdict::LocalDeliver,
                Ok(Rt::Out(rt)) => HookVerdict::Transmit { dev: rt.dev, next_hop: addr(daddr) },
                Err(v) => v,
            },
            Fwd::Tunnel => self.tunnel_xmit(daddr, dest, x, frame, iph, env, out),
            // ip_vs_null_xmit
            Fwd::Local => HookVerdict::LocalDeliver,
            // ip_vs_bypass_xmit: to the packet's own destination, unchanged.
            Fwd::Bypass => match self.get_out_rt(frame, &iph, iph.daddr, NONE, RT_NON_LOCAL, x, env, out) {
                Ok(Rt::Out(rt)) => {
                    let next_hop = rt.gateway.unwrap_or(addr(iph.daddr));
                    HookVerdict::Transmit { dev: rt.dev, next_hop }
                }
                Ok(Rt::Local) => HookVerdict::Drop,
                Err(v) => v,
            },
            Fwd::FullNat => self.fullnat_xmit(idx, x, frame, iph, env, out),
        }
    }

    /// `ip_vs_tunnel_xmit` (IPIP, §6.4): route with the tunnel MTU, then prepend
    /// an outer header from the route's source to the real server.
    #[allow(clippy::too_many_arguments)]
    fn tunnel_xmit(
        &mut self,
        daddr: u32,
        dest: u32,
        x: Xmit,
        frame: &mut Vec<u8>,
        iph: Iph,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> HookVerdict {
        let rt = match self.get_out_rt(frame, &iph, daddr, dest, RT_LOCAL | RT_NON_LOCAL | RT_TUNNEL, x, env, out) {
            Ok(Rt::Local) => return HookVerdict::LocalDeliver,
            Ok(Rt::Out(rt)) => rt,
            Err(v) => return v,
        };
        let inner = &frame[ETH_HLEN..];
        let df = self.sysctl.pmtu_disc != 0 && inner[6] & 0x40 != 0;
        let id = if df {
            0
        } else {
            self.ip_ident = self.ip_ident.wrapping_add(1);
            self.ip_ident
        };
        let total = (inner.len() + 20) as u16;
        let mut outer = [0u8; 20];
        outer[0] = 0x45;
        outer[1] = ecn_encapsulate(inner[1]);
        outer[2..4].copy_from_slice(&total.to_be_bytes());
        outer[4..6].copy_from_slice(&id.to_be_bytes());
        outer[6] = if df { 0x40 } else { 0 };
        outer[8] = inner[8];
        outer[9] = IPPROTO_IPIP;
        outer[12..16].copy_from_slice(&rt.src.octets());
        outer[16..20].copy_from_slice(&daddr.to_be_bytes());
        ip_send_check(&mut outer, 20);
        // The inner packet moves 20 bytes along; the outer header goes before it.
        let end = frame.len();
        frame.resize(end + 20, 0);
        frame.copy_within(ETH_HLEN..end, ETH_HLEN + 20);
        frame[ETH_HLEN..ETH_HLEN + 20].copy_from_slice(&outer);
        HookVerdict::Transmit { dev: rt.dev, next_hop: rt.gateway.unwrap_or(addr(daddr)) }
    }

    /// `ip_vs_icmp_xmit`: NAT connections get the error translated towards the real
    /// server; other methods forward it like their packets.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn icmp_xmit(
        &mut self,
        now: Instant,
        idx: u32,
        hook: HookPoint,
        frame: &mut Vec<u8>,
        iph: Iph,
        emb_hlen: usize,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> HookVerdict {
        let x = Xmit { now, hook, icmp: true };
        let c = self.conns.conn(idx);
        if c.fwd() != Fwd::Masq {
            return self.xmit(idx, x, frame, iph, env, out);
        }
        let (daddr, dport, dest) = (c.daddr, c.dport, c.dest);
        frame.truncate(ETH_HLEN + iph.len);
        let mode = if hook != HookPoint::Forward { RT_LOCAL | RT_NON_LOCAL | RT_RDR } else { RT_NON_LOCAL };
        let rt = match self.get_out_rt(frame, &iph, daddr, dest, mode, x, env, out) {
            Ok(r) => r,
            Err(v) => return v,
        };
        if matches!(rt, Rt::Local) && addr(daddr).is_loopback() && hook != HookPoint::LocalOut {
            return HookVerdict::Drop;
        }
        nat_icmp(&mut frame[ETH_HLEN..], iph.hlen, emb_hlen, false, daddr, dport);
        match rt {
            Rt::Local => HookVerdict::LocalDeliver,
            Rt::Out(rt) => {
                let next_hop = rt.gateway.unwrap_or(addr(daddr));
                HookVerdict::Transmit { dev: rt.dev, next_hop }
            }
        }
    }

    /// FULLNAT request (Alibaba's `ip_vs_fnat_xmit`): source to the local address
    /// and port, destination to the real server.
    fn fullnat_xmit(
        &mut self,
        idx: u32,
        x: Xmit,
        frame: &mut [u8],
        iph: Iph,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> HookVerdict {
        let (daddr, dest) = (self.conns.conn(idx).daddr, self.conns.conn(idx).dest);
        let rt = match self.get_out_rt(frame, &iph, daddr, dest, RT_NON_LOCAL, x, env, out) {
            Ok(Rt::Out(rt)) => rt,
            Ok(Rt::Local) => return HookVerdict::Drop,
            Err(v) => return v,
        };
        if self.conns.conn(idx).laddr == 0 && !self.fullnat_bind(idx, rt.src, out) {
            return HookVerdict::Drop;
        }
        let c = self.conns.conn(idx);
        let ip = &mut frame[ETH_HLEN..];
        rewrite::set_sport(ip, c.lport);
        rewrite::set_src(ip, addr(c.laddr));
        dnat(ip, c.daddr, c.dport);
        let next_hop = rt.gateway.unwrap_or(addr(daddr));
        HookVerdict::Transmit { dev: rt.dev, next_hop }
    }

    /// FULLNAT reply (Alibaba's `ip_vs_fnat_response_xmit`): a real server's answer
    /// to a local address goes back to the client from the virtual service.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fullnat_response(
        &mut self,
        now: Instant,
        idx: u32,
        meta: crate::stack::hooks::PacketMeta,
        frame: &mut Vec<u8>,
        iph: Iph,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> HookVerdict {
        frame.truncate(ETH_HLEN + iph.len);
        let c = self.conns.conn(idx).clone();
        self.out_stats(idx, now, iph.len);
        self.set_state(idx, super::proto_tcp::Dir::Output, &frame[ETH_HLEN..], &iph, out);
        self.conns.arm(idx, now);
        let x = Xmit { now, hook: meta.hook, icmp: false };
        let rt = match self.get_out_rt(frame, &iph, c.caddr, NONE, RT_NON_LOCAL, x, env, out) {
            Ok(Rt::Out(rt)) => rt,
            Ok(Rt::Local) => return HookVerdict::Drop,
            Err(v) => return v,
        };
        let ip = &mut frame[ETH_HLEN..];
        rewrite::set_sport(ip, c.vport);
        rewrite::set_src(ip, addr(c.vaddr));
        dnat(ip, c.caddr, c.cport);
        out.note_with(
            "-",
            "ipvs",
            || format!("FULLNAT reply {} -> {}", ap(c.daddr, c.dport), ap(c.laddr, c.lport)),
            || format!("translated back to {} -> {}", ap(c.vaddr, c.vport), ap(c.caddr, c.cport)),
        );
        let next_hop = rt.gateway.unwrap_or(addr(c.caddr));
        HookVerdict::Transmit { dev: rt.dev, next_hop }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ip::{IpHdr, Ipv4, L4, TCP_SYN, build};
    use std::net::Ipv4Addr;

    fn tcp() -> Vec<u8> {
        let h = IpHdr::new(Ipv4Addr::new(192, 168, 0, 10), Ipv4Addr::new(10, 0, 0, 1), IPPROTO_TCP);
        build(
            &h,
            &L4::Tcp {
                sport: 51234,
                dport: 80,
                seq: 7,
                ack: 0,
                flags: TCP_SYN,
                window: 100,
                mss: None,
                payload: b"hi",
            },
        )
    }

    #[test]
    fn dnat_snat_keep_checksums() {
        let mut f = tcp();
        dnat(&mut f[ETH_HLEN..], u32::from(Ipv4Addr::new(192, 168, 1, 11)), 8080);
        let p = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
        assert!(p.l4_checksum_ok());
        assert_eq!(p.dst, Ipv4Addr::new(192, 168, 1, 11));
        snat(&mut f[ETH_HLEN..], u32::from(Ipv4Addr::new(10, 0, 0, 1)), 80);
        let p = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
        assert!(p.l4_checksum_ok());
        assert_eq!(p.src, Ipv4Addr::new(10, 0, 0, 1));
    }

    #[test]
    fn udp_without_checksum_gets_one() {
        let h = IpHdr::new(Ipv4Addr::new(192, 168, 0, 10), Ipv4Addr::new(10, 0, 0, 1), IPPROTO_UDP);
        let mut f = build(&h, &L4::Udp { sport: 4000, dport: 53, payload: b"query" });
        f[ETH_HLEN + 20 + 6] = 0;
        f[ETH_HLEN + 20 + 7] = 0;
        dnat(&mut f[ETH_HLEN..], u32::from(Ipv4Addr::new(192, 168, 1, 12)), 53);
        assert_ne!(f[ETH_HLEN + 26..ETH_HLEN + 28], [0, 0]);
        assert!(Ipv4::parse(&f[ETH_HLEN..]).unwrap().l4_checksum_ok());
    }

    #[test]
    fn ecn_rules() {
        assert_eq!(ecn_encapsulate(0xb8 | 3), 0xb8 | 2, "CE becomes ECT(0)");
        assert_eq!(ecn_encapsulate(0xb8 | 1), 0xb8 | 1);
        assert_eq!(ecn_encapsulate(0x10), 0x10);
    }
}
