//! From the parsed configuration to the checker process's data (`check_data.c`,
//! `check_api.c: queue_checker`, `validate_check_config`'s last loop): the virtual servers
//! as IPVS will see them, their real and sorry servers, and the checkers in queue order.

use super::ipvs_sync::{CheckerState, Server, ServiceDef, VirtualServer};
use super::{Checker, Common, Kind, http, misc, ping, tcp, udp};
use crate::director::ipvs::service::{SVC_F_ONEPACKET, SVC_F_PERSISTENT};
use crate::director::ipvs::{Fwd, Proto, ServiceKey, ServiceSpec};
use crate::director::keepalived::{self as ka, CheckerKind, KeepalivedConfig, LbKind, Protocol, VsKey, VsgEntry};
use std::net::{Ipv4Addr, SocketAddrV4};

/// The most addresses one `virtual_server_group` range is expanded to.
const MAX_RANGE: u32 = 65536;

pub(super) struct Built {
    pub vss: Vec<VirtualServer>,
    pub checkers: Vec<Checker>,
    pub notes: Vec<String>,
}

/// `inet_sockaddrtotrio`'s protocol names.
fn proto_str(p: Option<Protocol>) -> &'static str {
    match p {
        Some(Protocol::Tcp) => "tcp",
        Some(Protocol::Udp) => "udp",
        Some(Protocol::Sctp) => "sctp",
        None => "none",
    }
}

fn fwd(k: LbKind) -> Fwd {
    match k {
        LbKind::Nat => Fwd::Masq,
        LbKind::Dr => Fwd::Route,
        LbKind::Tun => Fwd::Tunnel,
    }
}

/// `format_vs`: `[IP]:proto:port`, `FWM n`, or `[GROUP]:n` where `n` numbers the virtual
/// servers using the group (`link_vsg_to_vs`).
fn format_vs(vs: &ka::VirtualServer, member_no: usize) -> String {
    match &vs.key {
        VsKey::Addr { ip, port } => format!("[{ip}]:{}:{port}", proto_str(vs.protocol)),
        VsKey::Fwmark(m) => format!("FWM {m}"),
        VsKey::Group(g) => format!("[{g}]:{member_no}"),
    }
}

/// The IPVS services of a virtual server, or why it cannot have them here.
fn members(cfg: &KeepalivedConfig, vs: &ka::VirtualServer) -> Result<Vec<ServiceKey>, String> {
    let proto = |p: Option<Protocol>| match p {
        Some(Protocol::Tcp) => Ok(Proto::Tcp),
        Some(Protocol::Udp) | None => Ok(Proto::Udp),
        Some(Protocol::Sctp) => Err("SCTP services are not modelled by the lab's IPVS".to_string()),
    };
    match &vs.key {
        VsKey::Addr { ip, port } => Ok(vec![ServiceKey::Addr { proto: proto(vs.protocol)?, addr: *ip, port: *port }]),
        VsKey::Fwmark(m) => Ok(vec![ServiceKey::Fwmark(*m)]),
        VsKey::Group(g) => {
            let Some(group) = cfg.vs_groups.iter().find(|x| &x.name == g) else {
                return Err(format!("virtual_server_group {g} is not configured"));
            };
            let mut out = Vec::new();
            for e in &group.entries {
                if let VsgEntry::Range { first, last, port } = e {
                    let p = proto(vs.protocol)?;
                    let (a, b) = (u32::from(*first), u32::from(*last).max(u32::from(*first)));
                    let end = b.min(a.saturating_add(MAX_RANGE - 1));
                    out.extend((a..=end).map(|x| ServiceKey::Addr { proto: p, addr: Ipv4Addr::from(x), port: *port }));
                }
            }
            for e in &group.entries {
                if let VsgEntry::Fwmark(m) = e {
                    out.push(ServiceKey::Fwmark(*m));
                }
            }
            Ok(out)
        }
    }
}

/// `ipvs_set_srule`: scheduler, flags, persistence timeout and granularity.
fn template(vs: &ka::VirtualServer, key: ServiceKey) -> ServiceSpec {
    let mut spec = ServiceSpec::new(key, &vs.lb_algo);
    if vs.ops {
        spec.flags |= SVC_F_ONEPACKET;
    }
    if vs.persistence_timeout > 0 {
        spec.flags |= SVC_F_PERSISTENT;
        spec.timeout = vs.persistence_timeout;
        if let Some(m) = vs.persistence_granularity {
            spec.netmask = m;
        }
    }
    spec
}

fn server(addr: Ipv4Addr, port: u16, kind: LbKind, weight: u32, inhibit: bool, proto: &str) -> Server {
    Server {
        addr,
        port,
        fwd: fwd(kind),
        iweight: i64::from(weight),
        effective_weight: i64::from(weight),
        u_threshold: 0,
        l_threshold: 0,
        inhibit,
        alive: false,
        set: false,
        num_failed_checkers: 0,
        name: format!("[{addr}]:{proto}:{port}"),
    }
}

