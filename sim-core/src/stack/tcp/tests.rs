//! Behaviour users rely on: handshakes, segmentation, Linux's retransmission timing,
//! RST answers, ICMP errors, closes and TIME_WAIT, determinism, robustness.

use super::*;
use crate::wire::ip::{
    self, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_HOST_UNREACH, ICMP_PORT_UNREACH, Icmp, IpHdr, Ipv4,
};
use crate::wire::{ETH_HLEN, IPPROTO_ICMP};
use proptest::prelude::*;

const C: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const S: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

fn secs(s: f64) -> Instant {
    Instant::from_nanos((s * 1e9).round() as u64)
}

fn stack(seed: u64, name: &str) -> TcpStack {
    TcpStack::new(rng::stream(seed, name), TcpConf::default())
}

/// The frame a segment becomes on the wire (IPv4, TTL 64, DF).
fn wire(seg: &SegOut) -> Vec<u8> {
    ip::build(&IpHdr::new(*seg.src.ip(), *seg.dst.ip(), IPPROTO_TCP), &seg.l4())
}

/// Parses a frame back and hands it to `s`, as the host's IPv4 input would.
fn deliver(s: &mut TcpStack, now: Instant, frame: &[u8], route_mss: u16) {
    let ip = Ipv4::parse(&frame[ETH_HLEN..]).unwrap();
    assert!(ip.l4_checksum_ok());
    let t = Tcp::parse(ip.payload).unwrap();
    s.on_segment(now, ip.src, ip.dst, &t, route_mss);
}

