//! The director parts of a machine. IPVS loads on first use (`ipvsadm`, `modprobe
//! ip_vs`, a `/proc/sys/net/ipv4/vs` write, keepalived's virtual servers) and then
//! sits at the stack's LOCAL_IN, FORWARD and LOCAL_OUT hooks. keepalived starts
//! with `systemctl start keepalived` or `keepalived [-f FILE]`, reads the machine's
//! config file and runs VRRP; its actions (adverts, VIPs, gratuitous ARPs,
//! multicast membership) are carried out on the machine's stack.

use super::Machine;
use crate::director::check::{Checkers, ProbeId, ProbeResult};
use crate::director::ipvs::Ipvs;
use crate::director::ipvsadm;
use crate::director::keepalived::{self, KeepalivedConfig, MemFiles, ParseOptions};
use crate::director::vrrp::{IfaceInfo, Options, ScriptEnv, Vrrp, VrrpAction};
use crate::node::{CmdError, Outbox};
use crate::report::{IpvsReport, VrrpReport};
use crate::rng;
use crate::shell::ServiceAction;
use crate::stack::conf::conf_key;
use crate::stack::hooks::Hooked;
use crate::stack::iface::{IfAddr, IfKind, Iface, Scope};
use crate::stack::{Hk, Stack};
use crate::time::{Instant, earliest};
use crate::wire::ETH_HLEN;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The default keepalived configuration file.
pub const KEEPALIVED_CONF: &str = "/etc/keepalived/keepalived.conf";
/// IP protocol number of VRRP.
const IPPROTO_VRRP: u8 = 112;

/// keepalived's command line, as far as the lab acts on it.
struct KeepalivedArgs {
    /// `-f FILE` (default `/etc/keepalived/keepalived.conf`).
    file: String,
    /// `-t`: check the configuration and exit.
    test: bool,
    /// `-D` / `--log-detail`.
    log_detail: bool,
}

impl KeepalivedArgs {
    fn parse(argv: &[String]) -> Result<KeepalivedArgs, CmdError> {
        let mut a = KeepalivedArgs { file: KEEPALIVED_CONF.to_string(), test: false, log_detail: false };
        let mut it = argv.iter();
        while let Some(w) = it.next() {
            match w.as_str() {
                "-f" | "--use-file" => {
                    a.file = it
                        .next()
                        .cloned()
                        .ok_or_else(|| CmdError::usage("keepalived: option requires an argument -- 'f'"))?
                }
                s if s.starts_with("--use-file=") => a.file = s["--use-file=".len()..].to_string(),
                "-t" | "--config-test" => a.test = true,
                "-D" | "--log-detail" => a.log_detail = true,
                // `-S FACILITY` / `--log-facility=N`: syslog only.
                "-S" | "--log-facility" => {
                    it.next().ok_or_else(|| CmdError::usage("keepalived: option requires an argument -- 'S'"))?;
                }
                s if s.starts_with("--log-facility=") => {}
                "-l" | "--log-console" | "-n" | "--dont-fork" | "-P" | "--vrrp" | "-C" | "--check" => {}
                // Bundled short flags (`-lD`), as getopt reads them.
                s if s.len() > 2
                    && s.starts_with('-')
                    && !s.starts_with("--")
                    && s[1..].chars().all(|c| "DlnPC".contains(c)) =>
                {
                    a.log_detail |= s.contains('D');
                }
                other => return Err(CmdError::usage(format!("keepalived: unrecognized option '{other}'"))),
            }
        }
        Ok(a)
    }
}

/// A running keepalived.
pub struct Keepalived {
    pub config: KeepalivedConfig,
    pub vrrp: Option<Vrrp>,
    /// The checker process (virtual servers and their health checks).
    pub checkers: Option<Checkers>,
}

/// IPVS and keepalived on a machine, when loaded.
#[derive(Default)]
pub struct DirectorState {
    pub ipvs: Option<Box<Ipvs>>,
    pub keepalived: Option<Keepalived>,
    /// Interface state changes waiting to be told to keepalived.
    pending_links: Vec<(String, bool)>,
    /// Base devices of keepalived's VMACs: what to put back when the last goes.
    vmac_bases: BTreeMap<String, BaseArpConfig>,
}

