//! `ip` from iproute2: `address`, `link`, `route` and `neighbour`, IPv4 only.
//!
//! Objects, subcommands and most keywords take iproute2's abbreviations: a word
//! matches when it is a prefix of the full word, tried in iproute2's order, so
//! `ip a a` is `ip address add`, `ip r d` is `ip route delete`, `ip n f` is
//! `ip neighbour flush` and `ip l s` is `ip link set`. Keywords that iproute2
//! compares exactly (`dev`, `via`, `src`, `brd`, `label`, `up`, ...) are exact here too.
//!
//! Device names are resolved the way iproute2 does: `ll_name_to_index()` falls back
//! to `if_nametoindex()`, whose `SIOCGIFINDEX` ioctl cuts the name at `:`, so
//! `ip addr del 10.0.0.1 dev eth0:1` acts on `eth0`. The `dev` fields below hold the
//! resolved name; `label` keeps what was typed.

use super::args::{Args, addr_and_len, ipv4, matches, number};
use crate::node::CmdError;
use crate::wire::MacAddr;
use std::net::Ipv4Addr;

/// One `ip` invocation: global options and the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ip {
    pub opts: IpOptions,
    pub cmd: IpCmd,
}

/// Global options that change what `show` prints (`-s`, `-d`, `-j`, `-o`, `-br`).
/// `-4` and `-f inet` are accepted and change nothing (lvs-lab is IPv4 only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpOptions {
    pub stats: bool,
    pub details: bool,
    pub json: bool,
    pub oneline: bool,
    pub brief: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpCmd {
    Addr(AddrCmd),
    Link(LinkCmd),
    Route(RouteCmd),
    Neigh(NeighCmd),
}

/// `add` (fails if it exists), `change` (must exist) or `replace` (either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modify {
    Add,
    Change,
    Replace,
}

/// Address scope (`scope host|link|site|global|nowhere`, or the number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Global,
    Site,
    Link,
    Host,
    Nowhere,
}

impl Scope {
    fn parse(text: &str) -> Option<Scope> {
        // rtnl_rtscope_a2n: names compared exactly, or a number.
        Some(match text {
            "global" | "universe" | "0" => Scope::Global,
            "site" | "200" => Scope::Site,
            "link" | "253" => Scope::Link,
            "host" | "254" => Scope::Host,
            "nowhere" | "255" => Scope::Nowhere,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrCmd {
    Modify { mode: Modify, addr: AddrSpec },
    Del(AddrDel),
    Flush(AddrFilter),
    Show(AddrFilter),
}

/// `ip addr add ADDR[/LEN] [brd +|-|ADDR] [scope S] [label L] [metric N] [noprefixroute] dev DEV`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrSpec {
    pub local: Ipv4Addr,
    /// 32 when no `/LEN` was written (iproute2 takes a bare address as a host).
    pub prefix_len: u8,
    pub dev: String,
    /// `label eth0:1`; the kernel uses the device name when absent.
    pub label: Option<String>,
    pub broadcast: Option<Broadcast>,
    /// `None`: the kernel's default, global (host for 127/8 on lo).
    pub scope: Option<Scope>,
    pub metric: Option<u32>,
    pub noprefixroute: bool,
}

/// `brd +` sets the host bits, `brd -` clears them, or an explicit address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broadcast {
    Plus,
    Minus,
    Addr(Ipv4Addr),
}

/// `ip addr del ADDR[/LEN] dev DEV [label L]`. Without `/LEN` iproute2 sends no
/// prefix and the kernel deletes the first address equal to ADDR whatever its
/// length (iproute2 warns "Executing wildcard deletion ..."); `prefix_len` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrDel {
    pub local: Ipv4Addr,
    pub prefix_len: Option<u8>,
    pub dev: String,
    pub label: Option<String>,
}

/// Selectors of `ip addr show|flush`: `[dev] DEV`, `label L`, `scope S`, `to PREFIX`, `up`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrFilter {
    pub dev: Option<String>,
    pub label: Option<String>,
    pub scope: Option<Scope>,
    pub to: Option<(Ipv4Addr, u8)>,
    pub up: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCmd {
    Set { dev: String, changes: Vec<LinkChange> },
    Show { dev: Option<String>, up: bool },
}

/// One change of `ip link set`, in the order written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChange {
    Up,
    Down,
    Mtu(u32),
    Address(MacAddr),
    /// `arp on|off` (`off` sets IFF_NOARP).
    Arp(bool),
    Promisc(bool),
    Multicast(bool),
    Allmulticast(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteCmd {
    Modify {
        mode: Modify,
        route: RouteSpec,
    },
    /// Fields left `None` match any route (iproute2 sends only what was typed).
    Del(RouteSpec),
    Show(RouteFilter),
    Flush(RouteFilter),
    /// `ip route flush cache`: the routing cache is gone since Linux 3.6; no effect.
    FlushCache,
    Get {
        dst: Ipv4Addr,
        from: Option<Ipv4Addr>,
        oif: Option<String>,
    },
}

/// Route types iproute2 writes before the prefix (`ip route add blackhole 10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteType {
    Unicast,
    Local,
    Blackhole,
    Unreachable,
    Prohibit,
}

/// The two tables the kernel always has; policy routing tables are not modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Main,
    Local,
}

