//! Running a scenario on real kernels. Each host gets a namespace; each segment a
//! namespace with a bridge; each NIC a veth pair into its segment's bridge.
//!
//! - **Kernel hosts** (clients, real servers, routers) are configured by their
//!   setup commands run for real ([`RealEnv`]); their apps are `lvs-lab netns agent`
//!   processes using the kernel's TCP and UDP.
//! - **Model hosts** (directors: a setup that uses `ipvsadm` or keepalived) are the
//!   very `sim_core::host::Machine` the simulator runs, fed real frames from
//!   AF_PACKET sockets on their veths, which carry no IP address so the kernel
//!   stays out of the way.
//! - One poll loop drives the model hosts' frames and timers, fires the scenario's
//!   events at their times and reads the capture sockets (one per veth).
//!
//! Time is the monotonic clock since `t0`, the moment setup finished; the model
//! hosts boot at `t0` and the agents count their `start`s from it.

use super::agent::AgentMsg;
use super::realenv::{KernelHost, RealEnv};
use super::sys::{self, PacketSocket};
use super::topo::{self, Topo};
use crate::Fail;
use sim_core::capture::{Capture, CaptureIface};
use sim_core::engine::RunEnd;
use sim_core::host::Machine;
use sim_core::node::{Emit, Node, Outbox};
use sim_core::report::{EchoStats, NeighEntry, NodeReport, Report, RequestRecord, RouteEntry};
use sim_core::scenario::Scenario;
use sim_core::shell::{Command as ShCmd, ServiceAction, ShellEnv, Site, run_named_script};
use sim_core::time::{Duration, Instant};
use sim_core::trace::{Layout, TraceEvent};
use sim_core::wire::MacAddr;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::Ipv4Addr;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Stop here instead of at the scenario's duration.
    pub until: Option<Duration>,
    /// Record a pcapng of every veth.
    pub capture: bool,
    /// Hosts to run as the model even though they are not directors.
    pub model: Vec<String>,
    /// Collect the model hosts' trace (what they received, sent and noted, with
    /// causes, at the model hosts' clock).
    pub trace: bool,
    /// A busy machine, for testing the harness (`LVS_LAB_NETNS_STALL`): each turn of
    /// the poll loop first spins this long (ns) and then reads only one model
    /// host's socket, the last ready one (the bridge floods to the newest port
    /// first), as when the harness is woken by the first copy of a broadcast and
    /// then scheduled out.
    pub stall: u64,
}

/// What a real run produced.
#[derive(Debug)]
pub struct NetnsRun {
    pub report: Report,
    pub pcap: Option<Vec<u8>>,
    /// Timed commands that failed.
    pub errors: Vec<String>,
    /// The hosts that ran as the model (directors), in scenario order.
    pub models: Vec<String>,
    /// The model hosts' trace when asked for ([`Options::trace`]), and its
    /// column widths.
    pub trace: Vec<TraceEvent>,
    pub layout: Layout,
}

/// A run, or the reason this kernel cannot run the scenario.
#[derive(Debug)]
pub enum Outcome {
    Ran(Box<NetnsRun>),
    Unavailable(String),
}

/// What a dry run of a host's commands shows about it.
#[derive(Debug, Default)]
struct Scan {
    director: bool,
    tunnel: bool,
}

impl ShellEnv for Scan {
    fn run(&mut self, cmd: &ShCmd, site: Site<'_>) -> Result<String, sim_core::node::CmdError> {
        match cmd {
            ShCmd::Ipvsadm(_) | ShCmd::Keepalived(_) => self.director = true,
            ShCmd::Service { name, action: ServiceAction::Start | ServiceAction::Restart } if name == "keepalived" => {
                self.director = true
            }
            ShCmd::Modprobe { module, remove: false } => {
                self.director |= module == "ip_vs" || module.starts_with("ip_vs_");
                self.tunnel |= module == "ipip" || module == "tunnel4";
            }
            _ => self.tunnel |= site.argv.iter().any(|a| a.starts_with("tunl") || a == "ipip"),
        }
        Ok(String::new())
    }
    fn read_file(&self, _: &str) -> Option<String> {
        None
    }
    fn write_file(&mut self, _: &str, _: &str, _: bool) -> Result<(), sim_core::node::CmdError> {
        Ok(())
    }
    fn remove_file(&mut self, _: &str) -> bool {
        true
    }
}

/// Scans a host's setup and timed commands.
fn scan(sc: &Scenario, h: usize) -> Scan {
    let m = &sc.machines[h];
    let mut s = Scan::default();
    for script in &m.setup {
        let _ = run_named_script(&script.origin, &script.text, &script.args, &mut s);
    }
    for e in sc.spec.events.iter().filter(|e| e.host.get_ref() == &m.name) {
        if let Some(c) = &e.command {
            let _ = run_named_script("-", c, &[], &mut s);
        }
        s.director |= e.app.as_deref() == Some("keepalived");
    }
    s
}

