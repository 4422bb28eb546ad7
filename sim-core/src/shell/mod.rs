//! Setup scripts as people type them: a small POSIX-sh subset ([`script`]) and typed
//! parsers for the tools of an LVS tutorial. A machine implements [`ShellEnv`]; the
//! shell turns each command line into a [`Command`] and hands it over.
//!
//! Entry points: [`run_script`] / [`run_named_script`] (a script, or one line typed
//! at a machine), [`parse_command_line`] (one line to its typed command) and
//! [`parse_argv`] (an already split command).
//!
//! # The supported subset
//!
//! | Command | Forms | Typed as |
//! |---|---|---|
//! | `ip` | `[-4] [-s] [-d] [-j] [-o] [-br]` then `addr add\|change\|replace\|del\|flush\|show`, `link set\|show`, `route add\|change\|replace\|del\|show\|flush\|get`, `route flush cache`, `neigh add\|change\|replace\|del\|flush\|show`; iproute2 abbreviations (`ip a a`, `ip r d`, `ip n f`) | [`Command::Ip`] ([`ip`]) |
//! | `ifconfig` | `[-a] [IF]`, `IF[:LABEL] [inet] [ADDR[/LEN]] [netmask M] [broadcast B] [-broadcast] [up\|down] [mtu N] [hw ether MAC] [[-]arp] [[-]promisc] [[-]multicast] [[-]allmulti]` | [`Command::Ifconfig`] ([`ifconfig`]) |
//! | `route` | `[-n] [-e]`, `add\|del [-net\|-host] TARGET [netmask M] [gw G] [metric N] [reject] [[dev] IF]`, `add default gw G [IF]` | [`Command::Route`] ([`route`]) |
//! | `netstat` | `-r[n]` (the routing table), `-t\|-u\|-a\|-l\|-n\|-p` (sockets) | [`Command::Route`], [`Command::Sockets`] |
//! | `arp` | `[-n] [-a] [-e] [-i IF] [HOST]`, `-d HOST [-i IF]`, `-s HOST MAC [-i IF] [temp]` | [`Command::Arp`] |
//! | `sysctl` | `[-n] [-N] [-q] [-e] [-w] KEY[=VALUE]...`, `-p [FILE...]`, `-a` | [`Command::Sysctl`] ([`sysctl`]) |
//! | `echo V > /proc/sys/...`, `cat /proc/sys/...` | a sysctl write / read | [`Command::Sysctl`] |
//! | `arping` | `[-AbDfqU] [-c N] [-w T] [-I IF] [-s SRC] TARGET` | [`Command::Arping`] ([`arping`]) |
//! | `iptables` | `[-t filter\|nat\|mangle] -A\|-I [N]\|-D\|-F\|-X\|-Z\|-L\|-S\|-N\|-P ...`, matches `-s -d -p -i -o --dport --sport -m tcp\|udp\|multiport`, targets `ACCEPT DROP RETURN REJECT MASQUERADE SNAT DNAT MARK LOG` or a chain | [`Command::Iptables`] ([`iptables`]) |
//! | `ipvsadm` | anything: parsed by the director | [`Command::Ipvsadm`] |
//! | `keepalived` | anything (`-f FILE`, `-D`, ...): parsed by the director | [`Command::Keepalived`] |
//! | `systemctl ACTION NAME`, `service NAME ACTION`, `/etc/init.d/NAME ACTION` | `start stop restart reload status` (+ `enable disable` for systemctl) | [`Command::Service`] |
//! | `modprobe` | `[-v] [-q] MODULE`, `-r MODULE` (loading `ipip` creates `tunl0`) | [`Command::Modprobe`] |
//! | `sleep` | `N[smhd]...` | [`Command::Sleep`] |
//! | `ss` | `[-t] [-u] [-a] [-l] [-n] [-p]` | [`Command::Sockets`] |
//! | shell builtins | `echo [-n] [-e]`, `true`, `false`, `:`, `exit [N]`, `cat [FILE...]`, `cat > FILE <<EOF`, `export`, `set -e\|-x\|-u`, `.`/`source FILE`, `sh\|bash FILE [ARGS]` and running a script file written earlier | the shell itself |
//! | files | `touch`, `rm [-f] [-r]`, `mkdir [-p]`, `chmod` (modes are not modelled) | the machine's small filesystem |
//! | accepted, no effect | `chkconfig ...`, `logger ...`, `. /etc/rc.d/init.d/functions` | nothing |
//!
//! The shell language itself is described in [`script`]. Everything else is an error
//! naming the line and the command, listing [`SUPPORTED_COMMANDS`].

