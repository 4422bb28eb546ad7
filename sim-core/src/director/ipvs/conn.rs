//! The connection table (ip_vs_conn.c; reference §1.3, §3.1–§3.3): entries, the in
//! and out lookups, templates, binding to dests, timers and expiry.
//!
//! Entries live in a slab and are found through one hash map whose keys say which
//! lookup they serve, as the kernel's single client-keyed table does. The map is
//! only ever probed, never iterated, so its order cannot reach any output; listings
//! walk the slab in creation order.
//!
//! Timers: `expires` is rewritten on every packet (`ip_vs_conn_put`), which must be
//! cheap. A binary heap holds at most a few deadlines per entry: an entry is queued
//! at `queued ≤ expires`; when that deadline pops and the entry has been refreshed,
//! it is queued again at its new `expires`. A timeout that shrinks queues an earlier
//! deadline at once. Stale heap items are recognised by `queued` and the entry's
//! creation number, so expiry order is exact and deterministic.

use super::Ipvs;
use super::dest::{Dest, Fwd};
use crate::time::Instant;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::net::Ipv4Addr;

/// "No index" for dest, control and slab links.
pub(crate) const NONE: u32 = u32::MAX;

/// `IP_VS_CONN_F_*` (include/uapi/linux/ip_vs.h), compacted into 16 bits.
pub(crate) mod cf {
    /// Forwarding method (`Fwd::code`).
    pub const FWD_MASK: u16 = 0x0007;
    /// `IP_VS_CONN_F_NOOUTPUT`: no reply seen yet (non-NAT methods).
    pub const NOOUTPUT: u16 = 0x0080;
    /// `IP_VS_CONN_F_INACTIVE`: counted in inactconns.
    pub const INACTIVE: u16 = 0x0100;
    /// `IP_VS_CONN_F_TEMPLATE`: a persistence template.
    pub const TEMPLATE: u16 = 0x1000;
    /// `IP_VS_CONN_F_ONE_PACKET`: one-packet scheduling; never hashed.
    pub const ONE_PACKET: u16 = 0x2000;
    /// `IP_VS_CONN_F_NFCT` (1<<16 in the kernel): conntrack kept.
    pub const NFCT: u16 = 0x4000;
    /// The slab slot holds a live entry.
    pub const LIVE: u16 = 0x8000;
}

/// `IP_VS_CTPL_S_ASSURED`: a template whose connection was established/answered.
pub(crate) const CTPL_S_ASSURED: u8 = 1;

/// One entry (`struct ip_vs_conn`), 64 bytes. Addresses are host-order u32.
/// Aligned to a cache line, so an entry is one line, not two (the slab is a
/// large allocation, which malloc does not align to 64).
#[derive(Debug, Clone)]
#[repr(align(64))]
pub(crate) struct Conn {
    /// When the timer fires (ns): last packet + timeout of the current state.
    pub expires: u64,
    /// The earliest deadline this entry has in the timer heap.
    pub queued: u64,
    pub caddr: u32,
    pub vaddr: u32,
    pub daddr: u32,
    /// FULLNAT local address (0 otherwise).
    pub laddr: u32,
    pub dest: u32,
    /// The controlling template (`cp->control`), or NONE.
    pub control: u32,
    /// How many connections this template controls (`cp->n_control`).
    pub n_control: u32,
    /// `cp->timeout`, milliseconds.
    pub timeout_ms: u32,
    /// Creation number: listing order and a generation for stale timer items.
    pub seq: u32,
    pub cport: u16,
    pub vport: u16,
    pub dport: u16,
    pub lport: u16,
    pub flags: u16,
    /// IP protocol (0 for fwmark templates).
    pub proto: u8,
    pub state: u8,
}

impl Conn {
    pub fn fwd(&self) -> Fwd {
        Fwd::from_code(self.flags & cf::FWD_MASK)
    }
    pub fn is_template(&self) -> bool {
        self.flags & cf::TEMPLATE != 0
    }
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
}