/// keepalived's `reset_arp_config` count and saved `arp_ignore`/`arp_filter` of a
/// VMAC's base device (`interface_t` in vrrp_if_config.c).
#[derive(Debug, Clone)]
struct BaseArpConfig {
    vmacs: u32,
    arp_ignore: String,
    arp_filter: String,
}

impl DirectorState {
    /// IPVS as the stack's hooked module.
    pub fn hooked(&mut self) -> Option<&mut dyn Hooked> {
        self.ipvs.as_deref_mut().map(|i| i as &mut dyn Hooked)
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let ipvs = self.ipvs.as_ref().and_then(|i| i.next_deadline());
        let Some(k) = &self.keepalived else { return ipvs };
        let vrrp = k.vrrp.as_ref().and_then(Vrrp::next_deadline);
        earliest(earliest(ipvs, vrrp), k.checkers.as_ref().and_then(Checkers::next_deadline))
    }

    /// A device went up or down; keepalived learns it at the next timer.
    pub fn link_changed(&mut self, dev: &str, up: bool) {
        if self.keepalived.is_some() {
            self.pending_links.push((dev.to_string(), up));
        }
    }

    pub fn ipvs_report(&self, now: Instant) -> Option<IpvsReport> {
        self.ipvs.as_ref().map(|i| i.report(now))
    }

    pub fn vrrp_report(&self) -> Vec<VrrpReport> {
        self.keepalived.as_ref().and_then(|k| k.vrrp.as_ref()).map(Vrrp::report).unwrap_or_default()
    }
}

/// What a check script (`vrrp_script`, MISC_CHECK) returns on a machine: the
/// scenario's `script_results` first, then the usual process checks (`killall -0
/// NAME`, `pidof NAME`, `pgrep NAME`, `systemctl is-active NAME`) answered from the
/// machine's apps; `None` when the script is neither.
pub fn script_exit(results: &BTreeMap<String, i32>, running: &BTreeMap<String, bool>, script: &str) -> Option<i32> {
    if let Some(&r) = results.get(script.trim()) {
        return Some(r);
    }
    let words: Vec<&str> = script.split_whitespace().collect();
    let prog = words.first().map(|w| w.rsplit('/').next().unwrap_or(w)).unwrap_or_default();
    let target = match (prog, words.as_slice()) {
        ("killall", [_, "-0", name]) | ("pidof", [_, name]) | ("pgrep", [_, name]) => Some(*name),
        ("systemctl", [_, "is-active", name]) => Some(*name),
        _ => None,
    };
    target.map(|name| i32::from(!running.get(name.trim_end_matches(".service")).copied().unwrap_or(false)))
}

/// VRRP's view of the machine's scripts.
struct Scripts<'a> {
    results: &'a BTreeMap<String, i32>,
    running: BTreeMap<String, bool>,
    unknown: Vec<String>,
}

impl ScriptEnv for Scripts<'_> {
    fn run(&mut self, _now: Instant, script: &str) -> i32 {
        script_exit(self.results, &self.running, script).unwrap_or_else(|| {
            self.unknown.push(script.to_string());
            0
        })
    }
}

impl Machine {
    /// Loads ip_vs (as `modprobe ip_vs` would).
    pub(super) fn ensure_ipvs(&mut self) {
        if self.director.ipvs.is_none() {
            let seed = self.random();
            self.director.ipvs = Some(Box::new(Ipvs::new(rng::stream(seed, &format!("ipvs:{}", self.name)))));
        }
    }

    pub(super) fn ipvsadm(&mut self, now: Instant, argv: &[String], _out: &mut Outbox) -> Result<String, CmdError> {
        self.ensure_ipvs();
        let ipvs = self.director.ipvs.as_deref_mut().expect("loaded");
        // The shell passes the arguments; ipvsadm wants its name as argv[0].
        let full: Vec<String> = std::iter::once("ipvsadm".to_string()).chain(argv.iter().cloned()).collect();
        ipvsadm::ipvsadm(ipvs, now, &full, None)
    }

    pub(super) fn ipvs_sysctl_get(&self, k: &str) -> Result<String, String> {
        let missing = || format!("sysctl: cannot stat {}: No such file or directory", crate::shell::sysctl::path(k));
        self.director.ipvs.as_ref().and_then(|i| i.sysctl.get(k)).ok_or_else(missing)
    }

