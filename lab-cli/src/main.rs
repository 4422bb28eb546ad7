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
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("lvs-lab: {}", f.message);
            ExitCode::from(f.code)
        }
    }
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
