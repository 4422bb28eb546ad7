//! The per-instance state machine (reference §2.1-§2.6, §2.9, §2.11): keepalived's
//! `vrrp.c` (`vrrp_state_backup`, `vrrp_state_master_rx`, `vrrp_state_master_tx`,
//! `vrrp_state_goto_master`, `vrrp_state_become_master`, `vrrp_state_leave_master`,
//! `vrrp_state_leave_fault`, `vrrp_check_packet`) and `vrrp_scheduler.c`
//! (`vrrp_init_state`, `vrrp_init_instance_sands`, `vrrp_dispatcher_read`,
//! `vrrp_dispatcher_read_timeout`).

use super::ah::{self, AH_LEN, AhHeader, IPPROTO_AH};
use super::packet::{self, AUTH_AH, AUTH_NONE, AUTH_PASS, Header, V2Auth, VRRP_IP_TTL};
use super::track::{IfTrack, VScript};
use super::{IfaceInfo, KeepalivedVersion as V, Options, ScriptEnv, VrrpAction};
use crate::director::keepalived::{
    AuthType, KeepalivedConfig, Script as CfgScript, SyncGroup, UnicastPeer, VirtualIp, VrrpInstance, VrrpState,
};
use crate::report::VrrpReport;
use crate::time::{Duration, Instant};
use crate::wire::arp::{ARP_REQUEST, Arp};
use crate::wire::ip::Ipv4;
use crate::wire::{IPPROTO_VRRP, MacAddr, checksum};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// `VRRP_PRIO_OWNER`.
pub(crate) const PRIO_OWNER: u8 = 255;
/// `TIMER_HZ`: keepalived keeps every timer in microseconds.
pub(crate) const TIMER_HZ: u64 = 1_000_000;
/// `TIMER_CENTI_HZ`.
const TIMER_CENTI_HZ: u64 = 10_000;
/// Bound on the events one `on_timer` call handles (a guard, never reached in practice).
const MAX_EVENTS_PER_CALL: usize = 1_000_000;

/// `VRRP_STATE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Init,
    Backup,
    Master,
    Fault,
    Stop,
}

impl State {
    pub(crate) fn name(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stop => "STOP",
        }
    }
}

/// What `vrrp_check_packet` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    /// `VRRP_PACKET_KO`: invalid.
    Ko,
    /// `VRRP_PACKET_DROP`: not for us (v2 interval mismatch).
    Drop,
}

/// Receive-error kinds, for the ≥ 2.3.3 "log once" rate limiting (`log_rate_limited_error`).
mod rl {
    pub const LEN: u32 = 1 << 0;
    pub const TTL: u32 = 1 << 1;
    pub const VERSION: u32 = 1 << 2;
    pub const AUTH_TYPE: u32 = 1 << 3;
    pub const AUTH_MISMATCH: u32 = 1 << 4;
    pub const PASS: u32 = 1 << 5;
    pub const ADVER_INT: u32 = 1 << 6;
    pub const TYPE: u32 = 1 << 7;
    pub const CHECKSUM: u32 = 1 << 8;
    pub const MCAST: u32 = 1 << 9;
    pub const VIP_COUNT: u32 = 1 << 10;
    pub const VIP_ADDR: u32 = 1 << 11;
    pub const UNICAST_SRC: u32 = 1 << 12;
    pub const TTL_RANGE: u32 = 1 << 13;
}

/// A received advert, as the dispatcher hands it to the state functions.
#[derive(Debug)]
struct Rx<'a> {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    /// Bytes `recvmsg` returned: the IP packet up to its total length.
    buflen: usize,
    /// That IP packet (the AH ICV covers all of it).
    packet: &'a [u8],
    /// The AH header, on an `auth_type AH` socket.
    ah: Option<AhHeader>,
    ihl: usize,
    /// The VRRP message (the IP payload).
    msg: &'a [u8],
    hd: Header,
}

/// A network interface and its state.
#[derive(Debug, Clone)]
pub(crate) struct Iface {
    pub name: String,
    pub mac: MacAddr,
    pub addr: Option<Ipv4Addr>,
    pub up: bool,
}

/// One `vrrp_instance` (`vrrp_t`).
#[derive(Debug)]
pub(crate) struct Instance {
    pub name: String,
    pub vrid: u8,
    pub version: u8,
    /// The configured interface (index into `Core::ifaces`).
    pub iface: Option<usize>,
    /// `use_vmac`: the macvlan's name and MAC.
    pub vmac: Option<(String, MacAddr)>,
    pub vmac_xmit_base: bool,
    /// `unicast_src_ip` / `mcast_src_ip`.
    pub src_cfg: Option<Ipv4Addr>,
    pub peers: Vec<UnicastPeer>,
    pub unicast_ttl: u8,
    pub group_addr: Ipv4Addr,
    pub vips: Vec<VirtualIp>,
    pub evips: Vec<VirtualIp>,
    /// `auth_type PASS`: the 8 password bytes.
    pub pass: Option<[u8; 8]>,
    /// `auth_type AH`: the HMAC key (the 8 password bytes).
    pub ah_key: Option<[u8; 8]>,
    /// `ipsecah_counter`: the AH sequence number, shared by sending and receiving.
    pub ah_seq: u32,
    pub ah_cycle: bool,
    pub base_priority: u8,
    pub effective_priority: u8,
    pub total_priority: i32,
    /// µs.
    pub adver_int: u64,
    pub master_adver_int: u64,
    pub down_timer_adverts: u64,
    pub nopreempt: bool,
    pub preempt_delay: u64,
    pub garp_delay: u64,
    pub garp_rep: u32,
    pub garp_refresh: u64,
    pub garp_refresh_rep: u32,
    pub garp_lower_prio_delay: u64,
    pub garp_lower_prio_rep: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub skip_check_adv_addr: bool,
    pub check_unicast_src: bool,
    /// `accept`; without it (strict mode, not owner) VIPs are firewalled.
    pub accept: bool,
    pub notify_master: Option<CfgScript>,
    pub notify_backup: Option<CfgScript>,
    pub notify_fault: Option<CfgScript>,
    pub notify_stop: Option<CfgScript>,
    pub notify: Option<CfgScript>,
    pub trackers: Vec<IfTrack>,
    pub sync: Option<usize>,
    // Run-time state.
    pub state: State,
    pub wantstate: State,
    /// µs.
    pub ms_down_timer: u64,
    pub sands: Option<Instant>,
    pub vipset: bool,
    pub master_saddr: Option<Ipv4Addr>,
    pub master_priority: u8,
    pub preempt_time: Option<Instant>,
    pub num_script_if_fault: u32,
    pub num_script_init: u32,
    pub ip_id: u16,
    pub garp_refresh_timer: Option<Instant>,
    /// GARPs queued by `vrrp_garp_interval` (`garp_gna_pending`).
    pub garp_pending: Vec<(Ipv4Addr, String)>,
    /// ≥ 2.3.3: receive errors already logged.
    pub rl_logged: u32,
    /// 1.3: `wantstate == VRRP_STATE_GOTO_MASTER` after a lower-priority advert.
    pub goto_master_13: bool,
}

/// A `vrrp_sync_group` (`vrrp_sgroup_t`).
#[derive(Debug)]
pub(crate) struct Group {
    pub name: String,
    pub members: Vec<usize>,
    pub state: State,
    pub num_member_fault: u32,
    pub num_member_init: u32,
    pub notify_master: Option<CfgScript>,
    pub notify_backup: Option<CfgScript>,
    pub notify_fault: Option<CfgScript>,
    pub notify: Option<CfgScript>,
}

/// A GARP burst scheduled for later (`vrrp_gratuitous_arp_thread`,
/// `vrrp_lower_prio_gratuitous_arp_thread`).
#[derive(Debug, Clone, Copy)]
struct DelayedGarp {
    at: Instant,
    inst: usize,
    lower_prio: bool,
}

/// The VRRP process: every instance, group, script and pending timer.
#[derive(Debug)]
pub(crate) struct Core {
    pub opts: Options,
    pub ifaces: Vec<Iface>,
    pub inst: Vec<Instance>,
    pub groups: Vec<Group>,
    pub scripts: Vec<VScript>,
    garps: Vec<DelayedGarp>,
    /// `vrrp_garp_interval` (µs; 0: back to back), each interface's next GARP slot, and
    /// when the queued-GARP thread runs.
    garp_interval: u64,
    garp_next: BTreeMap<String, Instant>,
    garp_thread: Option<Instant>,
    pub actions: Vec<VrrpAction>,
    /// keepalived's `time_now`, whole microseconds.
    pub now: Instant,
    stopped: bool,
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Truncates to whole microseconds, as `gettimeofday` would.
fn to_us(t: Instant) -> Instant {
    Instant::from_nanos(t.nanos() / 1_000 * 1_000)
}

fn after(t: Instant, micros: u64) -> Instant {
    t + Duration::from_micros(micros)
}

fn join(s: &CfgScript) -> String {
    s.argv.join(" ")
}

impl Core {
    pub(crate) fn v(&self) -> V {
        self.opts.version
    }

    pub(crate) fn log(&mut self, line: String) {
        self.actions.push(VrrpAction::Log(line));
    }

