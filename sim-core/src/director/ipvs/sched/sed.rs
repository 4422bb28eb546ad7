//! Shortest expected delay (ip_vs_sed.c, §2.5): the least (active + 1)/weight;
//! inactive connections are ignored.

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why, explain_least, wlc_pick};
use crate::director::ipvs::dest::Dest;

/// `ip_vs_sed_dest_overhead`.
fn overhead(d: &Dest) -> i64 {
    i64::from(d.activeconns) + 1
}

pub(crate) struct Sed;

impl Scheduler for Sed {
    fn name(&self) -> &'static str {
        "sed"
    }

    fn schedule(&mut self, d: &DestList, _pkt: &SchedPkt, _ctx: &mut SchedCtx) -> Option<Pick> {
        wlc_pick(d, overhead).map(|dest| Pick { dest, why: Why::Least })
    }

    fn explain(&self, d: &DestList, _pkt: &SchedPkt, pick: &Pick) -> String {
        explain_least(
            "sed",
            "(active+1)/weight",
            d,
            pick.dest,
            |x| !x.overloaded() && x.weight > 0,
            |x| (overhead(x), i64::from(x.weight)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::net::Ipv4Addr;

    /// §10.4 #3 and #10.
    #[test]
    fn reference_table() {
        let p = pkt(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::new(2, 2, 2, 2), 80);
        let (all, order) = list(&[(1, 0, 0), (5, 3, 0)]);
        assert_eq!(pick(&mut Sed, &all, &order, &p), Some(1));
        let (all, order) = list(&[(1, 1, 1000), (1, 1, 0)]);
        assert_eq!(pick(&mut Sed, &all, &order, &p), Some(0));
        // §10.4 #4 the other way round: sed on nq's input picks A (3/5 < 1/1).
        let (all, order) = list(&[(5, 2, 0), (1, 0, 0)]);
        assert_eq!(pick(&mut Sed, &all, &order, &p), Some(0));
    }
}
