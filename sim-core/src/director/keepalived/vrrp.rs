//! `vrrp_script`, `vrrp_sync_group`, `vrrp_instance` (`keepalived/vrrp/vrrp_parser.c`,
//! `vrrp_data.c`, `vrrp_track.c`, `vrrp_ipaddress.c`) and the completion pass
//! (`vrrp.c: vrrp_complete_init`, `vrrp_complete_instance`, `chk_min_cfg`).

use super::diag::ConfigErr;
use super::model::*;
use super::parser::{Exit, Kw, Parser, Res, Table, check_true_false, inet_pton4, inet_stosockaddr};
use super::reader::split_quoted_escaped;
use std::net::Ipv4Addr;
use std::time::Duration;

const TIMER_HZ: u64 = 1_000_000;
const VRRP_PRIO_OWNER: u8 = 255;
const VRRP_PRIO_DFL: u8 = 100;

/// An instance while it is being read (unset values are `None`).
#[derive(Debug, Clone, Default)]
pub(crate) struct RawInstance {
    name: String,
    wantstate: Option<VrrpState>,
    ifname: Option<String>,
    vrid: u8,
    base_priority: u8,
    adver_int_us: Option<u64>,
    version: Option<u8>,
    nopreempt: bool,
    preempt_delay_us: u64,
    auth_type: Option<AuthType>,
    auth_data: [u8; 8],
    vips: Vec<VirtualIp>,
    evips: Vec<VirtualIp>,
    saddr: Option<Ipv4Addr>,
    peers: Vec<UnicastPeer>,
    ttl: Option<u8>,
    mcast_dst: Option<Ipv4Addr>,
    track_if: Vec<TrackInterface>,
    track_scr: Vec<TrackScript>,
    dont_track_primary: bool,
    use_vmac: Option<UseVmac>,
    xmit_base: bool,
    garp_delay: Option<Duration>,
    garp_rep: Option<u32>,
    garp_refresh: Option<Duration>,
    garp_refresh_rep: Option<u32>,
    garp_lower_prio_delay: Option<Duration>,
    garp_lower_prio_rep: Option<u32>,
    lower_prio_no_advert: Option<bool>,
    higher_prio_send_advert: Option<bool>,
    down_timer_adverts: u32,
    notify_master: Option<Script>,
    notify_backup: Option<Script>,
    notify_fault: Option<Script>,
    notify_stop: Option<Script>,
    notify: Option<Script>,
    smtp_alert: Option<bool>,
    accept: Option<bool>,
    strict: Option<bool>,
    skip_check_adv_addr: bool,
    check_unicast_src: bool,
    unicast_configured: bool,
}

#[derive(Debug, Default)]
pub(crate) struct VrrpParse {
    pub scripts: Vec<VrrpScript>,
    cur_script: Option<VrrpScript>,
    pub groups: Vec<SyncGroup>,
    /// Member names as listed (`iname`), `None` if the group has no `group` block.
    pub group_members: Vec<Option<Vec<String>>>,
    cur_group: Option<(SyncGroup, Option<Vec<String>>)>,
    pub instances: Vec<RawInstance>,
    cur: Option<RawInstance>,
}

const SYNC_GROUP_KW: &[&str] = &[
    "group",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "notify_backup",
    "notify_master",
    "notify_fault",
    "notify_stop",
    "notify",
    "smtp_alert",
    "global_tracking",
    "sync_group_tracking_weight",
    "notify_priority_changes",
];

const INSTANCE_KW: &[&str] = &[
    "use_vmac",
    "use_vmac_addr",
    "vmac_xmit_base",
    "use_ipvlan",
    "unicast_peer",
    "unicast_fault_no_peer",
    "check_unicast_src",
    "old_unicast_checksum",
    "native_ipv6",
    "state",
    "interface",
    "vrf",
    "dont_track_primary",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "mcast_src_ip",
    "unicast_src_ip",
    "mcast_dst_ip",
    "track_src_ip",
    "virtual_router_id",
    "unicast_ttl",
    "version",
    "priority",
    "advert_int",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "no_virtual_ipaddress",
    "promote_secondaries",
    "linkbeat_use_polling",
    "v3_checksum_as_v2",
    "virtual_routes",
    "virtual_rules",
    "accept",
    "no_accept",
    "skip_check_adv_addr",
    "strict_mode",
    "preempt",
    "nopreempt",
    "preempt_delay",
    "debug",
    "notify_backup",
    "notify_master",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify",
    "notify_master_rx_lower_pri",
    "smtp_alert",
    "notify_priority_changes",
    "lvs_sync_daemon_interface",
    "garp_master_delay",
    "garp_master_refresh",
    "garp_master_repeat",
    "garp_master_refresh_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "down_timer_adverts",
    "timer_expired_backup",
    "garp_extra_if",
    "vmac_garp_intvl",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "kernel_rx_buf_size",
];

const SCRIPT_KW: &[&str] = &["script", "interval", "timeout", "weight", "rise", "fall", "user", "init_fail"];

pub(crate) fn lookup(table: Table, w: &str) -> Option<Kw> {
    let found = match table {
        Table::SyncGroup => SYNC_GROUP_KW.contains(&w),
        Table::Instance => {
            if w == "authentication" {
                return Some(Kw { sub: Some(Table::Auth), active: true });
            }
            INSTANCE_KW.contains(&w)
        }
        Table::Auth => w == "auth_type" || w == "auth_pass",
        Table::Script => SCRIPT_KW.contains(&w),
        _ => false,
    };
    found.then_some(Kw { sub: None, active: true })
}

/// Splits a script keyword's raw line: `KEYWORD "cmd args" [user [group]]`.
pub(crate) fn parse_script(raw: &[u8]) -> Option<Script> {
    let words = split_quoted_escaped(&String::from_utf8_lossy(raw))?;
    let cmd = words.get(1)?;
    let argv = split_quoted_escaped(cmd).filter(|a| !a.is_empty())?;
    Some(Script { argv, user: words.get(2).cloned(), group: words.get(3).cloned() })
}