    pub(crate) fn detail(&mut self, line: impl FnOnce() -> String) {
        if self.opts.log_detail {
            let l = line();
            self.log(l);
        }
    }

    /// The instance prefix of state messages: `(VI_1)` in 2.x, `VRRP_Instance(VI_1)` in 1.x (§2.12).
    pub(crate) fn pfx(&self, i: usize) -> String {
        match self.v() {
            V::V1_3 => format!("VRRP_Instance({})", self.inst[i].name),
            _ => format!("({})", self.inst[i].name),
        }
    }

    /// The prefix of 1.3's receive-check messages, `(VI_1):`, or 2.x's `(VI_1)`.
    fn chk_pfx(&self, i: usize) -> String {
        match self.v() {
            V::V1_3 => format!("({}):", self.inst[i].name),
            _ => format!("({})", self.inst[i].name),
        }
    }

    // ----- start-up -------------------------------------------------------------

    /// `vrrp_complete_init` … `vrrp_dispatcher_init`: builds the instances from the
    /// parsed configuration and runs start-up (§2.1).
    pub(crate) fn start(cfg: &KeepalivedConfig, ifaces: &[IfaceInfo], opts: Options, now: Instant) -> Core {
        let mut core = Core {
            opts,
            ifaces: ifaces.iter().map(|f| Iface { name: f.name.clone(), mac: f.mac, addr: f.addr, up: f.up }).collect(),
            inst: Vec::new(),
            groups: Vec::new(),
            scripts: Vec::new(),
            garps: Vec::new(),
            garp_interval: us(cfg.global.vrrp_garp_interval),
            garp_next: BTreeMap::new(),
            garp_thread: None,
            actions: Vec::new(),
            now: to_us(now),
            stopped: false,
        };
        for ic in &cfg.instances {
            let inst = core.build_instance(cfg, ic);
            core.inst.push(inst);
        }
        core.build_groups(&cfg.sync_groups);
        core.build_scripts(cfg);
        core.startup();
        core
    }

    /// The index of interface `name`, creating a down placeholder for one the machine
    /// does not have (keepalived treats a missing interface as down).
    fn iface_index(&mut self, name: &str) -> usize {
        if let Some(i) = self.ifaces.iter().position(|f| f.name == name) {
            return i;
        }
        self.ifaces.push(Iface { name: name.to_string(), mac: MacAddr::ZERO, addr: None, up: false });
        self.ifaces.len() - 1
    }

    fn build_instance(&mut self, cfg: &KeepalivedConfig, c: &VrrpInstance) -> Instance {
        let iface = c.interface.as_deref().map(|n| self.iface_index(n));
        let vmac = c.use_vmac.as_ref().map(|u| {
            let name = u.name.clone().unwrap_or_else(|| format!("vrrp.{}", c.virtual_router_id));
            (name, MacAddr([0x00, 0x00, 0x5e, 0x00, 0x01, c.virtual_router_id]))
        });
        let (pass, ah_key) = match &c.authentication {
            Some(a) if a.auth_type == AuthType::Pass => (Some(a.auth_pass), None),
            Some(a) => (None, Some(a.auth_pass)),
            None => (None, None),
        };
        let mut trackers = Vec::new();
        if let Some(own) = iface
            && !c.dont_track_primary
        {
            trackers.push(IfTrack { iface: own, weight: 0, mult: 1 });
        }
        for t in &c.track_interfaces {
            let idx = self.iface_index(&t.name);
            trackers.push(IfTrack { iface: idx, weight: t.weight, mult: if t.reverse { -1 } else { 1 } });
        }
        if let Some(g) = c.sync_group.as_ref().and_then(|n| cfg.sync_groups.iter().find(|g| &g.name == n)) {
            for t in &g.track_interfaces {
                let idx = self.iface_index(&t.name);
                let weight = if g.sync_group_tracking_weight { t.weight } else { 0 };
                trackers.push(IfTrack { iface: idx, weight, mult: if t.reverse { -1 } else { 1 } });
            }
        }
        let adver_int = us(c.advert_int).max(1);
        Instance {
            name: c.name.clone(),
            vrid: c.virtual_router_id,
            version: c.version,
            iface,
            vmac,
            vmac_xmit_base: c.vmac_xmit_base,
            src_cfg: c.src_ip,
            peers: c.unicast_peers.clone(),
            unicast_ttl: c.unicast_ttl.unwrap_or(VRRP_IP_TTL),
            group_addr: c.mcast_dst_ip.unwrap_or(cfg.global.vrrp_mcast_group4),
            vips: c.virtual_ipaddress.clone(),
            evips: c.virtual_ipaddress_excluded.clone(),
            pass,
            ah_key,
            ah_seq: 0,
            ah_cycle: false,
            base_priority: c.priority,
            effective_priority: c.priority,
            total_priority: i32::from(c.priority),
            adver_int,
            master_adver_int: adver_int,
            down_timer_adverts: u64::from(c.down_timer_adverts),
            nopreempt: c.nopreempt,
            preempt_delay: us(c.preempt_delay),
            garp_delay: us(c.garp_master_delay),
            garp_rep: c.garp_master_repeat,
            garp_refresh: us(c.garp_master_refresh),
            garp_refresh_rep: c.garp_master_refresh_repeat,
            garp_lower_prio_delay: us(c.garp_lower_prio_delay),
            garp_lower_prio_rep: c.garp_lower_prio_repeat,
            lower_prio_no_advert: c.lower_prio_no_advert,
            higher_prio_send_advert: c.higher_prio_send_advert,
            skip_check_adv_addr: c.skip_check_adv_addr,
            check_unicast_src: c.check_unicast_src,
            accept: c.accept,
            notify_master: c.notify_master.clone(),
            notify_backup: c.notify_backup.clone(),
            notify_fault: c.notify_fault.clone(),
            notify_stop: c.notify_stop.clone(),
            notify: c.notify.clone(),
            trackers,
            sync: None,
            state: State::Init,
            wantstate: if c.state == VrrpState::Master { State::Master } else { State::Backup },
            ms_down_timer: 0,
            sands: None,
            vipset: false,
            master_saddr: None,
            master_priority: 0,
            preempt_time: None,
            num_script_if_fault: 0,
            num_script_init: 0,
            ip_id: 0,
            garp_refresh_timer: None,
            garp_pending: Vec::new(),
            rl_logged: 0,
            goto_master_13: false,
        }
    }

    /// `vrrp_sync_set_group`: the group starts MASTER only if its members are address
    /// owners wanting MASTER, else BACKUP.
    fn build_groups(&mut self, groups: &[SyncGroup]) {
        for g in groups {
            let members: Vec<usize> =
                g.members.iter().filter_map(|m| self.inst.iter().position(|i| &i.name == m)).collect();
            if members.is_empty() {
                continue;
            }
            let gi = self.groups.len();
            let mut state = State::Init;
            for &m in &members {
                self.inst[m].sync = Some(gi);
                if state != State::Backup {
                    let i = &self.inst[m];
                    state = if i.wantstate == State::Master && i.base_priority == PRIO_OWNER {
                        State::Master
                    } else {
                        State::Backup
                    };
                }
            }
            self.groups.push(Group {
                name: g.name.clone(),
                members,
                state,
                num_member_fault: 0,
                num_member_init: 0,
                notify_master: g.notify_master.clone(),
                notify_backup: g.notify_backup.clone(),
                notify_fault: g.notify_fault.clone(),
                notify: g.notify.clone(),
            });
        }
    }

    /// The start-up sequence of the VRRP child.
    fn startup(&mut self) {
        for i in 0..self.inst.len() {
            if let Some((vname, mac)) = self.inst[i].vmac.clone()
                && let Some(f) = self.inst[i].iface
            {
                let dev = self.ifaces[f].name.clone();
                self.actions.push(VrrpAction::Vmac { dev, name: vname, mac, up: true });
            }
        }
        // The read sockets join the group on each interface with multicast instances.
        let mut joined: Vec<(String, Ipv4Addr)> = Vec::new();
        for i in 0..self.inst.len() {
            let inst = &self.inst[i];
            if !inst.peers.is_empty() {
                continue;
            }
            let key = (self.rx_dev(i), inst.group_addr);
            if !joined.contains(&key) {
                joined.push(key.clone());
                self.actions.push(VrrpAction::JoinGroup { dev: key.0, group: key.1 });
            }
        }
        // `vrrp_complete_init`: VIPs left over from a previous run are removed.
        for i in 0..self.inst.len() {
            self.restore_interface(i, false, true);
        }
        self.initialise_tracking_priorities();
        self.init_state();
        for i in 0..self.inst.len() {
            self.init_sands(i);
        }
        let now = self.now;
        for s in &mut self.scripts {
            s.next_run = Some(now);
        }
    }

