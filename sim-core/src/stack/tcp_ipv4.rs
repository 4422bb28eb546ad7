//! The glue between IPv4 and TCP (net/ipv4/tcp_ipv4.c): `tcp_v4_rcv` checks the
//! checksum and hands segments to the TCP model with the MSS the route back
//! allows; `tcp_v4_err` passes ICMP errors on; segments TCP wants sent leave
//! through `ip_output` with TTL 64 and DF set (`ip_queue_xmit`).

use super::icmp::IcmpError;
use super::{Hk, Stack};
use crate::node::Outbox;
use crate::time::Instant;
use crate::wire::ip::{IpHdr, Ipv4, TCP_ACK, TCP_RST, TCP_SYN, Tcp, build};
use crate::wire::{ETH_HLEN, IPPROTO_TCP};
use std::net::SocketAddrV4;

impl Stack {
    /// The MSS to advertise and use towards `peer`: the route's MTU − 40
    /// (`dst_metric_advmss`, `tcp_mtu_to_mss`).
    pub fn route_mss(&self, peer: std::net::Ipv4Addr) -> u16 {
        self.route_output(peer).map_or(1460, |r| r.mtu.saturating_sub(40).clamp(88, 65495) as u16)
    }

    /// `tcp_v4_rcv`.
    pub(super) fn tcp_rcv(&mut self, now: Instant, _dev: usize, frame: &[u8], hk: &mut Hk, out: &mut Outbox) {
        let ip = Ipv4::trusted(&frame[ETH_HLEN..]).expect("validated");
        if ip.dst.is_broadcast() || ip.dst.is_multicast() {
            return out.drop_rx(|| "TCP to a broadcast address".into());
        }
        if !ip.l4_checksum_ok() {
            return out.drop_rx(|| "bad TCP checksum".into());
        }
        let seg = match Tcp::parse(ip.payload) {
            Ok(s) => s,
            Err(e) => return out.drop_rx(|| format!("TCP: {e}")),
        };
        // tcp_conn_request: the SYN-ACK's route (inet_csk_route_req) is looked up
        // before any request socket exists; without one the SYN is dropped
        // (ListenDrops, OutNoRoutes) and nothing is sent or remembered.
        if seg.has(TCP_SYN)
            && !seg.has(TCP_ACK)
            && !seg.has(TCP_RST)
            && self.route_output(ip.src).is_none()
            && self.tcp.syn_goes_to_listener(SocketAddrV4::new(ip.dst, seg.dport), SocketAddrV4::new(ip.src, seg.sport))
        {
            let src = ip.src;
            return out.drop_rx(|| {
                format!("SYN to a listening socket, but no route back to {src}: tcp_conn_request drops it (no SYN-ACK)")
            });
        }
        let mss = self.route_mss(ip.src);
        self.tcp.on_segment(now, ip.src, ip.dst, &seg, mss);
        for peer in self.tcp.take_confirmed() {
            self.confirm_neighbour(now, peer);
        }
        self.flush_tcp(now, hk, out);
    }

    /// `dst_confirm_neigh`: the neighbour that is the next hop towards `peer` is
    /// reachable (an ACK from it acknowledged new data).
    fn confirm_neighbour(&mut self, now: Instant, peer: std::net::Ipv4Addr) {
        if let Some(r) = self.route_output(peer) {
            let nh = r.gateway.unwrap_or(peer);
            let dev = self.ifaces[r.dev].index;
            self.neigh.confirm(now, dev, nh);
        }
    }

    /// `tcp_v4_err`.
    pub(super) fn tcp_icmp_error(&mut self, now: Instant, e: &IcmpError, hk: &mut Hk, out: &mut Outbox) {
        self.tcp.on_icmp_error(now, e.typ, e.code, e.mtu, &e.about);
        self.flush_tcp(now, hk, out);
    }

    /// Sends what TCP queued. A segment the stack cannot route is dropped here;
    /// TCP's own timers retransmit it. Looped-back segments wait in the backlog,
    /// which every entry point drains last.
    pub fn flush_tcp(&mut self, now: Instant, hk: &mut Hk, out: &mut Outbox) {
        if !self.tcp.has_output() {
            return;
        }
        let segs: Vec<_> = self.tcp.poll_output().collect();
        for seg in segs {
            let mut h = IpHdr::new(*seg.src.ip(), *seg.dst.ip(), IPPROTO_TCP);
            h.ttl = self.sysctl.globals.ip_default_ttl as u8;
            h.id = self.next_ip_id();
            let f = build(&h, &seg.l4());
            let cause = out.tracing().then(|| seg.why.to_string());
            if let Err(e) = self.ip_output(now, f, cause, hk, out) {
                let (s, d) = (seg.src, seg.dst);
                out.note("-", "tcp", || format!("{s} > {d}: segment not sent: {e:?}"));
            }
        }
    }
}
