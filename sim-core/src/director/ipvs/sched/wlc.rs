//! Weighted least connection (ip_vs_wlc.c, §2.4): the least overhead/weight, by
//! cross-multiplication; the earlier dest wins ties. ipvsadm's default.

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why, explain_least, wlc_pick};

pub(crate) struct Wlc;

impl Scheduler for Wlc {
    fn name(&self) -> &'static str {
        "wlc"
    }

    fn schedule(&mut self, d: &DestList, _pkt: &SchedPkt, _ctx: &mut SchedCtx) -> Option<Pick> {
        wlc_pick(d, |x| x.overhead()).map(|dest| Pick { dest, why: Why::Least })
    }

    fn explain(&self, d: &DestList, _pkt: &SchedPkt, pick: &Pick) -> String {
        explain_least(
            "wlc",
            "overhead/weight",
            d,
            pick.dest,
            |x| !x.overloaded() && x.weight > 0,
            |x| (x.overhead(), i64::from(x.weight)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::net::Ipv4Addr;

    fn p() -> SchedPkt {
        pkt(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::new(2, 2, 2, 2), 80)
    }

    /// §10.4 #1, #2, #6.
    #[test]
    fn reference_table() {
        let (all, order) = list(&[(1, 10, 0), (3, 20, 100), (2, 15, 50)]);
        assert_eq!(pick(&mut Wlc, &all, &order, &p()), Some(1));
        let (all, order) = list(&[(1, 1, 0), (2, 2, 0)]);
        assert_eq!(pick(&mut Wlc, &all, &order, &p()), Some(0), "a tie keeps the first");
        let (mut all, order) = list(&[(0, 0, 0), (5, 0, 0), (1, 5, 0)]);
        overload(&mut all[1]);
        assert_eq!(pick(&mut Wlc, &all, &order, &p()), Some(2));
        // §10.4 #3 the other way round: wlc on sed's input picks A (0 < 768/5).
        let (all, order) = list(&[(1, 0, 0), (5, 3, 0)]);
        assert_eq!(pick(&mut Wlc, &all, &order, &p()), Some(0));
    }

    #[test]
    fn explanation_names_the_runner_up() {
        let (all, order) = list(&[(1, 1, 0), (1, 0, 0)]);
        let d = DestList { order: &order, all: &all };
        assert_eq!(
            Wlc.explain(&d, &p(), &Pick { dest: 1, why: Why::Least }),
            "wlc picked 10.0.0.2:80: overhead/weight 0/1 < 256/1 of 10.0.0.1:80"
        );
        let (all, order) = list(&[(1, 0, 0)]);
        let d = DestList { order: &order, all: &all };
        assert_eq!(
            Wlc.explain(&d, &p(), &Pick { dest: 0, why: Why::Least }),
            "wlc picked 10.0.0.1:80: the only available destination (overhead/weight 0/1)"
        );
    }
}
