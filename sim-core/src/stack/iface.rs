//! Network interfaces and their IPv4 addresses (net/ipv4/devinet.c).

use crate::node::PortId;
use crate::wire::MacAddr;
use std::net::Ipv4Addr;

/// Kernel interface index.
pub type IfIndex = u32;

/// Route/address scope (`rtm_scope`), ordered as the kernel compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Global = 0,
    Link = 253,
    Host = 254,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Link => "link",
            Scope::Host => "host",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfKind {
    Loopback,
    Ether,
    /// `tunl0`, created when the `ipip` module loads: decapsulates IPIP.
    Ipip,
}

/// An IPv4 address on an interface (`struct in_ifaddr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
    /// `eth0` or an alias label such as `eth0:1`.
    pub label: String,
    pub scope: Scope,
    pub broadcast: Option<Ipv4Addr>,
    /// IFA_F_SECONDARY: another address of the same subnet came first.
    pub secondary: bool,
}

impl IfAddr {
    pub fn mask(&self) -> u32 {
        mask(self.prefix)
    }
    /// `inet_ifa_match`: `a` is inside this address's subnet.
    pub fn matches(&self, a: Ipv4Addr) -> bool {
        (u32::from(a) ^ u32::from(self.addr)) & self.mask() == 0
    }
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }
}

/// The netmask of a prefix length.
pub fn mask(prefix: u8) -> u32 {
    // Shifted in 64 bits so /0 needs no branch (its mask is the zero low half).
    (u64::MAX << (32 - u32::from(prefix.min(32)))) as u32
}

/// A network device.
#[derive(Debug, Clone)]
pub struct Iface {
    pub index: IfIndex,
    pub name: String,
    pub kind: IfKind,
    pub mac: MacAddr,
    pub mtu: u32,
    /// IFF_UP (administrative state).
    pub up: bool,
    /// Carrier (cable plugged, peer up).
    pub carrier: bool,
    /// IFF_NOARP (`ip link set dev X arp off`, and tunnels).
    pub noarp: bool,
    pub addrs: Vec<IfAddr>,
    /// The node port this device transmits on (`None` for lo and tunnels).
    pub port: Option<PortId>,
    /// A macvlan (keepalived's `use_vmac`) riding on another device's port.
    pub vmac_of: Option<PortId>,
    /// Its `conf/<dev>` sysctls' slot ([`crate::stack::conf::Sysctls::add_dev`]).
    pub conf: usize,
}

/// Why an address operation failed, in iproute2's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrError {
    /// EEXIST: the same address and mask are already there.
    Exists,
    /// EADDRNOTAVAIL on delete.
    NotFound,
    /// EINVAL: same subnet with a different scope.
    Invalid,
}

impl std::fmt::Display for AddrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddrError::Exists => "RTNETLINK answers: File exists",
            AddrError::NotFound => "RTNETLINK answers: Cannot assign requested address",
            AddrError::Invalid => "RTNETLINK answers: Invalid argument",
        })
    }
}

impl Iface {
    pub fn new(index: IfIndex, name: &str, kind: IfKind, mac: MacAddr, port: Option<PortId>) -> Self {
        let (mtu, noarp) = match kind {
            IfKind::Loopback => (65536, true),
            IfKind::Ether => (1500, false),
            IfKind::Ipip => (1480, true),
        };
        Iface {
            index,
            name: name.to_string(),
            kind,
            mac,
            mtu,
            up: kind != IfKind::Ipip,
            carrier: true,
            noarp,
            addrs: Vec::new(),
            port,
            vmac_of: None,
            conf: usize::MAX,
        }
    }

    /// The port frames from this device leave by (its own, or its base device's).
    pub fn tx_port(&self) -> Option<PortId> {
        self.port.or(self.vmac_of)
    }

    /// Usable for traffic: administratively up with carrier.
    pub fn running(&self) -> bool {
        self.up && self.carrier
    }

    /// `__inet_insert_ifa`: an address of a subnet that already has a primary
    /// address becomes secondary; the same address and mask twice is EEXIST;
    /// addresses on lo in 127/8 get scope host (`inet_set_ifa`).
    pub fn add_addr(&mut self, mut a: IfAddr) -> Result<(), AddrError> {
        if a.addr.is_loopback() {
            a.scope = Scope::Host;
        }
        for b in &self.addrs {
            if b.prefix == a.prefix && b.matches(a.addr) {
                if b.addr == a.addr {
                    return Err(AddrError::Exists);
                }
                if b.scope != a.scope {
                    return Err(AddrError::Invalid);
                }
                a.secondary = true;
            }
        }
        if a.secondary {
            self.addrs.push(a);
        } else {
            let at = self.addrs.iter().position(|b| b.secondary).unwrap_or(self.addrs.len());
            self.addrs.insert(at, a);
        }
        Ok(())
    }

