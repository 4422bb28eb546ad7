//! The machines of a scenario. Every machine is the same thing a Linux box is: a
//! kernel network stack ([`crate::stack`]), the programs running on it
//! ([`apps`]), a small filesystem, and — once `ipvsadm` or `keepalived` is used on
//! it — the director modules ([`crate::director`]) plugged into the stack's hooks.
//! Commands typed at it go through the shell ([`crate::shell`]) and [`cmd`].

pub mod apps;
mod cmd;
mod director;
mod probe;
pub mod show;

use crate::node::{CmdError, Node, Outbox, PortId, PortInfo};
use crate::report::{NodeReport, Outcome, RequestRecord};
use crate::rng::{self, Rng, Stream};
use crate::shell::{Command, ShellEnv, Site, run_named_script};
use crate::stack::tcp::TcpEvent;
use crate::stack::udp::UdpSock;
use crate::stack::{Hk, Stack};
use crate::time::{Duration, Instant, earliest};
use crate::wire::MacAddr;
use apps::{AppSpec, AppState, Request, event_sock, outcome_of, request_complete, response_body};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

pub use cmd::classful_prefix;
pub use director::DirectorState;

/// A setup script and where it was written, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupScript {
    /// `scenario.toml` or the file the script came from.
    pub origin: String,
    /// Line of `origin` where the script's first line is (1-based).
    pub first_line: usize,
    pub text: String,
    /// `$1`... (e.g. `start` for the tutorials' `case "$1" in start)` scripts).
    pub args: Vec<String>,
}

/// Everything needed to build (and reboot) a machine.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineSpec {
    pub name: String,
    pub nics: Vec<(String, MacAddr)>,
    pub apps: Vec<AppSpec>,
    pub files: BTreeMap<String, String>,
    pub setup: Vec<SetupScript>,
    /// Exit status of each `vrrp_script` by its script text (what the scenario says
    /// the check would return), default 0.
    pub script_results: BTreeMap<String, i32>,
    /// Which keepalived release runs on the machine (its VRRP version profile).
    pub keepalived_version: crate::director::vrrp::KeepalivedVersion,
}

/// An app and whether it is running.
#[derive(Debug)]
pub struct RunningApp {
    pub spec: AppSpec,
    pub state: AppState,
    pub running: bool,
}

/// A simulated Linux machine.
pub struct Machine {
    pub name: String,
    pub stack: Stack,
    pub apps: Vec<RunningApp>,
    pub files: BTreeMap<String, String>,
    /// Frames a command scheduled for later (`arping -c 5`).
    scheduled_frames: Vec<(Instant, PortId, Vec<u8>)>,
    director: DirectorState,
    /// keepalived's health checks in flight.
    probes: probe::ProbeTable,
    rng: Stream,
    script_results: BTreeMap<String, i32>,
    keepalived_version: crate::director::vrrp::KeepalivedVersion,
    /// Reused buffer for the UDP sockets [`Machine::pump`] serves.
    udp_ready: Vec<UdpSock>,
}

/// The shell's view of a machine for one command or script.
struct Env<'a> {
    m: &'a mut Machine,
    now: Instant,
    out: &'a mut Outbox,
}

impl ShellEnv for Env<'_> {
    fn run(&mut self, cmd: &Command, site: Site<'_>) -> Result<String, CmdError> {
        let text = site.text.to_string();
        self.out.note("-", "cmd", || text);
        let r = self.m.apply(self.now, cmd, self.out);
        self.m.pump(self.now, self.out);
        r
    }
    fn read_file(&self, path: &str) -> Option<String> {
        self.m.files.get(path).cloned()
    }
    fn write_file(&mut self, path: &str, text: &str, append: bool) -> Result<(), CmdError> {
        crate::shell::write_mem_file(&mut self.m.files, path, text, append);
        Ok(())
    }
    fn remove_file(&mut self, path: &str) -> bool {
        self.m.files.remove(path).is_some()
    }
}

