//! The Linux kernel network model shared by every machine (hosts and directors):
//! devices, sysctls, the neighbour cache, the FIB, IPv4 input/forward/output,
//! ICMP, UDP and TCP, the netfilter subset, and the hook points where IPVS sits.
//!
//! Frames move through the stack as `Vec<u8>` with a 14-byte Ethernet header in
//! front of the IP packet; locally built packets carry a zeroed header that the
//! neighbour layer fills in.

pub mod arp;
pub mod conf;
pub mod fib;
pub mod hooks;
pub mod icmp;
pub mod iface;
pub mod neigh;
pub mod netfilter;
pub mod tcp;
pub mod tcp_ipv4;
pub mod udp;

use crate::node::{Outbox, PortId};
use crate::rng::{Rng, Stream};
use crate::time::{Duration, Instant, earliest};
use crate::wire::ip::{
    self, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_HOST_UNREACH, ICMP_NET_UNREACH, ICMP_TIME_EXCEEDED, Ipv4,
};
use crate::wire::{
    ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, Eth, IPPROTO_ICMP, IPPROTO_IPIP, IPPROTO_TCP, IPPROTO_UDP, MacAddr,
    set_eth,
};
use conf::Sysctls;
use fib::{Fib, Route, RouteType};
use hooks::{DevId, HookEnv, HookPoint, HookVerdict, Hooked, PacketMeta, RouteInfo};
use iface::{IfAddr, IfIndex, IfKind, Iface, Scope};
use neigh::{NeighOut, NeighTable};
use netfilter::{Netfilter, PktInfo, Verdict as NfVerdict};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use tcp::{TcpConf, TcpStack};
use udp::Udp;

/// The hooked module (IPVS) for the duration of one call into the stack.
pub struct Hk<'a>(pub Option<&'a mut dyn Hooked>);

impl Hk<'_> {
    pub fn none() -> Hk<'static> {
        Hk(None)
    }
}

/// Where a packet handed to the local stack came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PktType {
    /// Unicast to this NIC's MAC (PACKET_HOST).
    Host,
    Broadcast,
    Multicast,
    /// Looped back from our own output (already routed).
    Looped,
}

/// A resolved output route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRoute {
    /// Position of the egress device in `Stack::ifaces`.
    pub dev: usize,
    pub gateway: Option<Ipv4Addr>,
    pub src: Ipv4Addr,
    pub mtu: u32,
    pub local: bool,
    pub broadcast: bool,
}

/// Why a locally generated packet could not be sent (errno as the app sees it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// ENETUNREACH: no route.
    NetUnreach,
    /// EPERM: dropped by an OUTPUT rule.
    Filtered,
    /// EMSGSIZE: larger than the path MTU with DF set.
    TooBig,
}

/// A packet that a raw socket (keepalived's VRRP socket) receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket {
    pub dev: String,
    pub src_mac: MacAddr,
    /// The IP packet, header included.
    pub packet: Vec<u8>,
}

/// ICMP error rate limiting per destination (`inet_peer_xrlim_allow`).
#[derive(Debug, Clone, Copy)]
struct Peer {
    tokens_ms: u64,
    last: Instant,
}

/// One machine's kernel network stack.
pub struct Stack {
    pub name: String,
    pub ifaces: Vec<Iface>,
    pub sysctl: Sysctls,
    pub fib: Fib,
    pub neigh: NeighTable,
    pub udp: Udp,
    pub tcp: TcpStack,
    pub nf: Netfilter,
    /// Echo replies received: (from, id, seq), for ping.
    pub echo_replies: VecDeque<(Ipv4Addr, u16, u16)>,
    /// IP protocols with a raw socket open (VRRP 112), and what they received.
    pub raw_protocols: BTreeSet<u8>,
    pub raw_rx: VecDeque<RawPacket>,
    /// Addresses keepalived firewalls in strict mode without `accept`.
    pub blocked: BTreeSet<Ipv4Addr>,
    /// Multicast groups joined per device position.
    pub mcast: BTreeSet<(usize, Ipv4Addr)>,
    /// Learned path MTUs (`ip_rt_update_pmtu`), expiring after `mtu_expires`.
    pmtu: BTreeMap<Ipv4Addr, (u32, Instant)>,
    /// Route-cache flushes other than FIB changes (links, MTUs, learned path
    /// MTUs): with the FIB's own count, `rt_genid_ipv4`.
    rt_genid: u64,
    icmp_peers: BTreeMap<Ipv4Addr, Peer>,
    redirect_peers: BTreeMap<Ipv4Addr, (u32, Instant)>,
    ip_id: u16,
    backlog: VecDeque<(usize, Vec<u8>)>,
    now: Instant,
    /// The addresses of devices that are up, sorted: what `inet_lookup_ifaddr_rcu`
    /// finds in the kernel's address hash. Rebuilt with the kernel routes.
    local_addrs: Vec<u32>,
}

/// `ip_rt_mtu_expires`: learned PMTUs are forgotten after 10 minutes.
const MTU_EXPIRES: Duration = Duration::from_secs(600);
/// `ip_rt_min_pmtu`: 512 + 20 + 20.
const MIN_PMTU: u32 = 552;

fn pos_of(ifaces: &[Iface], ifindex: IfIndex) -> Option<usize> {
    ifaces.iter().position(|i| i.index == ifindex)
}

