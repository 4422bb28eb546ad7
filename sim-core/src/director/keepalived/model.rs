//! The typed configuration, after keepalived's defaults, clamps and config-time
//! normalisations (`vrrp_complete_instance`, `validate_check_config`). IPv4 only.

use std::net::Ipv4Addr;
use std::time::Duration;

/// The whole file as the three keepalived processes understand it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeepalivedConfig {
    pub global: GlobalDefs,
    pub vrrp_scripts: Vec<VrrpScript>,
    pub sync_groups: Vec<SyncGroup>,
    pub instances: Vec<VrrpInstance>,
    pub vs_groups: Vec<VirtualServerGroup>,
    pub virtual_servers: Vec<VirtualServer>,
}

impl KeepalivedConfig {
    pub fn instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.instances.iter().find(|i| i.name == name)
    }
}

/// A command and the user it runs as (`notify_script_init`, `set_script_params_array`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub argv: Vec<String>,
    pub user: Option<String>,
    pub group: Option<String>,
}

/// `global_defs` (`keepalived/core/global_parser.c`, defaults `global_data.c`).
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<String>,
    pub smtp_connect_timeout: Option<String>,
    pub enable_script_security: bool,
    pub script_user: Option<(String, Option<String>)>,
    pub vrrp_version: u8,
    pub vrrp_strict: bool,
    pub vrrp_mcast_group4: Ipv4Addr,
    pub vrrp_garp_master_delay: Duration,
    pub vrrp_garp_master_repeat: u32,
    pub vrrp_garp_master_refresh: Duration,
    pub vrrp_garp_master_refresh_repeat: u32,
    /// Unset means "same as the master values" (`vrrp_complete_init`).
    pub vrrp_garp_lower_prio_delay: Option<Duration>,
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    pub vrrp_garp_interval: Duration,
    pub vrrp_gna_interval: Duration,
    pub vrrp_lower_prio_no_advert: bool,
    pub vrrp_higher_prio_send_advert: bool,
    pub vrrp_skip_check_adv_addr: bool,
    pub vrrp_check_unicast_src: bool,
    pub dynamic_interfaces: bool,
    pub lvs_flush: bool,
    /// `lvs_flush_on_stop [VS]` (alias `lvs_flush_onstop`).
    pub lvs_flush_on_stop: LvsFlushOnStop,
    /// `checker_log_all_failures`: checkers log every failed attempt while up.
    pub checker_log_all_failures: bool,
    pub lvs_timeouts: LvsTimeouts,
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_connect_timeout: None,
            enable_script_security: false,
            script_user: None,
            vrrp_version: 2,
            vrrp_strict: false,
            vrrp_mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            vrrp_garp_master_delay: Duration::from_secs(5),
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh: Duration::ZERO,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_garp_interval: Duration::ZERO,
            vrrp_gna_interval: Duration::ZERO,
            vrrp_lower_prio_no_advert: false,
            vrrp_higher_prio_send_advert: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_check_unicast_src: false,
            dynamic_interfaces: false,
            lvs_flush: false,
            lvs_flush_on_stop: LvsFlushOnStop::No,
            checker_log_all_failures: false,
            lvs_timeouts: LvsTimeouts::default(),
            lvs_sync_daemon: None,
        }
    }
}

/// What the checker process removes from IPVS when it stops (`global_data.h: LVS_NO_FLUSH`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LvsFlushOnStop {
    /// Default: remove each real server, then each virtual server keepalived added.
    #[default]
    No,
    /// `lvs_flush_on_stop VS`: remove each virtual server (its real servers go with it).
    Vs,
    /// `lvs_flush_on_stop`: flush the whole IPVS table.
    Full,
}

/// `lvs_timeouts tcp N tcpfin N udp N` (seconds; unset keeps the kernel's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LvsTimeouts {
    pub tcp: Option<u32>,
    pub tcpfin: Option<u32>,
    pub udp: Option<u32>,
}

/// `lvs_sync_daemon IF [VRRP_INSTANCE] [id N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvsSyncDaemon {
    pub interface: String,
    pub instance: Option<String>,
    pub id: Option<u8>,
}

/// `vrrp_script NAME { ... }` (defaults `vrrp_data.c: alloc_vrrp_script`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpScript {
    pub name: String,
    pub script: Script,
    pub interval: Duration,
    /// Unset means "same as interval".
    pub timeout: Option<Duration>,
    pub weight: i32,
    pub weight_reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub init_fail: bool,
}

