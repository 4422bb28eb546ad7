//! Tracking (reference §2.7): `vrrp_script` results with rise/fall, weighted and
//! unweighted trackers, effective priority and FAULT. keepalived's `vrrp_track.c`
//! (`initialise_tracking_priorities`, `process_script_update_priority`,
//! `vrrp_set_effective_priority`, `down_instance`), `vrrp_scheduler.c`
//! (`vrrp_script_child_thread`, `try_up_instance`) and `keepalived_netlink.c`
//! (`process_if_status_change`).

use super::instance::{Core, PRIO_OWNER, State};
use super::{KeepalivedVersion as V, ScriptEnv};
use crate::director::keepalived::KeepalivedConfig;
use crate::time::{Duration, Instant};

/// An interface an instance tracks (`tracking_obj_t`): weight 0 means FAULT while down;
/// `mult` is −1 for `reverse`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IfTrack {
    pub iface: usize,
    pub weight: i32,
    pub mult: i32,
}

/// `SCRIPT_INIT_STATE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScriptInit {
    /// No result yet: the first run decides.
    Init,
    /// `init_fail`: assumed failed until it succeeds.
    Failed,
    Done,
}

/// An instance tracking a script.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScriptTrack {
    pub inst: usize,
    pub weight: i32,
    pub mult: i32,
}

/// A `vrrp_script` (`vrrp_script_t`).
#[derive(Debug)]
pub(crate) struct VScript {
    pub name: String,
    pub cmd: String,
    /// µs.
    pub interval: u64,
    pub rise: i64,
    pub fall: i64,
    /// In `[0, rise+fall-1]`; OK when `>= rise`.
    pub result: i64,
    pub init: ScriptInit,
    pub last_status: i32,
    pub next_run: Option<Instant>,
    pub tracking: Vec<ScriptTrack>,
}

impl Core {
    /// The `vrrp_script`s some instance or sync group tracks; the others never run
    /// (`Warning - script %s is not used`).
    pub(crate) fn build_scripts(&mut self, cfg: &KeepalivedConfig) {
        for s in &cfg.vrrp_scripts {
            let mut tracking = Vec::new();
            for (i, ic) in cfg.instances.iter().enumerate() {
                for t in ic.track_scripts.iter().filter(|t| t.name == s.name) {
                    tracking.push(ScriptTrack { inst: i, weight: t.weight, mult: if t.reverse { -1 } else { 1 } });
                }
            }
            for g in &self.groups {
                let Some(cg) = cfg.sync_groups.iter().find(|c| c.name == g.name) else { continue };
                for t in cg.track_scripts.iter().filter(|t| t.name == s.name) {
                    let weight = if cg.sync_group_tracking_weight { t.weight } else { 0 };
                    for &m in &g.members {
                        tracking.push(ScriptTrack { inst: m, weight, mult: if t.reverse { -1 } else { 1 } });
                    }
                }
            }
            if tracking.is_empty() {
                continue;
            }
            let rise = i64::from(s.rise.max(1));
            let init = if s.init_fail { ScriptInit::Failed } else { ScriptInit::Init };
            self.scripts.push(VScript {
                name: s.name.clone(),
                cmd: s.script.argv.join(" "),
                interval: u64::try_from(s.interval.as_micros()).unwrap_or(u64::MAX).max(1),
                rise,
                fall: i64::from(s.fall.max(1)),
                result: if init == ScriptInit::Init { rise - 1 } else { 0 },
                init,
                last_status: 0,
                next_run: None,
                tracking,
            });
        }
    }

    /// `initialise_tracking_priorities`: interfaces first, then each instance's missing
    /// source address, scripts, effective priority, and its sync group's counters.
    pub(crate) fn initialise_tracking_priorities(&mut self) {
        for f in 0..self.ifaces.len() {
            let up = self.ifaces[f].up;
            for i in 0..self.inst.len() {
                for t in self.inst[i].trackers.clone().into_iter().filter(|t| t.iface == f) {
                    if t.weight == 0 {
                        if up != (t.mult == 1) {
                            self.set_state(i, State::Fault);
                            self.inst[i].num_script_if_fault += 1;
                        }
                    } else if up == (t.weight > 0) {
                        self.inst[i].total_priority += t.weight * t.mult;
                    }
                }
            }
        }
        for i in 0..self.inst.len() {
            if self.saddr(i).is_none() {
                self.inst[i].num_script_if_fault += 1;
                self.set_state(i, State::Fault);
            }
            for s in 0..self.scripts.len() {
                for t in self.scripts[s].tracking.clone().into_iter().filter(|t| t.inst == i) {
                    let sc = &self.scripts[s];
                    if t.weight == 0 {
                        if sc.init == ScriptInit::Init {
                            self.inst[i].num_script_init += 1;
                        } else if sc.init == ScriptInit::Failed || sc.result < sc.rise {
                            self.inst[i].num_script_if_fault += 1;
                            self.set_state(i, State::Fault);
                        }
                    } else if self.inst[i].base_priority != PRIO_OWNER
                        && sc.init != ScriptInit::Init
                        && (sc.result >= sc.rise) == (t.weight > 0)
                    {
                        self.inst[i].total_priority += t.weight;
                    }
                }
            }
            self.set_effective_priority(i);
            if let Some(g) = self.inst[i].sync {
                if self.inst[i].state == State::Fault {
                    if self.groups[g].state != State::Fault {
                        self.groups[g].state = State::Fault;
                        let name = self.groups[g].name.clone();
                        self.log(format!("VRRP_Group({name}): Syncing instances to FAULT state"));
                    }
                    self.groups[g].num_member_fault += 1;
                }
                if self.inst[i].num_script_init > 0 {
                    self.groups[g].num_member_init += 1;
                    if self.groups[g].state != State::Fault {
                        self.groups[g].state = State::Init;
                    }
                }
            }
        }
    }