impl Stack {
    /// A stack with `lo` (127.0.0.1/8) and one Ethernet device per `(name, mac)`,
    /// attached to node ports 0, 1, ... in order.
    pub fn new(name: &str, nics: &[(String, MacAddr)], mut rng: Stream) -> Self {
        let mut ifaces = vec![Iface::new(1, "lo", IfKind::Loopback, MacAddr::ZERO, None)];
        for (i, (n, mac)) in nics.iter().enumerate() {
            ifaces.push(Iface::new(i as u32 + 2, n, IfKind::Ether, *mac, Some(i)));
        }
        let mut sysctl = Sysctls::default();
        for i in &mut ifaces {
            i.conf = sysctl.add_dev(&i.name);
        }
        let mut s = Stack {
            name: name.to_string(),
            ifaces,
            sysctl,
            fib: Fib::default(),
            neigh: NeighTable::new(crate::rng::stream(rng.next_u64(), "neigh")),
            udp: Udp::default(),
            tcp: TcpStack::new(crate::rng::stream(rng.next_u64(), "tcp"), TcpConf::default()),
            nf: Netfilter::default(),
            echo_replies: VecDeque::new(),
            raw_protocols: BTreeSet::new(),
            raw_rx: VecDeque::new(),
            blocked: BTreeSet::new(),
            mcast: BTreeSet::new(),
            pmtu: BTreeMap::new(),
            rt_genid: 0,
            icmp_peers: BTreeMap::new(),
            redirect_peers: BTreeMap::new(),
            ip_id: 1,
            backlog: VecDeque::new(),
            now: Instant::ZERO,
            local_addrs: Vec::new(),
        };
        let lo = IfAddr {
            addr: Ipv4Addr::LOCALHOST,
            prefix: 8,
            label: "lo".into(),
            scope: Scope::Host,
            broadcast: None,
            secondary: false,
        };
        s.add_addr(0, lo).expect("fresh lo");
        s
    }

    // ----- lookups -----

    pub fn dev_pos(&self, ifindex: IfIndex) -> Option<usize> {
        // Devices are usually kept in ifindex order from 1.
        let guess = (ifindex as usize).wrapping_sub(1);
        if self.ifaces.get(guess).is_some_and(|i| i.index == ifindex) {
            return Some(guess);
        }
        pos_of(&self.ifaces, ifindex)
    }

    pub fn dev_by_name(&self, name: &str) -> Option<usize> {
        let base = name.split(':').next().unwrap_or(name);
        self.ifaces.iter().position(|i| i.name == base)
    }

    fn port_dev(&self, port: PortId) -> Option<usize> {
        self.ifaces.iter().position(|i| i.port == Some(port))
    }

    /// The device a frame to `dst` arriving on `port` belongs to: a macvlan on the
    /// port whose MAC it is, else the port's own device.
    fn rx_dev(&self, port: PortId, dst: MacAddr) -> Option<usize> {
        self.ifaces.iter().position(|i| i.vmac_of == Some(port) && i.mac == dst).or_else(|| self.port_dev(port))
    }

    /// RTN_LOCAL: `a` is one of this machine's addresses (weak host model: on
    /// any device, lo included).
    pub fn is_local(&self, a: Ipv4Addr) -> bool {
        let local = self.local_addrs.binary_search(&u32::from(a)).is_ok() || (a.is_loopback() && self.ifaces[0].up);
        debug_assert_eq!(
            local,
            self.ifaces.iter().any(|i| i.up && i.has_addr(a)) || (a.is_loopback() && self.ifaces[0].up),
            "local address list out of date"
        );
        local
    }

    /// `inet_select_addr(dev, dst, scope)`: the device's primary address for
    /// `dst`'s subnet or its first one, else any device's (lo first).
    pub fn select_addr(&self, dev: usize, dst: Option<Ipv4Addr>, scope: Scope) -> Option<Ipv4Addr> {
        self.ifaces[dev].select_addr(dst, scope).or_else(|| {
            self.ifaces.iter().find_map(|i| i.addrs.iter().find(|a| !a.secondary && a.scope <= scope).map(|a| a.addr))
        })
    }

