//! The Linux kernel network model shared by every machine (hosts and directors).

pub mod hooks;
pub mod tcp;
