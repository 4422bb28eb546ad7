//! Source hashing (ip_vs_sh.c, §2.10): 256 buckets filled weight-aware; the client
//! address (plus its port with `sh-port`) picks the bucket; `sh-fallback` probes on.

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why, hash_32};
use crate::director::ipvs::dest::Dest;
use crate::director::ipvs::service::{SVC_F_SCHED1, SVC_F_SCHED2};

const TAB_BITS: u32 = 8;
const TAB_SIZE: u32 = 1 << TAB_BITS;

/// `IP_VS_SVC_F_SCHED_SH_FALLBACK`.
pub const SH_FALLBACK: u32 = SVC_F_SCHED1;
/// `IP_VS_SVC_F_SCHED_SH_PORT`.
pub const SH_PORT: u32 = SVC_F_SCHED2;

pub(crate) struct Sh {
    buckets: [Option<u32>; TAB_SIZE as usize],
}

/// `ip_vs_sh_hashkey`: `(offset + hash_32(port + addr, 8)) & 255`.
fn hashkey(addr: u32, port: u16, offset: u32) -> u32 {
    offset.wrapping_add(hash_32(u32::from(port).wrapping_add(addr), TAB_BITS)) & (TAB_SIZE - 1)
}

/// `is_unavailable`: weight ≤ 0 or OVERLOAD (AVAILABLE is not checked: deleting a
/// dest rebuilds the table).
fn unavailable(d: &Dest) -> bool {
    d.weight <= 0 || d.overloaded()
}

impl Sh {
    pub fn new(d: &DestList) -> Self {
        let mut s = Sh { buckets: [None; TAB_SIZE as usize] };
        s.reassign(d);
        s
    }

    /// `ip_vs_sh_reassign`: each dest takes `weight` consecutive buckets (at least
    /// one, even with weight 0), cycling through the list.
    fn reassign(&mut self, d: &DestList) {
        let n = d.order.len();
        let (mut p, mut count) = (0usize, 0i32);
        for b in self.buckets.iter_mut() {
            if n == 0 {
                *b = None;
                continue;
            }
            let id = d.order[p % n];
            *b = Some(id);
            count += 1;
            if count >= d.get(id).weight {
                p += 1;
                count = 0;
            }
        }
    }
}

impl Scheduler for Sh {
    fn name(&self) -> &'static str {
        "sh"
    }
    fn add_dest(&mut self, d: &DestList) {
        self.reassign(d);
    }
    fn del_dest(&mut self, d: &DestList, _removed: u32, _pos: usize) {
        self.reassign(d);
    }
    fn upd_dest(&mut self, d: &DestList) {
        self.reassign(d);
    }

    fn schedule(&mut self, d: &DestList, pkt: &SchedPkt, _ctx: &mut SchedCtx) -> Option<Pick> {
        let addr = pkt.client_addr();
        let port = if pkt.svc_flags & SH_PORT != 0 { pkt.client_port() } else { 0 };
        let key = u32::from(port).wrapping_add(addr);
        let ihash = hashkey(addr, port, 0);
        let id = self.buckets[ihash as usize]?;
        if !unavailable(d.get(id)) {
            return Some(Pick { dest: id, why: Why::Bucket { bucket: ihash, probes: 0, key } });
        }
        if pkt.svc_flags & SH_FALLBACK == 0 {
            return None;
        }
        // ip_vs_sh_get_fallback: probe hashkey(offset = (k + H) mod 256) for k = 0..255.
        for k in 0..TAB_SIZE {
            let roffset = (k + ihash) % TAB_SIZE;
            let b = hashkey(addr, port, roffset);
            let id = self.buckets[b as usize]?;
            if !unavailable(d.get(id)) {
                return Some(Pick { dest: id, why: Why::Bucket { bucket: b, probes: k + 1, key } });
            }
        }
        None
    }

    fn explain(&self, d: &DestList, pkt: &SchedPkt, pick: &Pick) -> String {
        let Why::Bucket { bucket, probes, .. } = pick.why else {
            return format!("sh picked {}", d.name(pick.dest));
        };
        let what = if pkt.svc_flags & SH_PORT != 0 {
            format!("{}:{}", std::net::Ipv4Addr::from(pkt.client_addr()), pkt.client_port())
        } else {
            std::net::Ipv4Addr::from(pkt.client_addr()).to_string()
        };
        if probes == 0 {
            format!("sh picked {}: source {what} hashes to bucket {bucket} of 256, which holds it", d.name(pick.dest))
        } else {
            format!(
                "sh picked {}: the bucket of source {what} holds an unavailable server; sh-fallback probe {probes} found bucket {bucket}",
                d.name(pick.dest)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use std::net::Ipv4Addr;

    /// §2.10: weights [1, 3, 2] give D1 D2 D2 D2 D3 D3 D1 ... with period 6.
    #[test]
    fn weighted_table() {
        let (all, order) = list(&[(1, 0, 0), (3, 0, 0), (2, 0, 0)]);
        let s = Sh::new(&DestList { order: &order, all: &all });
        let first: Vec<u32> = s.buckets[..12].iter().map(|b| b.unwrap() + 1).collect();
        assert_eq!(first, [1, 2, 2, 2, 3, 3, 1, 2, 2, 2, 3, 3]);
        let (all, order) = list(&[(0, 0, 0), (1, 0, 0)]);
        let s = Sh::new(&DestList { order: &order, all: &all });
        assert_eq!(s.buckets[..4].iter().map(|b| b.unwrap()).collect::<Vec<_>>(), [0, 1, 0, 1]);
    }

    /// §10.5: three weight-1 dests: 10.0.0.1 → D1, 1.2.3.4 → D2, 192.168.1.100 → D3;
    /// D2 at weight 0: NULL without fallback, D3 with (probe bucket 104).
    #[test]
    fn reference_buckets_and_fallback() {
        let (mut all, order) = list(&[(1, 0, 0), (1, 0, 0), (1, 0, 0)]);
        let mut s = Sh::new(&DestList { order: &order, all: &all });
        let src = |a: [u8; 4]| pkt(Ipv4Addr::from(a), 1234, Ipv4Addr::new(10, 9, 9, 9), 80);
        assert_eq!(pick(&mut s, &all, &order, &src([10, 0, 0, 1])), Some(0));
        assert_eq!(pick(&mut s, &all, &order, &src([1, 2, 3, 4])), Some(1));
        assert_eq!(pick(&mut s, &all, &order, &src([192, 168, 1, 100])), Some(2));
        all[1].weight = 0;
        s.upd_dest(&DestList { order: &order, all: &all });
        assert_eq!(pick(&mut s, &all, &order, &src([1, 2, 3, 4])), None);
        let mut p = src([1, 2, 3, 4]);
        p.svc_flags = SH_FALLBACK;
        assert_eq!(pick(&mut s, &all, &order, &p), Some(2));
        assert_eq!(hashkey(0x0102_0304, 0, 52), 104);
    }

    /// §10.5 last column: with sh-port, 10.0.0.1:1234 hashes to bucket 128.
    #[test]
    fn sh_port() {
        assert_eq!(hashkey(0x0A00_0001, 1234, 0), 128);
        let (all, order) = list(&[(1, 0, 0), (1, 0, 0), (1, 0, 0)]);
        let mut s = Sh::new(&DestList { order: &order, all: &all });
        let mut p = pkt(Ipv4Addr::new(10, 0, 0, 1), 1234, Ipv4Addr::new(10, 9, 9, 9), 80);
        p.svc_flags = SH_PORT;
        assert_eq!(pick(&mut s, &all, &order, &p), Some(128 % 3));
    }
}