    /// `vrrp_set_effective_priority`: clamp to 1..254 (owners never change), log, and in
    /// BACKUP shift the running down timer by the change in skew.
    pub(crate) fn set_effective_priority(&mut self, i: usize) {
        let inst = &self.inst[i];
        if inst.base_priority == PRIO_OWNER {
            return;
        }
        let new = inst.total_priority.clamp(1, i32::from(PRIO_OWNER) - 1) as u8;
        if new == inst.effective_priority {
            return;
        }
        let p = self.pfx(i);
        let old_prio = inst.effective_priority;
        self.log(format!("{p} Changing effective priority from {old_prio} to {new}"));
        self.inst[i].effective_priority = new;
        let old = self.inst[i].ms_down_timer;
        let fresh = self.ms_down_timer(i);
        let inst = &mut self.inst[i];
        inst.ms_down_timer = fresh;
        if inst.state == State::Backup
            && let Some(t) = inst.sands
        {
            inst.sands = Some(if fresh >= old {
                t + Duration::from_micros(fresh - old)
            } else {
                t - Duration::from_micros(old - fresh)
            });
        }
    }

    /// `down_instance`: the first fault takes the instance (and its sync group) to FAULT;
    /// from MASTER with priority-0 adverts.
    pub(crate) fn down_instance(&mut self, i: usize) {
        let first = self.inst[i].num_script_if_fault == 0;
        self.inst[i].num_script_if_fault += 1;
        if !first && self.inst[i].state != State::Init {
            return;
        }
        self.inst[i].wantstate = State::Fault;
        if self.inst[i].state == State::Master {
            self.leave_master(i, true);
        } else {
            self.leave_fault(i);
        }
        if let Some(g) = self.inst[i].sync {
            let first_member = self.groups[g].num_member_fault == 0;
            self.groups[g].num_member_fault += 1;
            if first_member {
                self.sync_fault(i);
            }
        }
    }

    /// `try_up_instance` (2.2): when the last fault clears, BACKUP with a fresh down timer
    /// (an owner still wanting MASTER waits one interval plus skew); a unicast instance
    /// also announces its own address with a GARP.
    pub(crate) fn try_up_instance(&mut self, i: usize, leaving_init: bool) {
        if leaving_init {
            if self.inst[i].num_script_if_fault > 0 {
                return;
            }
        } else {
            let inst = &mut self.inst[i];
            inst.num_script_if_fault = inst.num_script_if_fault.saturating_sub(1);
            if inst.num_script_if_fault > 0 || inst.num_script_init > 0 {
                if inst.num_script_if_fault == 0 {
                    inst.wantstate = State::Backup;
                    if let Some(g) = inst.sync {
                        self.groups[g].num_member_fault = self.groups[g].num_member_fault.saturating_sub(1);
                        self.groups[g].state = State::Init;
                    }
                }
                return;
            }
        }
        // 1.3.5's `vrrp_init_state` never parks an instance in FAULT to wait for its
        // scripts' first result (it runs them at once, `thread_add_event` in
        // `vrrp_init_script`): `state MASTER` is already in GOTO_MASTER and a BACKUP is
        // counting down, so a first success changes nothing. Only a real FAULT is left here.
        if self.v() == V::V1_3 && self.inst[i].state != State::Fault {
            return;
        }
        let owner_master = self.inst[i].wantstate == State::Master && self.inst[i].base_priority == PRIO_OWNER;
        if !owner_master {
            self.inst[i].wantstate = State::Backup;
        }
        self.inst[i].master_adver_int = self.inst[i].adver_int;
        self.inst[i].ms_down_timer =
            if owner_master { self.inst[i].master_adver_int + self.skew(i) } else { self.ms_down_timer(i) };
        if let Some(g) = self.inst[i].sync {
            if leaving_init {
                if self.groups[g].num_member_fault > 0 {
                    return;
                }
            } else {
                self.groups[g].num_member_fault = self.groups[g].num_member_fault.saturating_sub(1);
                if self.groups[g].num_member_fault > 0 || self.groups[g].num_member_init > 0 {
                    return;
                }
            }
        }
        let want = self.inst[i].wantstate;
        if self.inst[i].sync.is_some() && want == State::Master && !self.sync_can_goto_master(i) {
            self.inst[i].wantstate = State::Backup;
        }
        self.leave_fault(i);
        if !self.inst[i].peers.is_empty()
            && let (Some(f), Some(src)) = (self.inst[i].iface, self.saddr(i))
        {
            let name = self.inst[i].name.clone();
            self.detail(|| format!("{name}: sending gratuitous ARP for {src}"));
            let dev = self.ifaces[f].name.clone();
            self.send_garp_immediate(i, src, dev);
        }
        self.init_sands(i);
        self.inst[i].wantstate = want;
        if self.inst[i].sync.is_some() {
            if self.inst[i].state == State::Master {
                self.sync_master(i);
            } else {
                self.sync_backup(i);
            }
        }
    }

