//! The programs that run on machines: an HTTP server answering every request with
//! its page (`RS1`), a UDP server, a UDP echo server, an HTTP/UDP client that makes
//! N requests like `curl --max-time` in a loop and records each outcome, and the
//! UDP echo client of the `lan-echo` benchmark. They use the stack the way a
//! process uses sockets.

use crate::report::{Outcome, RequestRecord};
use crate::stack::tcp::{CloseReason, SockId, TcpEvent};
use crate::stack::udp::UdpSock;
use crate::time::{Duration, Instant};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddrV4};

/// An app as a scenario declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AppSpec {
    /// A web server (`httpd`, `nginx`): every request gets `200 OK` with `body`.
    HttpServer {
        #[serde(default = "default_http_name")]
        name: String,
        #[serde(default = "default_http_port")]
        port: u16,
        /// Bind to this address only (default: all).
        #[serde(default)]
        addr: Option<Ipv4Addr>,
        body: String,
        /// Repeat the body to at least this many bytes (large responses).
        #[serde(default)]
        size: Option<usize>,
        /// Start stopped (`systemctl start NAME` starts it).
        #[serde(default)]
        stopped: bool,
    },
    /// A UDP service answering every datagram with `body`.
    UdpServer {
        #[serde(default = "default_udp_name")]
        name: String,
        port: u16,
        body: String,
        #[serde(default)]
        stopped: bool,
    },
    /// A UDP echo server (RFC 862).
    EchoServer {
        #[serde(default = "default_echo_name")]
        name: String,
        #[serde(default = "default_echo_port")]
        port: u16,
    },
    /// Requests to `to`, one every `interval` from `start`, `count` of them.
    Client {
        #[serde(default = "default_client_name")]
        name: String,
        /// `tcp` (HTTP/1.0) or `udp`.
        #[serde(default = "default_proto")]
        proto: String,
        to: SocketAddrV4,
        #[serde(default = "default_count")]
        count: u32,
        #[serde(with = "crate::time::serde_duration", default = "default_start")]
        start: Duration,
        #[serde(with = "crate::time::serde_duration", default = "default_interval")]
        interval: Duration,
        /// Give up on a request after this long (`curl --max-time`).
        #[serde(with = "crate::time::serde_duration", default = "default_timeout")]
        timeout: Duration,
        #[serde(default = "default_path")]
        path: String,
        /// Bytes of request body (a POST) to send, for large requests.
        #[serde(default)]
        size: usize,
    },
    /// UDP echo requests to every server, one each per `interval`, `total` in all.
    EchoClient {
        #[serde(default = "default_client_name")]
        name: String,
        servers: Vec<Ipv4Addr>,
        #[serde(default = "default_echo_port")]
        port: u16,
        #[serde(with = "crate::time::serde_duration", default = "default_echo_interval")]
        interval: Duration,
        total: u64,
        #[serde(default = "default_echo_size")]
        size: usize,
        #[serde(with = "crate::time::serde_duration", default = "default_start")]
        start: Duration,
    },
}

fn default_http_name() -> String {
    "httpd".into()
}
fn default_udp_name() -> String {
    "udpd".into()
}
fn default_echo_name() -> String {
    "echo".into()
}
fn default_client_name() -> String {
    "client".into()
}
fn default_http_port() -> u16 {
    80
}
fn default_echo_port() -> u16 {
    7
}
fn default_proto() -> String {
    "tcp".into()
}
fn default_count() -> u32 {
    1
}
fn default_start() -> Duration {
    Duration::from_secs(1)
}
fn default_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_path() -> String {
    "/".into()
}
fn default_echo_interval() -> Duration {
    Duration::from_micros(100)
}
fn default_echo_size() -> usize {
    64
}

impl AppSpec {
    pub fn name(&self) -> &str {
        match self {
            AppSpec::HttpServer { name, .. }
            | AppSpec::UdpServer { name, .. }
            | AppSpec::EchoServer { name, .. }
            | AppSpec::Client { name, .. }
            | AppSpec::EchoClient { name, .. } => name,
        }
    }
}

