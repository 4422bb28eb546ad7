//! Setup commands on a kernel host: the shell of `sim_core::shell` parses each line
//! exactly as for the simulator (so an unsupported command fails the same way),
//! and [`RealEnv`] runs the typed command for real inside the host's namespace.
//! `ip`, `iptables`, `arp`, `ss` run as typed; `sysctl` (and `echo V >
//! /proc/sys/...`) is rendered from its typed form; `ifconfig` and `route` run when
//! net-tools is installed and are translated to `ip` otherwise; `arping` runs in the
//! background, as the simulator does not block on it; service commands start and
//! stop the host's agents.

use super::topo;
use sim_core::host::apps::AppSpec;
use sim_core::node::CmdError;
use sim_core::shell::ifconfig::{Ifconfig, IfconfigOp};
use sim_core::shell::route::{Route, RouteEntry};
use sim_core::shell::sysctl::{Sysctl, SysctlItem, SysctlOp};
use sim_core::shell::{Command, ServiceAction, ShellEnv, Site};
use std::collections::BTreeMap;
use std::process::{Child, Stdio};

/// A kernel host's state as the harness keeps it.
#[derive(Debug)]
pub struct KernelHost {
    pub name: String,
    pub ns: String,
    /// The machine's small filesystem (`/etc/sysctl.conf`, scripts written by setup).
    pub files: BTreeMap<String, String>,
    pub apps: Vec<AppSpec>,
    /// Whether each app should be running (`systemctl start/stop`).
    pub running: Vec<bool>,
    /// Background commands (`arping -c 3`), reaped at the end.
    pub background: Vec<Child>,
}

/// Runs a program in `ns`; the error carries its message and exit status.
fn run_in(ns: &str, argv: &[String]) -> Result<String, CmdError> {
    let netns = format!("--net=/run/netns/{ns}");
    let out = std::process::Command::new("nsenter")
        .arg(&netns)
        .arg("--")
        .args(argv)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| CmdError::with_status(format!("cannot run {}: {e}", argv[0]), 127))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let msg = if err.is_empty() { String::from_utf8_lossy(&out.stdout).trim().to_string() } else { err };
        Err(CmdError::with_status(msg, out.status.code().unwrap_or(1)))
    }
}

/// The prefix `ifconfig` gives an address without `netmask` (class A, B or C).
fn classful_prefix(a: std::net::Ipv4Addr) -> u8 {
    match a.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        192..=223 => 24,
        _ => 32,
    }
}

fn have(tool: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].iter().any(|d| std::path::Path::new(&format!("{d}/{tool}")).exists())
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// The shell environment of a kernel host for one script or command.
pub struct RealEnv<'a> {
    pub host: &'a mut KernelHost,
    /// Apps to start (`true`) or stop, in order, for the harness to act on.
    pub changes: Vec<(usize, bool)>,
}

