//! `lvs-lab`: run LVS scenarios in the simulator, check them, benchmark the
//! simulator. Exit status: 0 success, 1 a check failed, 2 bad input.

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Run(a) => run::run(a),
        Cmd::List => {
            for (name, summary) in sim_core::scenario::builtins() {
                println!("{name:<28} {summary}");
            }
            Ok(0)
        }
        Cmd::Show { scenario } => show(&scenario),
        Cmd::Check(a) => check::check(a),
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
    println!("# {} ({})\n", sc.name, sc.file);
    if let Some(s) = &sc.spec.summary {
        println!("{s}\n");
    }
    if let Some(d) = &sc.spec.description {
        println!("{}\n", d.trim_end());
    }
    println!("--- {} ---\n{}", sc.file, sc.text);
    Ok(0)
}
