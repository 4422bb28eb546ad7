//! How keepalived drives IPVS (`keepalived/check/ipwrapper.c`, `ipvswrapper.c`; reference
//! §4.4): adding a virtual server and its real servers at start-up, adding and removing
//! (or, with `inhibit_on_failure`, weighting 0) real servers as checkers change state,
//! quorum with hysteresis and the sorry server, dynamic weights, and the shutdown clean-up.
//!
//! Every function is named after the keepalived function it models and keeps its order of
//! log lines and IPVS commands.

use crate::director::ipvs::{DestSpec, Fwd, Ipvs, IpvsError, ServiceKey, ServiceSpec};
use crate::director::keepalived::LvsFlushOnStop;
use crate::time::Instant;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// `IPVS_WEIGHT_MAX`.
const IPVS_WEIGHT_MAX: i64 = 65535;

/// `real_weight`: the weight IPVS is given for an effective weight.
pub(super) fn real_weight(w: i64) -> i32 {
    w.clamp(0, IPVS_WEIGHT_MAX) as i32
}

/// The `IP_VS_SO_SET_*` commands keepalived sends (`ipvs_cmd_str`; `IP_VS_BASE_CTL` is 1152).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmd {
    Add,
    Del,
    AddDest,
    DelDest,
    EditDest,
}

impl Cmd {
    fn name(self) -> &'static str {
        match self {
            Cmd::Add => "IP_VS_SO_SET_ADD",
            Cmd::Del => "IP_VS_SO_SET_DEL",
            Cmd::AddDest => "IP_VS_SO_SET_ADDDEST",
            Cmd::DelDest => "IP_VS_SO_SET_DELDEST",
            Cmd::EditDest => "IP_VS_SO_SET_EDITDEST",
        }
    }

    fn code(self) -> u32 {
        match self {
            Cmd::Add => 1154,
            Cmd::Del => 1156,
            Cmd::AddDest => 1159,
            Cmd::DelDest => 1160,
            Cmd::EditDest => 1161,
        }
    }

    fn is_dest(self) -> bool {
        matches!(self, Cmd::AddDest | Cmd::DelDest | Cmd::EditDest)
    }
}

/// libipvs `ipvs_strerror` for the function that failed, then `strerror`.
fn strerror(cmd: Cmd, e: IpvsError) -> &'static str {
    use IpvsError::*;
    match (cmd, e) {
        (Cmd::Add, Exists) => "Service already exists",
        (Cmd::Add, NotFound) => "Scheduler or persistence engine not found",
        (Cmd::Del, NoService) => "No such service",
        (Cmd::AddDest | Cmd::EditDest | Cmd::DelDest, NoService) => "Service not defined",
        (Cmd::AddDest, Exists) => "Destination already exists",
        (Cmd::EditDest | Cmd::DelDest, NotFound) => "No such destination",
        (_, Invalid) => "Invalid operation.  Possibly wrong module version, address not unicast, ...",
        (_, AddressFamily) => "Address family not supported by protocol",
        (_, Range) => "Numerical result out of range",
        (_, Fault) => "Bad address",
        (_, Exists) => "File exists",
        (_, NoService) => "No such process",
        (_, NotFound) => "No such file or directory",
    }
}

/// A real server or a sorry server (`real_server_t`).
#[derive(Debug, Clone)]
pub(super) struct Server {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub fwd: Fwd,
    /// `iweight`: the configured weight.
    pub iweight: i64,
    /// `effective_weight` (MISC_CHECK `misc_dynamic` changes it).
    pub effective_weight: i64,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub inhibit: bool,
    /// `alive`: keepalived considers it up.
    pub alive: bool,
    /// `set`: it is in the IPVS table (possibly with weight 0).
    pub set: bool,
    pub num_failed_checkers: u32,
    /// `FMT_RS`: `[IP]:proto:port`.
    pub name: String,
}

/// What keepalived puts in IPVS for one `virtual_server`: its service (one per address of
/// a `virtual_server_group`, plus its fwmarks) and how dests are written.
#[derive(Debug, Clone)]
pub(super) struct ServiceDef {
    /// Scheduler, flags, persistence; the key is replaced per member.
    pub template: ServiceSpec,
    /// The IPVS services, in the order `ipvs_group_cmd` visits them (addresses, then fwmarks).
    pub members: Vec<ServiceKey>,
    /// A `virtual_server group`: commands go through `ipvs_change_needed`.
    pub group: bool,
}

