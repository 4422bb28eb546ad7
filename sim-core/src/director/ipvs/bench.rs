//! Measurements of the forwarding path, shared by the criterion benches
//! (`benches/director.rs`) and `lvs-lab bench director` ([`bench_figures`]): ns per
//! packet of an established flow in DR, NAT and TUN, ns per new connection under
//! wlc with 100 real servers, bytes per connection entry, and the time to build
//! and then age out many connections. These use the host's clock; nothing here
//! runs inside a simulation.

use super::conn::Conn;
use super::{Fwd, Ipvs};
use crate::director::ipvsadm;
use crate::node::Outbox;
use crate::stack::hooks::{DevId, HookEnv, HookPoint, HookVerdict, Hooked, PacketMeta, RouteInfo};
use crate::time::Instant;
use crate::wire::ETH_HLEN;
use crate::wire::IPPROTO_TCP;
use crate::wire::ip::{IpHdr, L4, TCP_ACK, TCP_SYN, build, rewrite};
use std::hint::black_box;
use std::net::Ipv4Addr;

/// `size_of` a connection entry (64 bytes).
pub const CONN_ENTRY_BYTES: usize = std::mem::size_of::<Conn>();

/// The virtual service all measurements use: TCP 10.0.0.1:80.
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// A director whose real servers (10.1.x.y) are on-link on eth1 and whose clients
/// are behind 10.0.0.254 on eth0; the VIP is local.
#[derive(Debug, Default, Clone, Copy)]
pub struct BenchEnv;

