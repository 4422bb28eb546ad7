//! Checker tests with a fake machine: probes are answered by a closure that plays the real
//! servers, and IPVS is inspected with `ipvsadm -Ln`.

use super::*;
use crate::director::ipvsadm;
use crate::director::keepalived::parse_str;
use crate::rng;
use std::cell::RefCell;
use std::rc::Rc;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn at(s: f64) -> Instant {
    Instant::from_nanos((s * 1e9).round() as u64)
}

/// Test configurations write `;` for a line break (keepalived reads one keyword per line).
fn cfg(text: &str) -> KeepalivedConfig {
    match parse_str(&text.replace(';', "\n")) {
        Ok(p) => p.config,
        Err(e) => panic!("config refused: {e:?}"),
    }
}

/// What a probe's target does: the result and how long it takes.
type Answer = Box<dyn FnMut(Instant, &Probe) -> (Duration, ProbeResult)>;

#[derive(Default)]
struct Fake {
    started: Vec<(Instant, ProbeId, Probe)>,
}

impl Prober for Fake {
    fn start(&mut self, now: Instant, id: ProbeId, probe: Probe) {
        self.started.push((now, id, probe));
    }
}

/// A director: IPVS, the checkers, and the probes in flight.
struct Lab {
    ipvs: Ipvs,
    ck: Checkers,
    now: Instant,
    pending: BTreeMap<(Instant, u64), (ProbeId, ProbeResult)>,
    seq: u64,
    /// Every probe started, with its start time.
    probes: Vec<(Instant, Probe)>,
    /// Every log line with the time it was written.
    logs: Vec<(Instant, String)>,
    answer: Answer,
}

impl Lab {
    fn new(text: &str, answer: Answer) -> Self {
        Self::with_addrs(text, answer, &[])
    }

    fn with_addrs(text: &str, answer: Answer, addrs: &[Ipv4Addr]) -> Self {
        let mut ipvs = Ipvs::new(rng::stream(1, "ipvs"));
        let ck = Checkers::new(&cfg(text), Instant::ZERO, &mut ipvs, rng::stream(1, "check"), addrs);
        let mut lab = Lab {
            ipvs,
            ck,
            now: Instant::ZERO,
            pending: BTreeMap::new(),
            seq: 0,
            probes: Vec::new(),
            logs: Vec::new(),
            answer,
        };
        lab.collect();
        lab
    }

    fn collect(&mut self) {
        let now = self.now;
        self.logs.extend(self.ck.drain_logs().into_iter().map(|l| (now, l)));
    }

    /// Runs the machine until `end`: results first, then timers, at each instant.
    fn run_until(&mut self, end: Instant) {
        loop {
            let next_result = self.pending.keys().next().map(|k| k.0);
            let next = match (next_result, self.ck.next_deadline()) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > end {
                break;
            }
            self.now = next;
            while let Some((&k, _)) = self.pending.iter().next() {
                if k.0 > next {
                    break;
                }
                if let Some((id, r)) = self.pending.remove(&k) {
                    self.ck.on_result(next, id, r, &mut self.ipvs);
                }
            }
            self.collect();
            let mut fake = Fake::default();
            self.ck.on_timer(next, &mut fake);
            for (t, id, probe) in fake.started {
                let (d, r) = (self.answer)(t, &probe);
                self.pending.insert((t + d, self.seq), (id, r));
                self.seq += 1;
                self.probes.push((t, probe));
            }
            self.collect();
        }
        self.now = end;
    }

    fn ipvsadm(&mut self) -> String {
        let argv: Vec<String> = ["ipvsadm", "-Ln"].iter().map(|s| s.to_string()).collect();
        match ipvsadm::ipvsadm(&mut self.ipvs, self.now, &argv, None) {
            Ok(s) => s,
            Err(e) => panic!("ipvsadm: {e}"),
        }
    }

    fn lines(&self) -> Vec<String> {
        self.logs.iter().map(|(_, l)| l.clone()).collect()
    }

    /// When `line` was logged.
    fn when(&self, line: &str) -> Option<Instant> {
        self.logs.iter().find(|(_, l)| l == line).map(|(t, _)| *t)
    }

    /// When `line` was first logged after `t`.
    fn when_after(&self, line: &str, t: Instant) -> Option<Instant> {
        self.logs.iter().find(|(w, l)| *w > t && l == line).map(|(w, _)| *w)
    }

    fn status(&self, rs: &str) -> RealServerStatus {
        match self.ck.status().into_iter().find(|s| s.rs == rs && !s.sorry_server) {
            Some(s) => s,
            None => panic!("no real server {rs}"),
        }
    }
}

/// The target of a probe.
fn target(p: &Probe) -> Ipv4Addr {
    match p {
        Probe::Tcp { dst, .. } | Probe::Http { dst, .. } | Probe::Udp { dst, .. } => *dst.ip(),
        Probe::Ping { dst, .. } => *dst,
        Probe::Misc { script, .. } => script.argv.last().and_then(|a| a.parse().ok()).unwrap_or(Ipv4Addr::UNSPECIFIED),
    }
}

fn timeout(p: &Probe) -> Duration {
    match p {
        Probe::Tcp { timeout, .. }
        | Probe::Http { timeout, .. }
        | Probe::Udp { timeout, .. }
        | Probe::Ping { timeout, .. }
        | Probe::Misc { timeout, .. } => *timeout,
    }
}

/// How a real server behaves when it is down.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Down {
    /// SYNs are dropped: the probe times out.
    Drop,
    /// The host answers with a RST at once.
    Refuse,
}

/// Real servers that answer TCP/HTTP/PING/UDP in `rtt` while up; `down` lists
/// (address, from, until) outages.
#[derive(Clone)]
struct Servers {
    outages: Rc<RefCell<Vec<(Ipv4Addr, Instant, Instant)>>>,
    mode: Down,
    rtt: Duration,
    body: Vec<u8>,
    status: u16,
}

impl Servers {
    fn new(mode: Down) -> Self {
        Servers { outages: Rc::default(), mode, rtt: Duration::ZERO, body: b"hello".to_vec(), status: 200 }
    }

    fn down(&self, addr: Ipv4Addr, from: Instant, until: Instant) {
        self.outages.borrow_mut().push((addr, from, until));
    }

    fn is_down(&self, addr: Ipv4Addr, t: Instant) -> bool {
        self.outages.borrow().iter().any(|&(a, f, u)| a == addr && t >= f && t < u)
    }

    fn answer(self) -> Answer {
        Box::new(move |t, p| {
            if self.is_down(target(p), t) {
                return match self.mode {
                    Down::Drop => (timeout(p), ProbeResult::TimedOut),
                    Down::Refuse => (self.rtt, ProbeResult::Refused),
                };
            }
            let r = match p {
                Probe::Tcp { .. } => ProbeResult::Connected,
                Probe::Http { .. } => ProbeResult::Http {
                    status: self.status,
                    content_length: Some(self.body.len()),
                    body: self.body.clone(),
                },
                Probe::Ping { .. } => ProbeResult::Reply(Vec::new()),
                Probe::Udp { .. } => ProbeResult::TimedOut,
                Probe::Misc { .. } => ProbeResult::Exited(0),
            };
            let d = if matches!(p, Probe::Udp { .. }) { timeout(p) } else { self.rtt };
            (d, r)
        })
    }
}

