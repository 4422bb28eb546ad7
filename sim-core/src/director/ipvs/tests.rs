//! The packet path end to end: frames in through the hooks, frames and verdicts
//! out, configured with ipvsadm command lines.

use super::*;
use crate::director::ipvsadm;
use crate::node::Outbox;
use crate::stack::hooks::{DevId, HookEnv, HookPoint, HookVerdict, Hooked, PacketMeta, RouteInfo};
use crate::wire::ip::{IpHdr, Ipv4, L4, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Tcp, Udp, build};
use crate::wire::{ETH_HLEN, IPPROTO_ICMP, IPPROTO_IPIP, IPPROTO_TCP, IPPROTO_UDP};
use std::net::Ipv4Addr;

pub(super) const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(super) const DIP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
pub(super) const RS1: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 11);
pub(super) const RS2: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 12);
pub(super) const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 10);

/// The director's routes: VIP and DIP local; 192.168.1.0/24 on eth1 (MTU 1500);
/// everything else via 10.0.0.254 on eth0; 172.31.0.0/16 unreachable.
pub(super) struct Env {
    pub mtu: u32,
}

impl HookEnv for Env {
    fn route(&self, dst: Ipv4Addr) -> Option<RouteInfo> {
        let o = dst.octets();
        if self.is_local(dst) {
            return Some(RouteInfo {
                dev: DevId(0),
                gateway: None,
                src: dst,
                mtu: 65536,
                local: true,
                expires: Instant::MAX,
            });
        }
        if o[0] == 172 && o[1] == 31 {
            return None;
        }
        if o[..3] == [192, 168, 1] {
            return Some(RouteInfo {
                dev: DevId(2),
                gateway: None,
                src: DIP,
                mtu: self.mtu,
                local: false,
                expires: Instant::MAX,
            });
        }
        Some(RouteInfo {
            dev: DevId(1),
            gateway: Some(Ipv4Addr::new(10, 0, 0, 254)),
            src: Ipv4Addr::new(10, 0, 0, 2),
            mtu: 1500,
            local: false,
            expires: Instant::MAX,
        })
    }
    /// Routes change only with the MTU given.
    fn route_genid(&self) -> u64 {
        u64::from(self.mtu)
    }
    fn is_local(&self, a: Ipv4Addr) -> bool {
        a == VIP || a == DIP || a.is_loopback() || a == Ipv4Addr::new(10, 0, 0, 2)
    }
}

pub(super) fn ipvs() -> Ipvs {
    Ipvs::new(crate::rng::stream(1, "ipvs:test"))
}

/// Runs one ipvsadm command line; panics on failure.
pub(super) fn adm(v: &mut Ipvs, now: Instant, line: &str) -> String {
    let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
    match ipvsadm::ipvsadm(v, now, &argv, None) {
        Ok(s) => s,
        Err(e) => panic!("{line}: {} (status {})", e.message, e.status),
    }
}

pub(super) fn tcp_frame(s: (Ipv4Addr, u16), d: (Ipv4Addr, u16), flags: u8, payload: &[u8]) -> Vec<u8> {
    let h = IpHdr::new(s.0, d.0, IPPROTO_TCP);
    build(&h, &L4::Tcp { sport: s.1, dport: d.1, seq: 1000, ack: 0, flags, window: 65535, mss: None, payload })
}

pub(super) fn udp_frame(s: (Ipv4Addr, u16), d: (Ipv4Addr, u16), payload: &[u8]) -> Vec<u8> {
    let h = IpHdr::new(s.0, d.0, IPPROTO_UDP);
    build(&h, &L4::Udp { sport: s.1, dport: d.1, payload })
}

pub(super) fn meta(hook: HookPoint) -> PacketMeta {
    let in_dev = if hook == HookPoint::LocalOut { None } else { Some(0) };
    PacketMeta { hook, in_dev, mark: 0 }
}

/// Feeds a frame through a hook: (verdict, the frame as left in place).
pub(super) fn feed(v: &mut Ipvs, now: Instant, hook: HookPoint, mut f: Vec<u8>) -> (HookVerdict, Vec<u8>) {
    let mut out = Outbox::new(true);
    let r = v.hook(now, meta(hook), &mut f, &Env { mtu: 1500 }, &mut out);
    (r, f)
}

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// The transmitted frame, its device and next hop.
fn tx((r, frame): (HookVerdict, Vec<u8>)) -> (DevId, Ipv4Addr, Vec<u8>) {
    match r {
        HookVerdict::Transmit { dev, next_hop } => (dev, next_hop, frame),
        other => panic!("expected Transmit, got {other:?}"),
    }
}

/// (active, inactive, persistent) of the dest with address `a`.
fn counts(v: &Ipvs, a: Ipv4Addr) -> (i32, i32, i32) {
    let d = v.dests.iter().rev().find(|d| d.addr == a).expect("dest");
    (d.activeconns, d.inactconns, d.persistconns)
}

/// State name and seconds to expiry of the only entry that is not a template.
fn conn_state(v: &Ipvs, now: Instant) -> (String, u64) {
    let e = v.conn_entries(now).into_iter().find(|c| !c.template).expect("connection");
    (e.state.to_string(), e.expires_ms / 1000)
}

#[test]
fn nat_trace_matches_reference() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s wlc");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11:8080 -m");
    let c = (CLIENT, 40000);
    let rs = (RS1, 8080);
    // 1. In SYN: DNAT to the real server; SYN_RECV 60 s, A1 I0.
    let (dev, nh, f) = tx(feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b"")));
    assert_eq!((dev, nh), (DevId(2), RS1));
    let ip = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
    assert!(ip.l4_checksum_ok());
    assert_eq!((ip.src, ip.dst, ip.ttl), (CLIENT, RS1, 63));
    assert_eq!(Tcp::parse(ip.payload).unwrap().dport, 8080);
    assert_eq!(conn_state(&v, t(0)), ("SYN_RECV".into(), 60));
    assert_eq!(counts(&v, RS1), (1, 0, 0));
    // 2. Out SYN+ACK (forwarded through the director): source back to the VIP.
    let (r, f) = feed(&mut v, t(1), HookPoint::Forward, tcp_frame(rs, c, TCP_SYN | TCP_ACK, b""));
    assert_eq!(r, HookVerdict::Accept);
    let ip = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
    assert!(ip.l4_checksum_ok());
    assert_eq!((ip.src, Tcp::parse(ip.payload).unwrap().sport), (VIP, 80));
    assert_eq!(conn_state(&v, t(1)).0, "SYN_RECV");
    // 3. In ACK: ESTABLISHED 900 s.
    feed(&mut v, t(2), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_ACK, b"GET /"));
    assert_eq!(conn_state(&v, t(2)), ("ESTABLISHED".into(), 900));
    // 4. In FIN: CLOSE_WAIT 60 s, A0 I1.
    feed(&mut v, t(3), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_FIN | TCP_ACK, b""));
    assert_eq!(conn_state(&v, t(3)), ("CLOSE_WAIT".into(), 60));
    assert_eq!(counts(&v, RS1), (0, 1, 0));
    // 5. Out FIN: TIME_WAIT 120 s.
    feed(&mut v, t(4), HookPoint::Forward, tcp_frame(rs, c, TCP_FIN | TCP_ACK, b""));
    assert_eq!(conn_state(&v, t(4)), ("TIME_WAIT".into(), 120));
    // 6. In ACK: TIME_WAIT; the entry lives 120 s after it.
    feed(&mut v, t(5), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_ACK, b""));
    assert_eq!(conn_state(&v, t(5)).0, "TIME_WAIT");
    let mut out = Outbox::new(false);
    v.on_timer(t(120_004), &mut out);
    assert_eq!(v.conn_count(), 1);
    assert_eq!(v.next_deadline(), Some(t(120_005)));
    v.on_timer(t(120_005), &mut out);
    assert_eq!(v.conn_count(), 0);
    assert_eq!(counts(&v, RS1), (0, 0, 0));
    v.check_counters().unwrap();
}

