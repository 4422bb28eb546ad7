//! Every built-in scenario: its expectations hold, two runs with the same seed
//! give byte-identical traces and captures, and its trace matches the golden
//! snapshot in `golden/` (reviewed like code: `cargo insta review`).

use sim_core::scenario::{self, RunOptions};
use sim_core::trace::render_text;

/// Scenarios too long for a readable golden trace (benchmark workloads).
const NO_GOLDEN: &[&str] = &["lan-echo"];

fn run(name: &str, capture: bool) -> scenario::RunResult {
    let sc = scenario::load(name).unwrap_or_else(|e| panic!("{e}"));
    let opts = RunOptions { trace: true, capture, check: true, ..Default::default() };
    scenario::run(&sc, &opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn builtins_pass_their_expectations() {
    let mut failures = vec![];
    for (name, _) in scenario::builtins() {
        let r = run(&name, false);
        for c in r.checks.iter().filter(|c| !c.ok) {
            failures.push(format!("{name}: {} (line {}): expected {}, got {}", c.name, c.line, c.expected, c.actual));
        }
        for e in &r.errors {
            failures.push(format!("{name}: {e}"));
        }
        assert!(!r.checks.is_empty(), "{name} has no expectations");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn same_seed_same_bytes() {
    for (name, _) in scenario::builtins() {
        let a = run(&name, true);
        let b = run(&name, true);
        assert_eq!(render_text(&a.trace, a.layout), render_text(&b.trace, b.layout), "{name}: traces differ");
        assert!(a.pcap == b.pcap, "{name}: captures differ");
        assert_eq!(a.report, b.report, "{name}: reports differ");
    }
}

#[test]
fn golden_traces() {
    for (name, _) in scenario::builtins() {
        if NO_GOLDEN.contains(&name.as_str()) {
            continue;
        }
        let r = run(&name, false);
        let text = render_text(&r.trace, r.layout);
        insta::with_settings!({ snapshot_path => "../../golden", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name.clone(), text);
        });
    }
}

/// keepalived puts back the VMAC's base device's `arp_ignore` and `arp_filter`
/// when the last VMAC on it goes (`reset_interface_parameters`), and iproute2 shows
/// the macvlan as `vrrp.51@ens33` while it exists.
#[test]
fn keepalived_stop_restores_the_vmac_base_sysctls() {
    let sc = scenario::load("vrrp-failover-vmac").unwrap_or_else(|e| panic!("{e}"));
    let exec = |c: &str| ("dir1".to_string(), c.to_string());
    let execs = vec![
        exec("ip link show vrrp.51"),
        exec("systemctl stop keepalived"),
        exec("sysctl net.ipv4.conf.ens33.arp_ignore net.ipv4.conf.ens33.arp_filter"),
        exec("ip link show vrrp.51"),
    ];
    let opts = RunOptions { until: Some(std::time::Duration::from_secs(5)), execs, ..Default::default() };
    let r = scenario::run(&sc, &opts).unwrap_or_else(|e| panic!("{e}"));
    let out: Vec<_> = r.execs.iter().map(|e| e.result.clone()).collect();
    assert!(
        out[0].as_ref().is_ok_and(|s| s.starts_with("3: vrrp.51@ens33: <BROADCAST,MULTICAST,UP,LOWER_UP>")),
        "{out:?}"
    );
    assert_eq!(out[2].as_deref(), Ok("net.ipv4.conf.ens33.arp_ignore = 0\nnet.ipv4.conf.ens33.arp_filter = 0\n"));
    assert!(out[3].is_err(), "the VMAC went with keepalived: {out:?}");
}
