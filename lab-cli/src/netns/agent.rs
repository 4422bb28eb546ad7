//! The apps of a kernel host, as processes: `lvs-lab netns agent` runs one
//! [`AppSpec`] inside a host's namespace with the kernel's own TCP and UDP, and
//! prints what a client saw as JSON lines ([`AgentMsg`]) on standard output.
//! Servers answer as the simulator's apps do (`apps::http_response`, the UDP body,
//! echo); clients make their requests at `t0 + start + n * interval` on the
//! monotonic clock, each with a `curl --max-time`-like deadline.

use super::sys;
use sim_core::host::apps::{self, AppSpec, AppState};
use sim_core::report::{EchoStats, Outcome, RequestRecord};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One line of an agent's output.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentMsg {
    /// A request started (`pending`) or ended; the last line per `seq` counts.
    Request(RequestRecord),
    /// An echo client's totals so far.
    Echo(EchoStats),
}

/// Runs `app` of `host` in namespace `netns`; `t0` is the run's origin on the
/// monotonic clock. Returns when a client is done; servers run until killed.
pub fn run(netns: &str, host: &str, t0: u64, app: &AppSpec) -> Result<(), String> {
    sys::die_with_parent();
    sys::enter_netns(netns).map_err(|e| format!("cannot enter namespace {netns}: {e}"))?;
    match app {
        AppSpec::HttpServer { port, addr, .. } => {
            let AppState::HttpServer { page, .. } = AppState::new(app) else { unreachable!("http state") };
            let bind = SocketAddrV4::new(addr.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED), *port);
            let l = TcpListener::bind(bind).map_err(|e| format!("cannot listen on {bind}: {e}"))?;
            let page = Arc::new(page);
            for c in l.incoming() {
                let Ok(c) = c else { continue };
                let page = page.clone();
                std::thread::spawn(move || serve_http(c, &page));
            }
            Ok(())
        }
        AppSpec::UdpServer { port, body, .. } => {
            let s = UdpSocket::bind(("0.0.0.0", *port)).map_err(|e| format!("cannot bind UDP port {port}: {e}"))?;
            let mut buf = [0u8; 65536];
            loop {
                if let Ok((_, from)) = s.recv_from(&mut buf) {
                    let _ = s.send_to(body.as_bytes(), from);
                }
            }
        }
        AppSpec::EchoServer { port, .. } => {
            let s = UdpSocket::bind(("0.0.0.0", *port)).map_err(|e| format!("cannot bind UDP port {port}: {e}"))?;
            let mut buf = [0u8; 65536];
            loop {
                if let Ok((n, from)) = s.recv_from(&mut buf) {
                    let _ = s.send_to(&buf[..n], from);
                }
            }
        }
        AppSpec::Client { .. } => client(host, t0, app),
        AppSpec::EchoClient { servers, port, interval, total, size, start, .. } => {
            echo_client(t0, servers, *port, *interval, *total, *size, *start)
        }
    }
}