#[test]
fn dr_trace_matches_reference() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g");
    let c = (CLIENT, 40000);
    let (dev, nh, f) = tx(feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b"")));
    assert_eq!((dev, nh), (DevId(2), RS1), "DR: the real server is the next hop");
    let ip = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
    assert_eq!((ip.src, ip.dst, ip.ttl), (CLIENT, VIP, 63), "DR: IP unchanged but for TTL−1");
    assert!(ip.l4_checksum_ok());
    assert_eq!((conn_state(&v, t(0)).0.as_str(), counts(&v, RS1)), ("SYN_RECV", (1, 0, 0)));
    feed(&mut v, t(1), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_ACK, b""));
    assert_eq!(conn_state(&v, t(1)), ("ESTABLISHED".into(), 900));
    feed(&mut v, t(2), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_FIN | TCP_ACK, b""));
    assert_eq!(conn_state(&v, t(2)), ("FIN_WAIT".into(), 120));
    assert_eq!(counts(&v, RS1), (0, 1, 0));
    feed(&mut v, t(3), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_ACK, b""));
    assert_eq!(conn_state(&v, t(3)), ("FIN_WAIT".into(), 120));
    let s = v.service(t(4000), &ServiceKey::tcp(VIP, 80)).unwrap();
    assert_eq!((s.stats.conns, s.stats.inpkts), (1, 4));
    assert_eq!(s.stats.inbytes, 4 * 40);
}

#[test]
fn tunnel_outer_header_and_frag_needed() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -i");
    let mut f = tcp_frame((CLIENT, 40000), (VIP, 80), TCP_SYN, b"");
    // tos: DSCP 0x2e, ECN CE.
    f[ETH_HLEN + 1] = 0xb8 | 3;
    let c = crate::wire::checksum::checksum(&{
        let mut h = f[ETH_HLEN..ETH_HLEN + 20].to_vec();
        h[10] = 0;
        h[11] = 0;
        h
    });
    f[ETH_HLEN + 10..ETH_HLEN + 12].copy_from_slice(&c.to_be_bytes());
    let (dev, nh, g) = tx(feed(&mut v, t(0), HookPoint::LocalIn, f.clone()));
    assert_eq!((dev, nh), (DevId(2), RS1));
    let outer = Ipv4::parse(&g[ETH_HLEN..]).unwrap();
    assert_eq!((outer.src, outer.dst, outer.proto), (DIP, RS1, IPPROTO_IPIP));
    assert_eq!((outer.ttl, outer.tos, outer.df, outer.id), (63, 0xb8 | 2, true, 0));
    let inner = Ipv4::parse(outer.payload).unwrap();
    assert_eq!((inner.src, inner.dst, inner.ttl, inner.tos), (CLIENT, VIP, 63, 0xb8 | 3));
    assert!(inner.l4_checksum_ok());
    // 1481 bytes with DF: above the tunnel MTU 1480 → FRAG_NEEDED mtu 1480.
    let big = tcp_frame((CLIENT, 40001), (VIP, 80), TCP_SYN, &[0u8; 1441]);
    let (r, _) = feed(&mut v, t(1), HookPoint::LocalIn, big);
    assert_eq!(r, HookVerdict::IcmpError { typ: 3, code: 4, info: 1480 });
    // Without DF the outer header has no DF and an ID from the counter.
    let mut h = IpHdr::new(CLIENT, VIP, IPPROTO_TCP);
    h.df = false;
    let nodf = build(
        &h,
        &L4::Tcp { sport: 40002, dport: 80, seq: 1, ack: 0, flags: TCP_SYN, window: 1, mss: None, payload: b"" },
    );
    let (_, _, g) = tx(feed(&mut v, t(2), HookPoint::LocalIn, nodf));
    let outer = Ipv4::parse(&g[ETH_HLEN..]).unwrap();
    assert!(!outer.df);
    assert_ne!(outer.id, 0);
    // pmtu_disc=0: no FRAG_NEEDED, no DF copied (the stack fragments).
    v.sysctl.pmtu_disc = 0;
    let big = tcp_frame((CLIENT, 40003), (VIP, 80), TCP_SYN, &[0u8; 1441]);
    let (_, _, g) = tx(feed(&mut v, t(3), HookPoint::LocalIn, big));
    assert!(!Ipv4::parse(&g[ETH_HLEN..]).unwrap().df);
}

/// The route to a real server is kept with its dest (`dest_dst`) and looked up
/// again when the stack's routes change (`rt_genid`) or a learned path MTU in it
/// expires; each verdict is the one a fresh lookup gives (debug builds also
/// compare every kept route with a lookup).
#[test]
fn a_kept_route_follows_route_changes_and_pmtu_expiry() {
    struct Moving {
        mtu: u32,
        genid: u64,
        expires: Instant,
    }
    impl HookEnv for Moving {
        fn route(&self, dst: Ipv4Addr) -> Option<RouteInfo> {
            let (mtu, expires) = (self.mtu, self.expires);
            let rt = Env { mtu }.route(dst)?;
            Some(if rt.local { rt } else { RouteInfo { mtu, expires, ..rt } })
        }
        fn route_genid(&self) -> u64 {
            self.genid
        }
        fn is_local(&self, a: Ipv4Addr) -> bool {
            Env { mtu: self.mtu }.is_local(a)
        }
    }
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g");
    let c = (CLIENT, 40000);
    let mut send = |now: Instant, env: Moving, flags: u8| {
        let mut f = tcp_frame(c, (VIP, 80), flags, &[0u8; 1360]);
        v.hook(now, meta(HookPoint::LocalIn), &mut f, &env, &mut Outbox::new(false))
    };
    let frag = |mtu| HookVerdict::IcmpError { typ: 3, code: 4, info: mtu };
    let fwd = HookVerdict::Transmit { dev: DevId(2), next_hop: RS1 };
    // 1400 bytes with DF: the route's MTU 1500 lets them through, and is kept.
    assert_eq!(send(t(0), Moving { mtu: 1500, genid: 1, expires: Instant::MAX }, TCP_SYN), fwd);
    assert_eq!(send(t(1), Moving { mtu: 1500, genid: 1, expires: Instant::MAX }, TCP_ACK), fwd);
    // `ip link set eth2 mtu 1300`: a new generation, so a new lookup.
    assert_eq!(send(t(2), Moving { mtu: 1300, genid: 2, expires: Instant::MAX }, TCP_ACK), frag(1300));
    // A learned path MTU 1280 until 10 s, then back to the device's 1500 with no
    // change of generation (a PMTU entry expiring is not a reconfiguration).
    let learned = || Moving { mtu: 1280, genid: 3, expires: t(10_000) };
    assert_eq!(send(t(3), learned(), TCP_ACK), frag(1280));
    assert_eq!(send(t(9_999), learned(), TCP_ACK), frag(1280));
    assert_eq!(send(t(10_000), Moving { mtu: 1500, genid: 3, expires: Instant::MAX }, TCP_ACK), fwd);
}

