//! Weighted fail-over (ip_vs_fo.c, §2.12): the highest weight among dests that are
//! not OVERLOAD; the first wins ties; connection counts are ignored.

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why};

pub(crate) struct Fo;

impl Scheduler for Fo {
    fn name(&self) -> &'static str {
        "fo"
    }

    fn schedule(&mut self, d: &DestList, _pkt: &SchedPkt, _ctx: &mut SchedCtx) -> Option<Pick> {
        let mut hw = 0;
        let mut best = None;
        for (i, dest) in d.iter() {
            if !dest.overloaded() && dest.weight > hw {
                best = Some(i);
                hw = dest.weight;
            }
        }
        best.map(|dest| Pick { dest, why: Why::Highest })
    }

    fn explain(&self, d: &DestList, _pkt: &SchedPkt, pick: &Pick) -> String {
        format!(
            "fo picked {}: the highest weight ({}) among destinations not overloaded, first in list order on a tie",
            d.name(pick.dest),
            d.get(pick.dest).weight
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::net::Ipv4Addr;

    /// §10.4 #9: A w2, B w5, C w5, D w0 picks B.
    #[test]
    fn highest_weight_first_on_tie() {
        let p = pkt(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::new(2, 2, 2, 2), 80);
        let (all, order) = list(&[(2, 0, 0), (5, 9, 0), (5, 0, 0), (0, 0, 0)]);
        assert_eq!(pick(&mut Fo, &all, &order, &p), Some(1));
        let (all, order) = list(&[(0, 0, 0)]);
        assert_eq!(pick(&mut Fo, &all, &order, &p), None);
    }
}
