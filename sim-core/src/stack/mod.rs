//! The Linux kernel network model shared by every machine (hosts and directors).

pub mod conf;
pub mod fib;
pub mod hooks;
pub mod iface;
pub mod neigh;
