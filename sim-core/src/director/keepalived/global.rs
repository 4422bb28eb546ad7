//! `global_defs` (`keepalived/core/global_parser.c: init_global_keywords`).

use super::model::{GlobalDefs, LvsFlushOnStop, LvsSyncDaemon};
use super::parser::{Kw, Parser, Res, check_true_false, inet_pton4};
use std::time::Duration;

#[derive(Debug, Default)]
pub(crate) struct GlobalState {
    pub data: GlobalDefs,
}

/// Every keyword `init_global_keywords` installs under `global_defs`; those without a
/// handler below are accepted and their values not modelled.
const KEYWORDS: &[&str] = &[
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "lvs_process_name",
    "bfd_process_name",
    "router_id",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "notification_email",
    "smtp_alert",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "max_auto_priority",
    "min_auto_priority_delay",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "checker_log_all_failures",
    "dynamic_interfaces",
    "no_email_faults",
    "default_interface",
    "disable_local_igmp",
    "lvs_timeouts",
    "lvs_flush",
    "lvs_flush_on_stop",
    "lvs_flush_onstop",
    "lvs_sync_daemon",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_min_garp",
    "vrrp_garp_extra_if",
    "vrrp_vmac_garp_intvl",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_version",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "nftables_counters",
    "vrrp_check_unicast_src",
    "vrrp_skip_check_adv_addr",
    "vrrp_strict",
    "vrrp_priority",
    "vrrp_no_swap",
    "vrrp_rt_priority",
    "vrrp_cpu_affinity",
    "vrrp_rlimit_rttime",
    "vrrp_rlimit_rtime",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "vrrp_notify_priority_changes",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "checker_priority",
    "checker_no_swap",
    "checker_rt_priority",
    "checker_cpu_affinity",
    "checker_rlimit_rttime",
    "checker_rlimit_rtime",
    "bfd_priority",
    "bfd_no_swap",
    "bfd_rt_priority",
    "bfd_cpu_affinity",
    "bfd_rlimit_rttime",
    "bfd_rlimit_rtime",
    "snmp_socket",
    "enable_traps",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_snmp_checker",
    "enable_dbus",
    "dbus_service_name",
    "script_user",
    "enable_script_security",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "rs_init_notifies",
    "no_checker_emails",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "vrrp_startup_delay",
    "log_unknown_vrids",
    "vmac_prefix",
    "vmac_addr_prefix",
    "umask",
    "random_seed",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "include_check",
    "tmp_config_directory",
    "data_use_instance",
];

pub(crate) fn lookup(w: &str) -> Option<Kw> {
    KEYWORDS.contains(&w).then_some(Kw { sub: None, active: true })
}

const TIMER_HZ: u64 = 1_000_000;

