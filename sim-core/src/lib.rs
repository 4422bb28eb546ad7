//! lvs-lab's simulator: the discrete-event engine, the L2 fabric, the Linux host
//! model, the director (IPVS, keepalived, VRRP), scenarios, traces and captures.
//!
//! Layering (see `docs/architecture.md`):
//! - [`wire`]: frame views and builders; depends on nothing else here.
//! - [`stack`]: the Linux kernel's network behaviour (interfaces, neighbour cache,
//!   FIB, IPv4, ICMP, TCP, UDP, the netfilter subset, sysctls). Pure code over
//!   frames and a clock.
//! - [`director`]: IPVS, ipvsadm, keepalived's parser, VRRP and health checkers.
//!   Depends on [`wire`] and the hook interface of [`stack`] only.
//! - [`host`]: the [`node::Node`] every machine is: a stack, its apps, and, when
//!   configured, IPVS and keepalived.
//! - [`engine`], [`fabric`], [`capture`]: the simulator proper.
//! - [`scenario`]: scenario files, expectations, runs and outcome reports.

pub mod capture;
pub mod director;
pub mod engine;
pub mod fabric;
pub mod host;
pub mod node;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod shell;
pub mod stack;
pub mod time;
pub mod trace;
pub mod wire;
