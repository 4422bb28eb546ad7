//! Running a scenario in the simulator: building machines, switches and links,
//! scheduling its events, running to the end (or `--until`), and collecting the
//! outcome report, the trace and the capture.

use super::expect::{self, Check};
use super::load::Scenario;
use crate::engine::{Action, Endpoint, NodeId, RunEnd, Sim, SimOptions};
use crate::fabric::Switch;
use crate::host::{Machine, MachineSpec};
use crate::node::{Node, Outbox};
use crate::report::Report;
use crate::time::{Duration, Instant};
use crate::trace::{Layout, TraceEvent};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Collect the trace (text and JSON renderers need it).
    pub trace: bool,
    /// Write a pcapng.
    pub capture: bool,
    /// Stop here instead of at the scenario's duration.
    pub until: Option<Duration>,
    /// Commands to run on machines when the run stops: (host, command).
    pub execs: Vec<(String, String)>,
    /// Evaluate the scenario's `[[expect]]`s.
    pub check: bool,
    pub max_events: Option<u64>,
}

/// The output of a `--exec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub host: String,
    pub command: String,
    pub at: Instant,
    pub result: Result<String, String>,
}

/// Everything a run produced.
#[derive(Debug)]
pub struct RunResult {
    pub report: Report,
    pub trace: Vec<TraceEvent>,
    pub layout: Layout,
    pub pcap: Option<Vec<u8>>,
    pub ended: RunEnd,
    pub execs: Vec<ExecOutput>,
    pub checks: Vec<Check>,
    /// Timed commands that failed, boots that failed.
    pub errors: Vec<String>,
    pub events: u64,
}

impl RunResult {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok) && self.errors.is_empty()
    }
}

/// The simulation of a scenario, built and ready to run.
pub struct Built {
    pub sim: Sim,
    pub hosts: Vec<String>,
    pub seed: u64,
    pub duration: Duration,
}

impl Built {
    pub fn host_id(&self, name: &str) -> Option<NodeId> {
        self.hosts.iter().position(|h| h == name)
    }
}

fn factory(spec: MachineSpec, seed: u64) -> crate::engine::NodeFactory {
    Box::new(move |now: Instant, out: &mut Outbox| {
        Machine::boot(&spec, seed, now, out).map(|m| Box::new(m) as Box<dyn Node>)
    })
}

/// Builds the simulation: machines (setup runs at time 0), switches, links.
pub fn build(sc: &Scenario, opts: &RunOptions) -> Result<Built, String> {
    let seed = opts.seed.or(sc.spec.seed).unwrap_or(1);
    let mut sim = Sim::new(SimOptions {
        seed,
        trace: opts.trace || opts.check,
        capture: opts.capture,
        max_events: opts.max_events.or(sc.spec.max_events).unwrap_or(50_000_000),
    });
    for m in &sc.machines {
        sim.add_node(factory(m.clone(), seed))?;
    }
    let switches: Vec<usize> = sc
        .spec
        .segments
        .iter()
        .zip(&sc.segment_ageing)
        .map(|(s, ageing)| sim.add_switch(Switch::new(s.name.get_ref().clone(), *ageing)))
        .collect();
    for l in &sc.links {
        let a = Endpoint::Node { node: l.host, port: l.nic };
        let b = match l.to {
            Ok(seg) => Endpoint::Switch { switch: switches[seg], port: 0 },
            Err((h, n)) => Endpoint::Node { node: h, port: n },
        };
        sim.connect(a, b, l.params.clone())?;
    }
    check_duplicate_addresses(sc, &sim)?;
    sim.learn_mac_names();
    if opts.capture {
        let mut names = vec![];
        for id in 0..sim.node_count() {
            let n = sim.node(id);
            for p in n.ports() {
                for (a, _) in p.ipv4 {
                    names.push((a, n.name().to_string()));
                }
            }
        }
        names.sort();
        names.dedup_by_key(|x| x.0);
        sim.start_capture(&names);
    }
    sim.start();
    let hosts: Vec<String> = sc.machines.iter().map(|m| m.name.clone()).collect();
    for e in &sc.spec.events {
        let node = hosts.iter().position(|h| h == e.host.get_ref()).expect("validated");
        let at = Instant::ZERO + e.at;
        let action = match e.action.get_ref().as_str() {
            "exec" => Action::Exec { node, line: e.command.clone().unwrap_or_default() },
            "crash" => Action::Crash { node },
            "boot" => Action::Boot { node },
            "stop" => Action::Exec { node, line: format!("systemctl stop {}", e.app.as_deref().unwrap_or_default()) },
            "start" => Action::Exec { node, line: format!("systemctl start {}", e.app.as_deref().unwrap_or_default()) },
            up_down => {
                let nic = e.nic.as_ref().expect("validated").get_ref();
                let port = sc.machines[node].nics.iter().position(|n| &n.0 == nic).expect("validated");
                Action::Link { node, port, up: up_down == "link-up" }
            }
        };
        sim.schedule(at, action);
    }
    Ok(Built { sim, hosts, seed, duration: sc.spec.duration })
}

