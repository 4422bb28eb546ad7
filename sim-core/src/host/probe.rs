//! keepalived's health checks carried out with the machine's own stack: TCP_CHECK
//! and HTTP_GET are real TCP connections to the real servers (so a stopped nginx
//! answers RST and a dead host times out, exactly as on the wire), UDP_CHECK a real
//! datagram, PING_CHECK a real ICMP echo, MISC_CHECK the scenario's script result.

use super::Machine;
use crate::director::check::{Probe, ProbeId, ProbeResult, Prober};
use crate::node::Outbox;
use crate::stack::Hk;
use crate::stack::tcp::{CloseReason, SockId, TcpEvent};
use crate::stack::udp::UdpSock;
use crate::time::Instant;
use crate::wire::ip::{ICMP_ECHO, IpHdr, L4, build};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

/// A probe in flight.
#[derive(Debug)]
pub(super) enum Running {
    Tcp { sock: SockId, deadline: Instant },
    Http { sock: SockId, deadline: Instant, request: Vec<u8>, connected: bool, rx: Vec<u8> },
    Udp { sock: UdpSock, deadline: Instant },
    Ping { dst: Ipv4Addr, ident: u16, deadline: Instant },
}

impl Running {
    fn deadline(&self) -> Instant {
        match self {
            Running::Tcp { deadline, .. }
            | Running::Http { deadline, .. }
            | Running::Udp { deadline, .. }
            | Running::Ping { deadline, .. } => *deadline,
        }
    }
}

/// Probes the checker engine asked for during one call, run right after.
#[derive(Default)]
pub(super) struct Requests(pub Vec<(ProbeId, Probe)>);

impl Prober for Requests {
    fn start(&mut self, _now: Instant, id: ProbeId, probe: Probe) {
        self.0.push((id, probe));
    }
}

/// Parses an HTTP response head: status and Content-Length, with the body after it.
fn http_result(rx: &[u8]) -> Option<ProbeResult> {
    let end = rx.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&rx[..end]);
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let content_length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok()).flatten()
    });
    Some(ProbeResult::Http { status, content_length, body: rx[end + 4..].to_vec() })
}

impl Machine {
    /// Starts the probes the checkers asked for; results that are known at once
    /// (no route, a script's exit status) are returned for delivery.
    pub(super) fn start_probes(
        &mut self,
        now: Instant,
        reqs: Vec<(ProbeId, Probe)>,
        out: &mut Outbox,
    ) -> Vec<(ProbeId, ProbeResult)> {
        let mut done = vec![];
        for (id, probe) in reqs {
            match probe {
                Probe::Tcp { dst, bind, timeout } | Probe::Http { dst, bind, timeout, .. }
                    if self.stack.route_output(*dst.ip()).is_none() =>
                {
                    let _ = (bind, timeout);
                    done.push((id, ProbeResult::Unreachable));
                }
                Probe::Tcp { dst, bind, timeout } => match self.probe_connect(now, dst, bind) {
                    Some(sock) => {
                        self.probes.insert(id, Running::Tcp { sock, deadline: now + timeout });
                    }
                    None => done.push((id, ProbeResult::Unreachable)),
                },
                Probe::Http { dst, bind, ssl: _, request, timeout, .. } => match self.probe_connect(now, dst, bind) {
                    Some(sock) => {
                        let r = Running::Http {
                            sock,
                            deadline: now + timeout,
                            request: request.into_bytes(),
                            connected: false,
                            rx: vec![],
                        };
                        self.probes.insert(id, r);
                    }
                    None => done.push((id, ProbeResult::Unreachable)),
                },
                Probe::Udp { dst, bind, payload, timeout } => {
                    let range = self.stack.sysctl.globals.ip_local_port_range;
                    let Some(sock) = self.stack.udp.bind(bind.map(|b| *b.ip()), bind.map_or(0, |b| b.port()), range)
                    else {
                        done.push((id, ProbeResult::Unreachable));
                        continue;
                    };
                    self.stack.udp.connect(sock, dst);
                    let (mut hk, stack) = split(self);
                    match stack.udp_send(now, sock, dst, &payload, &mut hk, out) {
                        Ok(()) => {
                            self.probes.insert(id, Running::Udp { sock, deadline: now + timeout });
                        }
                        Err(_) => {
                            self.stack.udp.close(sock);
                            done.push((id, ProbeResult::Unreachable));
                        }
                    }
                }
                Probe::Ping { dst, bind, timeout } => {
                    let Some(r) = self.stack.route_output(dst) else {
                        done.push((id, ProbeResult::Unreachable));
                        continue;
                    };
                    let ident = (id.0 & 0xffff) as u16;
                    let mut h = IpHdr::new(bind.unwrap_or(r.src), dst, crate::wire::IPPROTO_ICMP);
                    h.id = self.stack.next_ip_id();
                    let mut rest = [0u8; 4];
                    rest[..2].copy_from_slice(&ident.to_be_bytes());
                    rest[2..].copy_from_slice(&1u16.to_be_bytes());
                    let f = build(&h, &L4::Icmp { typ: ICMP_ECHO, code: 0, rest, payload: b"keepalived-ping" });
                    let (mut hk, stack) = split(self);
                    let _ = stack.ip_output(now, f, Some("keepalived PING_CHECK".into()), &mut hk, out);
                    self.probes.insert(id, Running::Ping { dst, ident, deadline: now + timeout });
                }
                Probe::Misc { script, timeout: _ } => {
                    let text = script.argv.join(" ");
                    done.push((id, ProbeResult::Exited(self.script_status(&text))));
                }
            }
        }
        done
    }

