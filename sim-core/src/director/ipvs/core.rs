//! The packet path (ip_vs_core.c; reference §5): `ip_vs_in_hook` for client
//! packets, `ip_vs_out_hook` for replies, the ICMP handlers, scheduling and
//! `ip_vs_leave`, statistics and state updates, and connection timers.

use super::conn::{ConnParam, Expired, NONE, cf, ip as addr};
use super::dest::Fwd;
use super::proto_tcp::{self, Dir};
use super::sched::{DestList, SchedCtx, SchedPkt};
use super::service::{FTPDATA, FTPPORT, SVC_F_ONEPACKET};
use super::xmit::Xmit;
use super::{Ipvs, proto_udp};
use crate::node::Outbox;
use crate::stack::hooks::{HookEnv, HookPoint, HookVerdict, Hooked, PacketMeta};
use crate::time::Instant;
use crate::wire::ip::{ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};
use crate::wire::{ETH_HLEN, IPPROTO_ICMP, IPPROTO_IPIP, IPPROTO_TCP, IPPROTO_UDP, checksum};

/// `ICMP_SOURCE_QUENCH`.
const ICMP_SOURCE_QUENCH: u8 = 4;

/// The IPv4 header fields the packet path reads (`struct ip_vs_iphdr`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Iph {
    /// Header length, bytes.
    pub hlen: usize,
    /// Total length (`skb->len` once the stack trimmed padding).
    pub len: usize,
    pub proto: u8,
    pub saddr: u32,
    pub daddr: u32,
    pub df: bool,
    /// A fragment (MF set or a non-zero offset).
    pub frag: bool,
}

impl Iph {
    /// Reads an IPv4 header; `None` when it is not one or is inconsistent.
    #[inline]
    pub fn parse(ip: &[u8]) -> Option<Iph> {
        if ip.len() < 20 || ip[0] >> 4 != 4 {
            return None;
        }
        let hlen = usize::from(ip[0] & 0x0f) * 4;
        let len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if hlen < 20 || len < hlen || len > ip.len() {
            return None;
        }
        let fo = u16::from_be_bytes([ip[6], ip[7]]);
        Some(Iph {
            hlen,
            len,
            proto: ip[9],
            saddr: u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]),
            daddr: u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]),
            df: fo & 0x4000 != 0,
            frag: fo & 0x3fff != 0,
        })
    }

    /// The TCP/UDP ports, when at least `need` bytes of the L4 header are present.
    #[inline]
    pub fn ports(&self, ip: &[u8], need: usize) -> Option<(u16, u16)> {
        let h = self.hlen;
        (self.len >= h + need)
            .then(|| (u16::from_be_bytes([ip[h], ip[h + 1]]), u16::from_be_bytes([ip[h + 2], ip[h + 3]])))
    }
}

/// `addr:port` for traces.
pub(crate) fn ap(a: u32, p: u16) -> String {
    format!("{}:{}", addr(a), p)
}

fn proto_name(p: u8) -> &'static str {
    match p {
        IPPROTO_TCP => "TCP",
        IPPROTO_UDP => "UDP",
        _ => "IP",
    }
}

/// TCP flags as tcpdump prints them (`[S.]`).
fn flag_str(f: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [(TCP_SYN, 'S'), (TCP_FIN, 'F'), (TCP_RST, 'R'), (0x08, 'P'), (TCP_ACK, '.')] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    if s.is_empty() { "none".into() } else { s }
}

/// The packet as scheduling sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sp {
    pub proto: u8,
    /// Header addresses and ports (the embedded header's for `inverse`).
    pub saddr: u32,
    pub daddr: u32,
    pub sport: u16,
    pub dport: u16,
    pub inverse: bool,
    /// Locally generated (`skb->dev` NULL).
    pub local: bool,
}

impl Sp {
    /// `(caddr, cport, vaddr, vport)`.
    pub fn cv(&self) -> (u32, u16, u32, u16) {
        if self.inverse {
            (self.daddr, self.dport, self.saddr, self.sport)
        } else {
            (self.saddr, self.sport, self.daddr, self.dport)
        }
    }
    pub fn sched(&self, svc_flags: u32) -> SchedPkt {
        SchedPkt {
            saddr: self.saddr,
            daddr: self.daddr,
            sport: self.sport,
            dport: self.dport,
            inverse: self.inverse,
            svc_flags,
        }
    }
}

/// The transport fields the in-path reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct L4 {
    pub sport: u16,
    pub dport: u16,
    /// TCP flags (0 for UDP).
    pub tflags: u8,
}

/// What `ip_vs_schedule` decided (its `*ignored` out-parameter).
pub(crate) enum Sched {
    /// A new connection.
    Conn(u32),
    /// `ignored = 1`: not scheduled, NF_ACCEPT.
    Ignored,
    /// `ignored = 0`: `ip_vs_leave`.
    Leave,
}