const HEADER: &str = "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";

fn tcp_vs(extra_vs: &str, extra_rs: &str, check: &str) -> String {
    format!(
        "virtual_server 10.0.0.1 80 {{
    lb_algo rr
    lb_kind NAT
    protocol TCP
    {extra_vs}
    real_server 192.168.1.2 80 {{
        weight 1
        {extra_rs}
        {check}
    }}
    real_server 192.168.1.3 80 {{
        weight 2
        {extra_rs}
        {check}
    }}
}}
"
    )
}

#[test]
fn startup_adds_the_service_then_its_servers_and_activates_checkers() {
    let text = tcp_vs("persistence_timeout 50", "", "TCP_CHECK { connect_timeout 3 }");
    let mut lab = Lab::new(&text, Servers::new(Down::Drop).answer());
    assert_eq!(
        lab.lines(),
        [
            "Gained quorum 1+0=1 <= 3 for VS [10.0.0.1]:tcp:80",
            "Activating healthchecker for service [192.168.1.2]:tcp:80 for VS [10.0.0.1]:tcp:80",
            "Activating healthchecker for service [192.168.1.3]:tcp:80 for VS [10.0.0.1]:tcp:80",
            "Activating BFD healthchecker",
        ]
    );
    let want = format!(
        "{HEADER}TCP  10.0.0.1:80 rr persistent 50\n  -> 192.168.1.2:80               Masq    1      0          0         \n  -> 192.168.1.3:80               Masq    2      0          0         \n"
    );
    assert_eq!(lab.ipvsadm(), want);
    // The first checks are at 1 s + a random part of the warmup (delay_loop 60 s).
    let first = lab.ck.next_deadline().unwrap_or(Instant::MAX);
    assert!(first >= at(1.0) && first <= at(61.0), "{first}");
}

#[test]
fn warmup_0_runs_the_first_check_one_second_after_start() {
    let text = tcp_vs("", "", "TCP_CHECK { warmup 0 }");
    let mut lab = Lab::new(&text, Servers::new(Down::Drop).answer());
    lab.run_until(at(1.0));
    assert_eq!(lab.probes.len(), 2);
    assert!(lab.probes.iter().all(|(t, _)| *t == at(1.0)));
    assert_eq!(
        lab.probes[0].1,
        Probe::Tcp { dst: SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 2), 80), bind: None, timeout: secs(5) }
    );
    // The first success is logged, although the server is already in the pool.
    assert_eq!(lab.when("TCP connection to [192.168.1.2]:tcp:80 success."), Some(at(1.0)));
    lab.run_until(at(200.0));
    let runs: Vec<Instant> =
        lab.probes.iter().filter(|(_, p)| target(p) == Ipv4Addr::new(192, 168, 1, 2)).map(|p| p.0).collect();
    assert_eq!(runs, [at(1.0), at(61.0), at(121.0), at(181.0)]);
}

/// Detection of a failed real server (reference §4.3): the server fails right after a
/// successful check that ended at `t0`; it is removed `L + (R+1)T + RD` later when its
/// SYNs are dropped, `L + RD` when they are refused.
fn detection(vs_params: &str, check: &str, mode: Down) -> (Duration, Vec<String>) {
    let text = tcp_vs(vs_params, "", check);
    let servers = Servers::new(mode);
    let rs = Ipv4Addr::new(192, 168, 1, 2);
    servers.down(rs, at(1.0) + Duration::from_nanos(1), Instant::MAX);
    let mut lab = Lab::new(&text, servers.answer());
    lab.run_until(at(300.0));
    let removed = lab
        .logs
        .iter()
        .find(|(_, l)| l.starts_with("Removing service [192.168.1.2]"))
        .map(|(t, _)| *t)
        .unwrap_or(Instant::MAX);
    let after: Vec<String> = lab.logs.iter().filter(|(t, _)| *t == removed).map(|(_, l)| l.clone()).collect();
    (removed.since(at(1.0)), after)
}

#[test]
fn detection_time_with_keepalived_defaults_is_71_s_dropped_and_61_s_refused() {
    let (d, lines) = detection("", "TCP_CHECK { warmup 0 }", Down::Drop);
    assert_eq!(d, secs(71));
    assert_eq!(
        lines,
        [
            "TCP_CHECK on service [192.168.1.2]:tcp:80 failed after 1 retries.",
            "Removing service [192.168.1.2]:tcp:80 from VS [10.0.0.1]:tcp:80",
        ]
    );
    let (d, _) = detection("", "TCP_CHECK { warmup 0 }", Down::Refuse);
    assert_eq!(d, secs(61));
}

#[test]
fn detection_time_of_the_samples_tcp_check_is_21_to_27_s_dropped_and_9_to_15_s_refused() {
    let check = "TCP_CHECK { warmup 0; connect_timeout 3; retry 3; delay_before_retry 3 }";
    // Worst case: the failure comes just after a check.
    assert_eq!(detection("delay_loop 6", check, Down::Drop).0, secs(27));
    assert_eq!(detection("delay_loop 6", check, Down::Refuse).0, secs(15));
    // Best case: just before one (measured from the first failing attempt).
    let text = tcp_vs("delay_loop 6", "", check);
    for (mode, want) in [(Down::Drop, 21), (Down::Refuse, 9)] {
        let servers = Servers::new(mode);
        servers.down(Ipv4Addr::new(192, 168, 1, 2), at(7.0), Instant::MAX);
        let mut lab = Lab::new(&text, servers.answer());
        lab.run_until(at(100.0));
        let removed = lab.when("Removing service [192.168.1.2]:tcp:80 from VS [10.0.0.1]:tcp:80");
        assert_eq!(removed.map(|t| t.since(at(7.0))), Some(secs(want)));
    }
}

#[test]
fn detection_time_of_http_get_defaults_is_73_s() {
    let check = "HTTP_GET { warmup 0; url { path / } }";
    let (d, lines) = detection("", check, Down::Drop);
    assert_eq!(d, secs(73));
    assert_eq!(lines[0], "HTTP_CHECK on service [192.168.1.2]:tcp:80 failed after 1 retries.");
}

#[test]
fn a_failure_before_any_success_removes_the_server_at_once() {
    let text = tcp_vs("", "", "TCP_CHECK { warmup 0; retry 3 }");
    let servers = Servers::new(Down::Drop);
    servers.down(Ipv4Addr::new(192, 168, 1, 2), Instant::ZERO, Instant::MAX);
    let mut lab = Lab::new(&text, servers.answer());
    lab.run_until(at(6.0));
    assert_eq!(lab.when("TCP_CHECK on service [192.168.1.2]:tcp:80 failed."), Some(at(6.0)));
    assert_eq!(lab.when("Removing service [192.168.1.2]:tcp:80 from VS [10.0.0.1]:tcp:80"), Some(at(6.0)));
    assert!(!lab.ipvsadm().contains("192.168.1.2"));
}

