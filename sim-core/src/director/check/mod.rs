//! keepalived's LVS side as a pure, deterministic engine: the health checkers of the
//! checker process (`keepalived/check/`) and how they drive IPVS (reference §4).
//!
//! [`Checkers::new`] is the checker process's start-up (`start_check`): `lvs_flush`,
//! `lvs_timeouts`, every virtual server and its real servers added to [`Ipvs`] as
//! `init_services` adds them (alpha servers left out, inhibited ones at weight 0, the sorry
//! server when the quorum is down), then `register_checkers_thread` logs
//! `Activating healthchecker ...` and schedules each checker's first run at
//! 1 s + a random part of `warmup` (`BOOTSTRAP_DELAY + warmup * random() / RAND_MAX`).
//!
//! The machine runs the probes with its own stack: when a checker is due,
//! [`Checkers::on_timer`] hands a [`Probe`] to the [`Prober`]; the machine reports how it
//! ended with [`Checkers::on_result`] (a timed-out probe is reported at `start + timeout`).
//! Results change IPVS through `ipwrapper.c`'s rules (`ipvs_sync`) and produce
//! keepalived's log lines ([`Checkers::drain_logs`]). At one instant, a machine should
//! deliver results before running timers (as the test harness does).
//!
//! ```text
//! let mut ck = Checkers::new(&parsed.config, now, &mut ipvs, rng::stream(seed, "check:dir1"), &local_addrs);
//! loop {
//!     if ck.next_deadline() <= Some(now) { ck.on_timer(now, &mut prober) }
//!     for (id, result) in prober.finished(now) { ck.on_result(now, id, result, &mut ipvs) }
//!     for line in ck.drain_logs() { trace(line) }
//! }
//! ```
//!
//! # Timing (keepalived 2.2 `check_tcp.c`, `check_http.c`, `check_misc.c`, `check_udp.c`,
//! `check_ping.c`)
//! - A checker starts "up" with its retry counter full (`validate_check_config`:
//!   `retry_it = retry`), so the first failure before any success brings the server down
//!   at once; after a success, `retry` failed retries `delay_before_retry` apart are needed:
//!   detection takes `(R+1)·T + R·D` from the first failing attempt (§4.3).
//! - The next run is `delay_loop` after the end of an attempt; MISC_CHECK counts from the
//!   script's start (`last_ran`).
//! - TCP_CHECK keeps retrying at `delay_before_retry` even while down
//!   (`tcp_epilog` has no up test); UDP/PING wait `delay_loop` once down.
//! - HTTP_GET/SSL_GET check one URL per `delay_loop`; a failing URL is retried at
//!   `delay_before_retry`; once down only that URL is tried, every
//!   `max(delay_before_retry, delay_loop)`, and when it passes all URLs must pass again,
//!   `delay_loop` apart (at once with `fast_recovery`).
//!
//! # Version
//! Log wording is keepalived 2.2.4+'s (Ubuntu 22.04), which later 2.x keep. Deltas for
//! older releases, not reproduced: 2.0.0-2.2.3 wrote `Removing service X to VS Y` (every
//! verb with "to"); before 2.1 HTTP successes read `HTTP status code success to X url(1).`
//! (URL number, trailing period); 1.x formatted servers as `[IP]:port`, wrote
//! `Activating healthchecker for service [IP]:port`, `Check on service X failed after N
//! retry.`, and logged per-attempt errors (`Error connecting server X.`, seed 000) without
//! `log_all_failures`; their retry counting differs too.
//!
//! # Not modelled (documented deviations)
//! - Notify scripts (`notify_up`/`notify_down`, `quorum_up`/`quorum_down`), the notify FIFO,
//!   SMTP alerts and SNMP traps: keepalived 2.2 logs nothing for them.
//! - SMTP_CHECK and DNS_CHECK are activated but never probe (their real server follows its
//!   other checkers); FILE_CHECK and BFD_CHECK are ignored; SCTP and IPv6 virtual servers
//!   are not added ([`Checkers::notes`] lists what a configuration loses).
//! - `ha_suspend` on a `virtual_server group` never activates (as in keepalived, whose
//!   `addr_matches` does not look at groups).
//! - Reload (SIGHUP), `s_svr_duplicates_rs`, track files, the `regex` of HTTP urls, the
//!   checker's SO_MARK, and a checker's destination port taken from the real server as
//!   written (keepalived copies it before `validate_check_config` fixes the port; the final
//!   port is used here).