    /// `vrrp_init_state` (2.x): BACKUP (init), FAULT, or — for an address owner wanting
    /// MASTER — BACKUP with a 1 µs down timer.
    fn init_state(&mut self) {
        for g in 0..self.groups.len() {
            if matches!(self.groups[g].state, State::Fault | State::Backup) {
                self.group_notifies(g);
            }
        }
        for i in 0..self.inst.len() {
            let begin = self.inst[i].state;
            if self.inst[i].state == State::Fault {
                self.inst[i].wantstate = State::Fault;
            }
            let inst = &self.inst[i];
            let group_init = inst.sync.is_some_and(|g| self.groups[g].num_member_init > 0);
            let new_state = inst.sync.map_or(inst.wantstate, |g| self.groups[g].state);
            let is_up = inst.num_script_if_fault == 0;
            if self.v() == V::V1_3 {
                self.init_state_13(i, is_up);
                continue;
            }
            if is_up
                && new_state == State::Master
                && inst.num_script_init == 0
                && !group_init
                && inst.base_priority == PRIO_OWNER
                && inst.wantstate == State::Master
            {
                self.set_state(i, State::Backup);
                self.inst[i].ms_down_timer = 1;
                continue;
            }
            self.inst[i].ms_down_timer = if new_state == State::Backup && self.inst[i].wantstate == State::Master {
                self.inst[i].master_adver_int + self.skew_min(i)
            } else {
                self.ms_down_timer(i)
            };
            let inst = &self.inst[i];
            if is_up && new_state != State::Fault && inst.num_script_init == 0 && !group_init {
                if inst.state != State::Backup {
                    let p = self.pfx(i);
                    self.log(format!("{p} Entering BACKUP STATE (init)"));
                    self.set_state(i, State::Backup);
                }
            } else {
                // keepalived logs `Entering FAULT STATE (init)` only when the state already
                // differs here, which it never does: the FAULT entry is silent.
                self.set_state(i, State::Fault);
            }
            if begin != self.inst[i].state
                && (self.inst[i].state != State::Fault || self.inst[i].num_script_if_fault > 0)
            {
                self.notifies(i);
            }
        }
    }

    /// 1.3's `vrrp_init_state`: `state MASTER` goes to GOTO_MASTER (a transition one
    /// advert interval later), else `Entering BACKUP STATE` with the full down timer.
    fn init_state_13(&mut self, i: usize, is_up: bool) {
        if !is_up {
            self.set_state(i, State::Fault);
            self.notifies(i);
            return;
        }
        self.inst[i].ms_down_timer = self.ms_down_timer(i);
        self.set_state(i, State::Backup);
        if self.inst[i].wantstate == State::Master {
            self.inst[i].goto_master_13 = true;
        } else {
            let p = self.pfx(i);
            self.log(format!("{p} Entering BACKUP STATE"));
            self.notifies(i);
        }
    }

    // ----- timers and formulas (§2.2) ------------------------------------------------

    /// `VRRP_TIMER_SKEW`: v2 `(256−P)·TIMER_HZ/256`, v3 `(256−P)·(Master_Adver_Int in cs)·625/16`
    /// µs, integer arithmetic. 1.3 uses the base priority and its own interval.
    pub(crate) fn skew_for(&self, i: usize, pri: u64) -> u64 {
        let inst = &self.inst[i];
        let int = if self.v() == V::V1_3 { inst.adver_int } else { inst.master_adver_int };
        if inst.version == 3 { pri * (int / TIMER_CENTI_HZ) * 625 / 16 } else { pri * TIMER_HZ / 256 }
    }

    pub(crate) fn skew(&self, i: usize) -> u64 {
        let inst = &self.inst[i];
        let p = if self.v() == V::V1_3 { inst.base_priority } else { inst.effective_priority };
        self.skew_for(i, 256 - u64::from(p))
    }

    /// `VRRP_TIMER_SKEW_MIN`.
    fn skew_min(&self, i: usize) -> u64 {
        self.skew_for(i, 1)
    }

    /// `VRRP_MS_DOWN_TIMER`: `down_timer_adverts × Master_Adver_Interval + Skew_Time`.
    pub(crate) fn ms_down_timer(&self, i: usize) -> u64 {
        let inst = &self.inst[i];
        let int = if self.v() == V::V1_3 { inst.adver_int } else { inst.master_adver_int };
        inst.down_timer_adverts * int + self.skew(i)
    }

    /// `vrrp_init_instance_sands`.
    pub(crate) fn init_sands(&mut self, i: usize) {
        let now = self.now;
        let inst = &mut self.inst[i];
        inst.sands = match inst.state {
            State::Master => Some(after(now, inst.adver_int)),
            State::Backup if inst.goto_master_13 => Some(after(now, inst.adver_int)),
            State::Backup => Some(after(now, inst.ms_down_timer)),
            _ => None,
        };
    }

    pub(crate) fn set_state(&mut self, i: usize, to: State) {
        let from = self.inst[i].state;
        if from == to {
            return;
        }
        self.inst[i].state = to;
        self.inst[i].rl_logged = 0;
        let instance = self.inst[i].name.clone();
        self.actions.push(VrrpAction::StateChange { instance, from: from.name(), to: to.name() });
    }

    // ----- addresses and sending -----------------------------------------------------

    /// The device adverts leave by: the VMAC unless `vmac_xmit_base`.
    fn tx_dev(&self, i: usize) -> String {
        let inst = &self.inst[i];
        match (&inst.vmac, inst.vmac_xmit_base) {
            (Some((n, _)), false) => n.clone(),
            _ => self.rx_dev(i),
        }
    }

    /// The physical interface the instance receives on.
    fn rx_dev(&self, i: usize) -> String {
        self.inst[i].iface.map(|f| self.ifaces[f].name.clone()).unwrap_or_default()
    }

    /// `VRRP_PKT_SADDR`: the configured source, else the interface's primary address.
    pub(crate) fn saddr(&self, i: usize) -> Option<Ipv4Addr> {
        let inst = &self.inst[i];
        inst.src_cfg.or_else(|| inst.iface.and_then(|f| self.ifaces[f].addr))
    }

    /// The device a VIP lives on: its `dev`, else the instance's interface (the VMAC with `use_vmac`).
    fn vip_dev(&self, i: usize, vip: &VirtualIp) -> String {
        if let Some(d) = &vip.dev {
            return d.clone();
        }
        match &self.inst[i].vmac {
            Some((n, _)) => n.clone(),
            None => self.rx_dev(i),
        }
    }

    fn dev_mac(&self, i: usize, dev: &str) -> Option<MacAddr> {
        if let Some((n, m)) = &self.inst[i].vmac
            && n == dev
        {
            return Some(*m);
        }
        self.ifaces.iter().find(|f| f.name == dev).map(|f| f.mac)
    }

    /// `vrrp_send_adv` (`vrrp_update_pkt`, `vrrp_send_pkt`): one advert to the group, or one
    /// per unicast peer; the IP ID increments once per call and is never 0.
    pub(crate) fn send_adv(&mut self, i: usize, prio: u8) {
        let Some(src) = self.saddr(i) else { return };
        let dev = self.tx_dev(i);
        let inst = &mut self.inst[i];
        inst.ip_id = inst.ip_id.wrapping_add(1);
        if inst.ip_id == 0 {
            inst.ip_id = 1;
        }
        let id = inst.ip_id;
        // `vrrp_update_pkt`: one AH sequence number per round; it stops at 0xFFFFFFFD.
        if inst.ah_key.is_some() {
            if inst.ah_seq > 0xFFFF_FFFD {
                inst.ah_cycle = true;
            } else {
                inst.ah_seq += 1;
            }
        }
        let addrs: Vec<Ipv4Addr> = inst.vips.iter().take(255).map(|v| v.addr).collect();
        let dsts: Vec<(Ipv4Addr, u8)> = if inst.peers.is_empty() {
            vec![(inst.group_addr, VRRP_IP_TTL)]
        } else {
            inst.peers.iter().map(|p| (p.addr, inst.unicast_ttl)).collect()
        };
        for (dst, ttl) in dsts {
            let msg = if inst.version == 3 {
                let cs = u16::try_from(inst.adver_int / TIMER_CENTI_HZ).unwrap_or(0x0fff);
                packet::build_v3(inst.vrid, prio, cs, &addrs, src, dst, true)
            } else {
                let secs = u8::try_from(inst.adver_int / TIMER_HZ).unwrap_or(255);
                let auth = match (&inst.pass, inst.ah_key) {
                    (Some(p), _) => V2Auth::Pass(p),
                    (None, Some(_)) => V2Auth::Ah,
                    (None, None) => V2Auth::None,
                };
                packet::build_v2(inst.vrid, prio, secs, &addrs, auth)
            };
            let packet = match inst.ah_key {
                Some(key) => {
                    let unicast = !inst.peers.is_empty();
                    ah::packet(&ah::Outer { src, dst, ttl, id, unicast }, inst.ah_seq, &key, &msg)
                }
                None => packet::ip_packet(src, dst, ttl, id, &msg),
            };
            self.actions.push(VrrpAction::Send { dev: dev.clone(), packet });
        }
    }

    /// `send_gratuitous_arp_immediate` (§3.6): broadcast ARP request, sender = target = VIP.
    pub(crate) fn send_garp_immediate(&mut self, i: usize, vip: Ipv4Addr, dev: String) {
        let Some(mac) = self.dev_mac(i, &dev) else { return };
        self.detail(|| format!("Sending gratuitous ARP on {dev} for {vip}"));
        let arp = Arp { op: ARP_REQUEST, sha: mac, spa: vip, tha: MacAddr::BROADCAST, tpa: vip };
        let frame = arp.frame(MacAddr::BROADCAST, mac);
        if self.garp_interval > 0 {
            let next = after(self.now, self.garp_interval);
            self.garp_next.insert(self.base_dev(i, &dev), next);
        }
        self.actions.push(VrrpAction::Garp { dev, vip, mac, frame });
    }

