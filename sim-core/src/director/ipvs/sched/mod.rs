//! Schedulers (`struct ip_vs_scheduler`, ip_vs_sched.c; reference §2), one file per
//! kernel module. Each sees the service's dests in kernel list order (head first,
//! i.e. reverse order of addition), the packet, the clock and an injected random
//! stream, and keeps its own `sched_data`.

mod dh;
mod fo;
mod lblc;
mod lblcr;
mod lc;
mod mh;
mod nq;
mod ovf;
mod rr;
mod sed;
mod sh;
mod twos;
mod wlc;
mod wrr;

use super::dest::Dest;
use crate::rng::Stream;
use crate::time::Instant;

/// The scheduler names `ipvsadm -s` accepts, as the kernel registers them.
pub const NAMES: [&str; 14] =
    ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"];

/// A service's dests as a scheduler sees them.
#[derive(Clone, Copy)]
pub(crate) struct DestList<'a> {
    /// Dest indices in kernel list order.
    pub order: &'a [u32],
    /// Every dest, by index.
    pub all: &'a [Dest],
}

impl<'a> DestList<'a> {
    pub fn get(&self, id: u32) -> &'a Dest {
        &self.all[id as usize]
    }
    /// `(index, dest)` in list order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &'a Dest)> + '_ {
        self.order.iter().map(|&i| (i, &self.all[i as usize]))
    }
    pub fn name(&self, id: u32) -> String {
        self.get(id).name()
    }
}

/// The header fields schedulers hash on (`struct ip_vs_iphdr`). For an ICMP error
/// scheduled through its embedded header (`schedule_icmp`), `inverse` is set and the
/// addresses are the embedded packet's, which travelled the other way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SchedPkt {
    pub saddr: u32,
    pub daddr: u32,
    pub sport: u16,
    pub dport: u16,
    pub inverse: bool,
    /// The service's `SVC_F_*` flags (sh-port, mh-fallback, ...).
    pub svc_flags: u32,
}

impl SchedPkt {
    /// The client address: the source, or the destination of an inverse header.
    pub fn client_addr(&self) -> u32 {
        if self.inverse { self.daddr } else { self.saddr }
    }
    /// The client port (`ip_vs_sh_get_port` / `ip_vs_mh_get_port`).
    pub fn client_port(&self) -> u16 {
        if self.inverse { self.dport } else { self.sport }
    }
}

/// Everything else a scheduler may use.
pub(crate) struct SchedCtx<'a> {
    pub now: Instant,
    pub rng: &'a mut Stream,
    /// `lblc_expiration` / `lblcr_expiration`, seconds.
    pub lblc_expiration: i32,
    pub lblcr_expiration: i32,
}

/// A scheduler's choice and what it needs to explain it in the trace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pick {
    pub dest: u32,
    pub why: Why,
}

/// The pick-time facts behind a choice; formatted only when tracing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Why {
    /// rr: the dest after this one (None: the list head) was tried first.
    Rr { after: Option<u32> },
    /// wrr: the current weight the dest met.
    Wrr { cw: i32 },
    /// A least-load pick (lc, wlc, sed, nq, lblc/lblcr fallback); explained by the
    /// scheduler's metric.
    Least,
    /// nq: the first idle dest.
    Idle,
    /// A hash bucket (dh, sh, mh) and how many fallback probes it took.
    Bucket { bucket: u32, probes: u32, key: u32 },
    /// lblc/lblcr: the cache entry for this destination address was used.
    Cached { daddr: u32 },
    /// fo/ovf: the highest weight.
    Highest,
    /// twos: the two random candidates.
    Twos { first: u32, second: u32 },
}