mod http;
mod ipvs_sync;
mod misc;
mod ping;
mod setup;
mod tcp;
mod udp;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use crate::director::ipvs::Ipvs;
use crate::director::keepalived::{KeepalivedConfig, LvsFlushOnStop, Script};
use crate::rng::{Rng, Stream};
use crate::time::{Duration, Instant};
use ipvs_sync::{CheckerState, GroupCounts, Io, VirtualServer};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

/// `BOOTSTRAP_DELAY`: a checker's first run is at least this long after start-up.
const BOOTSTRAP_DELAY: Duration = Duration::from_secs(1);

/// Names one probe the engine asked for; the machine echoes it in its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProbeId(pub u64);

/// One check attempt for the machine to run with its own stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// TCP_CHECK: connect, then close (`tcp_connect_thread`).
    Tcp { dst: SocketAddrV4, bind: Option<SocketAddrV4>, timeout: Duration },
    /// HTTP_GET / SSL_GET: connect (TLS for `ssl`), send `request` exactly, read the
    /// response. `timeout` applies to each stage (connect, write, each read).
    Http { dst: SocketAddrV4, bind: Option<SocketAddrV4>, ssl: bool, path: String, request: String, timeout: Duration },
    /// PING_CHECK: one ICMP echo request, wait for the reply.
    Ping { dst: Ipv4Addr, bind: Option<Ipv4Addr>, timeout: Duration },
    /// UDP_CHECK: send `payload` (possibly empty) and wait for an ICMP error or a reply.
    Udp { dst: SocketAddrV4, bind: Option<SocketAddrV4>, payload: Vec<u8>, timeout: Duration },
    /// MISC_CHECK: run the script; after `timeout` keepalived sends SIGTERM (SIGKILL 2 s later).
    Misc { script: Script, timeout: Duration },
}

/// How a probe ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult {
    /// TCP: the connection was established.
    Connected,
    /// A RST to the SYN, or (UDP, ICMP) an ICMP port-unreachable error.
    Refused,
    /// An ICMP host/net-unreachable error, or no route.
    Unreachable,
    /// Nothing within the timeout (connect; UDP/ICMP reply).
    TimedOut,
    /// HTTP: a complete header; `body` is everything received after it.
    Http { status: u16, content_length: Option<usize>, body: Vec<u8> },
    /// HTTP: connected, but the response did not come within the timeout.
    ReadTimedOut,
    /// HTTP: the server closed the connection before a complete header.
    HttpEmpty,
    /// SSL_GET: the TLS handshake failed.
    SslError,
    /// UDP: a reply datagram; ICMP: an echo reply.
    Reply(Vec<u8>),
    /// MISC_CHECK: the script exited with this status.
    Exited(i32),
    /// MISC_CHECK: the script was killed by this signal (not by keepalived's timeout).
    Signaled(i32),
    /// MISC_CHECK: keepalived killed the script at its timeout.
    ScriptTimedOut,
}

/// The machine's side: runs probes and later reports them with [`Checkers::on_result`].
pub trait Prober {
    fn start(&mut self, now: Instant, id: ProbeId, probe: Probe);
}

/// One real server (or sorry server) as keepalived sees it, for reports and `show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServerStatus {
    /// `FMT_VS`: `[10.0.0.1]:tcp:80`, `FWM 1`, `[GROUP]:0`.
    pub vs: String,
    /// `FMT_RS`: `[192.168.1.2]:tcp:80`.
    pub rs: String,
    pub addr: SocketAddrV4,
    pub sorry_server: bool,
    /// keepalived's `alive` (for a sorry server: in use).
    pub up: bool,
    /// The weight IPVS gets while it is up.
    pub weight: i32,
    /// In the IPVS table (with `inhibit_on_failure`, also while down, at weight 0).
    pub in_ipvs: bool,
    pub failed_checkers: u32,
}

