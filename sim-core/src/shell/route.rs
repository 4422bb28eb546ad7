//! `route` from net-tools (`lib/inet_sr.c`), IPv4 only.
//!
//! `route add|del [-net|-host] TARGET [netmask M] [gw G] [metric N] [reject] [[dev] IF]`:
//! - a dotted TARGET without `-net` is a host route; `default` is 0.0.0.0/0;
//!   `-net X/LEN` sets the mask from the length;
//! - `-net X` without a netmask has mask 0.0.0.0, which the kernel refuses unless X
//!   is 0.0.0.0 (`SIOCADDRT: Invalid argument`);
//! - the device may be given bare, as the *last* word (`route add -host VIP lo:0`),
//!   and keeps its alias: the kernel (`rtentry_to_fib_config`) routes via the base
//!   device and takes the alias's address as the preferred source.

use super::args::{Args, addr_and_len, ipv4, len_mask, mask_len};
use crate::node::CmdError;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `route [-n] [-e]`: the kernel routing table.
    Show {
        numeric: bool,
        extended: bool,
    },
    Add(RouteEntry),
    /// Fields left `None` match any route.
    Del(RouteEntry),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    pub target: Ipv4Addr,
    pub prefix_len: u8,
    /// `RTF_HOST`: a host route (`-host`, or a bare address).
    pub host: bool,
    pub gateway: Option<Ipv4Addr>,
    /// As typed, alias included (`lo:0`).
    pub dev: Option<String>,
    pub metric: Option<u32>,
    /// `reject`: an unreachable route.
    pub reject: bool,
}

const USAGE: &str = "Usage: route [-n] [-e]\n       route {add|del} [-net|-host] target [netmask Nm] [gw Gw] [metric N] [reject] [[dev] If]";

fn usage(detail: &str) -> CmdError {
    CmdError::with_status(format!("route: {detail}\n{USAGE}"), 4)
}

/// Parses `route ARGS...` (the arguments after `route`).
pub fn parse(argv: &[String]) -> Result<Route, CmdError> {
    let mut a = Args::new(argv);
    let (mut numeric, mut extended) = (false, false);
    while let Some(opt) = a.peek().filter(|o| o.starts_with('-') && *o != "-net" && *o != "-host") {
        a.next();
        if opt == "-A" {
            match a.next() {
                Some("inet") => continue,
                other => {
                    return Err(usage(&format!(
                        "address family `{}` is not supported by lvs-lab (inet)",
                        other.unwrap_or("")
                    )));
                }
            }
        }
        for c in opt.chars().skip(1) {
            match c {
                'n' => numeric = true,
                'e' => extended = true,
                'v' | 'F' | '4' => {}
                _ => {
                    return Err(usage(&format!(
                        "option `-{c}` is not supported by lvs-lab (-n, -e, -v, -F, -4, -A inet)"
                    )));
                }
            }
        }
    }
    match a.next() {
        None => Ok(Route::Show { numeric, extended }),
        Some("add") => Ok(Route::Add(entry(a.rest(), true)?)),
        Some("del" | "delete") => Ok(Route::Del(entry(a.rest(), false)?)),
        Some(other) => Err(usage(&format!("`{other}` is not supported by lvs-lab (add, del)"))),
    }
}