#[test]
fn a_recovered_server_is_re_added_at_its_next_successful_check() {
    let text = tcp_vs("delay_loop 6", "", "TCP_CHECK { warmup 0; connect_timeout 3; retry 3; delay_before_retry 3 }");
    let servers = Servers::new(Down::Refuse);
    let rs = Ipv4Addr::new(192, 168, 1, 2);
    servers.down(rs, at(5.0), at(40.0));
    let mut lab = Lab::new(&text, servers.answer());
    lab.run_until(at(30.0));
    assert!(!lab.ipvsadm().contains("192.168.1.2"));
    assert!(!lab.status("[192.168.1.2]:tcp:80").up);
    lab.run_until(at(80.0));
    // Down: TCP_CHECK keeps its retry rhythm (3 s x3, then 6 s): 19 22 25 28 | 34 37 40.
    let t = lab.when_after("TCP connection to [192.168.1.2]:tcp:80 success.", at(1.0));
    assert_eq!(t, Some(at(40.0)));
    assert_eq!(lab.when("Adding service [192.168.1.2]:tcp:80 to VS [10.0.0.1]:tcp:80"), Some(at(40.0)));
    assert!(lab.ipvsadm().contains("  -> 192.168.1.2:80               Masq    1      0          0"));
    assert!(lab.status("[192.168.1.2]:tcp:80").up);
}

#[test]
fn inhibit_on_failure_sets_weight_0_instead_of_removing() {
    let text = tcp_vs("", "inhibit_on_failure", "TCP_CHECK { warmup 0 }");
    let servers = Servers::new(Down::Refuse);
    servers.down(Ipv4Addr::new(192, 168, 1, 2), at(2.0), at(100.0));
    let mut lab = Lab::new(&text, servers.answer());
    lab.run_until(at(62.0));
    assert_eq!(lab.when("Disabling service [192.168.1.2]:tcp:80 of VS [10.0.0.1]:tcp:80"), Some(at(62.0)));
    assert!(lab.ipvsadm().contains("  -> 192.168.1.2:80               Masq    0      0          0"));
    let s = lab.status("[192.168.1.2]:tcp:80");
    assert!(!s.up && s.in_ipvs && s.weight == 1);
    lab.run_until(at(200.0));
    assert!(lab.when("Enabling service [192.168.1.2]:tcp:80 of VS [10.0.0.1]:tcp:80").is_some());
    assert!(lab.ipvsadm().contains("  -> 192.168.1.2:80               Masq    1      0          0"));
}

#[test]
fn losing_quorum_brings_in_the_sorry_server_and_hysteresis_keeps_it() {
    let text = "virtual_server 10.0.0.1 80 {
    lb_algo rr
    protocol TCP
    quorum 2
    hysteresis 1
    sorry_server 192.168.9.9 8080
    real_server 192.168.1.1 80 { TCP_CHECK { warmup 0; retry 0 } }
    real_server 192.168.1.2 80 { TCP_CHECK { warmup 0; retry 0 } }
    real_server 192.168.1.3 80 { TCP_CHECK { warmup 0; retry 0 } }
}
";
    let servers = Servers::new(Down::Refuse);
    for (i, until) in [(1, 150.0), (2, 170.0), (3, 250.0)] {
        servers.down(Ipv4Addr::new(192, 168, 1, i), at(2.0), at(until));
    }
    let mut lab = Lab::new(text, servers.answer());
    assert_eq!(lab.lines()[0], "Gained quorum 2+1=3 <= 3 for VS [10.0.0.1]:tcp:80");
    lab.run_until(at(61.0));
    // Quorum up: lost when the alive weight falls below 2-1=1.
    let tail: Vec<String> = lab.logs.iter().filter(|(t, _)| *t == at(61.0)).map(|(_, l)| l.clone()).collect();
    assert_eq!(
        tail,
        [
            "TCP_CHECK on service [192.168.1.1]:tcp:80 failed.",
            "Removing service [192.168.1.1]:tcp:80 from VS [10.0.0.1]:tcp:80",
            "TCP_CHECK on service [192.168.1.2]:tcp:80 failed.",
            "Removing service [192.168.1.2]:tcp:80 from VS [10.0.0.1]:tcp:80",
            "TCP_CHECK on service [192.168.1.3]:tcp:80 failed.",
            "Removing service [192.168.1.3]:tcp:80 from VS [10.0.0.1]:tcp:80",
            "Lost quorum 2-1=1 > 0 for VS [10.0.0.1]:tcp:80",
            "Adding sorry server [192.168.9.9]:tcp:8080 to VS [10.0.0.1]:tcp:80",
            "Removing alive servers from the pool for VS [10.0.0.1]:tcp:80",
        ]
    );
    assert_eq!(
        lab.ipvsadm(),
        format!(
            "{HEADER}TCP  10.0.0.1:80 rr\n  -> 192.168.9.9:8080             Masq    1      0          0         \n"
        )
    );
    // Two servers back (weight 2) is not enough: quorum down needs 2+1=3.
    lab.run_until(at(230.0));
    assert!(lab.when("Adding service [192.168.1.1]:tcp:80 to VS [10.0.0.1]:tcp:80").is_some());
    assert!(lab.when("Adding service [192.168.1.2]:tcp:80 to VS [10.0.0.1]:tcp:80").is_some());
    assert_eq!(
        lab.ipvsadm(),
        format!(
            "{HEADER}TCP  10.0.0.1:80 rr\n  -> 192.168.9.9:8080             Masq    1      0          0         \n"
        )
    );
    lab.run_until(at(310.0));
    let t = lab.when_after("Gained quorum 2+1=3 <= 3 for VS [10.0.0.1]:tcp:80", at(230.0));
    assert_eq!(t, Some(at(301.0)));
    let i = lab.lines().iter().rposition(|l| l.starts_with("Gained quorum")).unwrap_or(0);
    assert_eq!(
        lab.lines()[i..i + 3],
        [
            "Gained quorum 2+1=3 <= 3 for VS [10.0.0.1]:tcp:80",
            "Removing sorry server [192.168.9.9]:tcp:8080 from VS [10.0.0.1]:tcp:80",
            "Adding alive servers to the pool for VS [10.0.0.1]:tcp:80",
        ]
    );
    let list = lab.ipvsadm();
    assert!(!list.contains("192.168.9.9") && list.matches("Masq    1").count() == 3, "{list}");
}

