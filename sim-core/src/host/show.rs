//! What the show commands print, in the tools' own formats: `ip addr|link|route|
//! neigh` (iproute2), `ifconfig`, `route -n` and `arp -n` (net-tools), `ss -tan`.

use crate::shell::ip::{NeighFilter, RouteFilter};
use crate::stack::Stack;
use crate::stack::fib::{Proto, Route, RouteType, Table};
use crate::stack::iface::{IfKind, Iface, Scope, mask};
use crate::stack::neigh::Nud;
use std::fmt::Write;
use std::net::Ipv4Addr;

fn flags(i: &Iface) -> String {
    let mut f: Vec<&str> = vec![];
    match i.kind {
        IfKind::Loopback => f.push("LOOPBACK"),
        IfKind::Ether => f.extend(["BROADCAST", "MULTICAST"]),
        IfKind::Ipip => f.push("NOARP"),
    }
    if i.noarp && i.kind == IfKind::Ether {
        f.push("NOARP");
    }
    if i.up {
        f.push("UP");
        if i.carrier {
            f.push("LOWER_UP");
        }
    }
    f.join(",")
}

/// A macvlan (keepalived's VMAC) is shown `name@lower` with no queue of its own
/// (`IFF_NO_QUEUE` in macvlan.c), as iproute2 prints a link with `IFLA_LINK`.
fn link_line(st: &Stack, i: &Iface) -> String {
    let state = match (i.kind, i.up, i.carrier) {
        (IfKind::Loopback, true, _) | (IfKind::Ipip, true, _) => "UNKNOWN",
        (_, true, true) => "UP",
        _ => "DOWN",
    };
    let lower = i.vmac_of.and_then(|p| st.ifaces.iter().find(|l| l.port == Some(p)));
    let qdisc = if i.kind == IfKind::Ether && lower.is_none() { "fq_codel" } else { "noqueue" };
    let name = match lower {
        Some(l) => format!("{}@{}", i.name, l.name),
        None => i.name.clone(),
    };
    let mut s = format!(
        "{}: {name}: <{}> mtu {} qdisc {qdisc} state {state} group default qlen 1000\n",
        i.index,
        flags(i),
        i.mtu
    );
    match i.kind {
        IfKind::Loopback => s.push_str("    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"),
        IfKind::Ether => {
            let _ = writeln!(s, "    link/ether {} brd ff:ff:ff:ff:ff:ff", i.mac);
        }
        IfKind::Ipip => s.push_str("    link/ipip 0.0.0.0 brd 0.0.0.0\n"),
    }
    s
}

/// `ip addr show [dev D]`.
pub fn ip_addr(st: &Stack, dev: Option<&str>) -> String {
    let mut s = String::new();
    for i in st.ifaces.iter().filter(|i| dev.is_none_or(|d| d.split(':').next() == Some(i.name.as_str()))) {
        s.push_str(&link_line(st, i));
        for a in &i.addrs {
            let brd = a.broadcast.map(|b| format!(" brd {b}")).unwrap_or_default();
            let sec = if a.secondary { " secondary" } else { "" };
            let _ = writeln!(s, "    inet {}/{}{brd} scope {}{sec} {}", a.addr, a.prefix, a.scope.name(), a.label);
            s.push_str("       valid_lft forever preferred_lft forever\n");
        }
    }
    s
}

/// `ip link show`.
pub fn ip_link(st: &Stack, dev: Option<&str>, up_only: bool) -> String {
    st.ifaces
        .iter()
        .filter(|i| dev.is_none_or(|d| d == i.name) && (!up_only || i.up))
        .map(|i| link_line(st, i))
        .collect()
}

fn dev_name(st: &Stack, r: &Route) -> String {
    r.dev.and_then(|d| st.dev_pos(d)).map(|p| st.ifaces[p].name.clone()).unwrap_or_default()
}

fn route_line(st: &Stack, r: &Route) -> String {
    let mut s = String::new();
    match r.rtype {
        RouteType::Unicast => {}
        t => {
            let _ = write!(s, "{} ", t.name());
        }
    }
    if r.prefix == 0 && r.table == Table::Main {
        s.push_str("default");
    } else if r.prefix == 32 {
        let _ = write!(s, "{}", r.dst);
    } else {
        let _ = write!(s, "{}/{}", r.dst, r.prefix);
    }
    if let Some(g) = r.gateway {
        let _ = write!(s, " via {g}");
    }
    if r.dev.is_some() {
        let _ = write!(s, " dev {}", dev_name(st, r));
    }
    if r.table == Table::Local {
        s.push_str(" table local");
    }
    if r.proto == Proto::Kernel {
        s.push_str(" proto kernel");
    }
    let default_scope = match (r.rtype, r.gateway) {
        (RouteType::Local, _) => Scope::Host,
        (RouteType::Unicast, None) => Scope::Link,
        _ => Scope::Global,
    };
    if r.scope != Scope::Global || r.scope != default_scope && r.table == Table::Local {
        let _ = write!(s, " scope {}", r.scope.name());
    }
    if let Some(src) = r.src {
        let _ = write!(s, " src {src}");
    }
    if r.metric != 0 {
        let _ = write!(s, " metric {}", r.metric);
    }
    if let Some(m) = r.mtu {
        let _ = write!(s, " mtu {m}");
    }
    s
}

