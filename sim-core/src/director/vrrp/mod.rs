//! VRRP as keepalived implements it (reference `keepalived-vrrp.md` §2, §3): a pure,
//! deterministic engine. The machine that owns a [`Vrrp`] feeds it received VRRP packets,
//! timer ticks, interface carrier changes and the shutdown signal, and carries out the
//! [`VrrpAction`]s it returns: packets to send, VIPs to add or remove, gratuitous ARPs,
//! log lines, notify scripts.
//!
//! # Version profile
//! [`KeepalivedVersion::V2_2`] (Ubuntu 22.04's 2.2.4 … 2.2.8) is the default. The code
//! paths, timer arithmetic and log wording follow keepalived's `vrrp.c`,
//! `vrrp_scheduler.c`, `vrrp_track.c`, `vrrp_sync.c` of that line. Two other profiles
//! reproduce the deltas of reference §2.13:
//! - [`KeepalivedVersion::V1_3`] (CentOS 7's 1.3.5): `VRRP_Instance(..)` prefixes,
//!   the 1.3 validation order and wording with `bogus VRRP packet received on ...` and
//!   `Dropping received VRRP packet...`, VIP-list mismatch rejected, ignored adverts
//!   restarting the backup's down timer, `Transition to MASTER STATE` one advert interval
//!   before `Entering MASTER STATE`, `state MASTER` claiming after one interval, a
//!   preempting backup forcing an election after one interval, skew from the base
//!   priority.
//! - [`KeepalivedVersion::V2_4`] (≥ 2.3.3): receive errors name the sender and are logged
//!   once per kind until the instance changes state or hears a new master, and a
//!   VIP-list mismatch is only a warning (the advert is accepted).
//!
//! `log_detail` is keepalived's `-D` (`--log-detail`), default off; RHEL/CentOS ship
//! `KEEPALIVED_OPTIONS="-D"`. keepalived's VRRP process draws no random numbers (the IP ID
//! starts at 1, scripts first run at start-up), so the engine takes no random stream.
//!
//! Time: keepalived keeps timers in whole microseconds; so does the engine (inputs are
//! truncated to µs), and every timer fires at its own deadline whatever `now` the machine
//! passes to [`Vrrp::on_timer`].
//!
//! # Not modelled (documented deviations)
//! - IPv6 and VRRPv3 over IPv6; `auth_hmac`.
//! - `garp_group` / per-interface GARP intervals (the global `vrrp_garp_interval` is
//!   modelled), `v3_checksum_as_v2` and the
//!   pre-1.3.6 unicast v3 checksum auto-detection (the parser does not keep them),
//!   `notify_master_rx_lower_pri`, track_file / track_process / track_bfd, reload (SIGHUP),
//!   `vrrp_startup_delay`, SMTP alerts and the notify FIFO.
//! - Script timeouts: a [`ScriptEnv`] answers at once, so a run never overlaps the next.
//! - ≥ 2.3.3 extras beyond §2.9's list: the two-owner back-off and the owner's
//!   "Restoring our priority" follow 2.2 (immediate drop to 254), and the v3 interval
//!   mismatch warning is not logged (its wording is not in the reference).
//! - 1.3 is reproduced where the reference and seeds show it (above); its GOTO_MASTER /
//!   GOTO_FAULT bookkeeping, the periodic `vrrp_update_priority` thread (priorities change
//!   at once here) and sync-group details follow the 2.x code.

pub(crate) mod ah;
mod instance;
mod packet;
mod sync;
mod track;

#[cfg(test)]
mod tests;

pub use packet::{Header, V2Auth, build_v2, build_v3, checksum_v3, ip_packet};

use crate::director::keepalived::KeepalivedConfig;
use crate::report::VrrpReport;
use crate::time::Instant;
use crate::wire::MacAddr;
use instance::Core;
use std::net::Ipv4Addr;

/// A network interface of the machine, as keepalived learns it from netlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceInfo {
    pub name: String,
    pub mac: MacAddr,
    /// The primary IPv4 address (`IF_ADDR`): the default advert source.
    pub addr: Option<Ipv4Addr>,
    /// IFF_UP and IFF_RUNNING at start.
    pub up: bool,
}

/// Which keepalived release to behave like (reference §2.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum KeepalivedVersion {
    /// 1.3.x (1.3.5, CentOS 7).
    V1_3,
    /// 2.0 … 2.2.x (2.2.4 is Ubuntu 22.04's): the default.
    #[default]
    V2_2,
    /// 2.3.3 and later (2.4.x).
    V2_4,
}

/// How the engine behaves beyond what the configuration says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    pub version: KeepalivedVersion,
    /// keepalived `-D` / `--log-detail`.
    pub log_detail: bool,
}

