//! Never queue (ip_vs_nq.c, §2.6): the first idle dest (no active connections)
//! wins at once; otherwise the least (active + 1)/weight.

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why, explain_least};
use crate::director::ipvs::dest::Dest;

/// `ip_vs_nq_dest_overhead`.
fn overhead(d: &Dest) -> i64 {
    i64::from(d.activeconns) + 1
}

pub(crate) struct Nq;

impl Scheduler for Nq {
    fn name(&self) -> &'static str {
        "nq"
    }

    fn schedule(&mut self, d: &DestList, _pkt: &SchedPkt, _ctx: &mut SchedCtx) -> Option<Pick> {
        let mut least: Option<(u32, i64)> = None;
        for (i, dest) in d.iter() {
            if dest.overloaded() || dest.weight == 0 {
                continue;
            }
            let doh = overhead(dest);
            if dest.activeconns == 0 {
                return Some(Pick { dest: i, why: Why::Idle });
            }
            let replace = match least {
                None => true,
                Some((l, loh)) => loh * i64::from(dest.weight) > doh * i64::from(d.get(l).weight),
            };
            if replace {
                least = Some((i, doh));
            }
        }
        least.map(|(dest, _)| Pick { dest, why: Why::Least })
    }

    fn explain(&self, d: &DestList, _pkt: &SchedPkt, pick: &Pick) -> String {
        match pick.why {
            Why::Idle => format!("nq picked {}: the first idle destination (0 active connections)", d.name(pick.dest)),
            _ => explain_least(
                "nq",
                "(active+1)/weight",
                d,
                pick.dest,
                |x| !x.overloaded() && x.weight != 0,
                |x| (overhead(x), i64::from(x.weight)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::net::Ipv4Addr;

    /// §10.4 #4 and #7.
    #[test]
    fn reference_table() {
        let p = pkt(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::new(2, 2, 2, 2), 80);
        let (all, order) = list(&[(5, 2, 0), (1, 0, 0)]);
        assert_eq!(pick(&mut Nq, &all, &order, &p), Some(1));
        let (all, order) = list(&[(2, 3, 0), (3, 5, 0)]);
        assert_eq!(pick(&mut Nq, &all, &order, &p), Some(0));
    }
}