/// The state shared by every virtual server of the checker process: `vsge->*_alive`
/// counters, by service, for virtual server groups.
pub(super) type GroupCounts = BTreeMap<ServiceKey, i64>;

/// What an IPVS-changing step needs: the time, the table, the log, the group counters.
pub(super) struct Io<'a> {
    pub now: Instant,
    pub ipvs: &'a mut Ipvs,
    pub logs: &'a mut Vec<String>,
    pub counts: &'a mut GroupCounts,
}

impl Io<'_> {
    pub fn log(&mut self, line: String) {
        self.logs.push(line);
    }
}

/// A `virtual_server` with the state `ipwrapper.c` keeps for it.
#[derive(Debug, Clone)]
pub(super) struct VirtualServer {
    /// `FMT_VS`: `[IP]:proto:port`, `FWM n` or `[GROUP]:n`.
    pub name: String,
    pub def: ServiceDef,
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_state_up: bool,
    pub sorry: Option<Server>,
    pub rs: Vec<Server>,
    /// The service was added.
    pub alive: bool,
    pub ha_suspend: bool,
    pub ha_suspend_addr_count: u32,
    /// The address `ha_suspend` watches (address virtual servers only: `addr_matches`).
    pub vip: Option<Ipv4Addr>,
}

/// `ipvs_change_needed` for a group member.
fn change_needed(cmd: Cmd, count: i64, rs_alive: bool) -> bool {
    match cmd {
        Cmd::Add | Cmd::Del => count == 0,
        Cmd::AddDest => !rs_alive,
        Cmd::DelDest => rs_alive,
        Cmd::EditDest => true,
    }
}

/// `ipvs_talk`: one command to IPVS. An EDITDEST of a missing dest becomes an ADDDEST;
/// EEXIST on an add and ENOENT on a dest delete are not failures, but every error is logged.
fn ipvs_talk(io: &mut Io, mut cmd: Cmd, svc: &ServiceSpec, dest: Option<&DestSpec>) -> bool {
    let now = io.now;
    let mut res = match (cmd, dest) {
        (Cmd::Add, _) => io.ipvs.add_service(now, svc),
        (Cmd::Del, _) => io.ipvs.del_service(now, &svc.key),
        (Cmd::AddDest, Some(d)) => io.ipvs.add_dest(now, &svc.key, d),
        (Cmd::DelDest, Some(d)) => io.ipvs.del_dest(now, &svc.key, d.addr, d.port),
        (Cmd::EditDest, Some(d)) => io.ipvs.edit_dest(now, &svc.key, d),
        (_, None) => Ok(()),
    };
    if cmd == Cmd::EditDest
        && res == Err(IpvsError::NotFound)
        && let Some(d) = dest
    {
        cmd = Cmd::AddDest;
        res = io.ipvs.add_dest(now, &svc.key, d);
    }
    let Err(e) = res else { return true };
    let ok = (e == IpvsError::Exists && matches!(cmd, Cmd::Add | Cmd::AddDest))
        || (e == IpvsError::NotFound && matches!(cmd, Cmd::Del | Cmd::DelDest));
    let mut rule = format_srule(&svc.key);
    if let (true, Some(d)) = (cmd.is_dest(), dest) {
        rule.push_str(&format!(" -> {}:{}", d.addr, d.port));
    }
    io.log(format!("IPVS cmd {}({}) error: {}({}) ({rule})", cmd.name(), cmd.code(), strerror(cmd, e), e.errno()));
    ok
}

/// `format_srule`: `10.0.0.1:tcp:80` or `Fwm 5`.
fn format_srule(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr { proto, addr, port } => {
            format!("{addr}:{}:{port}", proto.name().to_ascii_lowercase())
        }
        ServiceKey::Fwmark(m) => format!("Fwm {m}"),
    }
}

