//! `lvs-lab bench`: the simulator's speed on the ns-3 comparison workload.

use crate::Fail;
use clap::Subcommand;
use sim_core::scenario::bench::{lan_echo, run_lan_echo};

#[derive(Subcommand)]
pub enum BenchCmd {
    /// One client and N UDP echo servers on a 10 Gb/s LAN (compare with ns-3).
    LanEcho {
        /// Number of echo servers.
        #[arg(long, default_value_t = 10)]
        servers: usize,
        /// Echoes in total.
        #[arg(long, default_value_t = 100_000)]
        echoes: u64,
        /// Repetitions; the best is reported.
        #[arg(long, default_value_t = 3)]
        repeat: u32,
    },
    /// The director's forwarding rate over AF_PACKET in the netns harness (needs root).
    Netns {
        /// Seconds to measure.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Distinct client ports (IPVS connections).
        #[arg(long, default_value_t = 64)]
        flows: u16,
        /// Read with one system call per frame instead of a TPACKET_V3 ring.
        #[arg(long)]
        plain: bool,
    },
    /// The director's per-packet and per-connection costs (IPVS alone).
    Director {
        /// Iterations per figure.
        #[arg(long, default_value_t = 200_000)]
        iterations: usize,
        /// Repetitions; each figure is the median of them.
        #[arg(long, default_value_t = 5)]
        repeat: u32,
    },
}

pub fn bench(b: BenchCmd) -> Result<u8, Fail> {
    match b {
        BenchCmd::Netns { seconds, flows, plain } => crate::netns::bench::bench(seconds, flows, plain),
        BenchCmd::LanEcho { servers, echoes, repeat } => {
            if servers == 0 || servers > 60_000 {
                return Err(Fail::input("--servers must be between 1 and 60000"));
            }
            let sc = lan_echo(servers, echoes);
            let mut best: Option<(f64, sim_core::scenario::bench::EchoRun)> = None;
            for _ in 0..repeat.max(1) {
                let t0 = std::time::Instant::now();
                let r = run_lan_echo(&sc);
                let secs = t0.elapsed().as_secs_f64();
                if best.is_none_or(|(b, _)| secs < b) {
                    best = Some((secs, r));
                }
            }
            let (secs, r) = best.expect("ran at least once");
            outln!(
                "lan-echo: {servers} servers, {echoes} echoes ({} answered), simulated {}",
                r.echoes_received,
                r.sim_end
            );
            outln!("wall time        {secs:.3} s (best of {repeat})");
            outln!("packets          {} deliveries, {:.0} packets/s", r.deliveries, r.deliveries as f64 / secs);
            outln!("events           {}, {:.0} events/s", r.events, r.events as f64 / secs);
            outln!(
                "echoes           {:.0} echoes/s (ns-3 3.44 on these machines: about 92000)",
                r.echoes_received as f64 / secs
            );
            Ok(0)
        }
        BenchCmd::Director { iterations, repeat } => {
            let runs: Vec<_> =
                (0..repeat.max(1)).map(|_| sim_core::director::ipvs::bench::bench_figures(iterations)).collect();
            for (i, (name, _)) in runs[0].iter().enumerate() {
                let mut all: Vec<f64> = runs.iter().map(|r| r[i].1).collect();
                all.sort_by(f64::total_cmp);
                let v = all[all.len() / 2];
                let target = match name.as_str() {
                    "dr_established_ns_per_packet" => " (target <= 50)",
                    "nat_established_ns_per_packet" => " (target <= 100)",
                    "wlc100_new_connection_ns" => " (target <= 300)",
                    "conn_entry_bytes" => " (target <= 128)",
                    _ => "",
                };
                outln!("{name:<36} {v:>10.1}{target}");
            }
            Ok(0)
        }
    }
}