#[test]
fn default_quorum_logs_lost_quorum_when_the_last_server_goes() {
    let text = "virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 192.168.1.1 80 { TCP_CHECK { warmup 0 } }
}
";
    let servers = Servers::new(Down::Refuse);
    servers.down(Ipv4Addr::new(192, 168, 1, 1), at(2.0), Instant::MAX);
    let mut lab = Lab::new(text, servers.answer());
    lab.run_until(at(70.0));
    let i = lab.lines().iter().position(|l| l.starts_with("TCP_CHECK")).unwrap_or(0);
    assert_eq!(
        lab.lines()[i..],
        [
            "TCP_CHECK on service [192.168.1.1]:tcp:80 failed after 1 retries.",
            "Removing service [192.168.1.1]:tcp:80 from VS [10.0.0.1]:tcp:80",
            "Lost quorum 1-0=1 > 0 for VS [10.0.0.1]:tcp:80",
        ]
    );
    assert_eq!(lab.ipvsadm(), format!("{HEADER}TCP  10.0.0.1:80 wlc\n"));
}

const INDEX_MD5: &str = "5d41402abc4b2a76b9719d911017c592"; // md5("hello")

fn http_vs(urls: &str, extra: &str) -> String {
    format!(
        "virtual_server 10.0.0.1 80 {{
    protocol TCP
    real_server 192.168.1.2 80 {{
        HTTP_GET {{
            {urls}
            warmup 0
            connect_timeout 3
            retry 1
            delay_before_retry 3
            {extra}
        }}
    }}
}}
"
    )
}

#[test]
fn http_get_sends_keepalived_s_request_and_checks_the_digest() {
    let text = http_vs(&format!("url {{ path /index.html; digest {INDEX_MD5} }}"), "");
    let mut lab = Lab::new(&text, Servers::new(Down::Drop).answer());
    lab.run_until(at(1.0));
    let Some((_, Probe::Http { request, path, ssl, .. })) = lab.probes.first() else { panic!("no probe") };
    assert_eq!(request, "GET /index.html HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 192.168.1.2:80\r\n\r\n");
    assert_eq!((path.as_str(), *ssl), ("/index.html", false));
    assert_eq!(lab.when("Remote Web server [192.168.1.2]:tcp:80 succeed on service."), Some(at(1.0)));

    // The page changes: the digest no longer matches.
    let mut servers = Servers::new(Down::Drop);
    servers.body = b"changed".to_vec();
    let mut lab = Lab::new(&text, servers.answer());
    lab.run_until(at(2.0));
    assert_eq!(
        lab.lines()[3..],
        [
            "HTTP_CHECK on service [192.168.1.2]:tcp:80 failed after 1 retries.",
            "Removing service [192.168.1.2]:tcp:80 from VS [10.0.0.1]:tcp:80",
            "Lost quorum 1-0=1 > 0 for VS [10.0.0.1]:tcp:80",
        ]
    );
}

#[test]
fn http_status_codes_default_to_2xx_and_can_be_listed() {
    let mut servers = Servers::new(Down::Drop);
    servers.status = 404;
    let text = http_vs("url { path /missing }", "");
    let mut lab = Lab::new(&text, servers.clone().answer());
    lab.run_until(at(2.0));
    assert!(lab.when("Removing service [192.168.1.2]:tcp:80 from VS [10.0.0.1]:tcp:80").is_some());
    let text = http_vs("url { path /missing; status_code 404 200-299 }", "");
    let mut lab = Lab::new(&text, servers.answer());
    lab.run_until(at(120.0));
    assert!(lab.lines().iter().all(|l| !l.contains("Removing")), "{:?}", lab.lines());
}