/// What every checker kind keeps (`checker_t`).
#[derive(Debug, Clone)]
struct Common {
    pub st: CheckerState,
    pub vs: usize,
    pub enabled: bool,
    pub retry: u32,
    pub retry_it: u32,
    pub delay_loop: Duration,
    pub delay_before_retry: Duration,
    pub warmup: Duration,
    /// `connect_timeout` (`co->connection_to`).
    pub timeout: Duration,
    /// `log_all_failures` or the global `checker_log_all_failures`.
    pub log_all_failures: bool,
}

/// Where a checker's epilog runs: the IPVS side and its virtual server.
struct Cx<'a> {
    pub io: Io<'a>,
    pub vs: &'a mut VirtualServer,
}

impl Cx<'_> {
    pub fn now(&self) -> Instant {
        self.io.now
    }

    pub fn log(&mut self, line: String) {
        self.io.log(line);
    }

    /// `FMT_CHK`: the checker's real server.
    pub fn rs_name(&self, c: &Common) -> String {
        self.vs.rs.get(c.st.rs).map(|r| r.name.clone()).unwrap_or_default()
    }

    pub fn vs_name(&self) -> String {
        self.vs.name.clone()
    }

    /// `update_svr_checker_state`.
    pub fn update(&mut self, c: &mut Common, alive: bool) {
        ipvs_sync::update_svr_checker_state(&mut self.io, self.vs, &mut c.st, alive);
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Tcp(tcp::TcpCheck),
    Http(Box<http::HttpCheck>),
    Misc(misc::MiscCheck),
    Ping(ping::PingCheck),
    Udp(udp::UdpCheck),
    /// SMTP_CHECK, DNS_CHECK: activated, never run.
    Idle,
}

#[derive(Debug, Clone)]
struct Checker {
    c: Common,
    kind: Kind,
}

/// keepalived's checker process for one director.
#[derive(Debug)]
pub struct Checkers {
    vss: Vec<VirtualServer>,
    checkers: Vec<Checker>,
    /// Timers: (deadline, scheduling order, checker); FIFO among equal deadlines.
    queue: BTreeSet<(Instant, u64, usize)>,
    seq: u64,
    in_flight: BTreeMap<ProbeId, usize>,
    next_probe: u64,
    counts: GroupCounts,
    logs: Vec<String>,
    flush_on_stop: LvsFlushOnStop,
    /// IPVS timeouts before `lvs_timeouts` changed them (`ipvs_stop` restores them).
    saved_timeouts: Option<(u32, u32, u32)>,
    notes: Vec<String>,
    stopped: bool,
}

impl Checkers {
    /// keepalived's checker start-up (`start_check`): `lvs_flush`, `lvs_timeouts`,
    /// `init_services`, then `register_checkers_thread` (ending with `Activating BFD
    /// healthchecker`, as distribution builds, compiled with BFD, log). `rng` draws the
    /// warmup delays; `local_addrs` are the machine's addresses at start (for `ha_suspend`).
    /// Without a usable virtual server keepalived runs no checker process: the engine is idle.
    pub fn new(
        cfg: &KeepalivedConfig,
        now: Instant,
        ipvs: &mut Ipvs,
        mut rng: Stream,
        local_addrs: &[Ipv4Addr],
    ) -> Self {
        let built = setup::build(cfg);
        let idle = built.vss.is_empty();
        let mut ck = Checkers {
            vss: built.vss,
            checkers: built.checkers,
            queue: BTreeSet::new(),
            seq: 0,
            in_flight: BTreeMap::new(),
            next_probe: 0,
            counts: GroupCounts::new(),
            logs: Vec::new(),
            flush_on_stop: cfg.global.lvs_flush_on_stop,
            saved_timeouts: None,
            notes: built.notes,
            stopped: false,
        };
        if idle {
            return ck;
        }
        for vs in &mut ck.vss {
            vs.set_quorum_state();
            if vs.ha_suspend
                && let Some(vip) = vs.vip
            {
                vs.ha_suspend_addr_count = local_addrs.iter().filter(|a| **a == vip).count() as u32;
            }
        }
        if cfg.global.lvs_flush {
            ipvs.flush(now);
        }
        let t = cfg.global.lvs_timeouts;
        if t.tcp.is_some() || t.tcpfin.is_some() || t.udp.is_some() {
            ck.saved_timeouts = Some(ipvs.timeouts());
            ipvs.set_timeouts(t.tcp.unwrap_or(0), t.tcpfin.unwrap_or(0), t.udp.unwrap_or(0));
        }
        {
            let mut io = Io { now, ipvs, logs: &mut ck.logs, counts: &mut ck.counts };
            for vs in &mut ck.vss {
                vs.init_service_vs(&mut io);
            }
        }
        for i in 0..ck.checkers.len() {
            let vs = &ck.vss[ck.checkers[i].c.vs];
            let ch = &mut ck.checkers[i];
            if vs.ha_suspend && vs.ha_suspend_addr_count == 0 {
                ch.c.enabled = false;
            }
            let rs = vs.rs.get(ch.c.st.rs).map_or("", |r| r.name.as_str());
            let a = if ch.c.enabled { "A" } else { "Dea" };
            ck.logs.push(format!("{a}ctivating healthchecker for service {rs} for VS {}", vs.name));
            if matches!(ch.kind, Kind::Idle) {
                continue;
            }
            let warmup = warmup_delay(&mut rng, ch.c.warmup);
            ck.schedule(now + BOOTSTRAP_DELAY + warmup, i);
        }
        ck.logs.push("Activating BFD healthchecker".to_string());
        ck
    }

