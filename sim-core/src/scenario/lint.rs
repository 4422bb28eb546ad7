//! `lvs-lab lint`: static checks for the classic LVS mistakes, each naming the
//! line it found and the built-in lesson that reproduces the failure.
//!
//! Inputs are scenarios, or loose files: keepalived configurations (recognised by
//! their blocks) and the shell scripts of directors and real servers. Scripts run
//! through the lab's own shell with an environment that records every typed
//! command instead of applying it, so variables, `case "$1"` and paths expand
//! exactly as when the lab runs them. Facts come from those commands (addresses,
//! default routes, sysctls, ipvsadm rules) and from keepalived's own parser.

use super::load::Scenario;
use crate::director::ipvs::Ipvs;
use crate::director::ipvsadm;
use crate::director::keepalived::{self, KeepalivedConfig, MemFiles, ParseOptions};
use crate::node::CmdError;
use crate::shell::ip::{AddrCmd, IpCmd, RouteCmd};
use crate::shell::sysctl::{SysctlItem, SysctlOp};
use crate::shell::{Command, ShellEnv, Site, run_named_script};
use crate::time::Instant;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    /// The machine it concerns (`-` for a loose keepalived file).
    pub host: String,
    pub message: String,
    /// The built-in scenario that shows what goes wrong.
    pub lesson: &'static str,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}: {} (lesson: lvs-lab run {})", self.file, self.line, self.host, self.message, self.lesson)
    }
}

/// A command and where it was written.
#[derive(Debug, Clone)]
struct Written {
    file: String,
    line: usize,
    cmd: Command,
    argv: Vec<String>,
}

/// A shell environment that records commands instead of applying them.
struct Recorder {
    file: String,
    first_line: usize,
    files: BTreeMap<String, String>,
    cmds: Vec<Written>,
}

impl ShellEnv for Recorder {
    fn run(&mut self, cmd: &Command, site: Site<'_>) -> Result<String, CmdError> {
        self.cmds.push(Written {
            file: self.file.clone(),
            line: self.first_line + site.line.saturating_sub(1),
            cmd: cmd.clone(),
            argv: site.argv.to_vec(),
        });
        Ok(String::new())
    }
    fn read_file(&self, path: &str) -> Option<String> {
        self.files.get(path).cloned()
    }
    fn write_file(&mut self, path: &str, text: &str, append: bool) -> Result<(), CmdError> {
        crate::shell::write_mem_file(&mut self.files, path, text, append);
        Ok(())
    }
    fn remove_file(&mut self, path: &str) -> bool {
        self.files.remove(path).is_some()
    }
}

/// What one machine's setup says about it.
#[derive(Debug, Default)]
struct Facts {
    name: String,
    /// Address, prefix, device (base name), where.
    addrs: Vec<(Ipv4Addr, u8, String, String, usize)>,
    /// The last default route: gateway, where.
    default_gw: Option<(Ipv4Addr, String, usize)>,
    /// Sysctl writes in order: key, value, where.
    sysctls: Vec<(String, String, String, usize)>,
    /// ipvsadm commands.
    ipvsadm: Vec<Written>,
    tunl0_up: bool,
    /// keepalived configurations: (file name, text, parsed).
    keepalived: Vec<(String, String, KeepalivedConfig)>,
    /// Segment of each NIC (scenarios only).
    segments: BTreeMap<String, String>,
}

impl Facts {
    fn has_addr(&self, a: Ipv4Addr) -> bool {
        self.addrs.iter().any(|x| x.0 == a) || self.vips().contains(&a)
    }
    fn vips(&self) -> Vec<Ipv4Addr> {
        self.keepalived
            .iter()
            .flat_map(|(_, _, c)| c.instances.iter().flat_map(|i| i.virtual_ipaddress.iter().map(|v| v.addr)))
            .collect()
    }
    /// The effective value of `net.ipv4.conf.{all,DEV}.NAME`: the last writes,
    /// combined as the kernel combines them (max for arp_ignore, arp_announce,
    /// rp_filter). `default` applies to devices created after it was written.
    fn conf(&self, dev: &str, name: &str) -> u32 {
        let get = |scope: &str| {
            self.sysctls
                .iter()
                .rfind(|(k, ..)| *k == crate::stack::conf::conf_key(scope, name))
                .and_then(|(_, v, ..)| v.trim().parse::<u32>().ok())
        };
        // tunl0 appears with `modprobe ipip` and starts from `default`; a later
        // write to conf/tunl0 replaces that value.
        let dev_value = match get(dev) {
            Some(v) => v,
            None if dev == "tunl0" => get("default").unwrap_or(0),
            None => 0,
        };
        get("all").unwrap_or(0).max(dev_value)
    }
    fn sysctl_line(&self, name: &str) -> Option<(String, usize)> {
        self.sysctls.iter().rev().find(|(k, ..)| k.ends_with(name)).map(|(_, _, f, l)| (f.clone(), *l))
    }
}

