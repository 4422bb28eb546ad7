//! Checking a scenario's `[[expect]]` claims against what happened.

use super::load::Scenario;
use super::model::ExpectSpec;
use super::run::Built;
use crate::report::{Outcome, Report, RequestRecord};
use crate::time::{Duration, Instant};
use crate::trace::TraceEvent;

/// One claim's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `kind` plus what it is about.
    pub name: String,
    /// Line of the `[[expect]]` in the scenario file.
    pub line: usize,
    pub ok: bool,
    pub expected: String,
    pub actual: String,
    /// The first trace event where the run went another way, when one can be named.
    pub diverged_at: Option<u64>,
}

fn requests_of<'a>(r: &'a Report, client: Option<&str>) -> Vec<&'a RequestRecord> {
    r.requests
        .iter()
        .filter(|q| client.is_none_or(|c| q.client == c || q.client.split('/').next() == Some(c)))
        .collect()
}

fn outcome_name(s: &str) -> Option<Outcome> {
    Some(match s {
        "ok" => Outcome::Ok,
        "reset" => Outcome::Reset,
        "refused" => Outcome::Refused,
        "timeout" => Outcome::Timeout,
        "unreachable" => Outcome::Unreachable,
        "pending" => Outcome::Pending,
        _ => return None,
    })
}

/// The trace event of the app note that recorded request `q`'s end.
fn event_of(trace: &[TraceEvent], q: &RequestRecord) -> Option<u64> {
    let (host, app) = q.client.split_once('/')?;
    let needle = format!("{app}: request {} ", q.seq);
    trace
        .iter()
        .find(|e| e.node == host && e.dir == "app" && e.summary.starts_with(&needle) && !e.summary.contains("connect"))
        .map(|e| e.id)
}

fn counts(qs: &[&RequestRecord]) -> String {
    let mut v: Vec<String> = vec![];
    for o in [Outcome::Ok, Outcome::Reset, Outcome::Refused, Outcome::Timeout, Outcome::Unreachable, Outcome::Pending] {
        let n = qs.iter().filter(|q| q.outcome == o).count();
        if n > 0 {
            v.push(format!("{o}={n}"));
        }
    }
    if v.is_empty() { "no requests".into() } else { v.join(" ") }
}

fn bodies(qs: &[&RequestRecord]) -> Vec<String> {
    qs.iter().map(|q| q.body.clone().map_or_else(|| format!("<{}>", q.outcome), |b| b.trim_end().to_string())).collect()
}

/// Evaluates every `[[expect]]` of `sc`.
pub fn evaluate(sc: &Scenario, report: &Report, trace: &[TraceEvent], b: &mut Built) -> Vec<Check> {
    sc.spec
        .expects
        .iter()
        .map(|x| {
            let line = sc.text[..x.kind.span().start].matches('\n').count() + 1;
            let mut c = one(x, report, trace, b);
            c.line = line;
            if let Some(a) = &x.about {
                c.name = format!("{} ({a})", c.name);
            }
            c
        })
        .collect()
}

fn check(name: String, ok: bool, expected: String, actual: String) -> Check {
    Check { name, line: 0, ok, expected, actual, diverged_at: None }
}

