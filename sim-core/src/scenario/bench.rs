//! The `lan-echo` benchmark workload, the same as the ns-3 program it is compared
//! with: one client and N UDP echo servers on one switched segment, 10 Gb/s links
//! with 10 us delay, a 64-byte echo to each server every 100 us, ARP included, no
//! trace, no capture.

use super::load::{Scenario, load_str};
use super::run::{RunOptions, build};
use crate::time::Instant;
use std::fmt::Write;

/// The scenario text for `servers` servers and `echoes` echoes in total.
pub fn lan_echo_text(servers: usize, echoes: u64) -> String {
    let mut s = String::from(
        "name = \"lan-echo\"\nseed = 1\nduration = \"3600s\"\n\n[[segment]]\nname = \"lan\"\nrate = \"10Gbps\"\nlatency = \"10us\"\n\n",
    );
    let addr = |i: usize| format!("10.0.{}.{}", 1 + i / 250, 1 + i % 250);
    let list: Vec<String> = (0..servers).map(|i| format!("\"{}\"", addr(i))).collect();
    let _ = write!(
        s,
        "[[host]]\nname = \"client\"\nsetup = \"ip addr add 10.0.0.1/16 dev eth0\"\n[[host.nic]]\nname = \"eth0\"\nsegment = \"lan\"\n[[host.app]]\nkind = \"echo-client\"\nservers = [{}]\ninterval = \"100us\"\ntotal = {echoes}\nstart = \"0s\"\n\n",
        list.join(", ")
    );
    for i in 0..servers {
        let _ = write!(
            s,
            "[[host]]\nname = \"s{}\"\nsetup = \"ip addr add {}/16 dev eth0\"\n[[host.nic]]\nname = \"eth0\"\nsegment = \"lan\"\n[[host.app]]\nkind = \"echo-server\"\n\n",
            i + 1,
            addr(i)
        );
    }
    s
}

/// The workload as a loaded scenario.
pub fn lan_echo(servers: usize, echoes: u64) -> Scenario {
    load_str("lan-echo", "lan-echo (generated)", &lan_echo_text(servers, echoes)).expect("generated scenario is valid")
}

/// What one run of the workload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoRun {
    /// Frames delivered to NICs (the ns-3 comparison counts packet deliveries).
    pub deliveries: u64,
    pub events: u64,
    pub echoes_received: u64,
    pub sim_end: Instant,
}

/// Runs the workload untraced.
pub fn run_lan_echo(sc: &Scenario) -> EchoRun {
    let opts = RunOptions { trace: false, capture: false, check: false, ..Default::default() };
    let mut b = build(sc, &opts).expect("lan-echo builds");
    b.sim.run_until(Instant::from_secs(3600));
    let received =
        (0..b.sim.node_count()).filter_map(|i| b.sim.node(i).report(b.sim.now()).echo).map(|e| e.received).sum();
    EchoRun {
        deliveries: b.sim.deliveries(),
        events: b.sim.events_processed(),
        echoes_received: received,
        sim_end: b.sim.now(),
    }
}