impl Hooked for Ipvs {
    fn hook(
        &mut self,
        now: Instant,
        meta: PacketMeta,
        frame: &mut Vec<u8>,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> HookVerdict {
        let mut missed = None;
        if matches!(meta.hook, HookPoint::LocalIn | HookPoint::LocalOut) {
            match self.in_established(now, frame, env) {
                Ok(v) => return v,
                Err(m) => missed = m,
            }
        }
        self.hook_general(now, meta, frame, env, out, missed)
    }
}

impl Ipvs {
    /// Everything but the established fast path ([`Ipvs::in_established`]);
    /// `missed`: the fast path found no entry for the packet's 4-tuple, and the
    /// header and ports it read. Cold: the fast path is then laid out straight
    /// and keeps its values in registers.
    #[inline(never)]
    #[cold]
    fn hook_general(
        &mut self,
        now: Instant,
        meta: PacketMeta,
        frame: &mut Vec<u8>,
        env: &dyn HookEnv,
        out: &mut Outbox,
        missed: Option<(Iph, L4)>,
    ) -> HookVerdict {
        let Some(iph) = missed.map(|m| m.0).or_else(|| frame.get(ETH_HLEN..).and_then(Iph::parse)) else {
            return HookVerdict::Accept;
        };
        let l4 = missed.map(|m| m.1);
        match meta.hook {
            // LOCAL_IN: ip_vs_out_hook (NAT_SRC−2) before ip_vs_in_hook (NAT_SRC−1);
            // LOCAL_OUT: ip_vs_out_hook (NAT_DST+1) before ip_vs_in_hook (NAT_DST+2).
            HookPoint::LocalIn | HookPoint::LocalOut => {
                // Fast path: a packet of a known client connection goes straight to
                // the in-path. The kernel would run ip_vs_out_hook first, which
                // could only match it if its 4-tuple were also a NAT reply: a
                // configuration no one can build, so the result is the same.
                if l4.is_none()
                    && let Some((idx, l4)) = self.in_lookup(frame, &iph)
                {
                    return self.in_conn(now, meta, frame, iph, env, out, Some(idx), l4);
                }
                // ip_vs_out_hook creates no client entry, so a lookup that missed
                // before it misses after it.
                match self.out_hook(now, meta, frame, iph, env, out) {
                    Some(v) => v,
                    None => match l4 {
                        Some(l4) => self.in_conn(now, meta, frame, iph, env, out, None, l4),
                        None => self.in_hook(now, meta, frame, iph, env, out),
                    },
                }
            }
            // FORWARD: ip_vs_forward_icmp (99) before ip_vs_out_hook (100).
            HookPoint::Forward => {
                if iph.proto == IPPROTO_ICMP {
                    let v = self.in_icmp(now, meta, frame, iph, env, out);
                    if v != HookVerdict::Accept {
                        return v;
                    }
                }
                self.out_hook(now, meta, frame, iph, env, out).unwrap_or(HookVerdict::Accept)
            }
            HookPoint::PreRouting | HookPoint::PostRouting => HookVerdict::Accept,
        }
    }
}

impl Ipvs {
    /// Fires due connection timers (`ip_vs_conn_expire`) and the trash timer, each
    /// at the time it was due, so the result does not depend on how late this is
    /// called.
    pub fn on_timer(&mut self, now: Instant, out: &mut Outbox) {
        while let Some((idx, at)) = self.conns.pop_due(now) {
            let c = self.conns.conn(idx).clone();
            let r = self.conn_expire(idx, at, false);
            out.note_with(
                "-",
                "ipvs",
                || match r {
                    Expired::Gone => format!("{} expired", self.describe(&c)),
                    Expired::Later => format!("{} expiry postponed 60 s", self.describe(&c)),
                },
                || match r {
                    Expired::Gone if c.is_template() => {
                        format!("persistence template idle for its timeout ({} s)", c.timeout_ms / 1000)
                    }
                    Expired::Gone if c.has(cf::ONE_PACKET) => "one-packet scheduling: expires after its packet".into(),
                    Expired::Gone => {
                        format!("no packet for {} s in state {}", c.timeout_ms / 1000, self.state_name(&c))
                    }
                    Expired::Later => format!("it still controls {} connection(s)", c.n_control),
                },
            );
        }
        while let Some(at) = self.trash_timer.filter(|&t| t <= now) {
            self.dest_trash_expire(at);
        }
    }

    fn state_name(&self, c: &super::conn::Conn) -> &'static str {
        if c.is_template() {
            if c.state != 0 { "ASSURED" } else { "NONE" }
        } else if c.proto == IPPROTO_TCP {
            proto_tcp::state_name(c.state)
        } else {
            proto_udp::STATE_NAME
        }
    }

    /// `TCP 192.168.0.10:51234 -> 10.0.0.1:80 -> 192.168.1.11:80`.
    fn describe(&self, c: &super::conn::Conn) -> String {
        let kind = if c.is_template() { "template " } else { "" };
        format!(
            "{kind}{} {} -> {} -> {}",
            proto_name(c.proto),
            ap(c.caddr, c.cport),
            ap(c.vaddr, c.vport),
            ap(c.daddr, c.dport)
        )
    }

    /// `ip_vs_in_stats`: only while the dest is available.
    #[inline]
    pub(crate) fn in_stats(&mut self, idx: u32, now: Instant, bytes: usize) {
        let d = self.conns.conn(idx).dest;
        if d == NONE {
            return;
        }
        let dest = &mut self.dests[d as usize];
        if dest.available() {
            dest.stats.add_in(now, bytes);
            let s = dest.svc as usize;
            self.services[s].stats.add_in(now, bytes);
        }
    }