mod args;
pub mod arping;
pub mod ifconfig;
pub mod ip;
pub mod iptables;
pub mod route;
pub mod script;
pub mod sysctl;

#[cfg(test)]
mod seed_scripts;
#[cfg(test)]
mod tests;

pub use script::{ScriptError, ShellEnv, Site, parse_command_line, run_named_script, run_script, write_mem_file};

use crate::node::CmdError;
use crate::time::Duration;
use args::Args;
use std::net::Ipv4Addr;

/// Every command name the shell accepts, builtins included, for error messages.
pub const SUPPORTED_COMMANDS: &[&str] = &[
    "ip",
    "ifconfig",
    "route",
    "netstat",
    "arp",
    "sysctl",
    "arping",
    "iptables",
    "ipvsadm",
    "keepalived",
    "systemctl",
    "service",
    "/etc/init.d/NAME",
    "modprobe",
    "sleep",
    "ss",
    "echo",
    "true",
    "false",
    ":",
    "exit",
    "cat",
    "export",
    "set",
    ".",
    "source",
    "sh",
    "bash",
    "touch",
    "rm",
    "mkdir",
    "chmod",
    "chkconfig",
    "logger",
    "sudo",
];

/// A command a machine applies (or prints, for the show forms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ip(ip::Ip),
    Ifconfig(ifconfig::Ifconfig),
    Route(route::Route),
    Arp(Arp),
    Sysctl(sysctl::Sysctl),
    Arping(arping::Arping),
    Iptables(iptables::Iptables),
    /// `ipvsadm` and its arguments, for the director's own parser.
    Ipvsadm(Vec<String>),
    /// `keepalived` run directly (`keepalived -f /etc/keepalived/keepalived.conf -D`).
    Keepalived(Vec<String>),
    /// `systemctl`, `service` and `/etc/init.d/` scripts: `name` without `.service`.
    Service {
        name: String,
        action: ServiceAction,
    },
    /// `modprobe MODULE` (`remove`: `modprobe -r`).
    Modprobe {
        module: String,
        remove: bool,
    },
    /// `sleep`: the machine decides what waiting means.
    Sleep(Duration),
    /// `ss` and `netstat` socket listings.
    Sockets(Sockets),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAction {
    Start,
    Stop,
    Restart,
    Reload,
    Status,
    Enable,
    Disable,
}

/// net-tools `arp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arp {
    /// `arp [-n] [-a] [-i IF] [HOST]`; `bsd`: `-a`'s `? (10.0.0.1) at ...` style.
    Show { iface: Option<String>, host: Option<Ipv4Addr>, bsd: bool },
    /// `arp -d HOST [-i IF]`.
    Delete { host: Ipv4Addr, iface: Option<String> },
    /// `arp -s HOST MAC [-i IF] [temp]`: permanent unless `temp`.
    Set { host: Ipv4Addr, mac: crate::wire::MacAddr, iface: Option<String>, temp: bool },
}

/// `ss` / `netstat` socket listings. With neither `tcp` nor `udp`, both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sockets {
    pub netstat: bool,
    pub tcp: bool,
    pub udp: bool,
    /// `-l`: listening sockets only.
    pub listening: bool,
    /// `-a`: listening and connected.
    pub all: bool,
    pub numeric: bool,
}

/// Parses a command already split into fields; `argv[0]` is the name, possibly
/// with a path (`/sbin/ifconfig` is `ifconfig`, `/etc/init.d/keepalived` a service).
/// Shell builtins are not commands: [`run_script`] handles them.
pub fn parse_argv(argv: &[String]) -> Result<Command, CmdError> {
    let Some(first) = argv.first() else { return Err(CmdError::usage("empty command")) };
    let rest = &argv[1..];
    for dir in ["/etc/init.d/", "/etc/rc.d/init.d/"] {
        if let Some(name) = first.strip_prefix(dir) {
            return service(name, rest.first().map(String::as_str), false);
        }
    }
    let name = first.rsplit('/').next().unwrap_or(first);
    Ok(match name {
        "ip" => Command::Ip(ip::parse(rest)?),
        "ifconfig" => Command::Ifconfig(ifconfig::parse(rest)?),
        "route" => Command::Route(route::parse(rest)?),
        "netstat" => netstat(rest)?,
        "arp" => Command::Arp(arp(rest)?),
        "sysctl" => Command::Sysctl(sysctl::parse(rest)?),
        "arping" => Command::Arping(arping::parse(rest)?),
        "iptables" | "iptables-legacy" | "iptables-nft" => Command::Iptables(iptables::parse(rest)?),
        "ipvsadm" => Command::Ipvsadm(rest.to_vec()),
        "keepalived" => Command::Keepalived(rest.to_vec()),
        "systemctl" => systemctl(rest)?,
        "service" => {
            let n = rest.first().ok_or_else(|| {
                CmdError::usage(
                    "Usage: service < option > | --status-all | [ service_name [ command | --full-restart ] ]",
                )
            })?;
            if rest.len() > 2 {
                return Err(CmdError::usage(format!(
                    "service: extra arguments after `{n} {}` are not supported by lvs-lab",
                    rest[1]
                )));
            }
            service(n, rest.get(1).map(String::as_str), false)?
        }
        "modprobe" => modprobe(rest)?,
        "sleep" => Command::Sleep(sleep(rest)?),
        "ss" => Command::Sockets(sockets(rest, false)?),
        _ => return Err(unknown_command(first)),
    })
}