/// A hand-made segment.
fn raw(src: SocketAddrV4, dst: SocketAddrV4, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> SegOut {
    SegOut {
        src,
        dst,
        seq,
        ack,
        flags,
        window: 64240,
        mss: (flags & TCP_SYN != 0).then_some(1460),
        payload: payload.to_vec(),
        why: Why::Data,
    }
}

fn feed(s: &mut TcpStack, now: Instant, seg: &SegOut) {
    deliver(s, now, &wire(seg), 1460);
}

fn out(s: &mut TcpStack) -> Vec<SegOut> {
    s.poll_output().collect()
}

fn events(s: &mut TcpStack) -> Vec<TcpEvent> {
    s.poll_events().collect()
}

/// tcpdump-like flags: `S`, `SA`, `A`, `PA`, `FA`, `R`, `RA`.
fn fl(f: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [(TCP_SYN, 'S'), (TCP_FIN, 'F'), (TCP_RST, 'R'), (ip::TCP_PSH, 'P'), (TCP_ACK, 'A')] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// An ICMP error about `seg` (which we sent), parsed back to its quote.
fn icmp_about(seg: &SegOut, typ: u8, code: u8, mtu: u16) -> (u8, u8, u16, Embedded) {
    let frame = wire(seg);
    let quote = ip::icmp_quote(&frame[ETH_HLEN..]);
    let rest = [0, 0, (mtu >> 8) as u8, mtu as u8];
    let f = ip::build(&IpHdr::new(S, C, IPPROTO_ICMP), &L4::Icmp { typ, code, rest, payload: quote });
    let ipk = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
    let icmp = Icmp::parse(ipk.payload).unwrap();
    (icmp.typ, icmp.code, icmp.next_hop_mtu(), icmp.embedded().unwrap())
}

type App = Box<dyn FnMut(usize, Instant, &TcpEvent, &mut TcpStack)>;
type Drop = Box<dyn FnMut(Instant, usize, &SegOut) -> bool>;

/// Two hosts on a link with a one-way `delay`. Everything sent is logged; `drop` loses
/// segments; `app` plays the applications, reacting to events at once.
struct Net {
    hosts: [TcpStack; 2],
    addrs: [Ipv4Addr; 2],
    route_mss: [u16; 2],
    now: Instant,
    delay: Duration,
    queue: Vec<(Instant, usize, Vec<u8>)>,
    log: Vec<(Instant, usize, SegOut)>,
    events: Vec<(Instant, usize, TcpEvent)>,
    drop: Drop,
    app: App,
}

impl Net {
    fn new(seed: u64, delay: Duration) -> Net {
        Net {
            hosts: [stack(seed, "host:client"), stack(seed, "host:server")],
            addrs: [C, S],
            route_mss: [1460, 1460],
            now: Instant::ZERO,
            delay,
            queue: Vec::new(),
            log: Vec::new(),
            events: Vec::new(),
            drop: Box::new(|_, _, _| false),
            app: Box::new(|_, _, _, _| {}),
        }
    }

    fn collect(&mut self) {
        loop {
            let mut any = false;
            for h in 0..2 {
                let segs: Vec<SegOut> = self.hosts[h].poll_output().collect();
                for seg in segs {
                    any = true;
                    if !(self.drop)(self.now, h, &seg)
                        && let Some(to) = self.addrs.iter().position(|a| a == seg.dst.ip())
                    {
                        self.queue.push((self.now + self.delay, to, wire(&seg)));
                    }
                    self.log.push((self.now, h, seg));
                }
                let evs: Vec<TcpEvent> = self.hosts[h].poll_events().collect();
                for ev in evs {
                    any = true;
                    (self.app)(h, self.now, &ev, &mut self.hosts[h]);
                    self.events.push((self.now, h, ev));
                }
            }
            if !any {
                break;
            }
        }
    }

    fn run_until(&mut self, until: Instant) {
        self.collect();
        loop {
            let next_pkt = self.queue.iter().map(|q| q.0).min();
            let next_timer = self.hosts.iter().filter_map(|h| h.next_deadline()).min();
            let Some(next) = next_pkt.into_iter().chain(next_timer).min() else { break };
            if next > until {
                break;
            }
            self.now = next;
            while let Some(i) = self.queue.iter().position(|q| q.0 <= self.now) {
                let (_, to, frame) = self.queue.remove(i);
                deliver(&mut self.hosts[to], self.now, &frame, self.route_mss[to]);
            }
            for h in &mut self.hosts {
                if h.next_deadline().is_some_and(|t| t <= self.now) {
                    h.on_timer(self.now);
                }
            }
            self.collect();
        }
        self.now = until;
    }

    fn connect(&mut self, port: u16) -> SockId {
        let id = self.hosts[0].connect(self.now, C, SocketAddrV4::new(S, port), self.route_mss[0]).unwrap();
        self.collect();
        id
    }

    /// Segments host `h` sent, as (time, flags, payload length).
    fn sent(&self, h: usize) -> Vec<(Instant, String, usize)> {
        self.log.iter().filter(|l| l.1 == h).map(|(t, _, s)| (*t, fl(s.flags), s.payload.len())).collect()
    }

    fn received(&self, h: usize) -> Vec<u8> {
        self.events
            .iter()
            .filter(|e| e.1 == h)
            .filter_map(|e| match &e.2 {
                TcpEvent::Data(_, d) => Some(d.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn closed(&self, h: usize) -> Vec<(Instant, CloseReason)> {
        self.events
            .iter()
            .filter(|e| e.1 == h)
            .filter_map(|e| match e.2 {
                TcpEvent::Closed(_, r) => Some((e.0, r)),
                _ => None,
            })
            .collect()
    }
}

/// A server app: echo, or send `reply` on accept; `close_on_eof` closes on the peer's FIN.
fn server_app(reply: Option<Vec<u8>>, echo: bool, close_on_eof: bool) -> App {
    Box::new(move |h, now, ev, s| {
        if h != 1 {
            return;
        }
        match ev {
            TcpEvent::Accepted { id, .. } => {
                if let Some(r) = &reply {
                    s.send(now, *id, r);
                }
            }
            TcpEvent::Data(id, d) if echo => s.send(now, *id, d),
            TcpEvent::PeerClosed(id) if close_on_eof => s.close(now, *id),
            _ => {}
        }
    })
}

#[test]
fn handshake_both_sides_and_echo() {
    let mut net = Net::new(1, Duration::from_millis(1));
    let l = net.hosts[1].listen(None, 80).unwrap();
    net.app = server_app(None, true, false);
    let c = net.connect(80);
    net.hosts[0].send(net.now, c, b"hello");
    net.run_until(secs(1.0));

    let syn = &net.log[0].2;
    assert_eq!((fl(syn.flags).as_str(), syn.mss, syn.window, syn.ack), ("S", Some(1460), 64240, 0));
    assert!((32768..=60999).contains(&syn.src.port()));
    let synack = &net.log[1].2;
    assert_eq!((fl(synack.flags).as_str(), synack.ack, synack.mss), ("SA", syn.seq.wrapping_add(1), Some(1460)));
    let kinds: Vec<String> = net.log.iter().map(|l| format!("{}{}", l.1, fl(l.2.flags))).collect();
    assert_eq!(kinds, ["0S", "1SA", "0PA", "1A", "1PA", "0A"], "the client's data carries the handshake ACK");
    assert_eq!(net.received(0), b"hello");
    assert_eq!(net.received(1), b"hello");
    assert!(net.events.iter().any(|e| e.2 == TcpEvent::Connected(c)));
    assert!(net.events.iter().any(|e| matches!(e.2, TcpEvent::Accepted { listener, peer, .. }
        if listener == l && peer == syn.src)));
    let states: Vec<TcpState> = net.hosts.iter().flat_map(|h| h.sockets().map(|s| s.state)).collect();
    assert_eq!(states, [TcpState::Established, TcpState::Listen, TcpState::Established]);
}

#[test]
fn handshake_ack_alone_when_no_data_is_queued() {
    let mut net = Net::new(1, Duration::from_millis(1));
    net.hosts[1].listen(Some(S), 80).unwrap();
    net.connect(80);
    net.run_until(secs(1.0));
    let kinds: Vec<String> = net.log.iter().map(|l| fl(l.2.flags)).collect();
    assert_eq!(kinds, ["S", "SA", "A"]);
    assert_eq!(net.log[2].2.why, Why::HandshakeAck);
}

fn response_lengths(reply_len: usize, server_route_mss: u16) -> Vec<(String, usize)> {
    let mut net = Net::new(2, Duration::from_millis(1));
    net.route_mss[1] = server_route_mss;
    net.hosts[1].listen(None, 80).unwrap();
    net.app = server_app(Some(vec![7; reply_len]), false, false);
    net.connect(80);
    net.run_until(secs(2.0));
    assert_eq!(net.received(0), vec![7; reply_len]);
    net.sent(1).into_iter().filter(|s| s.2 > 0).map(|s| (s.1, s.2)).collect()
}

#[test]
fn a_10k_response_is_cut_by_the_mss() {
    let segs = response_lengths(10_000, 1460);
    let lens: Vec<usize> = segs.iter().map(|s| s.1).collect();
    assert_eq!(lens, [1460, 1460, 1460, 1460, 1460, 1460, 1240]);
    let flags: Vec<&str> = segs.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(flags, ["A", "A", "A", "A", "A", "A", "PA"], "PSH ends the write");
}

#[test]
fn a_reduced_path_mtu_gives_mss_1440() {
    // The server's route back has PMTU 1480: it advertises and sends MSS 1440.
    let lens: Vec<usize> = response_lengths(10_000, 1440).iter().map(|s| s.1).collect();
    assert_eq!(lens, [1440, 1440, 1440, 1440, 1440, 1440, 1360]);
}

#[test]
fn a_path_mtu_change_resizes_new_segments() {
    let mut net = Net::new(2, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    let c = net.connect(80);
    net.run_until(secs(0.1));
    net.hosts[0].set_path_mtu(net.now, S, 1280);
    net.hosts[0].send(net.now, c, &[1; 3000]);
    net.run_until(secs(0.2));
    let lens: Vec<usize> = net.sent(0).iter().filter(|s| s.2 > 0).map(|s| s.2).collect();
    assert_eq!(lens, [1240, 1240, 520]);
}

#[test]
fn frag_needed_lowers_the_mss_and_resends_at_once() {
    let mut net = Net::new(3, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    net.app = server_app(Some(vec![9; 10_000]), false, false);
    // A tunnel on the path takes 20 bytes: IP packets over 1480 bytes are dropped.
    let too_big = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let tb = too_big.clone();
    net.drop = Box::new(move |_, _, s| {
        let big = s.payload.len() + 40 > 1480;
        if big {
            tb.borrow_mut().push(s.clone());
        }
        big
    });
    net.connect(80);
    net.run_until(secs(0.0035));
    let first = too_big.borrow()[0].clone();
    let (typ, code, mtu, about) = icmp_about(&first, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1480);
    assert_eq!(about.tcp_seq, Some(first.seq));
    let t = net.now;
    net.hosts[1].on_icmp_error(t, typ, code, mtu, &about);
    net.collect();
    let resent: Vec<(usize, Why)> =
        net.log.iter().filter(|l| l.0 == t && l.1 == 1).map(|l| (l.2.payload.len(), l.2.why)).collect();
    assert_eq!(resent[0], (1440, Why::MtuRetransmit { mss: 1440 }));
    assert_eq!(resent[1], (20, Why::MtuRetransmit { mss: 1440 }));
    net.run_until(secs(2.0));
    assert_eq!(net.received(0), vec![9; 10_000]);
    let late_big = net.log.iter().filter(|l| l.0 > t && l.2.payload.len() > 1440).count();
    assert_eq!(late_big, 0, "nothing above the new MSS after the ICMP");
}

fn syn_times(conf: TcpConf) -> (Vec<f64>, Vec<(Instant, CloseReason)>) {
    let mut net = Net::new(4, Duration::from_millis(1));
    *net.hosts[0].conf_mut() = conf;
    net.drop = Box::new(|_, _, _| true);
    net.connect(80);
    net.run_until(secs(300.0));
    let times = net.sent(0).iter().map(|s| s.0.nanos() as f64 / 1e9).collect();
    (times, net.closed(0))
}

#[test]
fn syn_retransmits_at_0_1_3_7_15_31_63_and_fails_at_127s() {
    let (times, closed) = syn_times(TcpConf::default());
    assert_eq!(times, [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]);
    assert_eq!(closed, [(secs(127.0), CloseReason::Timeout)]);
}

#[test]
fn syn_linear_timeouts_as_linux_6_5() {
    let (times, closed) = syn_times(TcpConf { syn_linear_timeouts: 4, ..TcpConf::default() });
    assert_eq!(times, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0]);
    assert_eq!(closed, [(secs(131.0), CloseReason::Timeout)]);
}

#[test]
fn syn_retransmit_says_why() {
    let mut net = Net::new(4, Duration::from_millis(1));
    net.drop = Box::new(|_, _, _| true);
    net.connect(80);
    net.run_until(secs(4.0));
    assert_eq!(net.log[2].2.why.to_string(), "SYN retransmit 2 (RTO 2s expired, next 4s)");
}

#[test]
fn synack_retransmits_then_the_request_is_dropped_at_63s() {
    let mut s = stack(5, "server");
    s.listen(None, 80).unwrap();
    let client = SocketAddrV4::new(C, 40000);
    let srv = SocketAddrV4::new(S, 80);
    feed(&mut s, Instant::ZERO, &raw(client, srv, 1000, 0, TCP_SYN, b""));
    let mut times = vec![];
    let mut now = Instant::ZERO;
    times.extend(out(&mut s).iter().map(|o| (0.0, fl(o.flags))));
    while let Some(t) = s.next_deadline() {
        now = t;
        s.on_timer(t);
        times.extend(out(&mut s).iter().map(|o| (t.nanos() as f64 / 1e9, fl(o.flags))));
    }
    let expect: Vec<(f64, String)> = [0.0, 1.0, 3.0, 7.0, 15.0, 31.0].iter().map(|&t| (t, "SA".into())).collect();
    assert_eq!(times, expect);
    assert_eq!(now, secs(63.0));
    assert_eq!(s.sockets().count(), 1, "only the listener is left");
    assert!(events(&mut s).is_empty(), "the application never heard of it");
    // The client's late ACK now meets the listener: RST.
    feed(&mut s, secs(64.0), &raw(client, srv, 1001, 12345, TCP_ACK, b""));
    let r = out(&mut s);
    assert_eq!((fl(r[0].flags).as_str(), r[0].seq, r[0].why), ("R", 12345, Why::RstListenAck));
}

#[test]
fn a_retransmitted_syn_gets_the_synack_again() {
    let mut s = stack(5, "server");
    s.listen(None, 80).unwrap();
    let (client, srv) = (SocketAddrV4::new(C, 40000), SocketAddrV4::new(S, 80));
    let syn = raw(client, srv, 1000, 0, TCP_SYN, b"");
    feed(&mut s, Instant::ZERO, &syn);
    let first = out(&mut s);
    feed(&mut s, secs(1.0) - Duration::from_millis(1), &syn);
    let again = out(&mut s);
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].seq, again[0].flags, again[0].why), (first[0].seq, first[0].flags, Why::SynAckAgain));
}

#[test]
fn syn_to_a_closed_port_is_refused() {
    let mut net = Net::new(6, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    let c = net.connect(81);
    net.run_until(secs(5.0));
    let syn = net.log[0].2.clone();
    let rst = &net.log[1].2;
    assert_eq!(fl(rst.flags), "RA");
    assert_eq!((rst.seq, rst.ack, rst.window), (0, syn.seq.wrapping_add(1), 0));
    assert_eq!(rst.why.to_string(), "RST: SYN to closed port 10.0.0.2:81 (tcp_v4_send_reset)");
    assert_eq!(net.closed(0), [(secs(0.002), CloseReason::Refused)]);
    assert_eq!(net.hosts[0].state(c), None);
    assert_eq!(net.log.len(), 2, "no retransmission after ECONNREFUSED");
}

#[test]
fn a_stopped_service_refuses_later_syns() {
    let mut net = Net::new(6, Duration::from_millis(1));
    let l = net.hosts[1].listen(None, 80).unwrap();
    net.hosts[1].close_listener(l);
    assert_eq!(net.hosts[1].listen(None, 80).map(|_| ()), Ok(()), "the port is free again");
    let l2 = net.hosts[1].sockets().next().unwrap().id;
    net.hosts[1].close(net.now, l2);
    net.connect(80);
    net.run_until(secs(1.0));
    assert_eq!(net.closed(0).len(), 1);
    assert_eq!(net.closed(0)[0].1, CloseReason::Refused);
}

#[test]
fn stray_ack_gets_rst_with_its_ack_as_seq() {
    let mut s = stack(7, "server");
    let from = SocketAddrV4::new(C, 40000);
    let to = SocketAddrV4::new(S, 80);
    feed(&mut s, Instant::ZERO, &raw(from, to, 5, 777, TCP_ACK | ip::TCP_PSH, b"GET /"));
    let r = out(&mut s);
    assert_eq!(r.len(), 1);
    assert_eq!((fl(r[0].flags).as_str(), r[0].seq, r[0].ack, r[0].src, r[0].dst), ("R", 777, 0, to, from));
    assert_eq!(r[0].why, Why::RstNoSocket { local: to });
    // With a listener on the port, the ACK meets LISTEN: RST as well.
    s.listen(None, 80).unwrap();
    feed(&mut s, Instant::ZERO, &raw(from, to, 5, 778, TCP_ACK, b""));
    let r = out(&mut s);
    assert_eq!((fl(r[0].flags).as_str(), r[0].seq, r[0].why), ("R", 778, Why::RstListenAck));
    // Never a RST to a RST.
    feed(&mut s, Instant::ZERO, &raw(from, to, 5, 778, TCP_RST | TCP_ACK, b""));
    feed(&mut s, Instant::ZERO, &raw(from, SocketAddrV4::new(S, 99), 5, 0, TCP_RST, b""));
    assert!(out(&mut s).is_empty());
}

#[test]
fn lvs_nat_misconfig_synack_from_the_real_server_is_reset() {
    // The director DNATs VIP:80 to RIP:80, but the real server's reply bypasses it
    // (its default route does not point at the director): the client sees a SYN-ACK
    // from RIP:80, a socket it does not have.
    let mut client = stack(8, "client");
    let mut rs = stack(8, "rs");
    rs.listen(None, 80).unwrap();
    let c = client.connect(Instant::ZERO, C, SocketAddrV4::new(VIP, 80), 1460).unwrap();
    let syn = out(&mut client).remove(0);
    let mut dnat = syn.clone();
    dnat.dst = SocketAddrV4::new(S, 80);
    feed(&mut rs, secs(0.001), &dnat);
    let synack = out(&mut rs).remove(0);
    assert_eq!(synack.src, SocketAddrV4::new(S, 80));
    feed(&mut client, secs(0.002), &synack);
    let rst = out(&mut client);
    assert_eq!(rst.len(), 1);
    assert_eq!((fl(rst[0].flags).as_str(), rst[0].seq), ("R", synack.ack));
    assert_eq!(rst[0].seq, syn.seq.wrapping_add(1));
    assert_eq!(
        rst[0].why.to_string(),
        format!("RST: unexpected SYN-ACK, no socket for {} (tcp_v4_send_reset)", syn.src)
    );
    assert_eq!(client.state(c), Some(TcpState::SynSent), "the connect to the VIP goes on");
    // The RST kills the real server's half-open connection.
    feed(&mut rs, secs(0.003), &rst[0]);
    assert!(out(&mut rs).is_empty());
    assert_eq!(rs.sockets().map(|s| s.state).collect::<Vec<_>>(), [TcpState::Listen]);
    // And the client keeps retrying the VIP until ETIMEDOUT.
    client.on_timer(secs(1.0));
    assert_eq!(out(&mut client)[0].dst, SocketAddrV4::new(VIP, 80));
}

#[test]
fn crossed_syns_make_a_simultaneous_open() {
    let mut client = stack(9, "client");
    let dst = SocketAddrV4::new(S, 80);
    let c = client.connect(Instant::ZERO, C, dst, 1460).unwrap();
    let syn = out(&mut client).remove(0);
    feed(&mut client, secs(0.1), &raw(dst, syn.src, 5000, 0, TCP_SYN, b""));
    let sa = out(&mut client);
    assert_eq!((fl(sa[0].flags).as_str(), sa[0].seq, sa[0].ack), ("SA", syn.seq, 5001));
    assert_eq!(client.state(c), Some(TcpState::SynRecv));
    feed(&mut client, secs(0.2), &raw(dst, syn.src, 5001, syn.seq.wrapping_add(1), TCP_ACK, b""));
    assert_eq!(events(&mut client), [TcpEvent::Connected(c)]);
    assert_eq!(client.state(c), Some(TcpState::Established));
}

#[test]
fn synack_with_a_bad_ack_in_syn_sent_is_reset_and_the_syn_retried_soon() {
    let mut client = stack(9, "client");
    let dst = SocketAddrV4::new(S, 80);
    let c = client.connect(Instant::ZERO, C, dst, 1460).unwrap();
    let syn = out(&mut client).remove(0);
    let bad = raw(dst, syn.src, 5000, syn.seq.wrapping_add(10), TCP_SYN | TCP_ACK, b"");
    feed(&mut client, secs(0.5), &bad);
    let r = out(&mut client);
    assert_eq!((fl(r[0].flags).as_str(), r[0].seq), ("R", syn.seq.wrapping_add(10)));
    assert!(matches!(r[0].why, Why::RstSynSentBadAck { .. }));
    assert_eq!(client.state(c), Some(TcpState::SynSent));
    assert_eq!(client.next_deadline(), Some(secs(0.502)), "TCP_TIMEOUT_MIN");
}

#[test]
fn rst_outcomes_refused_reset_and_challenge() {
    let dst = SocketAddrV4::new(S, 80);
    // RST|ACK acking our SYN: ECONNREFUSED.
    let mut client = stack(10, "client");
    let c = client.connect(Instant::ZERO, C, dst, 1460).unwrap();
    let syn = out(&mut client).remove(0);
    feed(&mut client, secs(0.1), &raw(dst, syn.src, 0, syn.seq.wrapping_add(1), TCP_RST | TCP_ACK, b""));
    assert_eq!(events(&mut client), [TcpEvent::Closed(c, CloseReason::Refused)]);
    assert!(out(&mut client).is_empty());
    // A RST without ACK in SYN_SENT is ignored.
    let c = client.connect(Instant::ZERO, C, dst, 1460).unwrap();
    let syn = out(&mut client).remove(0);
    feed(&mut client, secs(0.1), &raw(dst, syn.src, 0, 0, TCP_RST, b""));
    assert_eq!(client.state(c), Some(TcpState::SynSent));

    // Established: RST at rcv_nxt resets; in window elsewhere: challenge ACK; outside: nothing.
    let mut net = Net::new(10, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    let c = net.connect(80);
    net.run_until(secs(1.0));
    let synack = net.log[1].2.clone();
    let (srv, cli) = (synack.src, synack.dst);
    let rcv_nxt = synack.seq.wrapping_add(1);
    let client = &mut net.hosts[0];
    feed(client, secs(1.0), &raw(srv, cli, rcv_nxt.wrapping_add(100_000), 0, TCP_RST, b""));
    assert!(out(client).is_empty());
    feed(client, secs(1.0), &raw(srv, cli, rcv_nxt.wrapping_add(10), 0, TCP_RST, b""));
    let ch = out(client);
    assert_eq!((fl(ch[0].flags).as_str(), ch[0].ack, ch[0].why), ("A", rcv_nxt, Why::ChallengeAck));
    assert_eq!(client.state(c), Some(TcpState::Established));
    feed(client, secs(1.1), &raw(srv, cli, rcv_nxt, 0, TCP_RST, b""));
    assert!(out(client).is_empty());
    assert_eq!(events(client).last(), Some(&TcpEvent::Closed(c, CloseReason::Reset)));
    assert_eq!(client.state(c), None);
}

#[test]
fn a_syn_to_an_established_socket_gets_a_challenge_ack() {
    let mut net = Net::new(11, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    net.connect(80);
    net.run_until(secs(1.0));
    let syn = net.log[0].2.clone();
    let server = &mut net.hosts[1];
    feed(server, secs(1.0), &raw(syn.src, syn.dst, syn.seq.wrapping_add(999_999), 0, TCP_SYN, b""));
    let r = out(server);
    assert_eq!((fl(r[0].flags).as_str(), r[0].why), ("A", Why::ChallengeAck));
    // Rate limited: a second one within 500 ms is not answered.
    feed(server, secs(1.2), &raw(syn.src, syn.dst, syn.seq.wrapping_add(999_999), 0, TCP_SYN, b""));
    assert!(out(server).is_empty());
}

#[test]
fn icmp_port_unreachable_refuses_the_connect() {
    let mut client = stack(12, "client");
    let c = client.connect(Instant::ZERO, C, SocketAddrV4::new(S, 80), 1460).unwrap();
    let syn = out(&mut client).remove(0);
    let (typ, code, mtu, about) = icmp_about(&syn, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
    client.on_icmp_error(secs(0.001), typ, code, mtu, &about);
    assert_eq!(events(&mut client), [TcpEvent::Closed(c, CloseReason::Refused)]);
    assert_eq!(client.next_deadline(), None);
}

#[test]
fn icmp_about_another_sequence_number_is_ignored() {
    let mut client = stack(12, "client");
    let c = client.connect(Instant::ZERO, C, SocketAddrV4::new(S, 80), 1460).unwrap();
    let mut syn = out(&mut client).remove(0);
    syn.seq = syn.seq.wrapping_add(5000);
    let (typ, code, mtu, about) = icmp_about(&syn, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
    client.on_icmp_error(secs(0.001), typ, code, mtu, &about);
    assert_eq!(client.state(c), Some(TcpState::SynSent));
}

#[test]
fn host_unreachable_ends_a_connect_at_once() {
    // tcp_v4_err: in SYN_SENT every error it handles ends the connect, even the
    // "soft" host unreachable (curl: "Failed to connect: No route to host").
    let mut client = stack(13, "client");
    let c = client.connect(Instant::ZERO, C, SocketAddrV4::new(S, 80), 1460).unwrap();
    let syn = out(&mut client).remove(0);
    let (typ, code, mtu, about) = icmp_about(&syn, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0);
    client.on_icmp_error(secs(3.0), typ, code, mtu, &about);
    assert_eq!(events(&mut client), [TcpEvent::Closed(c, CloseReason::Unreachable)]);
    assert_eq!(client.state(c), None);
    assert_eq!(client.next_deadline(), None);
}

#[test]
fn host_unreachable_for_each_retransmission_reverts_the_backoff() {
    // RFC 6069 (tcp_ld_RTO_revert): on an established connection an unreachable
    // about a retransmitted head segment undoes one doubling, so retransmissions
    // into a dead path keep the base RTO instead of backing off.
    let mut net = Net::new(13, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    let c = net.connect(80);
    net.run_until(secs(0.1));
    assert_eq!(net.hosts[0].state(c), Some(TcpState::Established));
    net.drop = Box::new(|_, h, _| h == 0);
    net.hosts[0].send(net.now, c, b"GET / HTTP/1.0\r\n\r\n");
    let mut seen = net.log.len();
    let mut times = vec![];
    while times.len() < 6 {
        net.collect();
        let new: Vec<(Instant, usize, SegOut)> = net.log[seen..].to_vec();
        seen = net.log.len();
        for (t, h, seg) in new {
            if h == 0 && !seg.payload.is_empty() {
                times.push(t);
                let (typ, code, mtu, about) = icmp_about(&seg, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0);
                net.hosts[0].on_icmp_error(t, typ, code, mtu, &about);
            }
        }
        let next = net.hosts[0].next_deadline().expect("retransmission timer");
        net.run_until(next);
    }
    assert_eq!(net.hosts[0].state(c), Some(TcpState::Established), "a soft error once established");
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1].since(w[0])).collect();
    assert!(gaps.iter().all(|g| *g == gaps[0]), "no backoff: {gaps:?}");
}

/// Runs a request/response exchange and a close in the given order; returns the net.
fn close_scenario(client_closes_first: bool, peer_closes_on_eof: bool) -> Net {
    let mut net = Net::new(14, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    net.app = Box::new(move |h, now, ev, s| match (h, ev) {
        (1, TcpEvent::Data(id, _)) => {
            s.send(now, *id, b"HTTP/1.0 200 OK\r\n\r\nhi");
            if !client_closes_first {
                s.close(now, *id);
            }
        }
        (0, TcpEvent::Data(id, _)) if client_closes_first => s.close(now, *id),
        (_, TcpEvent::PeerClosed(id)) if peer_closes_on_eof => s.close(now, *id),
        _ => {}
    });
    let c = net.connect(80);
    net.hosts[0].send(net.now, c, b"GET / HTTP/1.0\r\n\r\n");
    net.run_until(secs(0.1));
    net
}

fn time_wait_left(net: &Net, h: usize) -> bool {
    net.hosts[h].sockets().any(|s| s.state == TcpState::TimeWait)
}

#[test]
fn client_closes_first_three_segment_close_and_time_wait_60s() {
    let mut net = close_scenario(true, true);
    let tail: Vec<String> = net.log.iter().rev().take(3).rev().map(|l| format!("{}{}", l.1, fl(l.2.flags))).collect();
    assert_eq!(tail, ["0FA", "1FA", "0A"], "the server's FIN carries the ACK of the client's FIN");
    let tw_start = net.log.last().unwrap().0;
    assert_eq!(net.closed(1).len(), 1);
    assert_eq!(net.closed(0), [(tw_start, CloseReason::Normal)]);
    assert!(time_wait_left(&net, 0));
    net.run_until(tw_start + Duration::from_secs(60) - Duration::from_nanos(1));
    assert!(time_wait_left(&net, 0), "TIME_WAIT lasts TCP_TIMEWAIT_LEN");
    net.run_until(tw_start + Duration::from_secs(60));
    assert!(!time_wait_left(&net, 0));
    assert_eq!(net.hosts[0].sockets().count(), 0);
    assert_eq!(net.hosts[1].sockets().count(), 1, "the server is back to its listener");
}

#[test]
fn server_closes_first_and_keeps_the_time_wait() {
    let mut net = close_scenario(false, true);
    let kinds: Vec<String> = net.log.iter().map(|l| format!("{}{}", l.1, fl(l.2.flags))).collect();
    // The response left before close(), so the FIN is a segment of its own
    // (tcp_send_fin finds the tail skb sent); the client's FIN carries its ACK.
    assert_eq!(kinds, ["0S", "1SA", "0PA", "1A", "1PA", "1FA", "0A", "0FA", "1A"]);
    assert_eq!(net.received(0), b"HTTP/1.0 200 OK\r\n\r\nhi");
    assert!(time_wait_left(&net, 1));
    assert_eq!(net.closed(0).len(), 1);
    let tw_start = net.log.last().unwrap().0;
    net.run_until(tw_start + Duration::from_secs(60));
    assert!(!time_wait_left(&net, 1));
}

#[test]
fn fin_ack_is_delayed_40ms_when_the_application_does_not_close() {
    let mut net = close_scenario(true, false);
    let fin_at = net.log.iter().find(|l| l.1 == 0 && l.2.flags & TCP_FIN != 0).unwrap().0;
    let ack = net.log.iter().find(|l| l.1 == 1 && l.0 > fin_at).unwrap();
    assert_eq!(
        (ack.0, fl(ack.2.flags).as_str(), ack.2.why),
        (fin_at + Duration::from_millis(41), "A", Why::DelayedAck)
    );
    let states: Vec<TcpState> = net.hosts.iter().flat_map(|h| h.sockets().map(|s| s.state)).collect();
    assert_eq!(states, [TcpState::FinWait2, TcpState::Listen, TcpState::CloseWait]);
    // The orphaned FIN_WAIT2 gives up after tcp_fin_timeout.
    net.run_until(secs(70.0));
    assert_eq!(net.hosts[0].sockets().count(), 0);
    assert_eq!(net.closed(0).len(), 1);
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let mut net = Net::new(15, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    let c = net.connect(80);
    net.run_until(secs(0.1));
    let s = net.hosts[1].sockets().find(|s| s.state == TcpState::Established).unwrap().id;
    net.hosts[0].close(net.now, c);
    net.hosts[1].close(net.now, s);
    net.collect();
    assert_eq!(net.hosts[0].state(c), Some(TcpState::FinWait1));
    net.run_until(secs(0.1011));
    assert_eq!(net.hosts[0].state(c), Some(TcpState::Closing));
    net.run_until(secs(1.0));
    assert!(time_wait_left(&net, 0) && time_wait_left(&net, 1));
    assert_eq!(net.closed(0), [(secs(0.102), CloseReason::Normal)]);
}

#[test]
fn data_after_close_is_answered_with_rst() {
    let mut net = Net::new(16, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    let c = net.connect(80);
    net.run_until(secs(0.1));
    let s = net.hosts[1].sockets().find(|s| s.state == TcpState::Established).unwrap().id;
    net.hosts[0].close(net.now, c);
    net.run_until(secs(0.2));
    assert_eq!(net.hosts[0].state(c), Some(TcpState::FinWait2));
    net.hosts[1].send(net.now, s, b"late");
    net.run_until(secs(0.3));
    let rst = net.log.iter().find(|l| l.2.flags & TCP_RST != 0).unwrap();
    assert_eq!((rst.1, rst.2.why), (0, Why::RstDataAfterClose));
    assert_eq!(net.closed(1), [(secs(0.202), CloseReason::Reset)]);
}

#[test]
fn abort_sends_rst_ack() {
    let mut net = Net::new(17, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    let c = net.connect(80);
    net.run_until(secs(0.1));
    net.hosts[0].abort(net.now, c);
    net.run_until(secs(0.2));
    let last = &net.log.last().unwrap().2;
    assert_eq!((fl(last.flags).as_str(), last.why), ("RA", Why::RstAbort));
    assert_eq!(net.closed(0), [(secs(0.1), CloseReason::Aborted)]);
    assert_eq!(net.closed(1), [(secs(0.101), CloseReason::Reset)]);
    // Aborting a connect in progress sends nothing (tcp_need_reset).
    let c2 = net.connect(81);
    let n = net.log.len();
    net.hosts[0].abort(net.now, c2);
    net.collect();
    assert_eq!(net.log.len(), n);
}

#[test]
fn retransmission_after_loss_backs_off_and_gives_up_after_tcp_retries2() {
    // No delay: the handshake RTT is 0, so the RTO is TCP_RTO_MIN, 200 ms.
    let mut net = Net::new(18, Duration::ZERO);
    net.hosts[1].listen(None, 80).unwrap();
    let c = net.connect(80);
    net.run_until(secs(1.0));
    net.drop = Box::new(|_, h, _| h == 0);
    net.hosts[0].send(net.now, c, b"ping");
    net.run_until(secs(2000.0));
    let sends: Vec<f64> = net
        .sent(0)
        .iter()
        .filter(|s| s.2 == 4)
        .map(|s| ((s.0.nanos() as f64 / 1e9 - 1.0) * 1e3).round() / 1e3)
        .collect();
    assert_eq!(
        sends,
        [0.0, 0.2, 0.6, 1.4, 3.0, 6.2, 12.6, 25.4, 51.0, 102.2, 204.6, 324.6, 444.6, 564.6, 684.6, 804.6],
        "15 retransmissions, RTO doubling from 200 ms up to TCP_RTO_MAX"
    );
    assert_eq!(net.closed(0), [(secs(925.6), CloseReason::Timeout)], "tcp_retries2=15: 924.6 s");
}

#[test]
fn a_lost_segment_is_retransmitted_and_the_data_arrives() {
    let mut net = Net::new(19, Duration::from_millis(5));
    net.hosts[1].listen(None, 80).unwrap();
    net.app = server_app(None, true, false);
    let c = net.connect(80);
    net.run_until(secs(1.0));
    let mut dropped = 0;
    net.drop = Box::new(move |_, h, s| {
        let lose = h == 0 && !s.payload.is_empty() && dropped < 2;
        dropped += u32::from(lose);
        lose
    });
    net.hosts[0].send(net.now, c, b"ping");
    net.run_until(secs(5.0));
    assert_eq!(net.received(1), b"ping");
    let sends: Vec<(f64, Why)> = net
        .log
        .iter()
        .filter(|l| l.1 == 0 && l.2.payload.len() == 4)
        .map(|l| (((l.0.nanos() as f64 / 1e9) - 1.0) * 1e3, l.2.why))
        .collect();
    // srtt 10 ms → RTO = 10 + 200 = 210 ms, then doubled; no RTT sample from a
    // retransmission (Karn).
    assert_eq!(sends[0], (0.0, Why::Data));
    assert_eq!(sends[1].0.round(), 210.0);
    assert_eq!(sends[2].0.round(), 630.0);
    assert!(matches!(sends[2].1, Why::Retransmit { what: "data", n: 2, .. }));
}

#[test]
fn three_dup_acks_trigger_a_fast_retransmit() {
    let mut net = Net::new(20, Duration::from_millis(5));
    net.hosts[1].listen(None, 80).unwrap();
    net.app = server_app(Some(vec![3; 10 * 1460]), false, false);
    let mut first = true;
    net.drop = Box::new(move |_, h, s| {
        let lose = h == 1 && s.payload.len() == 1460 && first;
        first &= !lose;
        lose
    });
    net.connect(80);
    net.run_until(secs(2.0));
    assert_eq!(net.received(0), vec![3; 10 * 1460]);
    let fr = net.log.iter().find(|l| l.2.why == Why::FastRetransmit).expect("fast retransmit");
    assert!(fr.0 < secs(0.03), "well before any RTO: {}", fr.0);
    let dups = net.log.iter().filter(|l| l.1 == 0 && l.2.why == Why::DupAck).count();
    assert!(dups >= 3);
}

#[test]
fn nagle_holds_a_second_small_write_until_the_ack() {
    let mut net = Net::new(21, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    let c = net.connect(80);
    net.run_until(secs(0.1));
    net.hosts[0].send(net.now, c, b"a");
    net.hosts[0].send(net.now, c, b"b");
    net.hosts[0].send(net.now, c, b"c");
    net.run_until(secs(0.2));
    let data: Vec<(Instant, usize)> = net.sent(0).iter().filter(|s| s.2 > 0).map(|s| (s.0, s.2)).collect();
    assert_eq!(data, [(secs(0.1), 1), (secs(0.102), 2)]);
    assert_eq!(net.received(1), b"abc");
}

#[test]
fn zero_window_probes_until_the_window_opens() {
    let mut client = stack(22, "client");
    let dst = SocketAddrV4::new(S, 80);
    let c = client.connect(Instant::ZERO, C, dst, 1460).unwrap();
    let syn = out(&mut client).remove(0);
    let mut synack = raw(dst, syn.src, 7000, syn.seq.wrapping_add(1), TCP_SYN | TCP_ACK, b"");
    synack.window = 0;
    feed(&mut client, Instant::ZERO, &synack);
    out(&mut client);
    client.send(Instant::ZERO, c, b"data");
    assert!(out(&mut client).is_empty(), "the peer's window is closed");
    let mut probes = vec![];
    for _ in 0..3 {
        let t = client.next_deadline().unwrap();
        client.on_timer(t);
        let o = out(&mut client);
        assert_eq!((o[0].seq, o[0].payload.len(), o[0].why), (syn.seq, 0, Why::WindowProbe));
        probes.push(t);
    }
    assert_eq!(probes, [secs(0.2), secs(0.6), secs(1.4)]);
    let mut open = raw(dst, syn.src, 7001, syn.seq.wrapping_add(1), TCP_ACK, b"");
    open.window = 1000;
    feed(&mut client, secs(1.5), &open);
    let o = out(&mut client);
    assert_eq!(o[0].payload, b"data");
}

#[test]
fn out_of_order_data_is_held_and_delivered_in_order() {
    let mut net = Net::new(23, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    let c = net.connect(80);
    net.run_until(secs(0.1));
    let syn = net.log[0].2.clone();
    let synack = net.log[1].2.clone();
    let (cli, srv) = (syn.src, syn.dst);
    let seq = syn.seq.wrapping_add(1);
    let ack = synack.seq.wrapping_add(1);
    let server = &mut net.hosts[1];
    feed(server, secs(0.2), &raw(cli, srv, seq.wrapping_add(3), ack, TCP_ACK, b"def"));
    let o = out(server);
    assert_eq!((o[0].ack, o[0].why), (seq, Why::DupAck));
    feed(server, secs(0.2), &raw(cli, srv, seq, ack, TCP_ACK, b"abc"));
    let o = out(server);
    assert_eq!(o[0].ack, seq.wrapping_add(6));
    let data: Vec<u8> = events(server)
        .into_iter()
        .filter_map(|e| match e {
            TcpEvent::Data(_, d) => Some(d),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(data, b"abcdef");
    let _ = c;
}

#[test]
fn time_wait_accepts_a_new_syn_with_a_higher_sequence() {
    let mut net = close_scenario(false, true);
    assert!(time_wait_left(&net, 1));
    let syn = net.log[0].2.clone();
    let tw_snd_nxt = net.log.iter().rev().find(|l| l.1 == 1).unwrap().2.seq;
    let server = &mut net.hosts[1];
    feed(server, secs(1.0), &raw(syn.src, syn.dst, syn.seq.wrapping_add(100_000), 0, TCP_SYN, b""));
    let o = out(server);
    assert_eq!(fl(o[0].flags), "SA");
    assert_eq!(o[0].seq, tw_snd_nxt.wrapping_add(65537), "isn = tw_snd_nxt + 65535 + 2");
    // An old duplicate (lower sequence) gets only an ACK from TIME_WAIT.
    let mut net = close_scenario(false, true);
    let server = &mut net.hosts[1];
    feed(server, secs(1.0), &raw(syn.src, syn.dst, syn.seq, 0, TCP_SYN, b""));
    assert_eq!(out(server)[0].why, Why::TimeWaitAck);
    // With the service gone, a new SYN is ACKed from TIME_WAIT too, which stays.
    let l = server.sockets().find(|s| s.state == TcpState::Listen).unwrap().id;
    server.close_listener(l);
    feed(server, secs(1.0), &raw(syn.src, syn.dst, syn.seq.wrapping_add(100_000), 0, TCP_SYN, b""));
    let o = out(server);
    assert_eq!((o.len(), fl(o[0].flags).as_str(), o[0].why), (1, "A", Why::TimeWaitAck));
    assert!(time_wait_left(&net, 1));
}

#[test]
fn listen_conflicts_and_ephemeral_ports() {
    let mut s = stack(24, "h");
    s.listen(Some(S), 80).unwrap();
    assert_eq!(s.listen(None, 80), Err(TcpError::AddrInUse));
    assert_eq!(s.listen(Some(S), 80), Err(TcpError::AddrInUse));
    s.listen(Some(C), 80).unwrap();
    s.listen(None, 8080).unwrap();
    assert_eq!(s.listen(Some(C), 8080), Err(TcpError::AddrInUse));

    let mut ports = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let id = s.connect(Instant::ZERO, C, SocketAddrV4::new(S, 80), 1460).unwrap();
        let p = s.sockets().find(|i| i.id == id).unwrap().local.port();
        assert!((32768..=60999).contains(&p) && p % 2 == 0, "even ports first: {p}");
        assert!(ports.insert(p), "unique");
    }
    // A tiny range runs out: EADDRNOTAVAIL.
    let mut t = stack(24, "h2");
    t.conf_mut().local_port_range = (40000, 40001);
    let d = SocketAddrV4::new(S, 80);
    t.connect(Instant::ZERO, C, d, 1460).unwrap();
    t.connect(Instant::ZERO, C, d, 1460).unwrap();
    assert_eq!(t.connect(Instant::ZERO, C, d, 1460), Err(TcpError::AddrNotAvail));
}

fn transcript(seed: u64) -> Vec<String> {
    let mut net = close_scenario_seeded(seed);
    net.run_until(secs(100.0));
    net.log.iter().map(|l| format!("{} {} {:?}", l.0, l.1, l.2)).collect()
}

fn close_scenario_seeded(seed: u64) -> Net {
    let mut net = Net::new(seed, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    net.app = server_app(Some(vec![1; 5000]), false, true);
    let c = net.connect(80);
    net.hosts[0].send(net.now, c, b"x");
    net.run_until(secs(0.05));
    net.hosts[0].close(net.now, c);
    net
}

#[test]
fn same_seed_same_segments() {
    let a = transcript(99);
    assert_eq!(a, transcript(99));
    assert_ne!(a, transcript(100));
}

#[test]
fn timers_stay_consistent_through_many_connections() {
    let mut net = Net::new(25, Duration::from_millis(1));
    net.hosts[1].listen(None, 80).unwrap();
    // Servers answer and close; clients close on EOF.
    net.app = Box::new(|h, now, ev, s| match (h, ev) {
        (1, TcpEvent::Accepted { id, .. }) => {
            s.send(now, *id, &[5; 3000]);
            s.close(now, *id);
        }
        (0, TcpEvent::PeerClosed(id)) => s.close(now, *id),
        _ => {}
    });
    for i in 0..20 {
        net.run_until(secs(0.01 * f64::from(i)));
        net.connect(80);
    }
    net.run_until(secs(200.0));
    assert_eq!(net.closed(0).len(), 20);
    assert!(net.closed(0).iter().all(|c| c.1 == CloseReason::Normal));
    assert_eq!(net.hosts[0].sockets().count(), 0);
    assert_eq!(net.hosts[1].sockets().count(), 1);
    assert_eq!(net.hosts[0].next_deadline(), None);
    assert_eq!(net.hosts[1].next_deadline(), None);
}

/// A stack with a listener, an established passive connection, a pending request,
/// an active connection in SYN_SENT, one established with data in flight and one in
/// TIME_WAIT: every kind of socket arbitrary segments can hit.
fn fuzz_target() -> (TcpStack, Vec<(SocketAddrV4, SocketAddrV4, u32, u32)>) {
    let mut s = stack(26, "fuzz");
    s.listen(None, 80).unwrap();
    let peer = SocketAddrV4::new(C, 40000);
    let srv = SocketAddrV4::new(S, 80);
    feed(&mut s, Instant::ZERO, &raw(peer, srv, 100, 0, TCP_SYN, b""));
    let sa = out(&mut s).remove(0);
    feed(&mut s, Instant::ZERO, &raw(peer, srv, 101, sa.seq.wrapping_add(1), TCP_ACK, b"GET"));
    let c = s.connect(Instant::ZERO, S, SocketAddrV4::new(C, 22), 1460).unwrap();
    let syn = out(&mut s).remove(0);
    let c2 = s.connect(Instant::ZERO, S, SocketAddrV4::new(C, 23), 1460).unwrap();
    let syn2 = out(&mut s).remove(0);
    let remote2 = SocketAddrV4::new(C, 23);
    feed(&mut s, Instant::ZERO, &raw(remote2, syn2.src, 5000, syn2.seq.wrapping_add(1), TCP_SYN | TCP_ACK, b""));
    s.send(Instant::ZERO, c2, &[1; 4000]);
    let pending = SocketAddrV4::new(C, 40001);
    feed(&mut s, Instant::ZERO, &raw(pending, srv, 300, 0, TCP_SYN, b""));
    let sa2 = out(&mut s).remove(0);
    let c3 = s.connect(Instant::ZERO, S, SocketAddrV4::new(C, 24), 1460).unwrap();
    let syn3 = out(&mut s).remove(0);
    let remote3 = SocketAddrV4::new(C, 24);
    let ack3 = syn3.seq.wrapping_add(1);
    feed(&mut s, Instant::ZERO, &raw(remote3, syn3.src, 800, ack3, TCP_SYN | TCP_ACK, b""));
    s.close(Instant::ZERO, c3);
    feed(&mut s, Instant::ZERO, &raw(remote3, syn3.src, 801, ack3.wrapping_add(1), TCP_FIN | TCP_ACK, b""));
    assert_eq!(s.sockets().filter(|i| i.state == TcpState::TimeWait).count(), 1);
    out(&mut s);
    events(&mut s);
    let _ = c;
    let flows = vec![
        (peer, srv, 104, sa.seq.wrapping_add(1)),
        (SocketAddrV4::new(C, 22), syn.src, 0, syn.seq.wrapping_add(1)),
        (remote2, syn2.src, 5001, syn2.seq.wrapping_add(1)),
        (SocketAddrV4::new(C, 9), SocketAddrV4::new(S, 7), 0, 0),
        (pending, srv, 301, sa2.seq.wrapping_add(1)),
        (remote3, syn3.src, 802, ack3.wrapping_add(1)),
    ];
    (s, flows)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_segments_never_panic_nor_answer_rst_with_rst(
        segs in proptest::collection::vec(
            (0usize..6, any::<u8>(), -70_000i64..70_000, -70_000i64..70_000, any::<u16>(),
             proptest::collection::vec(any::<u8>(), 0..40), 0u64..3_000_000, any::<bool>()),
            1..40),
    ) {
        let (mut s, flows) = fuzz_target();
        let mut now = Instant::ZERO;
        for (flow, flags, dseq, dack, window, payload, dt, wild) in segs {
            now += Duration::from_micros(dt);
            if s.next_deadline().is_some_and(|t| t <= now) {
                s.on_timer(now);
            }
            out(&mut s);
            let (src, dst, seq, ack) = flows[flow];
            let (seq, ack) = if wild {
                (dseq as u32, dack as u32)
            } else {
                (seq.wrapping_add(dseq as u32), ack.wrapping_add(dack as u32))
            };
            let flags = flags & 0x3f;
            let mut seg = raw(src, dst, seq, ack, flags, &payload);
            seg.window = window;
            feed(&mut s, now, &seg);
            let replies = out(&mut s);
            if flags & TCP_RST != 0 {
                prop_assert!(replies.iter().all(|r| r.flags & TCP_RST == 0), "RST answered with RST: {:?}", replies);
            }
            for r in &replies {
                prop_assert!(r.payload.len() <= 1460);
            }
            events(&mut s);
            let _ = s.sockets().count();
        }
        // Timers still run to completion.
        let mut n = 0;
        while let Some(t) = s.next_deadline() {
            prop_assert!(t >= now);
            now = t;
            s.on_timer(t);
            out(&mut s);
            n += 1;
            prop_assert!(n < 10_000, "timers never settle");
        }
    }
}