    fn probe_connect(&mut self, now: Instant, dst: SocketAddrV4, bind: Option<SocketAddrV4>) -> Option<SockId> {
        let src = bind.map(|b| *b.ip()).or_else(|| self.stack.route_output(*dst.ip()).map(|r| r.src))?;
        let mss = self.stack.route_mss(*dst.ip());
        self.stack.tcp.connect(now, src, dst, mss).ok()
    }

    /// A TCP event for a probe socket; false if the socket is not a probe's.
    pub(super) fn probe_tcp_event(
        &mut self,
        now: Instant,
        e: &TcpEvent,
        results: &mut Vec<(ProbeId, ProbeResult)>,
    ) -> bool {
        let id = crate::host::apps::event_sock(e);
        let Some((&pid, _)) = self
            .probes
            .iter()
            .find(|(_, r)| matches!(r, Running::Tcp { sock, .. } | Running::Http { sock, .. } if *sock == id))
        else {
            return false;
        };
        let running = self.probes.get_mut(&pid).expect("found");
        match (running, e) {
            (Running::Tcp { sock, .. }, TcpEvent::Connected(_)) => {
                let s = *sock;
                self.stack.tcp.close(now, s);
                self.probes.remove(&pid);
                results.push((pid, ProbeResult::Connected));
            }
            (Running::Tcp { .. }, TcpEvent::Closed(_, why)) => {
                self.probes.remove(&pid);
                results.push((pid, close_result(*why)));
            }
            (Running::Http { sock, request, connected, .. }, TcpEvent::Connected(_)) => {
                *connected = true;
                let (s, req) = (*sock, request.clone());
                self.stack.tcp.send(now, s, &req);
            }
            (Running::Http { rx, .. }, TcpEvent::Data(_, d)) => rx.extend_from_slice(d),
            (Running::Http { sock, rx, .. }, TcpEvent::PeerClosed(_)) => {
                let (s, r) = (*sock, http_result(rx).unwrap_or(ProbeResult::HttpEmpty));
                self.stack.tcp.close(now, s);
                self.probes.remove(&pid);
                results.push((pid, r));
            }
            (Running::Http { rx, connected, .. }, TcpEvent::Closed(_, why)) => {
                let r = match (*connected, http_result(rx)) {
                    (_, Some(r)) => r,
                    (true, None) => ProbeResult::HttpEmpty,
                    (false, None) => close_result(*why),
                };
                self.probes.remove(&pid);
                results.push((pid, r));
            }
            _ => {}
        }
        true
    }

    /// UDP replies and errors for UDP_CHECK sockets; false if not a probe's socket.
    pub(super) fn probe_udp(&mut self, s: UdpSock, results: &mut Vec<(ProbeId, ProbeResult)>) -> bool {
        let Some((&pid, _)) = self.probes.iter().find(|(_, r)| matches!(r, Running::Udp { sock, .. } if *sock == s))
        else {
            return false;
        };
        let r = if let Some(d) = self.stack.udp.recv(s) {
            Some(ProbeResult::Reply(d.payload))
        } else {
            self.stack
                .udp
                .take_error(s)
                .map(|e| if e.code == 3 { ProbeResult::Refused } else { ProbeResult::Unreachable })
        };
        if let Some(r) = r {
            self.probes.remove(&pid);
            self.stack.udp.close(s);
            results.push((pid, r));
        }
        true
    }

    /// Echo replies for PING_CHECK.
    pub(super) fn probe_pings(&mut self, results: &mut Vec<(ProbeId, ProbeResult)>) {
        while let Some((from, ident, _seq)) = self.stack.echo_replies.pop_front() {
            let hit = self
                .probes
                .iter()
                .find(|(_, r)| matches!(r, Running::Ping { dst, ident: i, .. } if *dst == from && *i == ident));
            if let Some((&pid, _)) = hit {
                self.probes.remove(&pid);
                results.push((pid, ProbeResult::Reply(Vec::new())));
            }
        }
    }

    /// Probes whose timeout passed: `connect_timeout` and friends.
    pub(super) fn expire_probes(&mut self, now: Instant, results: &mut Vec<(ProbeId, ProbeResult)>) {
        let due: Vec<ProbeId> = self.probes.iter().filter(|(_, r)| r.deadline() <= now).map(|(k, _)| *k).collect();
        for pid in due {
            match self.probes.remove(&pid) {
                Some(Running::Tcp { sock, .. }) => {
                    self.stack.tcp.abort(now, sock);
                    results.push((pid, ProbeResult::TimedOut));
                }
                Some(Running::Http { sock, connected, rx, .. }) => {
                    self.stack.tcp.abort(now, sock);
                    let r = if !connected {
                        ProbeResult::TimedOut
                    } else {
                        http_result(&rx).unwrap_or(ProbeResult::ReadTimedOut)
                    };
                    results.push((pid, r));
                }
                Some(Running::Udp { sock, .. }) => {
                    self.stack.udp.close(sock);
                    results.push((pid, ProbeResult::TimedOut));
                }
                Some(Running::Ping { .. }) => results.push((pid, ProbeResult::TimedOut)),
                None => {}
            }
        }
    }

    pub(super) fn probes_deadline(&self) -> Option<Instant> {
        self.probes.values().map(Running::deadline).min()
    }
}

fn close_result(why: CloseReason) -> ProbeResult {
    match why {
        CloseReason::Refused | CloseReason::Reset => ProbeResult::Refused,
        CloseReason::Unreachable => ProbeResult::Unreachable,
        CloseReason::Timeout | CloseReason::Aborted | CloseReason::Normal => ProbeResult::TimedOut,
    }
}

fn split(m: &mut Machine) -> (Hk<'_>, &mut crate::stack::Stack) {
    let Machine { stack, director, .. } = m;
    (Hk(director.hooked()), stack)
}

/// Probes by id, in a deterministic order.
pub(super) type ProbeTable = BTreeMap<ProbeId, Running>;