/// Runs `vrrp_script` commands; the scenario decides their exit status.
pub trait ScriptEnv {
    /// Runs `script` (argv joined by spaces) and returns its exit status.
    fn run(&mut self, now: Instant, script: &str) -> i32;
}

/// What the machine must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VrrpAction {
    /// A complete IPv4 packet (TTL 255 or `unicast_ttl`, protocol 112, TOS 0xc0) to send out
    /// of `dev` to `224.0.0.18` (its MAC `01:00:5e:00:00:12`) or to a unicast peer.
    Send {
        dev: String,
        packet: Vec<u8>,
    },
    /// `ip addr add ADDR/PREFIX dev DEV [label LABEL]`.
    AddVip {
        dev: String,
        addr: Ipv4Addr,
        prefix: u8,
        label: Option<String>,
    },
    /// `ip addr del ADDR/PREFIX dev DEV`.
    DelVip {
        dev: String,
        addr: Ipv4Addr,
        prefix: u8,
    },
    /// Without `accept` (strict mode): drop (`block`) or stop dropping packets addressed to
    /// `addr` (keepalived's iptables/nftables rule, `vrrp_handle_accept_mode`).
    BlockVip {
        addr: Ipv4Addr,
        block: bool,
    },
    /// A gratuitous ARP (reference §3.6); `frame` is the complete Ethernet frame.
    Garp {
        dev: String,
        vip: Ipv4Addr,
        mac: MacAddr,
        frame: Vec<u8>,
    },
    /// Join or leave the VRRP multicast group on `dev` (`if_join_vrrp_group`).
    JoinGroup {
        dev: String,
        group: Ipv4Addr,
    },
    LeaveGroup {
        dev: String,
        group: Ipv4Addr,
    },
    /// One keepalived log line, exactly as keepalived writes it (without the syslog prefix).
    Log(String),
    /// An instance changed state (`INIT`, `BACKUP`, `MASTER`, `FAULT`, `STOP`).
    StateChange {
        instance: String,
        from: &'static str,
        to: &'static str,
    },
    /// A notify script to run: `name` is the instance, or the sync group for group scripts.
    Notify {
        name: String,
        state: &'static str,
        script: String,
    },
    /// `use_vmac`: create (`up`) or delete the macvlan `name` with `mac` on `dev`.
    Vmac {
        dev: String,
        name: String,
        mac: MacAddr,
        up: bool,
    },
}

/// keepalived's VRRP process for one machine.
#[derive(Debug)]
pub struct Vrrp {
    core: Core,
}

impl Vrrp {
    /// keepalived start-up (`vrrp_dispatcher_init`, `initialise_tracking_priorities`,
    /// `vrrp_init_state`): every instance goes from INIT to BACKUP or FAULT (§2.1); an
    /// address owner wanting MASTER claims it 1 µs later.
    pub fn new(cfg: &KeepalivedConfig, ifaces: &[IfaceInfo], opts: Options, now: Instant) -> Self {
        Vrrp { core: Core::start(cfg, ifaces, opts, now) }
    }

    /// A VRRP packet (the IPv4 packet, from its header on) received on `dev`
    /// (`vrrp_dispatcher_read`). keepalived reads a raw IP socket, so the source MAC plays
    /// no part.
    pub fn on_packet(&mut self, now: Instant, dev: &str, ip_packet: &[u8]) {
        self.core.on_packet(now, dev, ip_packet);
    }

    /// Everything due at or before `now`: adverts, master-down timers, delayed GARPs,
    /// `vrrp_script` runs. Each runs at its own deadline, in time order.
    pub fn on_timer(&mut self, now: Instant, scripts: &mut dyn ScriptEnv) {
        self.core.on_timer(now, scripts);
    }

    /// The earliest instant at which [`Vrrp::on_timer`] has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.core.next_deadline()
    }

    /// The carrier (IFF_UP|IFF_RUNNING) of `dev` changed (`update_interface_flags`).
    pub fn set_interface(&mut self, now: Instant, dev: &str, up: bool) {
        self.core.set_interface(now, dev, up);
    }

    /// SIGTERM (§2.11): masters send a priority-0 advert and drop their VIPs.
    pub fn stop(&mut self, now: Instant) {
        self.core.stop(now);
    }

    /// Takes the actions produced so far.
    pub fn drain_actions(&mut self) -> Vec<VrrpAction> {
        std::mem::take(&mut self.core.actions)
    }

    /// Each instance's state and effective priority, in configuration order.
    pub fn report(&self) -> Vec<VrrpReport> {
        self.core.report()
    }
}