impl Parser<'_> {
    pub(crate) fn vrrp_root(&mut self, v: &[String]) -> Res {
        match v[0].as_str() {
            "vrrp_sync_group" => {
                if v.len() != 2 {
                    self.err("vrrp_sync_group must have a name - skipping");
                    self.skip_block(true);
                } else if self.vrrp.groups.iter().any(|g| g.name == v[1]) {
                    self.err(format!("vrrp sync group {} already defined", v[1]));
                    self.skip_block(true);
                } else {
                    self.vrrp.cur_group = Some((SyncGroup { name: v[1].clone(), ..SyncGroup::default() }, None));
                }
            }
            "vrrp_instance" => {
                if v.len() != 2 {
                    self.err("vrrp_instance must have a name");
                    self.skip_block(true);
                } else if self.vrrp.instances.iter().any(|i| i.name == v[1]) {
                    self.err(format!("vrrp instance {} already defined", v[1]));
                    self.skip_block(true);
                } else {
                    self.vrrp.cur =
                        Some(RawInstance { name: v[1].clone(), down_timer_adverts: 3, ..RawInstance::default() });
                }
            }
            _ => {
                let name = self.arg(v, 1)?.to_string();
                self.vrrp.cur_script = Some(VrrpScript {
                    name,
                    script: Script { argv: Vec::new(), user: None, group: None },
                    interval: Duration::from_secs(1),
                    timeout: None,
                    weight: 0,
                    weight_reverse: false,
                    rise: 1,
                    fall: 1,
                    init_fail: false,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn vrrp_handler(&mut self, table: Table, v: &[String]) -> Res {
        match table {
            Table::Script => self.script_kw(v),
            Table::SyncGroup => self.group_kw(v),
            _ => self.instance_kw(table, v),
        }
    }

    pub(crate) fn vrrp_close(&mut self, table: Table) {
        match table {
            Table::Script => {
                let Some(s) = self.vrrp.cur_script.take() else { return };
                if s.script.argv.is_empty() {
                    self.err(format!("No script set for vrrp_script {} - removing", s.name));
                } else {
                    self.vrrp.scripts.push(s);
                }
            }
            Table::SyncGroup => {
                let Some((g, members)) = self.vrrp.cur_group.take() else { return };
                if members.is_none() {
                    self.err(format!("Sync group {} has no members - removing", g.name));
                    return;
                }
                self.vrrp.groups.push(g);
                self.vrrp.group_members.push(members);
            }
            _ => {
                let Some(mut i) = self.vrrp.cur.take() else { return };
                if i.peers.is_empty() && i.ttl.is_some() {
                    self.err(format!("({}): Cannot use unicast_ttl without unicast peers - resetting", i.name));
                    i.ttl = None;
                }
                self.vrrp.instances.push(i);
            }
        }
    }

    fn script_kw(&mut self, v: &[String]) -> Res {
        if self.vrrp.cur_script.is_none() {
            return Ok(());
        }
        let name = self.vrrp.cur_script.as_ref().map(|s| s.name.clone()).unwrap_or_default();
        match v[0].as_str() {
            "script" => {
                if let Some(s) = parse_script(&self.raw)
                    && let Some(c) = self.vrrp.cur_script.as_mut()
                {
                    c.script = s;
                }
            }
            "interval" | "timeout" => {
                let s = self.arg(v, 1)?;
                let what = v[0].as_str();
                let max = u64::from(u32::MAX) / TIMER_HZ;
                match self.read_unsigned(s, 0, max, true) {
                    None if what == "interval" => {
                        self.err(format!("({name}): vrrp script interval '{s}' must be between 1 and {max} - ignoring"))
                    }
                    None => self.err(format!("({name}): vrrp script timeout '{s}' invalid - ignoring")),
                    Some(mut n) => {
                        if n == 0 {
                            self.err(format!("({name}): vrrp script {what} must be greater than 0, setting to 1"));
                            n = 1;
                        }
                        if let Some(c) = self.vrrp.cur_script.as_mut() {
                            if what == "interval" {
                                c.interval = Duration::from_secs(n);
                            } else {
                                c.timeout = Some(Duration::from_secs(n));
                            }
                        }
                    }
                }
            }
            "weight" => {
                let s = self.arg(v, 1)?;
                let w = self.read_int(s, -253, 253, true);
                if w.is_none() {
                    self.err(format!("vrrp_script {name} weight {s} must be in [-253, 253]"));
                }
                let raw = super::parser::strtol(s).0.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
                let mut reverse = false;
                if let Some(opt) = v.get(2) {
                    if opt == "reverse" {
                        reverse = true;
                    } else {
                        self.err(format!("vrrp_script {name} unknown weight option {opt}"));
                    }
                }
                if let Some(c) = self.vrrp.cur_script.as_mut() {
                    // keepalived stores the value read even when it reported it out of range.
                    c.weight = w.map_or(raw, |w| w as i32);
                    c.weight_reverse = reverse;
                }
            }
            "rise" | "fall" => {
                let s = self.arg(v, 1)?;
                let n = self.read_unsigned(s, 1, i32::MAX as u64, true);
                if n.is_none() {
                    self.err(format!("({name}): vrrp script {} value '{s}' invalid, defaulting to 1", v[0]));
                }
                if let Some(c) = self.vrrp.cur_script.as_mut() {
                    let n = n.unwrap_or(1) as u32;
                    if v[0] == "rise" {
                        c.rise = n;
                    } else {
                        c.fall = n;
                    }
                }
            }
            "user" => {
                let user = self.arg(v, 1)?.to_string();
                if let Some(c) = self.vrrp.cur_script.as_mut() {
                    c.script.user = Some(user);
                    c.script.group = v.get(2).cloned();
                }
            }
            _ => {
                if let Some(c) = self.vrrp.cur_script.as_mut() {
                    c.init_fail = true;
                }
            }
        }
        Ok(())
    }

    fn group_kw(&mut self, v: &[String]) -> Res {
        let Some(gname) = self.vrrp.cur_group.as_ref().map(|g| g.0.name.clone()) else { return Ok(()) };
        match v[0].as_str() {
            "group" => {
                if self.vrrp.cur_group.as_ref().is_some_and(|g| g.1.is_some()) {
                    self.err(format!("Group list already specified for sync group {gname}"));
                    self.skip_block(true);
                    return Ok(());
                }
                let words = self.read_value_block(v)?;
                if words.is_empty() {
                    self.err(format!("Warning - sync group {gname} has empty group block"));
                } else if let Some(g) = self.vrrp.cur_group.as_mut() {
                    g.1 = Some(words);
                }
            }
            "track_interface" => {
                let mut list = Vec::new();
                self.value_block(v, &mut |p, line| {
                    p.alloc_track_if(&gname, &mut list, &line);
                    Ok(())
                })?;
                if let Some(g) = self.vrrp.cur_group.as_mut() {
                    g.0.track_interfaces.extend(list);
                }
            }
            "track_script" => {
                let mut list = Vec::new();
                self.value_block(v, &mut |p, line| {
                    p.alloc_track_script(&gname, &mut list, &line);
                    Ok(())
                })?;
                if let Some(g) = self.vrrp.cur_group.as_mut() {
                    g.0.track_scripts.extend(list);
                }
            }
            "track_file" | "track_process" | "track_bfd" => self.discard_block(v)?,
            "notify_backup" | "notify_master" | "notify_fault" | "notify_stop" | "notify" => {
                let script = parse_script(&self.raw);
                let Some((g, _)) = self.vrrp.cur_group.as_mut() else { return Ok(()) };
                let slot = match v[0].as_str() {
                    "notify_backup" => &mut g.notify_backup,
                    "notify_master" => &mut g.notify_master,
                    "notify_fault" => &mut g.notify_fault,
                    "notify_stop" => &mut g.notify_stop,
                    _ => &mut g.notify,
                };
                if slot.is_some() {
                    let kw = v[0].clone();
                    let what = if kw == "notify" { "notify script".to_string() } else { format!("{kw} script") };
                    let arg = self.arg(v, 1)?.to_string();
                    self.err(format!("vrrp group {gname}: {what} already specified - ignoring {arg}"));
                } else {
                    *slot = script;
                }
            }
            "smtp_alert" => {
                let val = match v.get(1) {
                    None => Some(true),
                    Some(s) => check_true_false(s),
                };
                match val {
                    None => self.err(format!("Invalid vrrp_group smtp_alert parameter {}", v[1])),
                    Some(b) => {
                        if let Some(g) = self.vrrp.cur_group.as_mut() {
                            g.0.smtp_alert = Some(b);
                        }
                    }
                }
            }
            "global_tracking" | "sync_group_tracking_weight" => {
                if v[0] == "global_tracking" {
                    self.err(format!(
                        "({gname}) global_tracking is deprecated. Use track_interface/script/file on the sync group"
                    ));
                }
                if let Some(g) = self.vrrp.cur_group.as_mut() {
                    g.0.sync_group_tracking_weight = true;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `alloc_track_if` (`vrrp_track.c`).
    fn alloc_track_if(&mut self, name: &str, list: &mut Vec<TrackInterface>, v: &[String]) {
        let tracked = v[0].clone();
        if !self.if_exists(&tracked) {
            self.err(format!("({name}) tracked interface {tracked} doesn't exist"));
            return;
        }
        if list.iter().any(|t| t.name == tracked) {
            self.err(format!("({name}) duplicate track_interface {tracked} - ignoring"));
            return;
        }
        let mut weight = 0;
        let mut reverse = false;
        if v.len() >= 2 {
            if v[1] != "weight" {
                self.err(format!("({name}) unknown track_interface {tracked} option {} - ignoring", v[1]));
                return;
            }
            if v.len() == 2 {
                self.err(format!("({name}) weight without value specified for track_interface {tracked} - ignoring"));
                return;
            }
            match self.read_int(&v[2], -254, 254, true) {
                None => {
                    self.err(format!(
                        "({name}) weight {} for {tracked} must be between [-253..253] inclusive. Ignoring...",
                        v[2]
                    ));
                    weight = 0;
                }
                Some(w) if w.abs() == 254 => {
                    self.err(format!("({name}) weight for {tracked} cannot be +/-254. Setting to +/-253"));
                    weight = if w < 0 { -253 } else { 253 };
                }
                Some(w) => weight = w as i32,
            }
            if let Some(opt) = v.get(3) {
                if opt == "reverse" {
                    reverse = true;
                } else {
                    self.err(format!("({name}) unknown track_interace {tracked} weight option {opt} - ignoring"));
                }
            }
        }
        list.push(TrackInterface { name: tracked, weight, reverse });
    }

    /// `alloc_track_script` (`vrrp_track.c`).
    fn alloc_track_script(&mut self, name: &str, list: &mut Vec<TrackScript>, v: &[String]) {
        let tracked = v[0].clone();
        let Some(script) = self.vrrp.scripts.iter().find(|s| s.name == tracked).cloned() else {
            self.err(format!("({name}) track script {tracked} not found, ignoring..."));
            return;
        };
        if list.iter().any(|t| t.name == tracked) {
            self.err(format!("({name}) duplicate track_script {tracked} - ignoring"));
            return;
        }
        let mut weight = script.weight;
        let mut reverse = script.weight_reverse;
        if v.len() >= 2 {
            if v[1] != "weight" {
                self.err(format!("({name}) unknown track script option {} - ignoring", v[1]));
                return;
            }
            if v.len() == 2 {
                self.err(format!("({name}) weight without value specified for track script {tracked} - ignoring"));
                return;
            }
            match self.read_int(&v[2], -254, 254, true) {
                None => {
                    self.err(format!(
                        "({name}) track script {tracked}: weight must be between [-253..253] inclusive, ignoring..."
                    ));
                }
                Some(w) if w.abs() == 254 => {
                    self.err(format!("({name}) weight for {tracked} cannot be +/-254. Setting to +/-253"));
                    weight = if w < 0 { -253 } else { 253 };
                }
                Some(w) => weight = w as i32,
            }
            if let Some(opt) = v.get(3) {
                match opt.as_str() {
                    "reverse" => reverse = true,
                    "noreverse" => reverse = false,
                    _ => self.err(format!("({name}) unknown track_script {tracked} weight option {opt} - ignoring")),
                }
            }
        }
        list.push(TrackScript { name: tracked, weight, reverse });
    }

    /// `alloc_ipaddress` for a VIP line; `None` if keepalived drops it.
    fn alloc_ipaddress(&mut self, v: &[String]) -> Option<VirtualIp> {
        let first = &v[0];
        let (addr_s, prefix_s) = match first.find('/') {
            Some(i) => (&first[..i], Some(&first[i + 1..])),
            None => (first.as_str(), None),
        };
        if first.contains(':') {
            self.r.lab(format!("IPv6 address {first} is not supported by the simulator - ignoring"));
            return None;
        }
        let mut prefix = 32u8;
        if let Some(p) = prefix_s {
            match self.read_unsigned(p, 0, 32, true) {
                Some(n) => prefix = n as u8,
                None => self.err(format!("Invalid address prefix len {p} for address {first} - using 32")),
            }
        }
        let Some(addr) = inet_pton4(addr_s) else {
            self.err(format!("VRRP parsed invalid IP {first}. skipping IP..."));
            return None;
        };
        let mut vip = VirtualIp {
            addr,
            prefix,
            dev: None,
            brd: None,
            label: None,
            scope: None,
            peer: None,
            no_track: false,
            use_vmac: false,
        };
        let mut brd_len = 0i8;
        let mut have_broadcast = false;
        let mut i = 1;
        while i < v.len() {
            let s = v[i].as_str();
            let param_avail = v.len() > i + 1;
            let needs_param = matches!(s, "dev" | "scope" | "broadcast" | "brd" | "label" | "peer" | "preferred_lft");
            if needs_param && !param_avail {
                self.err(format!("No {s} parameter specified for {first}"));
                return None;
            }
            match s {
                "dev" => {
                    if vip.dev.is_some() {
                        self.err(format!("Cannot specify ipaddress device more than once for {first}"));
                        return None;
                    }
                    i += 1;
                    if !self.if_exists(&v[i]) {
                        self.err(format!("WARNING - interface {} for ip address {first} doesn't exist", v[i]));
                        return None;
                    }
                    vip.dev = Some(v[i].clone());
                }
                "scope" => {
                    i += 1;
                    if matches!(v[i].as_str(), "site" | "link" | "host" | "nowhere" | "global")
                        || v[i].parse::<u8>().is_ok()
                    {
                        vip.scope = Some(v[i].clone());
                    } else {
                        self.err(format!("Invalid scope '{}' specified for {first} - ignoring", v[i]));
                    }
                }
                "broadcast" | "brd" => {
                    have_broadcast = true;
                    i += 1;
                    match v[i].as_str() {
                        "-" => brd_len = -2,
                        "+" => brd_len = -1,
                        b => match inet_pton4(b) {
                            Some(a) => vip.brd = Some(a),
                            None => {
                                self.err(format!("VRRP is trying to assign invalid broadcast {b}. skipping VIP..."));
                                return None;
                            }
                        },
                    }
                }
                "label" => {
                    i += 1;
                    vip.label = Some(v[i].chars().take(15).collect());
                }
                "peer" => {
                    i += 1;
                    if vip.peer.is_some() {
                        self.err(format!("Peer {} - another peer has already been specified", v[i]));
                    } else {
                        match inet_pton4(&v[i]) {
                            None => {
                                self.err(format!("VRRP parsed invalid IP {}. skipping IP...", v[i]));
                                self.err(format!("Invalid peer address {}", v[i]));
                            }
                            Some(p) => {
                                if vip.prefix != 32 {
                                    self.err("Cannot specify address prefix when specifying peer address - ignoring");
                                }
                                vip.peer = Some(p);
                                vip.prefix = 32;
                            }
                        }
                    }
                }
                "home" | "-nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" => {}
                "no_track" => vip.no_track = true,
                "preferred_lft" => i += 1,
                "use_vmac" => vip.use_vmac = true,
                other => self.err(format!("Unknown configuration entry '{other}' for ip address - ignoring")),
            }
            i += 1;
        }
        if have_broadcast && vip.peer.is_some() {
            self.err("Cannot specify broadcast and peer addresses - ignoring broadcast address");
            vip.brd = None;
        } else if brd_len < 0 && vip.prefix <= 30 {
            let base = u32::from(vip.peer.unwrap_or(vip.addr));
            let mask = u32::MAX.checked_shr(u32::from(vip.prefix)).unwrap_or(0);
            vip.brd = Some(Ipv4Addr::from(if brd_len == -1 { base | mask } else { base & !mask }));
        } else if brd_len < 0 {
            self.err(format!("Address prefix length {} too long for broadcast", vip.prefix));
        }
        Some(vip)
    }

    fn instance_kw(&mut self, table: Table, v: &[String]) -> Res {
        let Some(iname) = self.vrrp.cur.as_ref().map(|i| i.name.clone()) else { return Ok(()) };
        if table == Table::Auth {
            let s = self.arg(v, 1)?.to_string();
            if v[0] == "auth_type" {
                match s.as_str() {
                    "AH" => self.cur().auth_type = Some(AuthType::Ah),
                    "PASS" => self.cur().auth_type = Some(AuthType::Pass),
                    _ => self.err(format!("({iname}) unknown authentication type '{s}'")),
                }
            } else {
                let bytes = s.as_bytes();
                if bytes.len() > 8 {
                    self.err("Truncating auth_pass to 8 characters");
                }
                let mut data = [0u8; 8];
                let n = bytes.len().min(8);
                data[..n].copy_from_slice(&bytes[..n]);
                self.cur().auth_data = data;
            }
            return Ok(());
        }
        match v[0].as_str() {
            "state" => {
                let s = self.arg(v, 1)?;
                match s {
                    "MASTER" => self.cur().wantstate = Some(VrrpState::Master),
                    "BACKUP" => {
                        if self.cur().wantstate == Some(VrrpState::Master) {
                            self.err(format!("({iname}) state previously set as MASTER - ignoring BACKUP"));
                        } else {
                            self.cur().wantstate = Some(VrrpState::Backup);
                        }
                    }
                    _ => {
                        self.err(format!("({iname}) unknown state '{s}', defaulting to BACKUP"));
                        self.cur().wantstate = Some(VrrpState::Backup);
                    }
                }
            }
            "interface" => {
                let name = self.arg(v, 1)?.to_string();
                if name.len() >= 16 {
                    self.err(format!("Interface name '{name}' too long - ignoring"));
                } else if !self.if_exists(&name) {
                    self.err(format!("WARNING - interface {name} for vrrp_instance {iname} doesn't exist"));
                    self.cur().ifname = None;
                } else if name == "lo" {
                    self.err(format!("({iname}) cannot use a loopback interface ({name}) for vrrp - ignoring"));
                    self.cur().ifname = None;
                } else {
                    self.cur().ifname = Some(name);
                }
            }
            "virtual_router_id" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 1, 255, false) {
                    Some(n) => self.cur().vrid = n as u8,
                    None => self.err(format!("({iname}): VRID '{s}' not valid - must be between 1 & 255")),
                }
            }
            "priority" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 1, 255, false) {
                    Some(n) => self.cur().base_priority = n as u8,
                    None => {
                        self.err(format!("({iname}) Priority not valid! must be between 1 & 255. Using default 100"));
                        self.cur().base_priority = VRRP_PRIO_DFL;
                    }
                }
            }
            "advert_int" => {
                let s = self.arg(v, 1)?;
                match self.read_decimal(s, TIMER_HZ / 100, 255 * TIMER_HZ, 6, true) {
                    Some(us) if us > 0 => self.cur().adver_int_us = Some(us),
                    _ => self.err(format!("({iname}) Advert interval ({s}) not valid! Must be > 0 - ignoring")),
                }
            }
            "version" => {
                let s = self.arg(v, 1)?;
                match self.read_int(s, 2, 3, true) {
                    None => self.err(format!("({iname}): Version must be either 2 or 3")),
                    Some(n) => {
                        let cur = self.cur().version;
                        if cur.is_some_and(|c| i64::from(c) != n) {
                            self.err(format!(
                                "({iname}) vrrp_version {n} conflicts with configured or deduced version {}; ignoring.",
                                cur.unwrap_or(0)
                            ));
                        } else {
                            self.cur().version = Some(n as u8);
                        }
                    }
                }
            }
            "nopreempt" => self.cur().nopreempt = true,
            "preempt" => self.cur().nopreempt = false,
            "preempt_delay" => {
                let s = self.arg(v, 1)?;
                match self.read_decimal(s, 0, 1000 * TIMER_HZ, 6, true) {
                    Some(us) => self.cur().preempt_delay_us = us,
                    None => {
                        self.err(format!("({iname}) Preempt_delay not valid! must be between 0-1000"));
                        self.cur().preempt_delay_us = 0;
                    }
                }
            }
            "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                let excluded = v[0] == "virtual_ipaddress_excluded";
                self.value_block(v, &mut |p, line| {
                    if let Some(vip) = p.alloc_ipaddress(&line) {
                        if excluded {
                            p.cur().evips.push(vip);
                        } else {
                            p.cur().vips.push(vip);
                        }
                    }
                    Ok(())
                })?;
            }
            "unicast_peer" => {
                self.cur().unicast_configured = true;
                self.value_block(v, &mut |p, line| {
                    p.alloc_unicast_peer(&line);
                    Ok(())
                })?;
            }
            "mcast_src_ip" | "unicast_src_ip" => {
                if v[0] == "unicast_src_ip" {
                    self.cur().unicast_configured = true;
                }
                let s = self.arg(v, 1)?;
                match inet_pton4(s) {
                    Some(a) => self.cur().saddr = Some(a),
                    None if s.contains(':') => {
                        self.r.lab(format!("IPv6 address {s} is not supported by the simulator - ignoring"));
                    }
                    None => self.err(format!(
                        "Configuration error: VRRP instance[{iname}] malformed src address[{s}]. Skipping..."
                    )),
                }
            }
            "mcast_dst_ip" => {
                let s = self.arg(v, 1)?;
                match inet_pton4(s) {
                    None => self.err(format!("({iname}) malformed mcast dest address {s}. Skipping...")),
                    Some(a) if !a.is_multicast() => {
                        self.err(format!("({iname}) mcast_dst_ip {s} not multicast. Skipping..."))
                    }
                    Some(a) => self.cur().mcast_dst = Some(a),
                }
            }
            "unicast_ttl" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, 255, false) {
                    Some(n) => self.cur().ttl = Some(n as u8),
                    None => self.err(format!("({iname}): TTL '{s}' not valid - must be between 0 & 255")),
                }
            }
            "unicast_fault_no_peer" => self.cur().unicast_configured = true,
            "check_unicast_src" => {
                self.cur().unicast_configured = true;
                self.cur().check_unicast_src = true;
            }
            "track_interface" => {
                let mut list = std::mem::take(&mut self.cur().track_if);
                self.value_block(v, &mut |p, line| {
                    p.alloc_track_if(&iname, &mut list, &line);
                    Ok(())
                })?;
                self.cur().track_if = list;
            }
            "track_script" => {
                let mut list = std::mem::take(&mut self.cur().track_scr);
                self.value_block(v, &mut |p, line| {
                    p.alloc_track_script(&iname, &mut list, &line);
                    Ok(())
                })?;
                self.cur().track_scr = list;
            }
            "track_file" | "track_process" | "track_bfd" | "virtual_routes" | "virtual_rules" => {
                self.discard_block(v)?
            }
            "dont_track_primary" => self.cur().dont_track_primary = true,
            "use_vmac" => {
                let name = v.iter().skip(1).find(|w| !w.contains(':') && *w != "name").cloned();
                self.cur().use_vmac = Some(UseVmac { name });
            }
            "vmac_xmit_base" => self.cur().xmit_base = true,
            "garp_master_delay" | "garp_lower_prio_delay" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, u64::from(u32::MAX) / TIMER_HZ, true) {
                    None => self.err(format!("({iname}): {} '{s}' invalid - ignoring", v[0])),
                    Some(n) if v[0] == "garp_master_delay" => self.cur().garp_delay = Some(Duration::from_secs(n)),
                    Some(n) => self.cur().garp_lower_prio_delay = Some(Duration::from_secs(n)),
                }
            }
            "garp_master_refresh" => {
                let s = self.arg(v, 1)?;
                let n = self.read_unsigned(s, 0, u64::from(u32::MAX), true);
                if n.is_none() {
                    self.err(format!("({iname}): Invalid garp_master_refresh '{s}' - ignoring"));
                }
                self.cur().garp_refresh = Some(Duration::from_secs(n.unwrap_or(0)));
            }
            "garp_master_repeat" | "garp_master_refresh_repeat" => {
                let s = self.arg(v, 1)?;
                let kw = v[0].clone();
                match self.read_unsigned(s, 0, u64::from(u32::MAX), true) {
                    None => self.err(format!("({iname}): {kw} '{s}' invalid - ignoring")),
                    Some(n) => {
                        let n = if n == 0 {
                            self.err(format!("({iname}): {kw} must be greater than 0, setting to 1"));
                            1
                        } else {
                            n as u32
                        };
                        if kw == "garp_master_repeat" {
                            self.cur().garp_rep = Some(n);
                        } else {
                            self.cur().garp_refresh_rep = Some(n);
                        }
                    }
                }
            }
            "garp_lower_prio_repeat" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 0, i32::MAX as u64, true) {
                    Some(n) => self.cur().garp_lower_prio_rep = Some(n as u32),
                    None => self.err(format!("({iname}): Invalid garp_lower_prio_repeat '{s}'")),
                }
            }
            "down_timer_adverts" => {
                let s = self.arg(v, 1)?;
                match self.read_unsigned(s, 1, 100, true) {
                    Some(n) => self.cur().down_timer_adverts = n as u32,
                    None => self.err(format!("({iname}): Invalid down_timer_adverts [1:100] '{s}'")),
                }
            }
            "lower_prio_no_advert" | "higher_prio_send_advert" | "strict_mode" | "skip_check_adv_addr" => {
                let val = match v.get(1) {
                    None => Some(true),
                    Some(s) => check_true_false(s),
                };
                let kw = v[0].clone();
                match val {
                    None => self.err(format!("({iname}) invalid {kw} {} specified", v[1])),
                    Some(b) => {
                        let c = self.cur();
                        match kw.as_str() {
                            "lower_prio_no_advert" => c.lower_prio_no_advert = Some(b),
                            "higher_prio_send_advert" => c.higher_prio_send_advert = Some(b),
                            "strict_mode" => c.strict = Some(b),
                            _ => c.skip_check_adv_addr = true,
                        }
                    }
                }
            }
            "accept" => self.cur().accept = Some(true),
            "no_accept" => self.cur().accept = Some(false),
            "smtp_alert" => {
                let val = match v.get(1) {
                    None => Some(true),
                    Some(s) => check_true_false(s),
                };
                match val {
                    None => self.err(format!("Invalid vrrp_instance smtp_alert parameter {}", v[1])),
                    Some(b) => self.cur().smtp_alert = Some(b),
                }
            }
            "notify_backup" | "notify_master" | "notify_fault" | "notify_stop" | "notify" => {
                let script = parse_script(&self.raw);
                let kw = v[0].clone();
                let c = self.cur();
                let slot = match kw.as_str() {
                    "notify_backup" => &mut c.notify_backup,
                    "notify_master" => &mut c.notify_master,
                    "notify_fault" => &mut c.notify_fault,
                    "notify_stop" => &mut c.notify_stop,
                    _ => &mut c.notify,
                };
                if slot.is_some() {
                    let arg = self.arg(v, 1)?.to_string();
                    let what = if kw == "notify" { "notify script".to_string() } else { format!("{kw} script") };
                    self.err(format!("({iname}) {what} already specified - ignoring {arg}"));
                } else {
                    *slot = script;
                }
            }
            "lvs_sync_daemon_interface" => {
                self.err(format!("({iname}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated."));
                let pad = " ".repeat(iname.len().saturating_sub(2));
                self.err(format!("      {pad}Please use global lvs_sync_daemon"));
                let ifname = self.arg(v, 1)?.to_string();
                if let Some(d) = &self.global.data.lvs_sync_daemon {
                    let msg = format!(
                        "({iname}) lvs_sync_daemon_interface has already been specified as {} - ignoring",
                        d.interface
                    );
                    self.err(msg);
                } else {
                    self.global.data.lvs_sync_daemon =
                        Some(LvsSyncDaemon { interface: ifname, instance: Some(iname.clone()), id: None });
                }
            }
            "native_ipv6" => self.r.lab(format!("({iname}) native_ipv6 is not supported by the simulator - ignoring")),
            _ => {}
        }
        Ok(())
    }

    fn cur(&mut self) -> &mut RawInstance {
        self.vrrp.cur.get_or_insert_with(RawInstance::default)
    }

    /// `alloc_vrrp_unicast_peer`.
    fn alloc_unicast_peer(&mut self, v: &[String]) {
        let iname = self.cur().name.clone();
        let Some((addr, _)) = inet_stosockaddr(&v[0], None) else {
            self.err(format!(
                "Configuration error: VRRP instance[{iname}] malformed unicast peer address[{}]. Skipping...",
                v[0]
            ));
            return;
        };
        let mut peer = UnicastPeer { addr, min_ttl: 0, max_ttl: 255 };
        let mut i = 1;
        while i < v.len() {
            if i + 1 >= v.len() {
                self.err(format!("({iname}) {} is missing a value", v[i]));
                break;
            }
            if let Some(ttl) = self.read_unsigned(&v[i + 1], 0, 255, false) {
                match v[i].as_str() {
                    "min_ttl" => peer.min_ttl = ttl as u8,
                    "max_ttl" => peer.max_ttl = ttl as u8,
                    other => {
                        self.err(format!("({iname}) unknown unicast_peer option {other}"));
                        break;
                    }
                }
                self.cur().check_unicast_src = true;
            }
            i += 2;
        }
        if peer.min_ttl > peer.max_ttl {
            self.err(format!(
                "({iname}) min_ttl {} > max_ttl {} - all packets will be discarded",
                peer.min_ttl, peer.max_ttl
            ));
        }
        self.cur().peers.push(peer);
    }
}

