//! An L2 segment as a learning switch (IEEE 802.1D transparent bridging): learn
//! source MACs per port, forward known unicast, flood unknown unicast, broadcast
//! and multicast, and forget entries idle longer than the ageing time (300 s).

use crate::time::{Duration, Instant};
use crate::wire::MacAddr;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A fixed multiply-shift hasher for MAC keys. The table is only ever looked up
/// or pruned, never iterated into output, so its order cannot leak.
#[derive(Default)]
struct MacHasher(u64);

impl Hasher for MacHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    /// The length prefix the `[u8; 6]` key writes first is always 6: skipped.
    fn write_usize(&mut self, _: usize) {}
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16
    }
}

/// Where a frame goes after the switch has looked at it.
#[derive(Debug, PartialEq, Eq)]
pub enum Forward {
    /// To one port.
    Port(usize),
    /// To every port but the ingress one.
    Flood,
    /// Destination is on the ingress port: filtered.
    Filter,
}

pub struct Switch {
    pub name: String,
    pub ageing: Duration,
    table: HashMap<MacAddr, (usize, Instant), BuildHasherDefault<MacHasher>>,
}

impl Switch {
    /// 802.1D's default ageing time is 300 s (also Linux bridge `ageing_time`).
    pub const DEFAULT_AGEING: Duration = Duration::from_secs(300);

    pub fn new(name: impl Into<String>, ageing: Duration) -> Self {
        Switch { name: name.into(), ageing, table: HashMap::default() }
    }

    /// Learns from and decides on a frame that entered on `port`.
    pub fn handle(&mut self, now: Instant, port: usize, src: MacAddr, dst: MacAddr) -> Forward {
        if !src.is_multicast() {
            match self.table.get_mut(&src) {
                Some(e) => *e = (port, now),
                None => {
                    self.table.insert(src, (port, now));
                }
            }
        }
        if dst.is_multicast() {
            return Forward::Flood;
        }
        match self.table.get(&dst) {
            Some(&(p, seen)) if now.since(seen) <= self.ageing => {
                if p == port {
                    Forward::Filter
                } else {
                    Forward::Port(p)
                }
            }
            _ => Forward::Flood,
        }
    }

    /// Forgets what was learned on `port` (its link went down).
    pub fn flush_port(&mut self, port: usize) {
        self.table.retain(|_, (p, _)| *p != port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_floods_and_ages() {
        let mut s = Switch::new("lan", Duration::from_secs(300));
        let (a, b) = (MacAddr::local(1), MacAddr::local(2));
        let t0 = Instant::ZERO;
        assert_eq!(s.handle(t0, 0, a, b), Forward::Flood, "b unknown");
        assert_eq!(s.handle(t0, 1, b, a), Forward::Port(0), "a learned on port 0");
        assert_eq!(s.handle(t0, 0, a, b), Forward::Port(1));
        assert_eq!(s.handle(t0, 0, a, MacAddr::BROADCAST), Forward::Flood);
        assert_eq!(s.handle(t0, 1, b, b), Forward::Filter);
        let later = Instant::from_secs(301);
        assert_eq!(s.handle(later, 1, b, a), Forward::Flood, "a aged out");
        s.flush_port(1);
        assert_eq!(s.handle(later, 0, a, b), Forward::Flood);
    }
}
