//! IPVS, the kernel's layer-4 load balancer, modelled on net/netfilter/ipvs/ of
//! Linux v6.x as `reference/ipvs.md` reads it. Files are named after the kernel's:
//! [`service`], [`dest`], `conn` (ip_vs_conn.c), `core` (ip_vs_core.c, the packet
//! path), `ctl` (ip_vs_ctl.c, the control interface), `persist`, `proto_tcp`,
//! `proto_udp`, `sched/` (one module per scheduler), `xmit` (ip_vs_xmit.c),
//! [`stats`] (ip_vs_est.c) and [`sysctl`]. FULLNAT (`fullnat`) is not mainline: it
//! follows Alibaba's fork as seed 001 describes it.
//!
//! [`Ipvs`] plugs into the stack through [`crate::stack::hooks::Hooked`] at
//! LOCAL_IN, FORWARD and LOCAL_OUT, is configured through the `ctl` API (which
//! [`crate::director::ipvsadm`] drives), and expires connections through
//! [`Ipvs::next_deadline`] / [`Ipvs::on_timer`]:
//!
//! ```text
//! let mut ipvs = Ipvs::new(rng::stream(seed, "ipvs:director1"));
//! ipvsadm::ipvsadm(&mut ipvs, now, &argv("ipvsadm -A -t 10.0.0.100:80 -s wrr"), None)?;
//! ipvs.add_dest(now, &ServiceKey::tcp(vip, 80), &DestSpec::new(rs1, 80, Fwd::Route).weight(3))?;
//! ipvs.sysctl.set("/proc/sys/net/ipv4/vs/expire_nodest_conn", "1")?;
//! match ipvs.hook(now, meta, &mut frame, &env, &mut out) { HookVerdict::Transmit { .. } => .., .. }
//! if ipvs.next_deadline() <= Some(now) { ipvs.on_timer(now, &mut out) }
//! let table = ipvs.report(now);
//! ```
//!
//! Determinism: no map is iterated on an output path (listings walk slabs in
//! creation order and sort as ipvsadm does), timers fire in (deadline, creation)
//! order at their own deadlines, and the only randomness (twos) comes from the
//! injected stream.

mod conn;
mod core;
mod ctl;
pub mod dest;
mod established;
mod fullnat;
mod persist;
mod proto_tcp;
mod proto_udp;
mod sched;
pub mod service;
pub mod stats;
pub mod sysctl;
mod xmit;

pub mod bench;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use ctl::{ConnEntry, DestInfo, IpvsError, ServiceInfo, proto_name};
pub use dest::{DestSpec, Fwd};
pub use sched::NAMES as SCHEDULERS;
pub use service::{Proto, ServiceKey, ServiceSpec};
pub use stats::StatsView;
pub use sysctl::Sysctl;

use crate::rng::Stream;
use crate::time::Instant;
use conn::{ConnTable, FxMap};
use dest::Dest;
use service::Service;

/// `IP_VS_VERSION_CODE` 0x010201: what `ipvsadm -L` calls "version 1.2.1".
pub const VERSION: (u32, u32, u32) = (1, 2, 1);
/// The connection table size `ipvsadm -L` reports (`CONFIG_IP_VS_TAB_BITS` = 12).
pub const CONN_TAB_SIZE: u32 = 4096;

/// One director's IPVS state (a `struct netns_ipvs`).
pub struct Ipvs {
    /// Every service ever added, by index; deleted ones stay (not `live`).
    services: Vec<Service>,
    /// `ip_vs_svc_table`: `<proto, vaddr, vport>` → service index.
    svc_table: FxMap<u64, u32>,
    /// `ip_vs_svc_fwm_table`: fwmark → service index.
    svc_fwm_table: FxMap<u32, u32>,
    /// `ftpsvc_counter` / `nullsvc_counter`: services on port 21 / port 0.
    ftpsvc_count: u32,
    nullsvc_count: u32,
    /// Every dest ever added, by index; indices are never reused.
    dests: Vec<Dest>,
    /// `ipvs->dest_trash`, in the order dests were deleted.
    trash: Vec<u32>,
    /// The next run of `ip_vs_dest_trash_expire`, while the trash is not empty.
    trash_timer: Option<Instant>,
    conns: ConnTable,
    /// The sysctls of /proc/sys/net/ipv4/vs.
    pub sysctl: Sysctl,
    /// Per-state TCP timeouts and the UDP timeout, seconds (`ipvsadm --set`).
    tcp_timeouts: [u32; proto_tcp::S_LAST],
    udp_timeout: u32,
    /// The twos scheduler's random numbers.
    rng: Stream,
    next_svc_uid: u32,
    /// IP IDs for tunnel headers without DF (`ip_select_ident` stand-in).
    ip_ident: u16,
    /// FULLNAT: the next local port to try, per local address.
    fnat_cursor: FxMap<u32, u16>,
    /// Tests turn the established fast path off to compare it with the general path.
    #[cfg(test)]
    pub(crate) fast_path: bool,
}

impl Ipvs {
    /// An empty table with default sysctls and timeouts. `rng` is this director's
    /// stream (e.g. `rng::stream(seed, "ipvs:director1")`).
    pub fn new(rng: Stream) -> Self {
        Ipvs {
            services: Vec::new(),
            svc_table: FxMap::default(),
            svc_fwm_table: FxMap::default(),
            ftpsvc_count: 0,
            nullsvc_count: 0,
            dests: Vec::new(),
            trash: Vec::new(),
            trash_timer: None,
            conns: ConnTable::default(),
            sysctl: Sysctl::default(),
            tcp_timeouts: proto_tcp::DEFAULT_TIMEOUTS,
            udp_timeout: proto_udp::DEFAULT_TIMEOUT,
            rng,
            next_svc_uid: 0,
            ip_ident: 0,
            fnat_cursor: FxMap::default(),
            #[cfg(test)]
            fast_path: true,
        }
    }

    /// The earliest instant at which [`Ipvs::on_timer`] has work: a connection
    /// timer or the trash timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.conns.next_deadline(), self.trash_timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Live connection entries, templates included (`ipvs->conn_count`).
    pub fn conn_count(&self) -> usize {
        self.conns.count
    }
}