/// `ip route add|del [TYPE] PREFIX [via GW] [dev DEV] [src ADDR] [metric N] [scope S]
/// [proto P] [table main|local] [onlink] [mtu N]`. `None` means the kernel default on
/// add (type unicast, table main, scope global or link without a gateway, proto boot)
/// and "any" on delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub kind: Option<RouteType>,
    pub dst: Ipv4Addr,
    pub prefix_len: u8,
    pub via: Option<Ipv4Addr>,
    pub dev: Option<String>,
    pub src: Option<Ipv4Addr>,
    pub metric: Option<u32>,
    pub scope: Option<Scope>,
    /// `proto`: kernel 2, boot 3, static 4, dhcp 16, or a number.
    pub protocol: Option<u8>,
    pub table: Option<Table>,
    pub onlink: bool,
    pub mtu: Option<u32>,
}

/// Selectors of `ip route show|flush`: `table`, `dev`, `proto`, `[to|exact] PREFIX`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteFilter {
    pub table: Option<Table>,
    pub dev: Option<String>,
    pub protocol: Option<u8>,
    pub to: Option<(Ipv4Addr, u8)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeighCmd {
    Modify {
        mode: Modify,
        entry: NeighEntry,
    },
    Del {
        dst: Ipv4Addr,
        dev: String,
    },
    Show(NeighFilter),
    /// Without `nud`, iproute2 flushes every state except permanent and noarp.
    Flush(NeighFilter),
}

/// `ip neigh add ADDR [lladdr MAC] [nud STATE] dev DEV`; `nud` defaults to permanent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighEntry {
    pub dst: Ipv4Addr,
    pub lladdr: Option<MacAddr>,
    pub nud: Nud,
    pub dev: String,
}

/// Neighbour states, as `nud` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nud {
    Permanent,
    Reachable,
    Stale,
    Noarp,
    Delay,
    Probe,
    Failed,
    Incomplete,
    None,
}

impl Nud {
    /// nud_state_a2n: `permanent`, `reachable` and `failed` abbreviate, the rest are exact.
    fn parse(text: &str) -> Option<Nud> {
        Some(if matches(text, "permanent") {
            Nud::Permanent
        } else if matches(text, "reachable") {
            Nud::Reachable
        } else if matches(text, "failed") {
            Nud::Failed
        } else {
            match text {
                "noarp" => Nud::Noarp,
                "none" => Nud::None,
                "stale" => Nud::Stale,
                "incomplete" => Nud::Incomplete,
                "delay" => Nud::Delay,
                "probe" => Nud::Probe,
                _ => return None,
            }
        })
    }
}

/// Selectors of `ip neigh show|flush`: `[dev] DEV`, `nud STATE|all`, `[to] PREFIX`
/// (`all`, `any` and `default` are 0.0.0.0/0, so `ip neigh flush all` flushes everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeighFilter {
    pub dev: Option<String>,
    pub to: Option<(Ipv4Addr, u8)>,
    /// `Some(None)` is `nud all`.
    pub nud: Option<Option<Nud>>,
}

fn err(message: impl Into<String>) -> CmdError {
    CmdError::with_status(message, 1)
}

fn incomplete(_: &str) -> CmdError {
    err("Command line is not complete. Try option \"help\"")
}

fn invarg(what: &str, arg: &str) -> CmdError {
    err(format!("Error: argument \"{arg}\" is wrong: {what}"))
}

fn garbage(key: &str, arg: &str) -> CmdError {
    err(format!("Error: either \"{key}\" is duplicate, or \"{arg}\" is a garbage."))
}

fn unsupported(what: &str, arg: &str) -> CmdError {
    err(format!("ip {what}: `{arg}` is not supported by lvs-lab"))
}

/// The device as iproute2 resolves it (see the module doc).
fn dev(name: &str) -> String {
    name.split(':').next().unwrap_or(name).to_string()
}

/// get_prefix: `default`/`all`/`any` are 0.0.0.0/0, a bare address is a /32.
fn prefix(text: &str) -> Result<(Ipv4Addr, u8, bool), CmdError> {
    if matches!(text, "default" | "all" | "any") {
        return Ok((Ipv4Addr::UNSPECIFIED, 0, true));
    }
    if text.contains(':') {
        return Err(err(format!("Error: `{text}`: lvs-lab models IPv4 only")));
    }
    match addr_and_len(text) {
        Some((a, len)) => Ok((a, len.unwrap_or(32), len.is_some())),
        None => Err(err(format!("Error: any valid prefix is expected rather than \"{text}\"."))),
    }
}

fn addr(text: &str) -> Result<Ipv4Addr, CmdError> {
    if text.contains(':') {
        return Err(err(format!("Error: `{text}`: lvs-lab models IPv4 only")));
    }
    ipv4(text).ok_or_else(|| err(format!("Error: inet address is expected rather than \"{text}\".")))
}

fn unsigned(key: &str, text: &str) -> Result<u32, CmdError> {
    number(text).ok_or_else(|| invarg(&format!("\"{key}\" value is invalid"), text))
}

