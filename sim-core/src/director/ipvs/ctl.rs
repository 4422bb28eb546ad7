//! The control interface (ip_vs_ctl.c): add, edit and delete services and dests with
//! the kernel's checks and errors, zero counters, set timeouts, the dest trash, and
//! the read side ipvsadm and the outcome report use.
//!
//! This is also the programmatic API for keepalived: it has the kernel's semantics
//! (what `setsockopt`/netlink do). ipvsadm's own rules (default weight 1, the dest
//! port forced to the service port for `-g`/`-i`, ...) live in
//! [`crate::director::ipvsadm`].

use super::conn::ip;
use super::dest::{DEST_F_AVAILABLE, DEST_F_OVERLOAD, Dest, DestSpec, Fwd, TRASH_PERIOD_NS};
use super::sched::{self, DestList};
use super::service::{FTPPORT, SVC_F_PERSISTENT, Service, ServiceKey, ServiceSpec};
use super::stats::{Stats, StatsView};
use super::{Ipvs, proto_tcp, proto_udp};
use crate::report::{IpvsConn, IpvsDest, IpvsReport, IpvsService};
use crate::time::Instant;
use std::fmt;
use std::net::Ipv4Addr;

/// Why a control operation failed, by the errno the kernel returns. The text a
/// tool prints for it depends on the operation (libipvs's `ipvs_strerror`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpvsError {
    /// EEXIST: the service or dest already exists.
    Exists,
    /// ESRCH: no such service.
    NoService,
    /// ENOENT: no such dest, or (service ops) no such scheduler or PE.
    NotFound,
    /// ERANGE: negative weight, or lower threshold above upper.
    Range,
    /// EINVAL: e.g. a dest address that is not unicast.
    Invalid,
    /// EAFNOSUPPORT: an address family this model does not do (IPv6).
    AddressFamily,
    /// EFAULT: a protocol the kernel does not accept.
    Fault,
}

impl IpvsError {
    pub fn errno(self) -> i32 {
        match self {
            IpvsError::Exists => 17,
            IpvsError::NoService => 3,
            IpvsError::NotFound => 2,
            IpvsError::Range => 34,
            IpvsError::Invalid => 22,
            IpvsError::AddressFamily => 97,
            IpvsError::Fault => 14,
        }
    }
}

impl fmt::Display for IpvsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpvsError::Exists => "already exists",
            IpvsError::NoService => "no such service",
            IpvsError::NotFound => "not found",
            IpvsError::Range => "numerical result out of range",
            IpvsError::Invalid => "invalid argument",
            IpvsError::AddressFamily => "address family not supported",
            IpvsError::Fault => "bad address",
        })
    }
}

impl std::error::Error for IpvsError {}

/// A service as the kernel reports it (`ip_vs_service_entry` + dests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    pub key: ServiceKey,
    pub scheduler: &'static str,
    pub flags: u32,
    /// Persistence timeout, seconds.
    pub timeout: u32,
    pub netmask: Ipv4Addr,
    pub stats: StatsView,
    /// In kernel list order (reverse order of addition).
    pub dests: Vec<DestInfo>,
    /// FULLNAT local addresses.
    pub laddrs: Vec<Ipv4Addr>,
}

/// A dest as the kernel reports it (`ip_vs_dest_entry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestInfo {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub fwd: Fwd,
    pub weight: i32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub activeconns: i32,
    pub inactconns: i32,
    pub persistconns: i32,
    pub stats: StatsView,
}

/// One line of /proc/net/ip_vs_conn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnEntry {
    /// IP protocol; 0 for fwmark templates.
    pub proto: u8,
    pub caddr: Ipv4Addr,
    pub cport: u16,
    pub vaddr: Ipv4Addr,
    pub vport: u16,
    pub daddr: Ipv4Addr,
    pub dport: u16,
    /// `ip_vs_state_name`.
    pub state: &'static str,
    /// Time to the timer, ms (never negative).
    pub expires_ms: u64,
    pub template: bool,
    /// FULLNAT local address and port.
    pub local: Option<(Ipv4Addr, u16)>,
}