    fn usable(&self) -> impl Fn(&Route) -> bool + '_ {
        |r: &Route| r.dev.is_none_or(|d| self.dev_pos(d).is_some_and(|p| self.ifaces[p].up))
    }

    /// The device a route to `dst` would leave by.
    pub fn route_dev(&self, dst: Ipv4Addr) -> Option<IfIndex> {
        self.fib.lookup(dst, self.usable()).and_then(|r| r.dev)
    }

    /// `ip_route_output_key`: route, next hop, preferred source and MTU for a
    /// locally generated packet to `dst`.
    pub fn route_output(&self, dst: Ipv4Addr) -> Option<OutRoute> {
        if dst.is_broadcast() {
            // Limited broadcast leaves by the first device with an address.
            let dev = self.ifaces.iter().position(|i| i.kind == IfKind::Ether && i.up && !i.addrs.is_empty())?;
            let src = self.select_addr(dev, None, Scope::Link)?;
            return Some(OutRoute {
                dev,
                gateway: None,
                src,
                mtu: self.ifaces[dev].mtu,
                local: false,
                broadcast: true,
            });
        }
        let r = self.fib.lookup(dst, self.usable())?;
        if !matches!(r.rtype, RouteType::Unicast | RouteType::Local) {
            return None;
        }
        let dev = self.dev_pos(r.dev?)?;
        let local = r.rtype == RouteType::Local;
        let src = match (r.src, local) {
            (Some(s), _) => s,
            (None, true) => dst,
            (None, false) => {
                let scope = if r.gateway.is_some() { Scope::Link } else { Scope::Host };
                self.select_addr(dev, r.gateway.or(Some(dst)), scope)?
            }
        };
        let learned = self.pmtu.get(&dst).filter(|(_, exp)| *exp > self.now).map(|(m, _)| *m);
        let mtu = learned.or(r.mtu).unwrap_or(self.ifaces[dev].mtu).min(self.ifaces[dev].mtu);
        let broadcast = !local && self.ifaces[dev].is_broadcast(dst);
        Some(OutRoute { dev, gateway: r.gateway, src, mtu, local, broadcast })
    }

    /// `fib_validate_source`: reverse-path check of `src` arriving on `dev`.
    fn validate_source(&self, src: Ipv4Addr, dev: usize) -> Result<(), String> {
        let (name, slot) = (&self.ifaces[dev].name, self.ifaces[dev].conf);
        let (accept_local, mode) = self.sysctl.source_checks_at(slot);
        if !accept_local && self.ifaces[dev].kind != IfKind::Loopback && self.is_local(src) {
            return Err(format!("martian source {src}: it is one of our own addresses (accept_local=0)"));
        }
        if mode == 0 {
            return Ok(());
        }
        match self.fib.lookup(src, self.usable()) {
            None => Err(format!("rp_filter={mode}: no route back to {src}")),
            Some(r) if mode == 1 && r.dev != Some(self.ifaces[dev].index) => {
                let via = r.dev.and_then(|d| self.dev_pos(d)).map(|p| self.ifaces[p].name.clone()).unwrap_or_default();
                Err(format!("rp_filter=1: the route back to {src} leaves via {via}, not {name}"))
            }
            Some(_) => Ok(()),
        }
    }

    // ----- configuration used by the command layer -----

    /// Adds an address and its kernel routes.
    pub fn add_addr(&mut self, dev: usize, a: IfAddr) -> Result<(), iface::AddrError> {
        self.ifaces[dev].add_addr(a)?;
        self.rebuild_kernel_routes();
        Ok(())
    }

    /// Removes an address (and its secondaries when it was primary).
    pub fn del_addr(
        &mut self,
        dev: usize,
        addr: Ipv4Addr,
        prefix: Option<u8>,
    ) -> Result<Vec<IfAddr>, iface::AddrError> {
        let gone = self.ifaces[dev].del_addr(addr, prefix)?;
        self.rebuild_kernel_routes();
        Ok(gone)
    }

    /// Recomputes the local and connected routes from the devices' addresses:
    /// local routes exist while the device is up (`fib_add_ifaddr` on
    /// NETDEV_UP), connected routes for primary addresses shorter than /32.
    pub fn rebuild_kernel_routes(&mut self) {
        self.fib.retain(|r| r.proto != fib::Proto::Kernel);
        let up = self.ifaces.iter().filter(|i| i.up);
        self.fib
            .add_ifaddrs(up.clone().flat_map(|i| i.addrs.iter().map(|a| (i.index, a.addr, a.prefix, !a.secondary))));
        self.local_addrs.clear();
        self.local_addrs.extend(up.flat_map(|i| i.addrs.iter().map(|a| u32::from(a.addr))));
        self.local_addrs.sort_unstable();
        self.local_addrs.dedup();
    }

    /// Brings a device up or down (`ip link set dev X up|down`). Down drops its
    /// routes, static ones included, and its neighbour entries
    /// (`fib_disable_ip`, `neigh_ifdown`); up restores only the kernel's routes.
    pub fn set_link(&mut self, dev: usize, up: bool) {
        let idx = self.ifaces[dev].index;
        self.ifaces[dev].up = up;
        self.rt_cache_flush();
        if !up {
            self.fib.retain(|r| r.dev != Some(idx));
            self.neigh.flush(|n| n.dev == idx);
        }
        self.rebuild_kernel_routes();
    }

    /// `rt_cache_flush`: routes cached outside the stack (IPVS's per-dest
    /// routes) are looked up again. Called for every change that can alter a
    /// route lookup other than the FIB's own (which counts itself): devices
    /// added, links up or down, MTUs, learned path MTUs.
    pub fn rt_cache_flush(&mut self) {
        self.rt_genid += 1;
    }

    /// Sets a device's MTU (`ip link set dev X mtu N`, `ifconfig X mtu N`).
    pub fn set_mtu(&mut self, dev: usize, mtu: u32) {
        self.ifaces[dev].mtu = mtu;
        self.rt_cache_flush();
    }

    /// Creates `tunl0` (loading the `ipip` module): NOARP, MTU 1480, down.
    pub fn ensure_tunl0(&mut self) -> usize {
        if let Some(p) = self.dev_by_name("tunl0") {
            return p;
        }
        let index = self.ifaces.iter().map(|i| i.index).max().unwrap_or(1) + 1;
        let mut t = Iface::new(index, "tunl0", IfKind::Ipip, MacAddr::ZERO, None);
        t.conf = self.sysctl.add_dev("tunl0");
        self.ifaces.push(t);
        self.rt_cache_flush();
        self.ifaces.len() - 1
    }

    /// The MTU learned for `dst` (`ip route get` shows it as an exception).
    pub fn learned_pmtu(&self, dst: Ipv4Addr) -> Option<u32> {
        self.pmtu.get(&dst).filter(|(_, e)| *e > self.now).map(|(m, _)| *m)
    }

    pub fn next_ip_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    // ----- time -----

    pub fn next_deadline(&self) -> Option<Instant> {
        earliest(self.neigh.next_deadline(), self.tcp.next_deadline())
    }

    pub fn on_timer(&mut self, now: Instant, hk: &mut Hk, out: &mut Outbox) {
        self.now = now;
        let mut nout = vec![];
        let sys = &self.sysctl;
        let names: BTreeMap<IfIndex, String> = self.ifaces.iter().map(|i| (i.index, i.name.clone())).collect();
        self.neigh.on_timer(
            now,
            &|d| sys.neigh_parms(names.get(&d).map_or("", String::as_str)).clone(),
            out.tracing(),
            &mut nout,
        );
        self.run_neigh(now, nout, hk, out);
        if self.tcp.next_deadline().is_some_and(|t| t <= now) {
            self.tcp.on_timer(now);
            self.flush_tcp(now, hk, out);
        }
        self.run_backlog(now, hk, out);
    }

    // ----- input -----

    /// A frame arrived on `port`.
    pub fn receive(&mut self, now: Instant, port: PortId, frame: Vec<u8>, hk: &mut Hk, out: &mut Outbox) {
        self.now = now;
        let eth = match Eth::parse(&frame) {
            Ok(e) => e,
            Err(e) => return out.drop_rx(|| e.to_string()),
        };
        let Some(dev) = self.rx_dev(port, eth.dst) else {
            return out.drop_rx(|| "no device on this port".into());
        };
        if !self.ifaces[dev].up {
            return out.drop_rx(|| format!("{} is down", self.ifaces[dev].name));
        }
        let mac = self.ifaces[dev].mac;
        let pkt_type = if eth.dst == mac {
            PktType::Host
        } else if eth.dst.is_broadcast() {
            PktType::Broadcast
        } else if eth.dst.is_multicast() {
            PktType::Multicast
        } else {
            return out.drop_rx(|| format!("for {}, not this NIC's MAC", eth.dst));
        };
        match eth.ethertype {
            ETHERTYPE_ARP if pkt_type == PktType::Broadcast && self.ifaces.iter().any(|i| i.vmac_of == Some(port)) => {
                self.arp_rcv_macvlans(now, dev, port, &eth, hk, out);
            }
            ETHERTYPE_ARP => self.arp_rcv(now, dev, &eth, pkt_type == PktType::Host, hk, out),
            ETHERTYPE_IPV4 => {
                if pkt_type == PktType::Multicast && !self.joined_mac(dev, eth.dst) {
                    return out.drop_rx(|| "multicast group not joined".into());
                }
                self.ip_rcv(now, dev, frame, pkt_type, hk, out)
            }
            t => out.drop_rx(|| format!("ethertype 0x{t:04x} not handled")),
        }
        self.run_backlog(now, hk, out);
    }

    /// A broadcast ARP on a port with macvlans: the lower device handles it
    /// (`RX_HANDLER_PASS`), then each macvlan that is up, as
    /// `macvlan_broadcast_enqueue` → `macvlan_process_broadcast` deliver it. The
    /// verdict names each device. (IP broadcasts are not fanned out.)
    fn arp_rcv_macvlans(&mut self, now: Instant, dev: usize, port: PortId, eth: &Eth, hk: &mut Hk, out: &mut Outbox) {
        self.arp_rcv(now, dev, eth, false, hk, out);
        let mut causes = vec![];
        let mut answered = false;
        let mut take = |stack: &Stack, d: usize, out: &mut Outbox| {
            if let Some(v) = out.take_verdict() {
                answered |= !v.dropped;
                causes.push(format!("{}: {}", stack.ifaces[d].name, v.cause));
            }
        };
        take(self, dev, out);
        let macvlans: Vec<usize> =
            (0..self.ifaces.len()).filter(|&d| self.ifaces[d].vmac_of == Some(port) && self.ifaces[d].up).collect();
        for d in macvlans {
            self.arp_rcv(now, d, eth, false, hk, out);
            take(self, d, out);
        }
        let cause = causes.join("; ");
        if answered { out.verdict(|| cause) } else { out.drop_rx(|| cause) }
    }

    fn joined_mac(&self, dev: usize, m: MacAddr) -> bool {
        m == MacAddr::ipv4_multicast(Ipv4Addr::new(224, 0, 0, 1))
            || self.mcast.iter().any(|(d, g)| *d == dev && MacAddr::ipv4_multicast(*g) == m)
    }

    /// Packets looped back to ourselves (and decapsulated ones) are processed
    /// after the current packet, as `netif_rx`'s backlog does.
    fn run_backlog(&mut self, now: Instant, hk: &mut Hk, out: &mut Outbox) {
        let mut budget = 10_000;
        while let Some((dev, frame)) = self.backlog.pop_front() {
            budget -= 1;
            if budget == 0 {
                self.backlog.clear();
                break;
            }
            let kind = if self.ifaces[dev].kind == IfKind::Loopback { PktType::Looped } else { PktType::Host };
            self.ip_rcv(now, dev, frame, kind, hk, out);
        }
    }

    /// `ip_rcv` → `ip_rcv_finish` → `ip_route_input`.
    fn ip_rcv(
        &mut self,
        now: Instant,
        dev: usize,
        mut frame: Vec<u8>,
        pkt_type: PktType,
        hk: &mut Hk,
        out: &mut Outbox,
    ) {
        let ip = match Ipv4::parse(&frame[ETH_HLEN..]) {
            Ok(ip) => ip,
            Err(e) => return self.note_drop(dev, pkt_type, out, format!("IP: {e}")),
        };
        let (src, dst, proto) = (ip.src, ip.dst, ip.proto);
        if ip.is_fragment() {
            return self.note_drop(dev, pkt_type, out, "IP fragments are not modelled (reassembly)".into());
        }
        // PREROUTING: mangle MARK and the reply side of MASQUERADE.
        let mut mark = 0;
        if pkt_type != PktType::Looped && !self.nf.quiet() {
            let info = PktInfo::of(&ip, Some(&self.ifaces[dev].name), None);
            mark = self.nf.prerouting_mark(&info);
            if self.nf.unmasquerade(&mut frame) {
                return self.ip_rcv(now, dev, frame, pkt_type, hk, out);
            }
        }
        if pkt_type == PktType::Looped {
            return self.local_deliver(now, dev, frame, pkt_type, mark, hk, out);
        }
        if src.is_multicast() || src.is_broadcast() || (src.is_unspecified() && proto != IPPROTO_UDP) {
            return out.drop_rx(|| format!("martian source {src}"));
        }
        if src.is_loopback() && self.ifaces[dev].kind != IfKind::Loopback {
            return out.drop_rx(|| format!("martian source {src} on {}", self.ifaces[dev].name));
        }
        if dst.is_multicast() || dst.is_broadcast() || self.ifaces[dev].is_broadcast(dst) {
            return self.local_deliver(now, dev, frame, pkt_type, mark, hk, out);
        }
        match self.fib.lookup(dst, self.usable()).cloned() {
            Some(r) if r.rtype == RouteType::Local => {
                if let Err(why) = self.validate_source(src, dev) {
                    return out.drop_rx(|| why);
                }
                self.local_deliver(now, dev, frame, pkt_type, mark, hk, out);
            }
            Some(r) if r.rtype == RouteType::Unicast => {
                if !self.sysctl.forwarding(&self.ifaces[dev].name) {
                    let n = &self.ifaces[dev].name;
                    return out.drop_rx(|| format!("{dst} is not local and ip_forward=0 on {n}: dropped"));
                }
                if pkt_type != PktType::Host {
                    return out.drop_rx(|| "not forwarding a broadcast frame".into());
                }
                if let Err(why) = self.validate_source(src, dev) {
                    return out.drop_rx(|| why);
                }
                self.ip_forward(now, dev, frame, &r, mark, hk, out);
            }
            Some(r) => {
                let t = r.rtype;
                out.drop_rx(|| format!("{} route to {dst}", t.name()));
                match t {
                    RouteType::Unreachable => {
                        self.icmp_send(now, &frame, Some(dev), ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0, hk, out)
                    }
                    RouteType::Prohibit => self.icmp_send(now, &frame, Some(dev), ICMP_DEST_UNREACH, 13, 0, hk, out),
                    _ => {}
                }
            }
            None => {
                if self.sysctl.forwarding(&self.ifaces[dev].name) {
                    out.drop_rx(|| format!("no route to {dst}: ICMP net unreachable"));
                    self.icmp_send(now, &frame, Some(dev), ICMP_DEST_UNREACH, ICMP_NET_UNREACH, 0, hk, out);
                } else {
                    let n = &self.ifaces[dev].name;
                    out.drop_rx(|| format!("{dst} is not local and ip_forward=0 on {n}: dropped"));
                }
            }
        }
    }

    fn note_drop(&self, dev: usize, pkt_type: PktType, out: &mut Outbox, why: String) {
        if pkt_type == PktType::Looped {
            out.note(&self.ifaces[dev].name, "drop", || why);
        } else {
            out.drop_rx(|| why);
        }
    }

    /// Asks the hooked module about a packet; `None` means continue.
    fn hook(
        &mut self,
        now: Instant,
        hook: HookPoint,
        in_dev: Option<usize>,
        mark: u32,
        frame: &mut Vec<u8>,
        hk: &mut Hk,
        out: &mut Outbox,
    ) -> Option<HookVerdict> {
        let h = hk.0.as_deref_mut()?;
        let meta = PacketMeta { hook, in_dev, mark };
        match h.hook(now, meta, frame, self, out) {
            HookVerdict::Accept | HookVerdict::LocalDeliver => None,
            v => Some(v),
        }
    }

    /// Carries out a hook verdict other than accept.
    fn apply_verdict(
        &mut self,
        now: Instant,
        v: HookVerdict,
        frame: Vec<u8>,
        in_dev: Option<usize>,
        hk: &mut Hk,
        out: &mut Outbox,
    ) {
        match v {
            HookVerdict::Transmit { dev, next_hop } => match self.ifaces.get(dev.0) {
                Some(_) => self.neigh_output(now, dev.0, next_hop, frame, None, hk, out),
                None => out.note("-", "drop", || format!("IPVS transmit via unknown device {}", dev.0)),
            },
            HookVerdict::IcmpError { typ, code, info } => self.icmp_send(now, &frame, in_dev, typ, code, info, hk, out),
            HookVerdict::Drop | HookVerdict::Accept | HookVerdict::LocalDeliver => {}
        }
    }

    /// `ip_local_deliver`: INPUT rules, then IPVS at LOCAL_IN, then the protocol.
    fn local_deliver(
        &mut self,
        now: Instant,
        dev: usize,
        mut frame: Vec<u8>,
        pkt_type: PktType,
        mark: u32,
        hk: &mut Hk,
        out: &mut Outbox,
    ) {
        if !self.blocked.is_empty() {
            let dst =
                Ipv4Addr::new(frame[ETH_HLEN + 16], frame[ETH_HLEN + 17], frame[ETH_HLEN + 18], frame[ETH_HLEN + 19]);
            if self.blocked.contains(&dst) {
                return self.note_drop(
                    dev,
                    pkt_type,
                    out,
                    format!("keepalived strict mode blocks {dst} (no `accept`)"),
                );
            }
        }
        if !self.nf.quiet() {
            let ip = Ipv4::trusted(&frame[ETH_HLEN..]).expect("validated by ip_rcv");
            let info = PktInfo::of(&ip, Some(&self.ifaces[dev].name), None);
            match self.nf.filter(netfilter::Chain::Input, &info) {
                NfVerdict::Accept => {}
                v => {
                    let rule = v.describe();
                    self.note_drop(dev, pkt_type, out, format!("iptables INPUT: {rule}"));
                    if let NfVerdict::Reject(code) = v {
                        self.icmp_send(now, &frame, Some(dev), ICMP_DEST_UNREACH, code, 0, hk, out);
                    }
                    return;
                }
            }
        }
        let in_dev = (pkt_type != PktType::Looped).then_some(dev);
        if let Some(v) = self.hook(now, HookPoint::LocalIn, in_dev, mark, &mut frame, hk, out) {
            return self.apply_verdict(now, v, frame, Some(dev), hk, out);
        }
        let (proto, dst) = match Ipv4::trusted(&frame[ETH_HLEN..]) {
            Ok(ip) => (ip.proto, ip.dst),
            Err(e) => return self.note_drop(dev, pkt_type, out, format!("IP after LOCAL_IN hook: {e}")),
        };
        match proto {
            IPPROTO_ICMP => self.icmp_rcv(now, dev, &frame, pkt_type == PktType::Looped, hk, out),
            IPPROTO_UDP => {
                self.udp_rcv(now, dev, frame, pkt_type != PktType::Host && pkt_type != PktType::Looped, hk, out)
            }
            IPPROTO_TCP => self.tcp_rcv(now, dev, &frame, hk, out),
            IPPROTO_IPIP => self.ipip_rcv(now, dev, frame, out),
            p if self.raw_protocols.contains(&p) => {
                let src_mac = MacAddr::from_slice(&frame[6..12]);
                let dev = self.ifaces[dev].name.clone();
                self.raw_rx.push_back(RawPacket { dev, src_mac, packet: frame[ETH_HLEN..].to_vec() });
                out.verdict(|| format!("delivered to the raw socket for protocol {p}"));
            }
            p => {
                if dst.is_multicast() || dst.is_broadcast() {
                    return out.drop_rx(|| format!("no listener for protocol {p}"));
                }
                out.drop_rx(|| format!("protocol {p} not handled: ICMP protocol unreachable"));
                self.icmp_send(now, &frame, Some(dev), ICMP_DEST_UNREACH, 2, 0, hk, out);
            }
        }
    }

    /// `ipip_rcv`: with `tunl0` up, the inner packet is received again on tunl0
    /// (so tunl0's `rp_filter` applies to it); without it, the kernel answers
    /// ICMP protocol unreachable.
    fn ipip_rcv(&mut self, now: Instant, dev: usize, frame: Vec<u8>, out: &mut Outbox) {
        let Some(t) = self.dev_by_name("tunl0").filter(|&t| self.ifaces[t].up) else {
            out.drop_rx(|| {
                "IPIP received but no tunl0 is up (modprobe ipip; ip link set tunl0 up): ICMP protocol unreachable"
                    .into()
            });
            let mut hk = Hk(None);
            return self.icmp_send(now, &frame, Some(dev), ICMP_DEST_UNREACH, 2, 0, &mut hk, out);
        };
        let ip = Ipv4::trusted(&frame[ETH_HLEN..]).expect("validated");
        let inner_off = ETH_HLEN + ip.header.len();
        let mut inner = frame[..ETH_HLEN].to_vec();
        inner.extend_from_slice(&frame[inner_off..]);
        out.verdict(|| "IPIP decapsulated onto tunl0".into());
        self.ip_rcv_tunnel(now, t, inner, out);
    }

    fn ip_rcv_tunnel(&mut self, now: Instant, t: usize, inner: Vec<u8>, out: &mut Outbox) {
        let mut hk = Hk(None);
        let name = self.ifaces[t].name.clone();
        let ip = match Ipv4::parse(&inner[ETH_HLEN..]) {
            Ok(ip) => ip,
            Err(e) => return out.note(&name, "drop", || format!("inner packet: {e}")),
        };
        let (src, dst) = (ip.src, ip.dst);
        if !self.is_local(dst) {
            return out.note(&name, "drop", || format!("decapsulated packet for {dst} is not local"));
        }
        if let Err(why) = self.validate_source(src, t) {
            return out.note(&name, "drop", || format!("decapsulated {src} > {dst}: {why}"));
        }
        out.note(&name, "rx", || format!("decapsulated {}", crate::wire::summary::ipv4(&inner[ETH_HLEN..])));
        self.local_deliver(now, t, inner, PktType::Host, 0, &mut hk, out);
    }

    /// `ip_forward`: TTL, MTU, redirects, FORWARD rules and IPVS, POSTROUTING.
    fn ip_forward(
        &mut self,
        now: Instant,
        in_dev: usize,
        mut frame: Vec<u8>,
        r: &Route,
        mark: u32,
        hk: &mut Hk,
        out: &mut Outbox,
    ) {
        let ip = Ipv4::trusted(&frame[ETH_HLEN..]).expect("validated");
        let (src, dst, ttl, df, len) = (ip.src, ip.dst, ip.ttl, ip.df, ip.packet_len());
        if ttl <= 1 {
            out.drop_rx(|| "TTL exceeded in transit".into());
            return self.icmp_send(now, &frame, Some(in_dev), ICMP_TIME_EXCEEDED, 0, 0, hk, out);
        }
        let Some(out_dev) = r.dev.and_then(|d| self.dev_pos(d)) else { return };
        let mtu = self.learned_pmtu(dst).or(r.mtu).unwrap_or(self.ifaces[out_dev].mtu);
        if len as u32 > mtu {
            if df {
                out.drop_rx(|| {
                    format!(
                        "{len} bytes with DF set exceed the MTU {mtu} of {}: ICMP frag needed",
                        self.ifaces[out_dev].name
                    )
                });
                return self.icmp_send(now, &frame, Some(in_dev), ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu, hk, out);
            }
            return out.drop_rx(|| format!("{len} bytes exceed MTU {mtu}: fragmentation is not modelled"));
        }
        ip::rewrite::dec_ttl(&mut frame[ETH_HLEN..]);
        let next_hop = r.gateway.unwrap_or(dst);
        // IPSKB_DOREDIRECT: out the same device, source on-link, send_redirects.
        let in_name = self.ifaces[in_dev].name.clone();
        if out_dev == in_dev
            && self.sysctl.send_redirects(&in_name)
            && self.ifaces[in_dev].addrs.iter().any(|a| a.matches(src) && a.matches(next_hop))
        {
            self.send_redirect(now, in_dev, &frame, next_hop, hk, out);
        }
        let out_name = self.ifaces[out_dev].name.clone();
        if !self.nf.quiet() {
            let ipv = Ipv4::trusted(&frame[ETH_HLEN..]).expect("still valid");
            let info = PktInfo::of(&ipv, Some(&in_name), Some(&out_name));
            match self.nf.filter(netfilter::Chain::Forward, &info) {
                NfVerdict::Accept => {}
                v => {
                    let rule = v.describe();
                    return out.drop_rx(|| format!("iptables FORWARD: {rule}"));
                }
            }
        }
        if let Some(v) = self.hook(now, HookPoint::Forward, Some(in_dev), mark, &mut frame, hk, out) {
            out.verdict(|| "handled by IPVS at FORWARD".into());
            return self.apply_verdict(now, v, frame, Some(in_dev), hk, out);
        }
        let src_addr = self.select_addr(out_dev, Some(next_hop), Scope::Global);
        let masq = self.nf.postrouting(&mut frame, &out_name, src_addr);
        out.verdict(|| {
            let m = masq.map(|s| format!(", MASQUERADE to {s}")).unwrap_or_default();
            let via = r.gateway.map(|g| format!(" via {g}")).unwrap_or_default();
            format!("forwarded (ip_forward=1) out {out_name}{via}{m}")
        });
        self.neigh_output(now, out_dev, next_hop, frame, None, hk, out);
    }

    /// `ip_rt_send_redirect` with its exponential backoff per peer
    /// (`ip_rt_redirect_number` 9, `ip_rt_redirect_load` 20 ms, silence 20 s).
    fn send_redirect(&mut self, now: Instant, dev: usize, frame: &[u8], gw: Ipv4Addr, hk: &mut Hk, out: &mut Outbox) {
        let src = Ipv4Addr::new(frame[26], frame[27], frame[28], frame[29]);
        let load = Duration::from_millis(20);
        let e = self.redirect_peers.entry(src).or_insert((0, Instant::ZERO));
        if now.since(e.1) > Duration::from_millis(20 * 1024) {
            e.0 = 0;
        }
        if e.0 >= 9 || (e.0 > 0 && now.since(e.1) < load * (1 << e.0)) {
            return;
        }
        e.0 += 1;
        e.1 = now;
        let info = u32::from(gw);
        self.icmp_send(now, frame, Some(dev), ip::ICMP_REDIRECT, 1, info, hk, out);
    }

    // ----- output -----

    /// `ip_local_out` for a locally built frame (Ethernet placeholder + IP): LOCAL_OUT
    /// (IPVS, then the filter OUTPUT chain), POSTROUTING, then loopback or the
    /// neighbour layer. `cause` explains the packet in the trace.
    pub fn ip_output(
        &mut self,
        now: Instant,
        frame: Vec<u8>,
        cause: Option<String>,
        hk: &mut Hk,
        out: &mut Outbox,
    ) -> Result<(), SendError> {
        self.ip_output_routed(now, frame, None, cause, hk, out)
    }

    /// [`Stack::ip_output`] with the route already looked up by the sender.
    pub fn ip_output_routed(
        &mut self,
        now: Instant,
        mut frame: Vec<u8>,
        route: Option<OutRoute>,
        cause: Option<String>,
        hk: &mut Hk,
        out: &mut Outbox,
    ) -> Result<(), SendError> {
        self.now = now;
        let (dst, len, df) = {
            let ip = Ipv4::trusted(&frame[ETH_HLEN..]).map_err(|_| SendError::NetUnreach)?;
            (ip.dst, ip.packet_len(), ip.df)
        };
        let r = match route {
            Some(r) => Some(r),
            None if dst.is_multicast() => None,
            None => Some(self.route_output(dst).ok_or(SendError::NetUnreach)?),
        };
        if let Some(v) = self.hook(now, HookPoint::LocalOut, None, 0, &mut frame, hk, out) {
            self.apply_verdict(now, v, frame, None, hk, out);
            return Ok(());
        }
        let filter_dev = match &r {
            Some(r) => Some(r.dev),
            None => self.mcast_dev(),
        };
        self.output_filter(&frame, filter_dev, out)?;
        let Some(r) = r else {
            // Multicast (VRRP): straight out of the device the sender chose.
            let Some(d) = self.mcast_dev() else { return Err(SendError::NetUnreach) };
            self.xmit_direct(d, MacAddr::ipv4_multicast(dst), frame, cause, out);
            return Ok(());
        };
        if r.local {
            let lo = 0;
            self.backlog.push_back((lo, frame));
            return Ok(());
        }
        if df && len as u32 > r.mtu {
            return Err(SendError::TooBig);
        }
        if !self.nf.quiet() {
            let out_name = self.ifaces[r.dev].name.clone();
            self.nf.postrouting(&mut frame, &out_name, Some(r.src));
        }
        if r.broadcast {
            self.xmit_direct(r.dev, MacAddr::BROADCAST, frame, cause, out);
            return Ok(());
        }
        let nh = r.gateway.unwrap_or(dst);
        self.neigh_output(now, r.dev, nh, frame, cause, hk, out);
        Ok(())
    }

    /// The filter OUTPUT chain for a locally generated packet leaving by `dev`.
    pub fn output_filter(&mut self, frame: &[u8], dev: Option<usize>, out: &mut Outbox) -> Result<(), SendError> {
        if self.nf.quiet() {
            return Ok(());
        }
        let out_name = dev.map(|d| self.ifaces[d].name.clone()).unwrap_or_default();
        let ip = Ipv4::trusted(&frame[ETH_HLEN..]).map_err(|_| SendError::NetUnreach)?;
        let info = PktInfo::of(&ip, None, Some(&out_name));
        if let v @ (NfVerdict::Drop(_) | NfVerdict::Reject(_)) = self.nf.filter(netfilter::Chain::Output, &info) {
            let rule = v.describe();
            let s = crate::wire::summary::ipv4(&frame[ETH_HLEN..]);
            out.note(&out_name, "drop", || format!("{s} [iptables OUTPUT: {rule}]"));
            return Err(SendError::Filtered);
        }
        Ok(())
    }

    /// The device multicast leaves by: the first Ethernet device that is up.
    pub(crate) fn mcast_dev(&self) -> Option<usize> {
        self.ifaces.iter().position(|i| i.kind == IfKind::Ether && i.up)
    }

    /// Sends a frame with a known destination MAC (broadcast, multicast).
    pub fn xmit_direct(
        &mut self,
        dev: usize,
        dst: MacAddr,
        mut frame: Vec<u8>,
        cause: Option<String>,
        out: &mut Outbox,
    ) {
        let i = &self.ifaces[dev];
        let Some(port) = i.tx_port() else { return };
        if !i.running() {
            return;
        }
        set_eth(&mut frame, dst, i.mac, ETHERTYPE_IPV4);
        match cause {
            Some(c) => out.send_with(port, frame, || c),
            None => out.send(port, frame),
        }
    }

    /// Neighbour output towards `next_hop` on `dev`.
    pub fn neigh_output(
        &mut self,
        now: Instant,
        dev: usize,
        next_hop: Ipv4Addr,
        frame: Vec<u8>,
        cause: Option<String>,
        hk: &mut Hk,
        out: &mut Outbox,
    ) {
        let iface = &self.ifaces[dev];
        if iface.kind == IfKind::Loopback {
            self.backlog.push_back((dev, frame));
            return;
        }
        if iface.tx_port().is_none() || !iface.running() {
            let n = iface.name.clone();
            out.note(&n, "drop", || format!("{n} cannot transmit (down or no carrier)"));
            return;
        }
        let idx = iface.index;
        let (sysctl, name) = (&self.sysctl, &self.ifaces[dev].name);
        let parms = || sysctl.neigh_parms(name);
        let mut nout = vec![];
        let ready = self.neigh.output(now, idx, next_hop, frame, cause, parms, out.tracing(), &mut nout);
        if !nout.is_empty() {
            self.run_neigh(now, nout, hk, out);
        }
        if let Some((mac, frame, cause)) = ready {
            self.send_resolved(idx, mac, frame, cause, out);
        }
    }

    fn send_resolved(
        &mut self,
        dev: IfIndex,
        mac: MacAddr,
        mut frame: Vec<u8>,
        cause: Option<String>,
        out: &mut Outbox,
    ) {
        let Some(d) = self.dev_pos(dev) else { return };
        let i = &self.ifaces[d];
        let Some(port) = i.tx_port() else { return };
        set_eth(&mut frame, mac, i.mac, ETHERTYPE_IPV4);
        match cause {
            Some(c) => out.send_with(port, frame, || c),
            None => out.send(port, frame),
        }
    }

    /// Carries out what the neighbour cache asked for.
    fn run_neigh(&mut self, now: Instant, actions: Vec<NeighOut>, hk: &mut Hk, out: &mut Outbox) {
        for a in actions {
            match a {
                NeighOut::Solicit { dev, target, to, hint_src } => self.arp_solicit(dev, target, to, hint_src, out),
                NeighOut::Send { dev, mac, frame, cause } => self.send_resolved(dev, mac, frame, cause, out),
                NeighOut::Failed { dev: _, target, frame } => {
                    // arp_error_report → ipv4_link_failure → ICMP host unreachable.
                    let s = crate::wire::summary::ipv4(&frame[ETH_HLEN..]);
                    out.note("-", "drop", || format!("{s} [neighbour {target} FAILED: host unreachable]"));
                    self.icmp_send_link_failure(now, &frame, hk, out);
                }
                NeighOut::Note { dev, text } => {
                    let n = self.dev_pos(dev).map(|p| self.ifaces[p].name.clone()).unwrap_or_default();
                    out.note(&n, "neigh", || text);
                }
            }
        }
    }

    /// Records a learned path MTU (`ip_rt_update_pmtu`, floor `ip_rt_min_pmtu`).
    pub fn update_pmtu(&mut self, now: Instant, dst: Ipv4Addr, mtu: u32) -> u32 {
        let mtu = mtu.max(MIN_PMTU);
        self.pmtu.insert(dst, (mtu, now + MTU_EXPIRES));
        self.rt_cache_flush();
        mtu
    }

    /// Nothing waits for the machine's programs: no TCP segment or event, no
    /// looped-back frame, no readable UDP socket, no raw packet.
    pub fn idle(&self) -> bool {
        !self.tcp.has_output()
            && !self.tcp.has_events()
            && self.backlog.is_empty()
            && !self.udp.has_ready()
            && self.raw_rx.is_empty()
    }

    /// Frames waiting for loopback delivery are handled now (after a locally
    /// generated packet was sent to one of our own addresses).
    pub fn flush_backlog(&mut self, now: Instant, hk: &mut Hk, out: &mut Outbox) {
        self.run_backlog(now, hk, out);
    }
}