#[test]
fn route_step_errors() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g");
    let mut h = IpHdr::new(CLIENT, VIP, IPPROTO_TCP);
    h.ttl = 1;
    let f =
        build(&h, &L4::Tcp { sport: 1, dport: 80, seq: 1, ack: 0, flags: TCP_SYN, window: 1, mss: None, payload: b"" });
    assert_eq!(feed(&mut v, t(0), HookPoint::LocalIn, f).0, HookVerdict::IcmpError { typ: 11, code: 0, info: 0 });
    let big = tcp_frame((CLIENT, 2), (VIP, 80), TCP_SYN, &[0u8; 1461]);
    assert_eq!(feed(&mut v, t(0), HookPoint::LocalIn, big).0, HookVerdict::IcmpError { typ: 3, code: 4, info: 1500 });
    // A real server without a route: host unreachable.
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:81 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:81 -r 172.31.0.5 -m");
    let f = tcp_frame((CLIENT, 3), (VIP, 81), TCP_SYN, b"");
    assert_eq!(feed(&mut v, t(0), HookPoint::LocalIn, f).0, HookVerdict::IcmpError { typ: 3, code: 1, info: 0 });
    // A local real server: delivered locally.
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:82 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:82 -r 10.0.0.2 -m");
    let (r, f) = feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame((CLIENT, 4), (VIP, 82), TCP_SYN, b""));
    assert_eq!(r, HookVerdict::LocalDeliver);
    assert_eq!(Ipv4::parse(&f[ETH_HLEN..]).unwrap().dst, Ipv4Addr::new(10, 0, 0, 2));
}

#[test]
fn unknown_connection_table() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -A -u 10.0.0.1:53 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g");
    adm(&mut v, t(0), "ipvsadm -a -u 10.0.0.1:53 -r 192.168.1.11 -g");
    let to80 = |flags| tcp_frame((CLIENT, 5000), (VIP, 80), flags, b"");
    // Non-SYN, no entry: to the local stack (which answers RST).
    assert_eq!(feed(&mut v, t(0), HookPoint::LocalIn, to80(TCP_ACK)).0, HookVerdict::Accept);
    assert_eq!(feed(&mut v, t(0), HookPoint::LocalIn, to80(TCP_RST)).0, HookVerdict::Accept);
    assert_eq!(v.conn_count(), 0);
    // From port 20: never scheduled.
    let f = tcp_frame((CLIENT, 20), (VIP, 80), TCP_SYN, b"");
    assert_eq!(feed(&mut v, t(0), HookPoint::LocalIn, f).0, HookVerdict::Accept);
    // No service: accepted.
    let f = tcp_frame((CLIENT, 5000), (VIP, 443), TCP_SYN, b"");
    assert_eq!(feed(&mut v, t(0), HookPoint::LocalIn, f).0, HookVerdict::Accept);
    // UDP: scheduled.
    let (r, _) = feed(&mut v, t(0), HookPoint::LocalIn, udp_frame((CLIENT, 4000), (VIP, 53), b"q"));
    assert!(matches!(r, HookVerdict::Transmit { .. }));
    assert_eq!(counts(&v, RS1), (0, 1, 0), "UDP stays in InActConn");
    // sloppy_tcp: an ACK creates a connection straight in ESTABLISHED.
    v.sysctl.sloppy_tcp = 1;
    assert!(matches!(feed(&mut v, t(1), HookPoint::LocalIn, to80(TCP_ACK)).0, HookVerdict::Transmit { .. }));
    let e = v.conn_entries(t(1)).into_iter().find(|c| c.proto == IPPROTO_TCP).unwrap();
    assert_eq!(e.state, "ESTABLISHED");
    // A truncated TCP header is dropped.
    let mut f = to80(TCP_SYN);
    f.truncate(ETH_HLEN + 30);
    f[ETH_HLEN + 2..ETH_HLEN + 4].copy_from_slice(&30u16.to_be_bytes());
    let c = {
        let mut h = f[ETH_HLEN..ETH_HLEN + 20].to_vec();
        h[10] = 0;
        h[11] = 0;
        crate::wire::checksum::checksum(&h)
    };
    f[ETH_HLEN + 10..ETH_HLEN + 12].copy_from_slice(&c.to_be_bytes());
    assert_eq!(feed(&mut v, t(2), HookPoint::LocalIn, f).0, HookVerdict::Drop);
}

#[test]
fn no_destination_sends_port_unreachable() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s wlc");
    adm(&mut v, t(0), "ipvsadm -A -u 10.0.0.1:53 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g -w 0");
    let unreach = HookVerdict::IcmpError { typ: 3, code: 3, info: 0 };
    let f = tcp_frame((CLIENT, 5000), (VIP, 80), TCP_SYN, b"");
    assert_eq!(feed(&mut v, t(0), HookPoint::LocalIn, f).0, unreach);
    assert_eq!(feed(&mut v, t(0), HookPoint::LocalIn, udp_frame((CLIENT, 5), (VIP, 53), b"")).0, unreach);
}

#[test]
fn deleted_dest_drops_until_expire_nodest_conn() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.12 -g");
    let c = (CLIENT, 6000);
    let (_, _, f) = tx(feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b"")));
    let first = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
    assert_eq!(first.dst, VIP);
    // rr: the list is .12, .11; the first pick is .12.
    assert_eq!(counts(&v, RS2), (1, 0, 0));
    adm(&mut v, t(1), "ipvsadm -d -t 10.0.0.1:80 -r 192.168.1.12");
    let ack = tcp_frame(c, (VIP, 80), TCP_ACK, b"");
    assert_eq!(feed(&mut v, t(2), HookPoint::LocalIn, ack.clone()).0, HookVerdict::Drop);
    assert_eq!(v.conn_count(), 1, "the entry lives on with default expire_nodest_conn=0");
    v.sysctl.expire_nodest_conn = 1;
    assert_eq!(feed(&mut v, t(3), HookPoint::LocalIn, ack).0, HookVerdict::Accept, "expired; an ACK is not scheduled");
    assert_eq!(v.conn_count(), 0);
    let (_, nh, _) = tx(feed(&mut v, t(4), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b"")));
    assert_eq!(nh, RS1, "a SYN is scheduled to a remaining server");
    // Deleting with expire_nodest_conn=1 flushes at once.
    adm(&mut v, t(5), "ipvsadm -d -t 10.0.0.1:80 -r 192.168.1.11");
    assert_eq!(v.conn_count(), 0);
    v.check_counters().unwrap();
}

#[test]
fn conn_reuse_reschedules_time_wait() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -m");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.12 -m");
    let c = (CLIENT, 7000);
    let (_, nh1, _) = tx(feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b"")));
    feed(&mut v, t(1), HookPoint::Forward, tcp_frame((nh1, 80), c, TCP_SYN | TCP_ACK, b""));
    feed(&mut v, t(2), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_ACK, b""));
    feed(&mut v, t(3), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_FIN | TCP_ACK, b""));
    feed(&mut v, t(4), HookPoint::Forward, tcp_frame((nh1, 80), c, TCP_FIN | TCP_ACK, b""));
    assert_eq!(conn_state(&v, t(4)).0, "TIME_WAIT");
    // The same 4-tuple again: rescheduled, so rr moves to the other server.
    let (_, nh2, _) = tx(feed(&mut v, t(5), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b"")));
    assert_ne!(nh1, nh2);
    assert_eq!(v.conn_count(), 1);
    // conn_reuse_mode=0: the SYN rides the old entry.
    v.sysctl.conn_reuse_mode = 0;
    feed(&mut v, t(6), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_FIN | TCP_ACK, b""));
    feed(&mut v, t(7), HookPoint::Forward, tcp_frame((nh2, 80), c, TCP_FIN | TCP_ACK, b""));
    let (_, nh3, _) = tx(feed(&mut v, t(8), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b"")));
    assert_eq!(nh3, nh2);
    // conntrack=1: the old conntrack is in use, the SYN is dropped.
    v.sysctl.conn_reuse_mode = 1;
    v.sysctl.conntrack = 1;
    let c2 = (CLIENT, 7001);
    tx(feed(&mut v, t(9), HookPoint::LocalIn, tcp_frame(c2, (VIP, 80), TCP_SYN, b"")));
    feed(&mut v, t(10), HookPoint::LocalIn, tcp_frame(c2, (VIP, 80), TCP_RST, b""));
    feed(&mut v, t(10), HookPoint::LocalIn, tcp_frame(c2, (VIP, 80), 0, b""));
    let e = v.conn_entries(t(10)).into_iter().find(|e| e.cport == 7001).unwrap();
    assert_eq!(e.state, "CLOSE");
    assert_eq!(feed(&mut v, t(11), HookPoint::LocalIn, tcp_frame(c2, (VIP, 80), TCP_SYN, b"")).0, HookVerdict::Drop);
    v.check_counters().unwrap();
}