/// `ip_vs_proto_name`.
pub fn proto_name(p: u8) -> String {
    match p {
        0 => "IP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        132 => "SCTP".into(),
        1 => "ICMP".into(),
        n => format!("IP_{n}"),
    }
}

fn svc_table_key(proto: u8, addr: u32, port: u16) -> u64 {
    u64::from(proto) << 48 | u64::from(port) << 32 | u64::from(addr)
}

impl Ipvs {
    /// The index of the live service with `key` (`__ip_vs_service_find` /
    /// `__ip_vs_svc_fwm_find`).
    pub(crate) fn find_service(&self, key: &ServiceKey) -> Option<u32> {
        match *key {
            ServiceKey::Addr { proto, addr, port } => {
                self.svc_table.get(&svc_table_key(proto.num(), u32::from(addr), port)).copied()
            }
            ServiceKey::Fwmark(m) => self.svc_fwm_table.get(&m).copied(),
        }
    }

    #[inline]
    pub(crate) fn svc_lookup(&self, proto: u8, addr: u32, port: u16) -> Option<u32> {
        self.svc_table.get(&svc_table_key(proto, addr, port)).copied()
    }

    #[inline]
    pub(crate) fn svc_fwm_lookup(&self, mark: u32) -> Option<u32> {
        self.svc_fwm_table.get(&mark).copied()
    }

    /// `ip_vs_service_find` for a packet: fwmark, exact, then FTP (port 21 for data
    /// from port 20 or unprivileged ports), then port 0 (§1.1).
    pub(crate) fn service_find(&self, mark: u32, proto: u8, vaddr: u32, vport: u16) -> Option<u32> {
        if mark != 0
            && let Some(s) = self.svc_fwm_lookup(mark)
        {
            return Some(s);
        }
        if let Some(s) = self.svc_lookup(proto, vaddr, vport) {
            return Some(s);
        }
        if self.ftpsvc_count > 0
            && proto == 6
            && (vport == super::service::FTPDATA || vport >= 1024)
            && let Some(s) = self.svc_lookup(proto, vaddr, FTPPORT)
        {
            return Some(s);
        }
        if self.nullsvc_count > 0 {
            return self.svc_lookup(proto, vaddr, 0);
        }
        None
    }