#[test]
fn http_recovery_passes_the_failed_url_then_every_url() {
    let urls = format!("url {{ path /a; digest {INDEX_MD5} }}; url {{ path /b }}");
    let text = http_vs(&urls, "log_all_failures");
    let servers = Servers::new(Down::Drop);
    servers.down(Ipv4Addr::new(192, 168, 1, 2), at(62.0), at(200.0));
    let mut lab = Lab::new(&text, servers.answer());
    lab.run_until(at(380.0));
    assert_eq!(
        lab.logs[3..].iter().map(|(t, l)| (t.nanos() / 1_000_000_000, l.as_str())).collect::<Vec<_>>(),
        [
            (61, "Remote Web server [192.168.1.2]:tcp:80 succeed on service."),
            (124, "Timeout connecting server [192.168.1.2]:tcp:80."),
            (130, "Timeout connecting server [192.168.1.2]:tcp:80."),
            (130, "HTTP_CHECK on service [192.168.1.2]:tcp:80 failed after 1 retries."),
            (130, "Removing service [192.168.1.2]:tcp:80 from VS [10.0.0.1]:tcp:80"),
            (130, "Lost quorum 1-0=1 > 0 for VS [10.0.0.1]:tcp:80"),
            (253, "MD5 digest success to [192.168.1.2]:tcp:80 url(/a)"),
            (313, "MD5 digest success to [192.168.1.2]:tcp:80 url(/a)"),
            (373, "HTTP status code success to [192.168.1.2]:tcp:80 url(/b)"),
            (373, "Remote Web server [192.168.1.2]:tcp:80 succeed on service."),
            (373, "Adding service [192.168.1.2]:tcp:80 to VS [10.0.0.1]:tcp:80"),
            (373, "Gained quorum 1+0=1 <= 1 for VS [10.0.0.1]:tcp:80"),
        ]
    );
    // One URL per delay_loop; a failing URL is retried after delay_before_retry (3 s);
    // once down, only the failed URL, every max(delay_before_retry, delay_loop) after the
    // attempt; when it passes, every URL again from the first.
    let times: Vec<(u64, &str)> = lab
        .probes
        .iter()
        .filter_map(|(t, p)| match p {
            Probe::Http { path, .. } => Some((t.nanos() / 1_000_000_000, path.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        times,
        [(1, "/a"), (61, "/b"), (121, "/a"), (127, "/a"), (190, "/a"), (253, "/a"), (313, "/a"), (373, "/b")]
    );
}

#[test]
fn http_fast_recovery_checks_again_at_once() {
    let urls = "url { path /a }; url { path /b }";
    let text = http_vs(urls, "fast_recovery");
    let servers = Servers::new(Down::Refuse);
    servers.down(Ipv4Addr::new(192, 168, 1, 2), Instant::ZERO, at(100.0));
    let mut lab = Lab::new(&text, servers.answer());
    lab.run_until(at(200.0));
    let times: Vec<u64> = lab.probes.iter().map(|(t, _)| t.nanos() / 1_000_000_000).collect();
    // Down at the first check (1 s); the failed URL every 60 s; when it passes at 121 s,
    // every URL again from the first, at once.
    assert_eq!(times, [1, 61, 121, 121, 121, 181]);
    assert_eq!(lab.when("Adding service [192.168.1.2]:tcp:80 to VS [10.0.0.1]:tcp:80"), Some(at(121.0)));
}

#[test]
fn misc_check_exit_codes_and_dynamic_weights() {
    let text = "virtual_server 10.0.0.1 80 {
    protocol TCP
    delay_loop 10
    real_server 192.168.1.2 80 {
        weight 5
        MISC_CHECK { misc_path \"/bin/check 192.168.1.2\"; misc_dynamic; warmup 0 }
    }
}
";
    let codes = Rc::new(RefCell::new(vec![0, 5, 2, 1, 0, 7]));
    let c2 = codes.clone();
    let answer: Answer = Box::new(move |_, _| {
        let mut v = c2.borrow_mut();
        let code = if v.is_empty() { 0 } else { v.remove(0) };
        (secs(2), ProbeResult::Exited(code))
    });
    let mut lab = Lab::new(text, answer);
    lab.run_until(at(55.0));
    let l = lab.lines();
    assert_eq!(
        l[3..],
        [
            "Misc check for [[192.168.1.2]:tcp:80 VS [10.0.0.1]:tcp:80] by [/bin/check] succeeded.",
            "Changing weight from 5 to 3 for active service [192.168.1.2]:tcp:80 of VS [10.0.0.1]:tcp:80",
            "Changing weight from 3 to 0 for active service [192.168.1.2]:tcp:80 of VS [10.0.0.1]:tcp:80",
            "Lost quorum 1-0=1 > 0 for VS [10.0.0.1]:tcp:80",
            "Misc check for [[192.168.1.2]:tcp:80 VS [10.0.0.1]:tcp:80] by [/bin/check] failed (exited with status 1).",
            "Removing service [192.168.1.2]:tcp:80 from VS [10.0.0.1]:tcp:80",
            "Changing weight from 0 to 5 for inactive service [192.168.1.2]:tcp:80 of VS [10.0.0.1]:tcp:80",
            "Misc check for [[192.168.1.2]:tcp:80 VS [10.0.0.1]:tcp:80] by [/bin/check] succeeded.",
            "Adding service [192.168.1.2]:tcp:80 to VS [10.0.0.1]:tcp:80",
            "Gained quorum 1+0=1 <= 5 for VS [10.0.0.1]:tcp:80",
        ]
    );
    // MISC_CHECK runs every delay_loop from the script's start, not its end.
    let starts: Vec<Instant> = lab.probes.iter().map(|p| p.0).collect();
    assert_eq!(starts, [at(1.0), at(11.0), at(21.0), at(31.0), at(41.0), at(51.0)]);
    lab.run_until(at(54.0));
    assert!(lab.ipvsadm().contains("  -> 192.168.1.2:80               Masq    5"), "{}", lab.ipvsadm());
}

#[test]
fn misc_check_timeout_and_signals() {
    let text = "virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 192.168.1.2 80 { MISC_CHECK { misc_path /bin/slow; misc_timeout 4; warmup 0 } }
    real_server 192.168.1.3 80 { MISC_CHECK { misc_path /bin/crash; warmup 0; retry 2 } }
}
";
    let answer: Answer = Box::new(|_, p| match p {
        Probe::Misc { script, timeout } if script.argv[0] == "/bin/slow" => {
            assert_eq!(*timeout, secs(4));
            (*timeout, ProbeResult::ScriptTimedOut)
        }
        Probe::Misc { timeout, .. } => {
            // No misc_timeout: the virtual server's delay_loop.
            assert_eq!(*timeout, secs(60));
            (secs(1), ProbeResult::Signaled(11))
        }
        _ => (Duration::ZERO, ProbeResult::Connected),
    });
    let mut lab = Lab::new(text, answer);
    lab.run_until(at(10.0));
    assert!(
        lab.lines().contains(
            &"Misc check for [[192.168.1.2]:tcp:80 VS [10.0.0.1]:tcp:80] by [/bin/slow] timed out.".to_string()
        )
    );
    // The first failure is enough (retry_it starts at retry); the message names the retries.
    assert!(lab.lines().contains(
        &"Misc check for [[192.168.1.3]:tcp:80 VS [10.0.0.1]:tcp:80] by [/bin/crash] failed after 2 retries (due to signal 11)."
            .to_string()
    ));
}

#[test]
fn alpha_servers_wait_for_their_first_success() {
    let text = tcp_vs("alpha", "", "TCP_CHECK { warmup 0 }");
    let mut lab = Lab::new(&text, Servers::new(Down::Drop).answer());
    assert_eq!(lab.lines().len(), 3, "{:?}", lab.lines());
    assert_eq!(lab.ipvsadm(), format!("{HEADER}TCP  10.0.0.1:80 rr\n"));
    lab.run_until(at(1.0));
    assert_eq!(
        lab.lines()[3..],
        [
            "TCP connection to [192.168.1.2]:tcp:80 success.",
            "Adding service [192.168.1.2]:tcp:80 to VS [10.0.0.1]:tcp:80",
            "Gained quorum 1+0=1 <= 1 for VS [10.0.0.1]:tcp:80",
            "TCP connection to [192.168.1.3]:tcp:80 success.",
            "Adding service [192.168.1.3]:tcp:80 to VS [10.0.0.1]:tcp:80",
        ]
    );
    assert_eq!(lab.ipvsadm().matches("Masq").count(), 2);
}

#[test]
fn alpha_with_a_sorry_server_starts_with_quorum_down() {
    let text = tcp_vs("alpha\n    sorry_server 192.168.9.9 80", "", "TCP_CHECK { warmup 0 }");
    let servers = Servers::new(Down::Refuse);
    servers.down(Ipv4Addr::new(192, 168, 1, 2), Instant::ZERO, Instant::MAX);
    let mut lab = Lab::new(&text, servers.answer());
    assert_eq!(
        lab.lines()[..3],
        [
            "Starting with quorum down 1-0=1 > 0 for VS [10.0.0.1]:tcp:80",
            "Adding sorry server [192.168.9.9]:tcp:80 to VS [10.0.0.1]:tcp:80",
            "Removing alive servers from the pool for VS [10.0.0.1]:tcp:80",
        ]
    );
    assert_eq!(
        lab.ipvsadm(),
        format!(
            "{HEADER}TCP  10.0.0.1:80 rr\n  -> 192.168.9.9:80               Masq    1      0          0         \n"
        )
    );
    lab.run_until(at(1.0));
    // The failing alpha server logs its failure; the other one brings the quorum up.
    assert_eq!(
        lab.lines()[6..],
        [
            "TCP_CHECK on service [192.168.1.2]:tcp:80 failed.",
            "TCP connection to [192.168.1.3]:tcp:80 success.",
            "Adding service [192.168.1.3]:tcp:80 to VS [10.0.0.1]:tcp:80",
            "Gained quorum 1+0=1 <= 2 for VS [10.0.0.1]:tcp:80",
            "Removing sorry server [192.168.9.9]:tcp:80 from VS [10.0.0.1]:tcp:80",
            "Adding alive servers to the pool for VS [10.0.0.1]:tcp:80",
        ]
    );
    assert_eq!(
        lab.ipvsadm(),
        format!(
            "{HEADER}TCP  10.0.0.1:80 rr\n  -> 192.168.1.3:80               Masq    2      0          0         \n"
        )
    );
}

#[test]
fn alpha_with_inhibit_adds_the_servers_at_weight_0() {
    let text = tcp_vs("alpha\n    inhibit_on_failure", "", "TCP_CHECK { warmup 0 }");
    let mut lab = Lab::new(&text, Servers::new(Down::Drop).answer());
    assert_eq!(lab.ipvsadm().matches("Masq    0").count(), 2, "{}", lab.ipvsadm());
    lab.run_until(at(1.0));
    assert!(lab.when("Enabling service [192.168.1.2]:tcp:80 of VS [10.0.0.1]:tcp:80").is_some());
    assert_eq!(lab.ipvsadm().matches("Masq    0").count(), 0, "{}", lab.ipvsadm());
}

#[test]
fn a_server_with_several_checkers_is_down_while_any_fails() {
    let text = "virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 192.168.1.2 80 {
        TCP_CHECK { warmup 0; retry 0 }
        TCP_CHECK { connect_port 8080; warmup 0; retry 0; delay_loop 10 }
    }
}
";
    let port_up = Rc::new(RefCell::new(true));
    let p2 = port_up.clone();
    let answer: Answer = Box::new(move |_, p| match p {
        Probe::Tcp { dst, .. } if dst.port() == 8080 && !*p2.borrow() => (Duration::ZERO, ProbeResult::Refused),
        _ => (Duration::ZERO, ProbeResult::Connected),
    });
    let mut lab = Lab::new(text, answer);
    lab.run_until(at(5.0));
    *port_up.borrow_mut() = false;
    lab.run_until(at(11.0));
    assert!(lab.when("Removing service [192.168.1.2]:tcp:80 from VS [10.0.0.1]:tcp:80") == Some(at(11.0)));
    assert_eq!(lab.status("[192.168.1.2]:tcp:80").failed_checkers, 1);
    *port_up.borrow_mut() = true;
    lab.run_until(at(21.0));
    assert!(lab.when("Adding service [192.168.1.2]:tcp:80 to VS [10.0.0.1]:tcp:80") == Some(at(21.0)));
}

