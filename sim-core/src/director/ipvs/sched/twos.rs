//! Power of two choices (ip_vs_twos.c, §2.14): two weighted random candidates, the
//! less loaded (overhead/weight) wins. Randomness comes from the injected stream.

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why};
use crate::rng;

pub(crate) struct Twos;

impl Scheduler for Twos {
    fn name(&self) -> &'static str {
        "twos"
    }

    fn schedule(&mut self, d: &DestList, _pkt: &SchedPkt, ctx: &mut SchedCtx) -> Option<Pick> {
        let eligible = |x: &crate::director::ipvs::dest::Dest| !x.overloaded() && x.weight > 0;
        let mut total: i64 = 0;
        let mut choice1 = None;
        for (i, x) in d.iter() {
            if eligible(x) {
                total += i64::from(x.weight);
                choice1 = Some(i);
            }
        }
        let mut choice1 = choice1?;
        // get_random_u32_below(total + 1): uniform in [0, total].
        let bound = u32::try_from(total + 1).unwrap_or(u32::MAX);
        let mut r1 = i64::from(rng::below(ctx.rng, bound));
        let mut r2 = i64::from(rng::below(ctx.rng, bound));
        let (mut w1, mut w2, mut oh1, mut oh2) = (-1i64, -1i64, 0i64, 0i64);
        let mut choice2 = None;
        for (i, x) in d.iter() {
            if !eligible(x) {
                continue;
            }
            let w = i64::from(x.weight);
            r1 -= w;
            r2 -= w;
            if r1 <= 0 && w1 == -1 {
                choice1 = i;
                w1 = w;
                oh1 = x.overhead();
            }
            if r2 <= 0 && w2 == -1 {
                choice2 = Some(i);
                w2 = w;
                oh2 = x.overhead();
            }
            if w1 != -1 && w2 != -1 {
                break;
            }
        }
        let first = choice1;
        if let Some(c2) = choice2
            && w2 * oh1 > w1 * oh2
        {
            choice1 = c2;
        }
        Some(Pick { dest: choice1, why: Why::Twos { first, second: choice2.unwrap_or(first) } })
    }

    fn explain(&self, d: &DestList, _pkt: &SchedPkt, pick: &Pick) -> String {
        let (a, b) = match pick.why {
            Why::Twos { first, second } => (first, second),
            _ => (pick.dest, pick.dest),
        };
        let (da, db) = (d.get(a), d.get(b));
        format!(
            "twos picked {}: of two weighted random choices {} (overhead/weight {}/{}) and {} ({}/{}), the less loaded",
            d.name(pick.dest),
            da.name(),
            da.overhead(),
            da.weight,
            db.name(),
            db.overhead(),
            db.weight
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn reproducible_and_weighted() {
        let (all, order) = list(&[(1, 0, 0), (3, 0, 0), (0, 0, 0)]);
        let p = pkt(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::new(2, 2, 2, 2), 80);
        let d = DestList { order: &order, all: &all };
        let run = |seed| {
            let mut r = crate::rng::stream(seed, "twos");
            (0..400).map(|_| Twos.schedule(&d, &p, &mut ctx(&mut r)).unwrap().dest).collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7), "same stream, same picks");
        assert!(!a.contains(&2), "weight 0 is never picked");
        let b = a.iter().filter(|&&x| x == 1).count();
        // r is uniform in [0, 4]: 0 and 1 land on A, 2..=4 on B (the kernel's +1).
        assert!((190..290).contains(&b), "B should get about 3/5: {b}/400");
    }
}