impl HookEnv for Stack {
    fn route(&self, dst: Ipv4Addr) -> Option<RouteInfo> {
        let r = self.route_output(dst)?;
        let expires = self.pmtu.get(&dst).map_or(Instant::MAX, |&(_, e)| if e > self.now { e } else { Instant::MAX });
        Some(RouteInfo { dev: DevId(r.dev), gateway: r.gateway, src: r.src, mtu: r.mtu, local: r.local, expires })
    }
    fn route_genid(&self) -> u64 {
        self.rt_genid.wrapping_add(self.fib.genid())
    }
    fn is_local(&self, addr: Ipv4Addr) -> bool {
        Stack::is_local(self, addr)
    }
}

/// A frame's IP packet (after the Ethernet header).
pub fn ip_of(frame: &[u8]) -> &[u8] {
    &frame[ETH_HLEN..]
}

/// `Ipv4` view of a frame built by this stack (always valid).
pub fn parse_ip(frame: &[u8]) -> Option<Ipv4<'_>> {
    Ipv4::parse(frame.get(ETH_HLEN..)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every change that can alter a route lookup moves `route_genid`, so a route
    /// IPVS keeps with a dest is looked up again; a learned path MTU also dates
    /// the answer it is in.
    #[test]
    fn route_changes_move_the_generation() {
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        let mut s = Stack::new("dir", &[("eth0".into(), mac)], crate::rng::stream(0, "t"));
        let rs = Ipv4Addr::new(192, 168, 1, 11);
        let mut genid = s.route_genid();
        let mut moved = |s: &Stack, what: &str| {
            assert_ne!(s.route_genid(), genid, "{what}");
            genid = s.route_genid();
        };
        s.set_link(1, true);
        moved(&s, "link up");
        let a = IfAddr {
            addr: Ipv4Addr::new(192, 168, 1, 1),
            prefix: 24,
            label: "eth0".into(),
            scope: Scope::Global,
            broadcast: None,
            secondary: false,
        };
        s.add_addr(1, a).unwrap();
        moved(&s, "address added");
        assert_eq!(s.route(rs).map(|r| (r.mtu, r.expires)), Some((1500, Instant::MAX)));
        s.set_mtu(1, 1400);
        moved(&s, "device MTU");
        let until = Instant::from_secs(1) + MTU_EXPIRES;
        s.update_pmtu(Instant::from_secs(1), rs, 1300);
        moved(&s, "learned path MTU");
        assert_eq!(s.route(rs).map(|r| (r.mtu, r.expires)), Some((1300, until)));
        let r = s.fib.routes().iter().find(|r| r.dst == Ipv4Addr::new(192, 168, 1, 0)).unwrap().clone();
        s.fib.del(|x| *x == r).unwrap();
        moved(&s, "route deleted");
        assert!(s.route(rs).is_none());
        s.set_link(1, false);
        moved(&s, "link down");
    }
}