/// The end of the VRRP process's configuration pass (`vrrp_complete_init`).
pub(crate) fn complete(p: &mut Parser<'_>) -> Result<(Vec<SyncGroup>, Vec<VrrpInstance>), Exit> {
    let g = p.global.data.clone();
    let mut raws = std::mem::take(&mut p.vrrp.instances);
    let groups = std::mem::take(&mut p.vrrp.groups);
    let members = std::mem::take(&mut p.vrrp.group_members);
    // Duplicate VRIDs on one interface (`vrrp_complete_init`).
    for a in 0..raws.len() {
        for b in a + 1..raws.len() {
            let (x, y) = (&raws[a], &raws[b]);
            if x.vrid != 0 && x.vrid == y.vrid && x.ifname.is_some() && x.ifname == y.ifname {
                let msg = format!(
                    "{} and {} both use VRID {} with IPv4 on interface {}",
                    x.name,
                    y.name,
                    x.vrid,
                    x.ifname.clone().unwrap_or_default()
                );
                p.err(msg);
                return Err(Exit(super::parser::EXIT_CONFIG));
            }
        }
    }
    // Sync groups (`vrrp_sync_set_group`).
    let mut out_groups = Vec::new();
    let mut member_of: Vec<Option<String>> = vec![None; raws.len()];
    for (mut grp, names) in groups.into_iter().zip(members) {
        let Some(names) = names else {
            p.err(format!("Sync group {} has no virtual router(s) - removing", grp.name));
            continue;
        };
        for n in names {
            match raws.iter().position(|r| r.name == n) {
                None => {
                    p.err(format!("Virtual router {n} specified in sync group {} doesn't exist - ignoring", grp.name))
                }
                Some(i) if member_of[i].is_some() => p.err(format!(
                    "VRRP instance {n} cannot be in sync group {} since it is already in sync group {}",
                    grp.name,
                    member_of[i].clone().unwrap_or_default()
                )),
                Some(i) => {
                    member_of[i] = Some(grp.name.clone());
                    grp.members.push(n);
                }
            }
        }
        if grp.members.is_empty() {
            continue;
        }
        if grp.members.len() == 1 {
            p.err(format!("Sync group {} has only 1 virtual router(s) - this probably isn't what you want", grp.name));
        }
        out_groups.push(grp);
    }
    let mut out = Vec::new();
    for (idx, raw) in raws.iter_mut().enumerate() {
        let sync = member_of[idx].clone();
        let tracking_weight = sync
            .as_ref()
            .and_then(|n| out_groups.iter().find(|gr: &&SyncGroup| &gr.name == n))
            .is_some_and(|gr| gr.sync_group_tracking_weight);
        out.push(complete_instance(p, &g, raw, sync, tracking_weight)?);
    }
    if !p.config_test {
        for s in &p.vrrp.scripts {
            let used = out.iter().any(|i| i.track_scripts.iter().any(|t| t.name == s.name))
                || out_groups.iter().any(|gr| gr.track_scripts.iter().any(|t| t.name == s.name));
            if !used {
                p.r.report(ConfigErr::GeneralError, format!("Warning - script {} is not used", s.name));
            }
        }
    }
    Ok((out_groups, out))
}

