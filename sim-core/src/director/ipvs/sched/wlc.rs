//! Weighted least connection (ip_vs_wlc.c, §2.4): the least overhead/weight, by
//! cross-multiplication; the earlier dest wins ties. ipvsadm's default.
//!
//! The kernel walks the whole list for every new connection. The pick it makes is
//! the earliest dest of least overhead/weight among those not OVERLOADed with
//! weight > 0, and with positive weights that comparison orders the dests
//! totally, so a tournament tree over the list (each node the earlier-preferring
//! winner of its halves) holds the same pick at its root. A counter change marks
//! its leaf, and the next pick recomputes the marked leaves' ancestors; list and
//! weight changes rebuild the tree. Builds with debug assertions check every pick
//! against the kernel's walk.

use super::super::conn::NONE;
use super::super::dest::Dest;
use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why, explain_least, wlc_pick};

/// wlc's state: the tournament tree over the service's dest list.
#[derive(Default)]
pub(crate) struct Wlc {
    /// Each dest's position in the list, by dest index (NONE: not in it).
    pos: Vec<u32>,
    /// Nodes 1.. of a complete binary tree whose leaves, from `leaves` on, are the
    /// list positions; each node holds the dest that wins its range. Stored by
    /// sibling pairs (node `i` is `tree[i / 2][i % 2]`): a level up is one read.
    tree: Vec<[Node; 2]>,
    leaves: usize,
    /// List positions whose dest changed since the last pick, and a flag per
    /// position: the tree catches up when it is next read.
    dirty: Vec<u32>,
    is_dirty: Vec<bool>,
    /// The tree no longer matches the list (or was never built).
    stale: bool,
}

/// A range's winner with the overhead and weight it won with.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Node {
    overhead: i64,
    /// NONE when no dest of the range may be picked.
    id: u32,
    /// Positive for a dest that may be picked.
    weight: i32,
}

/// No pickable dest. Weight 0 and overhead 1 make [`winner`] need no NONE test:
/// a dest (weight > 0) beats it from either side; of two EMPTYs the earlier stays.
const EMPTY: Node = Node { overhead: 1, id: NONE, weight: 0 };

/// A leaf: the dest if the kernel's walk may pick it.
fn leaf(all: &[Dest], id: u32) -> Node {
    let d = &all[id as usize];
    if !d.overloaded() && d.weight > 0 { Node { overhead: d.overhead(), id, weight: d.weight } } else { EMPTY }
}

/// The winner of two ranges, `a` the earlier: `b` only if strictly better
/// (`loh·w_b > doh·w_least`, as the walk replaces). Which one wins is data, not
/// a pattern the branch predictor can learn, hence a conditional move.
#[inline]
fn winner(a: Node, b: Node) -> Node {
    let better = a.overhead * i64::from(b.weight) > b.overhead * i64::from(a.weight);
    std::hint::select_unpredictable(better, b, a)
}

impl Wlc {
    fn rebuild(&mut self, d: &DestList) {
        self.leaves = d.order.len().next_power_of_two();
        self.tree.clear();
        self.tree.resize(self.leaves, [EMPTY; 2]);
        self.pos.clear();
        self.pos.resize(d.all.len(), NONE);
        for (p, &id) in d.order.iter().enumerate() {
            self.pos[id as usize] = p as u32;
            let i = self.leaves + p;
            self.tree[i / 2][i % 2] = leaf(d.all, id);
        }
        for i in (1..self.leaves).rev() {
            let [a, b] = self.tree[i];
            self.tree[i / 2][i % 2] = winner(a, b);
        }
        self.dirty.clear();
        self.is_dirty.clear();
        self.is_dirty.resize(self.leaves, false);
        self.stale = false;
    }

    /// Re-reads the changed leaves and recomputes their ancestors, stopping where
    /// a node keeps the same winner with the same load.
    fn catch_up(&mut self, all: &[Dest], order: &[u32]) {
        for p in self.dirty.drain(..) {
            let p = p as usize;
            self.is_dirty[p] = false;
            let mut i = self.leaves + p;
            // The node climbing the tree stays in registers: each level reads
            // only its sibling.
            let mut w = leaf(all, order[p]);
            self.tree[i / 2][i % 2] = w;
            while i > 1 {
                let pair = &self.tree[i / 2];
                w = if i.is_multiple_of(2) { winner(w, pair[1]) } else { winner(pair[0], w) };
                i /= 2;
                let slot = &mut self.tree[i / 2][i % 2];
                if *slot == w {
                    break;
                }
                *slot = w;
            }
        }
    }
}

