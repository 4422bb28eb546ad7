//! Locality-based least connection (ip_vs_lblc.c, §2.7): a cache from destination
//! address to dest, refreshed by use; a miss or an unusable dest falls back to wlc.
//!
//! The garbage collector runs every 60 s in the kernel; here the ticks a service
//! missed are replayed at its next pick, which gives the same table.

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why, explain_least, hash_32, wlc_pick};
use crate::time::Instant;

/// `IP_VS_LBLC_TAB_BITS`.
pub(crate) const TAB_BITS: u32 = 10;
pub(crate) const TAB_SIZE: usize = 1 << TAB_BITS;
/// `CHECK_EXPIRE_INTERVAL`: 60 s, in ms (jiffies at HZ=1000).
pub(crate) const CHECK_EXPIRE_INTERVAL: u64 = 60_000;
/// `ENTRY_TIMEOUT`: 6 min.
pub(crate) const ENTRY_TIMEOUT: u64 = 6 * 60_000;
/// `COUNT_FOR_FULL_EXPIRATION`.
pub(crate) const COUNT_FOR_FULL_EXPIRATION: u32 = 30;
/// `tbl->max_size` = `IP_VS_LBLC_TAB_SIZE * 16`.
pub(crate) const MAX_SIZE: i64 = TAB_SIZE as i64 * 16;

/// `is_overloaded` (lblc/lblcr sense): more active connections than weight while
/// some dest of the service runs below half its weight.
pub(crate) fn lblc_overloaded(d: &DestList, id: u32) -> bool {
    let x = d.get(id);
    x.activeconns > x.weight && d.iter().any(|(_, o)| i64::from(o.activeconns) * 2 < i64::from(o.weight))
}

/// The bucketed table both lblc and lblcr keep, with the kernel's GC.
pub(crate) struct Table<E> {
    /// Buckets of `(address, lastuse ms, entry)`, newest first (`hlist_add_head`).
    pub buckets: Vec<Vec<(u32, u64, E)>>,
    /// `tbl->entries`, including the kernel's over-count on replacement.
    pub entries: i64,
    /// Entries actually present.
    len: usize,
    counter: u32,
    rover: usize,
    /// The next GC tick, ms.
    next_check: u64,
}

impl<E> Table<E> {
    pub fn new(now: Instant) -> Self {
        Table {
            buckets: (0..TAB_SIZE).map(|_| Vec::new()).collect(),
            entries: 0,
            len: 0,
            counter: 1,
            rover: 0,
            next_check: now.millis() + CHECK_EXPIRE_INTERVAL,
        }
    }

    pub fn bucket(addr: u32) -> usize {
        hash_32(addr, TAB_BITS) as usize
    }

    pub fn get_mut(&mut self, addr: u32) -> Option<&mut (u32, u64, E)> {
        self.buckets[Self::bucket(addr)].iter_mut().find(|e| e.0 == addr)
    }

    /// `ip_vs_lblc_hash`: insert at the bucket head, `entries++`.
    pub fn insert(&mut self, addr: u32, now_ms: u64, e: E) {
        self.buckets[Self::bucket(addr)].insert(0, (addr, now_ms, e));
        self.entries += 1;
        self.len += 1;
    }

    /// `ip_vs_lblc_del` (no `entries--`: its callers do that, or not).
    pub fn remove(&mut self, addr: u32) {
        let b = &mut self.buckets[Self::bucket(addr)];
        let before = b.len();
        b.retain(|e| e.0 != addr);
        self.len -= before - b.len();
    }

    /// Replays the GC ticks (`ip_vs_lblc_check_expire`) up to `now_ms`.
    pub fn gc(&mut self, now_ms: u64, expiration_ms: u64) {
        while self.next_check <= now_ms {
            let t = self.next_check;
            self.next_check += CHECK_EXPIRE_INTERVAL;
            if self.counter.is_multiple_of(COUNT_FOR_FULL_EXPIRATION) {
                // ip_vs_lblc_full_check: drop entries unused for the expiration.
                self.sweep(|lastuse| t >= lastuse + expiration_ms, None);
                self.counter = 1;
            } else if self.entries <= MAX_SIZE {
                self.counter += 1;
            } else {
                let goal = ((self.entries - MAX_SIZE) * 4 / 3).min(MAX_SIZE / 2);
                self.sweep(|lastuse| t >= lastuse + ENTRY_TIMEOUT, Some(goal));
            }
            if self.len == 0 && self.entries <= MAX_SIZE {
                // Nothing left to expire: later ticks only count (1..=30, cyclic).
                let skipped = now_ms.saturating_sub(self.next_check) / CHECK_EXPIRE_INTERVAL;
                self.next_check += skipped * CHECK_EXPIRE_INTERVAL;
                self.counter = ((u64::from(self.counter) + skipped) % u64::from(COUNT_FOR_FULL_EXPIRATION)) as u32;
            }
        }
    }