/// `vrrp_complete_instance` + `chk_min_cfg`.
fn complete_instance(
    p: &mut Parser<'_>,
    g: &GlobalDefs,
    r: &mut RawInstance,
    sync: Option<String>,
    sync_tracking_weight: bool,
) -> Result<VrrpInstance, Exit> {
    let name = r.name.clone();
    let fail = |p: &mut Parser<'_>, msg: String| {
        p.err(msg);
        Err(Exit(super::parser::EXIT_CONFIG))
    };
    let strict = r.strict.unwrap_or(g.vrrp_strict);
    let version = r.version.unwrap_or(g.vrrp_version);
    if r.vips.is_empty() && (version == 3 || strict) {
        return fail(p, format!("({name}) No VIP specified; at least one is required"));
    }
    let configured_priority = (r.base_priority != 0).then_some(r.base_priority);
    if r.base_priority == 0 {
        r.base_priority = if r.wantstate == Some(VrrpState::Master) { VRRP_PRIO_OWNER } else { VRRP_PRIO_DFL };
    }
    let owner = r.base_priority == VRRP_PRIO_OWNER;
    let mut state = match r.wantstate {
        None if owner => VrrpState::Master,
        None => VrrpState::Backup,
        Some(s) => s,
    };
    if r.wantstate.is_some() && strict && ((state == VrrpState::Master) != owner) {
        p.err(format!("({name}) State MASTER must match being address owner"));
        state = if owner { VrrpState::Master } else { VrrpState::Backup };
    }
    let mut auth = r.auth_type;
    if auth.is_some() {
        if strict {
            p.err(format!("({name}) Strict mode does not support authentication. Ignoring."));
            auth = None;
        } else if version == 3 {
            p.err(format!("({name}) VRRP version 3 does not support authentication. Ignoring."));
            auth = None;
        } else if r.auth_data[0] == 0 {
            p.err(format!("({name}) Authentication specified but no password given. Ignoring"));
            auth = None;
        } else if auth == Some(AuthType::Ah) && state == VrrpState::Master && !owner {
            p.err(format!("({name}) Initial state master is incompatible with AH authentication - clearing"));
            state = VrrpState::Backup;
        }
    }
    if r.vrid == 0 {
        return fail(p, format!("({name}) the virtual router id must be set"));
    }
    if r.ifname.is_none() && r.peers.is_empty() {
        return fail(p, format!("({name}) Unknown interface!"));
    }
    if strict && !r.peers.is_empty() {
        return fail(p, format!("({name}) Unicast peers are not supported in strict mode"));
    }
    if r.unicast_configured && r.peers.is_empty() {
        p.r.lab(format!("({name}) unicast configured without peers: keepalived falls back to multicast"));
    }
    let mut nopreempt = r.nopreempt;
    if owner && nopreempt {
        p.err(format!("({name}) nopreempt is incompatible with priority 255 - resetting nopreempt"));
        nopreempt = false;
    }
    let mut preempt_delay = r.preempt_delay_us;
    if state == VrrpState::Master {
        if nopreempt {
            p.err(format!("({name}) Warning - nopreempt will not work with initial state MASTER - clearing"));
            nopreempt = false;
        }
        if preempt_delay != 0 {
            p.err(format!("({name}) Warning - preempt delay will not work with initial state MASTER - clearing"));
            preempt_delay = 0;
        }
    }
    if preempt_delay != 0 {
        if strict {
            p.err(format!("({name}) preempt_delay is incompatible with strict mode - resetting"));
            preempt_delay = 0;
        }
        if nopreempt {
            p.err(format!("({name}) preempt_delay is incompatible with nopreempt mode - resetting"));
            preempt_delay = 0;
        }
    }
    let mut accept = r.accept.unwrap_or(!strict);
    if accept && !owner && strict && version == 2 {
        p.err(format!("({name}) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting"));
        accept = false;
    }
    let mut garp_lower_prio_repeat = r.garp_lower_prio_rep.unwrap_or(if strict {
        0
    } else {
        g.vrrp_garp_lower_prio_repeat.unwrap_or(g.vrrp_garp_master_repeat)
    });
    if strict && r.garp_lower_prio_rep.is_some_and(|n| n != 0) {
        p.err(format!("({name}) Strict mode requires no repeat garps - resetting"));
        garp_lower_prio_repeat = 0;
    }
    let mut garp_lower_prio_delay = r.garp_lower_prio_delay.unwrap_or(if strict {
        Duration::ZERO
    } else {
        g.vrrp_garp_lower_prio_delay.unwrap_or(g.vrrp_garp_master_delay)
    });
    if strict && r.garp_lower_prio_delay.is_some_and(|d| !d.is_zero()) {
        p.err(format!("({name}) Strict mode requires no repeat garp delay - resetting"));
        garp_lower_prio_delay = Duration::ZERO;
    }
    let mut lower_prio_no_advert = r.lower_prio_no_advert.unwrap_or(strict || g.vrrp_lower_prio_no_advert);
    if strict && r.lower_prio_no_advert == Some(false) {
        p.err(format!("({name}) Strict mode requires no lower priority advert - resetting"));
        lower_prio_no_advert = true;
    }
    let mut higher_prio_send_advert = r.higher_prio_send_advert.unwrap_or(!strict && g.vrrp_higher_prio_send_advert);
    if strict && r.higher_prio_send_advert == Some(true) {
        p.err(format!("({name}) strict mode requires higher_prio_send_advert to be clear - resetting"));
        higher_prio_send_advert = false;
    }
    let mut adver = r.adver_int_us.unwrap_or(TIMER_HZ);
    if version == 2 {
        if adver >= 256 * TIMER_HZ {
            p.err(format!(
                "({name}) VRRPv2 advertisement interval {:.2}s is out of range. Must be less than 256s. Setting to 255s",
                adver as f64 / 1e6
            ));
            adver = 255 * TIMER_HZ;
        } else if !adver.is_multiple_of(TIMER_HZ) {
            p.err(format!(
                "({name}) VRRPv2 advertisement interval {:.6}s must be an integer - rounding",
                adver as f64 / 1e6
            ));
            adver += TIMER_HZ / 2;
            adver -= adver % TIMER_HZ;
            if adver == 0 {
                adver = TIMER_HZ;
            }
        }
    } else {
        let centi = TIMER_HZ / 100;
        if adver >= 4096 * centi {
            p.err(format!(
                "({name}) VRRPv3 advertisement interval {:.2}s is out of range. Must be less than 40.96s. Setting to 40.95s",
                adver as f64 / 1e6
            ));
            adver = 4095 * centi;
        } else if !adver.is_multiple_of(centi) {
            p.err(format!(
                "({name}) VRRPv3 advertisement interval {:.6}s must be in units of 10ms - rounding",
                adver as f64 / 1e6
            ));
            adver += centi / 2;
            adver -= adver % centi;
            if adver == 0 {
                adver = centi;
            }
        }
    }
    // Tracking (`vrrp_complete_instance`): own interface, sync groups, address owners.
    let mut track_if = std::mem::take(&mut r.track_if);
    if let Some(own) = &r.ifname {
        track_if.retain(|t| {
            if &t.name == own {
                p.err(format!("({name}) Ignoring track_interface {own} since own interface"));
                false
            } else {
                true
            }
        });
    }
    let mut track_scr = std::mem::take(&mut r.track_scr);
    let sync_no_weight = sync.is_some() && !sync_tracking_weight;
    if sync_no_weight || owner {
        let why = if sync_no_weight { "SYNC group" } else { "address owner" };
        let mut kept = Vec::new();
        for mut t in track_if {
            if t.weight != 0 {
                let w = if sync_no_weight { "weight " } else { "" };
                p.err(format!("({name}) ignoring {} tracked interface {w}due to {why}", t.name));
                if sync_no_weight {
                    t.weight = 0;
                    kept.push(t);
                }
            } else {
                kept.push(t);
            }
        }
        track_if = kept;
        let why = if sync_no_weight { "SYNC group" } else { "address_owner" };
        track_scr.retain(|t| {
            if t.weight != 0 {
                p.err(format!("({name}) ignoring tracked script {} with weights due to {why}", t.name));
                false
            } else {
                true
            }
        });
    }
    Ok(VrrpInstance {
        name,
        configured_state: r.wantstate,
        state,
        interface: r.ifname.clone(),
        virtual_router_id: r.vrid,
        configured_priority,
        priority: r.base_priority,
        advert_int: Duration::from_micros(adver),
        version,
        nopreempt,
        preempt_delay: Duration::from_micros(preempt_delay),
        authentication: auth.map(|t| Authentication { auth_type: t, auth_pass: r.auth_data }),
        virtual_ipaddress: std::mem::take(&mut r.vips),
        virtual_ipaddress_excluded: std::mem::take(&mut r.evips),
        src_ip: r.saddr,
        unicast_peers: std::mem::take(&mut r.peers),
        unicast_ttl: r.ttl,
        mcast_dst_ip: r.mcast_dst,
        track_interfaces: track_if,
        track_scripts: track_scr,
        dont_track_primary: r.dont_track_primary,
        use_vmac: r.use_vmac.clone(),
        vmac_xmit_base: r.xmit_base,
        garp_master_delay: r.garp_delay.unwrap_or(g.vrrp_garp_master_delay),
        garp_master_repeat: r.garp_rep.unwrap_or(g.vrrp_garp_master_repeat),
        garp_master_refresh: r.garp_refresh.unwrap_or(g.vrrp_garp_master_refresh),
        garp_master_refresh_repeat: r.garp_refresh_rep.unwrap_or(g.vrrp_garp_master_refresh_repeat),
        garp_lower_prio_delay,
        garp_lower_prio_repeat,
        lower_prio_no_advert,
        higher_prio_send_advert,
        down_timer_adverts: r.down_timer_adverts,
        notify_master: r.notify_master.take(),
        notify_backup: r.notify_backup.take(),
        notify_fault: r.notify_fault.take(),
        notify_stop: r.notify_stop.take(),
        notify: r.notify.take(),
        smtp_alert: r.smtp_alert.unwrap_or(false),
        accept,
        strict_mode: strict,
        skip_check_adv_addr: r.skip_check_adv_addr || g.vrrp_skip_check_adv_addr,
        check_unicast_src: r.check_unicast_src || g.vrrp_check_unicast_src,
        sync_group: sync,
    })
}