    /// The physical interface under `dev` (`IF_BASE_IFP`): a VMAC's is the instance's.
    fn base_dev(&self, i: usize, dev: &str) -> String {
        match &self.inst[i].vmac {
            Some((n, _)) if n == dev => self.rx_dev(i),
            _ => dev.to_string(),
        }
    }

    /// `send_gratuitous_arp` (`vrrp_arp.c`): with `vrrp_garp_interval`, a GARP due before
    /// its interface's next slot is queued (once per VIP: repeats of a queued VIP merge).
    fn send_garp(&mut self, i: usize, vip: Ipv4Addr, dev: String) {
        if self.garp_interval > 0
            && let Some(&next) = self.garp_next.get(&self.base_dev(i, &dev))
            && self.now < next
        {
            if !self.inst[i].garp_pending.iter().any(|(a, _)| *a == vip) {
                self.inst[i].garp_pending.push((vip, dev));
            }
            let at = after(self.now, self.garp_interval);
            if self.garp_thread.is_none_or(|t| at < t) {
                self.garp_thread = Some(at);
            }
            return;
        }
        self.send_garp_immediate(i, vip, dev);
    }

    /// `vrrp_arp_thread`: sends each queued GARP whose interface slot has come, and runs
    /// again at the earliest slot still awaited. An instance no longer master with its
    /// VIPs set sends nothing.
    fn arp_thread(&mut self) {
        self.garp_thread = None;
        let mut next: Option<Instant> = None;
        for i in 0..self.inst.len() {
            if self.inst[i].garp_pending.is_empty() {
                continue;
            }
            if self.inst[i].state != State::Master || !self.inst[i].vipset {
                continue;
            }
            for (vip, dev) in std::mem::take(&mut self.inst[i].garp_pending) {
                match self.garp_next.get(&self.base_dev(i, &dev)) {
                    Some(&t) if self.now < t => {
                        next = Some(next.map_or(t, |n| n.min(t)));
                        self.inst[i].garp_pending.push((vip, dev));
                    }
                    _ => self.send_garp_immediate(i, vip, dev),
                }
            }
        }
        self.garp_thread = next;
    }

    /// `vrrp_send_link_update`: `rep` rounds of one GARP per VIP and eVIP, only while the
    /// VIPs are set.
    pub(crate) fn send_link_update(&mut self, i: usize, rep: u32) {
        if !self.inst[i].vipset {
            return;
        }
        let all: Vec<VirtualIp> = self.inst[i].vips.iter().chain(&self.inst[i].evips).cloned().collect();
        for j in 0..rep {
            for vip in &all {
                let dev = self.vip_dev(i, vip);
                if j == 0 {
                    let p = self.pfx(i);
                    let a = vip.addr;
                    self.detail(|| format!("{p} Sending/queueing gratuitous ARPs on {dev} for {a}"));
                }
                self.send_garp(i, vip.addr, dev);
            }
        }
    }

    /// `vrrp_handle_accept_mode`: a non-owner without `accept` drops traffic to its VIPs
    /// and eVIPs while it holds them (failure mode 8).
    fn handle_accept_mode(&mut self, i: usize, add: bool) {
        let inst = &self.inst[i];
        if inst.base_priority == PRIO_OWNER || inst.accept {
            return;
        }
        let addrs: Vec<Ipv4Addr> = inst.vips.iter().chain(&inst.evips).map(|v| v.addr).collect();
        self.actions.extend(addrs.into_iter().map(|addr| VrrpAction::BlockVip { addr, block: add }));
    }

    /// `vrrp_handle_ipaddress`: add or delete the VIPs (or eVIPs).
    fn handle_ipaddress(&mut self, i: usize, add: bool, excluded: bool) {
        let list = if excluded { self.inst[i].evips.clone() } else { self.inst[i].vips.clone() };
        if list.is_empty() {
            return;
        }
        let verb = if add { "setting" } else { "removing" };
        let what = if excluded { "E-VIPs." } else { "VIPs." };
        let p = self.pfx(i);
        let proto = if self.v() == V::V1_3 { "protocol " } else { "" };
        self.detail(|| format!("{p} {verb} {proto}{what}"));
        for vip in list {
            let dev = self.vip_dev(i, &vip);
            self.actions.push(if add {
                VrrpAction::AddVip { dev, addr: vip.addr, prefix: vip.prefix, label: vip.label.clone() }
            } else {
                VrrpAction::DelVip { dev, addr: vip.addr, prefix: vip.prefix }
            });
        }
    }

    /// `send_instance_notifies`: `notify_<state>`, then the generic `notify` with
    /// `INSTANCE name state priority`.
    pub(crate) fn notifies(&mut self, i: usize) {
        let inst = &self.inst[i];
        let state = inst.state;
        let specific = match state {
            State::Master => &inst.notify_master,
            State::Backup => &inst.notify_backup,
            State::Fault => &inst.notify_fault,
            State::Stop => &inst.notify_stop,
            State::Init => return,
        };
        let name = inst.name.clone();
        let mut out = Vec::new();
        if let Some(s) = specific {
            out.push(VrrpAction::Notify { name: name.clone(), state: state.name(), script: join(s) });
        }
        if let Some(s) = &inst.notify
            && state != State::Stop
        {
            let script = format!("{} INSTANCE {name} {} {}", join(s), state.name(), inst.effective_priority);
            out.push(VrrpAction::Notify { name, state: state.name(), script });
        }
        self.actions.extend(out);
    }

    /// `send_group_notifies`.
    pub(crate) fn group_notifies(&mut self, g: usize) {
        let grp = &self.groups[g];
        let state = grp.state;
        let specific = match state {
            State::Master => &grp.notify_master,
            State::Backup => &grp.notify_backup,
            State::Fault => &grp.notify_fault,
            _ => return,
        };
        let name = grp.name.clone();
        let mut out = Vec::new();
        if let Some(s) = specific {
            out.push(VrrpAction::Notify { name: name.clone(), state: state.name(), script: join(s) });
        }
        if let Some(s) = &grp.notify {
            let script = format!("{} GROUP {name} {}", join(s), state.name());
            out.push(VrrpAction::Notify { name, state: state.name(), script });
        }
        self.actions.extend(out);
    }

    // ----- transitions (§2.4, §2.5, §2.7) ---------------------------------------------

    /// `vrrp_state_become_master`: VIPs, the first GARP burst, the refresh timer, notifies.
    fn become_master(&mut self, i: usize) {
        let inst = &self.inst[i];
        if inst.version == 3 && self.opts.log_detail && inst.master_adver_int != inst.adver_int {
            // The reset sits inside the -D branch in keepalived (reference §2.2).
            let (p, from, to) = (self.pfx(i), inst.master_adver_int / 1000, inst.adver_int / 1000);
            self.log(format!("{p} changing advert interval from {from}ms to locally configured {to}ms"));
            self.inst[i].master_adver_int = self.inst[i].adver_int;
        }
        self.handle_accept_mode(i, true);
        self.handle_ipaddress(i, true, false);
        self.handle_ipaddress(i, true, true);
        self.inst[i].vipset = true;
        let rep = self.inst[i].garp_rep;
        self.send_link_update(i, rep);
        if self.inst[i].garp_refresh > 0 {
            self.inst[i].garp_refresh_timer = Some(after(self.now, self.inst[i].garp_refresh));
        }
        self.notifies(i);
    }

    /// `vrrp_state_master_tx`: the advert first (so the old master drops its VIPs before our
    /// GARPs), then on the first tick `Entering MASTER STATE`; later ticks refresh GARPs
    /// when `garp_master_refresh` is due. 1.3 enters MASTER before sending.
    fn master_tx(&mut self, i: usize) {
        let v13 = self.v() == V::V1_3;
        if !v13 {
            let p = self.inst[i].effective_priority;
            self.send_adv(i, p);
        }
        if !self.inst[i].vipset {
            let p = self.pfx(i);
            self.log(format!("{p} Entering MASTER STATE"));
            self.become_master(i);
            if self.inst[i].garp_delay > 0 {
                let at = after(self.now, self.inst[i].garp_delay);
                self.garps.push(DelayedGarp { at, inst: i, lower_prio: false });
            }
        } else if let Some(t) = self.inst[i].garp_refresh_timer
            && self.now > t
        {
            let rep = self.inst[i].garp_refresh_rep;
            self.send_link_update(i, rep);
            self.inst[i].garp_refresh_timer = Some(after(self.now, self.inst[i].garp_refresh));
        }
        if v13 {
            let p = self.inst[i].effective_priority;
            self.send_adv(i, p);
        }
    }

