//! `ifconfig` from net-tools.
//!
//! net-tools walks the arguments left to right and issues one ioctl per word, so the
//! typed form is that list of ioctls, in order ([`IfconfigOp`]). What follows from it
//! is the kernel's business (the machine models `devinet_ioctl`):
//! - an address (`SIOCSIFADDR`) gets the *classful* mask of the address (/8 for 10.x)
//!   and its broadcast; a later `netmask` changes the prefix and recomputes the
//!   broadcast only when it was the computed one and the new prefix is below /31,
//!   which is why `ifconfig eth0:1 10.1.2.3 netmask 255.255.255.255` ends up with
//!   `brd 10.255.255.255`;
//! - `ADDR/LEN` sets the netmask *before* the address (net-tools' order);
//! - after an address, net-tools sets `IFF_UP|IFF_RUNNING`, so the list has an
//!   [`IfconfigOp::Up`] after every [`IfconfigOp::Address`];
//! - on an alias (`eth0:1`), `down` deletes the labelled address, while `up` and the
//!   other flags act on the whole device.

use super::args::{Args, ipv4, mask_len, prefix_len};
use crate::node::CmdError;
use crate::wire::MacAddr;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ifconfig {
    /// `ifconfig` (interfaces that are up), `ifconfig -a`, `ifconfig IF`.
    Show { all: bool, iface: Option<String> },
    /// `ifconfig IF[:LABEL] [inet] ...`: `iface` is what was typed, alias included.
    Set { iface: String, ops: Vec<IfconfigOp> },
}

/// One ioctl of `ifconfig IF ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfconfigOp {
    /// `SIOCSIFADDR`: creates the (alias) address or changes it.
    Address(Ipv4Addr),
    /// `SIOCSIFNETMASK`, as a prefix length (non-contiguous masks are rejected).
    Netmask(u8),
    /// `broadcast ADDR` (`SIOCSIFBRDADDR`) then `IFF_BROADCAST`; `broadcast` alone
    /// only sets the flag.
    Broadcast(Option<Ipv4Addr>),
    /// `-broadcast`: clears `IFF_BROADCAST`.
    NoBroadcast,
    Up,
    /// `down`; on an alias this deletes the alias's address.
    Down,
    Mtu(u32),
    /// `hw ether MAC`.
    HwEther(MacAddr),
    /// `arp` / `-arp` (clears / sets `IFF_NOARP`).
    Arp(bool),
    Promisc(bool),
    Multicast(bool),
    Allmulti(bool),
}

fn usage(detail: &str) -> CmdError {
    CmdError::usage(format!(
        "ifconfig: {detail}\nUsage: ifconfig [-a] [interface]\n       ifconfig <interface> [inet] [<address>[/<len>]] [netmask <mask>] [broadcast <address>] [up|down] [mtu <N>] [hw ether <MAC>] [[-]arp] (the lvs-lab subset)"
    ))
}

/// Parses `ifconfig ARGS...` (the arguments after `ifconfig`).
pub fn parse(argv: &[String]) -> Result<Ifconfig, CmdError> {
    let mut a = Args::new(argv);
    let mut all = false;
    // net-tools ignores options it does not know; `-s` and `-v` only change output.
    while let Some(opt) = a.peek().filter(|o| o.starts_with('-')) {
        a.next();
        match opt {
            "-a" => all = true,
            "-v" | "-s" => {}
            _ => return Err(usage(&format!("option `{opt}` is not supported by lvs-lab"))),
        }
    }
    let Some(iface) = a.next() else { return Ok(Ifconfig::Show { all, iface: None }) };
    if a.is_empty() {
        return Ok(Ifconfig::Show { all, iface: Some(iface.to_string()) });
    }
    match a.peek() {
        Some("inet") => {
            a.next();
        }
        Some(af @ ("inet6" | "unix" | "ax25" | "ipx" | "ddp" | "netrom")) => {
            return Err(usage(&format!("address family `{af}` is not supported by lvs-lab (IPv4 only)")));
        }
        _ => {}
    }
    let mut ops = Vec::new();
    let mut did_netmask = false;
    while let Some(w) = a.next() {
        let op = match w {
            "arp" => IfconfigOp::Arp(true),
            "-arp" => IfconfigOp::Arp(false),
            "promisc" => IfconfigOp::Promisc(true),
            "-promisc" => IfconfigOp::Promisc(false),
            "multicast" => IfconfigOp::Multicast(true),
            "-multicast" => IfconfigOp::Multicast(false),
            "allmulti" => IfconfigOp::Allmulti(true),
            "-allmulti" => IfconfigOp::Allmulti(false),
            "up" => IfconfigOp::Up,
            "down" => IfconfigOp::Down,
            "-broadcast" => IfconfigOp::NoBroadcast,
            "mtu" => {
                let v = a.next().ok_or_else(|| usage("`mtu` needs a value"))?;
                IfconfigOp::Mtu(v.parse().map_err(|_| usage(&format!("invalid mtu `{v}`")))?)
            }
            "broadcast" => match a.next() {
                Some(v) => IfconfigOp::Broadcast(Some(
                    ipv4(v).ok_or_else(|| CmdError::with_status(format!("{v}: Unknown host"), 1))?,
                )),
                None => IfconfigOp::Broadcast(None),
            },
            "netmask" => {
                let v = a.next().filter(|_| !did_netmask).ok_or_else(|| usage("one `netmask` with a value"))?;
                did_netmask = true;
                IfconfigOp::Netmask(netmask(v)?)
            }
            "hw" => {
                let class = a.next().ok_or_else(|| usage("`hw` needs a class and an address"))?;
                if class != "ether" {
                    return Err(usage(&format!("hardware class `{class}` is not supported by lvs-lab (ether)")));
                }
                let v = a.next().ok_or_else(|| usage("`hw ether` needs an address"))?;
                IfconfigOp::HwEther(
                    v.parse().map_err(|_| CmdError::with_status(format!("{v}: invalid ether address."), 1))?,
                )
            }
            "metric" | "dstaddr" | "pointopoint" | "-pointopoint" | "txqueuelen" | "add" | "del" | "tunnel"
            | "mem_start" | "io_addr" | "irq" | "media" | "port" | "trailers" | "-trailers" | "dynamic"
            | "-dynamic" | "keepalive" | "outfill" => {
                return Err(usage(&format!("`{w}` is not supported by lvs-lab")));
            }
            _ => {
                let (host, len) = match w.split_once('/') {
                    Some((h, l)) => (h, Some(prefix_len(l).ok_or_else(|| usage(&format!("bad prefix in `{w}`")))?)),
                    None => (w, None),
                };
                if let Some(len) = len {
                    if did_netmask {
                        return Err(usage("both `netmask` and `/len`"));
                    }
                    did_netmask = true;
                    ops.push(IfconfigOp::Netmask(len));
                }
                let addr = ipv4(host).ok_or_else(|| {
                    CmdError::with_status(
                        format!("{host}: Unknown host\nifconfig: `--help' gives usage information."),
                        1,
                    )
                })?;
                ops.push(IfconfigOp::Address(addr));
                IfconfigOp::Up
            }
        };
        ops.push(op);
    }
    Ok(Ifconfig::Set { iface: iface.to_string(), ops })
}