/// Parses `ip ARGS...` (the arguments after `ip`).
pub fn parse(argv: &[String]) -> Result<Ip, CmdError> {
    let mut a = Args::new(argv);
    let mut opts = IpOptions::default();
    while let Some(opt) = a.peek().filter(|o| o.starts_with('-') && o.len() > 1) {
        a.next();
        let o = opt.strip_prefix("--").map(|r| format!("-{r}")).unwrap_or_else(|| opt.to_string());
        let o = o.as_str();
        // ip.c's order: -family before -4, -batch before -brief, -stats/-statistics.
        if matches(o, "-family") {
            match a.value("family", incomplete)? {
                "inet" => {}
                f => return Err(err(format!("ip: family `{f}` is not supported by lvs-lab (IPv4 only: inet)"))),
            }
        } else if o == "-4" {
        } else if o == "-6" || o == "-0" {
            return Err(err(format!("ip: `{opt}` is not supported by lvs-lab (IPv4 only)")));
        } else if matches(o, "-details") {
            opts.details = true;
        } else if matches(o, "-stats") || matches(o, "-statistics") {
            opts.stats = true;
        } else if matches(o, "-oneline") {
            opts.oneline = true;
        } else if matches(o, "-brief") && o.len() >= 3 {
            opts.brief = true;
        } else if matches(o, "-json") {
            opts.json = true;
        } else if matches(o, "-pretty") {
        } else {
            return Err(err(format!(
                "Option \"{opt}\" is unknown or not supported by lvs-lab (supported: -4, -s, -d, -j, -p, -o, -br)"
            )));
        }
    }
    let Some(object) = a.next() else {
        return Err(err("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help } (lvs-lab: address, link, route, neigh)"));
    };
    let rest = a.rest();
    // ip.c's command table order: address, addrlabel, maddress, route, rule, neighbor,
    // neighbour, ntable, ntbl, link, ... so `a` is address, `r` route, `n` neigh, `l` link.
    let cmd = if matches(object, "address") {
        IpCmd::Addr(parse_addr(rest)?)
    } else if matches(object, "addrlabel") || matches(object, "maddress") {
        return Err(unsupported("object", object));
    } else if matches(object, "route") {
        IpCmd::Route(parse_route(rest)?)
    } else if matches(object, "rule") {
        return Err(unsupported("object", object));
    } else if matches(object, "neighbor") || matches(object, "neighbour") {
        IpCmd::Neigh(parse_neigh(rest)?)
    } else if matches(object, "ntable") || matches(object, "ntbl") {
        return Err(unsupported("object", object));
    } else if matches(object, "link") {
        IpCmd::Link(parse_link(rest)?)
    } else if ["tunnel", "tunl", "tuntap", "monitor", "xfrm", "netns", "mroute", "netconf", "vrf", "nexthop"]
        .iter()
        .any(|o| matches(object, o))
    {
        return Err(unsupported("object", object));
    } else {
        return Err(err(format!("Object \"{object}\" is unknown, try \"ip help\".")));
    };
    Ok(Ip { opts, cmd })
}

fn parse_addr(argv: &[String]) -> Result<AddrCmd, CmdError> {
    let mut a = Args::new(argv);
    let Some(sub) = a.next() else { return Ok(AddrCmd::Show(AddrFilter::default())) };
    let rest = a.rest();
    if matches(sub, "add") {
        Ok(AddrCmd::Modify { mode: Modify::Add, addr: addr_modify(rest)? })
    } else if matches(sub, "change") || sub == "chg" {
        Ok(AddrCmd::Modify { mode: Modify::Change, addr: addr_modify(rest)? })
    } else if matches(sub, "replace") {
        Ok(AddrCmd::Modify { mode: Modify::Replace, addr: addr_modify(rest)? })
    } else if matches(sub, "delete") {
        addr_delete(rest)
    } else if matches(sub, "list") || matches(sub, "show") || matches(sub, "lst") {
        Ok(AddrCmd::Show(addr_filter(rest)?))
    } else if matches(sub, "flush") {
        if rest.is_empty() {
            return Err(err("Flush requires arguments."));
        }
        Ok(AddrCmd::Flush(addr_filter(rest)?))
    } else {
        Err(err(format!("Command \"{sub}\" is unknown, try \"ip address help\".")))
    }
}

/// What ipaddr_modify reads; shared by add/change/replace and delete.
struct AddrArgs {
    local: Option<(Ipv4Addr, u8, bool)>,
    dev: Option<String>,
    label: Option<String>,
    broadcast: Option<Broadcast>,
    scope: Option<Scope>,
    metric: Option<u32>,
    noprefixroute: bool,
}

fn addr_args(argv: &[String]) -> Result<AddrArgs, CmdError> {
    let mut a = Args::new(argv);
    let mut r = AddrArgs {
        local: None,
        dev: None,
        label: None,
        broadcast: None,
        scope: None,
        metric: None,
        noprefixroute: false,
    };
    while let Some(w) = a.next() {
        if matches(w, "broadcast") || w == "brd" {
            let v = a.value(w, incomplete)?;
            r.broadcast = Some(match v {
                "+" => Broadcast::Plus,
                "-" => Broadcast::Minus,
                _ => Broadcast::Addr(addr(v)?),
            });
        } else if matches(w, "scope") {
            let v = a.value(w, incomplete)?;
            r.scope = Some(Scope::parse(v).ok_or_else(|| invarg("invalid scope value.", v))?);
        } else if w == "dev" {
            r.dev = Some(a.value(w, incomplete)?.to_string());
        } else if w == "label" {
            r.label = Some(a.value(w, incomplete)?.to_string());
        } else if matches(w, "metric") || matches(w, "priority") || matches(w, "preference") {
            let v = a.value(w, incomplete)?;
            r.metric = Some(unsigned("metric", v)?);
        } else if w == "noprefixroute" {
            r.noprefixroute = true;
        } else if ["peer", "remote", "anycast", "valid_lft", "preferred_lft", "home", "nodad", "mngtmpaddr"]
            .contains(&w)
        {
            return Err(unsupported("address", w));
        } else {
            let w = if w == "local" { a.value(w, incomplete)? } else { w };
            if r.local.is_some() {
                return Err(garbage("local", w));
            }
            r.local = Some(prefix(w)?);
        }
    }
    let Some(d) = r.dev.as_deref() else {
        return Err(err("Not enough information: \"dev\" argument is required."));
    };
    if let Some(l) = &r.label
        && !l.starts_with(d)
    {
        return Err(err(format!("\"dev\" ({d}) must match \"label\" ({l}).")));
    }
    r.dev = Some(dev(d));
    Ok(r)
}