fn entry(argv: &[String], add: bool) -> Result<RouteEntry, CmdError> {
    let mut a = Args::new(argv);
    let mut flag = None;
    if let Some(f @ ("-net" | "-host")) = a.peek() {
        flag = Some(f == "-net");
        a.next();
    }
    let target = a.next().ok_or_else(|| usage("a target is required"))?;
    let unknown = || CmdError::with_status(format!("{target}: Unknown host"), 6);
    let (addr, len, is_net) = if target == "default" {
        (Ipv4Addr::UNSPECIFIED, None, true)
    } else {
        let (addr, len) = addr_and_len(target).ok_or_else(unknown)?;
        (addr, len, false)
    };
    let net = flag.unwrap_or(is_net);
    let mut e =
        RouteEntry { target: addr, prefix_len: 32, host: !net, gateway: None, dev: None, metric: None, reject: false };
    let mut mask = len;
    while let Some(w) = a.next() {
        match w {
            "metric" => {
                let v = a.next().filter(|v| v.starts_with(|c: char| c.is_ascii_digit()));
                e.metric = Some(v.and_then(|v| v.parse().ok()).ok_or_else(|| usage("`metric` needs a number"))?);
            }
            "netmask" => {
                let v = a.next().filter(|_| mask.is_none()).ok_or_else(|| usage("one `netmask` with a value"))?;
                let m = ipv4(v).ok_or_else(|| CmdError::with_status(format!("{v}: Unknown host"), 6))?;
                mask = Some(mask_len(m).ok_or_else(|| CmdError::with_status(format!("route: bogus netmask {v}"), 4))?);
            }
            "gw" | "gateway" => {
                let v = a.next().filter(|_| e.gateway.is_none()).ok_or_else(|| usage("one `gw` with an address"))?;
                e.gateway = Some(ipv4(v).ok_or_else(|| CmdError::with_status(format!("{v}: Unknown host"), 6))?);
            }
            "reject" => e.reject = true,
            "dev" | "device" => {
                let v = a.next().filter(|_| e.dev.is_none()).ok_or_else(|| usage("one `dev` with a name"))?;
                e.dev = Some(v.to_string());
            }
            "mss" | "mtu" | "window" | "irtt" | "mod" | "dyn" | "reinstate" => {
                return Err(usage(&format!("`{w}` is not supported by lvs-lab")));
            }
            _ => {
                // net-tools: an unknown word is the device, and it must be the last one.
                if e.dev.is_some() || !a.is_empty() {
                    return Err(usage(&format!("unexpected `{w}` (a bare device name must come last)")));
                }
                e.dev = Some(w.to_string());
            }
        }
    }
    if let Some(len) = mask {
        if e.host && len != 32 {
            return Err(CmdError::with_status(
                format!("route: netmask {} doesn't make sense with host route", len_mask(len)),
                4,
            ));
        }
        if u32::from(addr) & !u32::from(len_mask(len)) != 0 {
            return Err(usage("netmask doesn't match route address"));
        }
    }
    e.prefix_len = if e.host { 32 } else { mask.unwrap_or(0) };
    if !e.host && u32::from(addr) & !u32::from(len_mask(e.prefix_len)) != 0 {
        let op = if add { "SIOCADDRT" } else { "SIOCDELRT" };
        return Err(CmdError::with_status(
            format!("{op}: Invalid argument (`-net {target}` needs a netmask or /len)"),
            7,
        ));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Route, CmdError> {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&argv)
    }

    fn host(t: [u8; 4], dev: &str) -> RouteEntry {
        RouteEntry {
            target: t.into(),
            prefix_len: 32,
            host: true,
            gateway: None,
            dev: Some(dev.into()),
            metric: None,
            reject: false,
        }
    }

    #[test]
    fn host_routes_with_dev_or_bare_device() {
        assert_eq!(p("add -host 10.15.144.120 dev eth0:1").unwrap(), Route::Add(host([10, 15, 144, 120], "eth0:1")));
        // Seed 002's lvs_rs.sh: the device without `dev`.
        assert_eq!(p("add -host 192.168.31.100 lo:0").unwrap(), Route::Add(host([192, 168, 31, 100], "lo:0")));
        let mut del = host([192, 168, 90, 200], "");
        del.dev = None;
        assert_eq!(p("del 192.168.90.200").unwrap(), Route::Del(del));
    }

    #[test]
    fn default_and_net_routes() {
        let gw = Ipv4Addr::new(192, 168, 31, 20);
        let want = RouteEntry {
            target: Ipv4Addr::UNSPECIFIED,
            prefix_len: 0,
            host: false,
            gateway: Some(gw),
            dev: Some("ens33".into()),
            metric: None,
            reject: false,
        };
        assert_eq!(p("add default gw 192.168.31.20 netmask 0.0.0.0 dev ens33").unwrap(), Route::Add(want.clone()));
        assert_eq!(p("add default gw 192.168.31.20 ens33").unwrap(), Route::Add(want.clone()));
        let Route::Del(d) = p("del default gw 192.168.31.20").unwrap() else { panic!() };
        assert_eq!((d.gateway, d.prefix_len, d.dev), (Some(gw), 0, None));
        let Route::Add(n) = p("add -net 10.1.0.0 netmask 255.255.0.0 gw 10.0.0.1 metric 5").unwrap() else { panic!() };
        assert_eq!((n.prefix_len, n.host, n.metric), (16, false, Some(5)));
        let Route::Add(n) = p("add -net 10.1.0.0/16 dev eth1 reject").unwrap() else { panic!() };
        assert_eq!((n.prefix_len, n.reject), (16, true));
    }

    #[test]
    fn show_and_errors() {
        assert_eq!(p("").unwrap(), Route::Show { numeric: false, extended: false });
        assert_eq!(p("-n").unwrap(), Route::Show { numeric: true, extended: false });
        assert_eq!(p("-ne").unwrap(), Route::Show { numeric: true, extended: true });
        assert_eq!(p("-A inet -n").unwrap(), Route::Show { numeric: true, extended: false });
        assert!(p("add -net 10.1.0.0 gw 10.0.0.1").unwrap_err().message.contains("SIOCADDRT: Invalid argument"));
        assert!(p("add -net 10.1.0.1 netmask 255.255.0.0 dev eth0").unwrap_err().message.contains("doesn't match"));
        assert!(p("add -host 10.1.0.1 netmask 255.255.0.0").unwrap_err().message.contains("host route"));
        assert!(p("add -net 10.0.0.0 netmask 255.0.255.0").unwrap_err().message.contains("bogus netmask"));
        assert!(p("add -host 10.0.0.1 eth0 metric 1").unwrap_err().message.contains("must come last"));
        assert!(p("add -host myhost dev eth0").unwrap_err().message.contains("Unknown host"));
        assert!(p("add").is_err());
        assert!(p("flush").is_err());
        assert!(p("-C").is_err());
        assert!(p("add -host 10.0.0.1 mss 1400").unwrap_err().message.contains("not supported"));
    }
}