impl Machine {
    /// Builds the machine and runs its setup at `now` (time 0, or the boot time).
    pub fn boot(spec: &MachineSpec, seed: u64, now: Instant, out: &mut Outbox) -> Result<Machine, String> {
        let mut rng = rng::stream(seed, &format!("host:{}", spec.name));
        let stack = Stack::new(&spec.name, &spec.nics, rng::stream(rng.next_u64(), "stack"));
        let mut files = spec.files.clone();
        files.entry("/etc/sysctl.conf".into()).or_default();
        let mut m = Machine {
            name: spec.name.clone(),
            stack,
            apps: spec
                .apps
                .iter()
                .map(|s| RunningApp { spec: s.clone(), state: AppState::new(s), running: false })
                .collect(),
            files,
            scheduled_frames: vec![],
            director: DirectorState::default(),
            probes: probe::ProbeTable::new(),
            rng,
            script_results: spec.script_results.clone(),
            keepalived_version: spec.keepalived_version,
            udp_ready: Vec::new(),
        };
        m.sync_tcp_conf();
        for s in &spec.setup {
            let mut env = Env { m: &mut m, now, out };
            run_named_script(&s.origin, &s.text, &s.args, &mut env).map_err(|e| {
                let line = s.first_line + e.line.saturating_sub(1);
                format!("{}:{line}: `{}`: {}", s.origin, e.command, e.message)
            })?;
        }
        for i in 0..m.apps.len() {
            if !app_starts_stopped(&m.apps[i].spec) {
                m.start_app(now, i, out);
            }
        }
        m.pump(now, out);
        Ok(m)
    }

    fn hk(&mut self) -> (Hk<'_>, &mut Stack) {
        let Machine { stack, director, .. } = self;
        (Hk(director.hooked()), stack)
    }

    /// Runs apps on everything the stack delivered, until nothing is left.
    fn pump(&mut self, now: Instant, out: &mut Outbox) {
        for _ in 0..10_000 {
            if self.stack.idle() {
                break;
            }
            {
                let (mut hk, stack) = self.hk();
                stack.flush_tcp(now, &mut hk, out);
                stack.flush_backlog(now, &mut hk, out);
            }
            let events: Vec<TcpEvent> =
                if self.stack.tcp.has_events() { self.stack.tcp.poll_events().collect() } else { Vec::new() };
            let mut readable = std::mem::take(&mut self.udp_ready);
            self.stack.udp.take_readable(&mut readable);
            let vrrp_rx = self.director_pump(now, out);
            if events.is_empty() && readable.is_empty() && !vrrp_rx {
                self.udp_ready = readable;
                break;
            }
            let mut results = vec![];
            for e in events {
                if !self.probe_tcp_event(now, &e, &mut results) {
                    self.tcp_event(now, e, out);
                }
            }
            for &s in &readable {
                if !self.probe_udp(s, &mut results) {
                    self.udp_readable(now, s, out);
                }
            }
            readable.clear();
            self.udp_ready = readable;
            self.probe_pings(&mut results);
            self.deliver_probe_results(now, results, out);
        }
    }

    /// `systemctl start NAME`.
    pub(crate) fn start_app(&mut self, now: Instant, i: usize, out: &mut Outbox) {
        if self.apps[i].running {
            return;
        }
        let range = self.stack.sysctl.globals.ip_local_port_range;
        let name = self.apps[i].spec.name().to_string();
        let app = &mut self.apps[i];
        let ok = match (&app.spec, &mut app.state) {
            (AppSpec::HttpServer { port, addr, .. }, AppState::HttpServer { listener, .. }) => {
                match self.stack.tcp.listen(*addr, *port) {
                    Ok(id) => {
                        *listener = Some(id);
                        true
                    }
                    Err(e) => {
                        out.note("-", "app", || format!("{name}: cannot listen on port {port}: {e}"));
                        false
                    }
                }
            }
            (AppSpec::UdpServer { port, .. }, AppState::UdpServer { sock })
            | (AppSpec::EchoServer { port, .. }, AppState::EchoServer { sock }) => {
                *sock = self.stack.udp.bind(None, *port, range);
                sock.is_some()
            }
            (AppSpec::EchoClient { start, .. }, AppState::EchoClient { sock, next_round, .. }) => {
                *sock = self.stack.udp.bind(None, 0, range);
                *next_round = now.max(Instant::ZERO + *start);
                sock.is_some()
            }
            (AppSpec::Client { .. }, _) => true,
            _ => false,
        };
        app.running = ok;
        if ok {
            out.note("-", "app", || format!("{name} started"));
        }
        self.pump(now, out);
    }