/// The virtual servers, real servers and checkers keepalived's checker process holds.
pub(super) fn build(cfg: &KeepalivedConfig) -> Built {
    let mut b = Built { vss: Vec::new(), checkers: Vec::new(), notes: Vec::new() };
    for (i, vs) in cfg.virtual_servers.iter().enumerate() {
        let member_no = match &vs.key {
            VsKey::Group(g) => {
                cfg.virtual_servers[..i].iter().filter(|o| matches!(&o.key, VsKey::Group(h) if h == g)).count()
            }
            _ => 0,
        };
        let name = format_vs(vs, member_no);
        let keys = match members(cfg, vs) {
            Ok(k) if !k.is_empty() => k,
            Ok(_) => {
                b.notes.push(format!("VS {name}: no IPVS service to add - ignored"));
                continue;
            }
            Err(why) => {
                b.notes.push(format!("VS {name}: {why} - ignored"));
                continue;
            }
        };
        let proto = proto_str(vs.protocol);
        if vs.quorum_up.is_some() || vs.quorum_down.is_some() {
            b.notes.push(format!("VS {name}: quorum_up/quorum_down scripts are not run"));
        }
        let v = b.vss.len();
        let mut out = VirtualServer {
            name,
            def: ServiceDef {
                template: template(vs, keys[0]),
                members: keys,
                group: matches!(vs.key, VsKey::Group(_)),
            },
            quorum: vs.quorum,
            hysteresis: vs.hysteresis,
            quorum_state_up: true,
            sorry: vs.sorry_server.as_ref().map(|s| server(s.addr, s.port, s.lb_kind, 1, s.inhibit, proto)),
            rs: Vec::new(),
            alive: false,
            ha_suspend: vs.ha_suspend,
            ha_suspend_addr_count: 0,
            vip: match vs.key {
                VsKey::Addr { ip, .. } => Some(ip),
                _ => None,
            },
        };
        for rs in &vs.real_servers {
            let r = out.rs.len();
            let mut srv = server(rs.addr, rs.port, rs.lb_kind, rs.weight, rs.inhibit_on_failure, proto);
            srv.u_threshold = rs.uthreshold;
            srv.l_threshold = rs.lthreshold;
            if rs.notify_up.is_some() || rs.notify_down.is_some() {
                b.notes.push(format!("{} of VS {}: notify_up/notify_down scripts are not run", srv.name, out.name));
            }
            for c in &rs.checkers {
                let Some(kind) = kind(c, rs, vs, &out.name, &srv.name, &mut b.notes) else { continue };
                let common = Common {
                    st: CheckerState { rs: r, is_up: true, has_run: false },
                    vs: v,
                    enabled: true,
                    retry: c.retry,
                    // "One failure is enough initially" (`validate_check_config`).
                    retry_it: c.retry,
                    delay_loop: c.delay_loop,
                    delay_before_retry: c.delay_before_retry,
                    warmup: c.warmup,
                    timeout: c.connect_timeout,
                    log_all_failures: c.log_all_failures || cfg.global.checker_log_all_failures,
                };
                let mut ch = Checker { c: common, kind };
                // Alpha mode: the checker starts failed and the server down.
                if c.alpha {
                    ch.c.st.is_up = false;
                    srv.num_failed_checkers += 1;
                    srv.alive = false;
                }
                b.checkers.push(ch);
            }
            out.rs.push(srv);
        }
        b.vss.push(out);
    }
    b
}

/// The checker's connection destination and source (`conn_opts_t`).
fn conn(c: &ka::Checker, rs: &ka::RealServer) -> (SocketAddrV4, Option<SocketAddrV4>) {
    let dst = SocketAddrV4::new(c.connect_ip.unwrap_or(rs.addr), c.connect_port.unwrap_or(rs.port));
    let bind = (c.bindto.is_some() || c.bind_port.is_some())
        .then(|| SocketAddrV4::new(c.bindto.unwrap_or(Ipv4Addr::UNSPECIFIED), c.bind_port.unwrap_or(0)));
    (dst, bind)
}

fn kind(
    c: &ka::Checker,
    rs: &ka::RealServer,
    vs: &ka::VirtualServer,
    vs_name: &str,
    rs_name: &str,
    notes: &mut Vec<String>,
) -> Option<Kind> {
    let (dst, bind) = conn(c, rs);
    Some(match &c.kind {
        CheckerKind::Tcp => Kind::Tcp(tcp::TcpCheck::new(dst, bind)),
        CheckerKind::Http(h) => {
            let vhost = h.virtualhost.as_deref().or(rs.virtualhost.as_deref()).or(vs.virtualhost.as_deref());
            Kind::Http(Box::new(http::HttpCheck::new(h, dst, bind, vhost)))
        }
        CheckerKind::Misc(m) => Kind::Misc(misc::MiscCheck::new(m, vs.delay_loop)),
        CheckerKind::Ping => Kind::Ping(ping::PingCheck::new(*dst.ip(), bind.map(|b| *b.ip()))),
        CheckerKind::Udp(u) => Kind::Udp(udp::UdpCheck::new(u, dst, bind)),
        CheckerKind::Smtp { .. } | CheckerKind::Dns { .. } => {
            notes.push(format!(
                "{} for {rs_name} of VS {vs_name}: not run by the lab; the real server follows its other checkers",
                c.kind.keyword()
            ));
            Kind::Idle
        }
        CheckerKind::File | CheckerKind::Bfd => {
            notes.push(format!("{} for {rs_name} of VS {vs_name}: not modelled - ignored", c.kind.keyword()));
            return None;
        }
    })
}