fn addr_modify(argv: &[String]) -> Result<AddrSpec, CmdError> {
    let r = addr_args(argv)?;
    let Some((local, prefix_len, _)) = r.local else {
        return Err(err("Not enough information: \"local\" argument is required."));
    };
    Ok(AddrSpec {
        local,
        prefix_len,
        dev: r.dev.unwrap_or_default(),
        label: r.label,
        broadcast: r.broadcast,
        scope: r.scope,
        metric: r.metric,
        noprefixroute: r.noprefixroute,
    })
}

fn addr_delete(argv: &[String]) -> Result<AddrCmd, CmdError> {
    let r = addr_args(argv)?;
    let Some((local, len, written)) = r.local else {
        return Err(err("Not enough information: \"local\" argument is required."));
    };
    Ok(AddrCmd::Del(AddrDel {
        local,
        prefix_len: written.then_some(len),
        dev: r.dev.unwrap_or_default(),
        label: r.label,
    }))
}

fn addr_filter(argv: &[String]) -> Result<AddrFilter, CmdError> {
    let mut a = Args::new(argv);
    let mut f = AddrFilter::default();
    while let Some(w) = a.next() {
        match w {
            "to" => {
                let (p, l, _) = prefix(a.value(w, incomplete)?)?;
                f.to = Some((p, l));
            }
            "scope" => {
                let v = a.value(w, incomplete)?;
                f.scope = Some(Scope::parse(v).ok_or_else(|| invarg("invalid \"scope\"", v))?);
            }
            "up" => f.up = true,
            "label" => f.label = Some(a.value(w, incomplete)?.to_string()),
            _ => {
                let d = if w == "dev" { a.value(w, incomplete)? } else { w };
                if f.dev.is_some() {
                    return Err(garbage("dev", d));
                }
                f.dev = Some(dev(d));
            }
        }
    }
    Ok(f)
}

fn parse_link(argv: &[String]) -> Result<LinkCmd, CmdError> {
    let mut a = Args::new(argv);
    let Some(sub) = a.next() else { return Ok(LinkCmd::Show { dev: None, up: false }) };
    // iplink.c's order: add, change|set, replace, delete, show|lst|list.
    if matches(sub, "add") || matches(sub, "replace") || matches(sub, "delete") {
        Err(unsupported("link", sub))
    } else if matches(sub, "change") || matches(sub, "set") {
        link_set(a.rest())
    } else if matches(sub, "show") || matches(sub, "lst") || matches(sub, "list") {
        let mut d = None;
        let mut up = false;
        while let Some(w) = a.next() {
            if w == "up" {
                up = true;
                continue;
            }
            let name = if w == "dev" { a.value(w, incomplete)? } else { w };
            if d.is_some() {
                return Err(garbage("dev", name));
            }
            d = Some(dev(name));
        }
        Ok(LinkCmd::Show { dev: d, up })
    } else {
        Err(err(format!("Command \"{sub}\" is unknown, try \"ip link help\".")))
    }
}

fn on_off(key: &str, v: &str) -> Result<bool, CmdError> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(err(format!("Error: argument of \"{key}\" must be \"on\" or \"off\", not \"{v}\""))),
    }
}

fn link_set(argv: &[String]) -> Result<LinkCmd, CmdError> {
    let mut a = Args::new(argv);
    let mut name: Option<&str> = None;
    let mut changes = Vec::new();
    while let Some(w) = a.next() {
        let change = match w {
            "up" => LinkChange::Up,
            "down" => LinkChange::Down,
            "mtu" => LinkChange::Mtu(unsigned("mtu", a.value(w, incomplete)?)?),
            "arp" => LinkChange::Arp(on_off(w, a.value(w, incomplete)?)?),
            "promisc" => LinkChange::Promisc(on_off(w, a.value(w, incomplete)?)?),
            "multicast" => LinkChange::Multicast(on_off(w, a.value(w, incomplete)?)?),
            "allmulticast" => LinkChange::Allmulticast(on_off(w, a.value(w, incomplete)?)?),
            _ if matches(w, "link") => return Err(unsupported("link set", w)),
            _ if matches(w, "address") => {
                let v = a.value(w, incomplete)?;
                LinkChange::Address(v.parse().map_err(|_| err(format!("\"{v}\" is invalid lladdr.")))?)
            }
            _ if ["name", "index", "txqueuelen", "qlen", "txqlen", "netns", "alias", "master", "nomaster", "vf"]
                .contains(&w)
                || matches(w, "broadcast")
                || w == "brd" =>
            {
                return Err(unsupported("link set", w));
            }
            _ => {
                let d = if w == "dev" { a.value(w, incomplete)? } else { w };
                if name.is_some() {
                    return Err(garbage("dev", d));
                }
                name = Some(d);
                continue;
            }
        };
        changes.push(change);
    }
    let Some(name) = name else {
        return Err(err("Not enough information: \"dev\" argument is required."));
    };
    Ok(LinkCmd::Set { dev: dev(name), changes })
}

/// rtnl_rtprot_a2n for the names a tutorial uses.
fn protocol(text: &str) -> Result<u8, CmdError> {
    Ok(match text {
        "redirect" => 1,
        "kernel" => 2,
        "boot" => 3,
        "static" => 4,
        "ra" => 9,
        "dhcp" => 16,
        "keepalived" => 18,
        _ => number(text)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| invarg("\"protocol\" value is invalid", text))?,
    })
}

fn table(text: &str) -> Result<Table, CmdError> {
    match text {
        "main" | "254" => Ok(Table::Main),
        "local" | "255" => Ok(Table::Local),
        _ => Err(err(format!(
            "ip route: table `{text}` is not supported by lvs-lab (only main and local: no policy routing)"
        ))),
    }
}

