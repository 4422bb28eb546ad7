//! `lvs-lab`: run LVS scenarios in the simulator, check them, benchmark the
//! simulator. Exit status: 0 success, 1 a check failed, 2 bad input.

/// `println!` that ends the process quietly when stdout is closed early
/// (`lvs-lab list | head`), instead of panicking.
macro_rules! outln {
    ($($t:tt)*) => { $crate::write_stdout(format_args!("{}\n", format_args!($($t)*))) };
}

/// `print!`, likewise.
macro_rules! out {
    ($($t:tt)*) => { $crate::write_stdout(format_args!($($t)*)) };
}

mod bench;
mod check;
mod netns;
mod run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "lvs-lab",
    version,
    about = "A packet-level simulator and test lab for LVS (Linux Virtual Server) topologies"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario and print its causal trace and a summary.
    Run(run::RunArgs),
    /// List the built-in scenarios, one per line, name first.
    List,
    /// Print a scenario's description and file.
    Show {
        /// A built-in name or a path to a .toml file.
        scenario: String,
    },
    /// Run scenarios and their expectations; one line each, then `N passed, N failed`.
    Check(check::CheckArgs),
    /// Static checks for the classic LVS mistakes in scenarios, keepalived.conf files
    /// and setup scripts; each finding names its line and the lesson that shows it.
    Lint {
        /// Scenarios (names or .toml), keepalived configurations, shell scripts.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Measure the simulator's speed.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Run scenarios on real Linux kernels in network namespaces; diff against the simulator.
    #[command(subcommand)]
    Netns(netns::NetnsCmd),
    /// keepalived's own command line; `-t FILE` checks a configuration like `keepalived -t`.
    Keepalived {
        /// Check the configuration and exit with keepalived's status.
        #[arg(short = 't', long = "config-test")]
        test: bool,
        /// The configuration file (keepalived's default path if omitted).
        #[arg(short = 'f', long = "use-file", value_name = "FILE")]
        file: Option<String>,
        /// The file, positionally (`lvs-lab keepalived -t FILE`).
        path: Option<String>,
    },
}

/// A failure with the exit status it deserves.
pub struct Fail {
    pub code: u8,
    pub message: String,
}

impl Fail {
    pub fn input(message: impl Into<String>) -> Self {
        Fail { code: 2, message: message.into() }
    }
}

/// Writes to stdout; a closed pipe ends the process with status 0, as the reader
/// wanted no more. Any other write error is reported and exits 1.
fn write_stdout(args: std::fmt::Arguments) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("lvs-lab: writing to stdout: {e}");
        std::process::exit(1);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Run(a) => run::run(a),
        Cmd::List => {
            let all = sim_core::scenario::builtins();
            let w = all.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            for (name, summary) in all {
                outln!("{name:<w$} {summary}");
            }
            Ok(0)
        }
        Cmd::Show { scenario } => show(&scenario),
        Cmd::Check(a) => check::check(a),
        Cmd::Lint { files } => lint(&files),
        Cmd::Bench(b) => bench::bench(b),
        Cmd::Netns(c) => netns::netns(c),
        Cmd::Keepalived { test, file, path } => keepalived_test(test, file.or(path)),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("lvs-lab: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// `lvs-lab lint`: findings, one a line; exit 1 if any, 0 if none.
fn lint(files: &[String]) -> Result<u8, Fail> {
    let mut findings = vec![];
    let mut loose = vec![];
    for f in files {
        let is_scenario = f.ends_with(".toml") || (!f.contains('/') && !std::path::Path::new(f).exists());
        if is_scenario {
            let sc = sim_core::scenario::load(f).map_err(|e| Fail::input(e.to_string()))?;
            findings.extend(sim_core::scenario::lint::lint_scenario(&sc).map_err(Fail::input)?);
        } else {
            let text = std::fs::read_to_string(f).map_err(|e| Fail::input(format!("{f}: {e}")))?;
            loose.push((f.clone(), text));
        }
    }
    if !loose.is_empty() {
        findings.extend(sim_core::scenario::lint::lint_files(&loose).map_err(Fail::input)?);
    }
    for x in &findings {
        outln!("{x}");
    }
    outln!("{} finding(s)", findings.len());
    Ok(u8::from(!findings.is_empty()))
}

/// `keepalived -t`: prints what keepalived prints and exits with its status.
fn keepalived_test(test: bool, file: Option<String>) -> Result<u8, Fail> {
    if !test {
        return Err(Fail::input(
            "only `keepalived -t [-f] FILE` (configuration test) is available here; run keepalived inside a scenario",
        ));
    }
    let path = file.unwrap_or_else(|| "/etc/keepalived/keepalived.conf".to_string());
    let (code, lines) = sim_core::director::keepalived::check_config(&path);
    for l in &lines {
        eprintln!("{l}");
    }
    Ok(u8::try_from(code).unwrap_or(1))
}

fn show(name: &str) -> Result<u8, Fail> {
    let sc = sim_core::scenario::load(name).map_err(|e| Fail::input(e.to_string()))?;
    outln!("# {} ({})\n", sc.name, sc.file);
    if let Some(s) = &sc.spec.summary {
        outln!("{s}\n");
    }
    if let Some(d) = &sc.spec.description {
        outln!("{}\n", d.trim_end());
    }
    outln!("--- {} ---\n{}", sc.file, sc.text);
    Ok(0)
}