    /// `ip_vs_out_stats`.
    #[inline]
    pub(crate) fn out_stats(&mut self, idx: u32, now: Instant, bytes: usize) {
        let d = self.conns.conn(idx).dest;
        if d == NONE {
            return;
        }
        let dest = &mut self.dests[d as usize];
        if dest.available() {
            dest.stats.add_out(now, bytes);
            let s = dest.svc as usize;
            self.services[s].stats.add_out(now, bytes);
        }
    }

    /// `ip_vs_set_state`, with a trace note on a TCP state change.
    pub(crate) fn set_state(&mut self, idx: u32, dir: Dir, ip: &[u8], iph: &Iph, out: &mut Outbox) {
        match self.conns.conn(idx).proto {
            IPPROTO_TCP => {
                if iph.len < iph.hlen + 20 {
                    return;
                }
                let flags = ip[iph.hlen + 13];
                let t = self.set_tcp_state(idx, dir, flags);
                if t.from != t.to {
                    let c = self.conns.conn(idx);
                    out.note_with(
                        "-",
                        "ipvs",
                        || {
                            format!(
                                "{} {}: {} -> {}",
                                proto_name(c.proto),
                                ap(c.caddr, c.cport),
                                proto_tcp::state_name(t.from),
                                proto_tcp::state_name(t.to)
                            )
                        },
                        || {
                            let table = match (dir, c.has(cf::NOOUTPUT)) {
                                (Dir::Output, _) => "OUTPUT",
                                (Dir::Input, true) => "INPUT_ONLY",
                                (Dir::Input, false) => "INPUT",
                            };
                            let counts = if proto_tcp::state_active(t.from) == proto_tcp::state_active(t.to) {
                                ""
                            } else if proto_tcp::state_active(t.to) {
                                ", now counted in ActiveConn"
                            } else {
                                ", now counted in InActConn"
                            };
                            format!(
                                "[{}] in the {table} table, timeout {} s{counts}",
                                flag_str(flags),
                                c.timeout_ms / 1000
                            )
                        },
                    );
                }
            }
            IPPROTO_UDP => self.set_udp_state(idx, dir),
            _ => {}
        }
    }

    /// `ip_vs_conn_stats`: a new real connection counts on its dest and service.
    #[inline]
    pub(crate) fn conn_stats(&mut self, idx: u32, svc: u32, now: Instant) {
        let d = self.conns.conn(idx).dest;
        if d != NONE {
            self.dests[d as usize].stats.add_conn(now);
        }
        self.services[svc as usize].stats.add_conn(now);
    }

    /// Runs service `s`'s scheduler and notes its choice or failure.
    pub(crate) fn run_scheduler(&mut self, now: Instant, s: u32, sp: &Sp, out: &mut Outbox) -> Option<u32> {
        let svc = &mut self.services[s as usize];
        let list = DestList { order: &svc.dests, all: &self.dests };
        let spkt = sp.sched(svc.flags);
        let mut ctx = SchedCtx {
            now,
            rng: &mut self.rng,
            lblc_expiration: self.sysctl.lblc_expiration,
            lblcr_expiration: self.sysctl.lblcr_expiration,
        };
        let pick = svc.sched.schedule(&list, &spkt, &mut ctx);
        let (c, cp, v, vp) = sp.cv();
        match pick {
            Some(p) => {
                out.note_with(
                    "-",
                    "ipvs",
                    || {
                        format!(
                            "{} {} -> {}: scheduled to {} ({})",
                            proto_name(sp.proto),
                            ap(c, cp),
                            ap(v, vp),
                            list.name(p.dest),
                            list.get(p.dest).fwd.name()
                        )
                    },
                    || svc.sched.explain(&list, &spkt, &p),
                );
                Some(p.dest)
            }
            None => {
                out.note_with(
                    "-",
                    "ipvs",
                    || format!("{} {} -> {}: no destination available", proto_name(sp.proto), ap(c, cp), ap(v, vp)),
                    || {
                        let n = list.order.len();
                        let usable = list.iter().filter(|(_, d)| d.weight > 0 && !d.overloaded()).count();
                        format!(
                            "{} found no destination ({n} in the service, {usable} with weight > 0 and not overloaded)",
                            svc.sched.name()
                        )
                    },
                );
                None
            }
        }
    }

    /// `ip_vs_schedule` (§5.2).
    pub(crate) fn schedule(&mut self, now: Instant, s: u32, sp: &Sp, out: &mut Outbox) -> Sched {
        let (caddr, cport, vaddr, vport) = sp.cv();
        if cport == FTPDATA {
            out.note_with(
                "-",
                "ipvs",
                || format!("{} {} -> {}: not scheduled", proto_name(sp.proto), ap(caddr, cport), ap(vaddr, vport)),
                || "packets from port 20 (FTP data) are never scheduled: passed to the local stack".into(),
            );
            return Sched::Ignored;
        }
        if sp.local && self.conn_in_get(sp.proto, vaddr, vport, caddr, cport).is_some() {
            return Sched::Ignored;
        }
        let svc = &self.services[s as usize];
        if svc.persistent() {
            return self.sched_persist(now, s, sp, out);
        }
        if svc.fwmark() == 0 && vport != svc.port() {
            let port = svc.port();
            out.note_with(
                "-",
                "ipvs",
                || format!("{} {} -> {}: not scheduled", proto_name(sp.proto), ap(caddr, cport), ap(vaddr, vport)),
                || {
                    if port == 0 {
                        "port zero only supported in persistent services".into()
                    } else {
                        format!("the service is on port {port}, not {vport}")
                    }
                },
            );
            return Sched::Leave;
        }
        let Some(dest) = self.run_scheduler(now, s, sp, out) else {
            return Sched::Leave;
        };
        let svc = &self.services[s as usize];
        let flags = if svc.flags & SVC_F_ONEPACKET != 0 && sp.proto == IPPROTO_UDP { cf::ONE_PACKET } else { 0 };
        let d = &self.dests[dest as usize];
        let p = ConnParam {
            proto: sp.proto,
            caddr,
            cport,
            vaddr,
            vport,
            daddr: u32::from(d.addr),
            dport: if d.port != 0 { d.port } else { vport },
            flags,
        };
        let idx = self.conn_new(p, dest, now);
        self.conn_stats(idx, s, now);
        Sched::Conn(idx)
    }