/// Which lookup a map key serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum KeyKind {
    /// `<proto, caddr, cport, vaddr, vport>`: client → virtual (and non-NAT replies).
    In = 0,
    /// Replies that NAT: `<proto, caddr, cport, daddr, dport>` for MASQ, and
    /// `<proto, laddr, lport, daddr, dport>` for FULLNAT, whose replies are addressed
    /// to the local address. Either way the reply's own `<daddr:dport, saddr:sport>`.
    Out = 1,
    /// `<proto|0, snet, 0, vaddr|fwmark, vport|0>`: persistence templates.
    Template = 2,
}

/// A lookup key: two address:port pairs, protocol and kind, packed into two words
/// (`a1:a2` and `p1:p2:proto:kind`) so that comparing keys is two compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    addrs: u64,
    rest: u64,
}

impl Hash for Key {
    /// The 112 key bits folded into one word with a single 64×64→128 multiply,
    /// which [`KeyHasher`] passes through as the hash.
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(folded_multiply(self.addrs ^ 0x243f_6a88_85a3_08d3, self.rest ^ 0x1319_8a2e_0370_7344));
    }
}

/// The hasher of the connection map: [`Key`] mixes its bits itself, so its one
/// word is the hash.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = folded_multiply(self.0 ^ u64::from(*b), 0x9e37_79b9_7f4a_7c15);
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A small fast hasher: each word is mixed in with a folded 64×64→128-bit multiply
/// (foldhash's primitive), so every input bit reaches both the bucket index and
/// the tag byte hashbrown takes from the hash. Fixed constants: deterministic; no
/// map is ever iterated anyway.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = folded_multiply(self.0 ^ v, 0x9e37_79b9_7f4a_7c15 ^ 0x2d35_8dcc_aa6c_78a5);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

impl Key {
    #[inline]
    pub fn new(kind: KeyKind, proto: u8, a1: u32, p1: u16, a2: u32, p2: u16) -> Self {
        Key {
            addrs: u64::from(a1) << 32 | u64::from(a2),
            rest: u64::from(p1) << 48 | u64::from(p2) << 32 | u64::from(proto) << 8 | kind as u64,
        }
    }

    #[inline]
    fn kind(&self) -> u8 {
        self.rest as u8
    }

    /// The second address (`vaddr` of an `In` key).
    #[inline]
    fn a2(&self) -> u32 {
        self.addrs as u32
    }
}

/// The table: slab, lookup map and timer heap.
#[derive(Default)]
pub(crate) struct ConnTable {
    pub slab: Vec<Conn>,
    free: Vec<u32>,
    map: HashMap<Key, u32, BuildHasherDefault<KeyHasher>>,
    heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    next_seq: u32,
    /// Live entries (`ipvs->conn_count`).
    pub count: usize,
    /// Reply (`Out`) keys in the map: none means no reply lookup can hit.
    out_keys: usize,
    /// `In` keys in the map by a hash of their virtual address: a reply lookup
    /// of a non-NAT entry (its source the virtual address) need not probe the
    /// map when its bucket is empty, as for a client's SYN.
    in_vaddrs: [usize; VADDR_BUCKETS],
}

/// Buckets of [`ConnTable::in_vaddrs`].
const VADDR_BUCKETS: usize = 32;

/// The bucket of a virtual address: its bits folded by a multiply.
#[inline]
fn vaddr_bucket(a: u32) -> usize {
    (a.wrapping_mul(0x9e37_79b9) >> 27) as usize
}

impl ConnTable {
    /// The keys an entry is hashed under.
    pub fn keys(c: &Conn) -> [Option<Key>; 2] {
        if c.is_template() {
            return [Some(Key::new(KeyKind::Template, c.proto, c.caddr, c.cport, c.vaddr, c.vport)), None];
        }
        let inkey = Key::new(KeyKind::In, c.proto, c.caddr, c.cport, c.vaddr, c.vport);
        let out = match c.fwd() {
            Fwd::Masq => Some(Key::new(KeyKind::Out, c.proto, c.caddr, c.cport, c.daddr, c.dport)),
            Fwd::FullNat if c.laddr != 0 => Some(Key::new(KeyKind::Out, c.proto, c.laddr, c.lport, c.daddr, c.dport)),
            _ => None,
        };
        [Some(inkey), out]
    }