    pub(super) fn ipvs_sysctl_set(&mut self, k: &str, v: &str) -> Result<(), String> {
        match self.director.ipvs.as_deref_mut() {
            Some(i) => i.sysctl.set(k, v),
            None => Err(format!(
                "sysctl: cannot stat {}: No such file or directory (ip_vs is not loaded)",
                crate::shell::sysctl::path(k)
            )),
        }
    }

    /// `keepalived [-f FILE] [-D] ...`: starts the daemon (it forks into the background).
    pub(super) fn keepalived_cmd(
        &mut self,
        now: Instant,
        argv: &[String],
        out: &mut Outbox,
    ) -> Result<String, CmdError> {
        let args = KeepalivedArgs::parse(argv)?;
        if args.test {
            let src = self.keepalived_files();
            let (code, lines) = keepalived::check_config_with(&src, &args.file, &self.keepalived_parse_options());
            let text = lines.join("\n");
            return if code == 0 { Ok(text) } else { Err(CmdError::with_status(text, code)) };
        }
        self.start_keepalived(now, &args, out)
    }

    /// The options `systemctl start keepalived` passes: the unit files read
    /// `KEEPALIVED_OPTIONS` from `/etc/sysconfig/keepalived` (RHEL, CentOS: `-D` there is
    /// what makes the detail lines appear) or `DAEMON_ARGS` from `/etc/default/keepalived`
    /// (Debian, Ubuntu).
    fn keepalived_service_args(&self) -> Result<KeepalivedArgs, CmdError> {
        let mut words: Vec<String> = vec![];
        for (file, var) in
            [("/etc/sysconfig/keepalived", "KEEPALIVED_OPTIONS"), ("/etc/default/keepalived", "DAEMON_ARGS")]
        {
            let Some(text) = self.files.get(file) else { continue };
            for line in text.lines() {
                let Some(v) = line.trim().strip_prefix(var).and_then(|r| r.strip_prefix('=')) else { continue };
                let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                words = v.split_whitespace().map(str::to_string).collect();
            }
        }
        KeepalivedArgs::parse(&words)
    }

    pub(super) fn keepalived_service(
        &mut self,
        now: Instant,
        action: ServiceAction,
        out: &mut Outbox,
    ) -> Result<String, CmdError> {
        match action {
            ServiceAction::Start => {
                if self.director.keepalived.is_some() {
                    return Ok(String::new());
                }
                let args = self.keepalived_service_args()?;
                self.start_keepalived(now, &args, out)
            }
            ServiceAction::Stop => {
                self.stop_keepalived(now, out);
                Ok(String::new())
            }
            ServiceAction::Restart | ServiceAction::Reload => {
                self.stop_keepalived(now, out);
                let args = self.keepalived_service_args()?;
                self.start_keepalived(now, &args, out)
            }
            ServiceAction::Status => {
                let st = if self.director.keepalived.is_some() { "active (running)" } else { "inactive (dead)" };
                Ok(format!("● keepalived.service - LVS and VRRP High Availability Monitor\n   Active: {st}\n"))
            }
            ServiceAction::Enable | ServiceAction::Disable => Ok(String::new()),
        }
    }

    fn keepalived_files(&self) -> MemFiles {
        let mut src = MemFiles::new();
        for (p, t) in &self.files {
            src.add(p, t.as_bytes().to_vec());
        }
        src
    }

    fn keepalived_parse_options(&self) -> ParseOptions {
        let names = self.stack.ifaces.iter().map(|i| i.name.clone()).collect();
        ParseOptions { interfaces: Some(names), config_id: Some(self.name.clone()), ..ParseOptions::default() }
    }

