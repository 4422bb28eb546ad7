//! The sim-versus-kernel differential: what must agree between the simulator's
//! report and the netns harness's. Timing may differ; outcomes may not.
//!
//! - every request (client, seq): made in both, same outcome, same destination,
//!   same source address (ports are the kernel's choice);
//! - which server answered: per request where no scheduler is involved, as a
//!   multiset per client where a director schedules;
//! - the final neighbour entries for the requests' destinations (the VIPs) on every
//!   host: same link-layer address, both usable or both not;
//! - VRRP states, per host and instance;
//! - the main routing table of every host (destination, gateway, device, scope,
//!   preferred source).

use sim_core::report::{NeighEntry, Outcome, Report, RequestRecord};
use std::collections::{BTreeMap, BTreeSet};

fn ip_of(addr: &str) -> &str {
    addr.split(':').next().unwrap_or(addr)
}

fn usable(n: &NeighEntry) -> bool {
    !matches!(n.state.as_str(), "INCOMPLETE" | "FAILED" | "NONE")
}

fn show(n: Option<&NeighEntry>) -> String {
    match n {
        None => "no entry".into(),
        Some(n) => format!("{} {}", n.lladdr.as_deref().unwrap_or("(no lladdr)"), n.state),
    }
}

/// The differences between the simulator's report `sim` and the kernel's `real`,
/// most important first. Empty when the two worlds agree.
pub fn compare(sim: &Report, real: &Report) -> Vec<String> {
    let mut d = vec![];
    let key = |q: &RequestRecord| (q.client.clone(), q.seq);
    let s: BTreeMap<_, _> = sim.requests.iter().map(|q| (key(q), q)).collect();
    let r: BTreeMap<_, _> = real.requests.iter().map(|q| (key(q), q)).collect();
    let keys: BTreeSet<_> = s.keys().chain(r.keys()).cloned().collect();
    for k in &keys {
        let who = format!("request {}#{}", k.0, k.1);
        match (s.get(k), r.get(k)) {
            (Some(a), Some(b)) => {
                if a.outcome != b.outcome {
                    d.push(format!("{who}: sim {}, kernel {}", a.outcome, b.outcome));
                } else if a.dst != b.dst {
                    d.push(format!("{who}: sim went to {}, kernel to {}", a.dst, b.dst));
                } else if !a.src.is_empty() && !b.src.is_empty() && ip_of(&a.src) != ip_of(&b.src) {
                    d.push(format!("{who}: sim's source {}, kernel's {}", ip_of(&a.src), ip_of(&b.src)));
                }
            }
            (Some(a), None) => d.push(format!("{who}: made in sim ({}), never in the kernel run", a.outcome)),
            (None, Some(b)) => d.push(format!("{who}: made in the kernel run ({}), never in sim", b.outcome)),
            (None, None) => {}
        }
    }
    let scheduled = sim.hosts.values().any(|h| h.ipvs.is_some());
    let clients: BTreeSet<&String> = keys.iter().map(|k| &k.0).collect();
    for c in clients {
        let bodies = |m: &BTreeMap<(String, u32), &RequestRecord>| -> Vec<(u32, String)> {
            m.iter()
                .filter(|(k, q)| &k.0 == c && q.outcome == Outcome::Ok)
                .map(|(k, q)| (k.1, q.body.clone().unwrap_or_default()))
                .collect()
        };
        let (a, b) = (bodies(&s), bodies(&r));
        if scheduled {
            let bag = |v: &[(u32, String)]| {
                let mut x: Vec<String> = v.iter().map(|p| p.1.trim_end().to_string()).collect();
                x.sort();
                x
            };
            if bag(&a) != bag(&b) {
                d.push(format!("{c}: servers that answered: sim {:?}, kernel {:?}", bag(&a), bag(&b)));
            }
        } else {
            for ((n, x), (_, y)) in a.iter().zip(&b) {
                if x != y {
                    d.push(format!(
                        "request {c}#{n}: sim answered by {:?}, kernel by {:?}",
                        x.trim_end(),
                        y.trim_end()
                    ));
                }
            }
        }
    }
    let vips: BTreeSet<&str> = sim.requests.iter().chain(&real.requests).map(|q| ip_of(&q.dst)).collect();
    for (host, hs) in &sim.hosts {
        let Some(hr) = real.hosts.get(host) else {
            d.push(format!("host {host}: missing from the kernel run"));
            continue;
        };
        for vip in &vips {
            let find = |v: &[NeighEntry]| v.iter().find(|n| n.addr == *vip && usable(n)).cloned();
            let (a, b) = (find(&hs.neigh), find(&hr.neigh));
            let same = match (&a, &b) {
                (Some(x), Some(y)) => x.lladdr == y.lladdr,
                (None, None) => true,
                _ => false,
            };
            if !same {
                d.push(format!(
                    "{host}: neighbour entry for {vip}: sim {}, kernel {}",
                    show(a.as_ref()),
                    show(b.as_ref())
                ));
            }
        }
        let routes = |h: &sim_core::report::NodeReport| -> BTreeSet<String> {
            h.routes
                .iter()
                .map(|r| {
                    let via = r.via.as_deref().map(|v| format!(" via {v}")).unwrap_or_default();
                    let src = r.src.as_deref().map(|v| format!(" src {v}")).unwrap_or_default();
                    format!("{}{via} dev {} scope {}{src}", r.dst, r.dev, r.scope)
                })
                .collect()
        };
        let (a, b) = (routes(hs), routes(hr));
        if let Some(x) = a.symmetric_difference(&b).next() {
            let w = if a.contains(x) { "only sim" } else { "only the kernel" };
            d.push(format!("{host}: route `{x}`: {w} has it"));
        }
        let vrrp = |h: &sim_core::report::NodeReport| -> BTreeMap<String, String> {
            h.vrrp.iter().map(|v| (v.instance.clone(), v.state.clone())).collect()
        };
        let (a, b) = (vrrp(hs), vrrp(hr));
        if a != b {
            d.push(format!("{host}: VRRP states: sim {a:?}, kernel run {b:?}"));
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::report::NodeReport;

    fn req(client: &str, seq: u32, outcome: Outcome, body: Option<&str>) -> RequestRecord {
        RequestRecord {
            client: client.into(),
            seq,
            proto: "tcp".into(),
            start_ns: 0,
            end_ns: Some(1),
            outcome,
            body: body.map(str::to_string),
            src: "10.0.0.1:40000".into(),
            dst: "10.0.0.100:80".into(),
        }
    }

    fn report(reqs: Vec<RequestRecord>, neigh: Vec<NeighEntry>) -> Report {
        let mut r = Report { requests: reqs, ..Report::default() };
        r.hosts.insert("c".into(), NodeReport { neigh, ..NodeReport::default() });
        r
    }

    fn entry(mac: &str, state: &str) -> NeighEntry {
        NeighEntry { addr: "10.0.0.100".into(), dev: "eth0".into(), lladdr: Some(mac.into()), state: state.into() }
    }

    #[test]
    fn agreement_ignores_timing_ports_and_neighbour_state() {
        let a = report(vec![req("c/client", 0, Outcome::Ok, Some("RS1"))], vec![entry("02:00:00:00:01:01", "STALE")]);
        let mut b = a.clone();
        b.requests[0].start_ns = 999;
        b.requests[0].src = "10.0.0.1:51234".into();
        b.hosts.get_mut("c").expect("host").neigh[0].state = "REACHABLE".into();
        assert!(compare(&a, &b).is_empty(), "{:?}", compare(&a, &b));
    }

    #[test]
    fn outcomes_bodies_and_vip_owner_must_agree() {
        let a =
            report(vec![req("c/client", 0, Outcome::Ok, Some("RS1"))], vec![entry("02:00:00:00:01:01", "REACHABLE")]);
        let b = report(vec![req("c/client", 0, Outcome::Timeout, None)], vec![]);
        let d = compare(&a, &b);
        assert_eq!(d[0], "request c/client#0: sim ok, kernel timeout");
        assert!(d.iter().any(|x| x.contains("neighbour entry for 10.0.0.100")), "{d:?}");
        let c = report(vec![req("c/client", 0, Outcome::Ok, Some("RS2"))], vec![entry("02:00:00:00:02:01", "STALE")]);
        let d = compare(&a, &c);
        assert!(d[0].contains("answered by \"RS1\", kernel by \"RS2\""), "{d:?}");
        assert!(d[1].contains("sim 02:00:00:00:01:01 REACHABLE, kernel 02:00:00:00:02:01 STALE"), "{d:?}");
    }
}