    /// Stores a new entry (not yet timed) and hashes it unless it is ONE_PACKET.
    pub fn insert(&mut self, mut c: Conn) -> u32 {
        c.seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        c.flags |= cf::LIVE;
        c.queued = u64::MAX;
        let hashed = !c.has(cf::ONE_PACKET);
        let keys = Self::keys(&c);
        let idx = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = c;
                i
            }
            None => {
                self.slab.push(c);
                (self.slab.len() - 1) as u32
            }
        };
        if hashed {
            for k in keys.into_iter().flatten() {
                self.put(k, idx);
            }
        }
        self.count += 1;
        idx
    }

    fn put(&mut self, k: Key, idx: u32) {
        if self.map.insert(k, idx).is_none()
            && let Some(n) = self.key_count(k)
        {
            *n += 1;
        }
    }

    /// The count key `k` adds to, which lets lookups skip the map (templates
    /// are not counted).
    #[inline]
    fn key_count(&mut self, k: Key) -> Option<&mut usize> {
        match k.kind() {
            kind if kind == KeyKind::Out as u8 => Some(&mut self.out_keys),
            kind if kind == KeyKind::In as u8 => Some(&mut self.in_vaddrs[vaddr_bucket(k.a2())]),
            _ => None,
        }
    }

    /// Whether an `In` entry may have `vaddr` as its virtual address (no false
    /// negatives).
    #[inline]
    pub fn may_have_vaddr(&self, vaddr: u32) -> bool {
        self.in_vaddrs[vaddr_bucket(vaddr)] > 0
    }

    /// Whether any entry answers reply lookups of NAT/FULLNAT kind.
    #[inline]
    pub fn has_out_keys(&self) -> bool {
        self.out_keys > 0
    }

    /// Removes an entry's keys (only those still pointing at it).
    pub fn unhash(&mut self, idx: u32) {
        let keys = Self::keys(&self.slab[idx as usize]);
        for k in keys.into_iter().flatten() {
            if self.map.get(&k) == Some(&idx) {
                self.map.remove(&k);
                if let Some(n) = self.key_count(k) {
                    *n -= 1;
                }
            }
        }
    }

    /// Re-inserts an entry's keys (after its ports changed).
    pub fn rehash(&mut self, idx: u32) {
        let keys = Self::keys(&self.slab[idx as usize]);
        for k in keys.into_iter().flatten() {
            self.put(k, idx);
        }
    }

    /// Frees the slot of an unhashed entry.
    pub fn free(&mut self, idx: u32) {
        let c = &mut self.slab[idx as usize];
        c.flags = 0;
        c.dest = NONE;
        c.control = NONE;
        self.free.push(idx);
        self.count -= 1;
    }

    #[inline(always)]
    pub fn get(&self, key: &Key) -> Option<u32> {
        self.map.get(key).copied()
    }

    #[inline]
    pub fn conn(&self, idx: u32) -> &Conn {
        &self.slab[idx as usize]
    }

    #[inline]
    pub fn conn_mut(&mut self, idx: u32) -> &mut Conn {
        &mut self.slab[idx as usize]
    }

    /// `ip_vs_conn_put` / `mod_timer(jiffies + cp->timeout)`: restart the timer.
    #[inline(always)]
    pub fn arm(&mut self, idx: u32, now: Instant) {
        let c = &mut self.slab[idx as usize];
        let t = if c.has(cf::ONE_PACKET) { 0 } else { u64::from(c.timeout_ms) * 1_000_000 };
        c.expires = now.nanos().saturating_add(t);
        if c.expires < c.queued {
            c.queued = c.expires;
            self.heap.push(Reverse((c.expires, c.seq, idx)));
        }
    }

    /// The earliest queued deadline (possibly a stale one, which is harmless).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _, _))| Instant::from_nanos(*t))
    }

    /// The next entry whose timer has fired by `now`, and when it fired.
    pub fn pop_due(&mut self, now: Instant) -> Option<(u32, Instant)> {
        while let Some(&Reverse((t, seq, idx))) = self.heap.peek() {
            if t > now.nanos() {
                return None;
            }
            self.heap.pop();
            let c = &mut self.slab[idx as usize];
            if !c.has(cf::LIVE) || c.seq != seq || c.queued != t {
                continue;
            }
            if c.expires > t {
                c.queued = c.expires;
                self.heap.push(Reverse((c.expires, seq, idx)));
                continue;
            }
            c.queued = u64::MAX;
            return Some((idx, Instant::from_nanos(t)));
        }
        None
    }

    /// Live entries in creation order (the documented `-Lnc` order).
    pub fn live_in_order(&self) -> Vec<u32> {
        let mut v: Vec<u32> = (0..self.slab.len() as u32).filter(|&i| self.slab[i as usize].has(cf::LIVE)).collect();
        let base = self.next_seq;
        // Oldest first, robust to the creation counter wrapping.
        v.sort_by_key(|&i| self.slab[i as usize].seq.wrapping_sub(base));
        v
    }

    /// Bytes held per live entry, amortised over the slab, map and heap.
    pub fn bytes_per_entry(&self) -> f64 {
        let slab = self.slab.capacity() * std::mem::size_of::<Conn>() + self.free.capacity() * 4;
        let map = self.map.capacity() * (std::mem::size_of::<(Key, u32)>() + 1);
        let heap = self.heap.capacity() * std::mem::size_of::<Reverse<(u64, u32, u32)>>();
        (slab + map + heap) as f64 / self.count.max(1) as f64
    }
}