impl HookEnv for BenchEnv {
    fn route(&self, dst: Ipv4Addr) -> Option<RouteInfo> {
        if dst == VIP {
            return Some(RouteInfo {
                dev: DevId(0),
                gateway: None,
                src: VIP,
                mtu: 65536,
                local: true,
                expires: Instant::MAX,
            });
        }
        if dst.octets()[..2] == [10, 1] {
            return Some(RouteInfo {
                dev: DevId(2),
                gateway: None,
                src: Ipv4Addr::new(10, 1, 0, 1),
                mtu: 1500,
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
    fn route_genid(&self) -> u64 {
        0
    }
    fn is_local(&self, a: Ipv4Addr) -> bool {
        a == VIP
    }
}

/// The packet metadata of a client packet at LOCAL_IN.
pub const LOCAL_IN: PacketMeta = PacketMeta { hook: HookPoint::LocalIn, in_dev: Some(0), mark: 0 };

/// A director with `dests` real servers 10.1.0.10.. behind `scheduler`, forwarding
/// with `fwd` (`-g`, `-m`, `-i`).
pub fn director(scheduler: &str, fwd: Fwd, dests: usize) -> Ipvs {
    let mut v = Ipvs::new(crate::rng::stream(0, "bench"));
    let sw = match fwd {
        Fwd::Masq => "-m",
        Fwd::Tunnel => "-i",
        Fwd::FullNat => "-b",
        _ => "-g",
    };
    let run = |v: &mut Ipvs, line: String| {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        ipvsadm::ipvsadm(v, Instant::ZERO, &argv, None).map(|_| ())
    };
    let mut ok = run(&mut v, format!("ipvsadm -A -t {VIP}:80 -s {scheduler}")).is_ok();
    for i in 0..dests {
        let rs = Ipv4Addr::new(10, 1, (i / 200) as u8, 10 + (i % 200) as u8);
        ok &= run(&mut v, format!("ipvsadm -a -t {VIP}:80 -r {rs}:80 {sw}")).is_ok();
    }
    debug_assert!(ok, "bench setup commands are valid");
    v
}

/// Client `n`'s address and port: 172.16/12 address n/50000 and port
/// 10000 + n%50000, so up to billions of distinct 4-tuples.
fn client(n: u32) -> (Ipv4Addr, u16) {
    (Ipv4Addr::from(u32::from(Ipv4Addr::new(172, 16, 0, 1)) + n / 50_000), 10_000 + (n % 50_000) as u16)
}

/// A client's TCP segment to the VIP (client `n`, see [`client`]).
pub fn client_segment(n: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (caddr, sport) = client(n);
    let h = IpHdr::new(caddr, VIP, IPPROTO_TCP);
    build(&h, &L4::Tcp { sport, dport: 80, seq: 1, ack: 1, flags, window: 65535, mss: None, payload })
}

/// Makes `frame` (client 0's) client `n`'s, checksums kept valid.
pub fn as_client(frame: &mut [u8], n: u32) {
    let (caddr, sport) = client(n);
    let ip = &mut frame[ETH_HLEN..];
    rewrite::set_src(ip, caddr);
    rewrite::set_sport(ip, sport);
}

/// Sends one frame through LOCAL_IN; `out` is the untraced outbox a stack reuses
/// for every packet.
pub fn feed(v: &mut Ipvs, now: Instant, out: &mut Outbox, mut frame: Vec<u8>) -> HookVerdict {
    v.hook(now, LOCAL_IN, &mut frame, &BenchEnv, out)
}

/// A stream of packets as a stack hands them to IPVS: each is written into one
/// buffer (so it is in cache, as a frame just received or built is), which IPVS
/// rewrites in place. Writing the packet is part of what is measured.
pub struct Packets {
    buf: Vec<u8>,
    out: Outbox,
}

impl Default for Packets {
    fn default() -> Self {
        Packets { buf: Vec::with_capacity(2048), out: Outbox::new(false) }
    }
}

impl Packets {
    /// Sends `template` (made client `n`'s when `n` is given) through `v`.
    #[inline]
    pub fn send(&mut self, v: &mut Ipvs, now: Instant, template: &[u8], n: Option<u32>) -> bool {
        self.buf.clear();
        self.buf.extend_from_slice(template);
        if let Some(n) = n {
            as_client(&mut self.buf, n);
        }
        matches!(v.hook(now, LOCAL_IN, &mut self.buf, &BenchEnv, &mut self.out), HookVerdict::Transmit { .. })
    }
}

/// A director with one established connection (client 0) and the ACK segment to
/// replay on it.
pub fn established(fwd: Fwd) -> (Ipvs, Vec<u8>) {
    let mut v = director("wlc", fwd, 1);
    let out = &mut Outbox::new(false);
    feed(&mut v, Instant::ZERO, out, client_segment(0, TCP_SYN, b""));
    let ack = client_segment(0, TCP_ACK, &[0u8; 64]);
    feed(&mut v, Instant::ZERO, out, ack.clone());
    (v, ack)
}

/// ns per packet of `n` sent with `send(i)`.
fn per_packet(n: usize, mut send: impl FnMut(usize) -> bool) -> f64 {
    let start = std::time::Instant::now();
    let mut sent = 0usize;
    for i in 0..n {
        sent += usize::from(send(i));
    }
    let ns = start.elapsed().as_nanos() as f64;
    black_box(sent);
    ns / n.max(1) as f64
}

/// The measurements, quickly: `iterations` packets per figure and as many
/// connections built and aged out. Returns `(name, value)` pairs.
pub fn bench_figures(iterations: usize) -> Vec<(String, f64)> {
    let n = iterations.max(1);
    let mut figs = Vec::new();
    for (name, fwd) in [("dr", Fwd::Route), ("nat", Fwd::Masq), ("tun", Fwd::Tunnel)] {
        let (mut v, ack) = established(fwd);
        let mut s = Packets::default();
        // Warm up (caches, branch predictors, the clock's frequency) untimed.
        per_packet(n / 10, |_| s.send(&mut v, Instant::from_millis(1), &ack, None));
        let ns = per_packet(n, |_| s.send(&mut v, Instant::from_millis(1), &ack, None));
        figs.push((format!("{name}_established_ns_per_packet"), ns));
    }
    figs.push(("wlc100_new_connection_ns".into(), NewConns::default().measure(n)));
    figs.push(("conn_entry_bytes".into(), CONN_ENTRY_BYTES as f64));

    let (build_ns, bytes, age_ns) = build_and_age(n);
    figs.push(("build_connections_ns_per_conn".into(), build_ns));
    figs.push(("table_bytes_per_conn".into(), bytes));
    figs.push(("age_out_ns_per_conn".into(), age_ns));
    figs
}

/// Table size for [`NewConns`]: a busy director's, not a cold-cache one's.
pub const NEW_CONN_TABLE: usize = 10_000;

/// New connections (a SYN of a new client scheduled by wlc over 100 real
/// servers) on a director in its steady state: the table fills to
/// [`NEW_CONN_TABLE`] entries, and each full table is aged out untimed. One
/// table has been built and aged before anything is timed, so the connection
/// table, its slab and the timer heap have their working size: what is measured
/// is scheduling and entering a connection, not the first growth of the tables
/// (a director that has run a while does not grow them again).
pub struct NewConns {
    v: Ipvs,
    syn: Vec<u8>,
    s: Packets,
    /// Clients so far (each connection has its own).
    clients: u32,
    /// Entries in the current table.
    filled: usize,
    clock: u64,
}

impl Default for NewConns {
    fn default() -> Self {
        let mut nc = NewConns {
            v: director("wlc", Fwd::Route, 100),
            syn: client_segment(0, TCP_SYN, b""),
            s: Packets::default(),
            clients: 0,
            filled: 0,
            clock: 0,
        };
        nc.send(NEW_CONN_TABLE);
        nc.age_if_full();
        nc
    }
}

impl NewConns {
    /// ns per new connection of `n` more.
    pub fn measure(&mut self, n: usize) -> f64 {
        let n = n.max(1);
        let mut ns = 0;
        let mut done = 0;
        while done < n {
            let batch = (NEW_CONN_TABLE - self.filled).min(n - done);
            let start = std::time::Instant::now();
            self.send(batch);
            ns += start.elapsed().as_nanos();
            self.age_if_full();
            done += batch;
        }
        ns as f64 / n as f64
    }

    fn send(&mut self, n: usize) {
        let now = Instant::from_secs(self.clock);
        for i in 0..n as u32 {
            self.s.send(&mut self.v, now, &self.syn, Some(self.clients.wrapping_add(i)));
        }
        self.clients = self.clients.wrapping_add(n as u32);
        self.filled += n;
    }

    fn age_if_full(&mut self) {
        if self.filled >= NEW_CONN_TABLE {
            self.clock += 61;
            self.v.on_timer(Instant::from_secs(self.clock), &mut self.s.out);
            self.filled = 0;
        }
    }
}

/// Builds `n` DR connections (one SYN each) and ages them all out: (ns per
/// connection built, table bytes per connection, ns per connection expired).
pub fn build_and_age(n: usize) -> (f64, f64, f64) {
    let mut v = director("rr", Fwd::Route, 10);
    let syn = client_segment(0, TCP_SYN, b"");
    let mut s = Packets::default();
    let build = per_packet(n, |i| s.send(&mut v, Instant::ZERO, &syn, Some(i as u32)));
    let bytes = v.conns.bytes_per_entry();
    let start = std::time::Instant::now();
    v.on_timer(Instant::from_secs(61), &mut s.out);
    let age = start.elapsed().as_nanos() as f64 / n as f64;
    debug_assert_eq!(v.conn_count(), 0);
    (build, bytes, age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_produced() {
        let f = bench_figures(200);
        assert_eq!(f.len(), 8);
        assert!(f.iter().all(|(_, v)| v.is_finite() && *v > 0.0));
        assert_eq!(f.iter().find(|(n, _)| n == "conn_entry_bytes").unwrap().1, 64.0);
    }

    #[test]
    fn streams_forward_and_build_distinct_connections() {
        let (mut v, ack) = established(Fwd::Route);
        let mut s = Packets::default();
        assert!((0..100).all(|_| s.send(&mut v, Instant::ZERO, &ack, None)));
        let mut v = director("rr", Fwd::Route, 3);
        let syn = client_segment(0, TCP_SYN, b"");
        assert!((0..100).all(|i| s.send(&mut v, Instant::ZERO, &syn, Some(i))));
        assert_eq!(v.conn_count(), 100);
        let mut f = syn.clone();
        as_client(&mut f, 77_777);
        assert_eq!(f, client_segment(77_777, TCP_SYN, b""));
    }

    #[test]
    fn new_connections_fill_and_age_the_table() {
        let mut nc = NewConns::default();
        assert_eq!(nc.v.conn_count(), 0, "the warm-up table was aged out");
        assert!(nc.measure(NEW_CONN_TABLE * 2 + 500) > 0.0);
        assert_eq!(nc.v.conn_count(), 500, "every SYN made a connection; full tables were aged out");
    }

    #[test]
    fn setups_forward() {
        for fwd in [Fwd::Route, Fwd::Masq, Fwd::Tunnel] {
            let (mut v, ack) = established(fwd);
            let out = &mut Outbox::new(false);
            assert!(matches!(feed(&mut v, Instant::ZERO, out, ack), HookVerdict::Transmit { .. }));
        }
        let (_, bytes, _) = build_and_age(1000);
        assert!(bytes < 200.0, "{bytes}");
    }
}