    /// keepalived's start-up: parse (warnings go to the trace, fatal errors fail
    /// the command), then the VRRP process.
    fn start_keepalived(&mut self, now: Instant, args: &KeepalivedArgs, out: &mut Outbox) -> Result<String, CmdError> {
        let file = args.file.as_str();
        if self.director.keepalived.is_some() {
            return Err(CmdError::with_status("keepalived is already running", 1));
        }
        if !self.files.contains_key(file) {
            return Err(CmdError::with_status(
                format!("Configuration file '{file}' is not a regular non-executable file"),
                1,
            ));
        }
        let src = self.keepalived_files();
        let parsed = keepalived::parse(&src, file, &self.keepalived_parse_options()).map_err(|e| {
            let lines: Vec<String> = e.diagnostics.iter().map(|d| d.text()).collect();
            CmdError::with_status(format!("keepalived: {}", lines.join("\n")), e.exit_code)
        })?;
        for line in parsed.messages() {
            out.note("-", "keepalived", || line);
        }
        let config = parsed.config;
        if !config.virtual_servers.is_empty() {
            self.ensure_ipvs();
        }
        let vrrp = (!config.instances.is_empty()).then(|| {
            let ifaces: Vec<IfaceInfo> = self
                .stack
                .ifaces
                .iter()
                .filter(|i| i.kind != IfKind::Loopback)
                .map(|i| IfaceInfo {
                    name: i.name.clone(),
                    mac: i.mac,
                    addr: i.select_addr(None, Scope::Global),
                    up: i.running(),
                })
                .collect();
            let opts = Options { version: self.keepalived_version, log_detail: args.log_detail };
            Vrrp::new(&config, &ifaces, opts, now)
        });
        let checkers = (!config.virtual_servers.is_empty()).then(|| {
            let seed = self.random();
            let locals: Vec<Ipv4Addr> = self.stack.ifaces.iter().flat_map(|i| i.addrs.iter().map(|a| a.addr)).collect();
            let ipvs = self.director.ipvs.as_deref_mut().expect("loaded for virtual servers");
            Checkers::new(&config, now, ipvs, rng::stream(seed, "keepalived-checkers"), &locals)
        });
        self.stack.raw_protocols.insert(IPPROTO_VRRP);
        self.director.keepalived = Some(Keepalived { config, vrrp, checkers });
        self.checker_logs(out);
        out.note("-", "keepalived", || "Starting Keepalived".into());
        self.director_timer(now, out);
        Ok(String::new())
    }

    /// Stopping keepalived: VRRP resigns (priority-0 adverts) and removes its
    /// VIPs (reference §2.11).
    fn stop_keepalived(&mut self, now: Instant, out: &mut Outbox) {
        let Some(mut k) = self.director.keepalived.take() else { return };
        if let (Some(c), Some(ipvs)) = (k.checkers.as_mut(), self.director.ipvs.as_deref_mut()) {
            c.stop(now, ipvs);
            for line in c.drain_logs() {
                out.note("-", "check", || line);
            }
        }
        self.probes.clear();
        if let Some(v) = k.vrrp.as_mut() {
            v.stop(now);
            let actions = v.drain_actions();
            self.apply_vrrp(now, actions, out);
        }
        self.stack.raw_protocols.remove(&IPPROTO_VRRP);
        out.note("-", "keepalived", || "Stopping Keepalived".into());
    }

    /// Feeds received VRRP packets to keepalived; true if any were handled.
    pub(super) fn director_pump(&mut self, now: Instant, out: &mut Outbox) -> bool {
        if self.stack.raw_rx.is_empty() {
            return false;
        }
        let packets: Vec<_> = self.stack.raw_rx.drain(..).collect();
        let Some(vrrp) = self.director.keepalived.as_mut().and_then(|k| k.vrrp.as_mut()) else { return false };
        for p in &packets {
            vrrp.on_packet(now, &p.dev, &p.packet);
        }
        let actions = vrrp.drain_actions();
        self.apply_vrrp(now, actions, out);
        true
    }

    /// Health-check results to keepalived's checker process, then its log lines.
    pub(super) fn deliver_probe_results(
        &mut self,
        now: Instant,
        results: Vec<(ProbeId, ProbeResult)>,
        out: &mut Outbox,
    ) {
        if results.is_empty() {
            return;
        }
        let DirectorState { ipvs, keepalived, .. } = &mut self.director;
        if let (Some(c), Some(ipvs)) = (keepalived.as_mut().and_then(|k| k.checkers.as_mut()), ipvs.as_deref_mut()) {
            for (id, r) in results {
                c.on_result(now, id, r, ipvs);
            }
        }
        self.checker_logs(out);
    }

    fn checker_logs(&mut self, out: &mut Outbox) {
        if let Some(c) = self.director.keepalived.as_mut().and_then(|k| k.checkers.as_mut()) {
            for line in c.drain_logs() {
                out.note("-", "check", || line);
            }
        }
    }