fn sysctl_key(path: &str) -> String {
    crate::stack::conf::normalise(path)
}

fn gather(
    name: &str,
    scripts: &[(String, usize, String, Vec<String>)],
    files: &BTreeMap<String, String>,
) -> Result<Facts, String> {
    let mut f = Facts { name: name.to_string(), ..Facts::default() };
    let mut all_files = files.clone();
    for (file, first, text, args) in scripts {
        let mut r = Recorder { file: file.clone(), first_line: *first, files: all_files.clone(), cmds: vec![] };
        run_named_script(file, text, args, &mut r)
            .map_err(|e| format!("{file}:{}: `{}`: {}", first + e.line.saturating_sub(1), e.command, e.message))?;
        all_files = r.files.clone();
        for w in r.cmds {
            absorb(&mut f, &w, &all_files);
        }
    }
    for (path, text) in &all_files {
        if (text.contains("vrrp_instance") || text.contains("virtual_server"))
            && let Some(cfg) = parse_keepalived(path, &all_files)
        {
            f.keepalived.push((path.clone(), text.clone(), cfg));
        }
    }
    Ok(f)
}

fn parse_keepalived(path: &str, files: &BTreeMap<String, String>) -> Option<KeepalivedConfig> {
    let mut src = MemFiles::new();
    for (p, t) in files {
        src.add(p, t.as_bytes().to_vec());
    }
    keepalived::parse(&src, path, &ParseOptions::default()).ok().map(|p| p.config)
}

fn absorb(f: &mut Facts, w: &Written, files: &BTreeMap<String, String>) {
    let at = (w.file.clone(), w.line);
    match &w.cmd {
        Command::Ip(ip) => match &ip.cmd {
            IpCmd::Addr(AddrCmd::Modify { addr, .. }) => {
                f.addrs.push((addr.local, addr.prefix_len, base(&addr.dev), at.0, at.1));
            }
            IpCmd::Route(RouteCmd::Modify { route, .. }) if route.prefix_len == 0 => {
                if let Some(g) = route.via {
                    f.default_gw = Some((g, at.0, at.1));
                }
            }
            IpCmd::Link(crate::shell::ip::LinkCmd::Set { dev, changes }) if dev == "tunl0" => {
                f.tunl0_up |= changes.iter().any(|c| matches!(c, crate::shell::ip::LinkChange::Up));
            }
            _ => {}
        },
        Command::Ifconfig(crate::shell::ifconfig::Ifconfig::Set { iface, ops }) => {
            let mut prefix = None;
            let mut addr = None;
            for op in ops {
                match op {
                    crate::shell::ifconfig::IfconfigOp::Address(a) => addr = Some(*a),
                    crate::shell::ifconfig::IfconfigOp::Netmask(p) => prefix = Some(*p),
                    crate::shell::ifconfig::IfconfigOp::Up if iface == "tunl0" => f.tunl0_up = true,
                    _ => {}
                }
            }
            if let Some(a) = addr {
                f.addrs.push((a, prefix.unwrap_or(crate::host::classful_prefix(a)), base(iface), at.0, at.1));
            }
        }
        Command::Route(crate::shell::route::Route::Add(e)) if e.prefix_len == 0 => {
            if let Some(g) = e.gateway {
                f.default_gw = Some((g, at.0, at.1));
            }
        }
        Command::Sysctl(s) => {
            let items: Vec<SysctlItem> = match &s.op {
                SysctlOp::Items(i) => i.clone(),
                SysctlOp::Load(paths) => {
                    let paths = if paths.is_empty() { vec!["/etc/sysctl.conf".to_string()] } else { paths.clone() };
                    paths
                        .iter()
                        .filter_map(|p| crate::shell::sysctl::load(p, files.get(p).map(String::as_str)).ok())
                        .flatten()
                        .map(SysctlItem::Write)
                        .collect()
                }
                SysctlOp::All => vec![],
            };
            for i in items {
                if let SysctlItem::Write(set) = i {
                    f.sysctls.push((sysctl_key(&set.key), set.value.clone(), at.0.clone(), at.1));
                }
            }
        }
        Command::Ipvsadm(_) => f.ipvsadm.push(w.clone()),
        Command::Modprobe { module, remove: false } if module == "ipip" => {}
        _ => {}
    }
}