#[test]
fn udp_and_ping_checks() {
    let text = "virtual_server 10.0.0.1 53 {
    protocol UDP
    real_server 192.168.1.2 53 { UDP_CHECK { warmup 0; payload 01 02 03; require_reply 0a xx } }
    real_server 192.168.1.3 53 { UDP_CHECK { warmup 0 } }
    real_server 192.168.1.4 53 { PING_CHECK { warmup 0 } }
}
";
    let answer: Answer = Box::new(|_, p| match p {
        Probe::Udp { dst, payload, .. } if dst.ip().octets()[3] == 2 => {
            assert_eq!(payload, &[1, 2, 3]);
            (Duration::ZERO, ProbeResult::Reply(vec![0x0b, 0xff]))
        }
        Probe::Udp { .. } => (secs(5), ProbeResult::TimedOut),
        _ => (Duration::ZERO, ProbeResult::Unreachable),
    });
    let mut lab = Lab::new(text, answer);
    lab.run_until(at(6.0));
    let l = lab.lines();
    assert!(l.contains(&"UDP_CHECK on service [192.168.1.2]:udp:53 failed.".to_string()), "{l:?}");
    assert!(l.contains(&"UDP connection to [192.168.1.3]:udp:53 success.".to_string()), "{l:?}");
    assert!(l.contains(&"recv ICMP packet error".to_string()), "{l:?}");
    assert!(l.contains(&"ICMP CHECK on service [192.168.1.4]:udp:53 failed.".to_string()), "{l:?}");
    assert_eq!(
        lab.ipvsadm(),
        format!(
            "{HEADER}UDP  10.0.0.1:53 wlc\n  -> 192.168.1.3:53               Masq    1      0          0         \n"
        )
    );
}

#[test]
fn read_hex_str_follows_keepalived() {
    assert_eq!(udp::read_hex_str("0102 0a", false), Some((vec![1, 2, 10], vec![0, 0, 0])));
    assert_eq!(udp::read_hex_str("1 2", false), Some((vec![1, 2], vec![0, 0])));
    assert_eq!(udp::read_hex_str("ax", true), Some((vec![0xa0], vec![0x0f])));
    assert_eq!(udp::read_hex_str("zz", false), None);
    assert_eq!(udp::read_hex_str("", false), None);
}

#[test]
fn stop_removes_what_keepalived_added() {
    let text = tcp_vs("", "inhibit_on_failure", "TCP_CHECK { warmup 0 }");
    let servers = Servers::new(Down::Refuse);
    servers.down(Ipv4Addr::new(192, 168, 1, 3), Instant::ZERO, Instant::MAX);
    let mut lab = Lab::new(&text, servers.answer());
    lab.run_until(at(2.0));
    lab.ck.stop(at(2.0), &mut lab.ipvs);
    lab.collect();
    let l = lab.lines();
    assert_eq!(
        l[l.len() - 2..],
        [
            "Shutting down service [192.168.1.2]:tcp:80 from VS [10.0.0.1]:tcp:80",
            "Shutting down (inhibited) service [192.168.1.3]:tcp:80 from VS [10.0.0.1]:tcp:80",
        ]
    );
    assert_eq!(lab.ipvsadm(), HEADER);
    assert_eq!(lab.ck.next_deadline(), None);
    // Late results are ignored.
    lab.ck.on_result(at(3.0), ProbeId(0), ProbeResult::Refused, &mut lab.ipvs);
    assert!(lab.ck.drain_logs().is_empty());
}

#[test]
fn lvs_flush_on_stop_vs_removes_only_the_services() {
    let text = format!("global_defs {{\n lvs_flush_on_stop VS\n}}\n{}", tcp_vs("", "", "TCP_CHECK { warmup 0 }"));
    let mut lab = Lab::new(&text, Servers::new(Down::Drop).answer());
    lab.ck.stop(at(0.5), &mut lab.ipvs);
    assert!(lab.ck.drain_logs().is_empty());
    assert_eq!(lab.ipvsadm(), HEADER);
}

#[test]
fn lvs_flush_and_lvs_timeouts_at_start() {
    let mut ipvs = Ipvs::new(rng::stream(1, "ipvs"));
    let argv: Vec<String> = "ipvsadm -A -t 1.1.1.1:1".split(' ').map(String::from).collect();
    assert!(ipvsadm::ipvsadm(&mut ipvs, Instant::ZERO, &argv, None).is_ok());
    let text = format!("global_defs {{\n lvs_flush\n lvs_timeouts tcp 100 udp 20\n}}\n{}", tcp_vs("", "", ""));
    let mut ck = Checkers::new(&cfg(&text), Instant::ZERO, &mut ipvs, rng::stream(1, "c"), &[]);
    assert_eq!(ipvs.services(Instant::ZERO).len(), 1);
    assert_eq!(ipvs.timeouts(), (100, 120, 20));
    ck.stop(Instant::ZERO, &mut ipvs);
    assert_eq!(ipvs.timeouts(), (900, 120, 300));
}