fn parse_route(argv: &[String]) -> Result<RouteCmd, CmdError> {
    let mut a = Args::new(argv);
    let Some(sub) = a.next() else { return Ok(RouteCmd::Show(RouteFilter::default())) };
    let rest = a.rest();
    // iproute.c's order: add, change|chg, replace, prepend, append, test, delete,
    // list|show|lst, get, flush, save, restore, showdump.
    if matches(sub, "add") {
        Ok(RouteCmd::Modify { mode: Modify::Add, route: route_spec(rest)? })
    } else if matches(sub, "change") || sub == "chg" {
        Ok(RouteCmd::Modify { mode: Modify::Change, route: route_spec(rest)? })
    } else if matches(sub, "replace") {
        Ok(RouteCmd::Modify { mode: Modify::Replace, route: route_spec(rest)? })
    } else if matches(sub, "prepend") || matches(sub, "append") || matches(sub, "test") {
        Err(unsupported("route", sub))
    } else if matches(sub, "delete") {
        Ok(RouteCmd::Del(route_spec(rest)?))
    } else if matches(sub, "list") || matches(sub, "show") || matches(sub, "lst") {
        Ok(RouteCmd::Show(route_filter(rest)?))
    } else if matches(sub, "get") {
        route_get(rest)
    } else if matches(sub, "flush") {
        if rest.len() == 1 && rest[0] == "cache" {
            return Ok(RouteCmd::FlushCache);
        }
        if rest.is_empty() {
            return Err(err("\"ip route flush\" requires arguments."));
        }
        Ok(RouteCmd::Flush(route_filter(rest)?))
    } else if matches(sub, "save") || matches(sub, "restore") || matches(sub, "showdump") {
        Err(unsupported("route", sub))
    } else {
        Err(err(format!("Command \"{sub}\" is unknown, try \"ip route help\".")))
    }
}

fn route_type(word: &str) -> Option<Result<RouteType, CmdError>> {
    // rtnl_rtntype_a2n, tried only on words not starting with a digit.
    Some(Ok(match word {
        "unicast" => RouteType::Unicast,
        "local" => RouteType::Local,
        "blackhole" => RouteType::Blackhole,
        "unreachable" => RouteType::Unreachable,
        "prohibit" => RouteType::Prohibit,
        "broadcast" | "anycast" | "multicast" | "throw" | "nat" | "xresolve" => {
            return Some(Err(unsupported("route type", word)));
        }
        _ => return None,
    }))
}

fn route_spec(argv: &[String]) -> Result<RouteSpec, CmdError> {
    let mut a = Args::new(argv);
    let mut r = RouteSpec {
        kind: None,
        dst: Ipv4Addr::UNSPECIFIED,
        prefix_len: 0,
        via: None,
        dev: None,
        src: None,
        metric: None,
        scope: None,
        protocol: None,
        table: None,
        onlink: false,
        mtu: None,
    };
    let mut dst_ok = false;
    while let Some(w) = a.next() {
        match w {
            "src" => r.src = Some(addr(a.value(w, incomplete)?)?),
            "via" => {
                let v = a.value(w, incomplete)?;
                let v = if v == "inet" { a.value(w, incomplete)? } else { v };
                r.via = Some(addr(v)?);
            }
            "scope" => {
                let v = a.value(w, incomplete)?;
                r.scope = Some(Scope::parse(v).ok_or_else(|| invarg("invalid \"scope\" value", v))?);
            }
            "mtu" => {
                let v = a.value(w, incomplete)?;
                let v = if v == "lock" { a.value(w, incomplete)? } else { v };
                r.mtu = Some(unsigned("mtu", v)?);
            }
            "onlink" => r.onlink = true,
            "dev" | "oif" => r.dev = Some(dev(a.value(w, incomplete)?)),
            "preference" => r.metric = Some(unsigned("metric", a.value(w, incomplete)?)?),
            _ if matches(w, "metric") || matches(w, "priority") => {
                r.metric = Some(unsigned("metric", a.value(w, incomplete)?)?)
            }
            _ if matches(w, "protocol") => r.protocol = Some(protocol(a.value(w, incomplete)?)?),
            _ if matches(w, "table") => r.table = Some(table(a.value(w, incomplete)?)?),
            "from" | "tos" | "as" | "expires" | "hoplimit" | "advmss" | "realm" | "realms" | "nexthop" | "nhid"
            | "rtt" | "rttvar" | "window" | "cwnd" | "initcwnd" | "initrwnd" | "features" | "quickack" | "congctl"
            | "pref" | "encap" | "ttl-propagate" | "vrf" | "ssthresh" | "reordering" => {
                return Err(unsupported("route", w));
            }
            _ => {
                let mut w = if w == "to" { a.value(w, incomplete)? } else { w };
                if !w.starts_with(|c: char| c.is_ascii_digit())
                    && let Some(kind) = route_type(w)
                {
                    r.kind = Some(kind?);
                    w = a.value(w, incomplete)?;
                }
                if dst_ok {
                    return Err(garbage("to", w));
                }
                let (d, l, _) = prefix(w)?;
                if u32::from(d) & !u32::from(super::args::len_mask(l)) != 0 {
                    return Err(err(format!("Error: Invalid prefix for given prefix length: {w}")));
                }
                (r.dst, r.prefix_len) = (d, l);
                dst_ok = true;
            }
        }
    }
    if !dst_ok {
        return Err(err("Error: need at least a destination address (`default` or a prefix)."));
    }
    Ok(r)
}