impl RealEnv<'_> {
    fn real(&self, argv: &[String]) -> Result<String, CmdError> {
        let mut v = argv.to_vec();
        // `/sbin/ip` is `ip`: run the tool from PATH.
        if let Some(base) = v[0].rsplit('/').next() {
            v[0] = base.to_string();
        }
        run_in(&self.host.ns, &v)
    }

    fn sysctl(&self, c: &Sysctl) -> Result<String, CmdError> {
        let mut flags = vec![];
        if c.values_only {
            flags.push("-n");
        }
        if c.names_only {
            flags.push("-N");
        }
        if c.ignore_unknown {
            flags.push("-e");
        }
        let items: Vec<SysctlItem> = match &c.op {
            SysctlOp::All => {
                let mut v = s(&["sysctl", "-a"]);
                v.extend(s(&flags));
                return self.real(&v);
            }
            SysctlOp::Items(items) => items.clone(),
            SysctlOp::Load(files) => {
                let files = if files.is_empty() { vec!["/etc/sysctl.conf".to_string()] } else { files.clone() };
                let mut v = vec![];
                for f in files {
                    let body = self.host.files.get(&f).map(String::as_str);
                    v.extend(sim_core::shell::sysctl::load(&f, body)?.into_iter().map(SysctlItem::Write));
                }
                v
            }
        };
        let mut out = String::new();
        for it in items {
            let mut v = s(&["sysctl"]);
            v.extend(s(&flags));
            match it {
                SysctlItem::Read(k) => v.push(k),
                SysctlItem::Write(set) => {
                    if c.quiet {
                        v.push("-q".into());
                    }
                    v.push("-w".into());
                    v.push(format!("{}={}", set.key, set.value.trim()));
                    if set.ignore_errors {
                        let _ = self.real(&v);
                        continue;
                    }
                }
            }
            out.push_str(&self.real(&v)?);
        }
        Ok(out)
    }

    /// `ifconfig` without net-tools: the same changes through `ip`.
    fn ifconfig_as_ip(&self, c: &Ifconfig) -> Result<String, CmdError> {
        let (iface, ops) = match c {
            Ifconfig::Show { iface, .. } => {
                let mut v = s(&["ip", "addr", "show"]);
                if let Some(i) = iface {
                    v.extend(s(&["dev", i]));
                }
                return self.real(&v);
            }
            Ifconfig::Set { iface, ops } => (iface, ops),
        };
        let dev = iface.split(':').next().unwrap_or(iface).to_string();
        let (mut addr, mut prefix, mut brd) = (None, None, None);
        for op in ops {
            match op {
                IfconfigOp::Address(a) => addr = Some(*a),
                IfconfigOp::Netmask(p) => prefix = Some(*p),
                IfconfigOp::Broadcast(b) => brd = *b,
                _ => {}
            }
        }
        if let Some(a) = addr {
            let p = prefix.unwrap_or_else(|| classful_prefix(a));
            let mut v = s(&["ip", "addr", "replace", &format!("{a}/{p}"), "dev", &dev, "label", iface]);
            let b = brd.map(|b| b.to_string()).unwrap_or_else(|| "+".into());
            if !dev.starts_with("lo") {
                v.extend(s(&["broadcast", &b]));
            }
            self.real(&v)?;
        }
        for op in ops {
            let v = match op {
                IfconfigOp::Up if !iface.contains(':') => s(&["ip", "link", "set", &dev, "up"]),
                IfconfigOp::Down if iface.contains(':') => {
                    let shown = self.real(&s(&["ip", "-o", "-4", "addr", "show", "dev", &dev, "label", iface]))?;
                    let Some(a) = shown.split_whitespace().skip_while(|w| *w != "inet").nth(1) else { continue };
                    s(&["ip", "addr", "del", a, "dev", &dev])
                }
                IfconfigOp::Down => s(&["ip", "link", "set", &dev, "down"]),
                IfconfigOp::Mtu(m) => s(&["ip", "link", "set", &dev, "mtu", &m.to_string()]),
                IfconfigOp::HwEther(m) => s(&["ip", "link", "set", &dev, "address", &m.to_string()]),
                IfconfigOp::Arp(on) => s(&["ip", "link", "set", &dev, "arp", if *on { "on" } else { "off" }]),
                IfconfigOp::Promisc(on) => s(&["ip", "link", "set", &dev, "promisc", if *on { "on" } else { "off" }]),
                IfconfigOp::Multicast(on) => {
                    s(&["ip", "link", "set", &dev, "multicast", if *on { "on" } else { "off" }])
                }
                IfconfigOp::Allmulti(on) => {
                    s(&["ip", "link", "set", &dev, "allmulticast", if *on { "on" } else { "off" }])
                }
                _ => continue,
            };
            self.real(&v)?;
        }
        Ok(String::new())
    }

    /// `route` without net-tools: `ip route`.
    fn route_as_ip(&self, r: &Route) -> Result<String, CmdError> {
        let (verb, e): (&str, &RouteEntry) = match r {
            Route::Show { .. } => return self.real(&s(&["ip", "route", "show"])),
            Route::Add(e) => ("add", e),
            Route::Del(e) => ("del", e),
        };
        let mut v = s(&["ip", "route", verb]);
        if e.reject {
            v.push("unreachable".into());
        }
        v.push(format!("{}/{}", e.target, e.prefix_len));
        if let Some(g) = e.gateway {
            v.extend(s(&["via", &g.to_string()]));
        }
        if let Some(d) = &e.dev {
            v.extend(s(&["dev", d.split(':').next().unwrap_or(d)]));
        }
        if let Some(m) = e.metric {
            v.extend(s(&["metric", &m.to_string()]));
        }
        self.real(&v)
    }

    fn service(&mut self, name: &str, action: ServiceAction) -> Result<String, CmdError> {
        if let Some(i) = self.host.apps.iter().position(|a| a.name() == name) {
            let (start, stop) = match action {
                ServiceAction::Start => (true, false),
                ServiceAction::Stop => (false, true),
                ServiceAction::Restart | ServiceAction::Reload => (true, true),
                ServiceAction::Status => {
                    let st = if self.host.running[i] { "active (running)" } else { "inactive (dead)" };
                    return Ok(format!("● {name}.service\n   Active: {st}\n"));
                }
                ServiceAction::Enable | ServiceAction::Disable => (false, false),
            };
            if stop && self.host.running[i] {
                self.host.running[i] = false;
                self.changes.push((i, false));
            }
            if start && !self.host.running[i] {
                self.host.running[i] = true;
                self.changes.push((i, true));
            }
            return Ok(String::new());
        }
        match name {
            "firewalld" | "iptables" | "network" | "NetworkManager" | "ipvsadm" | "sshd" | "crond" => Ok(String::new()),
            "keepalived" => Err(director_only("keepalived")),
            _ => Err(CmdError::with_status(
                format!("Failed to act on {name}.service: Unit {name}.service not found."),
                5,
            )),
        }
    }
}