/// The error for a command outside the subset.
pub(crate) fn unknown_command(name: &str) -> CmdError {
    let odd: Vec<String> = name
        .chars()
        .filter(|c| !c.is_ascii() && (c.is_whitespace() || *c == '\u{feff}'))
        .map(|c| format!("U+{:04X}", c as u32))
        .collect();
    let hint = if odd.is_empty() {
        String::new()
    } else {
        format!(" (the name contains a non-ASCII space, {}: retype it)", odd.join(", "))
    };
    CmdError::with_status(
        format!("`{name}`: command not supported by lvs-lab{hint} (supported: {})", SUPPORTED_COMMANDS.join(", ")),
        127,
    )
}

fn service(name: &str, action: Option<&str>, systemd: bool) -> Result<Command, CmdError> {
    let name = name.strip_suffix(".service").unwrap_or(name);
    let action = match action {
        Some("start") => ServiceAction::Start,
        Some("stop") => ServiceAction::Stop,
        Some("restart") => ServiceAction::Restart,
        Some("reload") => ServiceAction::Reload,
        Some("status") => ServiceAction::Status,
        Some("enable") if systemd => ServiceAction::Enable,
        Some("disable") if systemd => ServiceAction::Disable,
        other => {
            return Err(CmdError::usage(format!(
                "{name}: action `{}` is not supported by lvs-lab (start, stop, restart, reload, status{})",
                other.unwrap_or(""),
                if systemd { ", enable, disable" } else { "" }
            )));
        }
    };
    if name.is_empty() || name.starts_with('-') {
        return Err(CmdError::usage(format!("invalid service name `{name}`")));
    }
    Ok(Command::Service { name: name.to_string(), action })
}

fn systemctl(argv: &[String]) -> Result<Command, CmdError> {
    let words: Vec<&str> = argv.iter().map(String::as_str).filter(|w| *w != "-q" && *w != "--quiet").collect();
    match words.as_slice() {
        [action, name] => service(name, Some(action), true),
        _ => Err(CmdError::usage(
            "systemctl: lvs-lab supports `systemctl start|stop|restart|reload|status|enable|disable NAME` (one unit)",
        )),
    }
}

fn modprobe(argv: &[String]) -> Result<Command, CmdError> {
    let mut remove = false;
    let mut module = None;
    for a in argv {
        match a.as_str() {
            "-r" | "--remove" => remove = true,
            "-v" | "--verbose" | "-q" | "--quiet" => {}
            _ if a.starts_with('-') || module.is_some() => {
                return Err(CmdError::usage(format!(
                    "modprobe: `{a}` is not supported by lvs-lab (modprobe [-r] MODULE, without parameters)"
                )));
            }
            _ => module = Some(a.clone()),
        }
    }
    let module = module.ok_or_else(|| CmdError::usage("modprobe: missing module name"))?;
    Ok(Command::Modprobe { module: module.replace('-', "_"), remove })
}

/// GNU sleep: each argument is a number with an optional `s`, `m`, `h` or `d`; they add up.
fn sleep(argv: &[String]) -> Result<Duration, CmdError> {
    if argv.is_empty() {
        return Err(CmdError::with_status("sleep: missing operand", 1));
    }
    let mut total = Duration::ZERO;
    for a in argv {
        let (num, scale) = match a.char_indices().last() {
            Some((i, 's')) => (&a[..i], 1.0),
            Some((i, 'm')) => (&a[..i], 60.0),
            Some((i, 'h')) => (&a[..i], 3600.0),
            Some((i, 'd')) => (&a[..i], 86400.0),
            _ => (a.as_str(), 1.0),
        };
        let secs = num
            .parse::<f64>()
            .ok()
            .filter(|s| {
                s.is_finite() && *s >= 0.0 && !num.starts_with(['+', '-']) && !num.contains(['e', 'E', 'i', 'n'])
            })
            .map(|s| s * scale)
            .filter(|s| *s < 1e9)
            .ok_or_else(|| CmdError::with_status(format!("sleep: invalid time interval '{a}'"), 1))?;
        total += Duration::from_secs_f64(secs);
    }
    Ok(total)
}