#[test]
fn real_servers_without_checkers_are_added_and_stay() {
    let text = tcp_vs("", "", "");
    let mut lab = Lab::new(&text, Servers::new(Down::Drop).answer());
    assert_eq!(lab.lines(), ["Gained quorum 1+0=1 <= 3 for VS [10.0.0.1]:tcp:80", "Activating BFD healthchecker"]);
    assert_eq!(lab.ck.next_deadline(), None);
    assert_eq!(lab.ipvsadm().matches("Masq").count(), 2);
}

#[test]
fn ha_suspend_checkers_wait_for_the_virtual_address() {
    let text = tcp_vs("ha_suspend", "", "TCP_CHECK { warmup 0; delay_loop 5 }");
    let servers = Servers::new(Down::Drop);
    let mut lab = Lab::new(&text, servers.answer());
    assert_eq!(lab.lines()[1], "Deactivating healthchecker for service [192.168.1.2]:tcp:80 for VS [10.0.0.1]:tcp:80");
    lab.run_until(at(20.0));
    assert!(lab.probes.is_empty());
    lab.ck.on_address(Ipv4Addr::new(10, 0, 0, 1), true);
    lab.collect();
    assert!(
        lab.lines().contains(
            &"Activating healthchecker for service [192.168.1.3]:tcp:80 for VS [10.0.0.1]:tcp:80".to_string()
        )
    );
    // Suspended checkers still wake every delay_loop (5 s): the next wake-up probes.
    lab.run_until(at(21.0));
    assert_eq!(lab.probes.len(), 2);
    lab.ck.on_address(Ipv4Addr::new(10, 0, 0, 1), false);
    lab.collect();
    assert!(
        lab.lines().contains(
            &"Suspending healthchecker for service [192.168.1.2]:tcp:80 for VS [10.0.0.1]:tcp:80".to_string()
        )
    );
    // Present at start: active at once.
    let lab = Lab::with_addrs(&text, Servers::new(Down::Drop).answer(), &[Ipv4Addr::new(10, 0, 0, 1)]);
    assert_eq!(lab.lines()[1], "Activating healthchecker for service [192.168.1.2]:tcp:80 for VS [10.0.0.1]:tcp:80");
}

#[test]
fn fwmark_and_group_virtual_servers() {
    let text = "virtual_server_group VSG {
    10.0.0.1-2 80
    fwmark 7
}
virtual_server group VSG {
    lb_kind DR
    protocol TCP
    real_server 192.168.1.2 80 { weight 3 }
}
virtual_server fwmark 9 {
    lb_algo rr
    lb_kind DR
    real_server 192.168.1.3 { weight 1 }
}
";
    let mut lab = Lab::new(text, Servers::new(Down::Drop).answer());
    assert_eq!(
        lab.lines(),
        [
            "Gained quorum 1+0=1 <= 3 for VS [VSG]:0",
            "Gained quorum 1+0=1 <= 1 for VS FWM 9",
            "Activating BFD healthchecker"
        ]
    );
    assert_eq!(
        lab.ipvsadm(),
        format!(
            "{HEADER}TCP  10.0.0.1:80 wlc\n  -> 192.168.1.2:80               Route   3      0          0         \nTCP  10.0.0.2:80 wlc\n  -> 192.168.1.2:80               Route   3      0          0         \nFWM  7 wlc\n  -> 192.168.1.2:0                Route   3      0          0         \nFWM  9 rr\n  -> 192.168.1.3:0                Route   1      0          0         \n"
        )
    );
    lab.ck.stop(at(1.0), &mut lab.ipvs);
    assert_eq!(lab.ipvsadm(), HEADER);
}

#[test]
fn unsupported_parts_are_noted() {
    let text = "virtual_server 10.0.0.1 80 {
    protocol SCTP
    real_server 192.168.1.2 80 { TCP_CHECK { } }
}
virtual_server 10.0.0.2 25 {
    protocol TCP
    quorum_up /bin/up
    real_server 192.168.1.2 25 {
        notify_down /bin/down
        SMTP_CHECK { }
    }
}
";
    let lab = Lab::new(text, Servers::new(Down::Drop).answer());
    assert_eq!(
        lab.ck.notes(),
        [
            "VS [10.0.0.1]:sctp:80: SCTP services are not modelled by the lab's IPVS - ignored",
            "VS [10.0.0.2]:tcp:25: quorum_up/quorum_down scripts are not run",
            "[192.168.1.2]:tcp:25 of VS [10.0.0.2]:tcp:25: notify_up/notify_down scripts are not run",
            "SMTP_CHECK for [192.168.1.2]:tcp:25 of VS [10.0.0.2]:tcp:25: not run by the lab; the real server follows its other checkers",
        ]
    );
}

#[test]
fn runs_are_deterministic() {
    let run = || {
        let text = tcp_vs("delay_loop 6", "", "TCP_CHECK { connect_timeout 3; retry 3; delay_before_retry 3 }");
        let servers = Servers::new(Down::Drop);
        servers.down(Ipv4Addr::new(192, 168, 1, 3), at(20.0), at(80.0));
        let mut lab = Lab::new(&text, servers.answer());
        lab.run_until(at(200.0));
        lab.logs
    };
    assert_eq!(run(), run());
}

/// Every seed keepalived.conf with a `virtual_server` starts into the IPVS table its
/// tutorial sets up (fixtures from `scenarios/keepalived/`).
mod seeds {
    use super::*;

    fn table(text: &str) -> String {
        Lab::new(text, Servers::new(Down::Drop).answer()).ipvsadm()
    }

    #[test]
    fn seed000_dr_master() {
        let text = include_str!("seeds/seed000-dr-master.conf");
        let mut lab = Lab::new(text, Servers::new(Down::Drop).answer());
        assert_eq!(
            lab.ipvsadm(),
            format!(
                "{HEADER}TCP  10.15.62.208:19080 rr persistent 50\n  -> 10.15.107.74:19080           Route   1      0          0         \n  -> 10.15.144.71:19080           Route   1      0          0         \n"
            )
        );
        assert_eq!(
            lab.lines(),
            [
                "Gained quorum 1+0=1 <= 2 for VS [10.15.62.208]:tcp:19080",
                "Activating healthchecker for service [10.15.144.71]:tcp:19080 for VS [10.15.62.208]:tcp:19080",
                "Activating healthchecker for service [10.15.107.74]:tcp:19080 for VS [10.15.62.208]:tcp:19080",
                "Activating BFD healthchecker",
            ]
        );
    }

    #[test]
    fn seed002_lvs_dr_master_and_backup() {
        let want = format!(
            "{HEADER}TCP  192.168.31.100:80 wlc persistent 60\n  -> 192.168.31.21:80             Route   100    0          0         \n  -> 192.168.31.22:80             Route   100    0          0         \n"
        );
        assert_eq!(table(include_str!("seeds/seed002-lvs-dr-master.conf")), want);
        assert_eq!(table(include_str!("seeds/seed002-lvs-dr-backup.conf")), want);
    }