/// `ipvs_cmd` for the service itself (ADD, EDIT, DEL).
fn ipvs_cmd_svc(io: &mut Io, def: &ServiceDef, cmd: Cmd) -> bool {
    for key in &def.members {
        if def.group && !change_needed(cmd, io.counts.get(key).copied().unwrap_or(0), false) {
            continue;
        }
        let svc = ServiceSpec { key: *key, ..def.template.clone() };
        if !ipvs_talk(io, cmd, &svc, None) {
            return false;
        }
    }
    true
}

/// `ipvs_cmd` for a dest: `inhibit_on_failure` turns a delete into a weight-0 edit and an
/// add of a server still in the table into an edit; `set` follows what is in IPVS. The dest
/// port is the real server's for NAT, else the service's (0 for fwmarks).
fn ipvs_cmd(io: &mut Io, def: &ServiceDef, mut cmd: Cmd, rs: &mut Server) -> bool {
    let mut weight = real_weight(rs.effective_weight);
    if cmd == Cmd::DelDest && rs.inhibit {
        weight = 0;
        cmd = Cmd::EditDest;
    } else if cmd == Cmd::AddDest && rs.inhibit && rs.set {
        cmd = Cmd::EditDest;
    } else if cmd == Cmd::AddDest && !rs.set {
        rs.set = true;
        if rs.inhibit && rs.num_failed_checkers > 0 {
            weight = 0;
        }
    } else if cmd == Cmd::DelDest && rs.set {
        rs.set = false;
    }
    for key in &def.members {
        let port = if rs.fwd == Fwd::Masq { rs.port } else { key.port() };
        let dest = DestSpec {
            addr: rs.addr,
            port,
            fwd: rs.fwd,
            weight,
            u_threshold: rs.u_threshold,
            l_threshold: rs.l_threshold,
        };
        if !def.group || change_needed(cmd, 0, rs.alive) {
            let svc = ServiceSpec { key: *key, ..def.template.clone() };
            if !ipvs_talk(io, cmd, &svc, Some(&dest)) {
                return false;
            }
        }
        if def.group {
            // `ipvs_set_vsge_alive_state`, whether or not a change was needed.
            let n = io.counts.entry(*key).or_insert(0);
            match cmd {
                Cmd::AddDest => *n += 1,
                Cmd::DelDest => *n -= 1,
                _ => {}
            }
        }
    }
    true
}

impl VirtualServer {
    /// `weigh_live_realservers`.
    fn weigh_live(&self) -> i64 {
        self.rs.iter().filter(|r| r.alive).map(|r| i64::from(real_weight(r.effective_weight))).sum()
    }

    fn sorry_alive(&self) -> bool {
        self.sorry.as_ref().is_some_and(|s| s.alive)
    }

    /// `set_quorum_states` (run at configuration time, before any server is alive).
    pub fn set_quorum_state(&mut self) {
        self.quorum_state_up = self.weigh_live() >= i64::from(self.quorum) + i64::from(self.hysteresis);
    }

    /// `init_service_vs`: the service, then its real servers (`init_service_rs`), the
    /// quorum (which may bring in the sorry server), and an inhibited sorry server at weight 0.
    pub fn init_service_vs(&mut self, io: &mut Io) {
        if !self.alive || self.def.group {
            ipvs_cmd_svc(io, &self.def, Cmd::Add);
            self.alive = true;
        }
        for rs in &mut self.rs {
            // In alpha mode a server is only added once its checkers pass, unless inhibited.
            if (rs.num_failed_checkers == 0 && !rs.alive) || (rs.inhibit && !rs.set) {
                ipvs_cmd(io, &self.def, Cmd::AddDest, rs);
                if rs.num_failed_checkers == 0 {
                    rs.alive = true;
                }
            }
        }
        self.update_quorum_state(io, true);
        if let Some(s) = self.sorry.as_mut()
            && s.inhibit
            && !s.set
        {
            s.num_failed_checkers = 1;
            ipvs_cmd(io, &self.def, Cmd::AddDest, s);
            s.num_failed_checkers = 0;
        }
    }