/// What a new entry needs (`struct ip_vs_conn_param` plus the dest side).
pub(crate) struct ConnParam {
    pub proto: u8,
    pub caddr: u32,
    pub cport: u16,
    pub vaddr: u32,
    pub vport: u16,
    pub daddr: u32,
    pub dport: u16,
    pub flags: u16,
}

impl Ipvs {
    /// `ip_vs_conn_new`: state NONE, timeout 3 s, bound to `dest` (which ORs in its
    /// method, INACTIVE and NOOUTPUT and bumps its counters), hashed.
    pub(crate) fn conn_new(&mut self, p: ConnParam, dest: u32, now: Instant) -> u32 {
        let mut flags = p.flags;
        if self.sysctl.conntrack != 0 {
            flags |= cf::NFCT;
        }
        let mut c = Conn {
            expires: now.nanos(),
            queued: u64::MAX,
            caddr: p.caddr,
            vaddr: p.vaddr,
            daddr: p.daddr,
            laddr: 0,
            dest: NONE,
            control: NONE,
            n_control: 0,
            timeout_ms: 3000,
            seq: 0,
            cport: p.cport,
            vport: p.vport,
            dport: p.dport,
            lport: 0,
            flags,
            proto: p.proto,
            state: super::proto_tcp::S_NONE,
        };
        if dest != NONE {
            self.bind_dest(&mut c, dest);
        }
        self.conns.insert(c)
    }

    /// `ip_vs_bind_dest`: take the dest's forwarding flags and count the entry.
    fn bind_dest(&mut self, c: &mut Conn, dest: u32) {
        let d: &mut Dest = &mut self.dests[dest as usize];
        let mut conn_flags = d.fwd.code() | cf::INACTIVE;
        if !d.fwd.sees_replies() {
            conn_flags |= cf::NOOUTPUT;
        }
        c.flags |= conn_flags;
        c.dest = dest;
        d.refcnt += 1;
        if c.is_template() {
            d.persistconns += 1;
        } else if c.has(cf::INACTIVE) {
            d.inactconns += 1;
        } else {
            d.activeconns += 1;
        }
        d.check_overload_on_bind();
        self.sched_dest_changed(dest);
    }

    /// `ip_vs_unbind_dest`: uncount the entry and maybe clear OVERLOAD.
    fn unbind_dest(&mut self, idx: u32) {
        let c = self.conns.conn(idx);
        let (dest, template, inactive) = (c.dest, c.is_template(), c.has(cf::INACTIVE));
        if dest == NONE {
            return;
        }
        let d = &mut self.dests[dest as usize];
        if template {
            d.persistconns -= 1;
        } else if inactive {
            d.inactconns -= 1;
        } else {
            d.activeconns -= 1;
        }
        d.refcnt -= 1;
        d.check_overload_on_unbind();
        self.sched_dest_changed(dest);
    }