    #[test]
    fn seed002_vrrp_only_configs_add_nothing() {
        assert_eq!(table(include_str!("seeds/seed002-vrrp-master.conf")), HEADER);
        assert_eq!(table(include_str!("seeds/seed002-vrrp-backup.conf")), HEADER);
    }

    #[test]
    fn seed003_vrrp_lvs_nat() {
        assert_eq!(
            table(include_str!("seeds/seed003-vrrp-lvs-nat.conf")),
            format!(
                "{HEADER}TCP  10.10.10.3:1358 rr persistent 50\n  -> 192.168.200.4:1358           Masq    1      0          0         \n"
            )
        );
    }

    #[test]
    fn seed004_nat_virtual_server_address_is_invalid() {
        // `virtual_server 192.168.100 80`: keepalived refuses the address
        // ("Invalid virtual server IP address 192.168.100 - skipping"), so IPVS stays empty.
        assert_eq!(table(include_str!("seeds/seed004-nat-master.conf")), HEADER);
        assert_eq!(table(include_str!("seeds/seed004-nat-backup.conf")), HEADER);
    }
}

/// Seed 000 §8 (7): httpA on 10.15.107.74 is stopped, then restarted (the pages' digests
/// are those of the fake servers' page). keepalived 2.2 logs per-attempt errors only with
/// `log_all_failures`, and the failed URL must pass, then every URL, `delay_loop` apart.
#[test]
fn seed000_http_server_stopped_and_restarted() {
    let text = include_str!("seeds/seed000-dr-master.conf")
        .replace("6c5a188c7350d3dc28893615306286c5", INDEX_MD5)
        .replace("875ef20a0a68120069b87baaca624f12", INDEX_MD5);
    let servers = Servers::new(Down::Refuse);
    let rs = Ipv4Addr::new(10, 15, 107, 74);
    servers.down(rs, at(30.0), at(120.0));
    let mut lab = Lab::new(&text, servers.answer());
    lab.run_until(at(200.0));
    let mine: Vec<(Instant, String)> = lab.logs.iter().filter(|(_, l)| l.contains("10.15.107.74]")).cloned().collect();
    let lines: Vec<&str> = mine.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(
        lines,
        [
            "Activating healthchecker for service [10.15.107.74]:tcp:19080 for VS [10.15.62.208]:tcp:19080",
            "Remote Web server [10.15.107.74]:tcp:19080 succeed on service.",
            "HTTP_CHECK on service [10.15.107.74]:tcp:19080 failed after 3 retries.",
            "Removing service [10.15.107.74]:tcp:19080 from VS [10.15.62.208]:tcp:19080",
            "MD5 digest success to [10.15.107.74]:tcp:19080 url(/index.html)",
            "MD5 digest success to [10.15.107.74]:tcp:19080 url(/index.html)",
            "Remote Web server [10.15.107.74]:tcp:19080 succeed on service.",
            "Adding service [10.15.107.74]:tcp:19080 to VS [10.15.62.208]:tcp:19080",
        ]
    );
    // Four refused attempts 3 s apart after the last success: removed within 6 + 9 s of
    // the stop; re-added two delay_loops (6 s) after the restart at the latest.
    let removed = mine[3].0;
    assert!(removed > at(30.0) && removed <= at(45.0), "{removed}");
    let (back, added) = (mine[4].0, mine[7].0);
    assert!(back >= at(120.0) && back <= at(126.0), "{back}");
    assert_eq!(added, back + secs(6));
    assert!(lab.ipvsadm().contains("  -> 10.15.107.74:19080           Route   1"));
}

/// Reference §5 rs-failure-inhibit: a persistent service keeps a failed server listed at
/// weight 0 (its persistence templates can still send clients there).
#[test]
fn inhibit_with_persistence_keeps_the_failed_server_at_weight_0() {
    let text = tcp_vs("persistence_timeout 300\n    lb_kind DR", "inhibit_on_failure", "TCP_CHECK { warmup 0 }");
    let servers = Servers::new(Down::Drop);
    servers.down(Ipv4Addr::new(192, 168, 1, 3), at(2.0), Instant::MAX);
    let mut lab = Lab::new(&text, servers.answer());
    lab.run_until(at(80.0));
    assert_eq!(
        lab.ipvsadm(),
        format!(
            "{HEADER}TCP  10.0.0.1:80 rr persistent 300\n  -> 192.168.1.2:80               Route   1      0          0         \n  -> 192.168.1.3:80               Route   0      0          0         \n"
        )
    );
    assert!(lab.when("Disabling service [192.168.1.3]:tcp:80 of VS [10.0.0.1]:tcp:80").is_some());
}

/// An IPVS command that fails is logged as keepalived logs it, and the server keeps its
/// state (`perform_svr_state` returns early) so the next failure tries again.
#[test]
fn ipvs_errors_are_logged_and_leave_the_state_unchanged() {
    let text = tcp_vs("", "", "TCP_CHECK { warmup 0; retry 0 }");
    let servers = Servers::new(Down::Refuse);
    servers.down(Ipv4Addr::new(192, 168, 1, 2), at(2.0), Instant::MAX);
    let mut lab = Lab::new(&text, servers.answer());
    lab.run_until(at(30.0));
    let argv: Vec<String> = "ipvsadm -D -t 10.0.0.1:80".split(' ').map(String::from).collect();
    assert!(ipvsadm::ipvsadm(&mut lab.ipvs, lab.now, &argv, None).is_ok());
    lab.run_until(at(61.0));
    assert_eq!(
        lab.lines()[lab.lines().len() - 3..],
        [
            "TCP_CHECK on service [192.168.1.2]:tcp:80 failed.",
            "Removing service [192.168.1.2]:tcp:80 from VS [10.0.0.1]:tcp:80",
            "IPVS cmd IP_VS_SO_SET_DELDEST(1160) error: Service not defined(3) (10.0.0.1:tcp:80 -> 192.168.1.2:80)",
        ]
    );
    let s = lab.status("[192.168.1.2]:tcp:80");
    assert!(s.up && s.failed_checkers == 0);
    lab.run_until(at(121.0));
    assert_eq!(lab.lines().iter().filter(|l| l.starts_with("IPVS cmd")).count(), 2);
}

#[test]
fn a_configuration_without_virtual_servers_runs_no_checker_process() {
    let mut ipvs = Ipvs::new(rng::stream(1, "ipvs"));
    let argv: Vec<String> = "ipvsadm -A -t 1.1.1.1:1".split(' ').map(String::from).collect();
    assert!(ipvsadm::ipvsadm(&mut ipvs, Instant::ZERO, &argv, None).is_ok());
    let text =
        "global_defs {\n lvs_flush\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n}\n";
    let mut ck = Checkers::new(&cfg(text), Instant::ZERO, &mut ipvs, rng::stream(1, "c"), &[]);
    assert!(ck.drain_logs().is_empty());
    assert_eq!((ck.next_deadline(), ipvs.services(Instant::ZERO).len()), (None, 1));
    ck.stop(Instant::ZERO, &mut ipvs);
    assert_eq!(ipvs.services(Instant::ZERO).len(), 1);
}