    /// `inet_del_ifa` with `promote_secondaries` = 0: deleting a primary address
    /// deletes the secondaries of its subnet too. `prefix` None matches any.
    pub fn del_addr(&mut self, addr: Ipv4Addr, prefix: Option<u8>) -> Result<Vec<IfAddr>, AddrError> {
        let i = self
            .addrs
            .iter()
            .position(|b| b.addr == addr && prefix.is_none_or(|p| p == b.prefix))
            .ok_or(AddrError::NotFound)?;
        let gone = self.addrs.remove(i);
        let mut removed = vec![gone.clone()];
        if !gone.secondary {
            let (keep, drop): (Vec<IfAddr>, Vec<IfAddr>) =
                self.addrs.drain(..).partition(|b| !(b.secondary && b.prefix == gone.prefix && gone.matches(b.addr)));
            self.addrs = keep;
            removed.extend(drop);
        }
        Ok(removed)
    }

    /// The primary address of this device in `dst`'s subnet, else the first
    /// primary with scope ≤ `scope` (`inet_select_addr`'s per-device part).
    pub fn select_addr(&self, dst: Option<Ipv4Addr>, scope: Scope) -> Option<Ipv4Addr> {
        let mut any = None;
        for a in self.addrs.iter().filter(|a| !a.secondary && a.scope <= scope) {
            if dst.is_none_or(|d| a.matches(d)) {
                return Some(a.addr);
            }
            any = any.or(Some(a.addr));
        }
        any
    }

    pub fn has_addr(&self, a: Ipv4Addr) -> bool {
        self.addrs.iter().any(|b| b.addr == a)
    }

    /// `a` is this device's broadcast address, a subnet broadcast, or 255.255.255.255.
    pub fn is_broadcast(&self, a: Ipv4Addr) -> bool {
        a.is_broadcast()
            || self
                .addrs
                .iter()
                .any(|b| b.broadcast == Some(a) || (b.prefix < 31 && u32::from(a) == u32::from(b.addr) | !b.mask()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(a: [u8; 4], prefix: u8, label: &str) -> IfAddr {
        IfAddr { addr: a.into(), prefix, label: label.into(), scope: Scope::Global, broadcast: None, secondary: false }
    }

    #[test]
    fn secondaries_and_deletion() {
        let mut i = Iface::new(2, "eth0", IfKind::Ether, MacAddr::local(1), Some(0));
        i.add_addr(addr([10, 0, 0, 5], 24, "eth0")).unwrap();
        i.add_addr(addr([10, 0, 0, 100], 24, "eth0:1")).unwrap();
        i.add_addr(addr([10, 0, 0, 200], 32, "eth0:2")).unwrap();
        assert!(i.addrs.iter().find(|a| a.addr == Ipv4Addr::new(10, 0, 0, 100)).unwrap().secondary);
        assert!(
            !i.addrs.iter().find(|a| a.addr == Ipv4Addr::new(10, 0, 0, 200)).unwrap().secondary,
            "a /32 is its own subnet"
        );
        assert_eq!(i.add_addr(addr([10, 0, 0, 5], 24, "eth0")), Err(AddrError::Exists));
        assert_eq!(i.select_addr(Some(Ipv4Addr::new(10, 0, 0, 9)), Scope::Link), Some(Ipv4Addr::new(10, 0, 0, 5)));
        let removed = i.del_addr(Ipv4Addr::new(10, 0, 0, 5), Some(24)).unwrap();
        assert_eq!(removed.len(), 2, "the primary takes its secondary with it");
        assert_eq!(i.addrs.len(), 1);
        assert_eq!(i.del_addr(Ipv4Addr::new(1, 2, 3, 4), None), Err(AddrError::NotFound));
    }

    #[test]
    fn loopback_addresses_get_host_scope() {
        let mut lo = Iface::new(1, "lo", IfKind::Loopback, MacAddr::ZERO, None);
        lo.add_addr(addr([127, 0, 0, 1], 8, "lo")).unwrap();
        lo.add_addr(addr([10, 15, 144, 120], 32, "lo:0")).unwrap();
        assert_eq!(lo.addrs[0].scope, Scope::Host);
        assert_eq!(lo.addrs[1].scope, Scope::Global, "a VIP on lo keeps scope global");
    }
}