fn base(dev: &str) -> String {
    dev.split(':').next().unwrap_or(dev).to_string()
}

/// A real server the director sends to, and how.
struct Dest {
    vip: Ipv4Addr,
    vport: u16,
    addr: Ipv4Addr,
    port: u16,
    method: &'static str,
    director: usize,
    file: String,
    line: usize,
}

/// The ipvsadm rules of a machine, applied to a scratch IPVS, with the dest lines.
fn ipvs_dests(f: &Facts, director: usize) -> Vec<Dest> {
    let mut ipvs = Ipvs::new(crate::rng::stream(1, "lint"));
    let mut v = vec![];
    for w in &f.ipvsadm {
        let argv: Vec<String> = std::iter::once("ipvsadm".to_string()).chain(w.argv.iter().skip(1).cloned()).collect();
        if ipvsadm::ipvsadm(&mut ipvs, Instant::ZERO, &argv, None).is_err() {
            continue;
        }
        // `-a/--add-server` lines: read the typed words for the written port
        // (ipvsadm rewrites DR/TUN ports to the service port).
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        if !words.iter().any(|a| *a == "-a" || *a == "--add-server") {
            continue;
        }
        let after = |flags: &[&str]| words.windows(2).find(|p| flags.contains(&p[0])).map(|p| p[1]);
        let (Some(svc), Some(rs)) =
            (after(&["-t", "--tcp-service", "-u", "--udp-service"]), after(&["-r", "--real-server"]))
        else {
            continue;
        };
        let Some((vip, vport)) = split_addr(svc) else { continue };
        let Some((addr, port)) = split_addr(rs) else { continue };
        let method = if words.iter().any(|a| *a == "-m" || *a == "--masquerading") {
            "masq"
        } else if words.iter().any(|a| *a == "-i" || *a == "--ipip") {
            "tun"
        } else if words.iter().any(|a| *a == "-b" || *a == "--fullnat") {
            "fullnat"
        } else {
            "dr"
        };
        let vport = vport.unwrap_or(0);
        v.push(Dest {
            vip,
            vport,
            addr,
            port: port.unwrap_or(vport),
            method,
            director,
            file: w.file.clone(),
            line: w.line,
        });
    }
    v
}

fn split_addr(s: &str) -> Option<(Ipv4Addr, Option<u16>)> {
    match s.split_once(':') {
        Some((a, p)) => Some((a.parse().ok()?, p.parse().ok())),
        None => Some((s.parse().ok()?, None)),
    }
}

/// The line of `needle` in `text` at or after `from` (1-based), for keepalived findings.
fn line_of(text: &str, needle: &str, from: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.contains(needle))
        .map_or(from.max(1), |(i, _)| i + 1)
}

fn keepalived_dests(f: &Facts, director: usize) -> Vec<Dest> {
    let mut v = vec![];
    for (file, text, cfg) in &f.keepalived {
        for vs in &cfg.virtual_servers {
            let crate::director::keepalived::VsKey::Addr { ip, port } = vs.key else { continue };
            let method = match vs.lb_kind {
                crate::director::keepalived::LbKind::Nat => "masq",
                crate::director::keepalived::LbKind::Dr => "dr",
                crate::director::keepalived::LbKind::Tun => "tun",
            };
            let vs_line = line_of(text, &format!("virtual_server {ip}"), 1);
            for rs in &vs.real_servers {
                let line = line_of(text, &format!("real_server {}", rs.addr), vs_line);
                // The port as written: keepalived resets DR/TUN ports to the service's.
                let written = text
                    .lines()
                    .nth(line - 1)
                    .and_then(|l| l.split_whitespace().nth(2))
                    .and_then(|p| p.trim_end_matches('{').parse().ok())
                    .unwrap_or(rs.port);
                v.push(Dest {
                    vip: ip,
                    vport: port,
                    addr: rs.addr,
                    port: written,
                    method,
                    director,
                    file: file.clone(),
                    line,
                });
            }
        }
    }
    v
}