    /// `vrrp_state_goto_master`: a sync group may hold us back; else MASTER and transmit.
    /// 1.3 sends one advert and logs `Transition to MASTER STATE`; the VIPs follow at the
    /// next advert tick.
    pub(crate) fn goto_master(&mut self, i: usize) {
        if self.inst[i].sync.is_some() && !self.sync_can_goto_master(i) {
            self.inst[i].wantstate = State::Master;
            return;
        }
        self.inst[i].goto_master_13 = false;
        // Becoming MASTER after the AH counter cycled restarts it.
        if self.inst[i].ah_cycle {
            self.inst[i].ah_cycle = false;
            self.inst[i].ah_seq = 0;
        }
        if self.v() == V::V1_3 {
            let p = self.inst[i].effective_priority;
            self.send_adv(i, p);
            self.set_state(i, State::Master);
            let p = self.pfx(i);
            self.log(format!("{p} Transition to MASTER STATE"));
            self.init_sands(i);
            return;
        }
        self.set_state(i, State::Master);
        self.init_sands(i);
        self.master_tx(i);
    }

    /// `vrrp_restore_interface`: optional priority-0 advert, then the VIPs go.
    pub(crate) fn restore_interface(&mut self, i: usize, adv_f: bool, force: bool) {
        if adv_f {
            self.send_adv(i, 0);
            let p = self.pfx(i);
            if self.v() == V::V1_3 {
                self.log(format!("{p} sent 0 priority"));
            } else {
                self.detail(|| format!("{p} sent 0 priority"));
            }
        }
        self.inst[i].garp_pending.clear();
        if force || self.inst[i].vipset {
            self.handle_ipaddress(i, false, false);
            self.handle_ipaddress(i, false, true);
            self.handle_accept_mode(i, false);
            self.inst[i].vipset = false;
        }
    }

    /// `vrrp_state_leave_master`: to BACKUP (VIPs removed, no advert) or to FAULT
    /// (priority-0 advert), notify, fresh down timer.
    pub(crate) fn leave_master(&mut self, i: usize, adv_f: bool) {
        let p = self.pfx(i);
        match self.inst[i].wantstate {
            State::Backup => {
                self.log(format!("{p} Entering BACKUP STATE"));
                self.inst[i].preempt_time = None;
            }
            State::Fault => {
                self.log(format!("{p} Entering FAULT STATE"));
                self.send_adv(i, 0);
            }
            _ => return,
        }
        self.restore_interface(i, adv_f, false);
        let to = self.inst[i].wantstate;
        self.set_state(i, to);
        if to == State::Fault && self.v() == V::V1_3 {
            self.log(format!("{p} Now in FAULT state"));
        }
        self.notifies(i);
        self.inst[i].ms_down_timer = self.ms_down_timer(i);
        self.init_sands(i);
    }

    /// `vrrp_state_leave_fault`: to MASTER via `goto_master`, else BACKUP or FAULT with a
    /// fresh down timer at our own interval.
    pub(crate) fn leave_fault(&mut self, i: usize) {
        if self.inst[i].wantstate == State::Master {
            self.goto_master(i);
        } else {
            let want = self.inst[i].wantstate;
            if self.inst[i].state != want {
                let p = self.pfx(i);
                self.log(format!("{p} Entering {} STATE", want.name()));
                if want == State::Fault && self.v() == V::V1_3 {
                    self.log(format!("{p} Now in FAULT state"));
                }
            }
            if want == State::Fault && self.inst[i].state == State::Master {
                self.send_adv(i, 0);
                self.restore_interface(i, false, false);
            }
            self.set_state(i, want);
            self.notifies(i);
            if want == State::Backup {
                self.inst[i].preempt_time = None;
            }
            self.inst[i].goto_master_13 = false;
        }
        self.inst[i].master_adver_int = self.inst[i].adver_int;
        self.inst[i].ms_down_timer = self.ms_down_timer(i);
        self.init_sands(i);
    }

    // ----- receive (§2.3, §2.5, §2.9) ---------------------------------------------------

    /// `vrrp_dispatcher_read`: demultiplex by socket (interface, multicast group or
    /// unicast source) and VRID, run the state's receive function, sync the group, and
    /// re-arm the instance timer — including a master's advert timer (§2.2 quirk) unless
    /// `lower_prio_no_advert`.
    pub(crate) fn on_packet(&mut self, now: Instant, dev: &str, bytes: &[u8]) {
        if self.stopped {
            return;
        }
        self.now = to_us(now);
        let Ok(ip) = Ipv4::parse(bytes) else { return };
        let is_ah = match ip.proto {
            IPPROTO_VRRP => false,
            IPPROTO_AH => true,
            _ => return,
        };
        if ip.is_fragment() {
            return;
        }
        let buflen = ip.packet_len();
        let (ah, msg) = if is_ah {
            (AhHeader::parse(ip.payload), ip.payload.get(AH_LEN..).unwrap_or_default())
        } else {
            (None, ip.payload)
        };
        let Some(hd) = Header::parse(msg).filter(|_| ah.is_some() == is_ah) else {
            if self.v() != V::V1_3 {
                self.log(format!("IPv4 VRRP packet too short - {buflen} bytes"));
            }
            return;
        };
        let Some(i) = self.demux(dev, ip.dst, ip.src, hd.vrid, is_ah) else { return };
        if matches!(self.inst[i].state, State::Fault | State::Init | State::Stop) {
            return;
        }
        let packet = bytes.get(..buflen).unwrap_or_default();
        let rx = Rx { src: ip.src, dst: ip.dst, ttl: ip.ttl, buflen, packet, ah, ihl: ip.header.len(), msg, hd };
        let prev = self.inst[i].state;
        match prev {
            State::Backup => self.state_backup(i, &rx),
            State::Master if self.master_rx(i, &rx) => self.leave_master(i, false),
            _ => {}
        }
        self.tsm(prev, i);
        let inst = &self.inst[i];
        if self.v() == V::V1_3 || inst.state != State::Master || !inst.lower_prio_no_advert {
            self.init_sands(i);
        }
    }

    /// The instance whose read socket gets this packet: same interface (or VMAC), the
    /// multicast socket bound to the group or the unicast one bound to our source (1.3's
    /// sockets are unbound), then the VRID.
    fn demux(&self, dev: &str, dst: Ipv4Addr, src: Ipv4Addr, vrid: u8, is_ah: bool) -> Option<usize> {
        let on_dev = |i: usize| {
            let inst = &self.inst[i];
            inst.iface.is_none_or(|f| self.ifaces[f].name == dev) || inst.vmac.as_ref().is_some_and(|(n, _)| n == dev)
        };
        let bound = |i: usize| {
            let inst = &self.inst[i];
            self.v() == V::V1_3
                || if inst.peers.is_empty() { dst == inst.group_addr } else { Some(dst) == self.saddr(i) }
        };
        let mut found = None;
        for i in 0..self.inst.len() {
            // One raw socket per protocol: AH instances read protocol 51, the others 112.
            if self.inst[i].vrid != vrid || self.inst[i].ah_key.is_some() != is_ah || !on_dev(i) || !bound(i) {
                continue;
            }
            // Unicast instances sharing a VRID are told apart by the peer address.
            if self.inst[i].peers.iter().any(|p| p.addr == src) {
                return Some(i);
            }
            found = found.or(Some(i));
        }
        found
    }

    /// Logs a receive error; from 2.3.3 each kind only once until the instance changes state
    /// or accepts a new master.
    fn rx_err(&mut self, i: usize, kind: u32, line: String) {
        if self.v() == V::V2_4 {
            if self.inst[i].rl_logged & kind != 0 {
                return;
            }
            self.inst[i].rl_logged |= kind;
        }
        self.log(line);
    }

    /// `vrrp_check_packet`, in the order of the selected version (reference §2.9).
    fn check_packet(&mut self, i: usize, rx: &Rx, check_vip_addr: bool) -> Verdict {
        let verdict = if self.v() == V::V1_3 {
            self.check_13(i, rx, check_vip_addr)
        } else {
            self.check_2x(i, rx, check_vip_addr)
        };
        if self.v() == V::V1_3 {
            let dev = self.rx_dev(i);
            match verdict {
                Verdict::Ko => self.log(format!("bogus VRRP packet received on {dev} !!!")),
                Verdict::Drop => self.log(format!("Sync instance needed on {dev} !!!")),
                Verdict::Ok => {}
            }
        }
        verdict
    }