    /// `systemctl stop NAME`: the process exits, so its sockets close — listeners
    /// go away (later SYNs get RST) and open connections send FIN.
    pub(crate) fn stop_app(&mut self, now: Instant, i: usize, out: &mut Outbox) {
        if !self.apps[i].running {
            return;
        }
        self.apps[i].running = false;
        let name = self.apps[i].spec.name().to_string();
        match &mut self.apps[i].state {
            AppState::HttpServer { listener, conns, .. } => {
                if let Some(l) = listener.take() {
                    self.stack.tcp.close_listener(l);
                }
                for (c, _, _) in conns.drain(..) {
                    self.stack.tcp.close(now, c);
                }
            }
            AppState::UdpServer { sock } | AppState::EchoServer { sock } | AppState::EchoClient { sock, .. } => {
                if let Some(s) = sock.take() {
                    self.stack.udp.close(s);
                }
            }
            AppState::Client { .. } => {}
        }
        out.note("-", "app", || format!("{name} stopped"));
        self.pump(now, out);
    }

    fn tcp_event(&mut self, now: Instant, e: TcpEvent, out: &mut Outbox) {
        let id = event_sock(&e);
        let Some(i) = self.apps.iter().position(|a| a.state.owns_tcp(id)) else { return };
        let name = self.apps[i].spec.name().to_string();
        let app = &mut self.apps[i];
        match &mut app.state {
            AppState::HttpServer { conns, page, .. } => match e {
                TcpEvent::Accepted { id: c, .. } => conns.push((c, vec![], false)),
                TcpEvent::Data(c, data) => {
                    if let Some(conn) = conns.iter_mut().find(|x| x.0 == c) {
                        conn.1.extend_from_slice(&data);
                        if !conn.2 && request_complete(&conn.1) {
                            conn.2 = true;
                            let line =
                                String::from_utf8_lossy(conn.1.split(|b| *b == b'\r').next().unwrap_or_default())
                                    .into_owned();
                            self.stack.tcp.send(now, c, page);
                            self.stack.tcp.close(now, c);
                            out.note("-", "app", || format!("{name}: {line} -> 200"));
                        }
                    }
                }
                TcpEvent::PeerClosed(c) => {
                    if conns.iter().any(|x| x.0 == c && !x.2) {
                        self.stack.tcp.close(now, c);
                    }
                }
                TcpEvent::Closed(c, _) => conns.retain(|x| x.0 != c),
                TcpEvent::Connected(_) => {}
            },
            AppState::Client { requests, .. } => {
                let AppSpec::Client { path, size, to, .. } = &app.spec else { return };
                let Some(r) = requests.iter_mut().find(|r| r.sock == Some(id) && !r.done) else { return };
                match e {
                    TcpEvent::Connected(_) => {
                        let req = apps::http_request(path, *to, *size);
                        self.stack.tcp.send(now, id, &req);
                    }
                    TcpEvent::Data(_, d) => r.rx.extend_from_slice(&d),
                    TcpEvent::PeerClosed(_) => {
                        let body = response_body(&r.rx);
                        finish(r, now, if body.is_some() { Outcome::Ok } else { Outcome::Reset }, body, &name, out);
                        self.stack.tcp.close(now, id);
                    }
                    TcpEvent::Closed(_, why) => {
                        let body = response_body(&r.rx);
                        let outcome = if body.is_some() { Outcome::Ok } else { outcome_of(why) };
                        finish(r, now, outcome, body, &name, out);
                    }
                    TcpEvent::Accepted { .. } => {}
                }
            }
            _ => {}
        }
    }