/// `ip route show [table local] [dev D]`: the main table in the kernel's order
/// (default routes first, then by prefix).
pub fn ip_route(st: &Stack, f: &RouteFilter) -> String {
    let table = if matches!(f.table, Some(crate::shell::ip::Table::Local)) { Table::Local } else { Table::Main };
    let mut routes: Vec<&Route> = st
        .fib
        .routes()
        .iter()
        .filter(|r| r.table == table)
        .filter(|r| f.dev.as_ref().is_none_or(|d| dev_name(st, r) == *d))
        .collect();
    routes.sort_by_key(|r| (u32::from(r.dst), r.prefix, r.metric));
    routes.iter().map(|r| route_line(st, r) + "\n").collect()
}

/// `ip route get DST`.
pub fn ip_route_get(st: &Stack, dst: Ipv4Addr) -> Option<String> {
    let r = st.route_output(dst)?;
    let dev = &st.ifaces[r.dev].name;
    let kind = if r.local { "local " } else { "" };
    let via = r.gateway.map(|g| format!(" via {g}")).unwrap_or_default();
    let mtu = st.learned_pmtu(dst).map(|m| format!(" mtu {m}")).unwrap_or_default();
    Some(format!("{kind}{dst}{via} dev {dev} src {} uid 0 \n    cache{mtu} \n", r.src))
}

/// The neighbour entries `ip neigh` shows, in table order.
pub fn neigh_entries(st: &Stack, f: Option<&NeighFilter>) -> Vec<crate::report::NeighEntry> {
    st.neigh
        .entries()
        .filter(|n| {
            f.is_none_or(|f| f.dev.as_ref().is_none_or(|d| st.dev_pos(n.dev).is_some_and(|p| st.ifaces[p].name == *d)))
        })
        .filter(|n| f.and_then(|f| f.to).is_none_or(|(a, l)| (u32::from(n.addr) ^ u32::from(a)) & mask(l) == 0))
        .map(|n| crate::report::NeighEntry {
            addr: n.addr.to_string(),
            dev: st.dev_pos(n.dev).map(|p| st.ifaces[p].name.clone()).unwrap_or_default(),
            lladdr: n.lladdr.filter(|_| n.state != Nud::Incomplete && n.state != Nud::Failed).map(|m| m.to_string()),
            state: n.state.name().to_string(),
        })
        .collect()
}

/// `ip neigh show`.
pub fn ip_neigh(st: &Stack, f: &NeighFilter) -> String {
    neigh_entries(st, Some(f))
        .into_iter()
        .map(|n| match n.lladdr {
            Some(m) => format!("{} dev {} lladdr {m} {}\n", n.addr, n.dev, n.state),
            None => format!("{} dev {} {}\n", n.addr, n.dev, n.state),
        })
        .collect()
}

/// `ip -j neigh show`: the same JSON shape iproute2 prints.
pub fn ip_neigh_json(st: &Stack, f: &NeighFilter) -> String {
    let v: Vec<serde_json::Value> = neigh_entries(st, Some(f))
        .into_iter()
        .map(|n| {
            let mut o = serde_json::json!({"dst": n.addr, "dev": n.dev, "state": [n.state]});
            if let Some(m) = n.lladdr {
                o["lladdr"] = m.into();
            }
            o
        })
        .collect();
    serde_json::Value::Array(v).to_string() + "\n"
}

/// net-tools `ifconfig`.
pub fn ifconfig(st: &Stack, only: Option<&str>, all: bool) -> String {
    let mut s = String::new();
    for i in &st.ifaces {
        if only.is_none() && !all && !i.up {
            continue;
        }
        let labels: Vec<String> = {
            let mut l: Vec<String> = vec![i.name.clone()];
            for a in &i.addrs {
                if a.label != i.name && !l.contains(&a.label) {
                    l.push(a.label.clone());
                }
            }
            l
        };
        for label in labels {
            if only.is_some_and(|o| o != label) {
                continue;
            }
            let flags = {
                let mut v = vec![];
                if i.up {
                    v.push("UP");
                }
                if i.kind == IfKind::Ether {
                    v.push("BROADCAST");
                }
                if i.kind == IfKind::Loopback {
                    v.push("LOOPBACK");
                }
                if i.up && i.carrier {
                    v.push("RUNNING");
                }
                if i.kind == IfKind::Ether {
                    v.push("MULTICAST");
                }
                v.join(",")
            };
            let fl = if i.kind == IfKind::Loopback {
                73
            } else if i.up {
                4163
            } else {
                4098
            };
            let _ = writeln!(s, "{label}: flags={fl}<{flags}>  mtu {}", i.mtu);
            if let Some(a) = i.addrs.iter().find(|a| a.label == label) {
                let nm = Ipv4Addr::from(mask(a.prefix));
                let brd = a.broadcast.map(|b| format!("  broadcast {b}")).unwrap_or_default();
                let _ = writeln!(s, "        inet {}  netmask {nm}{brd}", a.addr);
            }
            match i.kind {
                IfKind::Ether => {
                    let _ = writeln!(s, "        ether {}  txqueuelen 1000  (Ethernet)", i.mac);
                }
                IfKind::Loopback => s.push_str("        loop  txqueuelen 1000  (Local Loopback)\n"),
                IfKind::Ipip => s.push_str("        tunnel   txqueuelen 1000  (IPIP Tunnel)\n"),
            }
            s.push('\n');
        }
    }
    s
}