    fn check_2x(&mut self, i: usize, rx: &Rx, check_vip_addr: bool) -> Verdict {
        let v24 = self.v() == V::V2_4;
        let p = self.chk_pfx(i);
        let s = rx.src;
        let hd = rx.hd;
        let expected = rx.ihl + if rx.ah.is_some() { AH_LEN } else { 0 } + hd.expected_len();
        if rx.buflen != expected {
            let lng = if rx.buflen > expected { "long" } else { "short" };
            let from = if v24 { format!(" from {s}") } else { String::new() };
            let l = format!("{p} vrrp packet{from} too {lng}, length {} and expect {expected}", rx.buflen);
            self.rx_err(i, rl::LEN, l);
            return Verdict::Ko;
        }
        let inst = &self.inst[i];
        if inst.peers.is_empty() && rx.ttl != VRRP_IP_TTL {
            let l = if v24 {
                format!("{p} invalid TTL/HL from {s}. Received {} and expect {VRRP_IP_TTL}", rx.ttl)
            } else {
                format!("{p} invalid TTL/HL. Received {} and expect {VRRP_IP_TTL}", rx.ttl)
            };
            self.rx_err(i, rl::TTL, l);
            return Verdict::Ko;
        }
        if hd.version != inst.version {
            let l = if v24 {
                format!("{p} wrong VRRP version from {s}. Received {} and expect {}", hd.version, inst.version)
            } else {
                format!("{p} wrong version. Received {} and expect {}", hd.version, inst.version)
            };
            self.rx_err(i, rl::VERSION, l);
            return Verdict::Ko;
        }
        if inst.version == 2 {
            let ours = match (inst.pass, inst.ah_key) {
                (Some(_), _) => AUTH_PASS,
                (None, Some(_)) => AUTH_AH,
                (None, None) => AUTH_NONE,
            };
            if hd.auth_type > AUTH_AH {
                let l = if v24 {
                    format!("{p} Invalid auth type from {s}: {}", hd.auth_type)
                } else {
                    format!("{p} Invalid auth type: {}", hd.auth_type)
                };
                self.rx_err(i, rl::AUTH_TYPE, l);
                return Verdict::Ko;
            }
            if hd.auth_type != ours {
                let l = if v24 {
                    format!("{p} received a {} auth from {s}, expecting {ours}!", hd.auth_type)
                } else {
                    format!("{p} received a {} auth, expecting {ours}!", hd.auth_type)
                };
                self.rx_err(i, rl::AUTH_MISMATCH, l);
                return Verdict::Ko;
            }
            if let Some(pw) = inst.pass
                && packet::auth_data(rx.msg) != Some(pw)
            {
                let l = if v24 {
                    format!("{p} received an invalid passwd from {s}!")
                } else {
                    format!("{p} received an invalid passwd!")
                };
                self.rx_err(i, rl::PASS, l);
                return Verdict::Ko;
            }
            if let Some(v) = self.check_ah(i, rx) {
                return v;
            }
            let inst = &self.inst[i];
            if inst.adver_int != u64::from(hd.adver_int_v2) * TIMER_HZ {
                let mine = inst.adver_int / TIMER_HZ;
                let with = if v24 { format!(" with {s}") } else { String::new() };
                let l =
                    format!("{p} advertisement interval mismatch{with} mine={mine} sec rcv'd={} sec", hd.adver_int_v2);
                self.rx_err(i, rl::ADVER_INT, l);
                return Verdict::Drop;
            }
        }
        if hd.typ != packet::VRRP_TYPE_ADVERT {
            let l = format!("{p} Invalid packet type. {} and expect {}", hd.typ, packet::VRRP_TYPE_ADVERT);
            self.rx_err(i, rl::TYPE, l);
            return Verdict::Ko;
        }
        let vip_cnt = self.inst[i].vips.len();
        if !v24 && check_vip_addr && usize::from(hd.naddr) != vip_cnt {
            let l = format!("{p} received an unexpected ip number count {}, expected {vip_cnt}!", hd.naddr);
            self.rx_err(i, rl::VIP_COUNT, l);
            return Verdict::Ko;
        }
        if !self.checksum_ok(i, rx, rx.dst) {
            let from = if v24 { format!(" from {s}") } else { String::new() };
            let l = format!("{p} Invalid VRRPv{} checksum{from}", self.inst[i].version);
            self.rx_err(i, rl::CHECKSUM, l);
            return Verdict::Ko;
        }
        let unicast = !self.inst[i].peers.is_empty();
        if rx.dst.is_multicast() == unicast {
            let (want, got) = if unicast { ("un", "mult") } else { ("mult", "un") };
            let from = if v24 { format!(" from {s}") } else { String::new() };
            let l = format!("{p} Expected {want}icast packet but received {got}icast packet{from}");
            self.rx_err(i, rl::MCAST, l);
            return Verdict::Ko;
        }
        if check_vip_addr {
            let vrid = self.inst[i].vrid;
            if v24 && usize::from(hd.naddr) != vip_cnt {
                self.rx_err(i, rl::VIP_COUNT, format!("{p} expected {vip_cnt} VIPs but received {}", hd.naddr));
            }
            let got = packet::addrs(rx.msg, hd.naddr);
            let missing: Vec<Ipv4Addr> =
                self.inst[i].vips.iter().map(|v| v.addr).filter(|a| !got.contains(a)).collect();
            if let Some(a) = missing.first() {
                if !v24 {
                    let l = format!("{p} ip address associated with VRID {vrid} not present in MASTER advert : {a}");
                    self.rx_err(i, rl::VIP_ADDR, l);
                    return Verdict::Ko;
                }
                for a in missing {
                    let l = format!("{p} ip address associated with VRID {vrid} not present in advert from {s}: {a}");
                    self.rx_err(i, rl::VIP_ADDR, l);
                }
            }
            if let Some(v) = self.check_unicast_src(i, rx) {
                return v;
            }
        }
        Verdict::Ok
    }

    /// `vrrp_in_chk_ipsecah`: the ICV under our password, SPI = sender, and a sequence
    /// number above the last one seen (the counter then follows it).
    fn check_ah(&mut self, i: usize, rx: &Rx) -> Option<Verdict> {
        let key = self.inst[i].ah_key?;
        let Some(ah) = rx.ah else { return Some(Verdict::Ko) };
        if ah.next_header != IPPROTO_VRRP {
            return Some(Verdict::Drop);
        }
        let p = self.chk_pfx(i);
        let unicast = !self.inst[i].peers.is_empty();
        if !ah::icv_ok(rx.packet, rx.ihl, &key, unicast) {
            let l = format!("{p} IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !");
            self.rx_err(i, rl::PASS, l);
            return Some(Verdict::Ko);
        }
        if ah.spi != rx.src.octets() {
            // keepalived prints both network-order words with %d on a little-endian host.
            let (got, want) = (i32::from_le_bytes(rx.src.octets()), i32::from_le_bytes(ah.spi));
            self.log(format!("IPSEC AH : invalid IPSEC SPI value. {got} and expect {want}"));
            return Some(Verdict::Ko);
        }
        let inst = &mut self.inst[i];
        if ah.seq > inst.ah_seq {
            inst.ah_seq = ah.seq;
        } else {
            let (seq, local) = (ah.seq as i32, inst.ah_seq as i32);
            self.log(format!("{p} IPSEC-AH : sequence number {seq} already processed. Packet dropped. Local({local})"));
            return Some(Verdict::Ko);
        }
        if inst.state == State::Backup && ah.seq >= inst.ah_seq {
            inst.ah_cycle = false;
        }
        None
    }

    /// `check_unicast_src`: the sender must be a listed peer, its TTL within the peer's range.
    fn check_unicast_src(&mut self, i: usize, rx: &Rx) -> Option<Verdict> {
        let inst = &self.inst[i];
        if inst.peers.is_empty() || !inst.check_unicast_src {
            return None;
        }
        let p = self.chk_pfx(i);
        let Some(peer) = inst.peers.iter().find(|u| u.addr == rx.src).cloned() else {
            self.rx_err(i, rl::UNICAST_SRC, format!("{p} unicast source address {} not a unicast peer", rx.src));
            return Some(Verdict::Ko);
        };
        if self.v() != V::V1_3 && (rx.ttl < peer.min_ttl || rx.ttl > peer.max_ttl) {
            let l = format!("{p} TTL/HL {} not in range {} - {}", rx.ttl, peer.min_ttl, peer.max_ttl);
            self.rx_err(i, rl::TTL_RANGE, l);
            return Some(Verdict::Ko);
        }
        None
    }

    /// The checksum of the message as the header's count announces it: v2 over the
    /// message, v3 with the pseudo-header to `dst`.
    fn checksum_ok(&self, i: usize, rx: &Rx, dst: Ipv4Addr) -> bool {
        let len = 8 + 4 * usize::from(rx.hd.naddr) + if self.inst[i].version == 2 { 8 } else { 0 };
        let Some(m) = rx.msg.get(..len) else { return false };
        if self.inst[i].version == 3 { packet::checksum_v3(rx.src, dst, m) == 0 } else { checksum::checksum(m) == 0 }
    }