/// A host run by the model over packet sockets.
struct ModelHost {
    /// Booted when the clock starts.
    machine: Option<Box<Machine>>,
    up: bool,
    io: Vec<PacketSocket>,
    /// The latest time the machine was given (ns since `t0`): its clock never runs
    /// backwards, even for a held frame handled after its due time.
    clock: u64,
}

enum Host {
    Kernel(KernelHost),
    Model(ModelHost),
}

/// An app process of a kernel host.
struct Agent {
    host: usize,
    app: usize,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: std::thread::JoinHandle<()>,
}

/// A captured frame.
struct Frame {
    ts: u64,
    iface: u32,
    inbound: bool,
    data: Vec<u8>,
}

/// A frame in flight on a model host's cable: the scenario's link `latency`, which
/// veths do not have (and `tc netem` is missing), is served by holding the frame.
struct Held {
    h: usize,
    port: usize,
    /// Towards the machine (`on_frame`) or from it (sent on the veth).
    inbound: bool,
    frame: Vec<u8>,
}

struct Harness<'a> {
    sc: &'a Scenario,
    topo: Topo,
    seed: u64,
    hosts: Vec<Host>,
    /// Segment namespace index of each (host, nic).
    cable: BTreeMap<(usize, usize), usize>,
    agents: Vec<Agent>,
    /// Capture socket of each (host, nic), in capture interface order.
    taps: Vec<((usize, usize), Option<PacketSocket>)>,
    frames: Vec<Frame>,
    t0: u64,
    rt0: u64,
    out: Outbox,
    emits: Vec<Emit>,
    /// The model hosts' trace ([`Options::trace`]), `host:nic` by MAC for its
    /// frame summaries, and the index of the received frame whose verdict the
    /// next flush fills in.
    trace: Vec<TraceEvent>,
    mac_names: BTreeMap<MacAddr, String>,
    rx_event: Option<usize>,
    /// One-way latency of each model host's (host, nic), in ns: from the host to its
    /// segment's switch (half of a back-to-back cable's).
    latency: BTreeMap<(usize, usize), u64>,
    /// Frames held by that latency, by (due, sequence number).
    held: BTreeMap<(u64, u64), Held>,
    held_seq: u64,
    stall: u64,
    /// The buffer every socket is read into.
    rxbuf: Vec<u8>,
    errors: Vec<String>,
    exe: std::path::PathBuf,
}

fn fail(e: impl std::fmt::Display) -> Fail {
    Fail { code: 1, message: e.to_string() }
}

/// Runs `sc` on real kernels. Everything made for the run is removed before this
/// returns, whatever happens; after Ctrl-C the result is exit status 130.
pub fn run(sc: &Scenario, opts: &Options) -> Result<Outcome, Fail> {
    let r = run_inner(sc, opts);
    if sys::interrupted() {
        return Err(Fail { code: 130, message: "interrupted: the run's namespaces are removed".into() });
    }
    r
}