impl Scheduler for Wlc {
    fn name(&self) -> &'static str {
        "wlc"
    }

    fn add_dest(&mut self, _: &DestList) {
        self.stale = true;
    }

    fn del_dest(&mut self, _: &DestList, _: u32, _: usize) {
        self.stale = true;
    }

    fn upd_dest(&mut self, _: &DestList) {
        self.stale = true;
    }

    fn dest_changed(&mut self, _: &DestList, id: u32) {
        if self.stale {
            return;
        }
        let Some(&p) = self.pos.get(id as usize) else { return };
        if p != NONE && !self.is_dirty[p as usize] {
            self.is_dirty[p as usize] = true;
            self.dirty.push(p);
        }
    }

    fn schedule(&mut self, d: &DestList, _pkt: &SchedPkt, _ctx: &mut SchedCtx) -> Option<Pick> {
        if self.stale || self.tree.is_empty() {
            self.rebuild(d);
        } else {
            self.catch_up(d.all, d.order);
        }
        let root = self.tree[0][1].id;
        let pick = (root != NONE).then_some(root);
        debug_assert_eq!(pick, wlc_pick(d, |x| x.overhead()), "wlc's tree disagrees with the kernel's walk");
        pick.map(|dest| Pick { dest, why: Why::Least })
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
        assert_eq!(pick(&mut Wlc::default(), &all, &order, &p()), Some(1));
        let (all, order) = list(&[(1, 1, 0), (2, 2, 0)]);
        assert_eq!(pick(&mut Wlc::default(), &all, &order, &p()), Some(0), "a tie keeps the first");
        let (mut all, order) = list(&[(0, 0, 0), (5, 0, 0), (1, 5, 0)]);
        overload(&mut all[1]);
        assert_eq!(pick(&mut Wlc::default(), &all, &order, &p()), Some(2));
        // §10.4 #3 the other way round: wlc on sed's input picks A (0 < 768/5).
        let (all, order) = list(&[(1, 0, 0), (5, 3, 0)]);
        assert_eq!(pick(&mut Wlc::default(), &all, &order, &p()), Some(0));
    }

    #[test]
    fn explanation_names_the_runner_up() {
        let (all, order) = list(&[(1, 1, 0), (1, 0, 0)]);
        let d = DestList { order: &order, all: &all };
        assert_eq!(
            Wlc::default().explain(&d, &p(), &Pick { dest: 1, why: Why::Least }),
            "wlc picked 10.0.0.2:80: overhead/weight 0/1 < 256/1 of 10.0.0.1:80"
        );
        let (all, order) = list(&[(1, 0, 0)]);
        let d = DestList { order: &order, all: &all };
        assert_eq!(
            Wlc::default().explain(&d, &p(), &Pick { dest: 0, why: Why::Least }),
            "wlc picked 10.0.0.1:80: the only available destination (overhead/weight 0/1)"
        );
    }
}

#[cfg(test)]
mod tree_tests {
    use super::super::testutil::*;
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    proptest! {
        /// After any sequence of counter and OVERLOAD changes, each reported, the
        /// tree's pick is the kernel walk's.
        #[test]
        fn tree_pick_is_the_walks(
            spec in prop::collection::vec((0i32..4, 0i32..4, 0i32..4), 1..40),
            changes in prop::collection::vec((any::<prop::sample::Index>(), 0u8..5), 0..200),
        ) {
            let (mut all, order) = list(&spec);
            let mut wlc = Wlc::default();
            let p = pkt(Ipv4Addr::new(1, 1, 1, 1), 1, Ipv4Addr::new(2, 2, 2, 2), 80);
            let mut rng = crate::rng::stream(1, "tree");
            for (at, what) in changes {
                let id = order[at.index(order.len())];
                let d = &mut all[id as usize];
                match what {
                    0 => d.activeconns += 1,
                    1 => d.inactconns += 1,
                    2 if d.activeconns > 0 => { d.activeconns -= 1; d.inactconns += 1 }
                    3 => overload(d),
                    _ => d.flags &= !super::super::super::dest::DEST_F_OVERLOAD,
                }
                let l = DestList { order: &order, all: &all };
                wlc.dest_changed(&l, id);
                let walk = wlc_pick(&l, |x| x.overhead());
                prop_assert_eq!(wlc.schedule(&l, &p, &mut ctx(&mut rng)).map(|p| p.dest), walk);
            }
        }
    }
}