    /// 1.3's `vrrp_in_chk` order and wording (the seed-003 log lines come from here).
    fn check_13(&mut self, i: usize, rx: &Rx, check_vip_addr: bool) -> Verdict {
        let p = self.chk_pfx(i);
        let hd = rx.hd;
        let inst = &self.inst[i];
        if inst.peers.is_empty() && rx.ttl != VRRP_IP_TTL {
            self.log(format!("{p} invalid ttl. {} and expect {VRRP_IP_TTL}", rx.ttl));
            return Verdict::Ko;
        }
        if hd.version != inst.version {
            self.log(format!("{p} invalid version. {} and expect {}", hd.version, inst.version));
            return Verdict::Ko;
        }
        if hd.typ != packet::VRRP_TYPE_ADVERT {
            self.log(format!("{p} Invalid packet type. {} and expect {}", hd.typ, packet::VRRP_TYPE_ADVERT));
            return Verdict::Ko;
        }
        if inst.version == 2 {
            let ours = match (inst.pass, inst.ah_key) {
                (Some(_), _) => AUTH_PASS,
                (None, Some(_)) => AUTH_AH,
                (None, None) => AUTH_NONE,
            };
            if hd.auth_type > AUTH_AH {
                self.log(format!("{p} Invalid auth type: {}", hd.auth_type));
                return Verdict::Ko;
            }
            if hd.auth_type != ours {
                self.log(format!("{p} received a {} auth, expecting {ours}!", hd.auth_type));
                return Verdict::Ko;
            }
            if let Some(pw) = inst.pass
                && packet::auth_data(rx.msg) != Some(pw)
            {
                self.log(format!("{p} received an invalid passwd!"));
                return Verdict::Ko;
            }
            if let Some(v) = self.check_ah(i, rx) {
                return v;
            }
        }
        let inst = &self.inst[i];
        let vip_cnt = inst.vips.len();
        if usize::from(hd.naddr) != vip_cnt {
            self.log(format!("{p} received an invalid ip number count {}, expected {vip_cnt}!", hd.naddr));
            return Verdict::Ko;
        }
        if inst.version == 2 && inst.adver_int != u64::from(hd.adver_int_v2) * TIMER_HZ {
            let mine = inst.adver_int / TIMER_HZ;
            self.log(format!("{p} advertisement interval mismatch mine={mine} sec rcved={} sec", hd.adver_int_v2));
            return Verdict::Drop;
        }
        let ah_len = if rx.ah.is_some() { AH_LEN } else { 0 };
        let expected = 20 + ah_len + 8 + 4 * vip_cnt + if inst.version == 2 { 8 } else { 0 };
        if rx.buflen != expected {
            self.log(format!(
                "{p} Received packet length mismatch against expected. {} and expect {expected}",
                rx.buflen
            ));
            return Verdict::Ko;
        }
        // 1.3 checks v3 against the multicast group whatever the destination.
        if !self.checksum_ok(i, rx, Ipv4Addr::new(224, 0, 0, 18)) {
            self.log(format!("{p} Invalid VRRPv{} checksum", self.inst[i].version));
            return Verdict::Ko;
        }
        if check_vip_addr {
            let got = packet::addrs(rx.msg, hd.naddr);
            let vrid = self.inst[i].vrid;
            if let Some(a) = self.inst[i].vips.iter().map(|v| v.addr).find(|a| !got.contains(a)) {
                self.log(format!("{p} ip address associated with VRID {vrid} not present in MASTER advert : {a}"));
                return Verdict::Ko;
            }
            if let Some(v) = self.check_unicast_src(i, rx) {
                return v;
            }
        }
        Verdict::Ok
    }

    /// `vrrp_state_backup` (§2.3).
    fn state_backup(&mut self, i: usize, rx: &Rx) {
        let check_addr = !self.inst[i].skip_check_adv_addr || self.inst[i].master_saddr != Some(rx.src);
        let ret = self.check_packet(i, rx, check_addr);
        if self.v() == V::V1_3 {
            self.state_backup_13(i, rx, ret);
            return;
        }
        let hd = rx.hd;
        let now = self.now;
        let p = self.pfx(i);
        let mut ignore = false;
        let inst = &self.inst[i];
        if ret != Verdict::Ok {
            ignore = true;
        } else if hd.priority == 0 {
            self.detail(|| format!("{p} Backup received priority 0 advertisement"));
            self.inst[i].ms_down_timer = self.skew(i);
        } else if inst.nopreempt
            || hd.priority >= inst.effective_priority
            || (inst.preempt_delay > 0 && inst.preempt_time.is_none_or(|t| t > now))
        {
            if inst.version == 3 {
                let m = u64::from(hd.adver_int_v3) * TIMER_CENTI_HZ;
                if inst.master_adver_int != m {
                    let old = inst.master_adver_int / 1000;
                    self.detail(|| {
                        format!("{p} advertisement interval updated from {old}ms to {}ms by master", m / 1000)
                    });
                    self.inst[i].master_adver_int = m;
                }
            }
            self.inst[i].ms_down_timer = self.ms_down_timer(i);
            let inst = &mut self.inst[i];
            if inst.master_saddr != Some(rx.src) {
                inst.rl_logged = 0;
            }
            inst.master_saddr = Some(rx.src);
            inst.master_priority = hd.priority;
            if inst.preempt_delay > 0 {
                if hd.priority >= inst.effective_priority {
                    if inst.preempt_time.take().is_some() {
                        self.detail(|| format!("{p} stop preempt delay"));
                    }
                } else if inst.preempt_time.is_none() {
                    let d = inst.preempt_delay;
                    inst.preempt_time = Some(after(now, d));
                    self.detail(|| format!("{p} start preempt delay ({}.{:06})", d / TIMER_HZ, d % TIMER_HZ));
                }
            }
            self.inst[i].wantstate = State::Backup;
        } else {
            self.log(format!("{p} received lower priority ({}) advert from {} - discarding", hd.priority, rx.src));
            ignore = true;
            self.inst[i].master_saddr = Some(rx.src);
        }
        if ignore {
            // The down timer keeps running from the last accepted advert.
            let left = self.inst[i].sands.map_or(0, |t| us(t.since(now)));
            self.inst[i].ms_down_timer = left;
        }
    }

    /// 1.3's `vrrp_state_backup`: an invalid advert restarts the down timer; a DROP is
    /// processed as valid; a lower priority forces an election one interval later.
    fn state_backup_13(&mut self, i: usize, rx: &Rx, ret: Verdict) {
        let hd = rx.hd;
        let p = self.pfx(i);
        let now = self.now;
        let inst = &self.inst[i];
        if ret == Verdict::Ko {
            self.log(format!("{p} ignoring received advertisment..."));
            self.inst[i].ms_down_timer = self.ms_down_timer(i);
        } else if hd.priority == 0 {
            self.inst[i].ms_down_timer = self.skew(i);
        } else if inst.nopreempt
            || hd.priority >= inst.effective_priority
            || (inst.preempt_delay > 0 && inst.preempt_time.is_none_or(|t| t > now))
        {
            if inst.version == 3 {
                let m = u64::from(hd.adver_int_v3) * TIMER_CENTI_HZ;
                if inst.master_adver_int != m {
                    self.inst[i].master_adver_int = m;
                    self.log(format!("{p} advertisement interval updated to {} milli-sec", m / 1000));
                }
            }
            self.inst[i].ms_down_timer = self.ms_down_timer(i);
            let inst = &mut self.inst[i];
            inst.master_saddr = Some(rx.src);
            inst.master_priority = hd.priority;
            if inst.preempt_delay > 0 {
                if hd.priority > inst.effective_priority {
                    if inst.preempt_time.take().is_some() {
                        self.log(format!("{p} reset preempt delay"));
                    }
                } else if inst.preempt_time.is_none() {
                    let d = inst.preempt_delay;
                    inst.preempt_time = Some(after(now, d));
                    self.log(format!("{p} start preempt delay({})", d / TIMER_HZ));
                }
            }
        } else {
            self.log(format!("{p} forcing a new MASTER election"));
            self.inst[i].goto_master_13 = true;
            let pr = self.inst[i].effective_priority;
            self.send_adv(i, pr);
        }
    }

    /// `vrrp_saddr_cmp`: the sender's address against our source, as host-order integers.
    fn saddr_cmp(&self, i: usize, src: Ipv4Addr) -> std::cmp::Ordering {
        match self.saddr(i) {
            Some(ours) => u32::from(src).cmp(&u32::from(ours)),
            None => std::cmp::Ordering::Equal,
        }
    }

    /// `vrrp_state_master_rx` (§2.5): returns true when we must leave MASTER.
    fn master_rx(&mut self, i: usize, rx: &Rx) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let ret = self.check_packet(i, rx, true);
        let p = self.pfx(i);
        if self.v() == V::V1_3 {
            return self.master_rx_13(i, rx, ret);
        }
        if ret != Verdict::Ok {
            return false;
        }
        let hd = rx.hd;
        let cmp = self.saddr_cmp(i, rx.src);
        let eff = self.inst[i].effective_priority;
        let higher = hd.priority > eff || (hd.priority == eff && cmp == Greater);
        if hd.priority == 0 || (self.inst[i].higher_prio_send_advert && higher) {
            self.send_adv(i, eff);
            if hd.priority == 0 {
                self.detail(|| format!("{p} Master received priority 0 message"));
                return false;
            }
        }
        if hd.priority == eff {
            if cmp == Equal {
                self.log(format!("{p} WARNING - equal priority advert received from remote host with our IP address."));
            } else if eff == PRIO_OWNER {
                self.log(format!(
                    "{p} CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority"
                ));
                self.inst[i].effective_priority = PRIO_OWNER - 1;
                self.inst[i].base_priority = PRIO_OWNER - 1;
            }
        }
        let eff = self.inst[i].effective_priority;
        if hd.priority < eff || (hd.priority == eff && cmp == Less) {
            let suffix = if self.inst[i].lower_prio_no_advert { "" } else { ", forcing new election" };
            self.log(format!(
                "{p} Received advert from {} with lower priority {}, ours {eff}{suffix}",
                rx.src, hd.priority
            ));
            self.ah_sync_seq(i, rx);
            if !self.inst[i].lower_prio_no_advert {
                self.send_adv(i, eff);
            }
            self.lower_prio_garps(i);
            if let Some(g) = self.inst[i].sync {
                for m in self.groups[g].members.clone() {
                    if m != i {
                        self.lower_prio_garps(m);
                    }
                }
            }
            return false;
        }
        if hd.priority > eff || (hd.priority == eff && cmp == Greater) {
            if hd.priority > eff {
                self.log(format!(
                    "{p} Master received advert from {} with higher priority {}, ours {eff}",
                    rx.src, hd.priority
                ));
            } else {
                self.log(format!(
                    "{p} Master received advert from {} with same priority {} but higher IP address than ours",
                    rx.src, hd.priority
                ));
            }
            self.adopt_interval(i, rx, "by new master");
            self.inst[i].ms_down_timer = self.ms_down_timer(i);
            self.inst[i].master_priority = hd.priority;
            self.inst[i].wantstate = State::Backup;
            return true;
        }
        false
    }

