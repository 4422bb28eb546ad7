//! Maglev hashing (ip_vs_mh.c, §2.11): a 4093-slot lookup table filled from each
//! dest's permutation, `hsiphash` on the client address (and port with `mh-port`).

use super::{DestList, Pick, SchedCtx, SchedPkt, Scheduler, Why};
use crate::director::ipvs::dest::Dest;
use crate::director::ipvs::service::{SVC_F_SCHED1, SVC_F_SCHED2};

/// `IP_VS_MH_TAB_SIZE`: `primes[CONFIG_IP_VS_MH_TAB_INDEX − 8]` = 4093.
pub const TAB_SIZE: u32 = 4093;
/// `IP_VS_MH_TAB_BITS` = 12 / 2.
const TAB_BITS: u32 = 6;
/// `IP_VS_SVC_F_SCHED_MH_FALLBACK`.
pub const MH_FALLBACK: u32 = SVC_F_SCHED1;
/// `IP_VS_SVC_F_SCHED_MH_PORT`.
pub const MH_PORT: u32 = SVC_F_SCHED2;

/// `generate_hash_secret`: fixed keys, not random.
const HASH1: [u64; 2] = [2_654_435_761, 2_654_435_761];
const HASH2: [u64; 2] = [2_654_446_892, 2_654_446_892];

fn sipround(s: &mut [u64; 4]) {
    s[0] = s[0].wrapping_add(s[1]);
    s[1] = s[1].rotate_left(13);
    s[1] ^= s[0];
    s[0] = s[0].rotate_left(32);
    s[2] = s[2].wrapping_add(s[3]);
    s[3] = s[3].rotate_left(16);
    s[3] ^= s[2];
    s[0] = s[0].wrapping_add(s[3]);
    s[3] = s[3].rotate_left(21);
    s[3] ^= s[0];
    s[2] = s[2].wrapping_add(s[1]);
    s[1] = s[1].rotate_left(17);
    s[1] ^= s[2];
    s[2] = s[2].rotate_left(32);
}

/// `hsiphash` of a 4-byte word on a 64-bit kernel: SipHash-1-3 with 64-bit key words
/// (lib/siphash.c, `BITS_PER_LONG == 64`), truncated to u32. The word is the host
/// (little-endian) `u32` the kernel passes by address.
pub fn hsiphash(v: u32, key: [u64; 2]) -> u32 {
    let mut s = [
        0x736f_6d65_7073_6575 ^ key[0],
        0x646f_7261_6e64_6f6d ^ key[1],
        0x6c79_6765_6e65_7261 ^ key[0],
        0x7465_6462_7974_6573 ^ key[1],
    ];
    let b = (4u64 << 56) | u64::from(v);
    s[3] ^= b;
    sipround(&mut s);
    s[0] ^= b;
    s[2] ^= 0xff;
    sipround(&mut s);
    sipround(&mut s);
    sipround(&mut s);
    (s[0] ^ s[1] ^ s[2] ^ s[3]) as u32
}

/// `ip_vs_mh_hashkey`: `hsiphash(offset + port + addr)`.
fn hashkey(addr: u32, port: u16, key: [u64; 2], offset: u32) -> u32 {
    hsiphash(offset.wrapping_add(u32::from(port)).wrapping_add(addr), key)
}

/// `is_unavailable`: weight ≤ 0 or OVERLOAD.
fn unavailable(d: &Dest) -> bool {
    d.weight <= 0 || d.overloaded()
}

fn gcd(a: i32, b: i32) -> i32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

pub(crate) struct Mh {
    lookup: Vec<Option<u32>>,
}

impl Mh {
    pub fn new(d: &DestList) -> Self {
        let mut s = Mh { lookup: vec![None; TAB_SIZE as usize] };
        s.reassign(d);
        s
    }

