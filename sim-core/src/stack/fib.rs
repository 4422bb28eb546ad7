//! The FIB: the `local` and `main` tables, longest-prefix match with metrics, the
//! kernel's connected and local routes, and route add/delete checks
//! (net/ipv4/fib_frontend.c, fib_trie.c, fib_semantics.c).

use super::iface::{IfIndex, Scope, mask};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    /// RT_TABLE_LOCAL (255): local and broadcast routes the kernel manages.
    Local,
    /// RT_TABLE_MAIN (254).
    Main,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteType {
    Unicast,
    Local,
    Blackhole,
    Unreachable,
    Prohibit,
}

impl RouteType {
    pub fn name(self) -> &'static str {
        match self {
            RouteType::Unicast => "unicast",
            RouteType::Local => "local",
            RouteType::Blackhole => "blackhole",
            RouteType::Unreachable => "unreachable",
            RouteType::Prohibit => "prohibit",
        }
    }
}

/// Who installed a route (`rtm_protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// RTPROT_KERNEL: connected and local routes from addresses.
    Kernel,
    /// RTPROT_BOOT: `ip route add` / `route add` without `proto`.
    Boot,
    Static,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub table: Table,
    pub rtype: RouteType,
    pub dst: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub dev: Option<IfIndex>,
    /// Preferred source (`src` / `prefsrc`).
    pub src: Option<Ipv4Addr>,
    pub scope: Scope,
    pub metric: u32,
    pub proto: Proto,
    /// `mtu N` route attribute.
    pub mtu: Option<u32>,
}

impl Route {
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        (u32::from(a) ^ u32::from(self.dst)) & mask(self.prefix) == 0
    }
}

/// Why a route operation failed, in iproute2's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    Exists,
    NotFound,
    /// The gateway is not reachable on-link (`fib_check_nh`: "Nexthop has invalid gateway").
    BadGateway,
    NoDevice,
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RouteError::Exists => "RTNETLINK answers: File exists",
            RouteError::NotFound => "RTNETLINK answers: No such process",
            RouteError::BadGateway => "Error: Nexthop has invalid gateway.",
            RouteError::NoDevice => "Cannot find device",
        })
    }
}

/// Both tables of one machine. Small and scanned linearly: lab machines have a
/// handful of routes.
#[derive(Debug, Clone, Default)]
pub struct Fib {
    /// In the order they were added (what `ip route` lists).
    routes: Vec<Route>,
    /// The routes in the order a lookup prefers them, as (network, mask, index):
    /// `local` before `main`, then longest prefix, lowest metric, added first.
    /// Rebuilt on every change, so a lookup takes the first that matches.
    by_pref: Vec<(u32, u32, u32)>,
    /// Counts changes: part of the stack's `rt_genid` (`rt_cache_flush` on every
    /// FIB change, `fib_table_insert`/`fib_table_delete`).
    genid: u64,
}

impl Fib {
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// `fib_lookup`: the `local` table, then `main` (the default rules at 0 and
    /// 32766). In a table the longest prefix wins, then the lowest metric, then
    /// the route added first. `usable` filters out routes on devices that are down.
    pub fn lookup(&self, dst: Ipv4Addr, usable: impl Fn(&Route) -> bool) -> Option<&Route> {
        let a = u32::from(dst);
        self.by_pref
            .iter()
            .filter(|&&(net, m, _)| a & m == net)
            .map(|&(_, _, i)| &self.routes[i as usize])
            .find(|r| usable(r))
    }

    /// How many times the table has changed.
    pub fn genid(&self) -> u64 {
        self.genid
    }

    /// Re-sorts [`Fib::by_pref`] after a change (a stable sort: ties stay in the
    /// order the routes were added).
    fn reindex(&mut self) {
        self.genid += 1;
        self.by_pref.clear();
        self.by_pref.extend(self.routes.iter().enumerate().map(|(i, r)| {
            let m = mask(r.prefix);
            (u32::from(r.dst) & m, m, i as u32)
        }));
        let routes = &self.routes;
        self.by_pref.sort_by_key(|&(_, _, i)| {
            let r = &routes[i as usize];
            (r.table, std::cmp::Reverse(r.prefix), r.metric)
        });
    }

