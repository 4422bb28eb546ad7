//! Weighted round robin (ip_vs_wrr.c, §2.2, the algorithm of RCU-era kernels).

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why};

/// `struct ip_vs_wrr_mark`.
pub(crate) struct Wrr {
    /// The current dest (`None`: the list head).
    cl: Option<u32>,
    /// Current weight.
    cw: i32,
    /// Maximum weight, less `di − 1`.
    mw: i32,
    /// Step: the gcd of the weights.
    di: i32,
}

fn gcd(a: i32, b: i32) -> i32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `ip_vs_wrr_gcd_weight`: gcd of the weights > 0, or 1 if there are none.
fn gcd_weight(d: &DestList) -> i32 {
    let g = d.iter().map(|(_, x)| x.weight).filter(|&w| w > 0).fold(0, |g, w| if g > 0 { gcd(w, g) } else { w });
    if g > 0 { g } else { 1 }
}

/// `ip_vs_wrr_max_weight`.
fn max_weight(d: &DestList) -> i32 {
    d.iter().map(|(_, x)| x.weight).fold(0, i32::max)
}

impl Wrr {
    /// `ip_vs_wrr_init_svc`: `cw = mw`, so a scheduler set on a populated service
    /// starts at the maximum weight.
    pub fn new(d: &DestList) -> Self {
        let di = gcd_weight(d);
        let mw = max_weight(d) - (di - 1);
        Wrr { cl: None, cw: mw, mw, di }
    }

    /// `ip_vs_wrr_dest_changed` (add, delete and edit).
    fn changed(&mut self, d: &DestList) {
        self.cl = None;
        self.di = gcd_weight(d);
        self.mw = max_weight(d) - (self.di - 1);
        if self.cw > self.mw || self.cw == 0 {
            self.cw = self.mw;
        } else if self.di > 1 {
            self.cw = (self.cw / self.di) * self.di + 1;
        }
    }
}