/// The HTTP response for `body`.
pub fn http_response(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.0 200 OK\r\nServer: lvs-lab\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// The request a client sends: `GET`, or a `POST` with `size` bytes of body.
pub fn http_request(path: &str, host: SocketAddrV4, size: usize) -> Vec<u8> {
    if size == 0 {
        format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: lvs-lab\r\nAccept: */*\r\n\r\n").into_bytes()
    } else {
        let mut r =
            format!("POST {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: lvs-lab\r\nContent-Length: {size}\r\n\r\n")
                .into_bytes();
        r.resize(r.len() + size, b'x');
        r
    }
}

/// Whether `buf` holds a complete HTTP request (headers and any declared body).
pub fn request_complete(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&buf[..end]);
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    buf.len() >= end + 4 + len
}

/// Parses a response: `Some(body)` once the status line says 200 and the body
/// announced by Content-Length is all there.
pub fn response_body(buf: &[u8]) -> Option<String> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]);
    if !head.starts_with("HTTP/1.") || head.split_whitespace().nth(1).is_none_or(|c| c != "200") {
        return None;
    }
    let body = &buf[end + 4..];
    let len = head.lines().find_map(|l| {
        l.to_ascii_lowercase().strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok())
    });
    match len {
        Some(n) if body.len() < n => None,
        Some(n) => Some(String::from_utf8_lossy(&body[..n]).into_owned()),
        None => Some(String::from_utf8_lossy(body).into_owned()),
    }
}

/// A request in flight or done.
#[derive(Debug, Clone)]
pub struct Request {
    pub record: RequestRecord,
    pub sock: Option<SockId>,
    pub udp: Option<UdpSock>,
    pub rx: Vec<u8>,
    pub deadline: Instant,
    pub done: bool,
}

/// Maps a TCP close reason to the client's outcome.
pub fn outcome_of(r: CloseReason) -> Outcome {
    match r {
        CloseReason::Normal | CloseReason::Reset | CloseReason::Aborted => Outcome::Reset,
        CloseReason::Refused => Outcome::Refused,
        CloseReason::Timeout => Outcome::Timeout,
        CloseReason::Unreachable => Outcome::Unreachable,
    }
}

/// Runtime state of an app.
#[derive(Debug)]
pub enum AppState {
    HttpServer { listener: Option<SockId>, conns: Vec<(SockId, Vec<u8>, bool)>, page: Vec<u8> },
    UdpServer { sock: Option<UdpSock> },
    EchoServer { sock: Option<UdpSock> },
    Client { next: u32, requests: Vec<Request> },
    EchoClient { sock: Option<UdpSock>, sent: u64, received: u64, next_round: Instant, rtt_sum_ns: u128 },
}

impl AppState {
    pub fn new(spec: &AppSpec) -> Self {
        match spec {
            AppSpec::HttpServer { body, size, .. } => {
                let mut b = body.clone().into_bytes();
                if let Some(n) = size {
                    let unit = if b.is_empty() { b"x".to_vec() } else { b.clone() };
                    while b.len() < *n {
                        b.extend_from_slice(&unit);
                    }
                }
                AppState::HttpServer { listener: None, conns: vec![], page: http_response(&b) }
            }
            AppSpec::UdpServer { .. } => AppState::UdpServer { sock: None },
            AppSpec::EchoServer { .. } => AppState::EchoServer { sock: None },
            AppSpec::Client { .. } => AppState::Client { next: 0, requests: vec![] },
            AppSpec::EchoClient { start, .. } => AppState::EchoClient {
                sock: None,
                sent: 0,
                received: 0,
                next_round: Instant::ZERO + *start,
                rtt_sum_ns: 0,
            },
        }
    }

    /// Whether this app owns TCP socket `id`.
    pub fn owns_tcp(&self, id: SockId) -> bool {
        match self {
            AppState::HttpServer { listener, conns, .. } => *listener == Some(id) || conns.iter().any(|c| c.0 == id),
            AppState::Client { requests, .. } => requests.iter().any(|r| r.sock == Some(id) && !r.done),
            _ => false,
        }
    }

    pub fn owns_udp(&self, s: UdpSock) -> bool {
        match self {
            AppState::UdpServer { sock } | AppState::EchoServer { sock } | AppState::EchoClient { sock, .. } => {
                *sock == Some(s)
            }
            AppState::Client { requests, .. } => requests.iter().any(|r| r.udp == Some(s)),
            _ => false,
        }
    }
}

/// Whether a TCP event concerns socket `id` (for routing events to apps).
pub fn event_sock(e: &TcpEvent) -> SockId {
    match e {
        TcpEvent::Accepted { listener, .. } => *listener,
        TcpEvent::Connected(id) | TcpEvent::Data(id, _) | TcpEvent::PeerClosed(id) | TcpEvent::Closed(id, _) => *id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_round_trip() {
        let req = http_request("/", SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 100), 80), 0);
        assert!(request_complete(&req));
        assert!(!request_complete(&req[..req.len() - 1]));
        let post = http_request("/up", SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 100), 80), 3000);
        assert!(request_complete(&post));
        assert!(!request_complete(&post[..post.len() - 10]));
        let resp = http_response(b"RS1");
        assert_eq!(response_body(&resp).as_deref(), Some("RS1"));
        assert_eq!(response_body(&resp[..resp.len() - 1]), None);
        assert_eq!(response_body(b"HTTP/1.0 404 Not Found\r\n\r\n"), None);
    }
}