/// A scheduling module.
pub(crate) trait Scheduler {
    fn name(&self) -> &'static str;
    /// `.add_dest`: `d` already holds the new dest at the head.
    fn add_dest(&mut self, d: &DestList) {
        let _ = d;
    }
    /// `.del_dest`: `d` no longer holds `removed`, which sat at `pos`.
    fn del_dest(&mut self, d: &DestList, removed: u32, pos: usize) {
        let _ = (d, removed, pos);
    }
    /// `.upd_dest`: a dest's weight or thresholds were edited.
    fn upd_dest(&mut self, d: &DestList) {
        let _ = d;
    }
    /// Dest `id` of the list changed its connection counters or OVERLOAD flag (the
    /// kernel's schedulers read them at pick time; wlc keeps its tree current).
    fn dest_changed(&mut self, d: &DestList, id: u32) {
        let _ = (d, id);
    }
    /// Whether the scheduler's own state holds a reference to dest `id` (lblc and
    /// lblcr cache entries do), which keeps a deleted dest in the trash.
    fn holds(&self, id: u32) -> bool {
        let _ = id;
        false
    }
    /// `.schedule`: a dest for a new connection, or `None` ("no destination
    /// available").
    fn schedule(&mut self, d: &DestList, pkt: &SchedPkt, ctx: &mut SchedCtx) -> Option<Pick>;
    /// Why `pick` was made, in words a student can check against `ipvsadm -Ln`.
    fn explain(&self, d: &DestList, pkt: &SchedPkt, pick: &Pick) -> String;
}

/// `init_service` of the named scheduler over the current dests.
pub(crate) fn new(name: &str, d: &DestList, now: Instant) -> Option<Box<dyn Scheduler>> {
    Some(match name {
        "rr" => Box::new(rr::Rr::default()),
        "wrr" => Box::new(wrr::Wrr::new(d)),
        "lc" => Box::new(lc::Lc),
        "wlc" => Box::new(wlc::Wlc::default()),
        "sed" => Box::new(sed::Sed),
        "nq" => Box::new(nq::Nq),
        "dh" => Box::new(dh::Dh::new(d)),
        "sh" => Box::new(sh::Sh::new(d)),
        "lblc" => Box::new(lblc::Lblc::new(now)),
        "lblcr" => Box::new(lblcr::Lblcr::new(now)),
        "mh" => Box::new(mh::Mh::new(d)),
        "fo" => Box::new(fo::Fo),
        "ovf" => Box::new(ovf::Ovf),
        "twos" => Box::new(twos::Twos),
        _ => return None,
    })
}

/// `hash_32(val, bits)` (include/linux/hash.h, generic): golden-ratio multiply, top
/// bits.
pub(crate) const fn hash_32(val: u32, bits: u32) -> u32 {
    val.wrapping_mul(0x61C8_8647) >> (32 - bits)
}

/// `a/b` versus `c/d` by cross-multiplication: `Less` when `a·d < c·b`.
fn cmp_ratio(a: i64, b: i64, c: i64, d: i64) -> std::cmp::Ordering {
    (a * d).cmp(&(c * b))
}

/// The wlc pick (`ip_vs_wlc_schedule`, also lblc's and lblcr's internal scheduler):
/// the first non-OVERLOAD dest with weight > 0 seeds, then strict
/// `loh·w_d > doh·w_least` replaces, so the earlier dest wins ties.
pub(crate) fn wlc_pick(d: &DestList, overhead: impl Fn(&Dest) -> i64) -> Option<u32> {
    let mut it = d.iter();
    let (mut least, mut loh, mut lw) = loop {
        let (i, dest) = it.next()?;
        if !dest.overloaded() && dest.weight > 0 {
            break (i, overhead(dest), i64::from(dest.weight));
        }
    };
    for (i, dest) in it {
        let doh = overhead(dest);
        let w = i64::from(dest.weight);
        // Branch-free select: the comparison is data-dependent and mispredicts.
        let better = !dest.overloaded() & (loh * w > doh * lw);
        least = if better { i } else { least };
        loh = if better { doh } else { loh };
        lw = if better { w } else { lw };
    }
    Some(least)
}