    /// `ip_vs_mh_gcd_weight` + `ip_vs_mh_shift_weight` + `ip_vs_mh_permutate` +
    /// `ip_vs_mh_populate`. Built from `last_weight`, so a dest set to weight 0
    /// keeps its slots.
    fn reassign(&mut self, d: &DestList) {
        let g =
            d.iter().map(|(_, x)| x.last_weight).filter(|&w| w > 0).fold(0, |g, w| if g > 0 { gcd(w, g) } else { w });
        if g < 1 {
            self.lookup.iter_mut().for_each(|s| *s = None);
            return;
        }
        let mw = d.iter().map(|(_, x)| x.last_weight).fold(0, i32::max) / g;
        let fls = 32 - (mw as u32).leading_zeros();
        let rshift = fls.saturating_sub(TAB_BITS);
        // (offset, skip, perm, turns) per dest, in list order.
        let mut setup: Vec<(u32, u32, u32, i32)> = d
            .iter()
            .map(|(_, x)| {
                let a = u32::from(x.addr);
                let offset = hashkey(a, x.port, HASH1, 0) % TAB_SIZE;
                let skip = hashkey(a, x.port, HASH2, 0) % (TAB_SIZE - 1) + 1;
                let lw = x.last_weight;
                let t = (lw / g) >> rshift;
                let turns = if t != 0 { t } else { i32::from(lw != 0) };
                (offset, skip, offset, turns)
            })
            .collect();
        let mut taken = vec![false; TAB_SIZE as usize];
        let mut filled = 0u32;
        let mut dt_count = 0i32;
        'fill: loop {
            let mut k = 0;
            while k < setup.len() {
                let (_, skip, perm, turns) = &mut setup[k];
                if *turns < 1 {
                    k += 1;
                    continue;
                }
                let mut c = *perm;
                while taken[c as usize] {
                    *perm += *skip;
                    if *perm >= TAB_SIZE {
                        *perm -= TAB_SIZE;
                    }
                    c = *perm;
                }
                taken[c as usize] = true;
                self.lookup[c as usize] = Some(d.order[k]);
                filled += 1;
                if filled == TAB_SIZE {
                    break 'fill;
                }
                dt_count += 1;
                if dt_count >= *turns {
                    dt_count = 0;
                    k += 1;
                }
            }
        }
    }

    fn slot(&self, addr: u32, port: u16, offset: u32) -> u32 {
        hashkey(addr, port, HASH1, offset) % TAB_SIZE
    }
}