/// `vrrp_sync_group NAME { group { ... } ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncGroup {
    pub name: String,
    /// Members that exist, in the order listed.
    pub members: Vec<String>,
    pub notify_master: Option<Script>,
    pub notify_backup: Option<Script>,
    pub notify_fault: Option<Script>,
    pub notify_stop: Option<Script>,
    pub notify: Option<Script>,
    pub smtp_alert: Option<bool>,
    pub track_interfaces: Vec<TrackInterface>,
    pub track_scripts: Vec<TrackScript>,
    pub sync_group_tracking_weight: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VrrpState {
    Backup,
    Master,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    Pass,
    Ah,
}

/// `authentication { auth_type PASS|AH; auth_pass X }`; the password is the first 8
/// bytes, zero padded, as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub auth_type: AuthType,
    pub auth_pass: [u8; 8],
}

impl Authentication {
    /// The password as text (up to the first zero byte).
    pub fn pass_str(&self) -> String {
        let end = self.auth_pass.iter().position(|&b| b == 0).unwrap_or(8);
        String::from_utf8_lossy(&self.auth_pass[..end]).into_owned()
    }
}

/// A VIP line (`vrrp_ipaddress.c: alloc_ipaddress`, reference §1.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualIp {
    pub addr: Ipv4Addr,
    /// Default /32.
    pub prefix: u8,
    /// `dev`; unset means the instance's interface.
    pub dev: Option<String>,
    pub brd: Option<Ipv4Addr>,
    pub label: Option<String>,
    pub scope: Option<String>,
    pub peer: Option<Ipv4Addr>,
    pub no_track: bool,
    pub use_vmac: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnicastPeer {
    pub addr: Ipv4Addr,
    pub min_ttl: u8,
    pub max_ttl: u8,
}

/// `track_interface { IF [weight W [reverse]] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInterface {
    pub name: String,
    pub weight: i32,
    pub reverse: bool,
}

/// `track_script { NAME [weight W [reverse|noreverse]] }`; weight defaults to the script's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackScript {
    pub name: String,
    pub weight: i32,
    pub reverse: bool,
}

/// `vrrp_instance NAME { ... }` after `vrrp_complete_instance`.
#[derive(Debug, Clone, PartialEq)]
pub struct VrrpInstance {
    pub name: String,
    /// `state` as written (`None` if absent).
    pub configured_state: Option<VrrpState>,
    /// The initial wish after derivation (`wantstate`).
    pub state: VrrpState,
    pub interface: Option<String>,
    pub virtual_router_id: u8,
    /// `priority` as written, if valid.
    pub configured_priority: Option<u8>,
    /// Base priority: 255 for `state MASTER` without `priority` (reference §2.1).
    pub priority: u8,
    pub advert_int: Duration,
    pub version: u8,
    pub nopreempt: bool,
    pub preempt_delay: Duration,
    pub authentication: Option<Authentication>,
    pub virtual_ipaddress: Vec<VirtualIp>,
    pub virtual_ipaddress_excluded: Vec<VirtualIp>,
    /// `unicast_src_ip` / `mcast_src_ip`.
    pub src_ip: Option<Ipv4Addr>,
    pub unicast_peers: Vec<UnicastPeer>,
    pub unicast_ttl: Option<u8>,
    pub mcast_dst_ip: Option<Ipv4Addr>,
    pub track_interfaces: Vec<TrackInterface>,
    pub track_scripts: Vec<TrackScript>,
    pub dont_track_primary: bool,
    pub use_vmac: Option<UseVmac>,
    pub vmac_xmit_base: bool,
    pub garp_master_delay: Duration,
    pub garp_master_repeat: u32,
    pub garp_master_refresh: Duration,
    pub garp_master_refresh_repeat: u32,
    pub garp_lower_prio_delay: Duration,
    pub garp_lower_prio_repeat: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub down_timer_adverts: u32,
    pub notify_master: Option<Script>,
    pub notify_backup: Option<Script>,
    pub notify_fault: Option<Script>,
    pub notify_stop: Option<Script>,
    pub notify: Option<Script>,
    pub smtp_alert: bool,
    pub accept: bool,
    pub strict_mode: bool,
    pub skip_check_adv_addr: bool,
    pub check_unicast_src: bool,
    pub sync_group: Option<String>,
}

/// `use_vmac [NAME]`; `None` name means keepalived picks `vrrp.VRID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseVmac {
    pub name: Option<String>,
}

/// `virtual_server_group NAME { ... }` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServerGroup {
    pub name: String,
    pub entries: Vec<VsgEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VsgEntry {
    /// `IP[-LAST] PORT` (a range ends at `last`).
    Range {
        first: Ipv4Addr,
        last: Ipv4Addr,
        port: u16,
    },
    Fwmark(u32),
}