    /// Runs the health checks that are due and times out those that are late.
    fn checker_timer(&mut self, now: Instant, out: &mut Outbox) {
        let mut results = vec![];
        self.expire_probes(now, &mut results);
        self.deliver_probe_results(now, results, out);
        let mut reqs = super::probe::Requests::default();
        match self.director.keepalived.as_mut().and_then(|k| k.checkers.as_mut()) {
            Some(c) if c.next_deadline().is_some_and(|t| t <= now) => c.on_timer(now, &mut reqs),
            _ => return,
        }
        let done = self.start_probes(now, reqs.0, out);
        self.deliver_probe_results(now, done, out);
        self.checker_logs(out);
    }

    /// IPVS and keepalived timers that are due.
    pub(super) fn director_timer(&mut self, now: Instant, out: &mut Outbox) {
        if let Some(ipvs) = self.director.ipvs.as_deref_mut()
            && ipvs.next_deadline().is_some_and(|t| t <= now)
        {
            ipvs.on_timer(now, out);
        }
        if self.director.keepalived.is_some() {
            self.checker_timer(now, out);
        }
        let links = std::mem::take(&mut self.director.pending_links);
        let running: BTreeMap<String, bool> =
            self.apps.iter().map(|a| (a.spec.name().to_string(), a.running)).collect();
        let Some(vrrp) = self.director.keepalived.as_mut().and_then(|k| k.vrrp.as_mut()) else { return };
        for (dev, up) in links {
            vrrp.set_interface(now, &dev, up);
        }
        let mut scripts = Scripts { results: &self.script_results, running, unknown: vec![] };
        if vrrp.next_deadline().is_some_and(|t| t <= now) {
            vrrp.on_timer(now, &mut scripts);
        }
        for s in scripts.unknown {
            out.note("-", "keepalived", || {
                format!("vrrp_script `{s}` is not modelled: assumed to exit 0 (set script_results in the scenario)")
            });
        }
        let actions = vrrp.drain_actions();
        self.apply_vrrp(now, actions, out);
    }

