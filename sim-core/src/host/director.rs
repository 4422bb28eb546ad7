//! The director parts of a machine: IPVS (loaded by `ipvsadm` or `modprobe
//! ip_vs`) and keepalived. Integration in progress.

use super::Machine;
use crate::node::{CmdError, Outbox};
use crate::report::{IpvsReport, VrrpReport};
use crate::shell::ServiceAction;
use crate::stack::hooks::Hooked;
use crate::time::Instant;

#[derive(Default)]
pub struct DirectorState {}

impl DirectorState {
    pub fn hooked(&mut self) -> Option<&mut dyn Hooked> {
        None
    }
    pub fn next_deadline(&self) -> Option<Instant> {
        None
    }
    pub fn link_changed(&mut self, _dev: &str, _up: bool) {}
    pub fn ipvs_report(&self, _now: Instant) -> Option<IpvsReport> {
        None
    }
    pub fn vrrp_report(&self) -> Vec<VrrpReport> {
        vec![]
    }
}

impl Machine {
    pub(super) fn ipvsadm(&mut self, _now: Instant, _argv: &[String], _out: &mut Outbox) -> Result<String, CmdError> {
        Err(CmdError::with_status("ipvsadm: not yet available", 1))
    }
    pub(super) fn keepalived_cmd(
        &mut self,
        _now: Instant,
        _argv: &[String],
        _out: &mut Outbox,
    ) -> Result<String, CmdError> {
        Err(CmdError::with_status("keepalived: not yet available", 1))
    }
    pub(super) fn keepalived_service(
        &mut self,
        _now: Instant,
        _a: ServiceAction,
        _out: &mut Outbox,
    ) -> Result<String, CmdError> {
        Err(CmdError::with_status("keepalived: not yet available", 1))
    }
    pub(super) fn ensure_ipvs(&mut self) {}
    pub(super) fn ipvs_sysctl_get(&self, k: &str) -> Result<String, String> {
        Err(format!("sysctl: cannot stat /proc/sys/{}: No such file or directory", k.replace('.', "/")))
    }
    pub(super) fn ipvs_sysctl_set(&mut self, k: &str, _v: &str) -> Result<(), String> {
        Err(format!("sysctl: cannot stat /proc/sys/{}: No such file or directory", k.replace('.', "/")))
    }
    pub(super) fn director_pump(&mut self, _now: Instant, _out: &mut Outbox) -> bool {
        false
    }
    pub(super) fn director_timer(&mut self, _now: Instant, _out: &mut Outbox) {}
}
