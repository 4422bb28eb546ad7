//! Where netfilter-hooked modules (IPVS) plug into the stack's IPv4 path, and the
//! little they may ask of the stack. This is the director's whole view of the
//! kernel around it: routes, local addresses, and packets at hook points.

use crate::node::Outbox;
use crate::time::Instant;
use std::net::Ipv4Addr;

/// The netfilter hook a packet is at (`NF_INET_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HookPoint {
    PreRouting,
    LocalIn,
    Forward,
    LocalOut,
    PostRouting,
}

/// A device of the machine, by its position in the stack (no allocation on hot
/// paths; the stack maps it back to the device).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DevId(pub usize);

/// The result of an output route lookup (`ip_route_output_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// Egress interface (`lo` for local routes).
    pub dev: DevId,
    /// The gateway, or `None` for an on-link destination.
    pub gateway: Option<Ipv4Addr>,
    /// The preferred source address (`src` of the route, or source selection).
    pub src: Ipv4Addr,
    /// The path MTU to the destination (device MTU, or a learned PMTU).
    pub mtu: u32,
    /// RTN_LOCAL: the destination is one of this machine's addresses.
    pub local: bool,
    /// When this answer changes although nothing is reconfigured: the learned
    /// path MTU in `mtu` expires (`dst.expires`). `Instant::MAX` when none applies.
    pub expires: Instant,
}

/// What a hooked module may ask of the stack.
pub trait HookEnv {
    /// Route lookup for a locally originated packet to `dst`.
    fn route(&self, dst: Ipv4Addr) -> Option<RouteInfo>;
    /// `rt_genid_ipv4`: changes whenever a route lookup could answer differently
    /// (routes, addresses, links, MTUs, a learned path MTU). A route a module
    /// keeps (IPVS's per-dest `dest_dst`) is good while this is unchanged and
    /// until the route's `expires` (`ipv4_dst_check`, `ipv4_mtu`).
    fn route_genid(&self) -> u64;
    /// Whether `addr` is one of this machine's addresses (RTN_LOCAL).
    fn is_local(&self, addr: Ipv4Addr) -> bool;
}

/// Metadata of the packet at a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketMeta {
    pub hook: HookPoint,
    /// Ingress interface (for input hooks); `None` for locally generated packets.
    pub in_dev: Option<PortIndex>,
    /// `skb->mark`, set by `iptables -t mangle ... -j MARK --set-mark N`.
    pub mark: u32,
}

/// Ingress NIC index, as the stack numbers its interfaces.
pub type PortIndex = usize;

/// A hooked module's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookVerdict {
    /// NF_ACCEPT: the packet continues along the normal path, possibly rewritten.
    Accept,
    /// NF_DROP.
    Drop,
    /// NF_STOLEN: the module has routed the packet (TTL, MTU) and the frame as it
    /// left it (Ethernet placeholder + IP packet, rewritten or encapsulated in
    /// place) goes to neighbour output towards `next_hop` on `dev`. This is how
    /// NAT, DR (KNOWN_NH) and TUN transmit.
    Transmit { dev: DevId, next_hop: Ipv4Addr },
    /// Deliver to the local stack as it is (LOCALNODE, a local real server).
    LocalDeliver,
    /// Answer the packet's source with an ICMP error (`icmp_send`), then drop.
    /// `info` is the next-hop MTU for FRAG_NEEDED, else 0.
    IcmpError { typ: u8, code: u8, info: u32 },
}

/// A module plugged into netfilter hooks (IPVS registers at LOCAL_IN, LOCAL_OUT and
/// FORWARD). `frame` holds a 14-byte Ethernet header (or placeholder) followed by
/// the IP packet; the module may rewrite it in place.
pub trait Hooked {
    fn hook(
        &mut self,
        now: Instant,
        meta: PacketMeta,
        frame: &mut Vec<u8>,
        env: &dyn HookEnv,
        out: &mut Outbox,
    ) -> HookVerdict;
}