    /// `process_if_status_change`: weighted trackers move the priority, unweighted ones
    /// take the instance down or try to bring it up.
    pub(crate) fn interface_change(&mut self, f: usize, up: bool) {
        for i in 0..self.inst.len() {
            for t in self.inst[i].trackers.clone().into_iter().filter(|t| t.iface == f) {
                if t.weight != 0 {
                    let w = t.weight.abs() * t.mult;
                    self.inst[i].total_priority += if up { w } else { -w };
                    self.set_effective_priority(i);
                } else if up == (t.mult == 1) {
                    self.try_up_instance(i, false);
                } else {
                    self.down_instance(i);
                }
            }
        }
    }

    /// One run of a `vrrp_script` (`vrrp_script_thread`, `vrrp_script_child_thread`): the
    /// result counter moves within `[0, rise+fall-1]`; crossing `rise` is a transition.
    pub(crate) fn run_script(&mut self, s: usize, env: &mut dyn ScriptEnv) {
        let now = self.now;
        let interval = self.scripts[s].interval;
        self.scripts[s].next_run = Some(now + Duration::from_micros(interval));
        let cmd = self.scripts[s].cmd.clone();
        let status = env.run(now, &cmd);
        let name = self.scripts[s].name.clone();
        if self.v() != V::V1_3 && status != self.scripts[s].last_status {
            self.log(format!("Script `{name}` now returning {status}"));
        }
        let sc = &mut self.scripts[s];
        sc.last_status = status;
        let top = sc.rise + sc.fall - 1;
        let mut transition = None;
        if status == 0 {
            if sc.result < sc.rise - 1 {
                sc.result += 1;
            } else if sc.result != top {
                if sc.result < sc.rise {
                    transition = Some(true);
                }
                sc.result = top;
            }
        } else if sc.result > sc.rise {
            sc.result -= 1;
        } else {
            if sc.result == sc.rise || sc.init == ScriptInit::Init {
                transition = Some(false);
            }
            sc.result = 0;
        }
        match transition {
            Some(true) => self.log(format!("VRRP_Script({name}) succeeded")),
            Some(false) if self.v() == V::V1_3 => self.log(format!("VRRP_Script({name}) failed")),
            Some(false) => self.log(format!("VRRP_Script({name}) failed (exited with status {status})")),
            None => {}
        }
        if let Some(ok) = transition {
            for t in self.scripts[s].tracking.clone() {
                self.script_update_priority(t, s, ok);
            }
        }
        self.scripts[s].init = ScriptInit::Done;
    }

    /// `process_script_update_priority`.
    fn script_update_priority(&mut self, t: ScriptTrack, s: usize, ok: bool) {
        let i = t.inst;
        let init = self.scripts[s].init == ScriptInit::Init;
        if t.weight == 0 {
            let mut left_init = false;
            if init {
                self.inst[i].num_script_init = self.inst[i].num_script_init.saturating_sub(1);
                if self.inst[i].num_script_init == 0 {
                    left_init = true;
                    if let Some(g) = self.inst[i].sync {
                        self.groups[g].num_member_init = self.groups[g].num_member_init.saturating_sub(1);
                    }
                }
            }
            let group_init = self.inst[i].sync.is_some_and(|g| self.groups[g].num_member_init > 0);
            if ok != (t.mult == 1) {
                self.down_instance(i);
            } else if self.inst[i].num_script_init == 0 && !group_init {
                self.try_up_instance(i, left_init);
            }
            return;
        }
        let delta = if init {
            if ok == (t.weight > 0) { t.weight * t.mult } else { 0 }
        } else if ok {
            t.weight.abs() * t.mult
        } else {
            -t.weight.abs() * t.mult
        };
        self.inst[i].total_priority += delta;
        self.set_effective_priority(i);
    }
}