    /// `perform_quorum_state`: add or remove the alive real servers.
    fn perform_quorum_state(&mut self, io: &mut Io, add: bool) {
        let what = if add { "Adding alive servers to" } else { "Removing alive servers from" };
        io.log(format!("{what} the pool for VS {}", self.name));
        for rs in self.rs.iter_mut().filter(|r| r.alive) {
            if add {
                rs.alive = false;
            }
            ipvs_cmd(io, &self.def, if add { Cmd::AddDest } else { Cmd::DelDest }, rs);
            rs.alive = true;
        }
    }

    /// `update_quorum_state`: quorum is gained when the alive weight reaches
    /// `quorum + hysteresis` and lost when it falls below `quorum - hysteresis` (or to 0);
    /// the sorry server replaces the pool while it is lost. At start-up (`init`) a virtual
    /// server without quorum brings its sorry server in.
    pub fn update_quorum_state(&mut self, io: &mut Io, init: bool) {
        let weight_sum = self.weigh_live();
        let h = i64::from(self.hysteresis);
        let threshold = i64::from(self.quorum) + if self.quorum_state_up { -h } else { h };
        let (q, name) = (self.quorum, self.name.clone());
        if !self.quorum_state_up && weight_sum >= threshold {
            self.quorum_state_up = true;
            io.log(format!("Gained quorum {q}+{h}={threshold} <= {weight_sum} for VS {name}"));
            if self.sorry_alive()
                && let Some(mut s) = self.sorry.take()
            {
                let verb = if s.inhibit { "Disabling" } else { "Removing" };
                io.log(format!("{verb} sorry server {} from VS {name}", s.name));
                ipvs_cmd(io, &self.def, Cmd::DelDest, &mut s);
                s.alive = false;
                self.sorry = Some(s);
                self.perform_quorum_state(io, true);
            }
        } else if (self.quorum_state_up && (weight_sum == 0 || weight_sum < threshold))
            || (init && !self.quorum_state_up && self.sorry.as_ref().is_some_and(|s| !s.alive))
        {
            self.quorum_state_up = false;
            let what = if init { "Starting with quorum down" } else { "Lost quorum" };
            io.log(format!("{what} {q}-{h}={threshold} > {weight_sum} for VS {name}"));
            if self.sorry.as_ref().is_some_and(|s| !s.alive)
                && let Some(mut s) = self.sorry.take()
            {
                let verb = if s.inhibit { "Enabling" } else { "Adding" };
                io.log(format!("{verb} sorry server {} to VS {name}", s.name));
                self.perform_quorum_state(io, false);
                ipvs_cmd(io, &self.def, Cmd::AddDest, &mut s);
                s.alive = true;
                self.sorry = Some(s);
            }
        }
    }

    /// `perform_svr_state`: a real server goes up or down. IPVS is only changed while the
    /// quorum is up or no sorry server stands in; an IPVS failure leaves everything as is.
    pub fn perform_svr_state(&mut self, io: &mut Io, alive: bool, rs: usize) -> bool {
        let Some(r) = self.rs.get(rs) else { return true };
        if r.alive == alive {
            return true;
        }
        let (verb, prep) = match (alive, r.inhibit) {
            (true, true) => ("Enabl", "of"),
            (true, false) => ("Add", "to"),
            (false, true) => ("Disabl", "of"),
            (false, false) => ("Remov", "from"),
        };
        io.log(format!("{verb}ing service {} {prep} VS {}", r.name, self.name));
        if self.quorum_state_up || !self.sorry_alive() {
            let cmd = if alive { Cmd::AddDest } else { Cmd::DelDest };
            if !ipvs_cmd(io, &self.def, cmd, &mut self.rs[rs]) {
                return false;
            }
        }
        self.rs[rs].alive = alive;
        self.update_quorum_state(io, false);
        true
    }

    /// `update_svr_wgt`: a new effective weight, pushed to IPVS if the server is in the pool.
    pub fn update_svr_wgt(&mut self, io: &mut Io, weight: i64, rs: usize, update_quorum: bool) {
        let quorum_or_no_sorry = self.quorum_state_up || !self.sorry_alive();
        let Some(r) = self.rs.get_mut(rs) else { return };
        let (old, new) = (real_weight(r.effective_weight), real_weight(weight));
        r.effective_weight = weight;
        if new == old {
            return;
        }
        let act = if r.alive { "" } else { "in" };
        io.log(format!("Changing weight from {old} to {new} for {act}active service {} of VS {}", r.name, self.name));
        if r.set && r.alive && quorum_or_no_sorry {
            ipvs_cmd(io, &self.def, Cmd::EditDest, r);
        }
        if update_quorum {
            self.update_quorum_state(io, false);
        }
    }