impl Scheduler for Wrr {
    fn name(&self) -> &'static str {
        "wrr"
    }
    fn add_dest(&mut self, d: &DestList) {
        self.changed(d);
    }
    fn del_dest(&mut self, d: &DestList, _removed: u32, _pos: usize) {
        self.changed(d);
    }
    fn upd_dest(&mut self, d: &DestList) {
        self.changed(d);
    }

    fn schedule(&mut self, d: &DestList, _pkt: &SchedPkt, _ctx: &mut SchedCtx) -> Option<Pick> {
        if self.mw == 0 {
            return None;
        }
        let n = d.order.len();
        // Positions: `None` is the head, `Some(i)` the dest at index i.
        let last = self.cl.and_then(|c| d.order.iter().position(|&x| x == c));
        let mut pos = last;
        let mut stop: Option<usize> = None;
        let mut last_pass = false;
        let mut restarted = false;
        loop {
            let from = pos.map_or(0, |p| p + 1);
            for i in from..n {
                let dest = d.get(d.order[i]);
                if !dest.overloaded() && dest.weight >= self.cw {
                    self.cl = Some(d.order[i]);
                    return Some(Pick { dest: d.order[i], why: Why::Wrr { cw: self.cw } });
                }
                if stop == Some(i) {
                    self.cl = Some(d.order[i]);
                    return None;
                }
            }
            pos = None;
            self.cw -= self.di;
            if self.cw <= 0 {
                self.cw = self.mw;
                if last_pass || last.is_none() {
                    self.cl = None;
                    return None;
                }
                restarted = true;
            }
            last_pass = self.cw <= self.di;
            if last_pass && restarted && last.is_some() {
                stop = last;
            }
        }
    }

    fn explain(&self, d: &DestList, _pkt: &SchedPkt, pick: &Pick) -> String {
        let cw = match pick.why {
            Why::Wrr { cw } => cw,
            _ => self.cw,
        };
        format!(
            "wrr picked {}: the next in list order with weight {} >= current weight {} (step {}, max {})",
            d.name(pick.dest),
            d.get(pick.dest).weight,
            cw,
            self.di,
            self.mw
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::director::ipvs::dest::Dest;
    use std::net::Ipv4Addr;

    fn run(s: &mut Wrr, all: &[Dest], order: &[u32], n: usize, names: &str) -> String {
        let p = pkt(Ipv4Addr::new(1, 1, 1, 1), 1000, Ipv4Addr::new(2, 2, 2, 2), 80);
        let names: Vec<char> = names.chars().collect();
        (0..n)
            .map(|_| pick(s, all, order, &p).map_or('-', |x| names[x as usize]))
            .map(String::from)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Builds a service the ipvsadm way: created empty, then dests added one by one
    /// (each at the head), running `dest_changed` after each.
    fn built(weights: &[i32]) -> (Wrr, Vec<Dest>, Vec<u32>) {
        let (all, _) = list(&weights.iter().map(|&w| (w, 0, 0)).collect::<Vec<_>>());
        let mut s = Wrr::new(&DestList { order: &[], all: &all });
        let mut order: Vec<u32> = Vec::new();
        for i in 0..weights.len() as u32 {
            order.insert(0, i);
            s.add_dest(&DestList { order: &order, all: &all });
        }
        (s, all, order)
    }

    /// §10.1 (1): list A, B, C from init_svc: B B C A B C | B B C A B C.
    #[test]
    fn init_state_sequence() {
        let (all, order) = list(&[(1, 0, 0), (3, 0, 0), (2, 0, 0)]);
        let mut s = Wrr::new(&DestList { order: &order, all: &all });
        assert_eq!(run(&mut s, &all, &order, 12, "ABC"), "B B C A B C B B C A B C");
    }

    /// §10.1 (2): added A(1), B(3), C(2): list C, B, A, cw starts at 1.
    #[test]
    fn realistic_build_sequence() {
        let (mut s, all, order) = built(&[1, 3, 2]);
        assert_eq!(order, [2, 1, 0]);
        assert_eq!(s.cw, 1);
        assert_eq!(run(&mut s, &all, &order, 12, "ABC"), "C B A B C B C B A B C B");
    }

    /// §10.1 (3): list C, B, A with init state: B C B C B A | B C B C B A.
    #[test]
    fn reversed_list_init_state() {
        let (all, _) = list(&[(1, 0, 0), (3, 0, 0), (2, 0, 0)]);
        let order = vec![2, 1, 0];
        let mut s = Wrr::new(&DestList { order: &order, all: &all });
        assert_eq!(run(&mut s, &all, &order, 12, "ABC"), "B C B C B A B C B C B A");
    }

    /// §10.2: [4, 3, 2] init and built; gcd 2 cases.
    #[test]
    fn four_three_two_and_gcd() {
        let (all, order) = list(&[(4, 0, 0), (3, 0, 0), (2, 0, 0)]);
        let mut s = Wrr::new(&DestList { order: &order, all: &all });
        assert_eq!(run(&mut s, &all, &order, 9, "ABC"), "A A B A B C A B C");
        let (mut s, all, order) = built(&[4, 3, 2]);
        assert_eq!(run(&mut s, &all, &order, 18, "ABC"), "C B A A B A C B A C B A A B A C B A");

        let (all, order) = list(&[(4, 0, 0), (2, 0, 0)]);
        let mut s = Wrr::new(&DestList { order: &order, all: &all });
        assert_eq!((s.di, s.mw, s.cw), (2, 3, 3));
        assert_eq!(run(&mut s, &all, &order, 6, "AB"), "A A B A A B");
        let (mut s, all, order) = built(&[4, 2]);
        assert_eq!(run(&mut s, &all, &order, 6, "AB"), "B A A B A A");
    }

    #[test]
    fn all_zero_or_overloaded_is_none() {
        let (mut s, mut all, order) = built(&[0, 0]);
        assert_eq!(run(&mut s, &all, &order, 2, "AB"), "- -");
        let (mut s2, _, _) = built(&[1, 1]);
        for d in all.iter_mut() {
            d.weight = 1;
            overload(d);
        }
        assert_eq!(run(&mut s2, &all, &order, 2, "AB"), "- -");
    }
}