#[test]
fn persistence_templates() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr -p 360 -M 255.255.255.0");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.12 -g");
    let pick = |v: &mut Ipvs, ms, c: (Ipv4Addr, u16)| {
        tx(feed(v, t(ms), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b""))).1
    };
    let a = pick(&mut v, 0, (CLIENT, 1000));
    // Same client, same /24: the template wins over rr.
    assert_eq!(pick(&mut v, 1, (CLIENT, 1001)), a);
    assert_eq!(pick(&mut v, 2, (Ipv4Addr::new(192, 168, 0, 99), 1000)), a);
    // Another network gets rr's next.
    let b = pick(&mut v, 3, (Ipv4Addr::new(172, 16, 0, 1), 1000));
    assert_ne!(a, b);
    assert_eq!(counts(&v, a).2, 1, "one template per client network");
    let tpl =
        v.conn_entries(t(4)).into_iter().find(|c| c.template && c.caddr == Ipv4Addr::new(192, 168, 0, 0)).unwrap();
    assert_eq!((tpl.cport, tpl.vport, tpl.dport, tpl.state), (0, 80, 80, "NONE"));
    assert_eq!(tpl.expires_ms / 1000, 359, "restarted at 2 ms by the last new connection");
    // An ACK (established) assures the template.
    feed(&mut v, t(5), HookPoint::LocalIn, tcp_frame((CLIENT, 1000), (VIP, 80), TCP_ACK, b""));
    let tpl =
        v.conn_entries(t(5)).into_iter().find(|c| c.template && c.caddr == Ipv4Addr::new(192, 168, 0, 0)).unwrap();
    assert_eq!(tpl.state, "ASSURED");
    // Weight 0 with expire_quiescent_template=0: the client keeps its server.
    adm(&mut v, t(6), &format!("ipvsadm -e -t 10.0.0.1:80 -r {a} -g -w 0"));
    assert_eq!(pick(&mut v, 7, (CLIENT, 1002)), a);
    // ... with 1, the template is invalidated and the client rescheduled.
    v.sysctl.expire_quiescent_template = 1;
    assert_eq!(pick(&mut v, 8, (CLIENT, 1003)), b);
    let bad = v.conn_entries(t(8)).into_iter().find(|c| c.template && c.vport == 0xffff);
    assert!(bad.is_some(), "the invalidated template stays, with ports 65535");
    // Deleting a dest invalidates its templates too.
    adm(&mut v, t(9), &format!("ipvsadm -e -t 10.0.0.1:80 -r {a} -g -w 1"));
    adm(&mut v, t(9), &format!("ipvsadm -d -t 10.0.0.1:80 -r {b}"));
    assert_eq!(pick(&mut v, 10, (CLIENT, 1004)), a);
    v.check_counters().unwrap();
}

#[test]
fn template_outlives_its_connections_then_expires() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -u 10.0.0.1:53 -s rr -p 10");
    adm(&mut v, t(0), "ipvsadm -a -u 10.0.0.1:53 -r 192.168.1.11 -g");
    feed(&mut v, t(0), HookPoint::LocalIn, udp_frame((CLIENT, 4000), (VIP, 53), b"q"));
    let mut out = Outbox::new(false);
    // The template fires at 10 s but controls the UDP entry (300 s): re-armed 60 s.
    v.on_timer(t(10_000), &mut out);
    assert_eq!(v.conn_count(), 2);
    let tpl = v.conn_entries(t(10_000)).into_iter().find(|c| c.template).unwrap();
    assert_eq!(tpl.expires_ms, 60_000);
    v.on_timer(t(300_000), &mut out);
    assert_eq!(v.conn_count(), 1, "the UDP entry expired at 300 s");
    v.on_timer(t(310_000), &mut out);
    assert_eq!(v.conn_count(), 0, "the template, re-armed at 250 s, went at 310 s");
    assert_eq!(counts(&v, RS1), (0, 0, 0));
}

#[test]
fn fwmark_persistence_uses_ip_protocol_templates() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -f 7 -s rr -p");
    adm(&mut v, t(0), "ipvsadm -a -f 7 -r 192.168.1.11 -g");
    let mut f = tcp_frame((CLIENT, 1000), (VIP, 443), TCP_SYN, b"");
    let mut out = Outbox::new(false);
    let m = PacketMeta { hook: HookPoint::LocalIn, in_dev: Some(0), mark: 7 };
    let r = v.hook(t(0), m, &mut f, &Env { mtu: 1500 }, &mut out);
    assert!(matches!(r, HookVerdict::Transmit { .. }));
    let tpl = v.conn_entries(t(0)).into_iter().find(|c| c.template).unwrap();
    assert_eq!((tpl.proto, tpl.vaddr, tpl.vport, tpl.dport), (0, Ipv4Addr::new(0, 0, 0, 7), 0, 0));
    let conn = v.conn_entries(t(0)).into_iter().find(|c| !c.template).unwrap();
    assert_eq!((conn.vport, conn.dport), (443, 443), "fwmark: the original port is kept");
}

#[test]
fn one_packet_scheduling() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -u 10.0.0.1:53 -s rr -o");
    adm(&mut v, t(0), "ipvsadm -a -u 10.0.0.1:53 -r 192.168.1.11 -g");
    adm(&mut v, t(0), "ipvsadm -a -u 10.0.0.1:53 -r 192.168.1.12 -g");
    let a = tx(feed(&mut v, t(0), HookPoint::LocalIn, udp_frame((CLIENT, 4000), (VIP, 53), b"1"))).1;
    let b = tx(feed(&mut v, t(0), HookPoint::LocalIn, udp_frame((CLIENT, 4000), (VIP, 53), b"2"))).1;
    assert_ne!(a, b, "each datagram is scheduled on its own");
    let mut out = Outbox::new(false);
    v.on_timer(t(0), &mut out);
    assert_eq!(v.conn_count(), 0);
    v.check_counters().unwrap();
}