    /// `clear_service_vs` at shutdown: without `lvs_flush_on_stop`, the sorry server and each
    /// real server are removed (inhibited ones too), then the service.
    pub fn clear_service_vs(&mut self, io: &mut Io, flush: LvsFlushOnStop) {
        if flush == LvsFlushOnStop::No {
            if let Some(s) = self.sorry.as_mut()
                && s.set
            {
                let sav = s.inhibit;
                s.inhibit = false;
                ipvs_cmd(io, &self.def, Cmd::DelDest, s);
                s.inhibit = sav;
                s.alive = false;
            }
            for rs in &mut self.rs {
                clear_service_rs(io, &self.def, &self.name, rs);
            }
        } else {
            if flush == LvsFlushOnStop::Vs && self.def.group {
                // `clear_vsg_rs_counts`: one decrement per real server and member.
                let n = self.rs.len() as i64;
                for key in &self.def.members {
                    *io.counts.entry(*key).or_insert(0) -= n;
                }
            }
            if let Some(s) = self.sorry.as_mut()
                && s.set
            {
                s.alive = false;
            }
        }
        // `update_vs_notifies(vs, true)`.
        self.quorum_state_up = false;
        ipvs_cmd_svc(io, &self.def, Cmd::Del);
        self.alive = false;
    }
}

/// `clear_service_rs` when stopping.
fn clear_service_rs(io: &mut Io, def: &ServiceDef, vs_name: &str, rs: &mut Server) {
    let inhibited = if rs.inhibit && !rs.alive { "(inhibited) " } else { "" };
    io.log(format!("Shutting down {inhibited}service {} from VS {vs_name}", rs.name));
    if !rs.set {
        return;
    }
    let sav = rs.inhibit;
    rs.inhibit = false;
    ipvs_cmd(io, def, Cmd::DelDest, rs);
    rs.inhibit = sav;
    rs.alive = false;
}

/// The per-checker state `ipwrapper.c` reads and writes (`checker_t`'s `is_up`, `has_run`).
#[derive(Debug, Clone, Copy)]
pub(super) struct CheckerState {
    pub rs: usize,
    pub is_up: bool,
    pub has_run: bool,
}

/// `set_checker_state`.
pub(super) fn set_checker_state(c: &mut CheckerState, rs: &mut Server, up: bool) {
    if c.is_up == up {
        return;
    }
    c.is_up = up;
    if !up {
        rs.num_failed_checkers += 1;
    } else {
        rs.num_failed_checkers = rs.num_failed_checkers.saturating_sub(1);
    }
}

/// `update_svr_checker_state`: a checker's verdict. The server goes up when its last failed
/// checker passes and down when its first checker fails.
pub(super) fn update_svr_checker_state(io: &mut Io, vs: &mut VirtualServer, c: &mut CheckerState, alive: bool) {
    if c.is_up == alive {
        c.has_run = true;
        return;
    }
    c.has_run = true;
    let Some(failed) = vs.rs.get(c.rs).map(|r| r.num_failed_checkers) else { return };
    if alive {
        if failed <= 1 && !vs.perform_svr_state(io, true, c.rs) {
            return;
        }
    } else if failed == 0 && !vs.perform_svr_state(io, false, c.rs) {
        return;
    }
    if let Some(rs) = vs.rs.get_mut(c.rs) {
        set_checker_state(c, rs, alive);
    }
}

/// `clear_services`: `lvs_flush_on_stop` flushes the table, else each virtual server is cleared.
pub(super) fn clear_services(io: &mut Io, vss: &mut [VirtualServer], flush: LvsFlushOnStop) {
    if flush == LvsFlushOnStop::Full {
        io.ipvs.flush(io.now);
        for vs in vss.iter_mut() {
            vs.quorum_state_up = false;
        }
        return;
    }
    for vs in vss.iter_mut() {
        vs.clear_service_vs(io, flush);
    }
}