    /// `ip_vs_leave` (§5.4): cache bypass, FTP pass-through, or port unreachable.
    #[allow(clippy::too_many_arguments)]
    fn leave(
        &mut self,
        now: Instant,
        s: u32,
        sp: &Sp,
        frame: &mut Vec<u8>,
        iph: Iph,
        env: &dyn HookEnv,
        meta: PacketMeta,
        out: &mut Outbox,
    ) -> HookVerdict {
        let svc = &self.services[s as usize];
        let dport = if sp.inverse { sp.sport } else { sp.dport };
        if self.sysctl.cache_bypass != 0 && svc.fwmark() != 0 && !sp.inverse {
            let flags = Fwd::Bypass.code()
                | if svc.flags & SVC_F_ONEPACKET != 0 && sp.proto == IPPROTO_UDP { cf::ONE_PACKET } else { 0 };
            let p = ConnParam {
                proto: sp.proto,
                caddr: sp.saddr,
                cport: sp.sport,
                vaddr: sp.daddr,
                vport: sp.dport,
                daddr: 0,
                dport: 0,
                flags,
            };
            let idx = self.conn_new(p, NONE, now);
            out.note_with(
                "-",
                "ipvs",
                || {
                    format!(
                        "{} {} -> {}: cache bypass",
                        proto_name(sp.proto),
                        ap(sp.saddr, sp.sport),
                        ap(sp.daddr, sp.dport)
                    )
                },
                || "no destination available; cache_bypass=1 on a fwmark service: routed to its own destination".into(),
            );
            self.set_state(idx, Dir::Input, &frame[ETH_HLEN..], &iph, out);
            let v = self.xmit(idx, Xmit { now, hook: meta.hook, icmp: false }, frame, iph, env, out);
            self.conns.arm(idx, now);
            return v;
        }
        if svc.port() == FTPPORT && dport != FTPPORT {
            return HookVerdict::Accept;
        }
        if sp.inverse {
            return HookVerdict::Drop;
        }
        out.note_with(
            "-",
            "ipvs",
            || format!("{} {} -> {}: left", proto_name(sp.proto), ap(sp.saddr, sp.sport), ap(sp.daddr, sp.dport)),
            || "no destination available: ICMP port unreachable to the client, packet dropped (ip_vs_leave)".into(),
        );
        HookVerdict::IcmpError { typ: ICMP_DEST_UNREACH, code: 3, info: 0 }
    }

