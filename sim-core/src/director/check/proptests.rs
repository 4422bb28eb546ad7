//! Arbitrary probe results, in arbitrary order and at arbitrary times, never panic and
//! keep IPVS as keepalived believes it to be.

use super::ipvs_sync::real_weight;
use super::*;
use crate::director::ipvs::{Fwd, ServiceKey};
use crate::director::keepalived::parse_str;
use crate::rng;
use proptest::prelude::*;

/// A configuration with every checker kind; the flags pick alpha, inhibit, the sorry
/// server (and its inhibit), quorum and hysteresis, and a virtual server group.
fn config(flags: u8, quorum: u8, hysteresis: u8) -> String {
    let on = |bit: u8, s: &str| if flags & (1 << bit) != 0 { s.to_string() } else { String::new() };
    let vs_opts = format!(
        "{}\n{}\n{}\n{}\nquorum {}\nhysteresis {}",
        on(0, "alpha"),
        on(1, "inhibit_on_failure"),
        on(2, "sorry_server 192.168.9.9 80"),
        on(3, "sorry_server_inhibit"),
        quorum.max(1),
        hysteresis
    );
    let key = if flags & (1 << 4) != 0 { "group G" } else { "10.0.0.1 80" };
    format!(
        "virtual_server_group G {{
    10.0.0.1-2 80
    fwmark 3
}}
virtual_server {key} {{
    lb_algo wrr
    protocol TCP
    delay_loop 4
    {vs_opts}
    real_server 192.168.1.1 80 {{
        weight 2
        TCP_CHECK {{
            connect_timeout 1
            retry 2
            delay_before_retry 1
        }}
    }}
    real_server 192.168.1.2 80 {{
        HTTP_GET {{
            url {{
                path /a
                digest 5d41402abc4b2a76b9719d911017c592
            }}
            url {{
                path /b
                status_code 200 404
            }}
            retry 1
            {}
        }}
    }}
    real_server 192.168.1.3 80 {{
        weight 3
        MISC_CHECK {{
            misc_path \"/bin/c x\"
            misc_dynamic
            retry 1
        }}
        PING_CHECK {{ retry 0 }}
    }}
    real_server 192.168.1.4 80 {{
        UDP_CHECK {{ require_reply 6f6b }}
    }}
    real_server 192.168.1.5 80 {{
        weight 0
    }}
}}
",
        on(5, "fast_recovery")
    )
}

fn result(kind: u8, n: u8) -> ProbeResult {
    match kind % 12 {
        0 => ProbeResult::Connected,
        1 => ProbeResult::Refused,
        2 => ProbeResult::Unreachable,
        3 => ProbeResult::TimedOut,
        4 => ProbeResult::Http {
            status: [200, 404, 500, 0][usize::from(n % 4)],
            content_length: None,
            body: b"hello".to_vec(),
        },
        5 => ProbeResult::Http {
            status: 200,
            content_length: Some(usize::from(n % 9)),
            body: vec![n; usize::from(n % 7)],
        },
        6 => ProbeResult::ReadTimedOut,
        7 => ProbeResult::HttpEmpty,
        8 => ProbeResult::Reply(if n.is_multiple_of(2) { b"ok".to_vec() } else { vec![n] }),
        9 => ProbeResult::Exited(i32::from(n) - 3),
        10 => ProbeResult::Signaled(i32::from(n)),
        _ => ProbeResult::ScriptTimedOut,
    }
}

#[derive(Default)]
struct Recorder {
    started: Vec<ProbeId>,
}

impl Prober for Recorder {
    fn start(&mut self, _: Instant, id: ProbeId, _: Probe) {
        self.started.push(id);
    }
}

/// The IPVS table agrees with keepalived's view of every server (`set`, `alive`, weights).
fn check_consistent(ck: &Checkers, ipvs: &Ipvs, now: Instant) -> Result<(), String> {
    for vs in &ck.vss {
        for key in &vs.def.members {
            let Some(svc) = ipvs.service(now, key) else {
                return Err(format!("{}: service {key} missing", vs.name));
            };
            let sorry_alive = vs.sorry.as_ref().is_some_and(|s| s.alive);
            let mut set = 0;
            for (s, is_sorry) in vs.rs.iter().map(|r| (r, false)).chain(vs.sorry.iter().map(|s| (s, true))) {
                let port = if s.fwd == Fwd::Masq {
                    s.port
                } else {
                    match key {
                        ServiceKey::Addr { port, .. } => *port,
                        ServiceKey::Fwmark(_) => 0,
                    }
                };
                let dest = svc.dests.iter().find(|d| d.addr == s.addr && d.port == port);
                if dest.is_some() != s.set {
                    return Err(format!("{} {}: set={} but in IPVS={}", vs.name, s.name, s.set, dest.is_some()));
                }
                let Some(d) = dest else { continue };
                set += 1;
                let want = if is_sorry {
                    i32::from(s.alive)
                } else if s.alive && (vs.quorum_state_up || !sorry_alive) {
                    real_weight(s.effective_weight)
                } else {
                    0
                };
                if d.weight != want {
                    return Err(format!("{} {}: weight {} in IPVS, {} expected", vs.name, s.name, d.weight, want));
                }
                if !s.inhibit && !s.alive {
                    return Err(format!("{} {}: in IPVS while down", vs.name, s.name));
                }
            }
            if svc.dests.len() != set {
                return Err(format!("{}: {} dests in IPVS, {set} known", vs.name, svc.dests.len()));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_results_keep_ipvs_consistent(
        flags in any::<u8>(),
        quorum in 1u8..8,
        hysteresis in 0u8..4,
        steps in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), 0u16..5000), 1..160),
    ) {
        let text = config(flags, quorum, hysteresis);
        let parsed = parse_str(&text);
        prop_assert!(parsed.is_ok());
        let Ok(parsed) = parsed else { return Ok(()) };
        let mut ipvs = Ipvs::new(rng::stream(2, "ipvs"));
        let mut now = Instant::ZERO;
        let mut ck = Checkers::new(&parsed.config, now, &mut ipvs, rng::stream(u64::from(flags), "check"), &[]);
        let mut in_flight: Vec<ProbeId> = Vec::new();
        prop_assert_eq!(check_consistent(&ck, &ipvs, now), Ok(()));
        for (pick, kind, n, ms) in steps {
            now += Duration::from_millis(u64::from(ms));
            if pick % 7 == 0 || in_flight.is_empty() {
                if let Some(t) = ck.next_deadline() {
                    now = now.max(t);
                }
                let mut rec = Recorder::default();
                ck.on_timer(now, &mut rec);
                in_flight.extend(rec.started);
            } else if pick % 11 == 1 {
                // A stale or unknown id.
                ck.on_result(now, ProbeId(u64::from(n) + 10_000), result(kind, n), &mut ipvs);
            } else {
                let i = usize::from(pick) % in_flight.len();
                let id = in_flight.swap_remove(i);
                ck.on_result(now, id, result(kind, n), &mut ipvs);
            }
            if pick % 13 == 2 {
                ck.on_address(Ipv4Addr::new(10, 0, 0, 1), n % 2 == 0);
            }
            let _ = ck.drain_logs();
            let _ = ck.status();
            prop_assert_eq!(check_consistent(&ck, &ipvs, now), Ok(()));
        }
        let grouped = ck.vss.iter().any(|v| v.def.group);
        ck.stop(now, &mut ipvs);
        if !grouped {
            prop_assert!(ipvs.services(now).is_empty());
        }
    }
}