fn director_only(tool: &str) -> CmdError {
    CmdError::with_status(
        format!(
            "{tool}: this host runs on the kernel; {tool} belongs in a director's setup (it runs on lvs-lab's director)"
        ),
        1,
    )
}

impl ShellEnv for RealEnv<'_> {
    fn run(&mut self, cmd: &Command, site: Site<'_>) -> Result<String, CmdError> {
        match cmd {
            Command::Sysctl(c) => self.sysctl(c),
            Command::Ifconfig(c) if !have("ifconfig") => self.ifconfig_as_ip(c),
            Command::Route(r) if !have("route") => self.route_as_ip(r),
            Command::Ipvsadm(_) => Err(director_only("ipvsadm")),
            Command::Keepalived(_) => Err(director_only("keepalived")),
            Command::Service { name, action } => self.service(name, *action),
            Command::Sleep(_) => Ok(String::new()),
            Command::Modprobe { module, remove } => match module.as_str() {
                "ipip" | "tunnel4" if *remove || topo::has_ipip() => Ok(String::new()),
                "ipip" | "tunnel4" => Err(CmdError::with_status(
                    format!("modprobe: FATAL: Module {module} not found: this kernel has no ipip"),
                    1,
                )),
                m if m.starts_with("nf_") || m.starts_with("iptable_") || m.starts_with("xt_") || m == "ip_tables" => {
                    Ok(String::new())
                }
                m if m == "ip_vs" || m.starts_with("ip_vs_") => Err(director_only("ip_vs")),
                m => Err(CmdError::with_status(format!("modprobe: FATAL: Module {m} not found"), 1)),
            },
            Command::Arping(_) => {
                let mut v = vec![format!("--net=/run/netns/{}", self.host.ns), "--".into()];
                v.extend(site.argv.iter().cloned());
                v[2] = "arping".into();
                let child = std::process::Command::new("nsenter")
                    .args(&v)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(|e| CmdError::with_status(format!("cannot run arping: {e}"), 127))?;
                self.host.background.push(child);
                Ok(String::new())
            }
            Command::Ip(_)
            | Command::Ifconfig(_)
            | Command::Route(_)
            | Command::Arp(_)
            | Command::Iptables(_)
            | Command::Sockets(_) => {
                if site.argv.is_empty() {
                    return Err(CmdError::with_status(format!("`{}`: no command line to run", site.text), 2));
                }
                self.real(site.argv)
            }
        }
    }

    fn read_file(&self, path: &str) -> Option<String> {
        self.host.files.get(path).cloned()
    }

    fn write_file(&mut self, path: &str, text: &str, append: bool) -> Result<(), CmdError> {
        sim_core::shell::write_mem_file(&mut self.host.files, path, text, append);
        Ok(())
    }

    fn remove_file(&mut self, path: &str) -> bool {
        self.host.files.remove(path).is_some()
    }
}