fn sockets(argv: &[String], netstat: bool) -> Result<Sockets, CmdError> {
    let mut s = Sockets { netstat, tcp: false, udp: false, listening: false, all: false, numeric: false };
    let tool = if netstat { "netstat" } else { "ss" };
    for a in argv {
        let long = a.strip_prefix("--");
        let flags: Vec<char> = match long {
            Some("tcp") => vec!['t'],
            Some("udp") => vec!['u'],
            Some("listening") => vec!['l'],
            Some("all") => vec!['a'],
            Some("numeric") => vec!['n'],
            Some("processes" | "program") => vec!['p'],
            Some(_) => vec!['?'],
            None => match a.strip_prefix('-') {
                Some(c) if !c.is_empty() => c.chars().collect(),
                _ => vec!['?'],
            },
        };
        for c in flags {
            match c {
                't' => s.tcp = true,
                'u' => s.udp = true,
                'l' => s.listening = true,
                'a' => s.all = true,
                'n' => s.numeric = true,
                'p' | 'e' | 'o' => {}
                _ => {
                    return Err(CmdError::usage(format!(
                        "{tool}: `{a}` is not supported by lvs-lab ({tool} [-t] [-u] [-a] [-l] [-n] [-p])"
                    )));
                }
            }
        }
    }
    Ok(s)
}

fn netstat(argv: &[String]) -> Result<Command, CmdError> {
    let route_flags = |a: &String| {
        a.strip_prefix('-').is_some_and(|c| c.contains('r') && c.chars().all(|c| matches!(c, 'r' | 'n' | 'e')))
    };
    if !argv.is_empty() && argv.iter().all(route_flags) {
        let numeric = argv.iter().any(|a| a.contains('n'));
        let extended = argv.iter().any(|a| a.contains('e'));
        return Ok(Command::Route(route::Route::Show { numeric, extended }));
    }
    Ok(Command::Sockets(sockets(argv, true)?))
}

fn arp(argv: &[String]) -> Result<Arp, CmdError> {
    let usage = |d: &str| {
        CmdError::usage(format!(
            "arp: {d}\nUsage: arp [-n] [-a] [-i IF] [HOST] | arp -d HOST [-i IF] | arp -s HOST MAC [-i IF] [temp]"
        ))
    };
    let host = |h: &str| h.parse::<Ipv4Addr>().map_err(|_| CmdError::with_status(format!("{h}: Unknown host"), 255));
    let mut a = Args::new(argv);
    let (mut iface, mut bsd, mut del, mut set, mut temp) = (None, false, None, None, false);
    let mut target = None;
    while let Some(w) = a.next() {
        match w {
            "-n" | "--numeric" | "-e" | "-v" => {}
            "-a" | "--all" => bsd = true,
            "-an" | "-na" => bsd = true,
            "-i" | "--device" => iface = Some(a.next().ok_or_else(|| usage("-i needs an interface"))?.to_string()),
            "-d" | "--delete" => del = Some(host(a.next().ok_or_else(|| usage("-d needs a host"))?)?),
            "-s" | "--set" => {
                let h = host(a.next().ok_or_else(|| usage("-s needs a host and a MAC"))?)?;
                let m = a.next().ok_or_else(|| usage("-s needs a host and a MAC"))?;
                let mac = m
                    .parse()
                    .map_err(|_| CmdError::with_status(format!("arp: invalid hardware address `{m}`"), 255))?;
                set = Some((h, mac));
            }
            "temp" if set.is_some() => temp = true,
            _ if w.starts_with('-') => return Err(usage(&format!("option `{w}` is not supported by lvs-lab"))),
            _ if target.is_none() && set.is_none() && del.is_none() => target = Some(host(w)?),
            _ => return Err(usage(&format!("unexpected `{w}`"))),
        }
    }
    Ok(match (del, set) {
        (Some(_), Some(_)) => return Err(usage("-d and -s together")),
        (Some(host), None) => Arp::Delete { host, iface },
        (None, Some((host, mac))) => Arp::Set { host, mac, iface, temp },
        (None, None) => Arp::Show { iface, host: target, bsd },
    })
}

