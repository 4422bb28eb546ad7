//! LBLC with replication (ip_vs_lblcr.c, §2.8): each destination address maps to a
//! set of dests; the least loaded member serves, the set grows when it is
//! overloaded and sheds its most loaded member after `lblcr_expiration`.

use super::lblc::{Table, lblc_overloaded};
use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why, explain_least, wlc_pick};
use crate::time::Instant;

/// `struct ip_vs_dest_set`: members newest first, and the last change (ms).
pub(crate) struct DestSet {
    members: Vec<u32>,
    lastmod: u64,
}

impl DestSet {
    /// `ip_vs_dest_set_insert`: at the head, unless already present.
    fn insert(&mut self, id: u32, now_ms: u64) {
        if !self.members.contains(&id) {
            self.members.insert(0, id);
            self.lastmod = now_ms;
        }
    }

    /// `ip_vs_dest_set_min`: wlc over members that are not OVERLOAD, AVAILABLE and
    /// weighted.
    fn min(&self, d: &DestList) -> Option<u32> {
        let mut it = self.members.iter().copied();
        let (mut least, mut loh) = loop {
            let id = it.next()?;
            let x = d.get(id);
            if !x.overloaded() && x.weight > 0 && x.available() {
                break (id, x.overhead());
            }
        };
        for id in it {
            let x = d.get(id);
            if x.overloaded() {
                continue;
            }
            let doh = x.overhead();
            if loh * i64::from(x.weight) > doh * i64::from(d.get(least).weight) && x.available() {
                least = id;
                loh = doh;
            }
        }
        Some(least)
    }

    /// `ip_vs_dest_set_max`: the most loaded weighted member.
    fn max(&self, d: &DestList) -> Option<u32> {
        let mut it = self.members.iter().copied();
        let (mut most, mut moh) = loop {
            let id = it.next()?;
            let x = d.get(id);
            if x.weight > 0 {
                break (id, x.overhead());
            }
        };
        for id in it {
            let x = d.get(id);
            let doh = x.overhead();
            if moh * i64::from(x.weight) < doh * i64::from(d.get(most).weight) && x.weight > 0 {
                most = id;
                moh = doh;
            }
        }
        Some(most)
    }
}

pub(crate) struct Lblcr {
    table: Table<DestSet>,
}

impl Lblcr {
    pub fn new(now: Instant) -> Self {
        Lblcr { table: Table::new(now) }
    }
}

impl Scheduler for Lblcr {
    fn name(&self) -> &'static str {
        "lblcr"
    }

    fn holds(&self, id: u32) -> bool {
        self.table.buckets.iter().flatten().any(|e| e.2.members.contains(&id))
    }

    fn schedule(&mut self, d: &DestList, pkt: &SchedPkt, ctx: &mut SchedCtx) -> Option<Pick> {
        let now_ms = ctx.now.millis();
        let exp_ms = u64::try_from(ctx.lblcr_expiration).unwrap_or(0) * 1000;
        self.table.gc(now_ms, exp_ms);
        let daddr = pkt.daddr;
        if let Some(e) = self.table.get_mut(daddr) {
            e.1 = now_ms;
            let set = &mut e.2;
            let dest = set.min(d);
            if set.members.len() > 1
                && now_ms > set.lastmod + exp_ms
                && let Some(m) = set.max(d)
            {
                set.members.retain(|&x| x != m);
                set.lastmod = now_ms;
            }
            if let Some(id) = dest
                && !lblc_overloaded(d, id)
            {
                return Some(Pick { dest: id, why: Why::Cached { daddr } });
            }
            let id = wlc_pick(d, |x| x.overhead())?;
            set.insert(id, now_ms);
            return Some(Pick { dest: id, why: Why::Least });
        }
        let id = wlc_pick(d, |x| x.overhead())?;
        self.table.insert(daddr, now_ms, DestSet { members: vec![id], lastmod: now_ms });
        Some(Pick { dest: id, why: Why::Least })
    }

    fn explain(&self, d: &DestList, _pkt: &SchedPkt, pick: &Pick) -> String {
        match pick.why {
            Why::Cached { daddr } => format!(
                "lblcr picked {}: the least loaded server of the set cached for destination {}",
                d.name(pick.dest),
                std::net::Ipv4Addr::from(daddr)
            ),
            _ => explain_least(
                "lblcr",
                "no usable set member; wlc overhead/weight",
                d,
                pick.dest,
                |x| !x.overloaded() && x.weight > 0,
                |x| (x.overhead(), i64::from(x.weight)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn set_grows_when_overloaded_and_shrinks_after_expiration() {
        let (mut all, order) = list(&[(1, 0, 0), (1, 0, 0)]);
        let mut s = Lblcr::new(Instant::ZERO);
        let to = pkt(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::new(20, 0, 0, 1), 80);
        let mut rng = crate::rng::stream(1, "t");
        let mut at = |s: &mut Lblcr, all: &[crate::director::ipvs::dest::Dest], secs: u64| {
            let d = DestList { order: &order, all };
            let mut c = ctx(&mut rng);
            c.now = Instant::from_secs(secs);
            c.lblcr_expiration = 100;
            s.schedule(&d, &to, &mut c).map(|p| p.dest)
        };
        assert_eq!(at(&mut s, &all, 0), Some(0));
        all[0].activeconns = 2;
        assert_eq!(at(&mut s, &all, 1), Some(1), "overloaded: wlc adds dest 1 to the set");
        assert_eq!(s.table.get_mut(u32::from(Ipv4Addr::new(20, 0, 0, 1))).unwrap().2.members, [1, 0]);
        all[0].activeconns = 0;
        all[1].activeconns = 1;
        // Past lastmod + 100 s the most loaded member (dest 1) is dropped.
        assert_eq!(at(&mut s, &all, 200), Some(0));
        assert_eq!(s.table.get_mut(u32::from(Ipv4Addr::new(20, 0, 0, 1))).unwrap().2.members, [0]);
    }
}