    /// `ip_vs_in_hook` for TCP and UDP (§5.1).
    fn in_hook(
        &mut self,
        now: Instant,
        meta: PacketMeta,
        frame: &mut Vec<u8>,
        iph: Iph,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> HookVerdict {
        if iph.proto == IPPROTO_ICMP {
            return self.in_icmp(now, meta, frame, iph, env, out);
        }
        if iph.proto != IPPROTO_TCP && iph.proto != IPPROTO_UDP {
            return HookVerdict::Accept;
        }
        if iph.frag {
            // The kernel defragments first (conntrack or ip_vs_gather_frags); this
            // model has no reassembly, so fragments pass to the stack.
            return HookVerdict::Accept;
        }
        let ip = &frame[ETH_HLEN..];
        let need = if iph.proto == IPPROTO_TCP { 20 } else { 8 };
        let Some((sport, dport)) = iph.ports(ip, need) else {
            out.note_with(
                "-",
                "ipvs",
                || format!("{} {} -> {}: dropped", proto_name(iph.proto), ip_fmt(iph.saddr), ip_fmt(iph.daddr)),
                || "transport header truncated (tcp_conn_schedule/udp_conn_schedule: NF_DROP)".into(),
            );
            return HookVerdict::Drop;
        };
        let tflags = if iph.proto == IPPROTO_TCP { ip[iph.hlen + 13] } else { 0 };
        let cp = self.conn_in_get(iph.proto, iph.saddr, sport, iph.daddr, dport);
        self.in_conn(now, meta, frame, iph, env, out, cp, L4 { sport, dport, tflags })
    }

    /// The lookup of the fast path: a TCP/UDP packet with a whole header and an
    /// entry.
    #[inline]
    fn in_lookup(&self, frame: &[u8], iph: &Iph) -> Option<(u32, L4)> {
        let need = match iph.proto {
            IPPROTO_TCP => 20,
            IPPROTO_UDP => 8,
            _ => return None,
        };
        if iph.frag {
            return None;
        }
        let ip = &frame[ETH_HLEN..];
        let (sport, dport) = iph.ports(ip, need)?;
        let tflags = if iph.proto == IPPROTO_TCP { ip[iph.hlen + 13] } else { 0 };
        let idx = self.conn_in_get(iph.proto, iph.saddr, sport, iph.daddr, dport)?;
        Some((idx, L4 { sport, dport, tflags }))
    }

    /// `ip_vs_in_hook` from the connection lookup on (steps 5–8).
    #[allow(clippy::too_many_arguments)]
    fn in_conn(
        &mut self,
        now: Instant,
        meta: PacketMeta,
        frame: &mut Vec<u8>,
        iph: Iph,
        env: &dyn HookEnv,
        out: &mut Outbox,
        mut cp: Option<u32>,
        l4: L4,
    ) -> HookVerdict {
        let L4 { sport, dport, tflags } = l4;
        let proto = iph.proto;

        // Step 5: a SYN for an existing entry may reschedule: its dest has weight 0
        // (expire_nodest_conn), or the entry is closing (conn_reuse_mode).
        if let Some(idx) = cp
            && proto == IPPROTO_TCP
            && tflags & TCP_SYN != 0
        {
            match self.syn_reschedules(idx, now, out) {
                Ok(true) => cp = None,
                Ok(false) => {}
                Err(v) => return v,
            }
        }

        // Step 6: the dest was deleted.
        if let Some(idx) = cp {
            let c = self.conns.conn(idx);
            if c.dest != NONE && !self.dests[c.dest as usize].available() {
                if let Err(v) = self.dest_deleted(idx, now, out) {
                    return v;
                }
                cp = None;
            }
        }

        let idx = match cp {
            Some(i) => i,
            None => {
                // Step 7: ip_vs_try_to_schedule.
                let sloppy = self.sysctl.sloppy_tcp != 0;
                let svc = self.service_find(meta.mark, proto, iph.daddr, dport);
                if proto == IPPROTO_TCP && !proto_tcp::schedulable(tflags, sloppy) {
                    if svc.is_some() {
                        out.note_with(
                            "-",
                            "ipvs",
                            || format!("TCP {} -> {}: no connection entry", ap(iph.saddr, sport), ap(iph.daddr, dport)),
                            || {
                                if tflags & TCP_RST != 0 {
                                    "an RST is never scheduled: passed to the local stack".to_string()
                                } else {
                                    format!(
                                        "no connection entry and not a SYN [{}]: passed to the local stack (sloppy_tcp=0)",
                                        flag_str(tflags)
                                    )
                                }
                            },
                        );
                    }
                    return HookVerdict::Accept;
                }
                let Some(s) = svc else {
                    return HookVerdict::Accept;
                };
                let sp = Sp {
                    proto,
                    saddr: iph.saddr,
                    daddr: iph.daddr,
                    sport,
                    dport,
                    inverse: false,
                    local: meta.in_dev.is_none(),
                };
                match self.schedule(now, s, &sp, out) {
                    Sched::Conn(i) => i,
                    Sched::Ignored => return HookVerdict::Accept,
                    Sched::Leave => return self.leave(now, s, &sp, frame, iph, env, meta, out),
                }
            }
        };

        // Step 8: stats, state, transmit, timer.
        self.in_stats(idx, now, iph.len);
        self.set_state(idx, Dir::Input, &frame[ETH_HLEN..], &iph, out);
        let v = self.xmit(idx, Xmit { now, hook: meta.hook, icmp: false }, frame, iph, env, out);
        self.conns.arm(idx, now);
        v
    }

    /// Step 5 for a SYN on entry `idx`: whether it reschedules (the old entry
    /// then expires unless it controls others), or `Err` when the old
    /// conntrack entry makes the kernel drop it. Cold, as are the other rare
    /// branches of the general path, so the common one keeps its registers.
    #[cold]
    fn syn_reschedules(&mut self, idx: u32, now: Instant, out: &mut Outbox) -> Result<bool, HookVerdict> {
        let c = self.conns.conn(idx);
        let old_ct = c.has(cf::NFCT);
        let nodest_w0 =
            self.sysctl.expire_nodest_conn != 0 && c.dest != NONE && self.dests[c.dest as usize].weight == 0;
        let resched = if nodest_w0 {
            true
        } else if self.sysctl.conn_reuse_mode != 0 && self.new_conn_expected(idx) {
            c.n_control == 0 || !old_ct
        } else {
            false
        };
        if !resched {
            return Ok(false);
        }
        let (state, n_control) = (c.state, c.n_control);
        let desc = self.describe(c);
        if !old_ct {
            self.conns.conn_mut(idx).flags &= !cf::NFCT;
        }
        if n_control == 0 {
            self.conn_expire(idx, now, false);
        }
        out.note_with(
            "-",
            "ipvs",
            || format!("{desc}: SYN reschedules"),
            || {
                let why = if nodest_w0 {
                    "its real server has weight 0 (expire_nodest_conn=1)".to_string()
                } else {
                    format!(
                        "a new SYN for an entry in {} (conn_reuse_mode={})",
                        proto_tcp::state_name(state),
                        self.sysctl.conn_reuse_mode
                    )
                };
                if old_ct {
                    format!("{why}; the old conntrack entry is in use (conntrack=1): dropped, the client retransmits")
                } else {
                    format!("{why}: the old entry expires and the SYN is scheduled afresh")
                }
            },
        );
        if old_ct { Err(HookVerdict::Drop) } else { Ok(true) }
    }

    /// Step 6 for entry `idx` whose dest was deleted: it expires
    /// (expire_nodest_conn=1; `Err` if its conntrack entry is in use) or the
    /// packet is dropped.
    #[cold]
    fn dest_deleted(&mut self, idx: u32, now: Instant, out: &mut Outbox) -> Result<(), HookVerdict> {
        let c = self.conns.conn(idx);
        let dname = self.dests[c.dest as usize].name();
        let desc = self.describe(c);
        if self.sysctl.expire_nodest_conn == 0 {
            out.note_with(
                "-",
                "ipvs",
                || format!("{desc}: dropped"),
                || format!("dest {dname} was deleted: dropped (expire_nodest_conn=0)"),
            );
            return Err(HookVerdict::Drop);
        }
        let old_ct = c.has(cf::NFCT);
        if !old_ct {
            self.conns.conn_mut(idx).flags &= !cf::NFCT;
        }
        self.conn_expire(idx, now, false);
        out.note_with(
            "-",
            "ipvs",
            || format!("{desc}: expired"),
            || format!("dest {dname} was deleted (expire_nodest_conn=1)"),
        );
        if old_ct { Err(HookVerdict::Drop) } else { Ok(()) }
    }

    /// `is_new_conn_expected`: an uncontrolled TCP entry in TIME_WAIT or CLOSE, or
    /// (mode bit 2) in FIN_WAIT with no reply seen.
    fn new_conn_expected(&self, idx: u32) -> bool {
        let c = self.conns.conn(idx);
        if c.control != NONE || c.proto != IPPROTO_TCP {
            return false;
        }
        c.state == proto_tcp::S_TIME_WAIT
            || c.state == proto_tcp::S_CLOSE
            || (self.sysctl.conn_reuse_mode & 2 != 0 && c.state == proto_tcp::S_FIN_WAIT && c.has(cf::NOOUTPUT))
    }

    /// `ip_vs_out_hook` (§5.6): `Some` when the packet was handled (or is final).
    #[inline]
    fn out_hook(
        &mut self,
        now: Instant,
        meta: PacketMeta,
        frame: &mut Vec<u8>,
        iph: Iph,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> Option<HookVerdict> {
        if iph.proto == IPPROTO_ICMP {
            return self.out_icmp(now, frame, iph, out);
        }
        if (iph.proto != IPPROTO_TCP && iph.proto != IPPROTO_UDP) || iph.frag {
            return None;
        }
        let ip = &frame[ETH_HLEN..];
        let (sport, dport) = iph.ports(ip, 4)?;
        let Some(idx) = self.conn_out_get(iph.proto, iph.saddr, sport, iph.daddr, dport) else {
            return self.out_no_conn(frame, iph, sport, out);
        };
        Some(self.handle_response(now, idx, meta, frame, iph, env, out))
    }

    /// `nat_icmp_send`: a packet from a NAT real server with no connection entry.
    fn out_no_conn(&self, frame: &[u8], iph: Iph, sport: u16, out: &mut Outbox) -> Option<HookVerdict> {
        if self.sysctl.nat_icmp_send == 0 {
            return None;
        }
        let from_masq_rs = self.dests.iter().any(|d| {
            d.available()
                && d.fwd == Fwd::Masq
                && u32::from(d.addr) == iph.saddr
                && d.port == sport
                && self.services[d.svc as usize].key.fwmark() == 0
                && matches!(self.services[d.svc as usize].key, super::ServiceKey::Addr { proto, .. } if proto.num() == iph.proto)
        });
        if !from_masq_rs {
            return None;
        }
        let ip = &frame[ETH_HLEN..];
        if iph.proto == IPPROTO_TCP && iph.len >= iph.hlen + 14 && ip[iph.hlen + 13] & TCP_RST != 0 {
            return None;
        }
        out.note_with(
            "-",
            "ipvs",
            || format!("{} {}: no connection entry", proto_name(iph.proto), ap(iph.saddr, sport)),
            || "a NAT real server sent a packet with no connection entry (nat_icmp_send=1): port unreachable".into(),
        );
        Some(HookVerdict::IcmpError { typ: ICMP_DEST_UNREACH, code: 3, info: 0 })
    }

    /// `handle_response`: NAT replies get the virtual source; every reply counts,
    /// moves the state machine (OUTPUT) and restarts the timer.
    #[allow(clippy::too_many_arguments)]
    fn handle_response(
        &mut self,
        now: Instant,
        idx: u32,
        meta: PacketMeta,
        frame: &mut Vec<u8>,
        iph: Iph,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> HookVerdict {
        let c = self.conns.conn(idx).clone();
        let verdict = match c.fwd() {
            Fwd::Masq => {
                frame.truncate(ETH_HLEN + iph.len);
                super::xmit::snat(&mut frame[ETH_HLEN..], c.vaddr, c.vport);
                out.note_with(
                    "-",
                    "ipvs",
                    || {
                        format!(
                            "{}: reply source {} -> {}",
                            self.describe(&c),
                            ap(c.daddr, c.dport),
                            ap(c.vaddr, c.vport)
                        )
                    },
                    || {
                        format!(
                            "NAT reply from the real server: source rewritten to the virtual address (snat_reroute={})",
                            self.sysctl.snat_reroute
                        )
                    },
                );
                HookVerdict::Accept
            }
            Fwd::FullNat => {
                return self.fullnat_response(now, idx, meta, frame, iph, env, out);
            }
            _ => HookVerdict::Accept,
        };
        self.out_stats(idx, now, iph.len);
        self.set_state(idx, Dir::Output, &frame[ETH_HLEN..], &iph, out);
        self.conns.arm(idx, now);
        verdict
    }

    /// Reads an ICMP error's embedded header: `(offset of the embedded IP header,
    /// its fields)`. `None` when not an error IPVS relates to.
    fn icmp_embedded(frame: &[u8], iph: &Iph) -> Option<(u8, u8, usize, Iph)> {
        let ip = &frame[ETH_HLEN..ETH_HLEN + iph.len];
        let icmp = ip.get(iph.hlen..iph.hlen + 8)?;
        let (typ, code) = (icmp[0], icmp[1]);
        if typ != ICMP_DEST_UNREACH && typ != ICMP_SOURCE_QUENCH && typ != ICMP_TIME_EXCEEDED {
            return None;
        }
        let off = iph.hlen + 8;
        let emb = embedded_iph(ip.get(off..)?)?;
        Some((typ, code, off, emb))
    }

    /// `ip_vs_out_icmp` + `handle_response_icmp`: an error about a NAT'd packet,
    /// sent by the real server towards the client, gets the virtual address.
    fn out_icmp(&mut self, now: Instant, frame: &mut Vec<u8>, iph: Iph, out: &mut Outbox) -> Option<HookVerdict> {
        if iph.frag {
            return None;
        }
        let (typ, code, off, emb) = Self::icmp_embedded(frame, &iph)?;
        if emb.proto != IPPROTO_TCP && emb.proto != IPPROTO_UDP {
            return None;
        }
        let ip = &frame[ETH_HLEN..ETH_HLEN + iph.len];
        let eoff = off + emb.hlen;
        let ports = ip.get(eoff..eoff + 4)?;
        let (esport, edport) = (u16::from_be_bytes([ports[0], ports[1]]), u16::from_be_bytes([ports[2], ports[3]]));
        // The embedded header travelled client → real server: look it up inverse.
        let idx = self.conn_out_get(emb.proto, emb.daddr, edport, emb.saddr, esport)?;
        if self.conns.conn(idx).fwd() != Fwd::Masq {
            return None;
        }
        if checksum::checksum(&ip[iph.hlen..]) != 0 {
            return Some(HookVerdict::Drop);
        }
        let c = self.conns.conn(idx).clone();
        frame.truncate(ETH_HLEN + iph.len);
        super::xmit::nat_icmp(&mut frame[ETH_HLEN..], iph.hlen, emb.hlen, true, c.vaddr, c.vport);
        self.out_stats(idx, now, iph.len);
        out.note_with(
            "-",
            "ipvs",
            || format!("ICMP {typ}/{code} about {}: source -> {}", self.describe(&c), ip_fmt(c.vaddr)),
            || "an ICMP error from a NAT real server: translated to come from the virtual address".into(),
        );
        Some(HookVerdict::Accept)
    }

    /// `ip_vs_in_icmp` (§5.5): errors about our connections, including errors about
    /// our own IPIP packets, which go back to the client.
    fn in_icmp(
        &mut self,
        now: Instant,
        meta: PacketMeta,
        frame: &mut Vec<u8>,
        iph: Iph,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> HookVerdict {
        if iph.frag {
            return HookVerdict::Accept;
        }
        if iph.len < iph.hlen + 8 {
            return HookVerdict::Drop;
        }
        let Some((typ, code, off, outer_emb)) = Self::icmp_embedded(frame, &iph) else {
            return HookVerdict::Accept;
        };
        // Errors about our IPIP packets: the embedded header is ours, to a tunnel
        // real server; the one inside it is the client's.
        let mut emb = outer_emb;
        let mut eoff = off;
        let mut tunnel = false;
        if outer_emb.proto == IPPROTO_IPIP {
            let is_tunnel_dest =
                self.dests.iter().any(|d| d.fwd == Fwd::Tunnel && u32::from(d.addr) == outer_emb.daddr);
            if outer_emb.frag || meta.hook != HookPoint::LocalIn || !is_tunnel_dest {
                return HookVerdict::Accept;
            }
            eoff = off + outer_emb.hlen;
            let ip = &frame[ETH_HLEN..ETH_HLEN + iph.len];
            let Some(inner) = ip.get(eoff..).and_then(embedded_iph) else {
                return HookVerdict::Accept;
            };
            emb = inner;
            tunnel = true;
        }
        if emb.proto != IPPROTO_TCP && emb.proto != IPPROTO_UDP {
            return HookVerdict::Accept;
        }
        let ip = &frame[ETH_HLEN..ETH_HLEN + iph.len];
        let Some(ports) = ip.get(eoff + emb.hlen..eoff + emb.hlen + 4) else {
            return HookVerdict::Accept;
        };
        let (esport, edport) = (u16::from_be_bytes([ports[0], ports[1]]), u16::from_be_bytes([ports[2], ports[3]]));
        let sp = Sp {
            proto: emb.proto,
            saddr: emb.saddr,
            daddr: emb.daddr,
            sport: esport,
            dport: edport,
            inverse: !tunnel,
            local: meta.in_dev.is_none(),
        };
        let (caddr, cport, vaddr, vport) = sp.cv();
        let mut new_cp = false;
        let idx = match self.conn_in_get(emb.proto, caddr, cport, vaddr, vport) {
            Some(i) => i,
            None => {
                new_cp = true;
                if tunnel || self.sysctl.schedule_icmp == 0 {
                    return HookVerdict::Accept;
                }
                let Some(s) = self.service_find(meta.mark, emb.proto, vaddr, vport) else {
                    return HookVerdict::Accept;
                };
                match self.schedule(now, s, &sp, out) {
                    Sched::Conn(i) => i,
                    Sched::Ignored => return HookVerdict::Accept,
                    Sched::Leave => return self.leave(now, s, &sp, frame, iph, env, meta, out),
                }
            }
        };
        if checksum::checksum(&ip[iph.hlen..]) != 0 {
            return HookVerdict::Drop;
        }
        if tunnel {
            return self.icmp_tunnel_relay(now, idx, typ, code, frame, iph, eoff, emb, env, out);
        }
        self.in_stats(idx, now, iph.len);
        let c = self.conns.conn(idx).clone();
        out.note_with(
            "-",
            "ipvs",
            || format!("ICMP {typ}/{code} about {}: forwarded to the real server", self.describe(&c)),
            || match c.fwd() {
                Fwd::Masq => {
                    "an ICMP error for a NAT connection: destination and embedded source translated to the real server"
                        .into()
                }
                m => format!("an ICMP error for a {} connection: forwarded like its packets", m.name()),
            },
        );
        let v = self.icmp_xmit(now, idx, meta.hook, frame, iph, emb.hlen, env, out);
        if new_cp {
            // ip_vs_conn_put for a connection scheduled from an ICMP error.
            self.conns.arm(idx, now);
        }
        v
    }

    /// The tunnel branch of `ip_vs_in_icmp`: strip our outer headers and answer the
    /// client about its own packet with the same type and code; FRAG_NEEDED carries
    /// the real server's path MTU less the 20-byte IPIP header, and is relayed only
    /// when the client set DF.
    #[allow(clippy::too_many_arguments)]
    fn icmp_tunnel_relay(
        &mut self,
        now: Instant,
        idx: u32,
        typ: u8,
        code: u8,
        frame: &mut Vec<u8>,
        iph: Iph,
        eoff: usize,
        emb: Iph,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> HookVerdict {
        let ip = &frame[ETH_HLEN..ETH_HLEN + iph.len];
        let mut info = u32::from_be_bytes([ip[iph.hlen + 4], ip[iph.hlen + 5], ip[iph.hlen + 6], ip[iph.hlen + 7]]);
        let c = self.conns.conn(idx).clone();
        if typ == ICMP_DEST_UNREACH && code == crate::wire::ip::ICMP_FRAG_NEEDED {
            if !emb.df {
                out.note_with(
                    "-",
                    "ipvs",
                    || format!("ICMP fragmentation needed about the tunnel to {}: consumed", ip_fmt(c.daddr)),
                    || "the client's packet had no DF, so the client is not told (ipv4_update_pmtu only)".into(),
                );
                return HookVerdict::Drop;
            }
            let icmp_mtu = u32::from(u16::from_be_bytes([ip[iph.hlen + 6], ip[iph.hlen + 7]]));
            // ipv4_update_pmtu, then dst_mtu of the route to the real server
            // (__ip_rt_update_pmtu: never above the route MTU, never below 552).
            let mtu = match env.route(addr(c.daddr)) {
                Some(rt) if icmp_mtu >= rt.mtu => rt.mtu,
                Some(rt) if icmp_mtu < 552 => rt.mtu.min(552),
                _ => icmp_mtu,
            };
            info = if mtu > 68 + 20 { mtu - 20 } else { mtu };
        }
        // Leave the client's original packet: Ethernet header + inner IP packet.
        frame.drain(ETH_HLEN..ETH_HLEN + eoff);
        self.out_stats(idx, now, iph.len - eoff);
        out.note_with(
            "-",
            "ipvs",
            || {
                format!(
                    "ICMP {typ}/{code} about our IPIP packet to {}: relayed to {}",
                    ip_fmt(c.daddr),
                    ip_fmt(c.caddr)
                )
            },
            || {
                if typ == ICMP_DEST_UNREACH && code == crate::wire::ip::ICMP_FRAG_NEEDED {
                    format!("the tunnel path is too small: the client is told MTU {info} (tunnel MTU less 20 for IPIP)")
                } else {
                    "an error about the tunnel is an error about the client's packet".into()
                }
            },
        );
        HookVerdict::IcmpError { typ, code, info }
    }
}

/// `a.b.c.d`.
pub(crate) fn ip_fmt(a: u32) -> String {
    addr(a).to_string()
}

/// The header of an embedded IPv4 packet (an ICMP quote: the total length may
/// exceed what is present).
fn embedded_iph(b: &[u8]) -> Option<Iph> {
    if b.len() < 20 || b[0] >> 4 != 4 {
        return None;
    }
    let hlen = usize::from(b[0] & 0x0f) * 4;
    if hlen < 20 || b.len() < hlen {
        return None;
    }
    let fo = u16::from_be_bytes([b[6], b[7]]);
    Some(Iph {
        hlen,
        len: usize::from(u16::from_be_bytes([b[2], b[3]])),
        proto: b[9],
        saddr: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
        daddr: u32::from_be_bytes([b[16], b[17], b[18], b[19]]),
        df: fo & 0x4000 != 0,
        frag: fo & 0x1fff != 0,
    })
}