#[test]
fn icmp_errors_are_translated() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11:8080 -m");
    let c = (CLIENT, 40000);
    feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b""));
    // Inbound: a router tells the VIP its reply to the client was too big.
    let reply = tcp_frame((VIP, 80), c, TCP_ACK, &[0; 100]);
    let quote = &reply[ETH_HLEN..ETH_HLEN + 28];
    let h = IpHdr::new(Ipv4Addr::new(10, 0, 0, 254), VIP, IPPROTO_ICMP);
    let icmp = build(&h, &L4::Icmp { typ: 3, code: 4, rest: [0, 0, 5, 0xdc], payload: quote });
    let (_, nh, f) = tx(feed(&mut v, t(1), HookPoint::LocalIn, icmp));
    assert_eq!(nh, RS1);
    let ip = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
    assert_eq!(ip.dst, RS1);
    let ic = crate::wire::ip::Icmp::parse(ip.payload).expect("valid ICMP checksum");
    let e = ic.embedded().unwrap();
    assert_eq!((e.src, e.ports.unwrap().0), (RS1, 8080));
    // Outbound: the real server reports the client's packet unreachable.
    let req = tcp_frame(c, (RS1, 8080), TCP_ACK, b"");
    let h = IpHdr::new(RS1, CLIENT, IPPROTO_ICMP);
    let icmp = build(&h, &L4::Icmp { typ: 3, code: 3, rest: [0; 4], payload: &req[ETH_HLEN..ETH_HLEN + 28] });
    let (r, f) = feed(&mut v, t(2), HookPoint::Forward, icmp);
    assert_eq!(r, HookVerdict::Accept);
    let ip = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
    assert_eq!(ip.src, VIP);
    let e = crate::wire::ip::Icmp::parse(ip.payload).unwrap().embedded().unwrap();
    assert_eq!((e.dst, e.ports.unwrap().1), (VIP, 80));
}

#[test]
fn tunnel_frag_needed_is_relayed_to_the_client() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -i");
    let (_, _, enc) = tx(feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame((CLIENT, 40000), (VIP, 80), TCP_SYN, b"")));
    // A router between director and RS: our IPIP packet needs MTU 1400.
    let quote = &enc[ETH_HLEN..ETH_HLEN + 48];
    let h = IpHdr::new(Ipv4Addr::new(192, 168, 1, 254), DIP, IPPROTO_ICMP);
    let icmp = build(&h, &L4::Icmp { typ: 3, code: 4, rest: [0, 0, 0x05, 0x78], payload: quote });
    let (r, f) = feed(&mut v, t(1), HookPoint::LocalIn, icmp);
    assert_eq!(r, HookVerdict::IcmpError { typ: 3, code: 4, info: 1380 });
    // The frame now holds the client's own packet for icmp_send to quote.
    assert_eq!(&f[ETH_HLEN + 12..ETH_HLEN + 20], &[192, 168, 0, 10, 10, 0, 0, 1]);
}

#[test]
fn fullnat_both_directions() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11:8080 -b");
    adm(&mut v, t(0), "ipvsadm -P -t 10.0.0.1:80 -z 192.168.1.1");
    let c = (CLIENT, 40000);
    let (_, nh, f) = tx(feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b"")));
    assert_eq!(nh, RS1);
    let ip = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
    let tcp = Tcp::parse(ip.payload).unwrap();
    assert!(ip.l4_checksum_ok());
    assert_eq!((ip.src, tcp.sport, ip.dst, tcp.dport), (DIP, 1024, RS1, 8080));
    // The reply comes to the local address and goes back to the client.
    let (dev, nh, f) =
        tx(feed(&mut v, t(1), HookPoint::LocalIn, tcp_frame((RS1, 8080), (DIP, 1024), TCP_SYN | TCP_ACK, b"")));
    assert_eq!((dev, nh), (DevId(1), Ipv4Addr::new(10, 0, 0, 254)));
    let ip = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
    let tcp = Tcp::parse(ip.payload).unwrap();
    assert!(ip.l4_checksum_ok());
    assert_eq!((ip.src, tcp.sport, ip.dst, tcp.dport), (VIP, 80, CLIENT, 40000));
    // A second client gets the next local port.
    let (_, _, f) = tx(feed(&mut v, t(2), HookPoint::LocalIn, tcp_frame((CLIENT, 40001), (VIP, 80), TCP_SYN, b"")));
    assert_eq!(Tcp::parse(Ipv4::parse(&f[ETH_HLEN..]).unwrap().payload).unwrap().sport, 1025);
    let s = adm(&mut v, t(3), "ipvsadm -Ln");
    let line = format!("  -> {:<28} {:<7} {:<6} {:<10} {:<10}\n", "192.168.1.11:8080", "FullNat", 1, 2, 0);
    assert!(s.contains(&line), "{s}");
    assert_eq!(
        adm(&mut v, t(3), "ipvsadm -G -n"),
        "Prot LocalAddress:Port\n  -> LocalAddress\nTCP  10.0.0.1:80\n  -> 192.168.1.1\n"
    );
}

#[test]
fn cache_bypass_routes_to_the_original_destination() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -f 1 -s rr");
    v.sysctl.cache_bypass = 1;
    let mut f = tcp_frame((CLIENT, 1000), (Ipv4Addr::new(8, 8, 8, 8), 80), TCP_SYN, b"");
    let m = PacketMeta { hook: HookPoint::LocalIn, in_dev: Some(0), mark: 1 };
    let r = v.hook(t(0), m, &mut f, &Env { mtu: 1500 }, &mut Outbox::new(false));
    let (dev, nh, g) = tx((r, f));
    assert_eq!((dev, nh), (DevId(1), Ipv4Addr::new(10, 0, 0, 254)));
    assert_eq!(Ipv4::parse(&g[ETH_HLEN..]).unwrap().dst, Ipv4Addr::new(8, 8, 8, 8));
    let e = &v.conn_entries(t(0))[0];
    assert_eq!((e.daddr, e.dport), (Ipv4Addr::UNSPECIFIED, 0));
}

#[test]
fn udp_entries_and_replies() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -u 10.0.0.1:53 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -u 10.0.0.1:53 -r 192.168.1.12 -m");
    let c = (CLIENT, 40000);
    let (_, _, f) = tx(feed(&mut v, t(0), HookPoint::LocalIn, udp_frame(c, (VIP, 53), b"query")));
    let ip = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
    assert!(ip.l4_checksum_ok());
    assert_eq!(Udp::parse(ip.payload).unwrap().dport, 53);
    let (r, f) = feed(&mut v, t(2000), HookPoint::Forward, udp_frame((RS2, 53), c, b"answer"));
    assert_eq!(r, HookVerdict::Accept);
    assert_eq!(Ipv4::parse(&f[ETH_HLEN..]).unwrap().src, VIP);
    let e = &v.conn_entries(t(2000))[0];
    assert_eq!((e.state, e.expires_ms), ("UDP", 300_000), "every packet restarts the 300 s timer");
    let s = v.service(t(4000), &ServiceKey::udp(VIP, 53)).unwrap();
    assert_eq!((s.stats.inpkts, s.stats.outpkts, s.stats.outbytes), (1, 1, 34));
}

#[test]
fn a_dr_reply_through_the_director_finds_its_entry() {
    // A DR real server whose gateway is the director: its replies (source the
    // VIP) pass FORWARD, where ip_vs_out_hook finds the client's entry by the
    // reversed 4-tuple and counts them (handle_response).
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11:80 -g");
    let c = (CLIENT, 41000);
    tx(feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b"")));
    let reply = || tcp_frame((VIP, 80), c, TCP_SYN | TCP_ACK, b"");
    feed(&mut v, t(10), HookPoint::Forward, reply());
    let outpkts = |v: &mut Ipvs, at| v.service(t(at), &ServiceKey::tcp(VIP, 80)).unwrap().stats.outpkts;
    assert_eq!(outpkts(&mut v, 4000), 1, "the reply was matched to the entry");
    // The entry expires (SYN_RECV, 60 s); a late reply matches nothing.
    v.on_timer(t(70_000), &mut Outbox::new(false));
    assert!(v.conn_entries(t(70_000)).is_empty());
    feed(&mut v, t(70_000), HookPoint::Forward, reply());
    assert_eq!(outpkts(&mut v, 74_000), 1);
}