    fn dest_list(&self, svc: u32) -> DestList<'_> {
        DestList { order: &self.services[svc as usize].dests, all: &self.dests }
    }

    /// `ip_vs_add_service`.
    pub fn add_service(&mut self, now: Instant, spec: &ServiceSpec) -> Result<(), IpvsError> {
        if self.find_service(&spec.key).is_some() {
            return Err(IpvsError::Exists);
        }
        let Some(sched) = sched::new(&spec.scheduler, &DestList { order: &[], all: &self.dests }, now) else {
            return Err(IpvsError::NotFound);
        };
        if spec.pe.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(IpvsError::NotFound);
        }
        let idx = self.services.len() as u32;
        let uid = self.next_svc_uid;
        self.next_svc_uid += 1;
        self.services.push(Service {
            key: spec.key,
            uid,
            live: true,
            flags: spec.flags,
            timeout: spec.timeout,
            netmask: u32::from(spec.netmask),
            sched,
            dests: Vec::new(),
            stats: Stats::new(now),
            laddrs: Vec::new(),
            laddr_next: 0,
        });
        match spec.key {
            ServiceKey::Addr { proto, addr, port } => {
                self.svc_table.insert(svc_table_key(proto.num(), u32::from(addr), port), idx);
                if port == FTPPORT {
                    self.ftpsvc_count += 1;
                } else if port == 0 {
                    self.nullsvc_count += 1;
                }
            }
            ServiceKey::Fwmark(m) => {
                self.svc_fwm_table.insert(m, idx);
            }
        }
        Ok(())
    }

    /// `ip_vs_edit_service`: flags, timeout and netmask are replaced; a different
    /// scheduler is bound afresh (`init_service`).
    pub fn edit_service(&mut self, now: Instant, spec: &ServiceSpec) -> Result<(), IpvsError> {
        let s = self.find_service(&spec.key).ok_or(IpvsError::NoService)?;
        if !sched::NAMES.contains(&spec.scheduler.as_str()) || spec.pe.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(IpvsError::NotFound);
        }
        let rebind = self.services[s as usize].sched.name() != spec.scheduler;
        if rebind && let Some(new) = sched::new(&spec.scheduler, &self.dest_list(s), now) {
            self.services[s as usize].sched = new;
        }
        let svc = &mut self.services[s as usize];
        svc.flags = spec.flags;
        svc.timeout = spec.timeout;
        svc.netmask = u32::from(spec.netmask);
        Ok(())
    }

    /// `ip_vs_del_service`: its dests go to the trash; connections stay.
    pub fn del_service(&mut self, now: Instant, key: &ServiceKey) -> Result<(), IpvsError> {
        let s = self.find_service(key).ok_or(IpvsError::NoService)?;
        self.unlink_service(s, now);
        Ok(())
    }

    fn unlink_service(&mut self, s: u32, now: Instant) {
        let svc = &mut self.services[s as usize];
        svc.live = false;
        let dests = std::mem::take(&mut svc.dests);
        match svc.key {
            ServiceKey::Addr { proto, addr, port } => {
                self.svc_table.remove(&svc_table_key(proto.num(), u32::from(addr), port));
                if port == FTPPORT {
                    self.ftpsvc_count -= 1;
                } else if port == 0 {
                    self.nullsvc_count -= 1;
                }
            }
            ServiceKey::Fwmark(m) => {
                self.svc_fwm_table.remove(&m);
            }
        }
        for d in dests {
            self.dests[d as usize].flags &= !DEST_F_AVAILABLE;
            self.del_dest_to_trash(d, now);
        }
    }

    /// `ip_vs_flush` (`ipvsadm -C`): delete every service.
    pub fn flush(&mut self, now: Instant) {
        for s in 0..self.services.len() as u32 {
            if self.services[s as usize].live {
                self.unlink_service(s, now);
            }
        }
    }

    /// `ip_vs_zero_service` / `ip_vs_zero_all` (`ipvsadm -Z [service]`).
    pub fn zero(&mut self, now: Instant, key: Option<&ServiceKey>) -> Result<(), IpvsError> {
        let targets: Vec<u32> = match key {
            Some(k) => vec![self.find_service(k).ok_or(IpvsError::NoService)?],
            None => (0..self.services.len() as u32).filter(|&s| self.services[s as usize].live).collect(),
        };
        for s in targets {
            let svc = &mut self.services[s as usize];
            svc.stats.zero(now);
            for &d in &svc.dests {
                self.dests[d as usize].stats.zero(now);
            }
        }
        Ok(())
    }

    /// `ip_vs_lookup_dest`: the dest `addr:port` of service `s`.
    fn lookup_dest(&self, s: u32, addr: Ipv4Addr, port: u16) -> Option<u32> {
        self.services[s as usize].dests.iter().copied().find(|&d| {
            let x = &self.dests[d as usize];
            x.addr == addr && x.port == port
        })
    }

    /// `__ip_vs_update_dest`: weight (and `last_weight`), method, thresholds, the
    /// OVERLOAD clear; then link at the head and call `add_dest`, or `upd_dest`.
    fn update_dest(&mut self, s: u32, d: u32, spec: &DestSpec, add: bool, now: Instant) {
        let svc_uid = self.services[s as usize].uid;
        let x = &mut self.dests[d as usize];
        if add || spec.weight != 0 {
            x.last_weight = spec.weight;
        }
        x.weight = spec.weight;
        x.fwd = spec.fwd;
        if x.svc_uid != svc_uid {
            x.stats.zero(now);
        }
        x.svc = s;
        x.svc_uid = svc_uid;
        x.flags |= DEST_F_AVAILABLE;
        if spec.u_threshold == 0 || spec.u_threshold > x.u_threshold {
            x.flags &= !DEST_F_OVERLOAD;
        }
        x.u_threshold = spec.u_threshold;
        x.l_threshold = spec.l_threshold;
        if add {
            self.services[s as usize].dests.insert(0, d);
            self.with_sched(s, |sch, list| sch.add_dest(list));
        } else {
            self.with_sched(s, |sch, list| sch.upd_dest(list));
        }
    }

    /// Runs `f` on service `s`'s scheduler with its dest list.
    fn with_sched(&mut self, s: u32, f: impl FnOnce(&mut dyn sched::Scheduler, &DestList)) {
        let svc = &mut self.services[s as usize];
        let list = DestList { order: &svc.dests, all: &self.dests };
        f(svc.sched.as_mut(), &list);
    }

    fn check_thresholds(spec: &DestSpec) -> Result<(), IpvsError> {
        if spec.weight < 0 || spec.l_threshold > spec.u_threshold {
            return Err(IpvsError::Range);
        }
        Ok(())
    }

    /// `ip_vs_add_dest`: a dest with the same `addr:port` in the trash of the same
    /// service (by key) is revived with its counters and connections.
    pub fn add_dest(&mut self, now: Instant, key: &ServiceKey, spec: &DestSpec) -> Result<(), IpvsError> {
        let s = self.find_service(key).ok_or(IpvsError::NoService)?;
        Self::check_thresholds(spec)?;
        if spec.fwd == Fwd::Bypass {
            return Err(IpvsError::Invalid);
        }
        if self.lookup_dest(s, spec.addr, spec.port).is_some() {
            return Err(IpvsError::Exists);
        }
        let svc_key = self.services[s as usize].key;
        let revived = self.trash.iter().position(|&d| {
            let x = &self.dests[d as usize];
            x.addr == spec.addr && x.port == spec.port && self.services[x.svc as usize].key == svc_key
        });
        let d = match revived {
            Some(pos) => {
                let d = self.trash.remove(pos);
                self.dests[d as usize].in_trash = false;
                if self.trash.is_empty() {
                    self.trash_timer = None;
                }
                d
            }
            None => {
                let a = spec.addr.octets();
                if a[0] == 0 || spec.addr.is_multicast() || spec.addr.is_broadcast() || a[0] >= 240 {
                    return Err(IpvsError::Invalid);
                }
                self.dests.push(Dest {
                    addr: spec.addr,
                    port: spec.port,
                    fwd: spec.fwd,
                    weight: 0,
                    last_weight: 0,
                    u_threshold: 0,
                    l_threshold: 0,
                    flags: 0,
                    activeconns: 0,
                    inactconns: 0,
                    persistconns: 0,
                    refcnt: 0,
                    svc: s,
                    svc_uid: self.services[s as usize].uid,
                    stats: Box::new(Stats::new(now)),
                    in_trash: false,
                    idle_start: None,
                    dst: None,
                });
                (self.dests.len() - 1) as u32
            }
        };
        self.update_dest(s, d, spec, true, now);
        Ok(())
    }

    /// `ip_vs_edit_dest`.
    pub fn edit_dest(&mut self, now: Instant, key: &ServiceKey, spec: &DestSpec) -> Result<(), IpvsError> {
        let s = self.find_service(key).ok_or(IpvsError::NoService)?;
        Self::check_thresholds(spec)?;
        if spec.fwd == Fwd::Bypass {
            return Err(IpvsError::Invalid);
        }
        let d = self.lookup_dest(s, spec.addr, spec.port).ok_or(IpvsError::NotFound)?;
        self.update_dest(s, d, spec, false, now);
        Ok(())
    }

    /// `ip_vs_del_dest`: unlink (clearing AVAILABLE, `del_dest` hook) and trash.
    pub fn del_dest(&mut self, now: Instant, key: &ServiceKey, addr: Ipv4Addr, port: u16) -> Result<(), IpvsError> {
        let s = self.find_service(key).ok_or(IpvsError::NoService)?;
        let d = self.lookup_dest(s, addr, port).ok_or(IpvsError::NotFound)?;
        self.dests[d as usize].flags &= !DEST_F_AVAILABLE;
        let svc = &mut self.services[s as usize];
        let pos = svc.dests.iter().position(|&x| x == d).unwrap_or(0);
        svc.dests.remove(pos);
        self.with_sched(s, |sch, list| sch.del_dest(list, d, pos));
        self.del_dest_to_trash(d, now);
        Ok(())
    }

    /// `__ip_vs_del_dest`: into the trash, the trash timer started if it was empty,
    /// and the `expire_nodest_conn` flush.
    fn del_dest_to_trash(&mut self, d: u32, now: Instant) {
        if self.trash.is_empty() {
            self.trash_timer = Some(now + std::time::Duration::from_nanos(TRASH_PERIOD_NS / 2));
        }
        let x = &mut self.dests[d as usize];
        x.in_trash = true;
        x.idle_start = None;
        self.trash.insert(0, d);
        if self.sysctl.expire_nodest_conn != 0 {
            self.expire_nodest_conn_flush(now);
        }
    }

    /// `ip_vs_dest_trash_expire`, every 60 s while the trash is not empty: a dest no
    /// longer referenced is marked idle, and forgotten 120 s after that.
    pub(crate) fn dest_trash_expire(&mut self, now: Instant) {
        let mut keep = Vec::with_capacity(self.trash.len());
        for &d in &self.trash {
            let svc = self.dests[d as usize].svc as usize;
            let sched_ref = self.services[svc].live && self.services[svc].sched.holds(d);
            let x = &mut self.dests[d as usize];
            if x.refcnt > 0 || sched_ref {
                keep.push(d);
                continue;
            }
            match x.idle_start {
                Some(t) if now.nanos() >= t.nanos() + TRASH_PERIOD_NS => x.in_trash = false,
                Some(_) => keep.push(d),
                None => {
                    x.idle_start = Some(now);
                    keep.push(d);
                }
            }
        }
        self.trash = keep;
        self.trash_timer = (!self.trash.is_empty()).then(|| now + std::time::Duration::from_nanos(TRASH_PERIOD_NS / 2));
    }

    /// `ipvsadm --set tcp tcpfin udp` (`ip_vs_set_timeout`): ESTABLISHED, FIN_WAIT
    /// and UDP timeouts in seconds; 0 leaves a value unchanged.
    pub fn set_timeouts(&mut self, tcp: u32, tcpfin: u32, udp: u32) {
        if tcp != 0 {
            self.tcp_timeouts[usize::from(proto_tcp::S_ESTABLISHED)] = tcp;
        }
        if tcpfin != 0 {
            self.tcp_timeouts[usize::from(proto_tcp::S_FIN_WAIT)] = tcpfin;
        }
        if udp != 0 {
            self.udp_timeout = udp;
        }
    }

    /// `ipvsadm -L --timeout`: (tcp, tcpfin, udp) seconds.
    pub fn timeouts(&self) -> (u32, u32, u32) {
        (
            self.tcp_timeouts[usize::from(proto_tcp::S_ESTABLISHED)],
            self.tcp_timeouts[usize::from(proto_tcp::S_FIN_WAIT)],
            self.udp_timeout,
        )
    }

    fn service_info(&self, s: u32, now: Instant) -> ServiceInfo {
        let svc = &self.services[s as usize];
        ServiceInfo {
            key: svc.key,
            scheduler: svc.sched.name(),
            flags: svc.flags,
            timeout: svc.timeout,
            netmask: Ipv4Addr::from(svc.netmask),
            stats: svc.stats.view(now),
            dests: svc
                .dests
                .iter()
                .map(|&d| {
                    let x = &self.dests[d as usize];
                    DestInfo {
                        addr: x.addr,
                        port: x.port,
                        fwd: x.fwd,
                        weight: x.weight,
                        u_threshold: x.u_threshold,
                        l_threshold: x.l_threshold,
                        activeconns: x.activeconns,
                        inactconns: x.inactconns,
                        persistconns: x.persistconns,
                        stats: x.stats.view(now),
                    }
                })
                .collect(),
            laddrs: svc.laddrs.clone(),
        }
    }

    /// Every service: address services in the order they were added, then fwmark
    /// services likewise (the kernel dumps its two hash tables in hash order, which
    /// is not reproducible; this is the documented stand-in for `--nosort`).
    pub fn services(&self, now: Instant) -> Vec<ServiceInfo> {
        let live = |fwm: bool| {
            (0..self.services.len() as u32)
                .filter(move |&s| self.services[s as usize].live && (self.services[s as usize].fwmark() != 0) == fwm)
        };
        live(false).chain(live(true)).map(|s| self.service_info(s, now)).collect()
    }

    /// One service (`ipvs_get_service`).
    pub fn service(&self, now: Instant, key: &ServiceKey) -> Option<ServiceInfo> {
        self.find_service(key).map(|s| self.service_info(s, now))
    }

    /// /proc/net/ip_vs_conn, in creation order (the kernel's hash order is random).
    pub fn conn_entries(&self, now: Instant) -> Vec<ConnEntry> {
        self.conns
            .live_in_order()
            .into_iter()
            .map(|i| {
                let c = self.conns.conn(i);
                let state = if c.is_template() {
                    if c.state & super::conn::CTPL_S_ASSURED != 0 { "ASSURED" } else { "NONE" }
                } else if c.proto == 6 {
                    proto_tcp::state_name(c.state)
                } else if c.proto == 17 {
                    proto_udp::STATE_NAME
                } else {
                    "NONE"
                };
                ConnEntry {
                    proto: c.proto,
                    caddr: ip(c.caddr),
                    cport: c.cport,
                    vaddr: ip(c.vaddr),
                    vport: c.vport,
                    daddr: ip(c.daddr),
                    dport: c.dport,
                    state,
                    expires_ms: c.expires.saturating_sub(now.nanos()) / 1_000_000,
                    template: c.is_template(),
                    local: (c.fwd() == Fwd::FullNat && !c.is_template()).then(|| (ip(c.laddr), c.lport)),
                }
            })
            .collect()
    }

    /// This director's part of the outcome report: services sorted as
    /// `ipvsadm -Ln` sorts them, dests by address, connections oldest first.
    pub fn report(&self, now: Instant) -> IpvsReport {
        let mut services = self.services(now);
        services.sort_by_key(|s| (s.key.fwmark(), s.key));
        IpvsReport {
            services: services
                .into_iter()
                .map(|s| {
                    let mut dests: Vec<IpvsDest> = s
                        .dests
                        .iter()
                        .map(|d| IpvsDest {
                            addr: format!("{}:{}", d.addr, d.port),
                            forward: d.fwd.name().to_string(),
                            weight: u32::try_from(d.weight).unwrap_or(0),
                            active: u32::try_from(d.activeconns).unwrap_or(0),
                            inactive: u32::try_from(d.inactconns).unwrap_or(0),
                            persistent: u32::try_from(d.persistconns).unwrap_or(0),
                            conns: d.stats.conns,
                        })
                        .collect();
                    dests.sort_by_key(|d| d.addr.parse::<std::net::SocketAddrV4>().ok());
                    IpvsService {
                        name: s.key.to_string(),
                        scheduler: s.scheduler.to_string(),
                        persistent: (s.flags & SVC_F_PERSISTENT != 0).then_some(s.timeout),
                        dests,
                    }
                })
                .collect(),
            conns: self
                .conn_entries(now)
                .into_iter()
                .map(|c| IpvsConn {
                    proto: proto_name(c.proto),
                    state: c.state.to_string(),
                    client: format!("{}:{}", c.caddr, c.cport),
                    virt: format!("{}:{}", c.vaddr, c.vport),
                    dest: format!("{}:{}", c.daddr, c.dport),
                    expire_ms: c.expires_ms,
                })
                .collect(),
        }
    }

    /// Consistency of counters with the table, for tests: every dest's active,
    /// inactive and persistent counts equal the entries bound to it.
    #[cfg(test)]
    pub(crate) fn check_counters(&self) -> Result<(), String> {
        use super::conn::{NONE, cf};
        let mut want = vec![(0i32, 0i32, 0i32, 0u32); self.dests.len()];
        for i in self.conns.live_in_order() {
            let c = self.conns.conn(i);
            if c.dest == NONE {
                continue;
            }
            let w = &mut want[c.dest as usize];
            if c.is_template() {
                w.2 += 1;
            } else if c.has(cf::INACTIVE) {
                w.1 += 1;
            } else {
                w.0 += 1;
            }
            w.3 += 1;
        }
        for (i, d) in self.dests.iter().enumerate() {
            let got = (d.activeconns, d.inactconns, d.persistconns, d.refcnt);
            if got != want[i] {
                return Err(format!("dest {}: counters {got:?}, entries say {:?}", d.name(), want[i]));
            }
        }
        Ok(())
    }
}