/// net-tools `route -n`.
pub fn route_n(st: &Stack) -> String {
    let mut s = String::from(
        "Kernel IP routing table\nDestination     Gateway         Genmask         Flags Metric Ref    Use Iface\n",
    );
    // /proc/net/route walks the trie in address order.
    let mut routes: Vec<&Route> = st.fib.routes().iter().filter(|r| r.table == Table::Main).collect();
    routes.sort_by_key(|r| (u32::from(r.dst), r.prefix, r.metric));
    for r in routes {
        let mut flags = String::from(if r.rtype == RouteType::Unicast { "U" } else { "!" });
        if r.gateway.is_some() {
            flags.push('G');
        }
        if r.prefix == 32 {
            flags.push('H');
        }
        let _ = writeln!(
            s,
            "{:<15} {:<15} {:<15} {:<5} {:<6} {:<6} {:>3} {}",
            r.dst.to_string(),
            r.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
            Ipv4Addr::from(mask(r.prefix)).to_string(),
            flags,
            r.metric,
            0,
            0,
            dev_name(st, r)
        );
    }
    s
}

/// net-tools `arp -n`.
pub fn arp_n(st: &Stack, iface: Option<&str>, host: Option<Ipv4Addr>) -> String {
    let mut s = String::from("Address                  HWtype  HWaddress           Flags Mask            Iface\n");
    for n in st.neigh.entries() {
        let dev = st.dev_pos(n.dev).map(|p| st.ifaces[p].name.clone()).unwrap_or_default();
        if iface.is_some_and(|i| i != dev) || host.is_some_and(|h| h != n.addr) {
            continue;
        }
        match (n.state, n.lladdr) {
            (Nud::Incomplete | Nud::Failed, _) | (_, None) => {
                let _ = writeln!(s, "{:<24} {:<28}{:<16}{dev}", n.addr.to_string(), "", "(incomplete)");
            }
            (state, Some(m)) => {
                let flag = if state == Nud::Permanent { "CM" } else { "C" };
                let _ = writeln!(
                    s,
                    "{:<24} {:<7} {:<19} {:<5} {:<15} {dev}",
                    n.addr.to_string(),
                    "ether",
                    m.to_string(),
                    flag,
                    ""
                );
            }
        }
    }
    s
}

/// `ss` / `netstat` socket listings: `-t`/`-u` choose the protocols (both when
/// neither is given), `-l` shows only listening sockets (TCP LISTEN, unconnected
/// UDP), `-a` all, and without either only the non-listening ones.
pub fn sockets(st: &Stack, f: &crate::shell::Sockets) -> String {
    let (tcp, udp) = if f.tcp || f.udp { (f.tcp, f.udp) } else { (true, true) };
    let show = |listening: bool| f.all || listening == f.listening;
    let mut s = String::from("Netid State      Recv-Q Send-Q Local Address:Port               Peer Address:Port\n");
    for i in st.tcp.sockets().filter(|_| tcp) {
        if !show(i.state == crate::stack::tcp::TcpState::Listen) {
            continue;
        }
        let peer = if i.peer.port() == 0 { "*:*".to_string() } else { i.peer.to_string() };
        let local = if i.local.ip().is_unspecified() { format!("*:{}", i.local.port()) } else { i.local.to_string() };
        let _ = writeln!(s, "tcp   {:<10} {:<6} {:<6} {:<32} {}", i.state.ss_name(), 0, i.send_q, local, peer);
    }
    for (a, p, peer) in st.udp.sockets().filter(|_| udp) {
        if !show(peer.is_none()) {
            continue;
        }
        let local = a.map_or(format!("*:{p}"), |a| format!("{a}:{p}"));
        let peer = peer.map_or("*:*".to_string(), |x| x.to_string());
        let state = if peer == "*:*" { "UNCONN" } else { "ESTAB" };
        let _ = writeln!(s, "udp   {:<10} {:<6} {:<6} {:<32} {}", state, 0, 0, local, peer);
    }
    s
}

/// Routes for the report, as `ip route` shows the main table.
pub fn route_entries(st: &Stack) -> Vec<crate::report::RouteEntry> {
    st.fib
        .routes()
        .iter()
        .filter(|r| r.table == Table::Main)
        .map(|r| crate::report::RouteEntry {
            dst: if r.prefix == 0 { "default".into() } else { format!("{}/{}", r.dst, r.prefix) },
            via: r.gateway.map(|g| g.to_string()),
            dev: dev_name(st, r),
            src: r.src.map(|s| s.to_string()),
            scope: r.scope.name().into(),
            metric: r.metric,
        })
        .collect()
}