    fn udp_readable(&mut self, now: Instant, s: UdpSock, out: &mut Outbox) {
        let Some(i) = self.apps.iter().position(|a| a.state.owns_udp(s)) else {
            while self.stack.udp.recv(s).is_some() {}
            return;
        };
        if matches!(self.apps[i].state, AppState::EchoServer { .. }) {
            // Each datagram straight back to its sender.
            let (mut hk, stack) = self.hk();
            while let Some(d) = stack.udp.recv(s) {
                let _ = stack.udp_send(now, s, d.from, &d.payload, &mut hk, out);
                stack.udp.recycle(d.payload);
            }
            return;
        }
        let mut replies: Vec<(SocketAddrV4, Vec<u8>)> = vec![];
        let app = &mut self.apps[i];
        match (&app.spec, &mut app.state) {
            (AppSpec::UdpServer { body, .. }, AppState::UdpServer { .. }) => {
                while let Some(d) = self.stack.udp.recv(s) {
                    replies.push((d.from, body.clone().into_bytes()));
                }
            }
            (AppSpec::EchoClient { .. }, AppState::EchoClient { received, rtt_sum_ns, .. }) => {
                while let Some(d) = self.stack.udp.recv(s) {
                    *received += 1;
                    if d.payload.len() >= 8 {
                        let sent = u64::from_be_bytes(d.payload[..8].try_into().expect("8 bytes"));
                        *rtt_sum_ns += u128::from(now.nanos().saturating_sub(sent));
                    }
                    self.stack.udp.recycle(d.payload);
                }
            }
            (spec @ AppSpec::Client { .. }, AppState::Client { requests, .. }) => {
                let name = spec.name();
                while let Some(d) = self.stack.udp.recv(s) {
                    if let Some(r) = requests.iter_mut().find(|r| r.udp == Some(s) && !r.done) {
                        let body = String::from_utf8_lossy(&d.payload).into_owned();
                        finish(r, now, Outcome::Ok, Some(body), name, out);
                    }
                }
                while let Some(e) = self.stack.udp.take_error(s) {
                    if let Some(r) = requests.iter_mut().find(|r| r.udp == Some(s) && !r.done) {
                        let o = if e.typ == 3 && e.code == 3 { Outcome::Refused } else { Outcome::Unreachable };
                        finish(r, now, o, None, name, out);
                    }
                }
                if requests.iter().all(|r| r.udp != Some(s) || r.done) {
                    self.stack.udp.close(s);
                }
            }
            _ => while self.stack.udp.recv(s).is_some() {},
        }
        let (mut hk, stack) = self.hk();
        for (to, payload) in replies {
            let _ = stack.udp_send(now, s, to, &payload, &mut hk, out);
        }
    }

    /// The apps' next timer: a client's next request or a request's timeout.
    fn apps_deadline(&self) -> Option<Instant> {
        let mut d: Option<Instant> = None;
        let mut at = |t: Instant| d = Some(d.map_or(t, |x| x.min(t)));
        for a in self.apps.iter().filter(|a| a.running) {
            match (&a.spec, &a.state) {
                (AppSpec::Client { count, start, interval, .. }, AppState::Client { next, requests }) => {
                    if next < count {
                        at(Instant::ZERO + *start + *interval * *next);
                    }
                    for r in requests.iter().filter(|r| !r.done) {
                        at(r.deadline);
                    }
                }
                (AppSpec::EchoClient { total, .. }, AppState::EchoClient { sent, next_round, .. }) if sent < total => {
                    at(*next_round)
                }
                _ => {}
            }
        }
        d
    }

    fn apps_timer(&mut self, now: Instant, out: &mut Outbox) {
        for i in 0..self.apps.len() {
            if !self.apps[i].running {
                continue;
            }
            match self.apps[i].spec {
                AppSpec::EchoClient { .. } => self.echo_round(now, i, out),
                AppSpec::Client { .. } => self.client_timer(now, i, out),
                _ => {}
            }
        }
    }

    /// A client's timeouts (curl --max-time), then the requests that are due.
    fn client_timer(&mut self, now: Instant, i: usize, out: &mut Outbox) {
        let AppSpec::Client { name, proto, to, count, start, interval, timeout, .. } = self.apps[i].spec.clone() else {
            return;
        };
        let mut aborts = vec![];
        let mut closes = vec![];
        if let AppState::Client { requests, .. } = &mut self.apps[i].state {
            for r in requests.iter_mut().filter(|r| !r.done && r.deadline <= now) {
                finish(r, now, Outcome::Timeout, None, &name, out);
                aborts.extend(r.sock);
                closes.extend(r.udp);
            }
        }
        for s in aborts {
            self.stack.tcp.abort(now, s);
        }
        for s in closes {
            self.stack.udp.close(s);
        }
        while let AppState::Client { next, .. } = &self.apps[i].state {
            let n = *next;
            if n >= count || Instant::ZERO + start + interval * n > now {
                break;
            }
            self.client_request(now, i, n, &name, &proto, to, timeout, out);
        }
    }

    /// An echo client's round, when due: one request to each server.
    fn echo_round(&mut self, now: Instant, i: usize, out: &mut Outbox) {
        let Machine { apps, stack, director, .. } = self;
        let app = &mut apps[i];
        let (
            AppSpec::EchoClient { servers, port, interval, total, size, .. },
            AppState::EchoClient { sock: Some(s), sent, next_round, .. },
        ) = (&app.spec, &mut app.state)
        else {
            return;
        };
        if *sent >= *total || *next_round > now {
            return;
        }
        let mut payload = vec![0u8; (*size).max(8)];
        payload[..8].copy_from_slice(&now.nanos().to_be_bytes());
        let n = (*total - *sent).min(servers.len() as u64) as usize;
        *sent += n as u64;
        *next_round = now + *interval;
        let mut hk = Hk(director.hooked());
        for srv in &servers[..n] {
            let _ = stack.udp_send(now, *s, SocketAddrV4::new(*srv, *port), &payload, &mut hk, out);
        }
    }