#[cfg(test)]
mod command_tests {
    use super::*;

    fn p(line: &str) -> Result<Command, CmdError> {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse_argv(&argv)
    }

    #[test]
    fn services() {
        let svc = |n: &str, a| Command::Service { name: n.into(), action: a };
        assert_eq!(p("systemctl start keepalived").unwrap(), svc("keepalived", ServiceAction::Start));
        assert_eq!(p("systemctl stop firewalld.service").unwrap(), svc("firewalld", ServiceAction::Stop));
        assert_eq!(p("systemctl disable firewalld").unwrap(), svc("firewalld", ServiceAction::Disable));
        assert_eq!(p("service nginx restart").unwrap(), svc("nginx", ServiceAction::Restart));
        assert_eq!(p("/etc/init.d/keepalived start").unwrap(), svc("keepalived", ServiceAction::Start));
        assert_eq!(p("/etc/rc.d/init.d/keepalived status").unwrap(), svc("keepalived", ServiceAction::Status));
        assert!(p("service iptables save").unwrap_err().message.contains("not supported"));
        assert!(p("service nginx enable").is_err());
        assert!(p("systemctl start a b").is_err());
        assert!(p("/etc/init.d/keepalived").is_err());
    }

    #[test]
    fn passthrough_and_benign() {
        assert_eq!(
            p("/sbin/ipvsadm -A -t 10.0.0.1:80 -s wrr").unwrap(),
            Command::Ipvsadm(vec!["-A".into(), "-t".into(), "10.0.0.1:80".into(), "-s".into(), "wrr".into()])
        );
        assert_eq!(
            p("/usr/local/sbin/keepalived -f /usr/local/etc/keepalived/keepalived.conf").unwrap(),
            Command::Keepalived(vec!["-f".into(), "/usr/local/etc/keepalived/keepalived.conf".into()])
        );
        assert_eq!(p("modprobe ipip").unwrap(), Command::Modprobe { module: "ipip".into(), remove: false });
        assert_eq!(p("modprobe -r ip-vs").unwrap(), Command::Modprobe { module: "ip_vs".into(), remove: true });
        assert!(p("modprobe ip_vs conn_tab_bits=20").is_err());
        assert_eq!(p("sleep 2").unwrap(), Command::Sleep(Duration::from_secs(2)));
        assert_eq!(p("sleep 0.5 1m").unwrap(), Command::Sleep(Duration::from_millis(60_500)));
        assert!(p("sleep").is_err());
        assert!(p("sleep -1").is_err());
        assert!(p("sleep inf").is_err());
    }

    #[test]
    fn listings() {
        assert_eq!(p("arp -n").unwrap(), Command::Arp(Arp::Show { iface: None, host: None, bsd: false }));
        assert_eq!(p("arp -an").unwrap(), Command::Arp(Arp::Show { iface: None, host: None, bsd: true }));
        assert_eq!(
            p("arp -d 10.0.0.1 -i eth0").unwrap(),
            Command::Arp(Arp::Delete { host: Ipv4Addr::new(10, 0, 0, 1), iface: Some("eth0".into()) })
        );
        assert!(matches!(
            p("arp -s 10.0.0.1 02:00:00:00:00:01 temp").unwrap(),
            Command::Arp(Arp::Set { temp: true, .. })
        ));
        assert!(p("arp -s 10.0.0.1").is_err());
        assert_eq!(
            p("ss -tanl").unwrap(),
            Command::Sockets(Sockets {
                netstat: false,
                tcp: true,
                udp: false,
                listening: true,
                all: true,
                numeric: true
            })
        );
        assert!(matches!(p("netstat -tan").unwrap(), Command::Sockets(Sockets { netstat: true, tcp: true, .. })));
        assert_eq!(p("netstat -rn").unwrap(), Command::Route(route::Route::Show { numeric: true, extended: false }));
        assert!(p("ss -K").is_err());
    }

    #[test]
    fn unknown_commands() {
        let e = p("yum -y install ipvsadm").unwrap_err();
        assert!(
            e.message.starts_with("`yum`: command not supported by lvs-lab (supported: ip, ifconfig"),
            "{}",
            e.message
        );
        assert_eq!(e.status, 127);
        let e = parse_argv(&["\u{3000}echo".to_string(), "1".to_string()]).unwrap_err();
        assert!(e.message.contains("U+3000"), "{}", e.message);
    }
}