/// Two machines on one segment configured with the same subnet address: an error
/// in the scenario (a copy-paste slip), not something to simulate. A VIP (a /32)
/// may sit on several machines, as LVS-DR needs.
fn check_duplicate_addresses(sc: &Scenario, sim: &Sim) -> Result<(), String> {
    let mut seen: std::collections::BTreeMap<(usize, std::net::Ipv4Addr), String> = std::collections::BTreeMap::new();
    for l in &sc.links {
        let Ok(seg) = l.to else { continue };
        let node = sim.node(l.host);
        let Some(p) = node.ports().into_iter().nth(l.nic) else { continue };
        for (a, prefix) in p.ipv4.iter().filter(|(_, len)| *len < 32) {
            let me = format!("{}:{}", node.name(), p.name);
            if let Some(other) = seen.insert((seg, *a), me.clone())
                && other.split(':').next() != Some(node.name())
            {
                let h = &sc.spec.hosts[l.host].name;
                let before = &sc.text[..h.span().start.min(sc.text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |x| x.chars().count()) + 1;
                let seg_name = sc.spec.segments[seg].name.get_ref();
                return Err(format!(
                    "{}:{line}:{col}: duplicate address {a}/{prefix} on segment `{seg_name}`: {other} and {me} after setup",
                    sc.file
                ));
            }
        }
    }
    Ok(())
}

/// Builds and runs a scenario.
pub fn run(sc: &Scenario, opts: &RunOptions) -> Result<RunResult, String> {
    let mut b = build(sc, opts)?;
    let until = Instant::ZERO + opts.until.unwrap_or(b.duration);
    let ended = b.sim.run_until(until);
    let end = b.sim.now();
    let mut execs = vec![];
    for (host, cmd) in &opts.execs {
        let result = match b.host_id(host) {
            Some(id) => b.sim.exec(id, cmd).map_err(|e| e.message),
            None => Err(format!("no host named `{host}`")),
        };
        execs.push(ExecOutput { host: host.clone(), command: cmd.clone(), at: end, result });
    }
    let report = report(&b, sc, &ended);
    let trace = b.sim.trace().to_vec();
    let layout = b.sim.layout();
    let pcap = b.sim.take_capture();
    let checks = if opts.check { expect::evaluate(sc, &report, &trace, &mut b) } else { vec![] };
    Ok(RunResult {
        report,
        trace,
        layout,
        pcap,
        ended,
        execs,
        checks,
        errors: b.sim.errors().to_vec(),
        events: b.sim.events_processed(),
    })
}

fn report(b: &Built, sc: &Scenario, ended: &RunEnd) -> Report {
    let now = b.sim.now();
    let mut r = Report {
        scenario: sc.name.clone(),
        seed: b.seed,
        world: "sim".into(),
        end_ns: now.nanos(),
        ended: ended.to_string(),
        ..Report::default()
    };
    for id in 0..b.sim.node_count() {
        let n = b.sim.node(id);
        let mut nr = n.report(now);
        r.requests.append(&mut nr.requests);
        r.hosts.insert(n.name().to_string(), nr);
    }
    r.requests.sort_by(|a, b| (a.start_ns, &a.client, a.seq).cmp(&(b.start_ns, &b.client, b.seq)));
    r
}