    /// v3: a master yielding adopts the new master's interval.
    fn adopt_interval(&mut self, i: usize, rx: &Rx, by: &str) {
        if self.inst[i].version != 3 {
            return;
        }
        let m = u64::from(rx.hd.adver_int_v3) * TIMER_CENTI_HZ;
        let old = self.inst[i].master_adver_int;
        if old != m {
            let p = self.pfx(i);
            if self.v() == V::V1_3 {
                self.log(format!(
                    "{p} advertisement interval updated to {} milli-sec from higher priority master",
                    m / 1000
                ));
            } else {
                self.detail(|| {
                    format!("{p} advertisement interval updated from {}ms to {}ms {by}", old / 1000, m / 1000)
                });
            }
            self.inst[i].master_adver_int = m;
        }
    }

    /// A master hearing a lower priority over AH continues from the sender's sequence number.
    fn ah_sync_seq(&mut self, i: usize, rx: &Rx) {
        if let (Some(_), Some(ah)) = (self.inst[i].ah_key, rx.ah) {
            let p = self.chk_pfx(i);
            self.log(format!("{p} IPSEC-AH : Syncing seq_num - Increment seq"));
            self.inst[i].ah_seq = ah.seq.wrapping_add(1);
            self.inst[i].ah_cycle = false;
        }
    }

    /// `garp_lower_prio_repeat` GARPs now and again after `garp_lower_prio_delay`.
    fn lower_prio_garps(&mut self, i: usize) {
        let rep = self.inst[i].garp_lower_prio_rep;
        if rep == 0 {
            return;
        }
        self.send_link_update(i, rep);
        if self.inst[i].garp_lower_prio_delay > 0 {
            let at = after(self.now, self.inst[i].garp_lower_prio_delay);
            self.garps.push(DelayedGarp { at, inst: i, lower_prio: true });
        }
    }

    /// 1.3's `vrrp_state_master_rx`.
    fn master_rx_13(&mut self, i: usize, rx: &Rx, ret: Verdict) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let p = self.pfx(i);
        if ret != Verdict::Ok {
            self.log(format!("{p} Dropping received VRRP packet..."));
            return false;
        }
        let hd = rx.hd;
        let eff = self.inst[i].effective_priority;
        if hd.priority == 0 {
            self.send_adv(i, eff);
            return false;
        }
        let cmp = self.saddr_cmp(i, rx.src);
        if hd.priority == eff && cmp == Equal {
            let cp = self.chk_pfx(i);
            self.log(format!("{cp} WARNING - equal priority advert received from remote host with our IP address."));
        }
        if hd.priority < eff || (hd.priority == eff && cmp == Less) {
            self.log(format!(
                "{p} Received advert with lower priority {}, ours {eff}, forcing new election",
                hd.priority
            ));
            self.ah_sync_seq(i, rx);
            if !self.inst[i].lower_prio_no_advert {
                self.send_adv(i, eff);
            }
            self.lower_prio_garps(i);
            return false;
        }
        if hd.priority == PRIO_OWNER && eff == PRIO_OWNER {
            let cp = self.chk_pfx(i);
            self.log(format!(
                "{cp} CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority"
            ));
            let inst = &mut self.inst[i];
            inst.effective_priority -= 1;
            if inst.base_priority > 1 {
                inst.base_priority -= 1;
            }
        }
        let eff = self.inst[i].effective_priority;
        if hd.priority > eff || (hd.priority == eff && cmp == Greater) {
            self.log(format!("{p} Received advert with higher priority {}, ours {eff}", hd.priority));
            self.adopt_interval(i, rx, "");
            self.inst[i].ms_down_timer = self.ms_down_timer(i);
            self.inst[i].master_priority = hd.priority;
            self.inst[i].wantstate = State::Backup;
            return true;
        }
        false
    }

    // ----- timers -----------------------------------------------------------------

    /// Runs everything due at or before `now`, each at its own deadline: scripts first,
    /// then delayed GARPs, then instance timers (`vrrp_dispatcher_read_timeout`).
    pub(crate) fn on_timer(&mut self, now: Instant, env: &mut dyn ScriptEnv) {
        if self.stopped {
            return;
        }
        let now = to_us(now);
        for _ in 0..MAX_EVENTS_PER_CALL {
            let Some((at, ev)) = self.next_event() else { return };
            if at > now {
                return;
            }
            self.now = at;
            match ev {
                Event::Script(s) => self.run_script(s, env),
                Event::Garp(g) => {
                    let d = self.garps.remove(g);
                    let rep =
                        if d.lower_prio { self.inst[d.inst].garp_lower_prio_rep } else { self.inst[d.inst].garp_rep };
                    self.send_link_update(d.inst, rep);
                }
                Event::Instance(i) => self.instance_timeout(i),
                Event::ArpThread => self.arp_thread(),
            }
        }
    }

    fn next_event(&self) -> Option<(Instant, Event)> {
        let scripts = self.scripts.iter().enumerate().filter_map(|(k, s)| s.next_run.map(|t| (t, 0, k)));
        let garps = self.garps.iter().enumerate().map(|(k, g)| (g.at, 1, k));
        let insts = self.inst.iter().enumerate().filter_map(|(k, i)| i.sands.map(|t| (t, 2, k)));
        let arp = self.garp_thread.map(|t| (t, 3, 0));
        let (t, kind, k) = scripts.chain(garps).chain(insts).chain(arp).min()?;
        let ev = match kind {
            0 => Event::Script(k),
            1 => Event::Garp(k),
            2 => Event::Instance(k),
            _ => Event::ArpThread,
        };
        Some((t, ev))
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        self.next_event().map(|(t, _)| t)
    }

    /// `vrrp_dispatcher_read_timeout` for one instance.
    fn instance_timeout(&mut self, i: usize) {
        let prev = self.inst[i].state;
        match prev {
            State::Backup => {
                let p = self.pfx(i);
                self.detail(|| format!("{p} Receive advertisement timeout"));
                self.inst[i].wantstate = State::Master;
                self.goto_master(i);
            }
            State::Master => self.master_tx(i),
            _ => {}
        }
        self.tsm(prev, i);
        self.init_sands(i);
    }

    // ----- interfaces and shutdown ----------------------------------------------------

    /// `update_interface_flags` → `process_if_status_change` (§2.7).
    pub(crate) fn set_interface(&mut self, now: Instant, dev: &str, up: bool) {
        if self.stopped {
            return;
        }
        self.now = to_us(now);
        let Some(f) = self.ifaces.iter().position(|x| x.name == dev) else { return };
        if self.ifaces[f].up == up {
            return;
        }
        self.ifaces[f].up = up;
        if !self.inst.iter().any(|i| i.trackers.iter().any(|t| t.iface == f)) {
            return;
        }
        if self.v() == V::V1_3 {
            self.log(format!("Kernel is reporting: interface {dev} {}", if up { "UP" } else { "DOWN" }));
        } else {
            self.log(format!("Netlink reports {dev} {}", if up { "up" } else { "down" }));
        }
        self.interface_change(f, up);
    }

    /// SIGTERM (`vrrp_terminate_phase1`, `restore_vrrp_interfaces`, §2.11).
    pub(crate) fn stop(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        self.now = to_us(now);
        for i in 0..self.inst.len() {
            if self.inst[i].state == State::Master {
                self.restore_interface(i, true, false);
            }
        }
        for i in 0..self.inst.len() {
            self.set_state(i, State::Stop);
            self.notifies(i);
            self.inst[i].sands = None;
        }
        let mut left: Vec<(String, Ipv4Addr)> = Vec::new();
        for i in 0..self.inst.len() {
            let key = (self.rx_dev(i), self.inst[i].group_addr);
            if self.inst[i].peers.is_empty() && !left.contains(&key) {
                left.push(key.clone());
                self.actions.push(VrrpAction::LeaveGroup { dev: key.0, group: key.1 });
            }
            if let Some((name, mac)) = self.inst[i].vmac.clone() {
                let dev = self.rx_dev(i);
                self.actions.push(VrrpAction::Vmac { dev, name, mac, up: false });
            }
        }
        self.garps.clear();
        self.garp_thread = None;
        for s in &mut self.scripts {
            s.next_run = None;
        }
        self.stopped = true;
    }

    pub(crate) fn report(&self) -> Vec<VrrpReport> {
        self.inst
            .iter()
            .map(|i| VrrpReport {
                instance: i.name.clone(),
                vrid: i.vrid,
                state: i.state.name().to_string(),
                priority: i.effective_priority,
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Script(usize),
    Garp(usize),
    Instance(usize),
    ArpThread,
}