    /// Inserts a route; the same (table, dst/prefix, metric) twice is EEXIST
    /// unless `replace`.
    pub fn add(&mut self, r: Route, replace: bool) -> Result<(), RouteError> {
        if let Some(i) = self
            .routes
            .iter()
            .position(|x| x.table == r.table && x.dst == r.dst && x.prefix == r.prefix && x.metric == r.metric)
        {
            if !replace {
                return Err(RouteError::Exists);
            }
            self.routes[i] = r;
        } else {
            self.routes.push(r);
        }
        self.reindex();
        Ok(())
    }

    /// Deletes the first route matching `pred` (`ip route del` matches on the
    /// attributes given).
    pub fn del(&mut self, pred: impl Fn(&Route) -> bool) -> Result<Route, RouteError> {
        let i = self.routes.iter().position(pred).ok_or(RouteError::NotFound)?;
        let r = self.routes.remove(i);
        self.reindex();
        Ok(r)
    }

    /// Removes every route matching `pred` (device down, address gone).
    pub fn retain(&mut self, pred: impl Fn(&Route) -> bool) {
        self.routes.retain(pred);
        self.reindex();
    }

    /// `fib_add_ifaddr` for each (device, address, prefix, primary): a local route
    /// for the address and, for a primary address with prefix < 32, the connected
    /// subnet route `proto kernel scope link src A`. One re-sort for them all.
    pub fn add_ifaddrs(&mut self, addrs: impl IntoIterator<Item = (IfIndex, Ipv4Addr, u8, bool)>) {
        for (dev, addr, prefix, primary) in addrs {
            self.push_ifaddr(dev, addr, prefix, primary);
        }
        self.reindex();
    }

    fn push_ifaddr(&mut self, dev: IfIndex, addr: Ipv4Addr, prefix: u8, primary: bool) {
        let local = Route {
            table: Table::Local,
            rtype: RouteType::Local,
            dst: addr,
            prefix: 32,
            gateway: None,
            dev: Some(dev),
            src: Some(addr),
            scope: Scope::Host,
            metric: 0,
            proto: Proto::Kernel,
            mtu: None,
        };
        if !self.routes.contains(&local) {
            self.routes.push(local.clone());
        }
        // 127.0.0.0/8 on lo is one local route covering the whole block.
        if addr.is_loopback() && prefix < 32 {
            let net = Ipv4Addr::from(u32::from(addr) & mask(prefix));
            let r = Route { dst: net, prefix, ..local };
            if !self.routes.contains(&r) {
                self.routes.push(r);
            }
            return;
        }
        if primary && prefix < 32 {
            let net = Ipv4Addr::from(u32::from(addr) & mask(prefix));
            let connected = Route {
                table: Table::Main,
                rtype: RouteType::Unicast,
                dst: net,
                prefix,
                gateway: None,
                dev: Some(dev),
                src: Some(addr),
                scope: Scope::Link,
                metric: 0,
                proto: Proto::Kernel,
                mtu: None,
            };
            if !self.routes.iter().any(|r| {
                r.table == Table::Main
                    && r.dst == net
                    && r.prefix == prefix
                    && r.dev == Some(dev)
                    && r.proto == Proto::Kernel
            }) {
                self.routes.push(connected);
            }
        }
    }

