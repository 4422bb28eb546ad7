//! `lvs-lab netns`: scenarios on real Linux kernels in network namespaces, with
//! the director being sim-core's own code fed real frames over AF_PACKET, and the
//! differential against the simulator. See `docs/src/netns.md`.

mod agent;
pub mod bench;
mod diff;
mod harness;
mod realenv;
mod sys;
mod topo;

use crate::Fail;
use clap::{Args, Subcommand};
use harness::{NetnsRun, Options, Outcome};
use sim_core::scenario::{self, RunOptions, Scenario};
use sim_core::time::parse_duration;
use sim_core::trace;
use std::fmt::Write;

#[derive(Subcommand)]
pub enum NetnsCmd {
    /// Run a scenario on real kernels: a namespace per host and per segment.
    Run(RunArgs),
    /// Run a scenario in the simulator and on real kernels and compare the outcomes.
    Diff(DiffArgs),
    /// Remove namespaces left behind by runs that are no longer running.
    Clean,
    /// (internal) Run one app of a kernel host inside its namespace.
    #[command(hide = true)]
    Agent {
        #[arg(long)]
        netns: String,
        #[arg(long)]
        host: String,
        /// The run's origin on the monotonic clock, in ns.
        #[arg(long)]
        t0: u64,
        /// The app, as JSON.
        #[arg(long)]
        app: String,
    },
}

#[derive(Args)]
pub struct Common {
    /// A built-in scenario name (`lvs-lab list`) or a path to a .toml file.
    scenario: String,
    /// Stop at this time instead of the scenario's duration (real time: e.g. 5s).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Run HOST as lvs-lab's model over AF_PACKET even though it is not a director.
    #[arg(long, value_name = "HOST")]
    model: Vec<String>,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    common: Common,
    /// Write a pcapng of every veth (interfaces named `host:ifname`).
    #[arg(long, value_name = "FILE")]
    pcap: Option<String>,
    /// Write the outcome report (JSON, the schema of `lvs-lab run --json`).
    #[arg(long, value_name = "FILE")]
    json: Option<String>,
    /// Write the model hosts' trace (what they received, sent and decided, with
    /// causes; `.jsonl`/`.json`: JSON lines). Kernel hosts: see `--pcap`.
    #[arg(long, value_name = "FILE")]
    trace: Option<String>,
}

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    common: Common,
    /// Write both reports: FILE.sim.json and FILE.netns.json.
    #[arg(long, value_name = "FILE")]
    json: Option<String>,
}

pub fn netns(c: NetnsCmd) -> Result<u8, Fail> {
    match c {
        NetnsCmd::Run(a) => run(a),
        NetnsCmd::Diff(a) => diff(a),
        NetnsCmd::Clean => {
            topo::preflight().map_err(Fail::input)?;
            let removed = topo::clean().map_err(|e| Fail { code: 1, message: e })?;
            for ns in &removed {
                outln!("removed {ns}");
            }
            outln!("{} namespace{} removed", removed.len(), if removed.len() == 1 { "" } else { "s" });
            Ok(0)
        }
        NetnsCmd::Agent { netns, host, t0, app } => {
            let app = serde_json::from_str(&app).map_err(|e| Fail::input(format!("agent: bad app: {e}")))?;
            agent::run(&netns, &host, t0, &app).map_err(|e| Fail { code: 1, message: format!("agent {host}: {e}") })?;
            Ok(0)
        }
    }
}

fn load(c: &Common) -> Result<(Scenario, Options), Fail> {
    let sc = scenario::load(&c.scenario).map_err(|e| Fail::input(e.to_string()))?;
    let until = c.until.as_deref().map(parse_duration).transpose().map_err(|e| Fail::input(format!("--until: {e}")))?;
    let stall = match std::env::var("LVS_LAB_NETNS_STALL") {
        Ok(v) => parse_duration(&v).map_err(|e| Fail::input(format!("LVS_LAB_NETNS_STALL: {e}")))?.as_nanos() as u64,
        Err(_) => 0,
    };
    Ok((sc, Options { until, capture: false, model: c.model.clone(), trace: false, stall }))
}

fn write(path: &str, bytes: &[u8]) -> Result<(), Fail> {
    std::fs::write(path, bytes).map_err(|e| Fail { code: 1, message: format!("cannot write {path}: {e}") })
}

fn json(r: &sim_core::report::Report) -> Vec<u8> {
    (serde_json::to_string_pretty(r).expect("report serialises") + "\n").into_bytes()
}

fn run(a: RunArgs) -> Result<u8, Fail> {
    let (sc, mut opts) = load(&a.common)?;
    opts.capture = a.pcap.is_some();
    opts.trace = a.trace.is_some();
    let r = match harness::run(&sc, &opts)? {
        Outcome::Ran(r) => r,
        Outcome::Unavailable(why) => {
            outln!("{why}");
            return Ok(0);
        }
    };
    if let (Some(p), Some(bytes)) = (&a.pcap, &r.pcap) {
        write(p, bytes)?;
    }
    if let Some(p) = &a.json {
        write(p, &json(&r.report))?;
    }
    match &a.trace {
        Some(p) if p.ends_with(".jsonl") || p.ends_with(".json") => write(p, trace::render_jsonl(&r.trace).as_bytes())?,
        Some(p) => write(p, trace::render_text(&r.trace, r.layout).as_bytes())?,
        None => {}
    }
    out!("{}", summary(&sc.name, &r));
    Ok(if r.errors.is_empty() { 0 } else { 1 })
}

