//! Model fixes found by the netns differential (`lvs-lab netns diff`, where the
//! kernel is the referee); `docs/src/fidelity.md` records each.

use sim_core::scenario::{self, RunOptions};
use sim_core::time::Duration;

fn exec(scenario: &str, host: &str, cmd: &str) -> Result<String, String> {
    let sc = scenario::load(scenario).unwrap_or_else(|e| panic!("{e}"));
    let opts = RunOptions {
        until: Some(Duration::from_millis(500)),
        execs: vec![(host.into(), cmd.into())],
        ..RunOptions::default()
    };
    scenario::run(&sc, &opts).unwrap_or_else(|e| panic!("{e}")).execs.remove(0).result
}

/// `route add -host VIP lo:0` (dr-basic's real servers): the kernel takes the
/// alias's address as the route's source, and refuses a label without one.
#[test]
fn route_on_an_alias_takes_its_address_as_source() {
    let routes = exec("dr-basic", "rs2", "ip route").expect("ip route");
    assert!(routes.contains("192.168.31.100 dev lo scope link src 192.168.31.100"), "{routes}");
    let e = exec("dr-basic", "rs2", "route add -host 192.168.31.101 lo:1").expect_err("no address on lo:1");
    assert_eq!(e, "SIOCADDRT: No such device");
}
