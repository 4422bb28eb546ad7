//! `virtual_server_group`, `virtual_server`, `real_server` and the checkers
//! (`keepalived/check/check_parser.c`, `check_data.c`, `check_api.c`, `check_http.c`,
//! `check_misc.c`) and `validate_check_config` (reference §4.1, §4.5).

use super::model::*;
use super::parser::{CheckerTable, Kw, Parser, Res, Table, check_true_false, inet_pton4, inet_stosockaddr};
use super::vrrp::parse_script;
use std::net::Ipv4Addr;
use std::time::Duration;

const TIMER_HZ: u64 = 1_000_000;
const LVS_SCHEDULERS: &[&str] =
    &["rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq"];

#[derive(Debug, Clone)]
pub(crate) struct RawChecker {
    kind: CheckerKind,
    connect_ip: Option<Ipv4Addr>,
    connect_port: Option<u16>,
    bindto: Option<Ipv4Addr>,
    bind_port: Option<u16>,
    bind_if: Option<String>,
    connect_timeout_us: Option<u64>,
    retry: Option<u32>,
    delay_before_retry_us: Option<u64>,
    delay_loop_us: Option<u64>,
    warmup_us: Option<u64>,
    alpha: Option<bool>,
    log_all_failures: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct RawRs {
    addr: Ipv4Addr,
    port: u16,
    weight: Option<u32>,
    lb_kind: Option<LbKind>,
    inhibit: Option<bool>,
    alpha: Option<bool>,
    notify_up: Option<Script>,
    notify_down: Option<Script>,
    connect_timeout_us: Option<u64>,
    delay_loop_us: Option<u64>,
    retry: Option<u32>,
    delay_before_retry_us: Option<u64>,
    warmup_us: Option<u64>,
    uthreshold: u32,
    lthreshold: u32,
    virtualhost: Option<String>,
    smtp_alert: Option<bool>,
    checkers: Vec<RawChecker>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawVs {
    key: VsKey,
    delay_loop_us: u64,
    sched: Option<String>,
    lb_kind: Option<LbKind>,
    protocol: Option<Protocol>,
    protocol_defaulted: bool,
    persistence_timeout: u32,
    persistence_granularity: Option<Ipv4Addr>,
    sorry: Option<(Ipv4Addr, u16, bool, Option<LbKind>)>,
    quorum: u32,
    hysteresis: u32,
    quorum_up: Option<Script>,
    quorum_down: Option<Script>,
    alpha: bool,
    omega: bool,
    inhibit: bool,
    ha_suspend: bool,
    virtualhost: Option<String>,
    connect_timeout_us: u64,
    retry: Option<u32>,
    delay_before_retry_us: Option<u64>,
    warmup_us: Option<u64>,
    weight: u32,
    ops: bool,
    smtp_alert: Option<bool>,
    rs: Vec<RawRs>,
}

#[derive(Debug, Default)]
pub(crate) struct CheckState {
    pub vs: Vec<RawVs>,
    pub groups: Vec<VirtualServerGroup>,
    /// A checker block is being read for the last real server.
    in_checker: bool,
}

const VS_KW: &[&str] = &[
    "ip_family",
    "retry",
    "delay_before_retry",
    "warmup",
    "connect_timeout",
    "delay_loop",
    "inhibit_on_failure",
    "lb_algo",
    "lvs_sched",
    "hashed",
    "ops",
    "flag-1",
    "flag-2",
    "flag-3",
    "sh-port",
    "sh-fallback",
    "mh-port",
    "mh-fallback",
    "lb_kind",
    "lvs_method",
    "persistence_engine",
    "persistence_timeout",
    "persistence_granularity",
    "protocol",
    "ha_suspend",
    "smtp_alert",
    "virtualhost",
    "snmp_name",
    "alpha",
    "omega",
    "quorum_up",
    "quorum_down",
    "quorum",
    "hysteresis",
    "weight",
    "sorry_server",
    "sorry_server_inhibit",
    "sorry_server_lvs_method",
];
const RS_KW: &[&str] = &[
    "weight",
    "lvs_method",
    "uthreshold",
    "lthreshold",
    "inhibit_on_failure",
    "notify_up",
    "notify_down",
    "alpha",
    "retry",
    "delay_before_retry",
    "warmup",
    "connect_timeout",
    "delay_loop",
    "smtp_alert",
    "virtualhost",
    "snmp_name",
];
const CONN_KW: &[&str] = &["connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "connect_timeout", "fwmark"];
const COMMON_KW: &[&str] = &["retry", "delay_before_retry", "warmup", "delay_loop", "alpha", "log_all_failures"];

fn checker_table(w: &str) -> Option<CheckerTable> {
    Some(match w {
        "TCP_CHECK" => CheckerTable::Tcp,
        "HTTP_GET" => CheckerTable::Http,
        "SSL_GET" => CheckerTable::Ssl,
        "MISC_CHECK" => CheckerTable::Misc,
        "PING_CHECK" => CheckerTable::Ping,
        "UDP_CHECK" => CheckerTable::Udp,
        "SMTP_CHECK" => CheckerTable::Smtp,
        "DNS_CHECK" => CheckerTable::Dns,
        "FILE_CHECK" => CheckerTable::File,
        "BFD_CHECK" => CheckerTable::Bfd,
        _ => return None,
    })
}

pub(crate) fn lookup(table: Table, w: &str) -> Option<Kw> {
    let plain = Some(Kw { sub: None, active: true });
    match table {
        Table::VirtualServer if w == "real_server" => Some(Kw { sub: Some(Table::RealServer), active: true }),
        Table::VirtualServer => VS_KW.contains(&w).then_some(Kw { sub: None, active: true }),
        Table::RealServer => match checker_table(w) {
            Some(t) => Some(Kw { sub: Some(Table::Checker(t)), active: true }),
            None => RS_KW.contains(&w).then_some(Kw { sub: None, active: true }),
        },
        Table::Checker(t) => {
            let specific: &[&str] = match t {
                CheckerTable::Http | CheckerTable::Ssl => {
                    if w == "url" {
                        return Some(Kw { sub: Some(Table::Url), active: true });
                    }
                    &["nb_get_retry", "virtualhost", "http_protocol", "enable_sni", "fast_recovery"]
                }
                CheckerTable::Misc => &["misc_path", "misc_timeout", "misc_dynamic", "user"],
                CheckerTable::Udp => &["payload", "require_reply", "min_reply_length", "max_reply_length"],
                CheckerTable::Dns => &["type", "name"],
                CheckerTable::Smtp => {
                    if w == "host" {
                        return Some(Kw { sub: Some(Table::SmtpHost), active: true });
                    }
                    &["helo_name"]
                }
                CheckerTable::File => &["track_file", "dynamic", "weight"],
                CheckerTable::Bfd => &["name"],
                CheckerTable::Tcp | CheckerTable::Ping => &[],
            };
            let conn = !matches!(t, CheckerTable::Misc | CheckerTable::File | CheckerTable::Bfd);
            (specific.contains(&w) || COMMON_KW.contains(&w) || (conn && CONN_KW.contains(&w)))
                .then_some(Kw { sub: None, active: true })
        }
        Table::Url => [
            "path",
            "digest",
            "status_code",
            "virtualhost",
            "regex",
            "regex_no_match",
            "regex_options",
            "regex_min_offset",
            "regex_max_offset",
            "regex_stack",
        ]
        .contains(&w)
        .then_some(Kw { sub: None, active: true }),
        Table::SmtpHost => CONN_KW.contains(&w).then_some(Kw { sub: None, active: true }).or(plain.filter(|_| false)),
        _ => None,
    }
}

/// `format_vs`: `[IP]:proto:port`, `FWM n` or `[GROUP]:0`.
fn fmt_vs(vs: &RawVs) -> String {
    match &vs.key {
        VsKey::Addr { ip, port } => format!("[{ip}]:{}:{port}", proto_str(vs.protocol)),
        VsKey::Fwmark(m) => format!("FWM {m}"),
        VsKey::Group(g) => format!("[{g}]:0"),
    }
}

fn proto_str(p: Option<Protocol>) -> &'static str {
    match p {
        Some(Protocol::Tcp) => "tcp",
        Some(Protocol::Udp) => "udp",
        Some(Protocol::Sctp) => "sctp",
        None => "none",
    }
}

fn fmt_rs(rs: &RawRs, vs: &RawVs) -> String {
    format!("[{}]:{}:{}", rs.addr, proto_str(vs.protocol), rs.port)
}

impl Parser<'_> {
    pub(crate) fn check_root(&mut self, v: &[String]) -> Res {
        if v[0] == "virtual_server_group" {
            let name = self.arg(v, 1)?.to_string();
            let mut entries = Vec::new();
            let mut block = vec![v[0].clone()];
            block.extend(v.iter().skip(2).cloned());
            self.value_block(&block, &mut |p, line| {
                if line[0] == "fwmark" {
                    if let Some(m) = line.get(1).and_then(|m| p.read_unsigned(m, 0, u64::from(u32::MAX), false)) {
                        entries.push(VsgEntry::Fwmark(m as u32));
                    }
                    return Ok(());
                }
                let (first_s, last_s) = match line[0].split_once('-') {
                    Some((a, b)) => (a.to_string(), Some(b.to_string())),
                    None => (line[0].clone(), None),
                };
                let port = line.get(1).and_then(|s| inet_stosockaddr("0.0.0.0", Some(s))).map_or(0, |x| x.1);
                let Some(first) = inet_pton4(&first_s) else {
                    p.err(format!("Invalid virtual server group IP address{} {} - skipping", "", line[0]));
                    return Ok(());
                };
                let last = match last_s {
                    None => first,
                    Some(l) => match (inet_pton4(&l), l.parse::<u8>()) {
                        (Some(a), _) => a,
                        (None, Ok(o)) => {
                            let mut b = first.octets();
                            b[3] = o;
                            Ipv4Addr::from(b)
                        }
                        _ => {
                            p.err(format!("Invalid virtual server group IP address range {} - skipping", line[0]));
                            return Ok(());
                        }
                    },
                };
                entries.push(VsgEntry::Range { first, last, port });
                Ok(())
            })?;
            if entries.is_empty() {
                self.err(format!("virtual server group {name} has no entries - removing"));
            } else {
                self.check.groups.push(VirtualServerGroup { name, entries });
            }
            return Ok(());
        }
        let p1 = self.arg(v, 1)?.to_string();
        let p2 = v.get(2).cloned();
        let key = if p1 == "group" {
            VsKey::Group(p2.unwrap_or_default())
        } else if p1 == "fwmark" {
            let s = p2.unwrap_or_default();
            match self.read_unsigned(&s, 0, u64::from(u32::MAX), true) {
                Some(m) => VsKey::Fwmark(m as u32),
                None => {
                    self.err(format!("virtual server fwmark '{s}' must be in [0, {}] - ignoring", u32::MAX));
                    self.skip_block(true);
                    return Ok(());
                }
            }
        } else {
            let port_str = p2.filter(|p| !p.trim_start_matches('0').is_empty());
            match inet_stosockaddr(&p1, port_str.as_deref()) {
                Some((ip, port)) => VsKey::Addr { ip, port },
                None => {
                    let (a, b) = match &port_str {
                        Some(p) => ("/port", format!("/{p}")),
                        None => ("", String::new()),
                    };
                    self.err(format!("Invalid virtual server IP address{a} {p1}{b} - skipping"));
                    self.skip_block(true);
                    return Ok(());
                }
            }
        };
        self.check.vs.push(RawVs {
            key,
            delay_loop_us: 60 * TIMER_HZ,
            sched: None,
            lb_kind: None,
            protocol: None,
            protocol_defaulted: false,
            persistence_timeout: 0,
            persistence_granularity: None,
            sorry: None,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            alpha: false,
            omega: false,
            inhibit: false,
            ha_suspend: false,
            virtualhost: None,
            connect_timeout_us: 5 * TIMER_HZ,
            retry: None,
            delay_before_retry_us: None,
            warmup_us: None,
            weight: 1,
            ops: false,
            smtp_alert: None,
            rs: Vec::new(),
        });
        Ok(())
    }

    fn lb_kind(&mut self, v: &[String], s_type: &str) -> Res<Option<LbKind>> {
        let s = self.arg(v, 1)?;
        Ok(match s {
            "NAT" => Some(LbKind::Nat),
            "DR" => Some(LbKind::Dr),
            "TUN" => Some(LbKind::Tun),
            _ => {
                self.err(format!("PARSER : unknown [{s}] routing method for {s_type} server."));
                None
            }
        })
    }

    fn bool_opt(&mut self, v: &[String], what: &str) -> Option<bool> {
        match v.get(1) {
            None => Some(true),
            Some(s) => {
                let r = check_true_false(s);
                if r.is_none() {
                    self.err(format!("Invalid {what} parameter {s}"));
                }
                r
            }
        }
    }

    pub(crate) fn check_handler(&mut self, table: Table, v: &[String]) -> Res {
        if self.check.vs.is_empty() {
            return Ok(());
        }
        match table {
            Table::VirtualServer => self.vs_kw(v),
            Table::RealServer => self.rs_kw(v),
            Table::Checker(t) => self.checker_kw(t, v),
            Table::Url => self.url_kw(v),
            _ => Ok(()),
        }
    }

    fn vs(&mut self) -> &mut RawVs {
        let n = self.check.vs.len() - 1;
        &mut self.check.vs[n]
    }

    fn vs_kw(&mut self, v: &[String]) -> Res {
        match v[0].as_str() {
            "real_server" => {
                let ip = self.arg(v, 1)?.to_string();
                let port = v.get(2).cloned().filter(|p| !p.trim_start_matches('0').is_empty());
                match inet_stosockaddr(&ip, port.as_deref()) {
                    Some((addr, port)) => {
                        self.vs().rs.push(RawRs {
                            addr,
                            port,
                            weight: None,
                            lb_kind: None,
                            inhibit: None,
                            alpha: None,
                            notify_up: None,
                            notify_down: None,
                            connect_timeout_us: None,
                            delay_loop_us: None,
                            retry: None,
                            delay_before_retry_us: None,
                            warmup_us: None,
                            uthreshold: 0,
                            lthreshold: 0,
                            virtualhost: None,
                            smtp_alert: None,
                            checkers: Vec::new(),
                        });
                    }
                    None => {
                        let p = v.get(2).map_or("(null)", String::as_str);
                        self.err(format!("Invalid real server ip address/port {ip}/{p} - skipping"));
                        self.skip_block(true);
                    }
                }
            }
            "delay_loop" => {
                let s = self.arg(v, 1)?;
                match self.read_timer(s, 1, 0, true) {
                    Some(us) => self.vs().delay_loop_us = us,
                    None => self.err(format!("virtual server delay loop '{s}' invalid - ignoring")),
                }
            }
            "connect_timeout" => {
                let s = self.arg(v, 1)?;
                match self.read_timer(s, 1, u64::from(u32::MAX), true) {
                    Some(us) => self.vs().connect_timeout_us = us,
                    None => self.err(format!("virtual server connect_timeout {s} invalid - ignoring")),
                }
            }
            "delay_before_retry" | "warmup" => {
                let s = self.arg(v, 1)?;
                let what = if v[0] == "warmup" { "warmup" } else { "delay before retry" };
                match self.read_timer(s, 0, 0, true) {
                    Some(us) if v[0] == "warmup" => self.vs().warmup_us = Some(us),
                    Some(us) => self.vs().delay_before_retry_us = Some(us),
                    None => self.err(format!("virtual server {what} '{s}' invalid - ignoring")),
                }
            }
            "retry" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 1, u64::from(u32::MAX), false) {
                    Some(n) => self.vs().retry = Some(n as u32),
                    None => self.err(format!("retry value invalid - {s}")),
                }
            }
            "lb_algo" | "lvs_sched" => {
                let s = self.arg(v, 1)?.to_string();
                if LVS_SCHEDULERS.contains(&s.as_str()) {
                    self.vs().sched = Some(s);
                } else {
                    self.err(format!("Invalid lvs_scheduler '{s}' - ignoring"));
                }
            }
            "lb_kind" | "lvs_method" => {
                if let Some(k) = self.lb_kind(v, "virtual")? {
                    self.vs().lb_kind = Some(k);
                }
            }
            "protocol" => {
                let s = self.arg(v, 1)?;
                match s.to_ascii_uppercase().as_str() {
                    "TCP" => self.vs().protocol = Some(Protocol::Tcp),
                    "UDP" => self.vs().protocol = Some(Protocol::Udp),
                    "SCTP" => self.vs().protocol = Some(Protocol::Sctp),
                    _ => self.err(format!("Unknown protocol {s} - ignoring")),
                }
            }
            "persistence_timeout" => {
                if v.len() < 2 {
                    self.vs().persistence_timeout = 360;
                } else {
                    match self.read_unsigned(&v[1], 1, 86400 * 31, false) {
                        Some(n) => self.vs().persistence_timeout = n as u32,
                        None => self.err("persistence_timeout invalid"),
                    }
                }
            }
            "persistence_granularity" => {
                let s = self.arg(v, 1)?;
                match inet_pton4(s) {
                    Some(m) => {
                        self.vs().persistence_granularity = Some(m);
                        if self.vs().persistence_timeout == 0 {
                            self.vs().persistence_timeout = 360;
                        }
                    }
                    None => self.err(format!("Invalid IPv4 persistence_granularity specified - {s}")),
                }
            }
            "quorum" => {
                let s = self.arg(v, 1)?;
                let q = self.read_unsigned(s, 1, u64::from(u32::MAX), true);
                if q.is_none() {
                    self.err(format!("Quorum {s} must be in [1, {}]. Setting to 1.", u32::MAX));
                }
                self.vs().quorum = q.unwrap_or(1) as u32;
            }
            "hysteresis" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, u64::from(u32::MAX), true) {
                    Some(h) => self.vs().hysteresis = h as u32,
                    None => self.err(format!("Hysteresis {s} must be in [0, {}] - ignoring", u32::MAX)),
                }
            }
            "weight" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 1, 65535, true) {
                    Some(w) => self.vs().weight = w as u32,
                    None => self.err(format!("Virtual server weight {s} is outside range 1-65535")),
                }
            }
            "quorum_up" | "quorum_down" => {
                let sc = parse_script(&self.raw);
                if v[0] == "quorum_up" {
                    self.vs().quorum_up = sc;
                } else {
                    self.vs().quorum_down = sc;
                }
            }
            "alpha" => self.vs().alpha = true,
            "omega" => self.vs().omega = true,
            "inhibit_on_failure" => self.vs().inhibit = true,
            "ha_suspend" => self.vs().ha_suspend = true,
            "ops" => self.vs().ops = true,
            "virtualhost" => {
                if v.len() < 2 {
                    self.err("virtual server virtualhost missing");
                } else {
                    self.vs().virtualhost = Some(v[1].clone());
                }
            }
            "smtp_alert" => {
                if let Some(b) = self.bool_opt(v, "virtual_server smtp_alert") {
                    self.vs().smtp_alert = Some(b);
                }
            }
            "sorry_server" => {
                let ip = self.arg(v, 1)?.to_string();
                let port = v.get(2).cloned().filter(|p| !p.trim_start_matches('0').is_empty());
                match inet_stosockaddr(&ip, port.as_deref()) {
                    Some((a, p)) => self.vs().sorry = Some((a, p, false, None)),
                    None => self.err(format!("Invalid sorry server IP address {ip} - skipping")),
                }
            }
            "sorry_server_inhibit" => match self.vs().sorry.as_mut() {
                Some(s) => s.2 = true,
                None => self.err("Ignoring sorry_server inhibit used before or without sorry_server"),
            },
            "sorry_server_lvs_method" => {
                if self.vs().sorry.is_none() {
                    self.err("sorry_server forwarding used without sorry_server");
                } else if let Some(k) = self.lb_kind(v, "sorry")?
                    && let Some(s) = self.vs().sorry.as_mut()
                {
                    s.3 = Some(k);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn rs(&mut self) -> Option<&mut RawRs> {
        self.check.vs.last_mut().and_then(|vs| vs.rs.last_mut())
    }

    fn rs_kw(&mut self, v: &[String]) -> Res {
        if self.rs().is_none() {
            return Ok(());
        }
        if let Some(t) = checker_table(&v[0]) {
            let kind = match t {
                CheckerTable::Tcp => CheckerKind::Tcp,
                CheckerTable::Http | CheckerTable::Ssl => CheckerKind::Http(HttpCheck {
                    ssl: t == CheckerTable::Ssl,
                    urls: Vec::new(),
                    virtualhost: None,
                    http_protocol: "1.0".to_string(),
                    fast_recovery: false,
                }),
                CheckerTable::Misc => CheckerKind::Misc(MiscCheck {
                    script: Script { argv: Vec::new(), user: None, group: None },
                    timeout: None,
                    dynamic: false,
                }),
                CheckerTable::Ping => CheckerKind::Ping,
                CheckerTable::Udp => CheckerKind::Udp(UdpCheck::default()),
                CheckerTable::Smtp => CheckerKind::Smtp { helo_name: None },
                CheckerTable::Dns => CheckerKind::Dns { query_type: "SOA".to_string(), name: ".".to_string() },
                CheckerTable::File => CheckerKind::File,
                CheckerTable::Bfd => CheckerKind::Bfd,
            };
            self.check.in_checker = true;
            if let Some(rs) = self.rs() {
                rs.checkers.push(RawChecker {
                    kind,
                    connect_ip: None,
                    connect_port: None,
                    bindto: None,
                    bind_port: None,
                    bind_if: None,
                    connect_timeout_us: None,
                    retry: None,
                    delay_before_retry_us: None,
                    delay_loop_us: None,
                    warmup_us: None,
                    alpha: None,
                    log_all_failures: false,
                });
            }
            return Ok(());
        }
        let kw = v[0].clone();
        match kw.as_str() {
            "weight" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, 65535, true) {
                    Some(w) => self.rs().into_iter().for_each(|r| r.weight = Some(w as u32)),
                    None => self.err(format!("Real server weight {s} is outside range 0-65535")),
                }
            }
            "lvs_method" => {
                if let Some(k) = self.lb_kind(v, "real")? {
                    self.rs().into_iter().for_each(|r| r.lb_kind = Some(k));
                }
            }
            "inhibit_on_failure" | "alpha" | "smtp_alert" => {
                let what = match kw.as_str() {
                    "inhibit_on_failure" => "inhibit_on_failure",
                    "alpha" => "alpha",
                    _ => "real_server smtp_alert",
                };
                if let Some(b) = self.bool_opt(v, what)
                    && let Some(r) = self.rs()
                {
                    match kw.as_str() {
                        "inhibit_on_failure" => r.inhibit = Some(b),
                        "alpha" => r.alpha = Some(b),
                        _ => r.smtp_alert = Some(b),
                    }
                }
            }
            "notify_up" | "notify_down" => {
                let sc = parse_script(&self.raw);
                if let Some(r) = self.rs() {
                    if kw == "notify_up" {
                        r.notify_up = sc;
                    } else {
                        r.notify_down = sc;
                    }
                }
            }
            "connect_timeout" => {
                let s = self.arg(v, 1)?;
                match self.read_timer(s, 1, u64::from(u32::MAX), true) {
                    Some(us) => self.rs().into_iter().for_each(|r| r.connect_timeout_us = Some(us)),
                    None => self.err(format!("real server connect_timeout {s} invalid - ignoring")),
                }
            }
            "delay_loop" | "delay_before_retry" | "warmup" => {
                let s = self.arg(v, 1)?;
                let min = if kw == "delay_loop" { 1 } else { 0 };
                match self.read_timer(s, min, 0, true) {
                    Some(us) => {
                        if let Some(r) = self.rs() {
                            match kw.as_str() {
                                "delay_loop" => r.delay_loop_us = Some(us),
                                "warmup" => r.warmup_us = Some(us),
                                _ => r.delay_before_retry_us = Some(us),
                            }
                        }
                    }
                    None => self.err(format!("real server {kw} '{s}' invalid - ignoring")),
                }
            }
            "retry" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 1, u64::from(u32::MAX), false) {
                    Some(n) => self.rs().into_iter().for_each(|r| r.retry = Some(n as u32)),
                    None => self.err(format!("retry value invalid - {s}")),
                }
            }
            "uthreshold" | "lthreshold" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, u64::from(u32::MAX), true) {
                    Some(n) => {
                        if let Some(r) = self.rs() {
                            if kw == "uthreshold" {
                                r.uthreshold = n as u32;
                            } else {
                                r.lthreshold = n as u32;
                            }
                        }
                    }
                    None => self.err(format!("Invalid real_server {kw} '{s}' - ignoring")),
                }
            }
            "virtualhost" => {
                if v.len() < 2 {
                    self.err("real server virtualhost missing");
                } else {
                    let h = v[1].clone();
                    self.rs().into_iter().for_each(|r| r.virtualhost = Some(h.clone()));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn checker(&mut self) -> Option<&mut RawChecker> {
        if !self.check.in_checker {
            return None;
        }
        self.rs().and_then(|r| r.checkers.last_mut())
    }

    fn checker_kw(&mut self, t: CheckerTable, v: &[String]) -> Res {
        if self.checker().is_none() {
            return Ok(());
        }
        let kw = v[0].clone();
        match kw.as_str() {
            "connect_ip" | "bindto" => {
                let s = self.arg(v, 1)?;
                match inet_pton4(s) {
                    Some(a) => {
                        if let Some(c) = self.checker() {
                            if kw == "connect_ip" {
                                c.connect_ip = Some(a);
                            } else {
                                c.bindto = Some(a);
                            }
                        }
                    }
                    None => self.err(format!("Invalid {kw} address {s} - ignoring")),
                }
            }
            "connect_port" | "bind_port" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 1, 65535, true) {
                    Some(n) => {
                        if let Some(c) = self.checker() {
                            if kw == "connect_port" {
                                c.connect_port = Some(n as u16);
                            } else {
                                c.bind_port = Some(n as u16);
                            }
                        }
                    }
                    None => self.err(format!("Invalid checker {kw} '{s}'")),
                }
            }
            "bind_if" => {
                let s = self.arg(v, 1)?.to_string();
                if s.len() > 15 {
                    self.err(format!("Interface name {s} is too long - ignoring"));
                } else if let Some(c) = self.checker() {
                    c.bind_if = Some(s);
                }
            }
            "connect_timeout" => {
                let s = self.arg(v, 1)?;
                match self.read_timer(s, 1, u64::from(u32::MAX), true) {
                    Some(us) => self.checker().into_iter().for_each(|c| c.connect_timeout_us = Some(us)),
                    None => self.err(format!("connect_timeout {s} invalid - ignoring")),
                }
            }
            "retry" | "nb_get_retry" => {
                if kw == "nb_get_retry" {
                    self.err("nb_get_retry is deprecated - please use 'retry'");
                }
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, u64::from(u32::MAX), true) {
                    Some(n) => self.checker().into_iter().for_each(|c| c.retry = Some(n as u32)),
                    None if kw == "retry" => self.err(format!("Invalid retry connection value '{s}'")),
                    None => self.err(format!("Invalid nb_get_retry value '{s}'")),
                }
            }
            "delay_before_retry" | "warmup" => {
                let s = self.arg(v, 1)?;
                match self.read_timer(s, 0, 0, true) {
                    Some(us) => {
                        if let Some(c) = self.checker() {
                            if kw == "warmup" {
                                c.warmup_us = Some(us);
                            } else {
                                c.delay_before_retry_us = Some(us);
                            }
                        }
                    }
                    None => self.err(format!("Invalid {kw} connection value '{s}'")),
                }
            }
            "delay_loop" => {
                let s = self.arg(v, 1)?;
                match self.read_timer(s, 1, 0, true) {
                    Some(us) => self.checker().into_iter().for_each(|c| c.delay_loop_us = Some(us)),
                    None => self.err(format!("delay_loop '{s}' is invalid - ignoring")),
                }
            }
            "alpha" | "log_all_failures" => {
                if let Some(b) = self.bool_opt(v, &kw)
                    && let Some(c) = self.checker()
                {
                    if kw == "alpha" {
                        c.alpha = Some(b);
                    } else {
                        c.log_all_failures = b;
                    }
                }
            }
            "virtualhost" => {
                if v.len() < 2 {
                    self.err("HTTP_GET virtualhost name missing");
                } else if let Some(c) = self.checker()
                    && let CheckerKind::Http(h) = &mut c.kind
                {
                    h.virtualhost = Some(v[1].clone());
                }
            }
            "http_protocol" => {
                let Some(s) = v.get(1).cloned() else {
                    self.err("Missing http_protocol version");
                    return Ok(());
                };
                let norm = match s.as_str() {
                    "1.0" | "1.1" => s.clone(),
                    "1.0C" | "1.0c" => "1.0C".to_string(),
                    _ => {
                        self.err(format!("Invalid http_protocol version {s}"));
                        return Ok(());
                    }
                };
                if let Some(c) = self.checker()
                    && let CheckerKind::Http(h) = &mut c.kind
                {
                    h.http_protocol = norm;
                }
            }
            "fast_recovery" => {
                if let Some(b) = self.bool_opt(v, "fast_recovery")
                    && let Some(c) = self.checker()
                    && let CheckerKind::Http(h) = &mut c.kind
                {
                    h.fast_recovery = b;
                }
            }
            "url" => {
                if let Some(c) = self.checker()
                    && let CheckerKind::Http(h) = &mut c.kind
                {
                    h.urls.push(Url { path: String::new(), digest: None, status_codes: Vec::new(), virtualhost: None });
                }
            }
            "misc_path" => {
                let sc = parse_script(&self.raw);
                if let Some(c) = self.checker()
                    && let CheckerKind::Misc(m) = &mut c.kind
                    && let Some(sc) = sc
                {
                    m.script.argv = sc.argv;
                }
            }
            "misc_timeout" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, u64::from(u32::MAX) / TIMER_HZ, true) {
                    Some(n) => {
                        if let Some(c) = self.checker()
                            && let CheckerKind::Misc(m) = &mut c.kind
                        {
                            m.timeout = Some(Duration::from_secs(n));
                        }
                    }
                    None => self.err(format!("Invalid misc_timeout value '{s}'")),
                }
            }
            "misc_dynamic" => {
                if let Some(c) = self.checker()
                    && let CheckerKind::Misc(m) = &mut c.kind
                {
                    m.dynamic = true;
                }
            }
            "user" if t == CheckerTable::Misc => {
                let user = v.get(1).cloned();
                let group = v.get(2).cloned();
                if let Some(c) = self.checker()
                    && let CheckerKind::Misc(m) = &mut c.kind
                {
                    m.script.user = user;
                    m.script.group = group;
                }
            }
            // `payload_handler`, `require_reply_handler`: the rest of the line is the hex string.
            "payload" | "require_reply" => {
                if kw == "payload" && v.len() == 1 {
                    self.err("UDP_CHECK payload requires a payload");
                    return Ok(());
                }
                let val = v[1..].join(" ");
                if let Some(c) = self.checker()
                    && let CheckerKind::Udp(u) = &mut c.kind
                {
                    if kw == "payload" {
                        u.payload = Some(val);
                    } else {
                        u.require_reply = Some(val);
                    }
                }
            }
            // `min_length_handler`, `max_length_handler`.
            "min_reply_length" | "max_reply_length" => {
                let s = self.arg(v, 1)?.to_string();
                let which = if kw == "min_reply_length" { "min" } else { "max" };
                match self.read_unsigned(&s, 0, 65535, false) {
                    Some(n) => {
                        if let Some(c) = self.checker()
                            && let CheckerKind::Udp(u) = &mut c.kind
                        {
                            if kw == "min_reply_length" {
                                u.min_reply_length = n as u16;
                            } else {
                                u.max_reply_length = n as u16;
                            }
                        }
                    }
                    None => self.err(format!("UDP_CHECK {which} length {s} not valid - must be between 0 & 65535")),
                }
            }
            "helo_name" => {
                let h = self.arg(v, 1)?.to_string();
                if let Some(c) = self.checker() {
                    c.kind = CheckerKind::Smtp { helo_name: Some(h) };
                }
            }
            "type" | "name" if t == CheckerTable::Dns => {
                let val = self.arg(v, 1)?.to_string();
                if let Some(c) = self.checker()
                    && let CheckerKind::Dns { query_type, name } = &mut c.kind
                {
                    if kw == "type" {
                        *query_type = val;
                    } else {
                        *name = val;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn url(&mut self) -> Option<&mut Url> {
        match &mut self.checker()?.kind {
            CheckerKind::Http(h) => h.urls.last_mut(),
            _ => None,
        }
    }

    fn url_kw(&mut self, v: &[String]) -> Res {
        if self.url().is_none() {
            return Ok(());
        }
        match v[0].as_str() {
            "path" => {
                let p = self.arg(v, 1)?.to_string();
                self.url().into_iter().for_each(|u| u.path = p.clone());
            }
            "digest" => {
                let d = self.arg(v, 1)?.to_string();
                if self.url().is_some_and(|u| u.digest.is_some()) {
                    self.err(format!("Digest '{d}' is a duplicate"));
                } else if d.len() != 32 {
                    self.err(format!("digest '{d}' character length should be 32 rather than {}", d.len()));
                } else {
                    // Bytes, not chars: a 32-byte digest may hold multi-byte UTF-8.
                    let bytes = d.as_bytes();
                    let mut out = [0u8; 16];
                    for i in (0..16).rev() {
                        let pair = std::str::from_utf8(&bytes[2 * i..2 * i + 2]).ok();
                        match pair.map(|p| u8::from_str_radix(p, 16)) {
                            Some(Ok(b)) if bytes[2 * i].is_ascii_hexdigit() => out[i] = b,
                            _ => {
                                let prefix = String::from_utf8_lossy(&bytes[..2 * i + 2]);
                                self.err(format!(
                                    "Unable to interpret hex digit in '{prefix}' at offset {}/{}",
                                    2 * i,
                                    2 * i + 1
                                ));
                                return Ok(());
                            }
                        }
                    }
                    self.url().into_iter().for_each(|u| u.digest = Some(out));
                }
            }
            "status_code" => {
                for s in &v[1..] {
                    let (min, rest, _) = super::parser::strtoul(s);
                    let (max, rest) = match rest.strip_prefix('-') {
                        Some(r) => {
                            let (m, r2, _) = super::parser::strtoul(r);
                            (m, r2)
                        }
                        None => (min, rest),
                    };
                    if !rest.is_empty() || !(100..=599).contains(&min) || !(100..=599).contains(&max) || min > max {
                        self.err(format!("Invalid HTTP_GET status code '{s}'"));
                        continue;
                    }
                    self.url().into_iter().for_each(|u| u.status_codes.push((min as u16, max as u16)));
                }
            }
            "virtualhost" => {
                if v.len() < 2 {
                    self.err("Missing HTTP_GET virtualhost name");
                } else {
                    let h = v[1].clone();
                    self.url().into_iter().for_each(|u| u.virtualhost = Some(h.clone()));
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn check_close(&mut self, table: Table) {
        match table {
            Table::Url => {
                let Some(c) = self.checker() else { return };
                let CheckerKind::Http(h) = &mut c.kind else { return };
                let no_path = h.urls.last().is_some_and(|u| u.path.is_empty());
                if no_path {
                    h.urls.pop();
                    self.err("HTTP/SSL_GET checker url has no path - ignoring");
                } else if let Some(u) = h.urls.last_mut()
                    && u.status_codes.is_empty()
                {
                    u.status_codes.push((200, 299));
                }
            }
            Table::Checker(t) => {
                let drop = match self.checker().map(|c| &c.kind) {
                    Some(CheckerKind::Http(h)) if h.urls.is_empty() => {
                        Some("HTTP/SSL_GET checker has no urls specified - ignoring")
                    }
                    Some(CheckerKind::Misc(m)) if m.script.argv.is_empty() && t == CheckerTable::Misc => {
                        Some("No script path has been specified for MISC_CHECKER - skipping")
                    }
                    _ => None,
                };
                // `udp_check_end_handler`.
                if let Some(CheckerKind::Udp(u)) = self.checker().map(|c| &c.kind)
                    && u.min_reply_length > u.max_reply_length
                {
                    let (min, max) = (u.min_reply_length, u.max_reply_length);
                    self.err(format!("UDP_CHECK min_reply length {min} > max_reply_length {max} - will always fail"));
                }
                if let Some(msg) = drop {
                    self.err(msg);
                    if let Some(r) = self.rs() {
                        r.checkers.pop();
                    }
                }
                self.check.in_checker = false;
            }
            _ => {}
        }
    }
}

/// `link_vsg_to_vs` + `validate_check_config`.
pub(crate) fn complete(p: &mut Parser<'_>) -> (Vec<VirtualServerGroup>, Vec<VirtualServer>) {
    let groups = std::mem::take(&mut p.check.groups);
    let mut out = Vec::new();
    for mut vs in std::mem::take(&mut p.check.vs) {
        if let VsKey::Group(g) = &vs.key
            && !groups.iter().any(|x| &x.name == g)
        {
            p.err(format!(
                "Virtual server group {g} specified but not configured - ignoring virtual server {}",
                fmt_vs(&vs)
            ));
            continue;
        }
        if vs.rs.is_empty() {
            p.err(format!("Virtual server {} has no real servers - ignoring", fmt_vs(&vs)));
            continue;
        }
        let fwmark_only = match &vs.key {
            VsKey::Fwmark(_) => true,
            VsKey::Group(g) => groups
                .iter()
                .find(|x| &x.name == g)
                .is_some_and(|x| x.entries.iter().all(|e| matches!(e, VsgEntry::Fwmark(_)))),
            VsKey::Addr { .. } => false,
        };
        if vs.ha_suspend && matches!(vs.key, VsKey::Fwmark(_)) {
            p.err(format!("Virtual server {}: cannot use ha_suspend with fwmarks - clearing ha_suspend", fmt_vs(&vs)));
            vs.ha_suspend = false;
        }
        if !fwmark_only {
            if vs.protocol.is_none() {
                p.err(format!("Virtual server {}: no protocol set - defaulting to UDP", fmt_vs(&vs)));
                vs.protocol = Some(Protocol::Udp);
                vs.protocol_defaulted = true;
            }
            if vs.ops && vs.protocol != Some(Protocol::Udp) {
                p.err(format!("Virtual server {}: one packet scheduling requires UDP - resetting", fmt_vs(&vs)));
                vs.ops = false;
            }
            if vs.persistence_timeout == 0 && matches!(vs.key, VsKey::Addr { port: 0, .. }) {
                p.err(format!(
                    "Virtual server {}: zero port only valid for persistent services - setting",
                    fmt_vs(&vs)
                ));
                vs.persistence_timeout = 360;
            }
        } else if vs.protocol.is_some() {
            p.err(format!(
                "Warning: Virtual server {}: protocol specified for fwmark - protocol will be ignored",
                fmt_vs(&vs)
            ));
            vs.protocol = None;
        }
        let sched = match vs.sched.clone() {
            Some(s) => s,
            None => {
                p.err(format!("Virtual server {}: no scheduler set, setting default 'wlc'", fmt_vs(&vs)));
                "wlc".to_string()
            }
        };
        let mut rss: Vec<RawRs> = Vec::new();
        let mut weight_sum: u64 = 0;
        for rs in std::mem::take(&mut vs.rs) {
            if rss.iter().any(|r| r.addr == rs.addr && r.port == rs.port) {
                p.err(format!(
                    "VS {}: real server {} is duplicated - removing second rs",
                    fmt_vs(&vs),
                    fmt_rs(&rs, &vs)
                ));
                continue;
            }
            let mut rs = rs;
            if rs.lb_kind.is_none() {
                if vs.lb_kind.is_none() {
                    p.err(format!("Virtual server {}: no forwarding method set, setting default NAT", fmt_vs(&vs)));
                    vs.lb_kind = Some(LbKind::Nat);
                }
                rs.lb_kind = vs.lb_kind;
            }
            weight_sum += u64::from(rs.weight.unwrap_or(vs.weight));
            rss.push(rs);
        }
        if vs.sorry.as_ref().is_some_and(|s| s.3.is_none()) {
            if vs.lb_kind.is_none() {
                p.err(format!("Virtual server {}: no forwarding method set, setting default NAT", fmt_vs(&vs)));
                vs.lb_kind = Some(LbKind::Nat);
            }
            let k = vs.lb_kind;
            if let Some(s) = vs.sorry.as_mut() {
                s.3 = k;
            }
        }
        if u64::from(vs.quorum) > weight_sum {
            p.err(format!(
                "Warning - quorum {} for {} exceeds total weight of real servers {weight_sum}, reducing quorum to {weight_sum}",
                vs.quorum,
                fmt_vs(&vs)
            ));
            vs.quorum = weight_sum as u32;
        }
        if vs.hysteresis >= vs.quorum {
            let h = vs.quorum.saturating_sub(1);
            p.err(format!(
                "Virtual server {}: hysteresis {} >= quorum {}; setting hysteresis to {}",
                fmt_vs(&vs),
                vs.hysteresis,
                vs.quorum,
                vs.quorum as i64 - 1
            ));
            vs.hysteresis = h;
        }
        if let VsKey::Addr { port: vport, .. } = vs.key {
            for rs in rss.iter_mut() {
                if rs.lb_kind == Some(LbKind::Nat) {
                    if rs.port == 0 {
                        rs.port = vport;
                    }
                } else if rs.port == 0 {
                    rs.port = vport;
                } else if rs.port != vport {
                    p.err(format!(
                        "WARNING - virtual server {} and real server {} ports don't match - resetting",
                        fmt_vs(&vs),
                        fmt_rs(rs, &vs)
                    ));
                    rs.port = vport;
                }
            }
        } else if matches!(vs.key, VsKey::Fwmark(_)) {
            for rs in rss.iter_mut() {
                if rs.lb_kind != Some(LbKind::Nat) && rs.port != 0 {
                    p.err(format!(
                        "WARNING - fwmark virtual server {}, real server {} has port specified - clearing",
                        fmt_vs(&vs),
                        fmt_rs(rs, &vs)
                    ));
                    rs.port = 0;
                }
            }
        }
        let lb_kind = vs.lb_kind.unwrap_or(LbKind::Nat);
        let real_servers = rss.into_iter().map(|rs| finish_rs(&vs, rs)).collect();
        let vport = match vs.key {
            VsKey::Addr { port, .. } => port,
            _ => 0,
        };
        out.push(VirtualServer {
            key: vs.key.clone(),
            delay_loop: Duration::from_micros(vs.delay_loop_us),
            lb_algo: sched,
            lb_kind,
            protocol: vs.protocol,
            protocol_defaulted: vs.protocol_defaulted,
            persistence_timeout: vs.persistence_timeout,
            persistence_granularity: vs.persistence_granularity,
            sorry_server: vs.sorry.map(|(addr, port, inhibit, k)| SorryServer {
                addr,
                port: if port == 0 { vport } else { port },
                inhibit,
                lb_kind: k.unwrap_or(lb_kind),
            }),
            quorum: vs.quorum,
            hysteresis: vs.hysteresis,
            quorum_up: vs.quorum_up.clone(),
            quorum_down: vs.quorum_down.clone(),
            alpha: vs.alpha,
            omega: vs.omega,
            inhibit_on_failure: vs.inhibit,
            ha_suspend: vs.ha_suspend,
            virtualhost: vs.virtualhost.clone(),
            connect_timeout: Duration::from_micros(vs.connect_timeout_us),
            retry: vs.retry,
            delay_before_retry: vs.delay_before_retry_us.map(Duration::from_micros),
            warmup: vs.warmup_us.map(Duration::from_micros),
            ops: vs.ops,
            smtp_alert: vs.smtp_alert.unwrap_or(false),
            real_servers,
        });
    }
    (groups, out)
}

/// Real-server inheritance and the checkers' effective values (`validate_check_config`).
fn finish_rs(vs: &RawVs, rs: RawRs) -> RealServer {
    let retry = rs.retry.or(vs.retry);
    let connect_to = rs.connect_timeout_us.unwrap_or(vs.connect_timeout_us);
    let delay_loop = rs.delay_loop_us.unwrap_or(vs.delay_loop_us);
    let warmup = rs.warmup_us.or(vs.warmup_us);
    let dbr = rs.delay_before_retry_us.or(vs.delay_before_retry_us);
    let alpha = rs.alpha.unwrap_or(vs.alpha);
    let checkers = rs
        .checkers
        .iter()
        .map(|c| {
            let (default_retry, default_dbr) = match c.kind {
                CheckerKind::Http(_) => (1, Some(3 * TIMER_HZ)),
                CheckerKind::Misc(_) => (0, Some(TIMER_HZ)),
                CheckerKind::Dns { .. } => (3, None),
                _ => (1, Some(TIMER_HZ)),
            };
            let cl = c.delay_loop_us.unwrap_or(delay_loop);
            Checker {
                kind: c.kind.clone(),
                connect_ip: c.connect_ip,
                connect_port: c.connect_port,
                bindto: c.bindto,
                bind_port: c.bind_port,
                bind_if: c.bind_if.clone(),
                connect_timeout: Duration::from_micros(c.connect_timeout_us.unwrap_or(connect_to)),
                retry: c.retry.or(retry).unwrap_or(default_retry),
                delay_before_retry: Duration::from_micros(
                    c.delay_before_retry_us.or(dbr).or(default_dbr).unwrap_or(cl),
                ),
                delay_loop: Duration::from_micros(cl),
                warmup: Duration::from_micros(c.warmup_us.or(warmup).unwrap_or(cl)),
                alpha: c.alpha.unwrap_or(alpha),
                log_all_failures: c.log_all_failures,
            }
        })
        .collect();
    RealServer {
        addr: rs.addr,
        port: rs.port,
        weight: rs.weight.unwrap_or(vs.weight),
        lb_kind: rs.lb_kind.unwrap_or(LbKind::Nat),
        inhibit_on_failure: rs.inhibit.unwrap_or(vs.inhibit),
        alpha,
        notify_up: rs.notify_up,
        notify_down: rs.notify_down,
        connect_timeout: Duration::from_micros(connect_to),
        delay_loop: Duration::from_micros(delay_loop),
        retry,
        delay_before_retry: dbr.map(Duration::from_micros),
        warmup: warmup.map(Duration::from_micros),
        uthreshold: rs.uthreshold,
        lthreshold: rs.lthreshold,
        virtualhost: rs.virtualhost,
        smtp_alert: rs.smtp_alert.unwrap_or(true),
        checkers,
    }
}