/// Lints machines given by their setup scripts and files.
fn lint_machines(machines: &[Facts], segment_of: &dyn Fn(usize, usize) -> bool) -> Vec<Finding> {
    let mut out = vec![];
    let mut dests = vec![];
    for (i, m) in machines.iter().enumerate() {
        dests.extend(ipvs_dests(m, i));
        dests.extend(keepalived_dests(m, i));
    }
    for d in &dests {
        let director = &machines[d.director];
        // DR and TUN cannot map ports: ipvsadm and keepalived silently use the service port.
        if matches!(d.method, "dr" | "tun") && d.port != 0 && d.vport != 0 && d.port != d.vport {
            out.push(Finding {
                file: d.file.clone(),
                line: d.line,
                host: director.name.clone(),
                message: format!(
                    "real server {}:{} in {} mode for {}:{}: {} cannot map ports; packets arrive at port {}",
                    d.addr,
                    d.port,
                    d.method.to_uppercase(),
                    d.vip,
                    d.vport,
                    d.method.to_uppercase(),
                    d.vport
                ),
                lesson: "dr-port-mapping",
            });
        }
        let Some((ri, rs)) = machines.iter().enumerate().find(|(_, m)| m.addrs.iter().any(|a| a.0 == d.addr)) else {
            continue;
        };
        let rs_line = rs.addrs.iter().find(|a| a.0 == d.addr).map(|a| (a.3.clone(), a.4)).unwrap_or_default();
        match d.method {
            "masq" => match &rs.default_gw {
                None => out.push(Finding {
                    file: rs_line.0.clone(),
                    line: rs_line.1,
                    host: rs.name.clone(),
                    message: format!("real server {} of a NAT service has no default route: replies to clients on other networks cannot leave", d.addr),
                    lesson: "nat-gateway-misconfig-no-route",
                }),
                Some((g, file, line)) if !director.has_addr(*g) && segment_of(ri, d.director) => out.push(Finding {
                    file: file.clone(),
                    line: *line,
                    host: rs.name.clone(),
                    message: format!(
                        "NAT real server {}'s default gateway is {g}, not the director {}: its replies bypass IPVS and the client answers them with RST",
                        d.addr, director.name
                    ),
                    lesson: "nat-gateway-misconfig",
                }),
                _ => {}
            },
            "dr" | "tun" => {
                let vip_dev = if d.method == "tun" { "tunl0" } else { "lo" };
                let vip_here = rs.addrs.iter().find(|a| a.0 == d.vip && (a.2 == vip_dev || (d.method == "dr" && a.2 == "tunl0")));
                if vip_here.is_none() {
                    out.push(Finding {
                        file: rs_line.0.clone(),
                        line: rs_line.1,
                        host: rs.name.clone(),
                        message: format!(
                            "{} real server {} does not carry the VIP {} on {vip_dev}: it drops the packets the director sends it",
                            d.method.to_uppercase(),
                            d.addr,
                            d.vip
                        ),
                        lesson: if d.method == "dr" { "dr-no-vip-on-lo" } else { "tun-basic" },
                    });
                    continue;
                }
                let nic = rs.addrs.iter().find(|a| a.0 == d.addr).map(|a| a.2.clone()).unwrap_or_default();
                let (ign, ann) = (rs.conf(&nic, "arp_ignore"), rs.conf(&nic, "arp_announce"));
                if ign < 1 || ann < 2 {
                    let at = vip_here.map(|a| (a.3.clone(), a.4)).unwrap_or_default();
                    out.push(Finding {
                        file: at.0,
                        line: at.1,
                        host: rs.name.clone(),
                        message: format!(
                            "real server {} has the VIP {} on {vip_dev} but arp_ignore={ign}, arp_announce={ann} on {nic}: it answers and announces the VIP on the LAN (set net.ipv4.conf.all.arp_ignore=1 and arp_announce=2)",
                            d.addr, d.vip
                        ),
                        lesson: "dr-arp-leak",
                    });
                }
                if d.method == "tun" && rs.conf("tunl0", "rp_filter") != 0 {
                    let at = rs.sysctl_line("rp_filter").unwrap_or(rs_line.clone());
                    out.push(Finding {
                        file: at.0,
                        line: at.1,
                        host: rs.name.clone(),
                        message: format!(
                            "TUN real server {} filters reverse paths on tunl0 (rp_filter={}): decapsulated packets from clients are dropped",
                            d.addr,
                            rs.conf("tunl0", "rp_filter")
                        ),
                        lesson: "tun-rp-filter",
                    });
                }
            }
            _ => {}
        }
    }
    out.extend(lint_keepalived(machines, segment_of));
    out.sort();
    out.dedup();
    out
}