    /// Walks the buckets from the rover, deleting expired entries (a whole bucket
    /// at a time), until `goal` deletions if there is one.
    fn sweep(&mut self, expired: impl Fn(u64) -> bool, goal: Option<i64>) {
        let mut goal = goal;
        let mut j = self.rover;
        for _ in 0..TAB_SIZE {
            j = (j + 1) & (TAB_SIZE - 1);
            let before = self.buckets[j].len();
            self.buckets[j].retain(|e| !expired(e.1));
            let gone = before - self.buckets[j].len();
            self.len -= gone;
            let gone = gone as i64;
            self.entries -= gone;
            if let Some(g) = goal.as_mut() {
                *g -= gone;
                if *g <= 0 {
                    break;
                }
            }
        }
        self.rover = j;
    }
}

pub(crate) struct Lblc {
    table: Table<u32>,
}

impl Lblc {
    pub fn new(now: Instant) -> Self {
        Lblc { table: Table::new(now) }
    }
}

impl Scheduler for Lblc {
    fn name(&self) -> &'static str {
        "lblc"
    }

    fn holds(&self, id: u32) -> bool {
        self.table.buckets.iter().flatten().any(|e| e.2 == id)
    }

    fn schedule(&mut self, d: &DestList, pkt: &SchedPkt, ctx: &mut SchedCtx) -> Option<Pick> {
        let now_ms = ctx.now.millis();
        self.table.gc(now_ms, u64::try_from(ctx.lblc_expiration).unwrap_or(0) * 1000);
        let daddr = pkt.daddr;
        if let Some(e) = self.table.get_mut(daddr) {
            e.1 = now_ms;
            let id = e.2;
            let x = d.get(id);
            if x.available() && x.weight > 0 && !lblc_overloaded(d, id) {
                return Some(Pick { dest: id, why: Why::Cached { daddr } });
            }
        }
        let id = wlc_pick(d, |x| x.overhead())?;
        // ip_vs_lblc_new: a different dest replaces the entry (re-inserted at the
        // bucket head, and counted again: the kernel never decrements here).
        match self.table.get_mut(daddr) {
            Some(e) if e.2 == id => {}
            Some(_) => {
                self.table.remove(daddr);
                self.table.insert(daddr, now_ms, id);
            }
            None => self.table.insert(daddr, now_ms, id),
        }
        Some(Pick { dest: id, why: Why::Least })
    }

    fn explain(&self, d: &DestList, _pkt: &SchedPkt, pick: &Pick) -> String {
        match pick.why {
            Why::Cached { daddr } => format!(
                "lblc picked {}: the cached server for destination {} (available, not overloaded)",
                d.name(pick.dest),
                std::net::Ipv4Addr::from(daddr)
            ),
            _ => explain_least(
                "lblc",
                "no usable cache entry; wlc overhead/weight",
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
    fn cache_sticks_until_overloaded_or_expired() {
        let (mut all, order) = list(&[(1, 0, 0), (1, 0, 0)]);
        let mut s = Lblc::new(Instant::ZERO);
        let to = |a: u8| pkt(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::new(20, 0, 0, a), 80);
        assert_eq!(pick(&mut s, &all, &order, &to(1)), Some(0));
        all[0].activeconns = 1; // not overloaded: 1 > 1 is false
        assert_eq!(pick(&mut s, &all, &order, &to(1)), Some(0), "cached");
        assert_eq!(pick(&mut s, &all, &order, &to(2)), Some(1), "wlc for a new address");
        all[0].activeconns = 2; // 2 > 1 and dest 1 has 0*2 < 1: overloaded
        assert_eq!(pick(&mut s, &all, &order, &to(1)), Some(1));
        assert_eq!(s.table.entries, 3, "replacing an entry counts it again (kernel quirk)");
    }

    #[test]
    fn full_check_every_30_minutes_drops_old_entries() {
        let mut t: Table<u32> = Table::new(Instant::ZERO);
        t.insert(5, 0, 7);
        t.gc(29 * 60_000, 60_000);
        assert_eq!(t.entries, 1, "ticks 1..29 only count");
        t.gc(30 * 60_000, 60_000);
        assert_eq!(t.entries, 0, "the full check at tick 30 expires it");
        assert!(t.get_mut(5).is_none());
    }
}