    fn schedule(&mut self, at: Instant, idx: usize) {
        self.queue.insert((at, self.seq, idx));
        self.seq += 1;
    }

    /// The earliest instant at which [`Checkers::on_timer`] has a checker to run.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queue.first().map(|e| e.0)
    }

    /// Runs every checker due at or before `now`, each at its own deadline: a suspended
    /// checker waits another `delay_loop`; the others start a probe through `prober`.
    pub fn on_timer(&mut self, now: Instant, prober: &mut dyn Prober) {
        while let Some(&(at, seq, idx)) = self.queue.first() {
            if at > now {
                break;
            }
            self.queue.remove(&(at, seq, idx));
            let Some(ch) = self.checkers.get_mut(idx) else { continue };
            if !ch.c.enabled {
                let next = at + ch.c.delay_loop;
                self.schedule(next, idx);
                continue;
            }
            let probe = match &mut ch.kind {
                Kind::Tcp(k) => k.probe(&ch.c),
                Kind::Http(k) => k.probe(&ch.c),
                Kind::Misc(k) => k.probe(at),
                Kind::Ping(k) => k.probe(&ch.c),
                Kind::Udp(k) => k.probe(&ch.c),
                Kind::Idle => continue,
            };
            let id = ProbeId(self.next_probe);
            self.next_probe += 1;
            self.in_flight.insert(id, idx);
            prober.start(at, id, probe);
        }
    }

    /// A probe ended: the checker's epilog runs (IPVS may change) and its next run is
    /// scheduled. Unknown or stale ids, and anything after [`Checkers::stop`], are ignored.
    pub fn on_result(&mut self, now: Instant, id: ProbeId, result: ProbeResult, ipvs: &mut Ipvs) {
        let Some(idx) = self.in_flight.remove(&id) else { return };
        let Some(ch) = self.checkers.get_mut(idx) else { return };
        let Some(vs) = self.vss.get_mut(ch.c.vs) else { return };
        let io = Io { now, ipvs, logs: &mut self.logs, counts: &mut self.counts };
        let mut cx = Cx { io, vs };
        let next = match &mut ch.kind {
            Kind::Tcp(k) => k.on_result(&mut ch.c, &result, &mut cx),
            Kind::Http(k) => k.on_result(&mut ch.c, &result, &mut cx),
            Kind::Misc(k) => k.on_result(&mut ch.c, &result, &mut cx),
            Kind::Ping(k) => k.on_result(&mut ch.c, &result, &mut cx),
            Kind::Udp(k) => k.on_result(&mut ch.c, &result, &mut cx),
            Kind::Idle => return,
        };
        self.schedule(next, idx);
    }

    /// An address was added to or removed from the machine (`update_checker_activity`):
    /// checkers of an `ha_suspend` virtual server on that address are activated or suspended.
    pub fn on_address(&mut self, addr: Ipv4Addr, added: bool) {
        for (v, vs) in self.vss.iter_mut().enumerate() {
            if !vs.ha_suspend || vs.vip != Some(addr) {
                continue;
            }
            if added {
                vs.ha_suspend_addr_count += 1;
            } else {
                vs.ha_suspend_addr_count = vs.ha_suspend_addr_count.saturating_sub(1);
            }
            for ch in self.checkers.iter_mut().filter(|c| c.c.vs == v) {
                if added != ch.c.enabled && (added || vs.ha_suspend_addr_count == 0) {
                    let what = if ch.c.enabled { "Suspend" } else { "Activat" };
                    let rs = vs.rs.get(ch.c.st.rs).map_or("", |r| r.name.as_str());
                    self.logs.push(format!("{what}ing healthchecker for service {rs} for VS {}", vs.name));
                    ch.c.enabled = added;
                }
            }
        }
    }

    /// keepalived's shutdown (`clear_services`): by default each real server and virtual
    /// server it added is removed (`Shutting down service ...`); `lvs_flush_on_stop VS`
    /// removes the virtual servers, `lvs_flush_on_stop` flushes IPVS. `lvs_timeouts` are
    /// restored. The engine is inert afterwards.
    pub fn stop(&mut self, now: Instant, ipvs: &mut Ipvs) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.queue.clear();
        self.in_flight.clear();
        let mut io = Io { now, ipvs, logs: &mut self.logs, counts: &mut self.counts };
        ipvs_sync::clear_services(&mut io, &mut self.vss, self.flush_on_stop);
        if let Some((tcp, tcpfin, udp)) = self.saved_timeouts.take() {
            ipvs.set_timeouts(tcp, tcpfin, udp);
        }
    }

    /// keepalived's log lines since the last call, exactly, in order.
    pub fn drain_logs(&mut self) -> Vec<String> {
        std::mem::take(&mut self.logs)
    }

    /// Every real server, then the sorry server, of each virtual server, in configuration order.
    pub fn status(&self) -> Vec<RealServerStatus> {
        let mut out = Vec::new();
        for vs in &self.vss {
            let sorry = vs.sorry.iter().map(|s| (s, true));
            for (s, is_sorry) in vs.rs.iter().map(|r| (r, false)).chain(sorry) {
                out.push(RealServerStatus {
                    vs: vs.name.clone(),
                    rs: s.name.clone(),
                    addr: SocketAddrV4::new(s.addr, s.port),
                    sorry_server: is_sorry,
                    up: s.alive,
                    weight: ipvs_sync::real_weight(s.effective_weight),
                    in_ipvs: s.set,
                    failed_checkers: s.num_failed_checkers,
                });
            }
        }
        out
    }

    /// What this configuration asks for that the lab does not model (one line each).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// `warmup * random() / RAND_MAX`, in keepalived's microseconds.