/// Explains a least-`metric/weight` pick against the best other eligible dest.
pub(crate) fn explain_least(
    sched: &str,
    label: &str,
    d: &DestList,
    pick: u32,
    eligible: impl Fn(&Dest) -> bool,
    metric: impl Fn(&Dest) -> (i64, i64),
) -> String {
    let p = d.get(pick);
    let (pn, pd) = metric(p);
    let runner = d
        .iter()
        .filter(|&(i, x)| i != pick && eligible(x))
        .min_by(|a, b| {
            let (an, ad) = metric(a.1);
            let (bn, bd) = metric(b.1);
            cmp_ratio(an, ad, bn, bd)
        })
        .map(|(i, x)| (i, metric(x)));
    match runner {
        None => format!("{sched} picked {}: the only available destination ({label} {pn}/{pd})", p.name()),
        Some((r, (rn, rd))) => {
            let (rel, tail) = match cmp_ratio(pn, pd, rn, rd) {
                std::cmp::Ordering::Less => ("<", ""),
                std::cmp::Ordering::Equal => ("=", ", a tie: the earlier in list order wins"),
                std::cmp::Ordering::Greater => (">", ""),
            };
            format!("{sched} picked {}: {label} {pn}/{pd} {rel} {rn}/{rd} of {}{tail}", p.name(), d.name(r))
        }
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Dest lists built the way `ipvsadm -a` builds them.
    use super::*;
    use crate::director::ipvs::dest::{DEST_F_AVAILABLE, DEST_F_OVERLOAD, Fwd};
    use std::net::Ipv4Addr;

    pub fn dest(addr: Ipv4Addr, port: u16, weight: i32) -> Dest {
        Dest {
            addr,
            port,
            fwd: Fwd::Route,
            weight,
            last_weight: weight,
            u_threshold: 0,
            l_threshold: 0,
            flags: DEST_F_AVAILABLE,
            activeconns: 0,
            inactconns: 0,
            persistconns: 0,
            refcnt: 0,
            svc: 0,
            svc_uid: 0,
            stats: Box::default(),
            in_trash: false,
            idle_start: None,
            dst: None,
        }
    }

    /// Dests `(name-index, weight, active, inactive)` given in kernel list order;
    /// dest i has address 10.0.0.(i+1).
    pub fn list(spec: &[(i32, i32, i32)]) -> (Vec<Dest>, Vec<u32>) {
        let all: Vec<Dest> = spec
            .iter()
            .enumerate()
            .map(|(i, &(w, a, ina))| {
                let mut d = dest(Ipv4Addr::new(10, 0, 0, i as u8 + 1), 80, w);
                d.activeconns = a;
                d.inactconns = ina;
                d
            })
            .collect();
        let order = (0..all.len() as u32).collect();
        (all, order)
    }

    pub fn overload(d: &mut Dest) {
        d.flags |= DEST_F_OVERLOAD;
    }

    pub fn pkt(saddr: Ipv4Addr, sport: u16, daddr: Ipv4Addr, dport: u16) -> SchedPkt {
        SchedPkt { saddr: u32::from(saddr), daddr: u32::from(daddr), sport, dport, inverse: false, svc_flags: 0 }
    }

    pub fn ctx(rng: &mut Stream) -> SchedCtx<'_> {
        SchedCtx { now: Instant::ZERO, rng, lblc_expiration: 86400, lblcr_expiration: 86400 }
    }

    /// Runs one pick with a throwaway random stream.
    pub fn pick(s: &mut dyn Scheduler, all: &[Dest], order: &[u32], p: &SchedPkt) -> Option<u32> {
        let mut rng = crate::rng::stream(1, "test");
        let d = DestList { order, all };
        s.schedule(&d, p, &mut ctx(&mut rng)).map(|p| p.dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_32_matches_reference() {
        // §10.5: 10.0.0.1 hashes to bucket 39 (0x27C88647 >> 24).
        assert_eq!(hash_32(0x0A00_0001, 8), 39);
        assert_eq!(hash_32(0x0A00_0002, 8), 137);
        assert_eq!(hash_32(0xC0A8_0164, 8), 89);
        assert_eq!(hash_32(0xAC10_0504, 8), 138);
        assert_eq!(hash_32(0x0102_0304, 8), 52);
        assert_eq!(hash_32(0x0A00_0001 + 1234, 8), 128);
    }

    #[test]
    fn every_name_builds() {
        let (all, order) = testutil::list(&[(1, 0, 0)]);
        let d = DestList { order: &order, all: &all };
        for n in NAMES {
            assert_eq!(new(n, &d, Instant::ZERO).map(|s| s.name()), Some(n));
        }
        assert!(new("nope", &d, Instant::ZERO).is_none());
    }
}
