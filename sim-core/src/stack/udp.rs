//! UDP sockets (net/ipv4/udp.c): lookup preferring a socket bound to the exact
//! address over a wildcard one (`compute_score`), ICMP port unreachable when no
//! socket listens, and ICMP errors reported to connected sockets.

use super::icmp::IcmpError;
use super::{Hk, SendError, Stack};
use crate::node::Outbox;
use crate::time::Instant;
use crate::wire::ip::{ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, IpHdr, Ipv4, L4, Udp as UdpView, build_into};
use crate::wire::{ETH_HLEN, IPPROTO_UDP};
use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

/// A UDP socket handle.
pub type UdpSock = u32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub from: SocketAddrV4,
    pub to: SocketAddrV4,
    pub payload: Vec<u8>,
}

#[derive(Debug, Default)]
struct Socket {
    addr: Option<Ipv4Addr>,
    port: u16,
    /// `connect()`ed peer: ICMP errors are reported only to connected sockets.
    peer: Option<SocketAddrV4>,
    rx: VecDeque<Datagram>,
    errors: VecDeque<IcmpError>,
}

#[derive(Debug, Default)]
pub struct Udp {
    socks: BTreeMap<UdpSock, Socket>,
    /// Sockets with data or errors waiting (few: a Vec beats a set).
    ready: Vec<UdpSock>,
    next: UdpSock,
    next_port: u16,
    /// Buffers of consumed datagrams, reused for frames sent (a few suffice).
    spare: Vec<Vec<u8>>,
}

/// How many spare buffers [`Udp::recycle`] keeps: enough for a burst of a few
/// hundred datagrams (a client answering to, or sending to, many servers at once).
const SPARE_BUFFERS: usize = 256;

impl Udp {
    /// `bind()`; port 0 picks an ephemeral port. EADDRINUSE as `None`.
    pub fn bind(&mut self, addr: Option<Ipv4Addr>, port: u16, range: (u16, u16)) -> Option<UdpSock> {
        let port = if port == 0 { self.ephemeral(range)? } else { port };
        if self.socks.values().any(|s| s.port == port && (s.addr.is_none() || addr.is_none() || s.addr == addr)) {
            return None;
        }
        self.next += 1;
        self.socks.insert(self.next, Socket { addr, port, ..Default::default() });
        Some(self.next)
    }

    fn ephemeral(&mut self, (lo, hi): (u16, u16)) -> Option<u16> {
        let span = u32::from(hi - lo) + 1;
        for _ in 0..span {
            let p = lo + (u32::from(self.next_port) % span) as u16;
            self.next_port = self.next_port.wrapping_add(1);
            if !self.socks.values().any(|s| s.port == p) {
                return Some(p);
            }
        }
        None
    }

    pub fn connect(&mut self, s: UdpSock, peer: SocketAddrV4) {
        if let Some(x) = self.socks.get_mut(&s) {
            x.peer = Some(peer);
        }
    }

    pub fn close(&mut self, s: UdpSock) {
        self.socks.remove(&s);
    }

    pub fn local_port(&self, s: UdpSock) -> Option<u16> {
        self.socks.get(&s).map(|x| x.port)
    }

    pub fn recv(&mut self, s: UdpSock) -> Option<Datagram> {
        self.socks.get_mut(&s)?.rx.pop_front()
    }