/// What `netns run` prints.
fn summary(name: &str, r: &NetnsRun) -> String {
    let mut s = String::new();
    let kernel: Vec<&String> = r.report.hosts.keys().filter(|h| !r.models.contains(h)).collect();
    let _ = writeln!(
        s,
        "== {name} on real kernels: ended {} ({} s of real time)",
        r.report.ended,
        r.report.end_ns as f64 / 1e9
    );
    let _ = writeln!(
        s,
        "kernel hosts: {}; lvs-lab's model over AF_PACKET: {}",
        if kernel.is_empty() {
            "none".to_string()
        } else {
            kernel.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ")
        },
        if r.models.is_empty() { "none".to_string() } else { r.models.join(", ") }
    );
    requests(&mut s, &r.report);
    for e in &r.errors {
        let _ = writeln!(s, "error: {e}");
    }
    s
}

/// The requests of a report, one a line: who, source, outcome, body, duration.
fn requests(s: &mut String, r: &sim_core::report::Report) {
    if r.requests.is_empty() {
        return;
    }
    let _ = writeln!(s, "requests:");
    for q in &r.requests {
        let body = q.body.as_deref().map(|b| format!(" {:?}", b.trim_end())).unwrap_or_default();
        let ms = q.end_ns.map(|e| format!(" {:.3}ms", e.saturating_sub(q.start_ns) as f64 / 1e6)).unwrap_or_default();
        let _ =
            writeln!(s, "  {:<16} #{:<3} {} {} -> {}  {}{body}{ms}", q.client, q.seq, q.proto, q.src, q.dst, q.outcome);
    }
}

/// What a differing kernel run did, for a reader of a CI log: every difference, the
/// kernel run's requests (ports, bodies, times) and the model directors' connection
/// entries at the end (`ipvsadm -Lnc`: one entry a scheduling decision).
fn explain(d: &[String], r: &NetnsRun) -> String {
    let mut s = String::new();
    for x in d {
        let _ = writeln!(s, "  - {x}");
    }
    let mut t = String::new();
    requests(&mut t, &r.report);
    for (host, h) in &r.report.hosts {
        let Some(v) = &h.ipvs else { continue };
        let _ =
            writeln!(t, "{host}: {} connection entr{}:", v.conns.len(), if v.conns.len() == 1 { "y" } else { "ies" });
        for c in &v.conns {
            let _ = writeln!(
                t,
                "  {} {:<11} {} -> {} -> {} (expires in {} ms)",
                c.proto, c.state, c.client, c.virt, c.dest, c.expire_ms
            );
        }
    }
    for e in &r.errors {
        let _ = writeln!(t, "error: {e}");
    }
    for l in t.lines() {
        let _ = writeln!(s, "  {l}");
    }
    s
}

fn diff(a: DiffArgs) -> Result<u8, Fail> {
    let (sc, opts) = load(&a.common)?;
    let sim = scenario::run(&sc, &RunOptions { until: opts.until, ..RunOptions::default() }).map_err(Fail::input)?;
    let n = sim.report.requests.len();
    // The kernel side runs in real time, so a loaded machine can stretch what the
    // simulator schedules exactly: a kernel run that differs is shown in full and
    // run once more; only two differing runs are a difference.
    let mut rerun = false;
    loop {
        let real = match harness::run(&sc, &opts)? {
            Outcome::Ran(r) => r,
            Outcome::Unavailable(why) => {
                outln!("{why}");
                return Ok(0);
            }
        };
        if let Some(p) = &a.json {
            write(&format!("{p}.sim.json"), &json(&sim.report))?;
            write(&format!("{p}.netns.json"), &json(&real.report))?;
        }
        let mut d = diff::compare(&sim.report, &real.report);
        d.extend(sim.errors.iter().map(|e| format!("sim error: {e}")));
        d.extend(real.errors.iter().map(|e| format!("kernel run error: {e}")));
        match (d.first(), rerun) {
            (None, _) => {
                outln!(
                    "{}: sim and kernel agree ({n} request{}, neighbour entries for the VIPs, routes, VRRP states; model: {}){}",
                    sc.name,
                    if n == 1 { "" } else { "s" },
                    if real.models.is_empty() { "none".into() } else { real.models.join(", ") },
                    if rerun { " on a second kernel run" } else { "" }
                );
                return Ok(0);
            }
            (Some(x), false) => {
                outln!("{}: the first kernel run differs ({x}); running it again. That run:", sc.name);
                out!("{}", explain(&d, &real));
                rerun = true;
            }
            (Some(x), true) => {
                outln!("{}: sim and kernel differ: {x}. The second run:", sc.name);
                out!("{}", explain(&d, &real));
                return Ok(1);
            }
        }
    }
}