fn one(x: &ExpectSpec, report: &Report, trace: &[TraceEvent], b: &mut Built) -> Check {
    let kind = x.kind.get_ref().as_str();
    let host = x.host.as_ref().map(|h| h.get_ref().clone());
    match kind {
        "outcomes" => {
            let qs = requests_of(report, x.client.as_deref());
            let who = x.client.clone().unwrap_or_else(|| "all clients".into());
            if let Some(all) = &x.all {
                let Some(o) = outcome_name(all) else {
                    return check(
                        format!("outcomes of {who}"),
                        false,
                        format!("all {all}"),
                        "unknown outcome name".into(),
                    );
                };
                let bad = qs.iter().find(|q| q.outcome != o);
                let mut c = check(
                    format!("outcomes of {who}"),
                    !qs.is_empty() && bad.is_none(),
                    format!("all {all}"),
                    counts(&qs),
                );
                c.diverged_at = bad.and_then(|q| event_of(trace, q));
                return c;
            }
            let mut want = vec![];
            let mut ok = true;
            for (n, o) in [
                (x.ok, Outcome::Ok),
                (x.reset, Outcome::Reset),
                (x.refused, Outcome::Refused),
                (x.timeout, Outcome::Timeout),
                (x.unreachable, Outcome::Unreachable),
                (x.pending, Outcome::Pending),
            ] {
                if let Some(n) = n {
                    want.push(format!("{o}={n}"));
                    ok &= qs.iter().filter(|q| q.outcome == o).count() == n;
                }
            }
            check(format!("outcomes of {who}"), ok, want.join(" "), counts(&qs))
        }
        "bodies" => {
            let qs = requests_of(report, x.client.as_deref());
            let got = bodies(&qs);
            let who = x.client.clone().unwrap_or_else(|| "all clients".into());
            let (want, ok, first_bad) = if let Some(seq) = &x.sequence {
                let bad = (0..seq.len().max(got.len())).find(|&i| seq.get(i) != got.get(i));
                (seq.join(" "), bad.is_none(), bad)
            } else if let Some(cyc) = &x.cycle {
                let bad = if cyc.is_empty() { Some(0) } else { (0..got.len()).find(|&i| got[i] != cyc[i % cyc.len()]) };
                (format!("{} repeating", cyc.join(" ")), !got.is_empty() && bad.is_none(), bad)
            } else if let Some(set) = &x.set {
                let bad = got.iter().position(|g| !set.contains(g));
                let all_seen = set.iter().all(|s| got.contains(s));
                (format!("each of {{{}}}", set.join(", ")), bad.is_none() && all_seen, bad)
            } else if let Some(only) = &x.only {
                let bad = got.iter().position(|g| g != only);
                (format!("only {only}"), !got.is_empty() && bad.is_none(), bad)
            } else {
                ("one of sequence/cycle/set/only".into(), false, None)
            };
            let mut c = check(format!("bodies of {who}"), ok, want, got.join(" "));
            c.diverged_at = first_bad.and_then(|i| qs.get(i)).and_then(|q| event_of(trace, q));
            c
        }
        "neigh" => {
            let h = host.unwrap_or_default();
            let addr = x.addr.clone().unwrap_or_default();
            let entry = report.hosts.get(&h).and_then(|n| n.neigh.iter().find(|e| e.addr == addr));
            let want_mac = match (&x.lladdr, &x.lladdr_of) {
                (Some(m), _) => Some(m.to_ascii_lowercase()),
                (None, Some(of)) => mac_of(b, of),
                _ => None,
            };
            let name = format!("{h}'s neighbour entry for {addr}");
            let actual = entry.map_or("no entry".to_string(), |e| {
                format!("{} {}", e.lladdr.clone().unwrap_or_else(|| "(none)".into()), e.state)
            });
            if x.absent == Some(true) {
                return check(name, entry.is_none(), "no entry".into(), actual);
            }
            let mut want = vec![];
            let mut ok = entry.is_some();
            if let Some(m) = &want_mac {
                want.push(format!("{m}{}", x.lladdr_of.as_ref().map(|o| format!(" ({o})")).unwrap_or_default()));
                ok &= entry.is_some_and(|e| e.lladdr.as_deref() == Some(m.as_str()));
            }
            if let Some(s) = &x.state {
                want.push(s.clone());
                ok &= entry.is_some_and(|e| &e.state == s);
            }
            let mut c = check(name, ok, want.join(" "), actual);
            if !ok {
                c.diverged_at = trace
                    .iter()
                    .rev()
                    .find(|e| {
                        e.node == h && e.cause.as_deref().is_some_and(|c| c.contains(&format!("neighbour {addr} ")))
                    })
                    .map(|e| e.id);
            }
            c
        }
        "exec" => {
            let h = host.unwrap_or_default();
            let cmd = x.command.clone().unwrap_or_default();
            let out = match b.host_id(&h) {
                Some(id) => b.sim.exec(id, &cmd).map_err(|e| e.message),
                None => Err(format!("no host `{h}`")),
            };
            let text = match &out {
                Ok(t) => t.clone(),
                Err(e) => format!("error: {e}"),
            };
            let mut ok = out.is_ok();
            let mut want = vec![];
            if let Some(eq) = &x.equals {
                ok &= text == *eq;
                want.push(format!("exactly:\n{eq}"));
            }
            for s in x.contains.iter().flatten() {
                ok &= text.contains(s.as_str());
                want.push(format!("contains {s:?}"));
            }
            for s in x.lacks.iter().flatten() {
                ok &= !text.contains(s.as_str());
                want.push(format!("lacks {s:?}"));
            }
            check(format!("`{cmd}` on {h}"), ok, want.join(", "), text)
        }
        "trace" => {
            let needle = x.contains.as_ref().and_then(|v| v.first()).cloned().unwrap_or_default();
            let t = |d: Duration| Instant::ZERO + d;
            let hits: Vec<&TraceEvent> = trace
                .iter()
                .filter(|e| x.node.as_ref().is_none_or(|n| &e.node == n))
                .filter(|e| x.at.is_none_or(|a| e.time == t(a)))
                .filter(|e| x.after.is_none_or(|a| e.time >= t(a)) && x.before.is_none_or(|b| e.time < t(b)))
                .filter(|e| e.summary.contains(&needle) || e.cause.as_deref().is_some_and(|c| c.contains(&needle)))
                .collect();
            let lo = x.at_least.unwrap_or(1);
            let ok = hits.len() >= lo && x.at_most.is_none_or(|m| hits.len() <= m);
            let mut when = String::new();
            if let Some(a) = x.at {
                when = format!(" at {}", t(a));
            }
            if let Some(a) = x.after {
                when.push_str(&format!(" from {}", t(a)));
            }
            if let Some(b) = x.before {
                when.push_str(&format!(" before {}", t(b)));
            }
            let want = match x.at_most {
                Some(m) => format!("{lo}..={m} events containing {needle:?}{when}"),
                None => format!("at least {lo} event(s) containing {needle:?}{when}"),
            };
            let mut actual = format!("{} event(s)", hits.len());
            if hits.is_empty() && (x.at.is_some() || x.after.is_some() || x.before.is_some()) {
                // Say when it did happen, which is what the author wants to know.
                let elsewhere: Vec<String> = trace
                    .iter()
                    .filter(|e| x.node.as_ref().is_none_or(|n| &e.node == n))
                    .filter(|e| e.summary.contains(&needle) || e.cause.as_deref().is_some_and(|c| c.contains(&needle)))
                    .take(3)
                    .map(|e| e.time.to_string())
                    .collect();
                if !elsewhere.is_empty() {
                    actual.push_str(&format!(" (it happens at {})", elsewhere.join(", ")));
                }
            }
            let mut c = check(format!("trace mentions {needle:?}"), ok, want, actual);
            if x.at_most.is_some_and(|m| hits.len() > m) {
                c.diverged_at = hits.get(x.at_most.unwrap_or(0)).map(|e| e.id);
            }
            c
        }
        "vrrp" => {
            let h = host.unwrap_or_default();
            let inst = x.instance.clone().unwrap_or_default();
            let st =
                report.hosts.get(&h).and_then(|n| n.vrrp.iter().find(|v| v.instance == inst)).map(|v| v.state.clone());
            let want = x.state.clone().unwrap_or_default();
            check(
                format!("VRRP {inst} on {h}"),
                st.as_deref() == Some(want.as_str()),
                want,
                st.unwrap_or_else(|| "no such instance".into()),
            )
        }
        k => check(k.to_string(), false, "a known kind".into(), k.to_string()),
    }
}

/// The MAC of `host:nic`.
fn mac_of(b: &Built, of: &str) -> Option<String> {
    let (h, n) = of.split_once(':')?;
    let id = b.host_id(h)?;
    b.sim.node(id).ports().into_iter().find(|p| p.name == n).map(|p| p.mac.to_string())
}