    /// Carries out what keepalived's VRRP process asked for.
    fn apply_vrrp(&mut self, now: Instant, actions: Vec<VrrpAction>, out: &mut Outbox) {
        for a in actions {
            match a {
                VrrpAction::Send { dev, packet } => {
                    let mut frame = vec![0u8; ETH_HLEN];
                    frame[12..14].copy_from_slice(&crate::wire::ETHERTYPE_IPV4.to_be_bytes());
                    frame.extend_from_slice(&packet);
                    let (mut hk, stack) = split(self);
                    let Err(e) = stack.raw_output(now, &dev, frame, &mut hk, out) else { continue };
                    // keepalived's `vrrp_send_adv` ignores a failed multicast send (the
                    // stack's drop line says why) and logs `(%s) Cant send advert to %s (%m)`
                    // for a unicast peer.
                    let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
                    if dst.is_multicast() {
                        continue;
                    }
                    let name = self.vrrp_instance_of(&dev, &packet).unwrap_or_default();
                    let why = match e {
                        crate::stack::SendError::NetUnreach => "Network is unreachable",
                        crate::stack::SendError::Filtered => "Operation not permitted",
                        crate::stack::SendError::TooBig => "Message too long",
                    };
                    out.note("-", "vrrp", || format!("({name}) Cant send advert to {dst} ({why})"));
                }
                VrrpAction::AddVip { dev, addr, prefix, label } => {
                    let Some(d) = self.stack.dev_by_name(&dev) else { continue };
                    let label = label.unwrap_or_else(|| self.stack.ifaces[d].name.clone());
                    let a = IfAddr { addr, prefix, label, scope: Scope::Global, broadcast: None, secondary: false };
                    if self.stack.add_addr(d, a).is_ok() {
                        out.note(&dev, "vrrp", || format!("VIP {addr}/{prefix} added"));
                        if let Some(c) = self.director.keepalived.as_mut().and_then(|k| k.checkers.as_mut()) {
                            c.on_address(addr, true);
                        }
                    }
                }
                VrrpAction::DelVip { dev, addr, prefix } => {
                    let Some(d) = self.stack.dev_by_name(&dev) else { continue };
                    if self.stack.del_addr(d, addr, Some(prefix)).is_ok() {
                        out.note(&dev, "vrrp", || format!("VIP {addr}/{prefix} removed"));
                        if let Some(c) = self.director.keepalived.as_mut().and_then(|k| k.checkers.as_mut()) {
                            c.on_address(addr, false);
                        }
                    }
                }
                VrrpAction::BlockVip { addr, block } => {
                    if block {
                        self.stack.blocked.insert(addr);
                    } else {
                        self.stack.blocked.remove(&addr);
                    }
                }
                VrrpAction::Garp { dev, vip, frame, .. } => {
                    // A VMAC's GARP leaves by its base device's port.
                    let Some(port) = self.stack.dev_by_name(&dev).and_then(|d| self.stack.ifaces[d].tx_port()) else {
                        continue;
                    };
                    if self.stack.ifaces.iter().any(|i| i.port == Some(port) && i.running()) {
                        out.send_with(port, frame, || format!("keepalived gratuitous ARP for {vip}"));
                    }
                }
                VrrpAction::JoinGroup { dev, group } => {
                    if let Some(d) = self.stack.dev_by_name(&dev) {
                        self.stack.mcast.insert((d, group));
                    }
                }
                VrrpAction::LeaveGroup { dev, group } => {
                    if let Some(d) = self.stack.dev_by_name(&dev) {
                        self.stack.mcast.remove(&(d, group));
                    }
                }
                VrrpAction::Log(line) => out.note("-", "vrrp", || line),
                VrrpAction::StateChange { .. } => {}
                VrrpAction::Notify { name, state, script } => {
                    out.note("-", "vrrp", || format!("notify {state} for {name}: `{script}` (scripts are not run)"));
                }
                VrrpAction::Vmac { dev, name, mac, up } => {
                    let Some(base) = self.stack.dev_by_name(&dev) else { continue };
                    let port = self.stack.ifaces[base].port;
                    match (up, self.stack.dev_by_name(&name)) {
                        (true, None) => {
                            let index = self.stack.ifaces.iter().map(|i| i.index).max().unwrap_or(1) + 1;
                            let mut i = Iface::new(index, &name, IfKind::Ether, mac, None);
                            i.vmac_of = port;
                            i.conf = self.stack.sysctl.add_dev(&name);
                            self.stack.ifaces.push(i);
                            self.stack.rt_cache_flush();
                            self.set_vmac_parameters(&name, &dev);
                        }
                        (false, Some(p)) => {
                            self.stack.ifaces.remove(p);
                            self.stack.sysctl.remove_dev(&name);
                            self.stack.rebuild_kernel_routes();
                            self.reset_vmac_parameters(&dev);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

impl Machine {
    /// keepalived's `set_interface_parameters` (vrrp_if_config.c) for a new VMAC:
    /// on the macvlan `arp_ignore=1`, `accept_local=1`, `rp_filter=0`; on its base
    /// `arp_ignore=1` and `arp_filter=1`, the old values saved by the first VMAC,
    /// so that only the macvlan answers ARP for the VIP, with the virtual MAC.
    /// (`promote_secondaries` is not modelled.)
    fn set_vmac_parameters(&mut self, vmac: &str, base: &str) {
        let sysctl = &mut self.stack.sysctl;
        for (name, value) in [("arp_ignore", "1"), ("accept_local", "1"), ("rp_filter", "0")] {
            let _ = sysctl.set(&conf_key(vmac, name), value);
        }
        if let Some(b) = self.director.vmac_bases.get_mut(base) {
            b.vmacs += 1;
            return;
        }
        let get = |name: &str| sysctl.get(&conf_key(base, name)).unwrap_or_default();
        let saved = BaseArpConfig { vmacs: 1, arp_ignore: get("arp_ignore"), arp_filter: get("arp_filter") };
        for name in ["arp_ignore", "arp_filter"] {
            let _ = sysctl.set(&conf_key(base, name), "1");
        }
        self.director.vmac_bases.insert(base.to_string(), saved);
    }

    /// keepalived's `reset_interface_parameters`: the last VMAC on `base` gone, its
    /// `arp_ignore` and `arp_filter` are put back.
    fn reset_vmac_parameters(&mut self, base: &str) {
        let Some(b) = self.director.vmac_bases.get_mut(base) else { return };
        b.vmacs -= 1;
        if b.vmacs > 0 {
            return;
        }
        let b = self.director.vmac_bases.remove(base).expect("present");
        let _ = self.stack.sysctl.set(&conf_key(base, "arp_ignore"), &b.arp_ignore);
        let _ = self.stack.sysctl.set(&conf_key(base, "arp_filter"), &b.arp_filter);
    }

    /// The configured instance an outgoing advert belongs to: its VRID (after the IPv4
    /// header and an AH header if any) on the instance's interface.
    fn vrrp_instance_of(&self, dev: &str, packet: &[u8]) -> Option<String> {
        let ihl = usize::from(packet.first()? & 0x0f) * 4;
        let ah = if packet.get(9) == Some(&51) { 24 } else { 0 };
        let vrid = *packet.get(ihl + ah + 1)?;
        let k = self.director.keepalived.as_ref()?;
        let same = |i: &&crate::director::keepalived::VrrpInstance| i.virtual_router_id == vrid;
        let on_dev = k.config.instances.iter().filter(same).find(|i| i.interface.as_deref() == Some(dev));
        // With use_vmac the advert leaves the macvlan, not the configured interface.
        on_dev.or_else(|| k.config.instances.iter().find(same)).map(|i| i.name.clone())
    }
}

/// The machine's hooked module and stack, borrowed together.
fn split(m: &mut Machine) -> (Hk<'_>, &mut Stack) {
    let Machine { stack, director, .. } = m;
    (Hk(director.hooked()), stack)
}

/// Sends a keepalived advert: the filter OUTPUT chain applies (so `iptables -I
/// OUTPUT -p vrrp -j DROP` silences it), multicast leaves `dev` directly.
impl Stack {
    pub fn raw_output(
        &mut self,
        now: Instant,
        dev: &str,
        frame: Vec<u8>,
        hk: &mut Hk,
        out: &mut Outbox,
    ) -> Result<(), crate::stack::SendError> {
        let dst = Ipv4Addr::new(frame[ETH_HLEN + 16], frame[ETH_HLEN + 17], frame[ETH_HLEN + 18], frame[ETH_HLEN + 19]);
        if !dst.is_multicast() {
            return self.ip_output(now, frame, Some("VRRP advert (unicast peer)".into()), hk, out);
        }
        let d = self.dev_by_name(dev).ok_or(crate::stack::SendError::NetUnreach)?;
        self.output_filter(&frame, Some(d), out)?;
        self.xmit_direct(d, crate::wire::MacAddr::ipv4_multicast(dst), frame, Some("VRRP advert".into()), out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::KeepalivedArgs;
    use crate::director::vrrp::KeepalivedVersion;

    fn args(words: &[&str]) -> KeepalivedArgs {
        let v: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        KeepalivedArgs::parse(&v).unwrap_or_else(|e| panic!("{words:?}: {}", e.message))
    }

    #[test]
    fn command_line() {
        let a = args(&[]);
        assert_eq!((a.file.as_str(), a.test, a.log_detail), ("/etc/keepalived/keepalived.conf", false, false));
        let a = args(&["-D", "-f", "/etc/ka.conf"]);
        assert_eq!((a.file.as_str(), a.log_detail), ("/etc/ka.conf", true));
        assert!(args(&["--log-detail"]).log_detail);
        assert!(args(&["-lD"]).log_detail);
        assert!(!args(&["-S", "0", "--dont-fork"]).log_detail);
        assert!(args(&["-t"]).test);
        let e = KeepalivedArgs::parse(&["-S".to_string()]).err().expect("-S needs a facility");
        assert!(e.message.contains("'S'"), "{}", e.message);
        assert!(KeepalivedArgs::parse(&["-X".to_string()]).is_err());
    }

    #[test]
    fn release_numbers() {
        for (s, v) in [
            ("1.3.5", KeepalivedVersion::V1_3),
            ("1.2.13", KeepalivedVersion::V1_3),
            ("v2.0.20", KeepalivedVersion::V2_2),
            ("2.2.4", KeepalivedVersion::V2_2),
            ("2.3.2", KeepalivedVersion::V2_2),
            ("2.3.3", KeepalivedVersion::V2_4),
            ("2.4", KeepalivedVersion::V2_4),
            ("2.4.3", KeepalivedVersion::V2_4),
        ] {
            assert_eq!(KeepalivedVersion::from_release(s), Some(v), "{s}");
        }
        for s in ["", "3.0", "2.x", "1.3.5.1", "0.9"] {
            assert_eq!(KeepalivedVersion::from_release(s), None, "{s}");
        }
    }
}
