//! Least connection (ip_vs_lc.c, §2.3): the least overhead (active×256 + inactive)
//! among dests with weight > 0 that are not OVERLOAD; weight is otherwise ignored.

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why, explain_least};

pub(crate) struct Lc;

impl Scheduler for Lc {
    fn name(&self) -> &'static str {
        "lc"
    }

    fn schedule(&mut self, d: &DestList, _pkt: &SchedPkt, _ctx: &mut SchedCtx) -> Option<Pick> {
        let mut least: Option<(u32, i64)> = None;
        for (i, dest) in d.iter() {
            if dest.overloaded() || dest.weight == 0 {
                continue;
            }
            let doh = dest.overhead();
            if least.is_none_or(|(_, loh)| doh < loh) {
                least = Some((i, doh));
            }
        }
        least.map(|(dest, _)| Pick { dest, why: Why::Least })
    }

    fn explain(&self, d: &DestList, _pkt: &SchedPkt, pick: &Pick) -> String {
        explain_least(
            "lc",
            "overhead (active*256+inactive)",
            d,
            pick.dest,
            |x| !x.overloaded() && x.weight != 0,
            |x| (x.overhead(), 1),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::net::Ipv4Addr;

    /// §10.4 #5: A(1,0,300)=300, B(1,1,0)=256 picks B.
    #[test]
    fn one_active_costs_less_than_300_inactive() {
        let (all, order) = list(&[(1, 0, 300), (1, 1, 0)]);
        let p = pkt(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::new(2, 2, 2, 2), 80);
        assert_eq!(pick(&mut Lc, &all, &order, &p), Some(1));
        let d = DestList { order: &order, all: &all };
        let why = Lc.explain(&d, &p, &Pick { dest: 1, why: Why::Least });
        assert_eq!(why, "lc picked 10.0.0.2:80: overhead (active*256+inactive) 256/1 < 300/1 of 10.0.0.1:80");
    }

    #[test]
    fn ties_go_to_the_first_and_weight_zero_is_skipped() {
        let (all, order) = list(&[(0, 0, 0), (5, 0, 1), (1, 0, 1)]);
        let p = pkt(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::new(2, 2, 2, 2), 80);
        assert_eq!(pick(&mut Lc, &all, &order, &p), Some(1));
    }
}
