//! Destination hashing (ip_vs_dh.c, §2.9): 256 buckets filled with the dests in
//! list order, cyclically; the packet's destination address picks the bucket.

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why, hash_32};

const TAB_BITS: u32 = 8;
const TAB_SIZE: usize = 1 << TAB_BITS;

pub(crate) struct Dh {
    buckets: [Option<u32>; TAB_SIZE],
}

impl Dh {
    pub fn new(d: &DestList) -> Self {
        let mut s = Dh { buckets: [None; TAB_SIZE] };
        s.reassign(d);
        s
    }

    /// `ip_vs_dh_reassign`: bucket i gets dest i mod n (weights ignored).
    fn reassign(&mut self, d: &DestList) {
        let n = d.order.len();
        for (i, b) in self.buckets.iter_mut().enumerate() {
            *b = (n > 0).then(|| d.order[i % n]);
        }
    }
}

impl Scheduler for Dh {
    fn name(&self) -> &'static str {
        "dh"
    }
    fn add_dest(&mut self, d: &DestList) {
        self.reassign(d);
    }
    fn del_dest(&mut self, d: &DestList, _removed: u32, _pos: usize) {
        self.reassign(d);
    }

    /// No fallback: an unusable bucket dest means no destination.
    fn schedule(&mut self, d: &DestList, pkt: &SchedPkt, _ctx: &mut SchedCtx) -> Option<Pick> {
        let bucket = hash_32(pkt.daddr, TAB_BITS);
        let id = self.buckets[bucket as usize]?;
        let dest = d.get(id);
        if !dest.available() || dest.weight <= 0 || dest.overloaded() {
            return None;
        }
        Some(Pick { dest: id, why: Why::Bucket { bucket, probes: 0, key: pkt.daddr } })
    }

    fn explain(&self, d: &DestList, _pkt: &SchedPkt, pick: &Pick) -> String {
        let (bucket, key) = match pick.why {
            Why::Bucket { bucket, key, .. } => (bucket, key),
            _ => (0, 0),
        };
        format!(
            "dh picked {}: destination {} hashes to bucket {bucket} of 256, which holds it",
            d.name(pick.dest),
            std::net::Ipv4Addr::from(key)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn buckets_cycle_and_no_fallback() {
        let (mut all, order) = list(&[(1, 0, 0), (1, 0, 0), (1, 0, 0)]);
        let d = DestList { order: &order, all: &all };
        let mut s = Dh::new(&d);
        // 10.0.0.1 hashes to 39: 39 mod 3 = 0, the first dest.
        let p = pkt(Ipv4Addr::new(9, 9, 9, 9), 1, Ipv4Addr::new(10, 0, 0, 1), 80);
        assert_eq!(pick(&mut s, &all, &order, &p), Some(0));
        all[0].weight = 0;
        assert_eq!(pick(&mut s, &all, &order, &p), None);
    }
}