fn run_inner(sc: &Scenario, opts: &Options) -> Result<Outcome, Fail> {
    topo::preflight().map_err(Fail::input)?;
    for m in &opts.model {
        if !sc.machines.iter().any(|x| &x.name == m) {
            return Err(Fail::input(format!("--model: scenario `{}` has no host `{m}`", sc.name)));
        }
    }
    let scans: Vec<Scan> = (0..sc.machines.len()).map(|h| scan(sc, h)).collect();
    let is_model = |h: usize| scans[h].director || opts.model.contains(&sc.machines[h].name);
    let tun_hosts: Vec<&str> = (0..sc.machines.len())
        .filter(|&h| !is_model(h) && scans[h].tunnel)
        .map(|h| sc.machines[h].name.as_str())
        .collect();
    if !tun_hosts.is_empty() && !topo::has_ipip() {
        return Ok(Outcome::Unavailable(format!(
            "{}: unavailable on this kernel: {} need{} IPIP tunnels (the `ipip` module), which this kernel lacks",
            sc.name,
            tun_hosts.join(", "),
            if tun_hosts.len() == 1 { "s" } else { "" }
        )));
    }
    sys::catch_interrupts();
    let exe = std::env::current_exe().map_err(|e| fail(format!("cannot find lvs-lab's own executable: {e}")))?;
    let mut hz = Harness {
        sc,
        topo: Topo::new(),
        seed: sc.spec.seed.unwrap_or(1),
        hosts: vec![],
        cable: BTreeMap::new(),
        agents: vec![],
        taps: vec![],
        frames: vec![],
        t0: 0,
        rt0: 0,
        out: Outbox::new(opts.trace),
        trace: vec![],
        mac_names: sc
            .machines
            .iter()
            .flat_map(|m| m.nics.iter().map(|(n, mac)| (*mac, format!("{}:{n}", m.name))))
            .collect(),
        rx_event: None,
        emits: vec![],
        latency: BTreeMap::new(),
        held: BTreeMap::new(),
        held_seq: 0,
        stall: opts.stall,
        rxbuf: vec![0; 65536],
        errors: vec![],
        exe,
    };
    let mut nseg = sc.spec.segments.len();
    for l in &sc.links {
        let lat = l.params.latency.as_nanos() as u64;
        match l.to {
            Ok(s) => {
                hz.cable.insert((l.host, l.nic), s);
                hz.latency.insert((l.host, l.nic), lat);
            }
            Err(peer) => {
                hz.cable.insert((l.host, l.nic), nseg);
                hz.cable.insert(peer, nseg);
                hz.latency.insert((l.host, l.nic), lat / 2);
                hz.latency.insert(peer, lat - lat / 2);
                nseg += 1;
            }
        }
    }
    hz.latency.retain(|&(h, _), _| is_model(h));
    for i in 0..nseg {
        let ageing = sc.segment_ageing.get(i).map_or(300, |d| d.as_secs().max(1));
        hz.topo.add_segment(i, ageing).map_err(fail)?;
    }
    for (h, m) in sc.machines.iter().enumerate() {
        hz.make_host_ns(h).map_err(fail)?;
        if is_model(h) {
            hz.hosts.push(Host::Model(ModelHost { machine: None, up: false, io: vec![], clock: 0 }));
        } else {
            let k = KernelHost {
                name: m.name.clone(),
                ns: hz.topo.host_ns(&m.name),
                files: boot_files(m),
                apps: m.apps.clone(),
                running: m.apps.iter().map(|a| !starts_stopped(a)).collect(),
                background: vec![],
            };
            hz.hosts.push(Host::Kernel(k));
            hz.setup_kernel(h)?;
        }
    }
    // Capture sockets on every NIC, model hosts' I/O sockets.
    for (h, m) in sc.machines.iter().enumerate() {
        for n in 0..m.nics.len() {
            hz.taps.push(((h, n), None));
        }
    }
    if opts.capture {
        for i in 0..hz.taps.len() {
            hz.open_tap(i).map_err(fail)?;
        }
    }
    for h in 0..hz.hosts.len() {
        let ns = hz.topo.host_ns(&sc.machines[h].name);
        if let Host::Model(mh) = &mut hz.hosts[h] {
            for (nic, _) in &sc.machines[h].nics {
                let s = PacketSocket::open(&ns, nic, true)
                    .map_err(|e| fail(format!("packet socket on {}:{nic}: {e}", sc.machines[h].name)))?;
                mh.io.push(s);
            }
        }
    }
    let ifaces = if opts.capture { hz.capture_ifaces() } else { vec![] };
    // The clock starts: model hosts boot, agents start.
    hz.t0 = sys::monotonic_ns();
    hz.rt0 = sys::realtime_ns();
    for h in 0..hz.hosts.len() {
        if matches!(hz.hosts[h], Host::Model(_)) {
            hz.boot_model(h, Instant::ZERO)?;
        } else {
            hz.start_agents(h)?;
        }
    }
    let end = opts.until.unwrap_or(sc.spec.duration).as_nanos() as u64;
    let ended = hz.run_loop(end)?;
    let now = hz.now();
    let report = hz.report(now, ended);
    let pcap = opts.capture.then(|| hz.pcap(&ifaces));
    let models = (0..hz.hosts.len())
        .filter(|&h| matches!(hz.hosts[h], Host::Model(_)))
        .map(|h| sc.machines[h].name.clone())
        .collect();
    let layout = Layout::fit(
        sc.machines.iter().map(|m| m.name.as_str()),
        sc.machines.iter().flat_map(|m| m.nics.iter().map(|n| n.0.as_str())),
    );
    // A held frame is handled at its due time, which may come before a line
    // another host wrote first: the trace is in time order, numbered after.
    let mut trace = std::mem::take(&mut hz.trace);
    trace.sort_by_key(|e| e.time);
    for (i, e) in trace.iter_mut().enumerate() {
        e.id = i as u64 + 1;
    }
    Ok(Outcome::Ran(Box::new(NetnsRun { report, pcap, errors: std::mem::take(&mut hz.errors), models, trace, layout })))
}

/// A kernel host's files at boot: the scenario's, and an empty `/etc/sysctl.conf`
/// as every distribution ships and the simulator's `Machine::boot` assumes (so
/// `sysctl -p` works on a machine whose scenario does not write one).
fn boot_files(m: &sim_core::host::MachineSpec) -> BTreeMap<String, String> {
    let mut files = m.files.clone();
    files.entry(sim_core::shell::sysctl::DEFAULT_CONF.into()).or_default();
    files
}

fn starts_stopped(a: &sim_core::host::apps::AppSpec) -> bool {
    use sim_core::host::apps::AppSpec;
    matches!(a, AppSpec::HttpServer { stopped: true, .. } | AppSpec::UdpServer { stopped: true, .. })
}

