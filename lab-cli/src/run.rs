//! `lvs-lab run`.

use crate::Fail;
use clap::Args;
use sim_core::scenario::{self, RunOptions, RunResult};
use sim_core::time::parse_duration;
use sim_core::trace;
use std::fmt::Write;

/// The scenario `lvs-lab run` runs when given none.
pub const DEFAULT_SCENARIO: &str = "dr-basic";

#[derive(Args)]
pub struct RunArgs {
    /// A built-in scenario name (`lvs-lab list`) or a path to a .toml file.
    scenario: Option<String>,
    /// Seed for every random choice (default: the scenario's, else 1).
    #[arg(long)]
    seed: Option<u64>,
    /// Write a pcapng capture of every NIC.
    #[arg(long, value_name = "FILE")]
    pcap: Option<String>,
    /// Write the trace to FILE instead of printing it (`.jsonl`/`.json`: JSON lines).
    #[arg(long, value_name = "FILE")]
    trace: Option<String>,
    /// Write the outcome report (JSON).
    #[arg(long, value_name = "FILE")]
    json: Option<String>,
    /// Stop at this simulated time instead of the scenario's duration (e.g. 5s).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Run a command on a machine when the run stops: `--exec dir 'ipvsadm -Lnc'`.
    #[arg(long, num_args = 2, value_names = ["HOST", "COMMAND"], action = clap::ArgAction::Append)]
    exec: Vec<String>,
    /// Print only the summary, not the trace.
    #[arg(long, short)]
    quiet: bool,
}

fn write(path: &str, bytes: &[u8]) -> Result<(), Fail> {
    std::fs::write(path, bytes).map_err(|e| Fail { code: 1, message: format!("cannot write {path}: {e}") })
}

pub fn run(a: RunArgs) -> Result<u8, Fail> {
    let name = a.scenario.clone().unwrap_or_else(|| DEFAULT_SCENARIO.to_string());
    let sc = scenario::load(&name).map_err(|e| Fail::input(e.to_string()))?;
    let until = a.until.as_deref().map(parse_duration).transpose().map_err(|e| Fail::input(format!("--until: {e}")))?;
    let execs: Vec<(String, String)> = a.exec.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect();
    for (h, _) in &execs {
        if !sc.machines.iter().any(|m| &m.name == h) {
            return Err(Fail::input(format!("--exec: scenario `{}` has no host `{h}`", sc.name)));
        }
    }
    let opts = RunOptions {
        seed: a.seed,
        trace: true,
        capture: a.pcap.is_some(),
        until,
        execs,
        check: true,
        max_events: None,
    };
    let r = scenario::run(&sc, &opts).map_err(Fail::input)?;
    let text = trace::render_text(&r.trace, r.layout);
    match &a.trace {
        Some(p) if p.ends_with(".jsonl") || p.ends_with(".json") => write(p, trace::render_jsonl(&r.trace).as_bytes())?,
        Some(p) => write(p, text.as_bytes())?,
        None if !a.quiet => out!("{text}"),
        None => {}
    }
    if let (Some(p), Some(bytes)) = (&a.pcap, &r.pcap) {
        write(p, bytes)?;
    }
    if let Some(p) = &a.json {
        let j = serde_json::to_string_pretty(&r.report).expect("report serialises");
        write(p, (j + "\n").as_bytes())?;
    }
    out!("{}", summary(&sc.name, &r));
    Ok(if r.passed() { 0 } else { 1 })
}

/// The summary printed after a run.
pub fn summary(name: &str, r: &RunResult) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n== {name}: seed {}, ended {} at {}, {} events",
        r.report.seed,
        r.ended,
        sim_core::time::Instant::from_nanos(r.report.end_ns),
        r.events
    );
    if !r.report.requests.is_empty() {
        let _ = writeln!(s, "requests:");
        for q in &r.report.requests {
            let body = q.body.as_deref().map(|b| format!(" {:?}", b.trim_end())).unwrap_or_default();
            let ms = q.end_ns.map(|e| format!(" {:.3}ms", (e - q.start_ns) as f64 / 1e6)).unwrap_or_default();
            let _ = writeln!(
                s,
                "  {:<16} #{:<3} {} {} -> {}  {}{body}{ms}",
                q.client, q.seq, q.proto, q.src, q.dst, q.outcome
            );
        }
    }
    for e in &r.execs {
        let _ = writeln!(s, "\n{}# {}   (at {})", e.host, e.command, e.at);
        match &e.result {
            Ok(t) => s.push_str(t),
            Err(err) => {
                let _ = writeln!(s, "{err}");
            }
        }
    }
    for e in &r.errors {
        let _ = writeln!(s, "error: {e}");
    }
    if !r.checks.is_empty() {
        let _ = writeln!(s, "expectations:");
        for c in &r.checks {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            let _ = writeln!(s, "  {mark} {} (line {})", c.name, c.line);
            if !c.ok {
                let _ = writeln!(s, "       expected: {}\n       actual:   {}", c.expected, c.actual);
                if let Some(id) = c.diverged_at {
                    let _ = writeln!(s, "       first diverging trace event: #{id}");
                    if let Some(e) = r.trace.iter().find(|e| e.id == id) {
                        let _ = writeln!(s, "       {}", e.text(r.layout).trim_start());
                    }
                }
            }
        }
    }
    s
}