/// VRRP and virtual_server checks over every keepalived configuration.
fn lint_keepalived(machines: &[Facts], segment_of: &dyn Fn(usize, usize) -> bool) -> Vec<Finding> {
    let mut out = vec![];
    let mut instances = vec![];
    for (mi, m) in machines.iter().enumerate() {
        for (file, text, cfg) in &m.keepalived {
            for inst in &cfg.instances {
                let line = line_of(text, &format!("vrrp_instance {}", inst.name), 1);
                if inst.configured_state == Some(crate::director::keepalived::VrrpState::Master)
                    && inst.configured_priority.is_none()
                {
                    out.push(Finding {
                        file: file.clone(),
                        line,
                        host: m.name.clone(),
                        message: format!("({}) `state MASTER` without `priority`: keepalived makes it priority 255, the address owner, which never waits and preempts everyone", inst.name),
                        lesson: "vrrp-failover",
                    });
                }
                let vips: Vec<Ipv4Addr> = inst.virtual_ipaddress.iter().map(|v| v.addr).collect();
                instances.push((
                    mi,
                    file.clone(),
                    line,
                    inst.name.clone(),
                    inst.virtual_router_id,
                    inst.priority,
                    vips,
                ));
            }
            for vs in &cfg.virtual_servers {
                if vs.protocol_defaulted {
                    let key = match vs.key {
                        crate::director::keepalived::VsKey::Addr { ip, .. } => format!("virtual_server {ip}"),
                        _ => "virtual_server".into(),
                    };
                    out.push(Finding {
                        file: file.clone(),
                        line: line_of(text, &key, 1),
                        host: m.name.clone(),
                        message: "virtual_server without `protocol`: keepalived defaults it to UDP, so TCP clients reach no virtual service".into(),
                        lesson: "keepalived-no-protocol",
                    });
                }
            }
        }
    }
    for (i, a) in instances.iter().enumerate() {
        for b in &instances[i + 1..] {
            if a.0 == b.0 || a.4 != b.4 || !segment_of(a.0, b.0) {
                continue;
            }
            let same_cluster = a.6.iter().any(|v| b.6.contains(v));
            if !same_cluster {
                out.push(Finding {
                    file: b.1.clone(),
                    line: b.2,
                    host: machines[b.0].name.clone(),
                    message: format!(
                        "virtual_router_id {} is also used by {} ({}) for other addresses: the two clusters fight over the same VRRP router",
                        b.4, machines[a.0].name, a.3
                    ),
                    lesson: "vrid-conflict",
                });
            } else if a.5 == b.5 {
                out.push(Finding {
                    file: b.1.clone(),
                    line: b.2,
                    host: machines[b.0].name.clone(),
                    message: format!(
                        "({}) has the same priority {} as on {}: the election falls to the higher primary IP address",
                        b.3, b.5, machines[a.0].name
                    ),
                    lesson: "keepalived-nat",
                });
            }
        }
    }
    out
}

/// Lints a scenario: every host's setup, scripts and keepalived files.
pub fn lint_scenario(sc: &Scenario) -> Result<Vec<Finding>, String> {
    let mut machines = vec![];
    for (hi, m) in sc.machines.iter().enumerate() {
        let scripts: Vec<(String, usize, String, Vec<String>)> =
            m.setup.iter().map(|s| (s.origin.clone(), s.first_line, s.text.clone(), s.args.clone())).collect();
        let mut f = gather(&m.name, &scripts, &m.files)?;
        for (ni, n) in sc.spec.hosts[hi].nics.iter().enumerate() {
            if let Some(s) = &n.segment {
                f.segments.insert(m.nics[ni].0.clone(), s.get_ref().clone());
            }
        }
        machines.push(f);
    }
    let segs: Vec<Vec<String>> = machines.iter().map(|m| m.segments.values().cloned().collect()).collect();
    let share = |a: usize, b: usize| segs[a].iter().any(|s| segs[b].contains(s));
    Ok(lint_machines(&machines, &share))
}

/// Lints loose files: keepalived configurations and setup scripts, each file a
/// machine (machines are assumed to share one segment).
pub fn lint_files(files: &[(String, String)]) -> Result<Vec<Finding>, String> {
    let mut machines = vec![];
    for (path, text) in files {
        let name = std::path::Path::new(path).file_name().map_or(path.clone(), |n| n.to_string_lossy().into_owned());
        if text.contains("vrrp_instance") || text.contains("virtual_server") {
            let mut fs = BTreeMap::new();
            fs.insert(path.clone(), text.clone());
            let cfg = parse_keepalived(path, &fs).ok_or_else(|| {
                format!("{path}: keepalived refuses this configuration (see `lvs-lab keepalived -t {path}`)")
            })?;
            machines.push(Facts { name, keepalived: vec![(path.clone(), text.clone(), cfg)], ..Facts::default() });
        } else {
            let args = if text.contains("case \"$1\"") || text.contains("case $1") {
                vec!["start".to_string()]
            } else {
                vec![]
            };
            machines.push(gather(&name, &[(path.clone(), 1, text.clone(), args)], &BTreeMap::new())?);
        }
    }
    Ok(lint_machines(&machines, &|_, _| true))
}