impl Harness<'_> {
    fn now(&self) -> u64 {
        sys::monotonic_ns().saturating_sub(self.t0)
    }

    fn name(&self, h: usize) -> &str {
        &self.sc.machines[h].name
    }

    /// The host's namespace and its veths into the segments.
    fn make_host_ns(&mut self, h: usize) -> Result<(), String> {
        let m = &self.sc.machines[h];
        let ns = self.topo.host_ns(&m.name);
        self.topo.add_ns(&ns)?;
        for (n, (nic, mac)) in m.nics.iter().enumerate() {
            let seg = self.cable[&(h, n)];
            self.topo.add_link(&ns, h, n, nic, &mac.to_string(), seg)?;
            // A link slower than the default gigabit: a token bucket (`tbf`, one frame
            // of burst) on each sending end; a back-to-back cable only on the hosts' ends.
            let link = self.sc.links.iter().find(|l| (l.host, l.nic) == (h, n) || l.to == Err((h, n)));
            if let Some(l) = link
                && l.params.rate != 0
                && l.params.rate != sim_core::fabric::LinkParams::default().rate
            {
                let both = l.to.is_ok();
                self.topo.shape(&ns, h, n, nic, seg, l.params.rate, l.params.queue, both)?;
            }
        }
        Ok(())
    }

    /// Runs a kernel host's setup scripts for real.
    fn setup_kernel(&mut self, h: usize) -> Result<(), Fail> {
        let m = &self.sc.machines[h];
        let Host::Kernel(k) = &mut self.hosts[h] else { return Ok(()) };
        for s in &m.setup {
            let mut env = RealEnv { host: k, changes: vec![] };
            run_named_script(&s.origin, &s.text, &s.args, &mut env).map_err(|e| {
                let line = s.first_line + e.line.saturating_sub(1);
                Fail::input(format!("{}: {}:{line}: `{}`: {}", m.name, s.origin, e.command, e.message))
            })?;
        }
        Ok(())
    }

    fn open_tap(&mut self, i: usize) -> std::io::Result<()> {
        let ((h, n), _) = self.taps[i];
        let ns = self.topo.host_ns(self.name(h));
        let nic = self.sc.machines[h].nics[n].0.clone();
        self.taps[i].1 = Some(PacketSocket::open(&ns, &nic, false)?);
        Ok(())
    }

    /// The capture's interfaces: `host:nic`, its MAC and its addresses after setup.
    fn capture_ifaces(&self) -> Vec<CaptureIface> {
        self.taps
            .iter()
            .map(|((h, n), _)| {
                let (nic, mac) = &self.sc.machines[*h].nics[*n];
                let ipv4 = match &self.hosts[*h] {
                    Host::Kernel(k) => kernel_addrs(&k.ns, nic),
                    Host::Model(_) => vec![],
                };
                CaptureIface { name: format!("{}:{nic}", self.name(*h)), mac: *mac, ipv4 }
            })
            .collect()
    }

    fn boot_model(&mut self, h: usize, now: Instant) -> Result<(), Fail> {
        let spec = &self.sc.machines[h];
        let machine = Machine::boot(spec, self.seed, now, &mut self.out).map_err(Fail::input)?;
        if let Host::Model(mh) = &mut self.hosts[h] {
            mh.machine = Some(Box::new(machine));
            mh.up = true;
        }
        self.flush(h, now.nanos());
        Ok(())
    }

    /// Sends what model host `h` emitted at `now` (its clock), or holds it for its
    /// cable's latency: a frame leaves at `now` + latency, however late the harness
    /// got to it, so the order of frames on the wire is the model's.
    fn flush(&mut self, h: usize, now: u64) {
        let verdict = self.out.take_into(&mut self.emits);
        let Host::Model(mh) = &mut self.hosts[h] else {
            self.emits.clear();
            return;
        };
        mh.clock = mh.clock.max(now);
        if self.out.tracing() {
            self.trace_emits(h, now, verdict);
        }
        for e in std::mem::take(&mut self.emits) {
            if let Emit::Frame { port, frame, .. } = e {
                match self.latency.get(&(h, port)).copied().unwrap_or(0) {
                    0 => self.send(h, port, &frame),
                    lat => self.hold(now + lat, Held { h, port, inbound: false, frame: frame.to_vec() }),
                }
            }
        }
    }

    /// Adds what model host `h` just emitted to the trace, and the verdict on the
    /// frame it received (as the simulator's trace does).
    fn trace_emits(&mut self, h: usize, now: u64, verdict: Option<sim_core::node::Verdict>) {
        if let (Some(i), Some(v)) = (self.rx_event.take(), verdict) {
            self.trace[i].set_verdict(v);
        }
        let emits = std::mem::take(&mut self.emits);
        for e in &emits {
            match e {
                Emit::Frame { port, frame, cause } => {
                    let summary = self.summarize(frame);
                    self.push_trace(h, now, self.nic_name(h, *port), "tx", summary, cause.clone());
                }
                Emit::Note { iface, kind, text, cause } => {
                    self.push_trace(h, now, iface.clone(), kind, text.clone(), cause.clone());
                }
            }
        }
        self.emits = emits;
    }

    /// Adds a frame model host `h` receives on `port` to the trace; its verdict
    /// comes with the next flush.
    fn trace_rx(&mut self, h: usize, port: usize, now: u64, frame: &[u8]) {
        let summary = self.summarize(frame);
        self.rx_event = Some(self.trace.len());
        self.push_trace(h, now, self.nic_name(h, port), "rx", summary, None);
    }

    fn push_trace(&mut self, h: usize, now: u64, iface: String, dir: &str, summary: String, cause: Option<String>) {
        self.trace.push(TraceEvent {
            id: self.trace.len() as u64 + 1,
            time: Instant::from_nanos(now),
            node: self.sc.machines[h].name.clone(),
            iface,
            dir: dir.to_string(),
            summary,
            cause,
        });
    }

    fn nic_name(&self, h: usize, port: usize) -> String {
        self.sc.machines[h].nics.get(port).map_or("-", |n| n.0.as_str()).to_string()
    }

    fn summarize(&self, frame: &[u8]) -> String {
        sim_core::wire::summary::frame(frame, &|m| self.mac_names.get(&m).cloned())
    }

    fn send(&mut self, h: usize, port: usize, frame: &[u8]) {
        let Host::Model(mh) = &self.hosts[h] else { return };
        if let Some(s) = mh.io.get(port)
            && let Err(err) = s.send(frame)
        {
            self.errors.push(format!("{}: send on port {port}: {err}", self.sc.machines[h].name));
        }
    }

    fn hold(&mut self, due: u64, f: Held) {
        self.held_seq += 1;
        self.held.insert((due, self.held_seq), f);
    }

    /// Delivers the held frames that are due, in due order; returns the next due time.
    ///
    /// A held frame reaches its model host at its due time (the wire's timestamp
    /// plus the cable), not when the harness got round to it, so the replies leave
    /// in the order the latencies give. Before the first frame leaves, the model
    /// hosts' sockets are read again: a frame that arrived while the harness was
    /// busy may be owed an earlier reply (an ARP race: the harness read rs2's copy
    /// of a broadcast, was scheduled out, and would have sent rs2's reply before
    /// reading rs1's copy, whose reply is due first).
    fn release_held(&mut self) -> Result<Option<u64>, Fail> {
        let mut reread = false;
        loop {
            let Some((&(due, _), f)) = self.held.first_key_value() else { return Ok(None) };
            if due > self.now() {
                return Ok(Some(due));
            }
            if !f.inbound && !reread {
                reread = true;
                self.drain_models().map_err(fail)?;
                continue;
            }
            let (_, f) = self.held.pop_first().expect("non-empty");
            let Host::Model(ModelHost { machine: Some(_), up: true, clock, .. }) = &self.hosts[f.h] else { continue };
            if f.inbound {
                let at = due.max(*clock);
                if self.out.tracing() {
                    self.trace_rx(f.h, f.port, at, &f.frame);
                }
                let Host::Model(ModelHost { machine: Some(m), .. }) = &mut self.hosts[f.h] else { continue };
                m.on_frame(Instant::from_nanos(at), f.port, &f.frame, &mut self.out);
                self.flush(f.h, at);
            } else {
                self.send(f.h, f.port, &f.frame);
            }
        }
    }

    fn start_agents(&mut self, h: usize) -> Result<(), Fail> {
        let Host::Kernel(k) = &self.hosts[h] else { return Ok(()) };
        let todo: Vec<usize> = (0..k.apps.len()).filter(|&i| k.running[i]).collect();
        for i in todo {
            self.spawn_agent(h, i)?;
        }
        Ok(())
    }

    fn spawn_agent(&mut self, h: usize, app: usize) -> Result<(), Fail> {
        let Host::Kernel(k) = &self.hosts[h] else { return Ok(()) };
        let spec = serde_json::to_string(&k.apps[app]).expect("app specs serialise");
        let mut child = std::process::Command::new(&self.exe)
            .args(["netns", "agent", "--netns", &k.ns, "--host", &k.name, "--t0", &self.t0.to_string(), "--app"])
            .arg(&spec)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot start agent for {}: {e}", k.name)))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(vec![]));
        let l2 = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                l2.lock().expect("agent lines").push(line);
            }
        });
        self.agents.push(Agent { host: h, app, child, lines, reader });
        Ok(())
    }

    /// Stops the agents of host `h` (only app `app` if given), keeping what they printed.
    fn stop_agents(&mut self, h: usize, app: Option<usize>) {
        for a in self.agents.iter_mut().filter(|a| a.host == h && app.is_none_or(|x| x == a.app)) {
            let _ = a.child.kill();
            let _ = a.child.wait();
        }
    }

    fn apply_changes(&mut self, h: usize, changes: Vec<(usize, bool)>) -> Result<(), Fail> {
        for (app, start) in changes {
            if start {
                self.spawn_agent(h, app)?;
            } else {
                self.stop_agents(h, Some(app));
            }
        }
        Ok(())
    }

    /// Pulls or plugs every cable of host `h`.
    fn cables(&mut self, h: usize, up: bool) {
        for n in 0..self.sc.machines[h].nics.len() {
            if let Err(e) = self.topo.set_cable(h, n, self.cable[&(h, n)], up) {
                self.errors.push(e);
            }
        }
    }

    /// Fires one scenario event.
    fn event(&mut self, i: usize) -> Result<(), Fail> {
        let e = &self.sc.spec.events[i];
        let h = self.sc.machines.iter().position(|m| &m.name == e.host.get_ref()).expect("validated host");
        let now = Instant::from_nanos(self.now());
        let name = self.name(h).to_string();
        let act = e.action.get_ref().as_str();
        let line = match act {
            "exec" => e.command.clone().unwrap_or_default(),
            "stop" | "start" => format!("systemctl {act} {}", e.app.as_deref().unwrap_or_default()),
            _ => String::new(),
        };
        let at = format!("{name} at {now}");
        match act {
            "link-down" | "link-up" => {
                let nic = e.nic.as_ref().expect("validated nic").get_ref();
                let n = self.sc.machines[h].nics.iter().position(|x| &x.0 == nic).expect("validated nic");
                let up = act == "link-up";
                if let Err(err) = self.topo.set_cable(h, n, self.cable[&(h, n)], up) {
                    self.errors.push(format!("{at}: {err}"));
                }
                if let Host::Model(ModelHost { machine: Some(m), up: true, .. }) = &mut self.hosts[h] {
                    m.on_carrier(now, n, up, &mut self.out);
                    self.flush(h, now.nanos());
                }
            }
            "crash" => {
                self.cables(h, false);
                match &mut self.hosts[h] {
                    Host::Model(mh) => mh.up = false,
                    Host::Kernel(k) => {
                        let ns = k.ns.clone();
                        self.stop_agents(h, None);
                        topo::kill_ns_pids(&ns);
                    }
                }
            }
            "boot" => {
                let down = match &self.hosts[h] {
                    Host::Model(mh) => !mh.up,
                    Host::Kernel(_) => true,
                };
                if !down {
                    self.errors.push(format!("boot of {at}: it is already running"));
                    return Ok(());
                }
                if matches!(self.hosts[h], Host::Model(_)) {
                    self.boot_model(h, now)?;
                    self.cables(h, true);
                    for n in 0..self.sc.machines[h].nics.len() {
                        if let Host::Model(ModelHost { machine: Some(m), .. }) = &mut self.hosts[h] {
                            m.on_carrier(now, n, true, &mut self.out);
                        }
                        self.flush(h, now.nanos());
                    }
                } else {
                    self.reboot_kernel(h)?;
                }
            }
            _ => {
                // exec, stop, start: a command typed at the machine.
                match &mut self.hosts[h] {
                    Host::Model(mh) => {
                        let (Some(m), true) = (&mut mh.machine, mh.up) else {
                            self.errors.push(format!("{at}: `{line}`: the machine is down"));
                            return Ok(());
                        };
                        let r = m.exec(now, &line, &mut self.out);
                        self.flush(h, now.nanos());
                        if let Err(err) = r {
                            self.errors.push(format!("{at}: `{line}`: {}", err.message));
                        }
                    }
                    Host::Kernel(k) => {
                        let mut env = RealEnv { host: k, changes: vec![] };
                        let r = run_named_script("-", &line, &[], &mut env);
                        let changes = env.changes;
                        if let Err(err) = r {
                            self.errors.push(format!("{at}: `{line}`: {}", err.message));
                        }
                        self.apply_changes(h, changes)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A kernel host boots again: a fresh namespace, its setup, its apps.
    fn reboot_kernel(&mut self, h: usize) -> Result<(), Fail> {
        let m = &self.sc.machines[h];
        let ns = self.topo.host_ns(&m.name);
        self.stop_agents(h, None);
        self.topo.remove_ns(&ns);
        self.make_host_ns(h).map_err(fail)?;
        if let Host::Kernel(k) = &mut self.hosts[h] {
            k.files = boot_files(m);
            k.running = m.apps.iter().map(|a| !starts_stopped(a)).collect();
        }
        self.setup_kernel(h)?;
        for i in 0..self.taps.len() {
            if self.taps[i].0.0 == h && self.taps[i].1.is_some() {
                self.open_tap(i).map_err(fail)?;
            }
        }
        self.start_agents(h)
    }

    fn run_loop(&mut self, end: u64) -> Result<String, Fail> {
        let mut order: Vec<usize> = (0..self.sc.spec.events.len()).collect();
        order.sort_by_key(|&i| self.sc.spec.events[i].at);
        let mut next_event = 0;
        loop {
            if sys::interrupted() {
                return Err(Fail { code: 130, message: "interrupted: namespaces removed".into() });
            }
            if self.stall > 0 {
                let until = sys::monotonic_ns() + self.stall;
                while sys::monotonic_ns() < until {
                    std::hint::spin_loop();
                }
            }
            let now = self.now();
            if now >= end {
                return Ok(RunEnd::Until(Instant::from_nanos(end)).to_string());
            }
            while next_event < order.len() && self.sc.spec.events[order[next_event]].at.as_nanos() as u64 <= now {
                self.event(order[next_event])?;
                next_event += 1;
            }
            let mut wake = end;
            if let Some(due) = self.release_held()? {
                wake = wake.min(due);
            }
            if let Some(i) = order.get(next_event) {
                wake = wake.min(self.sc.spec.events[*i].at.as_nanos() as u64);
            }
            for h in 0..self.hosts.len() {
                let Host::Model(ModelHost { machine: Some(m), up: true, .. }) = &mut self.hosts[h] else { continue };
                let now = sys::monotonic_ns().saturating_sub(self.t0);
                if let Some(d) = m.next_deadline() {
                    if d.nanos() <= now {
                        m.on_timer(Instant::from_nanos(now), &mut self.out);
                        self.flush(h, now);
                    } else {
                        wake = wake.min(d.nanos());
                    }
                }
            }
            // Frames the timers just emitted may be held for their cable's latency:
            // wake for them too, not at the next timer (which was up to 50 ms late).
            if let Some((&(due, _), _)) = self.held.first_key_value() {
                wake = wake.min(due);
            }
            // What to wait on: model hosts' sockets, then the capture sockets.
            let mut fds = vec![];
            let mut who = vec![];
            for (h, host) in self.hosts.iter().enumerate() {
                if let Host::Model(mh) = host {
                    for (p, s) in mh.io.iter().enumerate() {
                        fds.push(s.raw());
                        who.push((Some((h, p)), 0));
                    }
                }
            }
            for (i, (_, t)) in self.taps.iter().enumerate() {
                if let Some(t) = t {
                    fds.push(t.raw());
                    who.push((None, i));
                }
            }
            let wait_ms = (wake.saturating_sub(self.now()) / 1_000_000).min(50) as i32;
            let ready = sys::poll_readable(&fds, wait_ms).map_err(fail)?;
            let one = (self.stall > 0).then(|| (0..ready.len()).rev().find(|&k| ready[k] && who[k].0.is_some()));
            for (k, r) in ready.iter().enumerate() {
                if !r || one.is_some_and(|o| who[k].0.is_some() && o != Some(k)) {
                    continue;
                }
                match who[k] {
                    (Some((h, p)), _) => self.drain_model(h, p).map_err(fail)?,
                    (None, i) => self.drain_tap(i).map_err(fail)?,
                }
            }
        }
    }

    /// Reads what every model host's sockets hold.
    fn drain_models(&mut self) -> std::io::Result<()> {
        for h in 0..self.hosts.len() {
            let ports = match &self.hosts[h] {
                Host::Model(mh) => mh.io.len(),
                Host::Kernel(_) => 0,
            };
            for p in 0..ports {
                self.drain_model(h, p)?;
            }
        }
        Ok(())
    }

    /// Reads what model host `h`'s socket on port `p` holds (into `rxbuf`, put
    /// back after).
    fn drain_model(&mut self, h: usize, p: usize) -> std::io::Result<()> {
        let mut buf = std::mem::take(&mut self.rxbuf);
        let r = self.read_model(h, p, &mut buf);
        self.rxbuf = buf;
        r
    }

    fn read_model(&mut self, h: usize, p: usize, buf: &mut [u8]) -> std::io::Result<()> {
        for _ in 0..256 {
            let Host::Model(mh) = &mut self.hosts[h] else { return Ok(()) };
            let Some(rx) = mh.io[p].recv(buf)? else { return Ok(()) };
            let (Some(_), true, false) = (&mh.machine, mh.up, rx.outgoing) else { continue };
            let now = sys::monotonic_ns().saturating_sub(self.t0);
            if let Some(&lat) = self.latency.get(&(h, p))
                && lat > 0
            {
                // The wire delivered it at its kernel timestamp; the cable adds `lat`.
                let at = if rx.ts_ns >= self.rt0 { rx.ts_ns - self.rt0 } else { now };
                self.hold(at + lat, Held { h, port: p, inbound: true, frame: buf[..rx.len].to_vec() });
                continue;
            }
            if self.out.tracing() {
                self.trace_rx(h, p, now, &buf[..rx.len]);
            }
            let Host::Model(ModelHost { machine: Some(m), .. }) = &mut self.hosts[h] else { return Ok(()) };
            m.on_frame(Instant::from_nanos(now), p, &buf[..rx.len], &mut self.out);
            self.flush(h, now);
        }
        Ok(())
    }

    fn drain_tap(&mut self, i: usize) -> std::io::Result<()> {
        let Some(t) = &self.taps[i].1 else { return Ok(()) };
        for _ in 0..256 {
            let Some(rx) = t.recv(&mut self.rxbuf)? else { return Ok(()) };
            let ts = if rx.ts_ns >= self.rt0 { rx.ts_ns - self.rt0 } else { self.now() };
            self.frames.push(Frame { ts, iface: i as u32, inbound: !rx.outgoing, data: self.rxbuf[..rx.len].to_vec() });
        }
        Ok(())
    }

    fn report(&mut self, now: u64, ended: String) -> Report {
        // Drain what the capture sockets still hold, then stop the apps.
        for i in 0..self.taps.len() {
            let _ = self.drain_tap(i);
        }
        for a in &mut self.agents {
            let _ = a.child.kill();
            let _ = a.child.wait();
        }
        let mut requests: BTreeMap<(String, u32), RequestRecord> = BTreeMap::new();
        let mut echo: BTreeMap<usize, EchoStats> = BTreeMap::new();
        for a in self.agents.drain(..) {
            let _ = a.reader.join();
            for line in a.lines.lock().expect("agent lines").iter() {
                match serde_json::from_str::<AgentMsg>(line) {
                    Ok(AgentMsg::Request(r)) => {
                        requests.insert((r.client.clone(), r.seq), r);
                    }
                    Ok(AgentMsg::Echo(e)) => {
                        echo.insert(a.host, e);
                    }
                    Err(_) => {}
                }
            }
        }
        let mut r = Report {
            scenario: self.sc.name.clone(),
            seed: self.seed,
            world: "netns".into(),
            end_ns: now,
            ended,
            ..Report::default()
        };
        for (h, host) in self.hosts.iter_mut().enumerate() {
            let name = self.sc.machines[h].name.clone();
            let mut nr = match host {
                Host::Model(mh) => mh.machine.as_ref().map(|m| m.report(Instant::from_nanos(now))).unwrap_or_default(),
                Host::Kernel(k) => {
                    for c in &mut k.background {
                        let _ = c.kill();
                        let _ = c.wait();
                    }
                    NodeReport { neigh: kernel_neigh(&k.ns), routes: kernel_routes(&k.ns), ..NodeReport::default() }
                }
            };
            let prefix = format!("{name}/");
            nr.requests.extend(requests.values().filter(|q| q.client.starts_with(&prefix)).cloned());
            nr.requests.sort_by_key(|q| (q.start_ns, q.seq));
            if let Some(e) = echo.get(&h) {
                nr.echo = Some(*e);
            }
            r.requests.extend(nr.requests.iter().cloned());
            r.hosts.insert(name, nr);
        }
        r.requests.sort_by(|a, b| (a.start_ns, &a.client, a.seq).cmp(&(b.start_ns, &b.client, b.seq)));
        r
    }

    fn pcap(&mut self, ifaces: &[CaptureIface]) -> Vec<u8> {
        let mut names: Vec<(Ipv4Addr, String)> = ifaces
            .iter()
            .flat_map(|i| {
                let host = i.name.split(':').next().unwrap_or_default().to_string();
                i.ipv4.iter().map(move |(a, _)| (*a, host.clone()))
            })
            .collect();
        names.sort();
        names.dedup_by_key(|x| x.0);
        let mut c = Capture::new(ifaces, &names);
        self.frames.sort_by_key(|f| f.ts);
        for (k, f) in self.frames.iter().enumerate() {
            c.packet(f.iface, Instant::from_nanos(f.ts), &f.data, f.inbound, k as u64 + 1);
        }
        c.finish()
    }
}

fn json(ns: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let mut v = vec!["ip", "-n", ns, "-j"];
    v.extend_from_slice(args);
    topo::cmd(&v).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

/// IPv4 addresses of `dev` in `ns`, as `ip -j addr` shows them.
fn kernel_addrs(ns: &str, dev: &str) -> Vec<(Ipv4Addr, u8)> {
    json(ns, &["addr", "show", "dev", dev])
        .iter()
        .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["family"] == "inet")
        .filter_map(|a| Some((a["local"].as_str()?.parse().ok()?, a["prefixlen"].as_u64()? as u8)))
        .collect()
}

/// The kernel's neighbour table (IPv4), in the report's shape.
pub fn kernel_neigh(ns: &str) -> Vec<NeighEntry> {
    let mut v: Vec<NeighEntry> = json(ns, &["-4", "neigh", "show"])
        .iter()
        .filter_map(|n| {
            Some(NeighEntry {
                addr: n["dst"].as_str()?.to_string(),
                dev: n["dev"].as_str().unwrap_or_default().to_string(),
                lladdr: n["lladdr"].as_str().map(str::to_string),
                state: n["state"]
                    .as_array()
                    .and_then(|s| s.first())
                    .and_then(|s| s.as_str())
                    .unwrap_or("NONE")
                    .to_string(),
            })
        })
        .collect();
    v.sort();
    v
}

fn kernel_routes(ns: &str) -> Vec<RouteEntry> {
    json(ns, &["-4", "route", "show", "table", "main"])
        .iter()
        .filter_map(|r| {
            let dst = r["dst"].as_str()?;
            let dst = if dst == "default" || dst.contains('/') { dst.to_string() } else { format!("{dst}/32") };
            Some(RouteEntry {
                dst,
                via: r["gateway"].as_str().map(str::to_string),
                dev: r["dev"].as_str().unwrap_or_default().to_string(),
                src: r["prefsrc"].as_str().map(str::to_string),
                scope: r["scope"].as_str().unwrap_or("global").to_string(),
                metric: r["metric"].as_u64().unwrap_or(0) as u32,
            })
        })
        .collect()
}