/// What a retrying checker's epilog logs.
enum Said {
    Success,
    FailedAfterRetries,
    Failed,
}

/// `icmp_epilog` / `udp_epilog` (check_ping.c, check_udp.c): retries only while up;
/// once down, a failure waits `delay_loop`. `say` words each log line for the
/// real server's name.
fn retry_epilog(c: &mut Common, ok: bool, cx: &mut Cx, say: impl Fn(Said, &str, &Cx) -> String) -> Instant {
    let mut delay = c.delay_loop;
    if ok || ((c.st.is_up || !c.st.has_run) && c.retry_it >= c.retry) {
        c.retry_it = 0;
        let rs = cx.rs_name(c);
        if ok && (!c.st.is_up || !c.st.has_run) {
            let line = say(Said::Success, &rs, cx);
            cx.log(line);
            cx.update(c, true);
        } else if !ok && (c.st.is_up || !c.st.has_run) {
            let said = if c.retry > 0 && c.st.has_run { Said::FailedAfterRetries } else { Said::Failed };
            let line = say(said, &rs, cx);
            cx.log(line);
            cx.update(c, false);
        }
    } else if c.st.is_up {
        delay = c.delay_before_retry;
        c.retry_it += 1;
    }
    c.st.has_run = true;
    cx.now() + delay
}

fn warmup_delay(rng: &mut Stream, warmup: Duration) -> Duration {
    let us = u128::from(u64::try_from(warmup.as_micros()).unwrap_or(u64::MAX));
    if us == 0 {
        return Duration::ZERO;
    }
    const RAND_MAX: u128 = (1 << 31) - 1;
    let r = u128::from(rng.next_u32() >> 1);
    Duration::from_micros(u64::try_from(us * r / RAND_MAX).unwrap_or(u64::MAX))
}
