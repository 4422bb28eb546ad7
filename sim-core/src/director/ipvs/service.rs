//! Virtual services (`struct ip_vs_service`, include/net/ip_vs.h; reference §1.1).

use super::sched::Scheduler;
use super::stats::Stats;
use std::fmt;
use std::net::Ipv4Addr;

/// `IP_VS_SVC_F_PERSISTENT`: persistent port.
pub const SVC_F_PERSISTENT: u32 = 0x0001;
/// `IP_VS_SVC_F_ONEPACKET`: one-packet scheduling (UDP only).
pub const SVC_F_ONEPACKET: u32 = 0x0004;
/// `IP_VS_SVC_F_SCHED1`: `sh-fallback` / `mh-fallback` / `flag-1`.
pub const SVC_F_SCHED1: u32 = 0x0008;
/// `IP_VS_SVC_F_SCHED2`: `sh-port` / `mh-port` / `flag-2`.
pub const SVC_F_SCHED2: u32 = 0x0010;
/// `IP_VS_SVC_F_SCHED3`: `flag-3`.
pub const SVC_F_SCHED3: u32 = 0x0020;
/// All scheduler flag bits.
pub const SVC_F_SCHED_MASK: u32 = SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3;

/// FTP control port: services on it get the FTP lookup and persistence rules (§1.1, §4).
pub const FTPPORT: u16 = 21;
/// FTP data port: packets from it are never scheduled (§5.2).
pub const FTPDATA: u16 = 20;

/// The transport protocols IPVS balances here (SCTP is not modelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    /// The IP protocol number.
    pub const fn num(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }

    pub fn from_num(n: u8) -> Option<Proto> {
        match n {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            _ => None,
        }
    }

    /// `ip_vs_proto_name`: `TCP` or `UDP`.
    pub const fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
        }
    }
}

/// What identifies a virtual service: `<protocol, vaddr, vport>` or `<fwmark>` (§1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    Addr { proto: Proto, addr: Ipv4Addr, port: u16 },
    Fwmark(u32),
}

impl ServiceKey {
    pub fn tcp(addr: Ipv4Addr, port: u16) -> Self {
        ServiceKey::Addr { proto: Proto::Tcp, addr, port }
    }
    pub fn udp(addr: Ipv4Addr, port: u16) -> Self {
        ServiceKey::Addr { proto: Proto::Udp, addr, port }
    }
    /// The service port (0 for fwmark services).
    pub fn port(&self) -> u16 {
        match self {
            ServiceKey::Addr { port, .. } => *port,
            ServiceKey::Fwmark(_) => 0,
        }
    }
    pub fn fwmark(&self) -> u32 {
        match self {
            ServiceKey::Addr { .. } => 0,
            ServiceKey::Fwmark(m) => *m,
        }
    }
}

/// `TCP 10.0.0.1:80`, `UDP ...`, `FWM 7`.
impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr { proto, addr, port } => write!(f, "{} {}:{}", proto.name(), addr, port),
            ServiceKey::Fwmark(m) => write!(f, "FWM {m}"),
        }
    }
}

/// What `ipvsadm -A/-E` (or keepalived's `virtual_server`) asks for: the fields of
/// `struct ip_vs_service_user_kern`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub key: ServiceKey,
    /// Scheduler name (`rr`, `wlc`, `sh`, ...).
    pub scheduler: String,
    /// `SVC_F_*` bits: persistence, one-packet scheduling and scheduler flags.
    pub flags: u32,
    /// Persistence timeout in seconds (meaningful with `SVC_F_PERSISTENT`).
    pub timeout: u32,
    /// Persistence granularity mask.
    pub netmask: Ipv4Addr,
    /// Persistence engine name (`--pe`); none is built into this model.
    pub pe: Option<String>,
}

impl ServiceSpec {
    /// A non-persistent service with the /32 netmask ipvsadm defaults to.
    pub fn new(key: ServiceKey, scheduler: &str) -> Self {
        ServiceSpec {
            key,
            scheduler: scheduler.to_string(),
            flags: 0,
            timeout: 0,
            netmask: Ipv4Addr::BROADCAST,
            pe: None,
        }
    }

    /// The same, persistent for `secs` seconds (`-p secs`).
    pub fn persistent(mut self, secs: u32) -> Self {
        self.flags |= SVC_F_PERSISTENT;
        self.timeout = secs;
        self
    }
}

/// A virtual service in the table.
pub(crate) struct Service {
    pub key: ServiceKey,
    /// Never reused: lets a dest whose service was deleted tell that it is gone.
    pub uid: u32,
    pub live: bool,
    pub flags: u32,
    pub timeout: u32,
    pub netmask: u32,
    pub sched: Box<dyn Scheduler>,
    /// Dest indices in kernel list order: the head first, i.e. the reverse of the
    /// order of addition (`list_add_rcu` in `__ip_vs_update_dest`, §1.2).
    pub dests: Vec<u32>,
    pub stats: Stats,
    /// FULLNAT local addresses (`ipvsadm -P`), in the order they were added.
    pub laddrs: Vec<Ipv4Addr>,
    /// The next local address to use, round-robin.
    pub laddr_next: usize,
}

impl Service {
    pub fn persistent(&self) -> bool {
        self.flags & SVC_F_PERSISTENT != 0
    }
    pub fn port(&self) -> u16 {
        self.key.port()
    }
    pub fn fwmark(&self) -> u32 {
        self.key.fwmark()
    }
}