fn serve_http(mut c: TcpStream, page: &[u8]) {
    let mut req = vec![];
    let mut buf = [0u8; 16384];
    while !apps::request_complete(&req) {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let _ = c.write_all(page);
}

fn now_rel(t0: u64) -> u64 {
    sys::monotonic_ns().saturating_sub(t0)
}

fn sleep_until(t0: u64, at_ns: u64) {
    let now = now_rel(t0);
    if at_ns > now {
        std::thread::sleep(Duration::from_nanos(at_ns - now));
    }
}

fn emit(msg: &AgentMsg) {
    let line = serde_json::to_string(msg).expect("agent messages serialise");
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn client(host: &str, t0: u64, app: &AppSpec) -> Result<(), String> {
    let AppSpec::Client { name, proto, to, count, start, interval, timeout, path, size } = app else {
        unreachable!("client spec")
    };
    let mut threads = vec![];
    for n in 0..*count {
        let at = (*start + *interval * n).as_nanos() as u64;
        sleep_until(t0, at);
        let rec = RequestRecord {
            client: format!("{host}/{name}"),
            seq: n,
            proto: proto.clone(),
            start_ns: now_rel(t0),
            end_ns: None,
            outcome: Outcome::Pending,
            body: None,
            src: String::new(),
            dst: to.to_string(),
        };
        let (to, timeout, path, size, udp) = (*to, *timeout, path.clone(), *size, proto == "udp");
        threads.push(std::thread::spawn(move || {
            let deadline = rec.start_ns + timeout.as_nanos() as u64;
            if udp { udp_request(t0, rec, to, deadline) } else { tcp_request(t0, rec, to, deadline, &path, size) }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// What an errno means to a client, as the simulator's outcomes name it.
fn outcome_of(e: &io::Error) -> Outcome {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => Outcome::Refused,
        Some(libc::ETIMEDOUT) => Outcome::Timeout,
        Some(libc::ECONNRESET | libc::EPIPE | libc::ECONNABORTED) => Outcome::Reset,
        _ if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Outcome::Timeout,
        _ => Outcome::Unreachable,
    }
}

fn finish(t0: u64, mut rec: RequestRecord, outcome: Outcome, body: Option<String>) {
    rec.end_ns = Some(now_rel(t0));
    rec.outcome = outcome;
    rec.body = body;
    emit(&AgentMsg::Request(rec));
}

fn remaining(t0: u64, deadline: u64) -> Option<Duration> {
    let now = now_rel(t0);
    (deadline > now).then(|| Duration::from_nanos(deadline - now))
}

fn tcp_request(t0: u64, mut rec: RequestRecord, to: SocketAddrV4, deadline: u64, path: &str, size: usize) {
    let sock = match Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)) {
        Ok(s) => s,
        Err(e) => return finish(t0, rec, outcome_of(&e), None),
    };
    let _ = sock.set_nonblocking(true);
    let addr: SocketAddr = to.into();
    let started = match sock.connect(&addr.into()) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(()),
        Err(e) => Err(e),
    };
    if let Some(l) = sock.local_addr().ok().and_then(|a| a.as_socket()) {
        rec.src = l.to_string();
    }
    if let Err(e) = started {
        return finish(t0, rec, outcome_of(&e), None);
    }
    emit(&AgentMsg::Request(rec.clone()));
    loop {
        let Some(left) = remaining(t0, deadline) else { return finish(t0, rec, Outcome::Timeout, None) };
        match sys::poll_writable(sock.as_raw_fd(), left.as_millis().min(i32::MAX as u128) as i32 + 1) {
            Ok(true) => break,
            Ok(false) => continue,
            Err(e) => return finish(t0, rec, outcome_of(&e), None),
        }
    }
    if let Ok(Some(e)) = sock.take_error() {
        return finish(t0, rec, outcome_of(&e), None);
    }
    let _ = sock.set_nonblocking(false);
    let mut stream: TcpStream = sock.into();
    if let Err(e) = stream.write_all(&apps::http_request(path, to, size)) {
        return finish(t0, rec, outcome_of(&e), None);
    }
    let mut rx = vec![];
    let mut buf = [0u8; 16384];
    loop {
        let Some(left) = remaining(t0, deadline) else { return finish(t0, rec, Outcome::Timeout, None) };
        let _ = stream.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        match stream.read(&mut buf) {
            Ok(0) => {
                let body = apps::response_body(&rx);
                let o = if body.is_some() { Outcome::Ok } else { Outcome::Reset };
                return finish(t0, rec, o, body);
            }
            Ok(n) => rx.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) => {
                let body = apps::response_body(&rx);
                let o = if body.is_some() { Outcome::Ok } else { outcome_of(&e) };
                return finish(t0, rec, o, body);
            }
        }
    }
}

fn udp_request(t0: u64, mut rec: RequestRecord, to: SocketAddrV4, deadline: u64) {
    let s = match UdpSocket::bind("0.0.0.0:0") {
        Ok(s) => s,
        Err(e) => return finish(t0, rec, outcome_of(&e), None),
    };
    if let Err(e) = s.connect(to) {
        return finish(t0, rec, outcome_of(&e), None);
    }
    if let Ok(l) = s.local_addr() {
        rec.src = l.to_string();
    }
    emit(&AgentMsg::Request(rec.clone()));
    if let Err(e) = s.send(format!("request {}\n", rec.seq).as_bytes()) {
        return finish(t0, rec, outcome_of(&e), None);
    }
    let mut buf = [0u8; 65536];
    loop {
        let Some(left) = remaining(t0, deadline) else { return finish(t0, rec, Outcome::Timeout, None) };
        let _ = s.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        match s.recv(&mut buf) {
            Ok(n) => return finish(t0, rec, Outcome::Ok, Some(String::from_utf8_lossy(&buf[..n]).into_owned())),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return finish(t0, rec, outcome_of(&e), None),
        }
    }
}

fn echo_client(
    t0: u64,
    servers: &[std::net::Ipv4Addr],
    port: u16,
    interval: Duration,
    total: u64,
    size: usize,
    start: Duration,
) -> Result<(), String> {
    let s = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("cannot bind: {e}"))?;
    let rx = s.try_clone().map_err(|e| e.to_string())?;
    let stats = Arc::new(Mutex::new((0u64, 0u64, 0u128)));
    let st = stats.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        let _ = rx.set_read_timeout(Some(Duration::from_millis(100)));
        loop {
            if let Ok(n) = rx.recv(&mut buf)
                && n >= 8
            {
                let sent = u64::from_be_bytes(buf[..8].try_into().expect("8 bytes"));
                let mut g = st.lock().expect("stats");
                g.1 += 1;
                g.2 += u128::from(now_rel(t0).saturating_sub(sent));
            }
            let (sent, received, sum) = *st.lock().expect("stats");
            let mean_rtt_ns = if received > 0 { (sum / u128::from(received)) as u64 } else { 0 };
            emit(&AgentMsg::Echo(EchoStats { sent, received, mean_rtt_ns }));
        }
    });
    let mut next = start.as_nanos() as u64;
    let mut sent = 0u64;
    while sent < total && !servers.is_empty() {
        sleep_until(t0, next);
        let mut payload = vec![0u8; size.max(8)];
        payload[..8].copy_from_slice(&now_rel(t0).to_be_bytes());
        for srv in servers.iter().take((total - sent).min(servers.len() as u64) as usize) {
            let _ = s.send_to(&payload, (*srv, port));
            sent += 1;
        }
        stats.lock().expect("stats").0 = sent;
        next += interval.as_nanos() as u64;
    }
    std::thread::sleep(Duration::from_secs(1));
    Ok(())
}