    /// `fib_del_ifaddr`: drops the address's local and connected routes.
    pub fn del_ifaddr(&mut self, dev: IfIndex, addr: Ipv4Addr, prefix: u8, still_local: bool) {
        let net = Ipv4Addr::from(u32::from(addr) & mask(prefix));
        self.routes.retain(|r| {
            let is_local = r.table == Table::Local && r.dst == addr && r.dev == Some(dev) && !still_local;
            let is_conn = r.table == Table::Main
                && r.proto == Proto::Kernel
                && r.dev == Some(dev)
                && r.dst == net
                && r.prefix == prefix
                && r.src == Some(addr);
            !(is_local || is_conn)
        });
        self.reindex();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The kernel's rule as written before the index: per table, the longest
    /// prefix, then the lowest metric, then the route added first.
    fn reference(f: &Fib, dst: Ipv4Addr, usable: impl Fn(&Route) -> bool) -> Option<&Route> {
        [Table::Local, Table::Main].into_iter().find_map(|table| {
            f.routes()
                .iter()
                .filter(|r| r.table == table && r.contains(dst) && usable(r))
                .min_by_key(|r| (std::cmp::Reverse(r.prefix), r.metric))
        })
    }

    proptest! {
        /// After any adds, deletes and address changes, the index picks the route
        /// the rule picks (down devices filtered out).
        #[test]
        fn index_lookup_is_the_rule(
            ops in prop::collection::vec((0u8..4, 0u8..4, 0u8..33, 0u32..3, 1u32..4), 1..30),
            dsts in prop::collection::vec(any::<u8>(), 1..20),
            down in 1u32..4,
        ) {
            let mut f = Fib::default();
            for (op, a, prefix, metric, dev) in ops {
                let addr = Ipv4Addr::new(10, 0, a, a.wrapping_mul(61));
                match op {
                    0 => {
                        let mut r = rt(addr.octets(), prefix, None, metric);
                        r.dst = Ipv4Addr::from(u32::from(addr) & mask(prefix));
                        r.dev = Some(dev);
                        let _ = f.add(r, metric == 2);
                    }
                    1 => f.add_ifaddrs([(dev, addr, prefix.max(8), a % 2 == 0)]),
                    2 => f.del_ifaddr(dev, addr, prefix.max(8), false),
                    _ => {
                        let _ = f.del(|r| r.metric == metric && r.dev == Some(dev));
                    }
                }
            }
            let usable = |r: &Route| r.dev != Some(down);
            for d in dsts {
                let dst = Ipv4Addr::new(10, 0, d % 4, d);
                prop_assert_eq!(f.lookup(dst, usable), reference(&f, dst, usable));
            }
        }
    }

    fn rt(dst: [u8; 4], prefix: u8, gw: Option<[u8; 4]>, metric: u32) -> Route {
        Route {
            table: Table::Main,
            rtype: RouteType::Unicast,
            dst: dst.into(),
            prefix,
            gateway: gw.map(Into::into),
            dev: Some(2),
            src: None,
            scope: if gw.is_some() { Scope::Global } else { Scope::Link },
            metric,
            proto: Proto::Boot,
            mtu: None,
        }
    }

    #[test]
    fn longest_prefix_then_metric_and_local_first() {
        let mut f = Fib::default();
        f.add_ifaddrs([(2, Ipv4Addr::new(10, 0, 0, 5), 24, true)]);
        f.add(rt([0, 0, 0, 0], 0, Some([10, 0, 0, 1]), 100), false).unwrap();
        f.add(rt([0, 0, 0, 0], 0, Some([10, 0, 0, 2]), 10), false).unwrap();
        f.add(rt([10, 0, 0, 128], 25, Some([10, 0, 0, 3]), 0), false).unwrap();
        let any = |_: &Route| true;
        assert_eq!(f.lookup(Ipv4Addr::new(8, 8, 8, 8), any).unwrap().gateway, Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(f.lookup(Ipv4Addr::new(10, 0, 0, 200), any).unwrap().prefix, 25);
        assert_eq!(f.lookup(Ipv4Addr::new(10, 0, 0, 9), any).unwrap().scope, Scope::Link);
        assert_eq!(f.lookup(Ipv4Addr::new(10, 0, 0, 5), any).unwrap().rtype, RouteType::Local);
        assert_eq!(f.add(rt([0, 0, 0, 0], 0, Some([10, 0, 0, 9]), 10), false), Err(RouteError::Exists));
        f.del_ifaddr(2, Ipv4Addr::new(10, 0, 0, 5), 24, false);
        assert_ne!(f.lookup(Ipv4Addr::new(10, 0, 0, 9), any).unwrap().scope, Scope::Link);
    }
}