#[test]
fn lnc_listing_matches_reference() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s wlc -p 360");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11:80 -g");
    adm(&mut v, t(0), "ipvsadm -A -f 7 -s rr -p 360 -M 255.255.255.0");
    adm(&mut v, t(0), "ipvsadm -a -f 7 -r 192.168.1.11 -g");
    adm(&mut v, t(0), "ipvsadm -A -u 10.0.0.1:53 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -u 10.0.0.1:53 -r 192.168.1.12:53 -g");
    feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame((CLIENT, 51234), (VIP, 80), TCP_SYN, b""));
    feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame((CLIENT, 51234), (VIP, 80), TCP_ACK, b""));
    let mut f = tcp_frame((CLIENT, 51235), (VIP, 8443), TCP_SYN, b"");
    v.hook(
        t(0),
        PacketMeta { hook: HookPoint::LocalIn, in_dev: Some(0), mark: 7 },
        &mut f,
        &Env { mtu: 1500 },
        &mut Outbox::new(false),
    );
    feed(&mut v, t(0), HookPoint::LocalIn, udp_frame((CLIENT, 40000), (VIP, 53), b""));
    // Creation order (templates before the connection that made them).
    let s = adm(&mut v, t(1), "ipvsadm -Lnc");
    let want = "\
IPVS connection entries
pro expire state       source             virtual            destination
TCP 05:59  ASSURED     192.168.0.10:0     10.0.0.1:80        192.168.1.11:80
TCP 14:59  ESTABLISHED 192.168.0.10:51234 10.0.0.1:80        192.168.1.11:80
IP  05:59  NONE        192.168.0.0:0      0.0.0.7:0          192.168.1.11:0
TCP 00:59  SYN_RECV    192.168.0.10:51235 10.0.0.1:8443      192.168.1.11:8443
UDP 04:59  UDP         192.168.0.10:40000 10.0.0.1:53        192.168.1.12:53
";
    assert_eq!(s, want);
    let s = adm(&mut v, t(1), "ipvsadm -Lc");
    assert!(s.contains("TCP 14:59  ESTABLISHED 192.168.0.10:51234 10.0.0.1:http      192.168.1.11:http\n"), "{s}");
    assert!(s.contains("UDP 04:59  UDP         192.168.0.10:40000 10.0.0.1:domain    192.168.1.12:domain\n"), "{s}");
}

#[test]
fn ln_listing_matches_reference() {
    let mut v = ipvs();
    for l in [
        "ipvsadm -A -t 10.0.0.1:80 -s wlc -p 360 -M 255.255.255.0",
        "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11:80 -g -w 1",
        "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.12:8080 -m -w 0",
        "ipvsadm -A -u 10.0.0.1:53 -s rr -o",
        "ipvsadm -A -f 7 -s sh -b sh-fallback,sh-port",
    ] {
        adm(&mut v, t(0), l);
    }
    let d = v.dests.iter_mut().find(|d| d.addr == RS1).unwrap();
    (d.activeconns, d.inactconns) = (3, 12);
    let d = v.dests.iter_mut().find(|d| d.addr == RS2).unwrap();
    d.inactconns = 2;
    let want = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:80 wlc persistent 360 mask 255.255.255.0
  -> 192.168.1.11:80              Route   1      3          12        
  -> 192.168.1.12:8080            Masq    0      0          2         
UDP  10.0.0.1:53 rr ops
FWM  7 sh (sh-fallback,sh-port)
";
    assert_eq!(adm(&mut v, t(0), "ipvsadm -Ln"), want);
    assert_eq!(adm(&mut v, t(0), "ipvsadm -L -n"), want);
    assert_eq!(adm(&mut v, t(0), "ipvsadm --list --numeric"), want);
    let named = adm(&mut v, t(0), "ipvsadm");
    assert!(named.contains("TCP  10.0.0.1:http wlc persistent 360 mask 255.255.255.0\n"), "{named}");
    let line = format!("  -> {:<28} {:<7} {:<6} {:<10} {:<10}\n", "192.168.1.12:http-alt", "Masq", 0, 0, 2);
    assert!(named.contains(&line), "{named}");
    assert!(named.contains("UDP  10.0.0.1:domain rr ops\n"), "{named}");
    let save = adm(&mut v, t(0), "ipvsadm -S -n");
    assert_eq!(
        save,
        "-A -t 10.0.0.1:80 -s wlc -p 360 -M 255.255.255.0\n\
-a -t 10.0.0.1:80 -r 192.168.1.11:80 -g -w 1\n\
-a -t 10.0.0.1:80 -r 192.168.1.12:8080 -m -w 0\n\
-A -u 10.0.0.1:53 -s rr -o\n\
-A -f 7 -s sh -b sh-fallback,sh-port\n"
    );
    // -R reads -S back.
    let mut w = ipvs();
    let argv = vec!["ipvsadm".to_string(), "-R".to_string()];
    ipvsadm::ipvsadm(&mut w, t(0), &argv, Some(&save)).unwrap();
    assert_eq!(adm(&mut w, t(0), "ipvsadm -S -n"), save);
    assert_eq!(adm(&mut v, t(0), "ipvsadm -L --timeout"), "Timeout (tcp tcpfin udp): 900 120 300\n");
    adm(&mut v, t(0), "ipvsadm --set 3600 0 60");
    assert_eq!(adm(&mut v, t(0), "ipvsadm -L --timeout"), "Timeout (tcp tcpfin udp): 3600 120 60\n");
}

#[test]
fn thresholds_overload_and_clear() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g -x 2");
    let syn = |p| tcp_frame((CLIENT, p), (VIP, 80), TCP_SYN, b"");
    assert!(matches!(feed(&mut v, t(0), HookPoint::LocalIn, syn(1)).0, HookVerdict::Transmit { .. }));
    assert!(matches!(feed(&mut v, t(0), HookPoint::LocalIn, syn(2)).0, HookVerdict::Transmit { .. }));
    assert_eq!(
        feed(&mut v, t(0), HookPoint::LocalIn, syn(3)).0,
        HookVerdict::IcmpError { typ: 3, code: 3, info: 0 },
        "OVERLOAD at 2"
    );
    let out = adm(&mut v, t(0), "ipvsadm -Ln --thresholds");
    let line = format!("  -> {:<28} {:<10} {:<10} {:<10} {:<10}\n", "192.168.1.11:80", 2, 0, 2, 0);
    assert!(out.contains(&line), "{out}");
    // One entry expiring: 1*4 < 2*3 clears OVERLOAD.
    let mut ob = Outbox::new(false);
    v.on_timer(t(60_000), &mut ob);
    assert_eq!(v.conn_count(), 0);
    assert!(matches!(feed(&mut v, t(60_001), HookPoint::LocalIn, syn(4)).0, HookVerdict::Transmit { .. }));
}

