//! Overflow (ip_vs_ovf.c, §2.13): the highest weight among dests whose active
//! connections do not exceed their weight; each takes up to weight+1 actives.

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why};

pub(crate) struct Ovf;

impl Scheduler for Ovf {
    fn name(&self) -> &'static str {
        "ovf"
    }

    fn schedule(&mut self, d: &DestList, _pkt: &SchedPkt, _ctx: &mut SchedCtx) -> Option<Pick> {
        let mut best: Option<(u32, i32)> = None;
        for (i, dest) in d.iter() {
            let w = dest.weight;
            if dest.overloaded() || dest.activeconns > w || w == 0 {
                continue;
            }
            if best.is_none_or(|(_, hw)| w > hw) {
                best = Some((i, w));
            }
        }
        best.map(|(dest, _)| Pick { dest, why: Why::Highest })
    }

    fn explain(&self, d: &DestList, _pkt: &SchedPkt, pick: &Pick) -> String {
        let x = d.get(pick.dest);
        format!(
            "ovf picked {}: the highest weight ({}) among destinations with active connections ({}) not above their weight",
            x.name(),
            x.weight,
            x.activeconns
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::net::Ipv4Addr;

    /// §10.4 #8: A(5, act 6), B(3, act 3), C(3, act 0) picks B.
    #[test]
    fn overflow_order() {
        let p = pkt(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::new(2, 2, 2, 2), 80);
        let (all, order) = list(&[(5, 6, 0), (3, 3, 0), (3, 0, 0)]);
        assert_eq!(pick(&mut Ovf, &all, &order, &p), Some(1));
    }
}