impl Parser<'_> {
    pub(crate) fn global_handler(&mut self, v: &[String]) -> Res {
        match v[0].as_str() {
            "router_id" => self.global.data.router_id = Some(self.arg(v, 1)?.to_string()),
            "notification_email_from" => self.global.data.notification_email_from = Some(self.arg(v, 1)?.to_string()),
            "smtp_server" => self.global.data.smtp_server = Some(v[1..].join(" ")),
            "smtp_connect_timeout" => self.global.data.smtp_connect_timeout = Some(self.arg(v, 1)?.to_string()),
            "notification_email" => {
                let words = self.read_value_block(v)?;
                self.global.data.notification_email.extend(words);
            }
            "enable_script_security" => self.global.data.enable_script_security = true,
            "script_user" => {
                let user = self.arg(v, 1)?.to_string();
                self.global.data.script_user = Some((user, v.get(2).cloned()));
            }
            "dynamic_interfaces" => self.global.data.dynamic_interfaces = true,
            "lvs_flush" => self.global.data.lvs_flush = true,
            // `lvs_flush_on_stop_handler`.
            "lvs_flush_on_stop" | "lvs_flush_onstop" => match v.get(1).map(String::as_str) {
                None => self.global.data.lvs_flush_on_stop = LvsFlushOnStop::Full,
                Some("VS") => self.global.data.lvs_flush_on_stop = LvsFlushOnStop::Vs,
                Some(s) => self.err(format!("Unknown lvs_flush_on_stop type {s}")),
            },
            // `checker_log_all_failures_handler`: no value means on; an invalid value is ignored.
            "checker_log_all_failures" => match v.get(1) {
                None => self.global.data.checker_log_all_failures = true,
                Some(s) => {
                    if let Some(b) = check_true_false(s) {
                        self.global.data.checker_log_all_failures = b;
                    }
                }
            },
            "lvs_timeouts" => self.lvs_timeouts(v),
            "lvs_sync_daemon" => self.lvs_sync_daemon(v),
            "vrrp_mcast_group4" => {
                let s = self.arg(v, 1)?;
                match inet_pton4(s) {
                    Some(a) => self.global.data.vrrp_mcast_group4 = a,
                    None => self.err(format!("Configuration error: Cant parse vrrp_mcast_group4 [{s}]. Skipping")),
                }
            }
            "vrrp_garp_master_delay" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, u64::from(u32::MAX) / TIMER_HZ, true) {
                    Some(d) => self.global.data.vrrp_garp_master_delay = Duration::from_secs(d),
                    None => self.err(format!("vrrp_garp_master_delay '{s}' invalid - ignoring")),
                }
            }
            "vrrp_garp_master_repeat" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, u64::from(u32::MAX), true) {
                    None => self.err(format!("vrrp_garp_master_repeat '{s}' invalid - ignoring")),
                    Some(0) => {
                        self.err("vrrp_garp_master_repeat must be greater than 0, setting to 1");
                        self.global.data.vrrp_garp_master_repeat = 1;
                    }
                    Some(n) => self.global.data.vrrp_garp_master_repeat = n as u32,
                }
            }
            "vrrp_garp_master_refresh" => {
                let s = self.arg(v, 1)?;
                let r = self.read_unsigned(s, 0, u64::from(u32::MAX), true);
                if r.is_none() {
                    self.err(format!("Invalid vrrp_garp_master_refresh '{s}' - ignoring"));
                }
                self.global.data.vrrp_garp_master_refresh = Duration::from_secs(r.unwrap_or(0));
            }
            "vrrp_garp_master_refresh_repeat" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, u64::from(u32::MAX), true) {
                    None => self.err(format!("vrrp_garp_master_refresh_repeat '{s}' invalid - ignoring")),
                    Some(0) => {
                        self.err("vrrp_garp_master_refresh_repeat must be greater than 0, setting to 1");
                        self.global.data.vrrp_garp_master_refresh_repeat = 1;
                    }
                    Some(n) => self.global.data.vrrp_garp_master_refresh_repeat = n as u32,
                }
            }
            "vrrp_garp_lower_prio_delay" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, u64::from(u32::MAX) / TIMER_HZ, true) {
                    Some(d) => self.global.data.vrrp_garp_lower_prio_delay = Some(Duration::from_secs(d)),
                    None => self.err(format!("vrrp_garp_lower_prio_delay '{s}' invalid - ignoring")),
                }
            }
            "vrrp_garp_lower_prio_repeat" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, i32::MAX as u64, true) {
                    Some(n) => self.global.data.vrrp_garp_lower_prio_repeat = Some(n as u32),
                    None => self.err(format!("Invalid vrrp_garp_lower_prio_repeat '{s}'")),
                }
            }
            "vrrp_garp_interval" | "vrrp_gna_interval" => {
                let s = self.arg(v, 1)?;
                // read_double with a minimum of 1us: "0" is rejected.
                let d =
                    s.parse::<f64>().ok().filter(|d| d.is_finite() && *d >= 1e-6 && *d <= f64::from(u32::MAX) / 1e6);
                match d {
                    None => {
                        if s.parse::<f64>().is_err() {
                            self.r.report(super::diag::ConfigErr::InvalidNumber, format!("invalid number '{s}'"));
                        } else {
                            self.r.report(
                                super::diag::ConfigErr::InvalidNumber,
                                format!("number '{s}' outside range [1e-06, {}]", u32::MAX / 1_000_000),
                            );
                        }
                        self.err(format!("{} '{s}' is invalid", v[0]));
                    }
                    Some(d) => {
                        let dur = Duration::from_micros((d * 1e6) as u64);
                        if v[0] == "vrrp_garp_interval" {
                            self.global.data.vrrp_garp_interval = dur;
                        } else {
                            self.global.data.vrrp_gna_interval = dur;
                        }
                        if dur >= Duration::from_secs(1) {
                            let what =
                                if v[0] == "vrrp_garp_interval" { "vrrp_garp_interval" } else { "vrrp_gna_interval" };
                            self.r.log(format!("The {what} is very large - {s} seconds"));
                        }
                    }
                }
            }
            "vrrp_min_garp" => {
                let on = match v.get(1) {
                    None => true,
                    Some(s) => match check_true_false(s) {
                        None => {
                            self.err("Invalid value for vrrp_min_garp specified");
                            return Ok(());
                        }
                        Some(b) => b,
                    },
                };
                if on {
                    let g = &mut self.global.data;
                    if g.vrrp_garp_master_repeat == 5 {
                        g.vrrp_garp_master_repeat = 1;
                    }
                    if g.vrrp_garp_master_refresh_repeat == 1 {
                        g.vrrp_garp_master_refresh_repeat = 0;
                    }
                    if g.vrrp_garp_master_delay == Duration::from_secs(5) {
                        g.vrrp_garp_master_delay = Duration::ZERO;
                    }
                }
            }
            "vrrp_lower_prio_no_advert" | "vrrp_higher_prio_send_advert" => {
                let val = match v.get(1) {
                    None => Some(true),
                    Some(s) => check_true_false(s),
                };
                match val {
                    None => self.err(format!("Invalid value for {} specified", v[0])),
                    Some(b) if v[0] == "vrrp_lower_prio_no_advert" => self.global.data.vrrp_lower_prio_no_advert = b,
                    Some(b) => self.global.data.vrrp_higher_prio_send_advert = b,
                }
            }
            "vrrp_version" => {
                let s = self.arg(v, 1)?;
                match self.read_int(s, 2, 3, true) {
                    Some(n) => self.global.data.vrrp_version = n as u8,
                    None => self.err("VRRP Error: Version must be either 2 or 3"),
                }
            }
            "vrrp_check_unicast_src" => self.global.data.vrrp_check_unicast_src = true,
            "vrrp_skip_check_adv_addr" => self.global.data.vrrp_skip_check_adv_addr = true,
            "vrrp_strict" => self.global.data.vrrp_strict = true,
            _ => {}
        }
        Ok(())
    }

    fn lvs_timeouts(&mut self, v: &[String]) {
        if v.len() < 3 {
            self.err("lvs_timeouts requires at least one option");
            return;
        }
        let mut i = 1;
        while i < v.len() {
            let which = v[i].as_str();
            if matches!(which, "tcp" | "tcpfin" | "udp") {
                if i == v.len() - 1 {
                    self.err(format!("No value specified for lvs_timeout {which} - ignoring"));
                    i += 1;
                    continue;
                }
                match self.read_unsigned(&v[i + 1], 0, 86400 * 31, false) {
                    None => self.err(format!("Invalid lvs_timeout {which} ({}) - ignoring", v[i + 1])),
                    Some(n) => {
                        let t = &mut self.global.data.lvs_timeouts;
                        let slot = match which {
                            "tcp" => &mut t.tcp,
                            "tcpfin" => &mut t.tcpfin,
                            _ => &mut t.udp,
                        };
                        *slot = Some(n as u32);
                    }
                }
                i += 2;
                continue;
            }
            self.err(format!("Unknown option {which} specified for lvs_timeouts"));
            i += 1;
        }
    }

    fn lvs_sync_daemon(&mut self, v: &[String]) {
        if let Some(d) = &self.global.data.lvs_sync_daemon {
            let msg = format!(
                "lvs_sync_daemon has already been specified as {} {} - ignoring",
                d.interface,
                d.instance.clone().unwrap_or_default()
            );
            self.err(msg);
            return;
        }
        let Some(ifname) = v.get(1) else {
            self.err("lvs_sync_daemon requires interface");
            return;
        };
        let mut d = LvsSyncDaemon { interface: ifname.clone(), instance: None, id: None };
        let mut i = 2;
        while i < v.len() {
            match v[i].as_str() {
                "inst" => {
                    if d.instance.is_none() {
                        d.instance = v.get(i + 1).cloned();
                    }
                    i += 2;
                }
                "id" => {
                    if i == v.len() - 1 {
                        self.err("No value specified for lvs_sync_daemon id, defaulting to vrid");
                        i += 1;
                        continue;
                    }
                    match self.read_unsigned(&v[i + 1], 0, 255, false) {
                        Some(n) => d.id = Some(n as u8),
                        None => self.err(format!("Invalid syncid ({}) - defaulting to vrid", v[i + 1])),
                    }
                    i += 2;
                }
                _ if i == 2 => {
                    d.instance = Some(v[2].clone());
                    i += 1;
                }
                _ if i == 3 => {
                    match self.read_unsigned(&v[3], 0, 255, false) {
                        None => self.err(format!("Invalid syncid ({}) - defaulting to vrid", v[3])),
                        Some(n) => {
                            self.err("Please use keyword \"id\" before lvs_sync_daemon SYNCID");
                            d.id = Some(n as u8);
                        }
                    }
                    i += 1;
                }
                other => {
                    self.err(format!("Unknown option {other} specified for lvs_sync_daemon"));
                    i += 1;
                }
            }
        }
        self.global.data.lvs_sync_daemon = Some(d);
    }
}
