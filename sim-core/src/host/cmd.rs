//! Applying the shell's typed commands to a machine: what `ip`, `ifconfig`,
//! `route`, `arp`, `sysctl`, `arping`, `iptables`, `modprobe` and the service
//! commands do to the kernel model, with the tools' own error messages.

use super::Machine;
use super::show;
use crate::node::{CmdError, Outbox};
use crate::shell::arping::{Arping, ArpingMode};
use crate::shell::ifconfig::{Ifconfig, IfconfigOp};
use crate::shell::ip::{self, AddrCmd, IpCmd, LinkChange, LinkCmd, NeighCmd, RouteCmd};
use crate::shell::route::Route as NetRoute;
use crate::shell::sysctl::{Sysctl, SysctlItem, SysctlOp};
use crate::shell::{Arp as ArpCmd, Command, ServiceAction};
use crate::stack::fib::{Proto, Route, RouteType, Table};
use crate::stack::iface::{IfAddr, IfKind, Scope, mask};
use crate::stack::neigh::Nud;
use crate::time::{Duration, Instant};
use crate::wire::MacAddr;
use crate::wire::arp::{ARP_REPLY, ARP_REQUEST, Arp};
use std::net::Ipv4Addr;

fn rtnl(msg: impl std::fmt::Display) -> CmdError {
    CmdError::with_status(msg.to_string(), 2)
}

fn no_dev(name: &str) -> CmdError {
    CmdError::with_status(format!("Cannot find device \"{name}\""), 1)
}

/// `inet_abc_len`: the classful prefix `ifconfig` gives an address without `netmask`.
pub fn classful_prefix(a: Ipv4Addr) -> u8 {
    let o = a.octets()[0];
    match o {
        0..=127 => 8,
        128..=191 => 16,
        192..=223 => 24,
        _ => 32,
    }
}

fn scope_of(s: Option<ip::Scope>) -> Scope {
    match s {
        Some(ip::Scope::Host) => Scope::Host,
        Some(ip::Scope::Link) => Scope::Link,
        _ => Scope::Global,
    }
}

fn broadcast_of(a: Ipv4Addr, prefix: u8) -> Option<Ipv4Addr> {
    (prefix < 31).then(|| Ipv4Addr::from(u32::from(a) | !mask(prefix)))
}

impl Machine {
    /// Applies one command; `out` receives any frames it sends.
    pub(super) fn apply(&mut self, now: Instant, cmd: &Command, out: &mut Outbox) -> Result<String, CmdError> {
        match cmd {
            Command::Ip(i) => self.ip(now, &i.cmd, i.opts.json, out),
            Command::Ifconfig(c) => self.ifconfig(c),
            Command::Route(r) => self.net_route(r),
            Command::Arp(a) => self.arp_cmd(now, a, out),
            Command::Sysctl(s) => self.sysctl(s),
            Command::Arping(a) => self.arping(now, a, out),
            Command::Iptables(t) => self.stack.nf.apply(t),
            Command::Modprobe { module, remove } => self.modprobe(module, *remove),
            Command::Sleep(_) => Ok(String::new()),
            Command::Sockets(f) => Ok(show::sockets(&self.stack, f)),
            Command::Service { name, action } => self.service(now, name, *action, out),
            Command::Ipvsadm(argv) => self.ipvsadm(now, argv, out),
            Command::Keepalived(argv) => self.keepalived_cmd(now, argv, out),
        }
    }

    fn dev(&self, name: &str) -> Result<usize, CmdError> {
        self.stack.dev_by_name(name).ok_or_else(|| no_dev(name))
    }

    fn ip(&mut self, now: Instant, cmd: &IpCmd, json: bool, out: &mut Outbox) -> Result<String, CmdError> {
        match cmd {
            IpCmd::Addr(a) => self.ip_addr(a),
            IpCmd::Link(l) => self.ip_link(l),
            IpCmd::Route(r) => self.ip_route(r),
            IpCmd::Neigh(n) => self.ip_neigh(now, n, json, out),
        }
    }