    /// Gives back a consumed datagram's buffer for a later send.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS {
            self.spare.push(buf);
        }
    }

    pub fn take_error(&mut self, s: UdpSock) -> Option<IcmpError> {
        self.socks.get_mut(&s)?.errors.pop_front()
    }

    /// Whether a socket received something since [`Udp::take_readable`].
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Puts into `buf` (which must be empty) the sockets that received something
    /// since the last call, in order; the caller reads each until empty. The two
    /// buffers swap, so neither allocates again.
    pub fn take_readable(&mut self, buf: &mut Vec<UdpSock>) {
        std::mem::swap(&mut self.ready, buf);
        buf.sort_unstable();
        buf.dedup();
    }

    /// `__udp4_lib_lookup`: an exact local address scores higher than a wildcard.
    fn lookup(&self, dst: Ipv4Addr, port: u16) -> Option<UdpSock> {
        let mut best = None;
        for (k, s) in &self.socks {
            if s.port != port {
                continue;
            }
            match s.addr {
                Some(a) if a == dst => return Some(*k),
                None => best = best.or(Some(*k)),
                _ => {}
            }
        }
        best
    }

    /// `__udp4_lib_err`: errors reach a socket only if it is connected to the
    /// packet's destination (`inet->recverr` is off by default).
    pub(super) fn on_icmp_error(&mut self, e: &IcmpError) {
        let Some((sport, dport)) = e.about.ports else { return };
        for (k, s) in self.socks.iter_mut() {
            if s.port == sport && s.peer == Some(SocketAddrV4::new(e.about.dst, dport)) {
                s.errors.push_back(*e);
                self.ready.push(*k);
            }
        }
    }

    pub fn sockets(&self) -> impl Iterator<Item = (Option<Ipv4Addr>, u16, Option<SocketAddrV4>)> + '_ {
        self.socks.values().map(|s| (s.addr, s.port, s.peer))
    }
}

impl Stack {
    /// `udp_rcv`.
    pub(super) fn udp_rcv(
        &mut self,
        now: Instant,
        dev: usize,
        mut frame: Vec<u8>,
        mcast_or_bcast: bool,
        hk: &mut Hk,
        out: &mut Outbox,
    ) {
        let ip = Ipv4::trusted(&frame[ETH_HLEN..]).expect("validated");
        if !ip.l4_checksum_ok() {
            return out.drop_rx(|| "bad UDP checksum".into());
        }
        let u = match UdpView::parse(ip.payload) {
            Ok(u) => u,
            Err(e) => return out.drop_rx(|| format!("UDP: {e}")),
        };
        let (from, to) = (SocketAddrV4::new(ip.src, u.sport), SocketAddrV4::new(ip.dst, u.dport));
        // The payload's place in the frame, which becomes the datagram's buffer.
        let start = ETH_HLEN + ip.header.len() + 8;
        let end = start + u.payload.len();
        match self.udp.lookup(ip.dst, u.dport) {
            Some(s) => {
                frame.truncate(end);
                frame.drain(..start);
                let d = Datagram { from, to, payload: frame };
                self.udp.socks.get_mut(&s).expect("found").rx.push_back(d);
                self.udp.ready.push(s);
                let port = to.port();
                out.verdict(|| format!("delivered to UDP port {port}"));
            }
            None if mcast_or_bcast => out.drop_rx(|| format!("no UDP socket on port {}", to.port())),
            None => {
                let port = to.port();
                out.drop_rx(|| format!("no UDP socket on port {port}: ICMP port unreachable"));
                self.icmp_send(now, &frame, Some(dev), ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, hk, out);
            }
        }
    }

    /// `udp_sendmsg` from socket `s` to `to`. The source is the socket's bound
    /// address or the route's preferred source; DF is set (IP_PMTUDISC_WANT) and
    /// the IP ID is 0 for DF datagrams (`ip_select_ident` with no connected peer).
    pub fn udp_send(
        &mut self,
        now: Instant,
        s: UdpSock,
        to: SocketAddrV4,
        payload: &[u8],
        hk: &mut Hk,
        out: &mut Outbox,
    ) -> Result<(), SendError> {
        let Some(sock) = self.udp.socks.get(&s) else { return Err(SendError::NetUnreach) };
        let (bound, sport) = (sock.addr, sock.port);
        let route =
            if to.ip().is_multicast() { None } else { Some(self.route_output(*to.ip()).ok_or(SendError::NetUnreach)?) };
        let src = match (bound, &route) {
            (Some(a), _) => a,
            (None, Some(r)) => r.src,
            (None, None) => self
                .mcast_dev()
                .and_then(|d| self.select_addr(d, None, crate::stack::iface::Scope::Global))
                .ok_or(SendError::NetUnreach)?,
        };
        let mut h = IpHdr::new(src, *to.ip(), IPPROTO_UDP);
        h.ttl = self.sysctl.globals.ip_default_ttl as u8;
        let buf = self.udp.spare.pop().unwrap_or_default();
        let f = build_into(buf, &h, &L4::Udp { sport, dport: to.port(), payload });
        self.ip_output_routed(now, f, route, None, hk, out)
    }
}