fn netmask(v: &str) -> Result<u8, CmdError> {
    let m = ipv4(v).ok_or_else(|| CmdError::with_status(format!("{v}: Unknown host"), 1))?;
    mask_len(m).ok_or_else(|| {
        CmdError::with_status(format!("SIOCSIFNETMASK: Invalid argument ({v} is not a contiguous netmask)"), 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Ifconfig, CmdError> {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&argv)
    }

    #[test]
    fn alias_vip_in_argument_order() {
        let vip = Ipv4Addr::new(10, 15, 144, 120);
        assert_eq!(
            p("eth0:1 10.15.144.120 broadcast 10.15.144.120 netmask 255.255.255.255 up").unwrap(),
            Ifconfig::Set {
                iface: "eth0:1".into(),
                ops: vec![
                    IfconfigOp::Address(vip),
                    IfconfigOp::Up,
                    IfconfigOp::Broadcast(Some(vip)),
                    IfconfigOp::Netmask(32),
                    IfconfigOp::Up
                ]
            }
        );
        assert_eq!(
            p("eth0 inet 10.0.0.1/24").unwrap(),
            Ifconfig::Set {
                iface: "eth0".into(),
                ops: vec![IfconfigOp::Netmask(24), IfconfigOp::Address(Ipv4Addr::new(10, 0, 0, 1)), IfconfigOp::Up]
            }
        );
        assert_eq!(p("eth0:0 down").unwrap(), Ifconfig::Set { iface: "eth0:0".into(), ops: vec![IfconfigOp::Down] });
    }

    #[test]
    fn flags_mtu_hw() {
        assert_eq!(
            p("eth1 -arp mtu 1400 hw ether 02:00:00:00:00:07 promisc -broadcast").unwrap(),
            Ifconfig::Set {
                iface: "eth1".into(),
                ops: vec![
                    IfconfigOp::Arp(false),
                    IfconfigOp::Mtu(1400),
                    IfconfigOp::HwEther("02:00:00:00:00:07".parse().unwrap()),
                    IfconfigOp::Promisc(true),
                    IfconfigOp::NoBroadcast
                ]
            }
        );
    }

    #[test]
    fn show_forms() {
        assert_eq!(p("").unwrap(), Ifconfig::Show { all: false, iface: None });
        assert_eq!(p("-a").unwrap(), Ifconfig::Show { all: true, iface: None });
        assert_eq!(p("eth0").unwrap(), Ifconfig::Show { all: false, iface: Some("eth0".into()) });
    }

    #[test]
    fn errors() {
        assert!(p("eth0 netmask 255.0.255.0").unwrap_err().message.contains("SIOCSIFNETMASK: Invalid argument"));
        assert!(p("eth0 10.0.0.300").unwrap_err().message.contains("Unknown host"));
        assert!(p("eth0 netmask").is_err());
        assert!(p("eth0 netmask 255.0.0.0 netmask 255.0.0.0").is_err());
        assert!(p("eth0 10.0.0.1/24 netmask 255.0.0.0").is_err());
        assert!(p("eth0 inet6 add ::1/128").is_err());
        assert!(p("eth0 hw ax25 x").is_err());
        assert!(p("eth0 pointopoint 10.0.0.2").unwrap_err().message.contains("not supported"));
        assert!(p("-x").is_err());
    }
}
