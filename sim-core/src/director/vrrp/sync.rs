//! Sync groups (reference §2.8): keepalived's `vrrp_sync.c` (`vrrp_sync_can_goto_master`,
//! `vrrp_sync_master`, `vrrp_sync_backup`, `vrrp_sync_fault`) and the transition matrix
//! `VRRP_TSM` of `vrrp_scheduler.c`.

use super::instance::{Core, State};

impl Core {
    /// `VRRP_TSM_HANDLE`: after a transition of a group member, pull the others along
    /// (BACKUP→MASTER, MASTER→MASTER, FAULT→MASTER: sync master; MASTER→BACKUP: sync backup).
    pub(crate) fn tsm(&mut self, prev: State, i: usize) {
        if self.inst[i].sync.is_none() {
            return;
        }
        match (prev, self.inst[i].state) {
            (State::Backup | State::Master | State::Fault, State::Master) => self.sync_master(i),
            (State::Master, State::Backup) => self.sync_backup(i),
            _ => {}
        }
    }

    /// `vrrp_sync_can_goto_master`: only when every other member wants MASTER; otherwise
    /// the down timer is re-armed and we wait.
    pub(crate) fn sync_can_goto_master(&mut self, i: usize) -> bool {
        let Some(g) = self.inst[i].sync else { return true };
        if self.groups[g].state == State::Master {
            return true;
        }
        let others_want_master =
            self.groups[g].members.iter().all(|&m| m == i || self.inst[m].wantstate == State::Master);
        if !others_want_master {
            self.inst[i].ms_down_timer = self.ms_down_timer(i);
            self.init_sands(i);
        }
        others_want_master
    }

    fn group_log(&mut self, g: usize, state: &str) {
        let name = self.groups[g].name.clone();
        self.log(format!("VRRP_Group({name}) Syncing instances to {state} state"));
    }

    /// `vrrp_sync_master`.
    pub(crate) fn sync_master(&mut self, i: usize) {
        let Some(g) = self.inst[i].sync else { return };
        if self.groups[g].state == State::Master || !self.sync_can_goto_master(i) {
            return;
        }
        self.group_log(g, "MASTER");
        for m in self.groups[g].members.clone() {
            if m != i && self.inst[m].state != State::Master {
                self.inst[m].wantstate = State::Master;
                self.goto_master(m);
            }
        }
        self.groups[g].state = State::Master;
        self.group_notifies(g);
    }

    /// `vrrp_sync_backup`.
    pub(crate) fn sync_backup(&mut self, i: usize) {
        let Some(g) = self.inst[i].sync else { return };
        if self.groups[g].state == State::Backup {
            return;
        }
        self.group_log(g, "BACKUP");
        for m in self.groups[g].members.clone() {
            if m == i || self.inst[m].state == State::Backup {
                continue;
            }
            self.inst[m].wantstate = State::Backup;
            if matches!(self.inst[m].state, State::Fault | State::Init) {
                self.leave_fault(m);
            } else {
                self.leave_master(m, false);
            }
        }
        self.groups[g].state = State::Backup;
        self.group_notifies(g);
    }

    /// `vrrp_sync_fault`: every other member goes to FAULT (a master with a priority-0
    /// advert, a backup silently).
    pub(crate) fn sync_fault(&mut self, i: usize) {
        let Some(g) = self.inst[i].sync else { return };
        if self.groups[g].state == State::Fault {
            return;
        }
        self.group_log(g, "FAULT");
        for m in self.groups[g].members.clone() {
            if m == i || self.inst[m].state == State::Fault {
                continue;
            }
            self.inst[m].wantstate = State::Fault;
            match self.inst[m].state {
                State::Master => self.leave_master(m, false),
                State::Backup | State::Init => {
                    self.set_state(m, State::Fault);
                    self.leave_fault(m);
                }
                _ => {}
            }
        }
        self.groups[g].state = State::Fault;
        self.group_notifies(g);
    }
}