    /// Tells the scheduler of dest `d`'s service that its counters or flags changed.
    pub(crate) fn sched_dest_changed(&mut self, d: u32) {
        let svc = &mut self.services[self.dests[d as usize].svc as usize];
        let list = super::sched::DestList { order: &svc.dests, all: &self.dests };
        svc.sched.dest_changed(&list, d);
    }

    /// `ip_vs_control_add`: `cp` is controlled by template `ct`.
    pub(crate) fn control_add(&mut self, cp: u32, ct: u32) {
        self.conns.conn_mut(cp).control = ct;
        self.conns.conn_mut(ct).n_control += 1;
    }

    /// `ip_vs_control_assure_ct`: a controlled connection got established/answered.
    pub(crate) fn assure_template(&mut self, cp: u32) {
        let ct = self.conns.conn(cp).control;
        if ct != NONE {
            let t = self.conns.conn_mut(ct);
            if t.is_template() {
                t.state |= CTPL_S_ASSURED;
            }
        }
    }

    /// `ip_vs_conn_expire`: a fired timer. An entry that still controls others is
    /// re-armed for 60 s and its timeout left at 60 s ("expire later", §3.3);
    /// otherwise it is unlinked, uncounted and freed. With `drop_control` (the
    /// `timeout = 0` of `ip_vs_conn_del`), a template left controlling nothing that
    /// was never assured goes too.
    pub(crate) fn conn_expire(&mut self, idx: u32, now: Instant, drop_control: bool) -> Expired {
        let c = self.conns.conn(idx);
        if c.n_control > 0 {
            self.conns.conn_mut(idx).timeout_ms = 60_000;
            self.conns.arm(idx, now);
            return Expired::Later;
        }
        let ct = c.control;
        self.conns.unhash(idx);
        if ct != NONE {
            let t = self.conns.conn_mut(ct);
            t.n_control -= 1;
            let drop_ct = drop_control && t.n_control == 0 && (!t.is_template() || t.state & CTPL_S_ASSURED == 0);
            if drop_ct {
                self.conn_expire(ct, now, false);
            }
        }
        self.unbind_dest(idx);
        self.conns.free(idx);
        Expired::Gone
    }

    /// `ip_vs_conn_del`: expire now, taking an unused non-assured template along.
    pub(crate) fn conn_del(&mut self, idx: u32, now: Instant) {
        self.conn_expire(idx, now, true);
    }

    /// `ip_vs_expire_nodest_conn_flush`: with `expire_nodest_conn`, deleting a dest
    /// deletes the connections bound to dests that are no longer available, and a
    /// template left with nothing to control. (The kernel does it from a work queue
    /// moments later; here it happens at once.)
    pub(crate) fn expire_nodest_conn_flush(&mut self, now: Instant) {
        for idx in self.conns.live_in_order() {
            let c = self.conns.conn(idx);
            if !c.has(cf::LIVE) || c.dest == NONE || self.dests[c.dest as usize].available() || c.n_control > 0 {
                continue;
            }
            let ct = c.control;
            self.conn_del(idx, now);
            if ct != NONE {
                let t = self.conns.conn(ct);
                if t.has(cf::LIVE) && t.n_control == 0 {
                    self.conn_del(ct, now);
                }
            }
        }
    }

    /// `ip_vs_check_template`: a template whose dest is gone, deleted, or (with
    /// `expire_quiescent_template`) quiesced is invalidated: rehashed with
    /// `cport = 0, vport = dport = 0xffff` so it never matches again, its timer
    /// left running. Returns whether the template may be used.
    pub(crate) fn check_template(&mut self, ct: u32) -> bool {
        let c = self.conns.conn(ct);
        let ok = c.dest != NONE && {
            let d = &self.dests[c.dest as usize];
            d.available() && !(self.sysctl.expire_quiescent_template != 0 && d.weight == 0)
        };
        if !ok && c.vport != 0xffff {
            self.conns.unhash(ct);
            let c = self.conns.conn_mut(ct);
            c.dport = 0xffff;
            c.vport = 0xffff;
            c.cport = 0;
            self.conns.rehash(ct);
        }
        ok
    }