    fn ip_addr(&mut self, a: &AddrCmd) -> Result<String, CmdError> {
        match a {
            AddrCmd::Modify { mode, addr } => {
                let d = self.dev(&addr.dev)?;
                let label = addr.label.clone().unwrap_or_else(|| self.stack.ifaces[d].name.clone());
                if !label.starts_with(&self.stack.ifaces[d].name) {
                    return Err(rtnl(
                        "\"dev\" (or \"label\") must match \"label\"; label must start with the device name",
                    ));
                }
                let broadcast = match addr.broadcast {
                    Some(ip::Broadcast::Addr(b)) => Some(b),
                    Some(ip::Broadcast::Plus) => broadcast_of(addr.local, addr.prefix_len),
                    _ => None,
                };
                let ifa = IfAddr {
                    addr: addr.local,
                    prefix: addr.prefix_len,
                    label,
                    scope: scope_of(addr.scope),
                    broadcast,
                    secondary: false,
                };
                let replace = !matches!(mode, ip::Modify::Add);
                if replace {
                    let _ = self.stack.del_addr(d, addr.local, Some(addr.prefix_len));
                }
                self.stack.add_addr(d, ifa).map_err(rtnl)?;
                Ok(String::new())
            }
            AddrCmd::Del(del) => {
                let d = self.dev(&del.dev)?;
                self.stack.del_addr(d, del.local, del.prefix_len).map_err(rtnl)?;
                Ok(String::new())
            }
            AddrCmd::Flush(f) => {
                let targets: Vec<(usize, Ipv4Addr, u8)> = self
                    .stack
                    .ifaces
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| f.dev.as_ref().is_none_or(|d| d.split(':').next() == Some(i.name.as_str())))
                    .flat_map(|(p, i)| {
                        i.addrs
                            .iter()
                            .filter(|a| f.label.as_ref().is_none_or(|l| &a.label == l))
                            .filter(|a| f.to.is_none_or(|(n, l)| (u32::from(a.addr) ^ u32::from(n)) & mask(l) == 0))
                            .map(move |a| (p, a.addr, a.prefix))
                    })
                    .collect();
                for (d, a, p) in targets {
                    let _ = self.stack.del_addr(d, a, Some(p));
                }
                Ok(String::new())
            }
            AddrCmd::Show(f) => Ok(show::ip_addr(&self.stack, f.dev.as_deref())),
        }
    }

    fn ip_link(&mut self, l: &LinkCmd) -> Result<String, CmdError> {
        match l {
            LinkCmd::Set { dev, changes } => {
                let d = self.dev(dev)?;
                for c in changes {
                    match c {
                        LinkChange::Up => {
                            self.stack.set_link(d, true);
                            self.link_changed(d, true);
                        }
                        LinkChange::Down => {
                            self.stack.set_link(d, false);
                            self.link_changed(d, false);
                        }
                        LinkChange::Mtu(m) => self.stack.set_mtu(d, *m),
                        LinkChange::Address(mac) => self.stack.ifaces[d].mac = *mac,
                        LinkChange::Arp(on) => self.stack.ifaces[d].noarp = !on,
                        LinkChange::Promisc(_) | LinkChange::Multicast(_) | LinkChange::Allmulticast(_) => {}
                    }
                }
                Ok(String::new())
            }
            LinkCmd::Show { dev, up } => {
                if let Some(d) = dev {
                    self.dev(d)?;
                }
                Ok(show::ip_link(&self.stack, dev.as_deref(), *up))
            }
        }
    }

    /// `fib_check_nh`: a gateway must be reachable through a connected route.
    fn gateway_dev(&self, gw: Ipv4Addr, dev: Option<usize>) -> Result<usize, CmdError> {
        let r = self
            .stack
            .fib
            .routes()
            .iter()
            .filter(|r| {
                r.table == Table::Main && r.gateway.is_none() && r.rtype == RouteType::Unicast && r.contains(gw)
            })
            .filter(|r| dev.is_none_or(|d| r.dev == Some(self.stack.ifaces[d].index)))
            .max_by_key(|r| r.prefix)
            .and_then(|r| r.dev)
            .and_then(|i| self.stack.dev_pos(i));
        r.ok_or_else(|| rtnl("Error: Nexthop has invalid gateway."))
    }

    fn ip_route(&mut self, r: &RouteCmd) -> Result<String, CmdError> {
        match r {
            RouteCmd::Modify { mode, route } => {
                let kind = match route.kind {
                    Some(ip::RouteType::Local) => RouteType::Local,
                    Some(ip::RouteType::Blackhole) => RouteType::Blackhole,
                    Some(ip::RouteType::Unreachable) => RouteType::Unreachable,
                    Some(ip::RouteType::Prohibit) => RouteType::Prohibit,
                    _ => RouteType::Unicast,
                };
                let given = route.dev.as_deref().map(|d| self.dev(d)).transpose()?;
                let dev = match (route.via, given) {
                    (Some(gw), d) if !route.onlink => Some(self.gateway_dev(gw, d)?),
                    (_, d) => d,
                };
                if kind == RouteType::Unicast && dev.is_none() {
                    return Err(rtnl("Error: Device for nexthop is not up."));
                }
                if let Some(src) = route.src
                    && !self.stack.is_local(src)
                {
                    return Err(rtnl("Error: Invalid prefsrc address."));
                }
                let scope = match route.scope {
                    Some(s) => scope_of(Some(s)),
                    None if kind == RouteType::Local => Scope::Host,
                    None if route.via.is_none() && kind == RouteType::Unicast => Scope::Link,
                    None => Scope::Global,
                };
                let rt = Route {
                    table: if matches!(route.table, Some(ip::Table::Local)) { Table::Local } else { Table::Main },
                    rtype: kind,
                    dst: route.dst,
                    prefix: route.prefix_len,
                    gateway: route.via,
                    dev: dev.map(|d| self.stack.ifaces[d].index),
                    src: route.src,
                    scope,
                    metric: route.metric.unwrap_or(0),
                    proto: if route.protocol == Some(2) { Proto::Kernel } else { Proto::Boot },
                    mtu: route.mtu,
                };
                self.stack.fib.add(rt, !matches!(mode, ip::Modify::Add)).map_err(rtnl)?;
                Ok(String::new())
            }
            RouteCmd::Del(spec) => {
                let dev = spec.dev.as_deref().map(|d| self.dev(d)).transpose()?.map(|d| self.stack.ifaces[d].index);
                let table = if matches!(spec.table, Some(ip::Table::Local)) { Table::Local } else { Table::Main };
                self.stack
                    .fib
                    .del(|r| {
                        r.table == table
                            && r.dst == spec.dst
                            && r.prefix == spec.prefix_len
                            && spec.via.is_none_or(|g| r.gateway == Some(g))
                            && dev.is_none_or(|d| r.dev == Some(d))
                            && spec.metric.is_none_or(|m| r.metric == m)
                    })
                    .map_err(rtnl)?;
                Ok(String::new())
            }
            RouteCmd::Show(f) => Ok(show::ip_route(&self.stack, f)),
            RouteCmd::Flush(f) => {
                let dev = f.dev.as_deref().map(|d| self.dev(d)).transpose()?.map(|d| self.stack.ifaces[d].index);
                self.stack.fib.retain(|r| {
                    !(r.table == Table::Main
                        && dev.is_none_or(|d| r.dev == Some(d))
                        && f.to.is_none_or(|(n, l)| r.dst == n && r.prefix == l))
                });
                Ok(String::new())
            }
            RouteCmd::FlushCache => Ok(String::new()),
            RouteCmd::Get { dst, .. } => {
                show::ip_route_get(&self.stack, *dst).ok_or_else(|| rtnl("RTNETLINK answers: Network is unreachable"))
            }
        }
    }

    fn ip_neigh(&mut self, now: Instant, n: &NeighCmd, json: bool, out: &mut Outbox) -> Result<String, CmdError> {
        match n {
            NeighCmd::Modify { mode, entry } => {
                let d = self.dev(&entry.dev)?;
                let idx = self.stack.ifaces[d].index;
                if matches!(mode, ip::Modify::Add) && self.stack.neigh.get(idx, entry.dst).is_some() {
                    return Err(rtnl("RTNETLINK answers: File exists"));
                }
                let state = match entry.nud {
                    ip::Nud::Reachable => Nud::Reachable,
                    ip::Nud::Stale => Nud::Stale,
                    ip::Nud::Noarp => Nud::Noarp,
                    ip::Nud::Delay => Nud::Delay,
                    ip::Nud::Probe => Nud::Probe,
                    ip::Nud::Failed => Nud::Failed,
                    ip::Nud::Incomplete => Nud::Incomplete,
                    ip::Nud::Permanent | ip::Nud::None => Nud::Permanent,
                };
                let mut nout = vec![];
                self.stack.neigh.set_static(now, idx, entry.dst, entry.lladdr, state, &mut nout);
                for o in nout {
                    if let crate::stack::neigh::NeighOut::Send { dev, mac, frame, cause } = o {
                        let p = self.stack.dev_pos(dev).expect("dev exists");
                        self.stack.xmit_direct(p, mac, frame, cause, out);
                    }
                }
                Ok(String::new())
            }
            NeighCmd::Del { dst, dev } => {
                let d = self.dev(dev)?;
                if self.stack.neigh.remove(self.stack.ifaces[d].index, *dst) {
                    Ok(String::new())
                } else {
                    Err(rtnl("RTNETLINK answers: No such file or directory"))
                }
            }
            NeighCmd::Show(f) => {
                Ok(if json { show::ip_neigh_json(&self.stack, f) } else { show::ip_neigh(&self.stack, f) })
            }
            NeighCmd::Flush(f) => {
                let dev = f.dev.as_deref().map(|d| self.dev(d)).transpose()?.map(|d| self.stack.ifaces[d].index);
                self.stack.neigh.flush(|n| {
                    dev.is_none_or(|d| n.dev == d)
                        && !matches!(n.state, Nud::Permanent | Nud::Noarp)
                        && f.to.is_none_or(|(a, l)| (u32::from(n.addr) ^ u32::from(a)) & mask(l) == 0)
                });
                Ok(String::new())
            }
        }
    }

    /// `ifconfig`: the ioctls net-tools issues, in order (`SIOCSIFADDR` creates an
    /// alias's address with a classful mask and broadcast; `SIOCSIFNETMASK`
    /// recomputes the broadcast; `down` on an alias deletes its address).
    fn ifconfig(&mut self, c: &Ifconfig) -> Result<String, CmdError> {
        let (iface, ops) = match c {
            Ifconfig::Show { all, iface } => {
                if let Some(i) = iface {
                    self.dev(i)?;
                }
                return Ok(show::ifconfig(&self.stack, iface.as_deref(), *all));
            }
            Ifconfig::Set { iface, ops } => (iface, ops),
        };
        let d = self.stack.dev_by_name(iface).ok_or_else(|| {
            CmdError::with_status(format!("{iface}: ERROR while getting interface flags: No such device"), 1)
        })?;
        let is_alias = iface.contains(':');
        let has_bcast = self.stack.ifaces[d].kind == IfKind::Ether;
        let current = |m: &Machine| m.stack.ifaces[d].addrs.iter().find(|a| &a.label == iface).cloned();
        for op in ops {
            match op {
                IfconfigOp::Address(a) => {
                    if let Some(old) = current(self) {
                        let _ = self.stack.del_addr(d, old.addr, Some(old.prefix));
                    }
                    let prefix = classful_prefix(*a);
                    let broadcast = if has_bcast { broadcast_of(*a, prefix) } else { None };
                    let ifa = IfAddr {
                        addr: *a,
                        prefix,
                        label: iface.clone(),
                        scope: Scope::Global,
                        broadcast,
                        secondary: false,
                    };
                    self.stack.add_addr(d, ifa).map_err(|e| {
                        CmdError::with_status(
                            format!("SIOCSIFADDR: {}", e.to_string().trim_start_matches("RTNETLINK answers: ")),
                            1,
                        )
                    })?;
                }
                IfconfigOp::Netmask(p) => {
                    let old = current(self)
                        .ok_or_else(|| CmdError::with_status("SIOCSIFNETMASK: Cannot assign requested address", 1))?;
                    let _ = self.stack.del_addr(d, old.addr, Some(old.prefix));
                    let broadcast = if has_bcast { broadcast_of(old.addr, *p) } else { None };
                    let ifa = IfAddr { prefix: *p, broadcast, secondary: false, ..old };
                    self.stack.add_addr(d, ifa).map_err(rtnl)?;
                }
                IfconfigOp::Broadcast(b) => {
                    if let (Some(b), Some(old)) = (b, current(self)) {
                        let ifa =
                            self.stack.ifaces[d].addrs.iter_mut().find(|a| a.addr == old.addr && a.label == old.label);
                        if let Some(ifa) = ifa {
                            ifa.broadcast = Some(*b);
                        }
                    }
                }
                IfconfigOp::NoBroadcast => {}
                IfconfigOp::Up => {
                    if !is_alias && !self.stack.ifaces[d].up {
                        self.stack.set_link(d, true);
                        self.link_changed(d, true);
                    }
                }
                IfconfigOp::Down => {
                    if is_alias {
                        if let Some(old) = current(self) {
                            let _ = self.stack.del_addr(d, old.addr, Some(old.prefix));
                        }
                    } else {
                        self.stack.set_link(d, false);
                        self.link_changed(d, false);
                    }
                }
                IfconfigOp::Mtu(m) => self.stack.set_mtu(d, *m),
                IfconfigOp::HwEther(mac) => self.stack.ifaces[d].mac = *mac,
                IfconfigOp::Arp(on) => self.stack.ifaces[d].noarp = !on,
                IfconfigOp::Promisc(_) | IfconfigOp::Multicast(_) | IfconfigOp::Allmulti(_) => {}
            }
        }
        Ok(String::new())
    }

    /// net-tools `route add|del` (`SIOCADDRT`/`SIOCDELRT`).
    fn net_route(&mut self, r: &NetRoute) -> Result<String, CmdError> {
        let e = match r {
            NetRoute::Show { .. } => return Ok(show::route_n(&self.stack)),
            NetRoute::Add(e) | NetRoute::Del(e) => e,
        };
        let dev = e
            .dev
            .as_deref()
            .map(|d| self.stack.dev_by_name(d).ok_or_else(|| CmdError::with_status("SIOCADDRT: No such device", 7)))
            .transpose()?;
        if let NetRoute::Del(_) = r {
            let idx = dev.map(|d| self.stack.ifaces[d].index);
            self.stack
                .fib
                .del(|x| {
                    x.table == Table::Main
                        && x.dst == e.target
                        && x.prefix == e.prefix_len
                        && e.gateway.is_none_or(|g| x.gateway == Some(g))
                        && idx.is_none_or(|d| x.dev == Some(d))
                        && e.metric.is_none_or(|m| x.metric == m)
                })
                .map_err(|_| CmdError::with_status("SIOCDELRT: No such process", 7))?;
            return Ok(String::new());
        }
        // `dev lo:0`: the kernel (`rtentry_to_fib_config`) takes the alias's address
        // as the route's preferred source, and refuses a label with no address.
        let src = match (e.dev.as_deref().filter(|d| d.contains(':')), dev) {
            (Some(label), Some(d)) => Some(
                self.stack.ifaces[d]
                    .addrs
                    .iter()
                    .find(|a| a.label == label)
                    .map(|a| a.addr)
                    .ok_or_else(|| CmdError::with_status("SIOCADDRT: No such device", 7))?,
            ),
            _ => None,
        };
        let dev = match e.gateway {
            Some(gw) => Some(
                self.gateway_dev(gw, dev).map_err(|_| CmdError::with_status("SIOCADDRT: Network is unreachable", 7))?,
            ),
            None => dev,
        };
        let Some(d) = dev.or_else(|| {
            // net-tools without a device: the interface whose subnet holds the target.
            self.stack.ifaces.iter().position(|i| i.addrs.iter().any(|a| a.matches(e.target)))
        }) else {
            return Err(CmdError::with_status("SIOCADDRT: No such device", 7));
        };
        let rt = Route {
            table: Table::Main,
            rtype: if e.reject { RouteType::Unreachable } else { RouteType::Unicast },
            dst: e.target,
            prefix: e.prefix_len,
            gateway: e.gateway,
            dev: Some(self.stack.ifaces[d].index),
            src,
            scope: if e.gateway.is_some() { Scope::Global } else { Scope::Link },
            metric: e.metric.unwrap_or(0),
            proto: Proto::Boot,
            mtu: None,
        };
        self.stack.fib.add(rt, false).map_err(|_| CmdError::with_status("SIOCADDRT: File exists", 7))?;
        Ok(String::new())
    }

    fn arp_cmd(&mut self, now: Instant, a: &ArpCmd, out: &mut Outbox) -> Result<String, CmdError> {
        match a {
            ArpCmd::Show { iface, host, .. } => Ok(show::arp_n(&self.stack, iface.as_deref(), *host)),
            ArpCmd::Delete { host, iface } => {
                let devs: Vec<u32> = self
                    .stack
                    .ifaces
                    .iter()
                    .filter(|i| iface.as_ref().is_none_or(|n| n == &i.name))
                    .map(|i| i.index)
                    .collect();
                let mut any = false;
                for d in devs {
                    any |= self.stack.neigh.remove(d, *host);
                }
                if any {
                    Ok(String::new())
                } else {
                    Err(CmdError::with_status(format!("No ARP entry for {host}"), 255))
                }
            }
            ArpCmd::Set { host, mac, iface, temp } => {
                let d = match iface {
                    Some(i) => self.dev(i)?,
                    None => self
                        .stack
                        .ifaces
                        .iter()
                        .position(|i| i.addrs.iter().any(|x| x.matches(*host)))
                        .ok_or_else(|| CmdError::with_status("SIOCSARP: Network is unreachable", 255))?,
                };
                let idx = self.stack.ifaces[d].index;
                let mut nout = vec![];
                let state = if *temp { Nud::Reachable } else { Nud::Permanent };
                self.stack.neigh.set_static(now, idx, *host, Some(*mac), state, &mut nout);
                for o in nout {
                    if let crate::stack::neigh::NeighOut::Send { dev, mac, frame, cause } = o {
                        let p = self.stack.dev_pos(dev).expect("dev exists");
                        self.stack.xmit_direct(p, mac, frame, cause, out);
                    }
                }
                Ok(String::new())
            }
        }
    }

    fn sysctl(&mut self, s: &Sysctl) -> Result<String, CmdError> {
        let mut text = String::new();
        let line = |k: &str, v: &str, text: &mut String| {
            if s.values_only {
                text.push_str(&format!("{v}\n"));
            } else if s.names_only {
                text.push_str(&format!("{k}\n"));
            } else {
                text.push_str(&format!("{k} = {v}\n"));
            }
        };
        let settings: Vec<SysctlItem> = match &s.op {
            SysctlOp::Items(items) => items.clone(),
            SysctlOp::All => {
                for (k, v) in self.all_sysctls() {
                    line(&k, &v, &mut text);
                }
                return Ok(text);
            }
            SysctlOp::Load(files) => {
                let files = if files.is_empty() { vec!["/etc/sysctl.conf".to_string()] } else { files.clone() };
                let mut items = vec![];
                for f in files {
                    let body = self.files.get(&f).cloned();
                    if body.is_none() {
                        return Err(CmdError::with_status(
                            format!("sysctl: cannot open \"{f}\": No such file or directory"),
                            255,
                        ));
                    }
                    items.extend(crate::shell::sysctl::load(&f, body.as_deref())?.into_iter().map(SysctlItem::Write));
                }
                items
            }
        };
        for item in settings {
            match item {
                SysctlItem::Read(k) => match self.sysctl_get(&k) {
                    Ok(v) => line(&k, &v, &mut text),
                    Err(e) if s.ignore_unknown => drop(e),
                    Err(e) => return Err(CmdError::with_status(e, 255)),
                },
                SysctlItem::Write(set) => match self.sysctl_set(&set.key, &set.value) {
                    Ok(()) => {
                        if !s.quiet {
                            line(&set.key, set.value.trim(), &mut text);
                        }
                    }
                    Err(_) if set.ignore_errors || s.ignore_unknown => {}
                    Err(e) => return Err(CmdError::with_status(e, 255)),
                },
            }
        }
        Ok(text)
    }

    fn all_sysctls(&self) -> Vec<(String, String)> {
        let mut keys = vec!["net.ipv4.ip_forward".to_string()];
        for dev in
            ["all", "default"].into_iter().map(str::to_string).chain(self.stack.ifaces.iter().map(|i| i.name.clone()))
        {
            for f in
                ["arp_accept", "arp_announce", "arp_filter", "arp_ignore", "forwarding", "rp_filter", "send_redirects"]
            {
                keys.push(crate::stack::conf::conf_key(&dev, f));
            }
        }
        keys.into_iter().filter_map(|k| self.sysctl_get(&k).ok().map(|v| (k, v))).collect()
    }

    /// Reads a sysctl: IPVS's `net.ipv4.vs.*` exist only once ip_vs is loaded.
    pub(super) fn sysctl_get(&self, key: &str) -> Result<String, String> {
        let k = crate::stack::conf::normalise(key);
        if k.starts_with("net.ipv4.vs.") {
            return self.ipvs_sysctl_get(&k);
        }
        self.stack.sysctl.get(&k).map_err(|e| e.to_string())
    }

    pub(super) fn sysctl_set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let k = crate::stack::conf::normalise(key);
        if k.starts_with("net.ipv4.vs.") {
            return self.ipvs_sysctl_set(&k, value);
        }
        self.stack.sysctl.set(&k, value).map_err(|e| e.to_string())?;
        self.sync_tcp_conf();
        Ok(())
    }

    /// The TCP model reads its knobs from `net.ipv4.tcp_*`.
    pub(super) fn sync_tcp_conf(&mut self) {
        let g = &self.stack.sysctl.globals;
        let (syn, linear, synack, fin, range) = (
            g.tcp_syn_retries,
            g.tcp_syn_linear_timeouts,
            g.tcp_synack_retries,
            g.tcp_fin_timeout,
            g.ip_local_port_range,
        );
        let c = self.stack.tcp.conf_mut();
        c.syn_retries = syn.min(127) as u8;
        c.syn_linear_timeouts = linear.min(255) as u8;
        c.synack_retries = synack.min(255) as u8;
        c.fin_timeout = Duration::from_secs(u64::from(fin));
        c.local_port_range = range;
    }

    /// `arping` (iputils): requests carry THA ff:ff:ff:ff:ff:ff; `-U` sends
    /// gratuitous requests (SPA = TPA = target), `-A` gratuitous replies (THA =
    /// SHA). Packets go out once a second for `-c` counts; the command itself does
    /// not block the script.
    fn arping(&mut self, now: Instant, a: &Arping, out: &mut Outbox) -> Result<String, CmdError> {
        let d = match &a.iface {
            Some(i) => self.dev(i)?,
            None => {
                let r = self
                    .stack
                    .route_output(a.target)
                    .ok_or_else(|| CmdError::with_status("arping: no source address in not-ARPable device", 2))?;
                r.dev
            }
        };
        let mac = self.stack.ifaces[d].mac;
        let src = match (a.mode, a.source) {
            (ArpingMode::Unsolicited | ArpingMode::Advert, _) => a.target,
            (ArpingMode::Dad, _) => Ipv4Addr::UNSPECIFIED,
            (_, Some(s)) => s,
            (_, None) => self.stack.select_addr(d, Some(a.target), Scope::Link).unwrap_or(Ipv4Addr::UNSPECIFIED),
        };
        let arp = match a.mode {
            ArpingMode::Advert => Arp { op: ARP_REPLY, sha: mac, spa: src, tha: mac, tpa: a.target },
            _ => Arp { op: ARP_REQUEST, sha: mac, spa: src, tha: MacAddr::BROADCAST, tpa: a.target },
        };
        let count =
            a.count.unwrap_or(if matches!(a.mode, ArpingMode::Unsolicited | ArpingMode::Advert) { 3 } else { 1 });
        let Some(port) = self.stack.ifaces[d].port else {
            return Err(CmdError::with_status("arping: Device not ARPable", 2));
        };
        let frame = arp.frame(MacAddr::BROADCAST, mac);
        for i in 0..count {
            let at = now + Duration::from_secs(u64::from(i));
            if i == 0 {
                out.send_with(port, frame.clone(), || "arping".into());
            } else {
                self.scheduled_frames.push((at, port, frame.clone()));
            }
        }
        self.scheduled_frames.sort_by_key(|f| f.0);
        let name = &self.stack.ifaces[d].name;
        Ok(if a.quiet {
            String::new()
        } else {
            format!("ARPING {} from {src} {name}\nSent {count} probes (1 broadcast(s))\n", a.target)
        })
    }

    fn modprobe(&mut self, module: &str, remove: bool) -> Result<String, CmdError> {
        match module {
            "ipip" | "tunnel4" if !remove => {
                self.stack.ensure_tunl0();
                Ok(String::new())
            }
            m if m == "ip_vs" || m.starts_with("ip_vs_") => {
                if !remove {
                    self.ensure_ipvs();
                }
                Ok(String::new())
            }
            "ipip" | "tunnel4" => Ok(String::new()),
            m if m.starts_with("nf_") || m.starts_with("iptable_") || m.starts_with("xt_") || m == "ip_tables" => {
                Ok(String::new())
            }
            m => Err(CmdError::with_status(
                format!("modprobe: FATAL: Module {m} not found in directory /lib/modules/lvs-lab"),
                1,
            )),
        }
    }

    fn service(
        &mut self,
        now: Instant,
        name: &str,
        action: ServiceAction,
        out: &mut Outbox,
    ) -> Result<String, CmdError> {
        let unit = name.trim_end_matches(".service");
        if let Some(i) = self.apps.iter().position(|a| a.spec.name() == unit) {
            match action {
                ServiceAction::Start => self.start_app(now, i, out),
                ServiceAction::Stop => self.stop_app(now, i, out),
                ServiceAction::Restart | ServiceAction::Reload => {
                    self.stop_app(now, i, out);
                    self.start_app(now, i, out);
                }
                ServiceAction::Status => {
                    let st = if self.apps[i].running { "active (running)" } else { "inactive (dead)" };
                    return Ok(format!("● {unit}.service\n   Active: {st}\n"));
                }
                ServiceAction::Enable | ServiceAction::Disable => {}
            }
            return Ok(String::new());
        }
        if unit == "keepalived" {
            return self.keepalived_service(now, action, out);
        }
        match unit {
            // Services that exist on the tutorials' machines but do nothing here.
            "firewalld" | "iptables" | "network" | "NetworkManager" | "ipvsadm" | "sshd" | "crond" => Ok(String::new()),
            _ => Err(CmdError::with_status(
                format!("Failed to {} {unit}.service: Unit {unit}.service not found.", action_name(action)),
                5,
            )),
        }
    }
}

fn action_name(a: ServiceAction) -> &'static str {
    match a {
        ServiceAction::Start => "start",
        ServiceAction::Stop => "stop",
        ServiceAction::Restart => "restart",
        ServiceAction::Reload => "reload",
        ServiceAction::Status => "get status of",
        ServiceAction::Enable => "enable",
        ServiceAction::Disable => "disable",
    }
}