    fn client_request(
        &mut self,
        now: Instant,
        i: usize,
        n: u32,
        name: &str,
        proto: &str,
        to: SocketAddrV4,
        timeout: Duration,
        out: &mut Outbox,
    ) {
        let route = self.stack.route_output(*to.ip());
        let mut rec = RequestRecord {
            client: format!("{}/{}", self.name, name),
            seq: n,
            proto: proto.to_string(),
            start_ns: now.nanos(),
            end_ns: None,
            outcome: Outcome::Pending,
            body: None,
            src: String::new(),
            dst: to.to_string(),
        };
        let mut req =
            Request { record: rec.clone(), sock: None, udp: None, rx: vec![], deadline: now + timeout, done: false };
        match route {
            None => {
                rec.end_ns = Some(now.nanos());
                rec.outcome = Outcome::Unreachable;
                req.record = rec;
                req.done = true;
                out.note("-", "app", || format!("{name}: request {n} to {to}: connect: Network is unreachable"));
            }
            Some(r) if proto == "udp" => {
                let range = self.stack.sysctl.globals.ip_local_port_range;
                if let Some(s) = self.stack.udp.bind(None, 0, range) {
                    self.stack.udp.connect(s, to);
                    req.udp = Some(s);
                    req.record.src = format!("{}:{}", r.src, self.stack.udp.local_port(s).unwrap_or(0));
                    let payload = format!("request {n}\n").into_bytes();
                    let (mut hk, stack) = self.hk();
                    let _ = stack.udp_send(now, s, to, &payload, &mut hk, out);
                }
            }
            Some(r) => {
                let mss = self.stack.route_mss(*to.ip());
                match self.stack.tcp.connect(now, r.src, to, mss) {
                    Ok(id) => {
                        req.sock = Some(id);
                        let local = self.stack.tcp.sockets().find(|s| s.id == id).map(|s| s.local);
                        req.record.src = local.map(|l| l.to_string()).unwrap_or_default();
                        let src = req.record.src.clone();
                        out.note("-", "app", || format!("{name}: request {n}: connect {src} -> {to}"));
                    }
                    Err(e) => {
                        req.done = true;
                        req.record.outcome = Outcome::Unreachable;
                        req.record.end_ns = Some(now.nanos());
                        out.note("-", "app", || format!("{name}: request {n}: connect: {e}"));
                    }
                }
            }
        }
        if let AppState::Client { next, requests } = &mut self.apps[i].state {
            *next += 1;
            requests.push(req);
        }
        self.pump(now, out);
    }