impl Scheduler for Mh {
    fn name(&self) -> &'static str {
        "mh"
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
        let port = if pkt.svc_flags & MH_PORT != 0 { pkt.client_port() } else { 0 };
        let key = addr.wrapping_add(u32::from(port));
        let ihash = self.slot(addr, port, 0);
        let id = self.lookup[ihash as usize]?;
        if !unavailable(d.get(id)) {
            return Some(Pick { dest: id, why: Why::Bucket { bucket: ihash, probes: 0, key } });
        }
        if pkt.svc_flags & MH_FALLBACK == 0 {
            return None;
        }
        // ip_vs_mh_get_fallback: re-hash with offset (k + slot) mod M for k = 0..M−1.
        for k in 0..TAB_SIZE {
            let roffset = (k + ihash) % TAB_SIZE;
            let h = self.slot(addr, port, roffset);
            let id = self.lookup[h as usize]?;
            if !unavailable(d.get(id)) {
                return Some(Pick { dest: id, why: Why::Bucket { bucket: h, probes: k + 1, key } });
            }
        }
        None
    }

    fn explain(&self, d: &DestList, pkt: &SchedPkt, pick: &Pick) -> String {
        let Why::Bucket { bucket, probes, .. } = pick.why else {
            return format!("mh picked {}", d.name(pick.dest));
        };
        let src = std::net::Ipv4Addr::from(pkt.client_addr());
        let what = if pkt.svc_flags & MH_PORT != 0 { format!("{src}:{}", pkt.client_port()) } else { src.to_string() };
        if probes == 0 {
            format!(
                "mh picked {}: source {what} hashes to slot {bucket} of 4093 in the Maglev table",
                d.name(pick.dest)
            )
        } else {
            format!(
                "mh picked {}: the slot of source {what} holds an unavailable server; mh-fallback re-hash {probes} found slot {bucket}",
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

    /// The kernel's KUnit vector (lib/siphash_kunit.c, 64-bit): hsiphash of bytes
    /// 0, 1, 2, 3 under key 00 01 .. 0f is 0x88d38328.
    #[test]
    fn hsiphash_kunit_vector() {
        let key = [0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908];
        assert_eq!(hsiphash(u32::from_le_bytes([0, 1, 2, 3]), key), 0x88d3_8328);
    }

    /// §10.6: offsets, skips and hashes of 10.0.0.{3,2,1}:80.
    #[test]
    fn dest_permutations() {
        for (last, offset, skip, h) in
            [(3u8, 1631, 3453, 0x2cdf_0afa), (2, 1231, 3544, 0xa1cf_683b), (1, 3167, 700, 0x439c_0cbe)]
        {
            let a = u32::from(Ipv4Addr::new(10, 0, 0, last));
            assert_eq!(hashkey(a, 80, HASH1, 0), h, ".{last}");
            assert_eq!(hashkey(a, 80, HASH1, 0) % TAB_SIZE, offset, ".{last}");
            assert_eq!(hashkey(a, 80, HASH2, 0) % (TAB_SIZE - 1) + 1, skip, ".{last}");
        }
    }

    fn three(weights: [i32; 3]) -> (Vec<Dest>, Vec<u32>) {
        // Added .1, .2, .3: list .3, .2, .1.
        let mut all = Vec::new();
        for (i, w) in weights.iter().enumerate() {
            all.push(dest(Ipv4Addr::new(10, 0, 0, i as u8 + 1), 80, *w));
        }
        (all, vec![2, 1, 0])
    }

    fn counts(s: &Mh) -> [usize; 3] {
        let mut c = [0; 3];
        for x in s.lookup.iter().flatten() {
            c[*x as usize] += 1;
        }
        c
    }

    /// §10.6: slot counts and lookups.
    #[test]
    fn table_counts_and_lookups() {
        let (all, order) = three([1, 1, 1]);
        let mut s = Mh::new(&DestList { order: &order, all: &all });
        assert_eq!(counts(&s), [1364, 1364, 1365]);
        for (src, slot, dest) in [
            ([192, 168, 1, 100], 1341, 1),
            ([10, 1, 1, 1], 3744, 2),
            ([172, 16, 5, 4], 2304, 0),
            ([1, 2, 3, 4], 2197, 1),
        ] {
            let a = u32::from(Ipv4Addr::from(src));
            assert_eq!(s.slot(a, 0, 0), slot);
            let p = pkt(Ipv4Addr::from(src), 5555, Ipv4Addr::new(10, 9, 9, 9), 80);
            assert_eq!(pick(&mut s, &all, &order, &p), Some(dest), "{src:?}");
        }
        let (all, order) = three([1, 2, 3]);
        let s = Mh::new(&DestList { order: &order, all: &all });
        assert_eq!(counts(&s), [682, 1364, 2047]);
    }

    #[test]
    fn weight_zero_keeps_slots_and_fallback_moves_on() {
        let (mut all, order) = three([1, 1, 1]);
        let mut s = Mh::new(&DestList { order: &order, all: &all });
        all[1].weight = 0; // last_weight stays 1
        s.upd_dest(&DestList { order: &order, all: &all });
        assert_eq!(counts(&s), [1364, 1364, 1365]);
        let mut p = pkt(Ipv4Addr::new(1, 2, 3, 4), 5555, Ipv4Addr::new(10, 9, 9, 9), 80);
        assert_eq!(pick(&mut s, &all, &order, &p), None);
        p.svc_flags = MH_FALLBACK;
        assert!(matches!(pick(&mut s, &all, &order, &p), Some(0 | 2)));
    }
}