#[test]
fn ipvsadm_errors_are_ipvsadms() {
    let mut v = ipvs();
    let run = |v: &mut Ipvs, l: &str| {
        let argv: Vec<String> = l.split_whitespace().map(String::from).collect();
        ipvsadm::ipvsadm(v, t(0), &argv, None).unwrap_err()
    };
    let e = run(&mut v, "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11");
    assert_eq!((e.message.as_str(), e.status), ("Service not defined", 255));
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80");
    let e = run(&mut v, "ipvsadm -A -t 10.0.0.1:80");
    assert_eq!((e.message.as_str(), e.status), ("Service already exists", 255));
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11");
    let e = run(&mut v, "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11");
    assert_eq!(e.message, "Destination already exists");
    assert_eq!(run(&mut v, "ipvsadm -d -t 10.0.0.1:80 -r 192.168.1.99").message, "No such destination");
    assert_eq!(run(&mut v, "ipvsadm -D -t 10.0.0.1:81").message, "No such service");
    assert_eq!(run(&mut v, "ipvsadm -E -t 10.0.0.1:81 -s rr").message, "No such service");
    assert_eq!(run(&mut v, "ipvsadm -A -t 10.0.0.1:82 -s nope").message, "Scheduler or persistence engine not found");
    let e = run(&mut v, "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.12 -w 70000");
    assert_eq!((e.message.as_str(), e.status), ("illegal weight specified", 2));
    let e = run(&mut v, "ipvsadm -A -t 10.0.0.1:0 -s rr");
    assert_eq!(e.message, "Zero port specified for non-persistent service");
    assert_eq!(
        run(&mut v, "ipvsadm -A -t 10.0.0.1:90 -o").message,
        "One-Packet Scheduling is only for UDP virtual services"
    );
    assert_eq!(
        run(&mut v, "ipvsadm -a -t 10.0.0.1:80").message,
        "You need to supply the 'real-server' option for the 'add-server' command"
    );
    assert_eq!(
        run(&mut v, "ipvsadm -A -t 10.0.0.1:91 -r 1.2.3.4").message,
        "Illegal 'real-server' option with the 'add-service' command"
    );
    assert_eq!(
        run(&mut v, "ipvsadm -L -c --timeout").message,
        "The option 'timeout' conflicts with the 'connection' option in the 'list' command"
    );
    assert_eq!(run(&mut v, "ipvsadm -A -t 10.0.0.1:92 -s rr -s wrr").message, "multiple 'scheduler' options specified");
    assert_eq!(run(&mut v, "ipvsadm -A -t nohost:80").message, "illegal virtual server address[:port] specified");
    assert_eq!(run(&mut v, "ipvsadm -A -t 10.0.0.1:93 -p 0").message, "invalid timeout value `0' specified");
    assert_eq!(run(&mut v, "ipvsadm -A -f 0").message, "invalid fwmark value `0' specified");
    assert_eq!(
        run(&mut v, "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.13 -x 1 -y 2").message,
        "Numerical result out of range"
    );
    assert_eq!(
        run(&mut v, "ipvsadm -A -t 10.0.0.1:94 -s rr -b sh-port").message,
        "incompatible scheduler flag `sh-port'"
    );
    assert_eq!(run(&mut v, "ipvsadm --set 1 2").message, "--set option requires 3 timeout values");
    assert_eq!(run(&mut v, "ipvsadm -L foo").message, "unexpected argument foo");
    assert_eq!(run(&mut v, "ipvsadm -L -L").message, "invalid option `-L'");
    let e = run(&mut v, "ipvsadm -nL");
    assert_eq!((e.message.as_str(), e.status), ("Try `ipvsadm -h' or 'ipvsadm --help' for more information.", 255));
    let e = run(&mut v, "ipvsadm -L --bogus");
    assert_eq!((e.message.as_str(), e.status), ("--bogus: unknown option", 255));
    let e = run(&mut v, "ipvsadm -A -t");
    assert_eq!((e.message.as_str(), e.status), ("-t: missing argument", 255));
    let e = run(&mut v, "ipvsadm -L -t 10.0.0.1:99");
    assert_eq!((e.message.as_str(), e.status), ("No such service", 1));
    assert_eq!(run(&mut v, "ipvsadm -A -t [::1]:80").message, "Operation not supported with specified address family");
    assert!(
        adm(&mut v, t(0), "ipvsadm -h")
            .contains("  --sched-flags  -b flags             scheduler flags (comma-separated)\n")
    );
    assert_eq!(adm(&mut v, t(0), "ipvsadm -v"), "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n");
}

#[test]
fn report_shape() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr -p 60");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.12 -m");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -m");
    feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame((CLIENT, 1), (VIP, 80), TCP_SYN, b""));
    let r = v.report(t(2000));
    assert_eq!(r.services[0].name, "TCP 10.0.0.1:80");
    assert_eq!(r.services[0].persistent, Some(60));
    assert_eq!(r.services[0].dests[0].addr, "192.168.1.11:80");
    assert_eq!(r.conns.len(), 2);
    assert_eq!(r.conns[0].proto, "TCP");
}