fn route_filter(argv: &[String]) -> Result<RouteFilter, CmdError> {
    let mut a = Args::new(argv);
    let mut f = RouteFilter::default();
    while let Some(w) = a.next() {
        match w {
            "dev" | "oif" => f.dev = Some(dev(a.value(w, incomplete)?)),
            _ if matches(w, "table") => f.table = Some(table(a.value(w, incomplete)?)?),
            _ if matches(w, "protocol") => f.protocol = Some(protocol(a.value(w, incomplete)?)?),
            "scope" | "type" | "via" | "src" | "root" | "match" | "from" | "tos" | "cache" | "cloned" | "iif" => {
                return Err(unsupported("route show", w));
            }
            _ => {
                let w = if w == "to" || w == "exact" { a.value(w, incomplete)? } else { w };
                if f.to.is_some() {
                    return Err(garbage("to", w));
                }
                let (p, l, _) = prefix(w)?;
                f.to = Some((p, l));
            }
        }
    }
    Ok(f)
}

fn route_get(argv: &[String]) -> Result<RouteCmd, CmdError> {
    let mut a = Args::new(argv);
    let (mut dst, mut from, mut oif) = (None, None, None);
    while let Some(w) = a.next() {
        match w {
            "from" => from = Some(addr(a.value(w, incomplete)?)?),
            "oif" | "dev" => oif = Some(dev(a.value(w, incomplete)?)),
            "iif" | "tos" | "mark" | "uid" | "ipproto" | "sport" | "dport" | "vrf" | "connected" | "fibmatch" => {
                return Err(unsupported("route get", w));
            }
            _ => {
                let w = if w == "to" { a.value(w, incomplete)? } else { w };
                if dst.is_some() {
                    return Err(garbage("to", w));
                }
                dst = Some(addr(w.split('/').next().unwrap_or(w))?);
            }
        }
    }
    let dst = dst.ok_or_else(|| err("need at least a destination address"))?;
    Ok(RouteCmd::Get { dst, from, oif })
}

fn parse_neigh(argv: &[String]) -> Result<NeighCmd, CmdError> {
    let mut a = Args::new(argv);
    let Some(sub) = a.next() else { return Ok(NeighCmd::Show(NeighFilter::default())) };
    let rest = a.rest();
    // ipneigh.c's order: add, change|chg, replace, delete, get, show|lst|list, flush.
    if matches(sub, "add") {
        Ok(NeighCmd::Modify { mode: Modify::Add, entry: neigh_entry(rest)? })
    } else if matches(sub, "change") || sub == "chg" {
        Ok(NeighCmd::Modify { mode: Modify::Change, entry: neigh_entry(rest)? })
    } else if matches(sub, "replace") {
        Ok(NeighCmd::Modify { mode: Modify::Replace, entry: neigh_entry(rest)? })
    } else if matches(sub, "delete") {
        let e = neigh_entry(rest)?;
        Ok(NeighCmd::Del { dst: e.dst, dev: e.dev })
    } else if matches(sub, "get") {
        Err(unsupported("neigh", sub))
    } else if matches(sub, "show") || matches(sub, "lst") || matches(sub, "list") {
        Ok(NeighCmd::Show(neigh_filter(rest)?))
    } else if matches(sub, "flush") {
        if rest.is_empty() {
            return Err(err("Flush requires arguments."));
        }
        Ok(NeighCmd::Flush(neigh_filter(rest)?))
    } else {
        Err(err(format!("Command \"{sub}\" is unknown, try \"ip neigh help\".")))
    }
}

fn neigh_entry(argv: &[String]) -> Result<NeighEntry, CmdError> {
    let mut a = Args::new(argv);
    let (mut dst, mut lladdr, mut nud, mut d) = (None, None, Nud::Permanent, None);
    while let Some(w) = a.next() {
        if matches(w, "lladdr") {
            let v = a.value(w, incomplete)?;
            lladdr = Some(v.parse::<MacAddr>().map_err(|_| err(format!("\"{v}\" is invalid lladdr.")))?);
        } else if w == "nud" {
            let v = a.value(w, incomplete)?;
            nud = Nud::parse(v).ok_or_else(|| invarg("nud state is bad", v))?;
        } else if w == "dev" {
            d = Some(dev(a.value(w, incomplete)?));
        } else if matches(w, "proxy") || matches(w, "router") || matches(w, "extern_learn") || matches(w, "protocol") {
            return Err(unsupported("neigh", w));
        } else {
            let w = if w == "to" { a.value(w, incomplete)? } else { w };
            if dst.is_some() {
                return Err(garbage("to", w));
            }
            dst = Some(addr(w)?);
        }
    }
    match (dst, d) {
        (Some(dst), Some(dev)) => Ok(NeighEntry { dst, lladdr, nud, dev }),
        _ => Err(CmdError::with_status("Device and destination are required arguments.", 255)),
    }
}

