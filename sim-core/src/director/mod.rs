//! The director: IPVS (services, schedulers, connection table, forwarding), the
//! ipvsadm front end, keepalived's configuration parser, VRRP and health checkers.
//! Depends on [`crate::wire`] and the hook interface of [`crate::stack`] only.

pub mod check;
pub mod ipvs;
pub mod ipvsadm;
pub mod keepalived;
pub mod vrrp;
