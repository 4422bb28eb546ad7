//! Round robin (ip_vs_rr.c, §2.1): the next non-OVERLOAD dest with weight > 0 after
//! the last pick, wrapping past the list head at most once.

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why};

/// `sched_data`: the last picked dest (`None`: the list head).
#[derive(Default)]
pub(crate) struct Rr {
    last: Option<u32>,
}

impl Scheduler for Rr {
    fn name(&self) -> &'static str {
        "rr"
    }

    /// `ip_vs_rr_del_dest`: a cursor on the deleted dest moves to its predecessor,
    /// so the dest after it is picked next.
    fn del_dest(&mut self, d: &DestList, removed: u32, pos: usize) {
        if self.last == Some(removed) {
            self.last = pos.checked_sub(1).map(|p| d.order[p]);
        }
    }

    fn schedule(&mut self, d: &DestList, _pkt: &SchedPkt, _ctx: &mut SchedCtx) -> Option<Pick> {
        let n = d.order.len();
        let start = self.last.and_then(|l| d.order.iter().position(|&x| x == l));
        // From the head: one pass. From a dest: the rest of the list, then the
        // head up to and including the last pick. Either way n dests.
        let first = start.map_or(0, |p| p + 1);
        for k in 0..n {
            let i = (first + k) % n;
            let id = d.order[i];
            let dest = d.get(id);
            if !dest.overloaded() && dest.weight > 0 {
                let after = self.last;
                self.last = Some(id);
                return Some(Pick { dest: id, why: Why::Rr { after } });
            }
        }
        None
    }

    fn explain(&self, d: &DestList, _pkt: &SchedPkt, pick: &Pick) -> String {
        match pick.why {
            Why::Rr { after: Some(a) } if a == pick.dest => {
                format!("rr picked {} again: no other destination has weight > 0 and is not overloaded", d.name(a))
            }
            Why::Rr { after: Some(a) } => format!(
                "rr picked {}: next in list order after {} (weight > 0, not overloaded)",
                d.name(pick.dest),
                d.name(a)
            ),
            _ => format!("rr picked {}: first in list order with weight > 0", d.name(pick.dest)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::net::Ipv4Addr;

    fn picks(s: &mut Rr, all: &[crate::director::ipvs::dest::Dest], order: &[u32], n: usize) -> Vec<u32> {
        let p = pkt(Ipv4Addr::new(1, 1, 1, 1), 1000, Ipv4Addr::new(2, 2, 2, 2), 80);
        (0..n).map(|_| pick(s, all, order, &p).map_or(99, |x| x + 1)).collect()
    }

    /// §10.3: S1, S2 (weight 0), S3 gives S1 S3 S1 S3.
    #[test]
    fn weight_zero_is_skipped() {
        let (all, order) = list(&[(1, 0, 0), (0, 0, 0), (1, 0, 0)]);
        assert_eq!(picks(&mut Rr::default(), &all, &order, 4), [1, 3, 1, 3]);
        let (all, order) = list(&[(0, 0, 0), (0, 0, 0)]);
        assert_eq!(picks(&mut Rr::default(), &all, &order, 2), [99, 99]);
    }

    #[test]
    fn only_one_eligible_is_picked_again() {
        let (mut all, order) = list(&[(1, 0, 0), (1, 0, 0)]);
        let mut s = Rr::default();
        assert_eq!(picks(&mut s, &all, &order, 1), [1]);
        overload(&mut all[1]);
        assert_eq!(picks(&mut s, &all, &order, 2), [1, 1]);
    }

    #[test]
    fn delete_moves_cursor_to_predecessor() {
        let (all, order) = list(&[(1, 0, 0), (1, 0, 0), (1, 0, 0)]);
        let mut s = Rr::default();
        assert_eq!(picks(&mut s, &all, &order, 2), [1, 2]);
        let after: Vec<u32> = vec![0, 2];
        s.del_dest(&DestList { order: &after, all: &all }, 1, 1);
        assert_eq!(picks(&mut s, &all, &after, 3), [3, 1, 3]);
    }
}