    /// `ip_vs_conn_in_get`: client → virtual.
    #[inline]
    pub(crate) fn conn_in_get(&self, proto: u8, caddr: u32, cport: u16, vaddr: u32, vport: u16) -> Option<u32> {
        self.conns.get(&Key::new(KeyKind::In, proto, caddr, cport, vaddr, vport))
    }

    /// `ip_vs_conn_out_get`: a reply `saddr:sport → daddr:dport`. NAT entries match
    /// on the real server, others on the virtual address (§3.1); FULLNAT entries on
    /// the local address the reply is sent to.
    #[inline]
    pub(crate) fn conn_out_get(&self, proto: u8, saddr: u32, sport: u16, daddr: u32, dport: u16) -> Option<u32> {
        if self.conns.has_out_keys()
            && let Some(i) = self.conns.get(&Key::new(KeyKind::Out, proto, daddr, dport, saddr, sport))
        {
            return Some(i);
        }
        let key = Key::new(KeyKind::In, proto, daddr, dport, saddr, sport);
        if !self.conns.may_have_vaddr(saddr) {
            debug_assert_eq!(self.conns.get(&key), None, "in_vaddrs missed an entry");
            return None;
        }
        self.conns.get(&key).filter(|&i| !self.conns.conn(i).fwd().sees_replies())
    }

    /// `ip_vs_ct_in_get`: the template for `<proto, snet, 0, vaddr, vport>`.
    pub(crate) fn ct_in_get(&self, proto: u8, snet: u32, vaddr: u32, vport: u16) -> Option<u32> {
        self.conns.get(&Key::new(KeyKind::Template, proto, snet, 0, vaddr, vport))
    }
}

/// What became of an entry whose timer fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    Gone,
    Later,
}

/// `a.b.c.d` from a host-order u32.
pub(crate) fn ip(a: u32) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_64_bytes() {
        assert_eq!(std::mem::size_of::<Conn>(), 64);
    }

    fn conn(seq_hint: u16, timeout_ms: u32) -> Conn {
        Conn {
            expires: 0,
            queued: u64::MAX,
            caddr: 1,
            vaddr: 2,
            daddr: 3,
            laddr: 0,
            dest: NONE,
            control: NONE,
            n_control: 0,
            timeout_ms,
            seq: 0,
            cport: seq_hint,
            vport: 80,
            dport: 80,
            lport: 0,
            flags: Fwd::Route.code(),
            proto: 6,
            state: 0,
        }
    }

    #[test]
    fn timers_follow_refreshes_and_shrinks() {
        let mut t = ConnTable::default();
        let a = t.insert(conn(1, 10_000));
        let b = t.insert(conn(2, 5_000));
        t.arm(a, Instant::ZERO);
        t.arm(b, Instant::ZERO);
        // Refresh a at 4 s: now due at 14 s. Shrink b at 1 s to 1 s: due at 2 s.
        t.arm(a, Instant::from_secs(4));
        t.conn_mut(b).timeout_ms = 1000;
        t.arm(b, Instant::from_secs(1));
        assert_eq!(t.pop_due(Instant::from_secs(1)), None);
        assert_eq!(t.pop_due(Instant::from_secs(2)), Some((b, Instant::from_secs(2))));
        t.unhash(b);
        t.free(b);
        assert_eq!(t.pop_due(Instant::from_secs(13)), None, "a was refreshed at 4 s");
        assert_eq!(t.pop_due(Instant::from_secs(14)), Some((a, Instant::from_secs(14))));
        assert_eq!(t.pop_due(Instant::from_secs(100)), None);
    }

    #[test]
    fn slots_are_reused_and_stale_timers_ignored() {
        let mut t = ConnTable::default();
        let a = t.insert(conn(1, 1000));
        t.arm(a, Instant::ZERO);
        t.unhash(a);
        t.free(a);
        let b = t.insert(conn(2, 5000));
        assert_eq!(a, b);
        t.arm(b, Instant::ZERO);
        assert_eq!(t.pop_due(Instant::from_secs(1)), None, "the old entry's timer is stale");
        assert_eq!(t.pop_due(Instant::from_secs(5)), Some((b, Instant::from_secs(5))));
        assert_eq!(t.live_in_order(), vec![b]);
    }
}