fn neigh_filter(argv: &[String]) -> Result<NeighFilter, CmdError> {
    let mut a = Args::new(argv);
    let mut f = NeighFilter::default();
    while let Some(w) = a.next() {
        match w {
            "dev" => f.dev = Some(dev(a.value(w, incomplete)?)),
            "nud" => {
                let v = a.value(w, incomplete)?;
                f.nud = Some(if v == "all" {
                    None
                } else {
                    Some(Nud::parse(v).ok_or_else(|| invarg("nud state is bad", v))?)
                });
            }
            "unused" | "proxy" | "vrf" | "master" => return Err(unsupported("neigh show", w)),
            _ => {
                let w = if w == "to" { a.value(w, incomplete)? } else { w };
                if f.to.is_some() {
                    return Err(garbage("to", w));
                }
                let (p, l, _) = prefix(w)?;
                f.to = Some((p, l));
            }
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(line: &str) -> Result<Ip, CmdError> {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&argv)
    }

    fn cmd(line: &str) -> IpCmd {
        ip(line).unwrap_or_else(|e| panic!("{line}: {e}")).cmd
    }

    const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

    #[test]
    fn address_add_and_abbreviations() {
        let want = IpCmd::Addr(AddrCmd::Modify {
            mode: Modify::Add,
            addr: AddrSpec {
                local: VIP,
                prefix_len: 32,
                dev: "lo".into(),
                label: Some("lo:0".into()),
                broadcast: Some(Broadcast::Addr(VIP)),
                scope: Some(Scope::Host),
                metric: None,
                noprefixroute: false,
            },
        });
        for line in [
            "addr add 10.0.0.100/32 broadcast 10.0.0.100 scope host label lo:0 dev lo",
            "a a 10.0.0.100 brd 10.0.0.100 scope host dev lo label lo:0",
            "-4 address add local 10.0.0.100/32 b 10.0.0.100 sc 254 label lo:0 dev lo",
        ] {
            assert_eq!(cmd(line), want, "{line}");
        }
        let IpCmd::Addr(AddrCmd::Modify { addr, .. }) = cmd("ad add 192.168.1.5/24 brd + dev eth0") else { panic!() };
        assert_eq!((addr.prefix_len, addr.broadcast), (24, Some(Broadcast::Plus)));
        assert!(matches!(cmd("a r 10.0.0.1/8 dev eth0"), IpCmd::Addr(AddrCmd::Modify { mode: Modify::Replace, .. })));
        assert!(matches!(cmd("a chg 10.0.0.1/8 dev eth0"), IpCmd::Addr(AddrCmd::Modify { mode: Modify::Change, .. })));
    }

    #[test]
    fn address_delete_alias_dev_and_wildcard() {
        // Seed 000 §9: `ip addr del 10.15.62.208 dev eth0:1`.
        assert_eq!(
            cmd("addr del 10.15.62.208 dev eth0:1"),
            IpCmd::Addr(AddrCmd::Del(AddrDel {
                local: Ipv4Addr::new(10, 15, 62, 208),
                prefix_len: None,
                dev: "eth0".into(),
                label: None
            }))
        );
        let IpCmd::Addr(AddrCmd::Del(d)) = cmd("a d 10.0.0.1/24 dev eth0") else { panic!() };
        assert_eq!(d.prefix_len, Some(24));
    }

    #[test]
    fn address_show_and_flush() {
        assert_eq!(cmd("addr"), IpCmd::Addr(AddrCmd::Show(AddrFilter::default())));
        assert_eq!(cmd("a"), IpCmd::Addr(AddrCmd::Show(AddrFilter::default())));
        let IpCmd::Addr(AddrCmd::Show(f)) = cmd("a s dev eth0 up") else { panic!() };
        assert_eq!((f.dev.as_deref(), f.up), (Some("eth0"), true));
        let IpCmd::Addr(AddrCmd::Show(f)) = cmd("addr list eth0") else { panic!() };
        assert_eq!(f.dev.as_deref(), Some("eth0"));
        let IpCmd::Addr(AddrCmd::Flush(f)) = cmd("addr flush dev eth0 label eth0:1") else { panic!() };
        assert_eq!(f.label.as_deref(), Some("eth0:1"));
        assert!(ip("addr flush").unwrap_err().message.contains("Flush requires arguments"));
    }

    #[test]
    fn address_errors() {
        assert!(ip("addr add 10.0.0.1/24").unwrap_err().message.contains("\"dev\" argument is required"));
        assert!(ip("addr add 10.0.0.300/24 dev eth0").unwrap_err().message.contains("valid prefix"));
        assert!(ip("addr add 10.0.0.1/24 dev eth1 label eth0:1").unwrap_err().message.contains("must match"));
        assert!(ip("addr add 10.0.0.1 10.0.0.2 dev eth0").unwrap_err().message.contains("garbage"));
        assert!(ip("addr add 10.0.0.1 peer 10.0.0.2 dev eth0").unwrap_err().message.contains("not supported"));
        assert!(ip("-6 addr").is_err());
        assert!(ip("addr add fe80::1/64 dev eth0").unwrap_err().message.contains("IPv4 only"));
        assert!(ip("addr frob").unwrap_err().message.contains("Command \"frob\" is unknown"));
        assert!(ip("frob").unwrap_err().message.contains("Object \"frob\" is unknown"));
        assert!(ip("addr add 10.0.0.1 dev").unwrap_err().message.contains("not complete"));
        assert!(ip("rule add from all").unwrap_err().message.contains("not supported"));
    }

    #[test]
    fn link_set_and_show() {
        assert_eq!(
            cmd("link set dev eth0 down mtu 1400 arp off address 02:00:00:00:00:09 up"),
            IpCmd::Link(LinkCmd::Set {
                dev: "eth0".into(),
                changes: vec![
                    LinkChange::Down,
                    LinkChange::Mtu(1400),
                    LinkChange::Arp(false),
                    LinkChange::Address("02:00:00:00:00:09".parse().unwrap()),
                    LinkChange::Up
                ]
            })
        );
        assert_eq!(cmd("l s eth1 up"), IpCmd::Link(LinkCmd::Set { dev: "eth1".into(), changes: vec![LinkChange::Up] }));
        assert_eq!(cmd("link sh"), IpCmd::Link(LinkCmd::Show { dev: None, up: false }));
        assert_eq!(cmd("li show dev lo"), IpCmd::Link(LinkCmd::Show { dev: Some("lo".into()), up: false }));
        assert!(ip("link set eth0 arp maybe").is_err());
        assert!(ip("link set up").unwrap_err().message.contains("\"dev\""));
        assert!(ip("link add veth0 type veth").unwrap_err().message.contains("not supported"));
    }

    #[test]
    fn route_forms() {
        let IpCmd::Route(RouteCmd::Modify { mode: Modify::Add, route }) =
            cmd("route add default via 192.168.31.1 dev eth0 metric 100 proto static onlink")
        else {
            panic!()
        };
        assert_eq!((route.dst, route.prefix_len), (Ipv4Addr::UNSPECIFIED, 0));
        assert_eq!(route.via, Some(Ipv4Addr::new(192, 168, 31, 1)));
        assert_eq!((route.metric, route.protocol, route.onlink), (Some(100), Some(4), true));
        let IpCmd::Route(RouteCmd::Modify { route, .. }) = cmd("r a 10.0.0.100 dev lo scope host src 10.0.0.100")
        else {
            panic!()
        };
        assert_eq!((route.prefix_len, route.scope, route.src), (32, Some(Scope::Host), Some(VIP)));
        let IpCmd::Route(RouteCmd::Modify { route, .. }) = cmd("ro add blackhole 10.9.0.0/16") else { panic!() };
        assert_eq!(route.kind, Some(RouteType::Blackhole));
        let IpCmd::Route(RouteCmd::Modify { route, .. }) = cmd("route add local 10.0.0.0/8 dev lo table local") else {
            panic!()
        };
        assert_eq!((route.kind, route.table), (Some(RouteType::Local), Some(Table::Local)));
        let IpCmd::Route(RouteCmd::Del(route)) = cmd("r d 10.1.0.0/16") else { panic!() };
        assert_eq!((route.via, route.dev, route.kind), (None, None, None));
        assert!(matches!(
            cmd("route replace default via 10.0.0.1"),
            IpCmd::Route(RouteCmd::Modify { mode: Modify::Replace, .. })
        ));
        assert!(matches!(
            cmd("route change default via 10.0.0.1"),
            IpCmd::Route(RouteCmd::Modify { mode: Modify::Change, .. })
        ));
        assert_eq!(cmd("route"), IpCmd::Route(RouteCmd::Show(RouteFilter::default())));
        assert_eq!(
            cmd("ro show table local"),
            IpCmd::Route(RouteCmd::Show(RouteFilter { table: Some(Table::Local), ..Default::default() }))
        );
        assert_eq!(cmd("route flush cache"), IpCmd::Route(RouteCmd::FlushCache));
        assert_eq!(
            cmd("route get 10.0.0.100 from 10.0.0.1"),
            IpCmd::Route(RouteCmd::Get { dst: VIP, from: Some(Ipv4Addr::new(10, 0, 0, 1)), oif: None })
        );
        assert!(ip("route add 10.0.0.0/8 table 100").unwrap_err().message.contains("policy routing"));
        assert!(ip("route add 10.0.0.1/8 dev eth0").unwrap_err().message.contains("Invalid prefix"));
        assert!(ip("route add via 10.0.0.1").is_err());
        assert!(ip("route add throw 10.0.0.0/8").unwrap_err().message.contains("not supported"));
        assert!(ip("route add 10.0.0.0/8 nexthop via 10.0.0.1").unwrap_err().message.contains("not supported"));
    }

    #[test]
    fn neighbours() {
        assert_eq!(
            cmd("neigh add 10.0.0.1 lladdr 02:00:00:00:00:01 nud reachable dev eth0"),
            IpCmd::Neigh(NeighCmd::Modify {
                mode: Modify::Add,
                entry: NeighEntry {
                    dst: Ipv4Addr::new(10, 0, 0, 1),
                    lladdr: Some("02:00:00:00:00:01".parse().unwrap()),
                    nud: Nud::Reachable,
                    dev: "eth0".into()
                }
            })
        );
        let IpCmd::Neigh(NeighCmd::Modify { mode: Modify::Replace, entry }) =
            cmd("n r 10.0.0.1 lla 02:00:00:00:00:01 dev eth0")
        else {
            panic!()
        };
        assert_eq!(entry.nud, Nud::Permanent);
        let IpCmd::Neigh(NeighCmd::Modify { entry, .. }) = cmd("neighbour change 10.0.0.1 nud perm dev eth0") else {
            panic!()
        };
        assert_eq!(entry.nud, Nud::Permanent);
        assert_eq!(
            cmd("neighbor del 10.0.0.1 dev eth0"),
            IpCmd::Neigh(NeighCmd::Del { dst: Ipv4Addr::new(10, 0, 0, 1), dev: "eth0".into() })
        );
        assert_eq!(
            cmd("n f all"),
            IpCmd::Neigh(NeighCmd::Flush(NeighFilter { to: Some((Ipv4Addr::UNSPECIFIED, 0)), ..Default::default() }))
        );
        assert_eq!(
            cmd("-s -s neigh flush dev eth0 nud all"),
            IpCmd::Neigh(NeighCmd::Flush(NeighFilter { dev: Some("eth0".into()), nud: Some(None), to: None }))
        );
        assert_eq!(cmd("n"), IpCmd::Neigh(NeighCmd::Show(NeighFilter::default())));
        assert!(
            ip("neigh add 10.0.0.1 lladdr 02:00:00:00:00:01").unwrap_err().message.contains("Device and destination")
        );
        assert!(ip("neigh flush").is_err());
        assert!(ip("neigh add 10.0.0.1 nud sleepy dev eth0").is_err());
    }

    #[test]
    fn global_options() {
        let i = ip("-s -d -j -o -br addr").unwrap();
        assert_eq!(i.opts, IpOptions { stats: true, details: true, json: true, oneline: true, brief: true });
        assert!(ip("-stats -statistics -4 -family inet route").unwrap().opts.stats);
        assert!(ip("-x addr").is_err());
        assert!(ip("").is_err());
    }
}