    fn requests(&self) -> Vec<RequestRecord> {
        self.apps
            .iter()
            .filter_map(|a| match &a.state {
                AppState::Client { requests, .. } => Some(requests.iter().map(|r| r.record.clone())),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Echo statistics of an echo client: (sent, received, mean RTT ns).
    pub fn echo_stats(&self) -> Option<(u64, u64, u64)> {
        self.apps.iter().find_map(|a| match a.state {
            AppState::EchoClient { sent, received, rtt_sum_ns, .. } => {
                Some((sent, received, if received > 0 { (rtt_sum_ns / u128::from(received)) as u64 } else { 0 }))
            }
            _ => None,
        })
    }

    fn run_scheduled_frames(&mut self, now: Instant, out: &mut Outbox) {
        while self.scheduled_frames.first().is_some_and(|f| f.0 <= now) {
            let (_, port, frame) = self.scheduled_frames.remove(0);
            out.send_with(port, frame, || "arping".into());
        }
    }

    /// A device went up or down: keepalived's interface tracking is told.
    fn link_changed(&mut self, dev: usize, up: bool) {
        let name = self.stack.ifaces[dev].name.clone();
        self.director.link_changed(&name, up);
    }

    /// The exit status a check script returns on this machine (vrrp_script,
    /// MISC_CHECK): see [`director::script_exit`].
    pub fn script_status(&self, script: &str) -> i32 {
        let running: BTreeMap<String, bool> =
            self.apps.iter().map(|a| (a.spec.name().to_string(), a.running)).collect();
        director::script_exit(&self.script_results, &running, script).unwrap_or(0)
    }

    /// A random number from the machine's own stream.
    pub fn random(&mut self) -> u64 {
        self.rng.next_u64()
    }
}

fn app_starts_stopped(s: &AppSpec) -> bool {
    matches!(s, AppSpec::HttpServer { stopped: true, .. } | AppSpec::UdpServer { stopped: true, .. })
}

fn finish(r: &mut Request, now: Instant, outcome: Outcome, body: Option<String>, name: &str, out: &mut Outbox) {
    if r.done {
        return;
    }
    r.done = true;
    r.record.end_ns = Some(now.nanos());
    r.record.outcome = outcome;
    r.record.body = body.clone();
    let n = r.record.seq;
    let ms = now.nanos().saturating_sub(r.record.start_ns) as f64 / 1e6;
    out.note("-", "app", || match body {
        Some(b) => format!("{name}: request {n} ok: {:?} in {ms:.3}ms", b.trim_end()),
        None => format!("{name}: request {n} {outcome} after {ms:.3}ms"),
    });
}

impl Node for Machine {
    fn name(&self) -> &str {
        &self.name
    }

    fn ports(&self) -> Vec<PortInfo> {
        let mut v: Vec<(PortId, PortInfo)> = self
            .stack
            .ifaces
            .iter()
            .filter_map(|i| {
                i.port.map(|p| {
                    (
                        p,
                        PortInfo {
                            name: i.name.clone(),
                            mac: i.mac,
                            ipv4: i.addrs.iter().map(|a| (a.addr, a.prefix)).collect(),
                        },
                    )
                })
            })
            .collect();
        v.sort_by_key(|x| x.0);
        v.into_iter().map(|x| x.1).collect()
    }

    fn on_frame(&mut self, now: Instant, port: PortId, frame: &[u8], out: &mut Outbox) {
        self.on_frame_owned(now, port, frame.to_vec(), out);
    }

    fn on_frame_owned(&mut self, now: Instant, port: PortId, frame: Vec<u8>, out: &mut Outbox) {
        let (mut hk, stack) = self.hk();
        stack.receive(now, port, frame, &mut hk, out);
        self.pump(now, out);
    }

    fn on_timer(&mut self, now: Instant, out: &mut Outbox) {
        self.run_scheduled_frames(now, out);
        let (mut hk, stack) = self.hk();
        if stack.next_deadline().is_some_and(|t| t <= now) {
            stack.on_timer(now, &mut hk, out);
        }
        self.director_timer(now, out);
        self.apps_timer(now, out);
        self.pump(now, out);
    }

    fn next_deadline(&self) -> Option<Instant> {
        let d = earliest(self.stack.next_deadline(), self.apps_deadline());
        let d = earliest(d, self.scheduled_frames.first().map(|f| f.0));
        earliest(earliest(d, self.director.next_deadline()), self.probes_deadline())
    }

    fn on_carrier(&mut self, _now: Instant, port: PortId, up: bool, _out: &mut Outbox) {
        if let Some(d) = self.stack.ifaces.iter().position(|i| i.port == Some(port)) {
            self.stack.ifaces[d].carrier = up;
            self.link_changed(d, up);
        }
    }

    fn exec(&mut self, now: Instant, line: &str, out: &mut Outbox) -> Result<String, CmdError> {
        let mut env = Env { m: self, now, out };
        run_named_script("-", line, &[], &mut env).map_err(|e| CmdError::with_status(e.message, e.status))
    }

    fn report(&self, now: Instant) -> NodeReport {
        NodeReport {
            neigh: show::neigh_entries(&self.stack, None),
            routes: show::route_entries(&self.stack),
            requests: self.requests(),
            ipvs: self.director.ipvs_report(now),
            vrrp: self.director.vrrp_report(),
            echo: self.echo_stats().map(|(sent, received, mean_rtt_ns)| crate::report::EchoStats {
                sent,
                received,
                mean_rtt_ns,
            }),
        }
    }
}

/// Addresses of a machine, for capture name resolution.
pub fn addresses(m: &Machine) -> Vec<Ipv4Addr> {
    m.stack
        .ifaces
        .iter()
        .filter(|i| i.kind != crate::stack::iface::IfKind::Loopback)
        .flat_map(|i| i.addrs.iter().map(|a| a.addr))
        .collect()
}