/// How a virtual server is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VsKey {
    Addr { ip: Ipv4Addr, port: u16 },
    Fwmark(u32),
    Group(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbKind {
    Nat,
    Dr,
    Tun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SorryServer {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub inhibit: bool,
    pub lb_kind: LbKind,
}

/// `virtual_server ... { ... }` after `validate_check_config`.
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualServer {
    pub key: VsKey,
    pub delay_loop: Duration,
    /// `lb_algo` / `lvs_sched`; `wlc` if unset.
    pub lb_algo: String,
    /// `lb_kind` / `lvs_method`; NAT if unset.
    pub lb_kind: LbKind,
    /// `None` for fwmark services (the protocol is ignored).
    pub protocol: Option<Protocol>,
    /// Seconds; 0 = not persistent.
    pub persistence_timeout: u32,
    pub persistence_granularity: Option<Ipv4Addr>,
    pub sorry_server: Option<SorryServer>,
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_up: Option<Script>,
    pub quorum_down: Option<Script>,
    pub alpha: bool,
    pub omega: bool,
    pub inhibit_on_failure: bool,
    pub ha_suspend: bool,
    pub virtualhost: Option<String>,
    pub connect_timeout: Duration,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub warmup: Option<Duration>,
    pub ops: bool,
    pub smtp_alert: bool,
    pub real_servers: Vec<RealServer>,
}

/// `real_server IP [PORT] { ... }`, with values inherited from the virtual server.
#[derive(Debug, Clone, PartialEq)]
pub struct RealServer {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub weight: u32,
    pub lb_kind: LbKind,
    pub inhibit_on_failure: bool,
    pub alpha: bool,
    pub notify_up: Option<Script>,
    pub notify_down: Option<Script>,
    pub connect_timeout: Duration,
    pub delay_loop: Duration,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub warmup: Option<Duration>,
    pub uthreshold: u32,
    pub lthreshold: u32,
    pub virtualhost: Option<String>,
    pub smtp_alert: bool,
    pub checkers: Vec<Checker>,
}

/// A health checker with its effective parameters (reference §4.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Checker {
    pub kind: CheckerKind,
    pub connect_ip: Option<Ipv4Addr>,
    pub connect_port: Option<u16>,
    pub bindto: Option<Ipv4Addr>,
    pub bind_port: Option<u16>,
    pub bind_if: Option<String>,
    pub connect_timeout: Duration,
    pub retry: u32,
    pub delay_before_retry: Duration,
    pub delay_loop: Duration,
    pub warmup: Duration,
    pub alpha: bool,
    pub log_all_failures: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckerKind {
    Tcp,
    Http(HttpCheck),
    Misc(MiscCheck),
    Ping,
    Udp(UdpCheck),
    Smtp { helo_name: Option<String> },
    Dns { query_type: String, name: String },
    File,
    Bfd,
}

impl CheckerKind {
    /// The keyword that opened the block.
    pub fn keyword(&self) -> &'static str {
        match self {
            CheckerKind::Tcp => "TCP_CHECK",
            CheckerKind::Http(h) if h.ssl => "SSL_GET",
            CheckerKind::Http(_) => "HTTP_GET",
            CheckerKind::Misc(_) => "MISC_CHECK",
            CheckerKind::Ping => "PING_CHECK",
            CheckerKind::Udp(_) => "UDP_CHECK",
            CheckerKind::Smtp { .. } => "SMTP_CHECK",
            CheckerKind::Dns { .. } => "DNS_CHECK",
            CheckerKind::File => "FILE_CHECK",
            CheckerKind::Bfd => "BFD_CHECK",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    pub ssl: bool,
    pub urls: Vec<Url>,
    pub virtualhost: Option<String>,
    pub http_protocol: String,
    pub fast_recovery: bool,
}

/// `url { path P; digest MD5; status_code ... }`; status codes default to 200-299.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub path: String,
    pub digest: Option<[u8; 16]>,
    /// Inclusive ranges.
    pub status_codes: Vec<(u16, u16)>,
    pub virtualhost: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiscCheck {
    pub script: Script,
    /// Unset means the delay loop.
    pub timeout: Option<Duration>,
    pub dynamic: bool,
}

/// `UDP_CHECK { payload HEX; require_reply [HEX]; min_reply_length N; max_reply_length N }`;
/// the hex strings are kept as written (words joined by a space).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpCheck {
    pub payload: Option<String>,
    pub require_reply: Option<String>,
    pub min_reply_length: u16,
    pub max_reply_length: u16,
}

impl Default for UdpCheck {
    /// `udp_check_handler`: lengths 0 and `UINT8_MAX`.
    fn default() -> Self {
        UdpCheck { payload: None, require_reply: None, min_reply_length: 0, max_reply_length: 255 }
    }
}
