//! Persistence (`ip_vs_sched_persist` in ip_vs_core.c; reference §4): templates
//! keyed by the client's network, reused while their dest passes
//! `ip_vs_check_template` (conn.rs), created by the scheduler otherwise.

use super::Ipvs;
use super::conn::{ConnParam, cf};
use super::core::{Sched, Sp, ap, ip_fmt};
use super::service::{FTPPORT, SVC_F_ONEPACKET};
use crate::node::Outbox;
use crate::time::Instant;
use crate::wire::IPPROTO_UDP;

impl Ipvs {
    /// `ip_vs_sched_persist`: find or make the template
    /// `<proto, caddr & netmask, 0, vaddr, vport>` — vport 0 for FTP, port-zero
    /// and fwmark services, `<IPPROTO_IP, snet, 0, fwmark, 0>` for fwmark — then a
    /// connection to the template's dest, controlled by it.
    pub(crate) fn sched_persist(&mut self, now: Instant, s: u32, sp: &Sp, out: &mut Outbox) -> Sched {
        let (caddr, cport, vaddr, dst_port) = sp.cv();
        let svc = &self.services[s as usize];
        let (svc_port, fwmark, netmask, timeout) = (svc.port(), svc.fwmark(), svc.netmask, svc.timeout);
        let snet = caddr & netmask;
        let (tproto, tvaddr, tvport) = if dst_port == svc_port {
            (sp.proto, vaddr, if svc_port != FTPPORT { dst_port } else { 0 })
        } else if fwmark != 0 {
            (0, fwmark, 0)
        } else {
            (sp.proto, vaddr, 0)
        };

        let found = self.ct_in_get(tproto, snet, tvaddr, tvport);
        let valid = found.filter(|&ct| self.check_template(ct));
        let (ct, dest) = match valid {
            Some(ct) => {
                let t = self.conns.conn(ct);
                let dest = t.dest;
                let dname = self.dests[dest as usize].name();
                let n = t.n_control;
                out.note_with(
                    "-",
                    "ipvs",
                    || {
                        format!(
                            "{} {} -> {}: persistent to {}",
                            super::ctl::proto_name(sp.proto),
                            ap(caddr, cport),
                            ap(vaddr, dst_port),
                            dname
                        )
                    },
                    || {
                        format!(
                            "persistence template {} -> {dname} reused ({n} connection(s) on it, persistent {timeout} s)",
                            ip_fmt(snet)
                        )
                    },
                );
                (ct, dest)
            }
            None => {
                if let Some(ct) = found {
                    let t = self.conns.conn(ct);
                    let dname = self.dests[t.dest as usize].name();
                    let (avail, w) = (self.dests[t.dest as usize].available(), self.dests[t.dest as usize].weight);
                    out.note_with(
                        "-",
                        "ipvs",
                        || format!("persistence template {} -> {dname} invalidated", ip_fmt(snet)),
                        || {
                            if !avail {
                                format!("its dest {dname} was deleted: the client is scheduled afresh")
                            } else {
                                format!("its dest {dname} has weight {w} and expire_quiescent_template=1")
                            }
                        },
                    );
                }
                let Some(dest) = self.run_scheduler(now, s, sp, out) else {
                    return Sched::Leave;
                };
                let d = &self.dests[dest as usize];
                let tdport = if dst_port == svc_port && svc_port != FTPPORT { d.port } else { 0 };
                let p = ConnParam {
                    proto: tproto,
                    caddr: snet,
                    cport: 0,
                    vaddr: tvaddr,
                    vport: tvport,
                    daddr: u32::from(d.addr),
                    dport: tdport,
                    flags: cf::TEMPLATE,
                };
                let ct = self.conn_new(p, dest, now);
                self.conns.conn_mut(ct).timeout_ms = timeout.saturating_mul(1000);
                out.note_with(
                    "-",
                    "ipvs",
                    || format!("persistence template {} -> {} created", ip_fmt(snet), self.dests[dest as usize].name()),
                    || {
                        format!(
                            "new clients from {} stick to it for {timeout} s after their last connection",
                            ip_fmt(snet)
                        )
                    },
                );
                (ct, dest)
            }
        };

        let d = &self.dests[dest as usize];
        let dport = if dst_port == svc_port && d.port != 0 { d.port } else { dst_port };
        let ops = self.services[s as usize].flags & SVC_F_ONEPACKET != 0 && sp.proto == IPPROTO_UDP;
        let p = ConnParam {
            proto: sp.proto,
            caddr,
            cport,
            vaddr,
            vport: dst_port,
            daddr: u32::from(d.addr),
            dport,
            flags: if ops { cf::ONE_PACKET } else { 0 },
        };
        let cp = self.conn_new(p, dest, now);
        self.control_add(cp, ct);
        // ip_vs_conn_put(ct): each new connection restarts the template's timer.
        self.conns.arm(ct, now);
        self.conn_stats(cp, s, now);
        Sched::Conn(cp)
    }
}