#[test]
fn trace_notes_explain_decisions() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s wlc");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.12 -g");
    let notes = |v: &mut Ipvs, ms: u64, f: Vec<u8>| {
        let mut out = Outbox::new(true);
        let mut f = f;
        v.hook(t(ms), meta(HookPoint::LocalIn), &mut f, &Env { mtu: 1500 }, &mut out);
        out.take()
            .0
            .into_iter()
            .filter_map(|e| match e {
                crate::node::Emit::Note { text, cause, .. } => Some(format!("{text} [{}]", cause.unwrap_or_default())),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let n = notes(&mut v, 0, tcp_frame((CLIENT, 1), (VIP, 80), TCP_SYN, b""));
    assert_eq!(
        n[0],
        "TCP 192.168.0.10:1 -> 10.0.0.1:80: scheduled to 192.168.1.12:80 (Route) \
         [wlc picked 192.168.1.12:80: overhead/weight 0/1 = 0/1 of 192.168.1.11:80, a tie: the earlier in list order wins]"
    );
    assert!(
        n[1].contains("NONE -> SYN_RECV") && n[1].contains("INPUT_ONLY table, timeout 60 s, now counted in ActiveConn"),
        "{n:?}"
    );
    let n = notes(&mut v, 1, tcp_frame((CLIENT, 2), (VIP, 80), TCP_SYN, b""));
    assert!(n[0].contains("[wlc picked 192.168.1.11:80: overhead/weight 0/1 < 256/1 of 192.168.1.12:80]"), "{n:?}");
    let n = notes(&mut v, 2, tcp_frame((CLIENT, 3), (VIP, 80), TCP_ACK, b""));
    assert!(
        n[0].ends_with("[no connection entry and not a SYN [.]: passed to the local stack (sloppy_tcp=0)]"),
        "{n:?}"
    );
    adm(&mut v, t(3), "ipvsadm -d -t 10.0.0.1:80 -r 192.168.1.12");
    let n = notes(&mut v, 4, tcp_frame((CLIENT, 1), (VIP, 80), TCP_ACK, b""));
    assert!(n[0].ends_with("[dest 192.168.1.12:80 was deleted: dropped (expire_nodest_conn=0)]"), "{n:?}");
    adm(&mut v, t(5), "ipvsadm -e -t 10.0.0.1:80 -r 192.168.1.11 -g -w 0");
    let n = notes(&mut v, 6, tcp_frame((CLIENT, 9), (VIP, 80), TCP_SYN, b""));
    assert!(n.iter().any(|x| x.contains("ICMP port unreachable")), "{n:?}");
    // Nothing is formatted when tracing is off.
    let mut out = Outbox::new(false);
    let mut f = tcp_frame((CLIENT, 10), (VIP, 80), TCP_SYN, b"");
    v.hook(t(7), meta(HookPoint::LocalIn), &mut f, &Env { mtu: 1500 }, &mut out);
    assert!(out.is_empty());
}

#[test]
fn director_connecting_to_its_own_vip() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -m");
    // LOCAL_OUT: from the director's own address to the VIP.
    let me = (Ipv4Addr::new(10, 0, 0, 2), 33000);
    let (_, nh, f) = tx(feed(&mut v, t(0), HookPoint::LocalOut, tcp_frame(me, (VIP, 80), TCP_SYN, b"")));
    assert_eq!((nh, Ipv4::parse(&f[ETH_HLEN..]).unwrap().dst), (RS1, RS1));
    // The reply arrives at LOCAL_IN for the director and is un-NATed before delivery.
    let (r, f) = feed(&mut v, t(1), HookPoint::LocalIn, tcp_frame((RS1, 80), me, TCP_SYN | TCP_ACK, b""));
    assert_eq!(r, HookVerdict::Accept);
    let ip = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
    assert_eq!((ip.src, Tcp::parse(ip.payload).unwrap().sport), (VIP, 80));
    assert!(ip.l4_checksum_ok());
}

#[test]
fn stats_rate_and_zero_listings() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -m");
    for i in 0..100u16 {
        let c = (CLIENT, 2000 + i);
        feed(&mut v, t(10 + u64::from(i)), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b""));
        feed(&mut v, t(10 + u64::from(i)), HookPoint::Forward, tcp_frame((RS1, 80), c, TCP_SYN | TCP_ACK, &[0; 60]));
    }
    let s = adm(&mut v, t(2000), "ipvsadm -Ln --stats");
    let head =
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  -> RemoteAddress:Port\n";
    let svc = format!("{:<33}{:>9}{:>9}{:>9}{:>9}{:>9}\n", "TCP  10.0.0.1:80", 100, 100, 100, 4000, 10000);
    let dst = format!("  -> {:<28}{:>9}{:>9}{:>9}{:>9}{:>9}\n", "192.168.1.11:80", 100, 100, 100, 4000, 10000);
    assert_eq!(s, format!("IP Virtual Server version 1.2.1 (size=4096)\n{head}{svc}{dst}"));
    let s = adm(&mut v, t(2000), "ipvsadm -Ln --rate");
    // cps: (100 << 9) >> 2 = 12800 → (12800 + 511) >> 10 = 12; pps the same; bps: 4000*16/4 = 16000 → 500.
    let dst = format!("  -> {:<28} {:>8} {:>8} {:>8}{:>9}{:>9}\n", "192.168.1.11:80", 12, 12, 12, 500, 1250);
    assert!(s.ends_with(&dst), "{s}");
    adm(&mut v, t(2500), "ipvsadm -Z");
    let s = adm(&mut v, t(2500), "ipvsadm -Ln --stats --exact");
    assert!(s.ends_with(&format!("  -> {:<28}{:>9}{:>9}{:>9}{:>9}{:>9}\n", "192.168.1.11:80", 0, 0, 0, 0, 0)), "{s}");
    let s = adm(&mut v, t(2500), "ipvsadm -Ln --persistent-conn");
    assert!(s.ends_with(&format!("  -> {:<28} {:<9} {:<11} {:<10} {:<10}\n", "192.168.1.11:80", 1, 0, 100, 0)), "{s}");
    let s = adm(&mut v, t(2500), "ipvsadm -Ln --tun-info");
    assert!(
        s.ends_with(&format!(
            "  -> {:<28} {:<7} {:<13} {:<6} {:<10} {:<10}\n",
            "192.168.1.11:80", "Masq", "n/a", 1, 100, 0
        )),
        "{s}"
    );
}

#[test]
fn schedule_icmp_and_nat_icmp_send() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g");
    // An error about a reply VIP:80 → client, with no entry.
    let reply = tcp_frame((VIP, 80), (CLIENT, 5000), TCP_ACK, b"");
    let h = IpHdr::new(Ipv4Addr::new(10, 0, 0, 254), VIP, IPPROTO_ICMP);
    let icmp =
        build(&h, &L4::Icmp { typ: 3, code: 4, rest: [0, 0, 5, 0xdc], payload: &reply[ETH_HLEN..ETH_HLEN + 28] });
    assert_eq!(feed(&mut v, t(0), HookPoint::LocalIn, icmp.clone()).0, HookVerdict::Accept, "schedule_icmp=0");
    v.sysctl.schedule_icmp = 1;
    let (_, nh, _) = tx(feed(&mut v, t(1), HookPoint::LocalIn, icmp));
    assert_eq!(nh, RS1, "scheduled from the embedded header and forwarded like its connection");
    assert_eq!(v.conn_count(), 1);
    let mut out = Outbox::new(false);
    v.on_timer(t(10_000), &mut out);
    assert_eq!(v.conn_count(), 0, "the entry made for the error is timed");

    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:81 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:81 -r 192.168.1.12:8081 -m");
    let stray = tcp_frame((RS2, 8081), (CLIENT, 5000), TCP_ACK, b"");
    assert_eq!(feed(&mut v, t(11_000), HookPoint::Forward, stray.clone()).0, HookVerdict::Accept);
    v.sysctl.nat_icmp_send = 1;
    assert_eq!(
        feed(&mut v, t(11_000), HookPoint::Forward, stray).0,
        HookVerdict::IcmpError { typ: 3, code: 3, info: 0 }
    );
    let rst = tcp_frame((RS2, 8081), (CLIENT, 5000), TCP_RST, b"");
    assert_eq!(feed(&mut v, t(11_000), HookPoint::Forward, rst).0, HookVerdict::Accept, "never for an RST");
}

#[test]
fn trash_revives_within_the_period() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g");
    feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame((CLIENT, 1), (VIP, 80), TCP_SYN, b""));
    adm(&mut v, t(1), "ipvsadm -d -t 10.0.0.1:80 -r 192.168.1.11");
    assert_eq!(v.next_deadline(), Some(t(60_000)), "the SYN_RECV entry and the trash timer both at 60 s");
    // Re-added at once: the same dest, still counting its connection.
    adm(&mut v, t(2), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g");
    assert_eq!(counts(&v, RS1), (1, 0, 0));
    assert_eq!(v.dests.len(), 1);
    // Deleted again and left alone: idle at the first trash tick after its last
    // connection went, forgotten 120 s later.
    adm(&mut v, t(3), "ipvsadm -d -t 10.0.0.1:80 -r 192.168.1.11");
    let mut out = Outbox::new(false);
    v.on_timer(t(400_000), &mut out);
    assert!(v.trash.is_empty() && v.next_deadline().is_none());
    adm(&mut v, t(400_001), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g");
    assert_eq!(v.dests.len(), 2, "a new dest object");
}

#[test]
fn syn_to_a_quiesced_server_reschedules_with_expire_nodest_conn() {
    let mut v = ipvs();
    adm(&mut v, t(0), "ipvsadm -A -t 10.0.0.1:80 -s rr");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -g");
    adm(&mut v, t(0), "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.12 -g");
    let c = (CLIENT, 9000);
    let first = tx(feed(&mut v, t(0), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b""))).1;
    feed(&mut v, t(1), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_ACK, b""));
    adm(&mut v, t(2), &format!("ipvsadm -e -t 10.0.0.1:80 -r {first} -g -w 0"));
    v.sysctl.conn_reuse_mode = 0;
    // Default: the SYN follows the ESTABLISHED entry to the quiesced server.
    assert_eq!(tx(feed(&mut v, t(3), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b""))).1, first);
    // expire_nodest_conn=1 reschedules it, whatever conn_reuse_mode says.
    v.sysctl.expire_nodest_conn = 1;
    let other = tx(feed(&mut v, t(4), HookPoint::LocalIn, tcp_frame(c, (VIP, 80), TCP_SYN, b""))).1;
    assert_ne!(other, first);
    v.check_counters().unwrap();
}
