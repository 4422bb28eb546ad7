//! ipvsadm's output (ipvsadm.c `list_all`, `print_title`, `print_service_entry`,
//! `list_conn`, `print_largenum`, `usage_exit`; reference §9), byte for byte,
//! including the trailing blanks of `%-10u`.

use super::services::port_to_service;
use crate::director::ipvs::service::{SVC_F_ONEPACKET, SVC_F_PERSISTENT, SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3};
use crate::director::ipvs::{CONN_TAB_SIZE, DestInfo, Fwd, Ipvs, ServiceInfo, ServiceKey, VERSION};
use crate::time::Instant;
use std::fmt::Write;
use std::net::Ipv4Addr;

/// `FMT_*` bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Format {
    pub numeric: bool,
    pub stats: bool,
    pub rate: bool,
    pub thresholds: bool,
    pub persistent_conn: bool,
    pub nosort: bool,
    pub exact: bool,
    pub tun_info: bool,
}

/// `ipvsadm -v`.
pub const VERSION_LINE: &str = "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n";

/// The schedulers ipvsadm 1.31's usage names (its SCHEDULERS file).
const SCHEDULERS: &str = "rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh";

/// `print_largenum`.
pub fn largenum(s: &mut String, i: u64, exact: bool) {
    if exact {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(s, "{i:>w$}");
        return;
    }
    let _ = if i < 100_000_000 {
        write!(s, "{i:>9}")
    } else if i < 1_000_000_000 {
        write!(s, "{:>8}K", i / 1000)
    } else if i < 100_000_000_000 {
        write!(s, "{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        write!(s, "{:>8}G", i / 1_000_000_000)
    } else {
        write!(s, "{:>8}T", i / 1_000_000_000_000)
    };
}

/// `addrport_to_anyname`: numeric, or with the port's service name (addresses stay
/// numeric: no resolver is modelled).
pub fn addrport(a: Ipv4Addr, port: u16, proto: u8, numeric: bool) -> String {
    match (numeric, port_to_service(port, proto)) {
        (false, Some(name)) => format!("{a}:{name}"),
        _ => format!("{a}:{port}"),
    }
}

fn truncate(mut s: String, n: usize) -> String {
    s.truncate(n);
    s
}

/// glibc's `qsort` (a stable top-down merge sort, `msort_with_tmp`) with an `int`
/// comparator: the order ipvsadm prints even when the comparator is not
/// transitive (its subtraction quirk below).
pub fn msort<T: Clone>(v: &mut [T], cmp: &impl Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    msort(&mut v[..n1], cmp);
    msort(&mut v[n1..], cmp);
    let (left, right) = (v[..n1].to_vec(), v[n1..].to_vec());
    let (mut i, mut j, mut k) = (0, 0, 0);
    while i < left.len() && j < right.len() {
        if cmp(&left[i], &right[j]) <= 0 {
            v[k] = left[i].clone();
            i += 1;
        } else {
            v[k] = right[j].clone();
            j += 1;
        }
        k += 1;
    }
    while i < left.len() {
        v[k] = left[i].clone();
        i += 1;
        k += 1;
    }
}

/// `(int)(a − b)` of two u32s, as libipvs compares addresses and fwmarks: values
/// 2^31 or more apart compare the wrong way round.
fn wrap_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// `ipvs_cmp_services`: fwmark, then protocol, address, port.
fn cmp_services(a: &ServiceInfo, b: &ServiceInfo) -> i32 {
    let r = wrap_diff(a.key.fwmark(), b.key.fwmark());
    if r != 0 {
        return r;
    }
    let (pa, aa, pta) = parts(&a.key);
    let (pb, ab, ptb) = parts(&b.key);
    let r = i32::from(pa) - i32::from(pb);
    if r != 0 {
        return r;
    }
    let r = wrap_diff(aa, ab);
    if r != 0 {
        return r;
    }
    i32::from(pta) - i32::from(ptb)
}

/// (protocol, address, port) as the kernel stores them; fwmark services are TCP
/// with a zero address (ipvsadm's `-f` sets `protocol = IPPROTO_TCP`).
fn parts(k: &ServiceKey) -> (u8, u32, u16) {
    match *k {
        ServiceKey::Addr { proto, addr, port } => (proto.num(), u32::from(addr), port),
        ServiceKey::Fwmark(_) => (6, 0, 0),
    }
}

/// `ipvs_cmp_dests`: address, then port.
fn cmp_dests(a: &DestInfo, b: &DestInfo) -> i32 {
    let r = wrap_diff(u32::from(a.addr), u32::from(b.addr));
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// `fwd_switch` (plus Alibaba's `-b` for FULLNAT).
fn fwd_switch(f: Fwd) -> &'static str {
    match f {
        Fwd::Masq => "-m",
        Fwd::Tunnel => "-i",
        Fwd::Local | Fwd::Route => "-g",
        Fwd::FullNat => "-b",
        Fwd::Bypass => "(null)",
    }
}

/// `print_sched_flags`: comma-joined, named per scheduler.
fn sched_flags(s: &ServiceInfo) -> String {
    let names: [(u32, &str); 3] = match s.scheduler {
        "sh" => [(SVC_F_SCHED1, "sh-fallback"), (SVC_F_SCHED2, "sh-port"), (0, "")],
        "mh" => [(SVC_F_SCHED1, "mh-fallback"), (SVC_F_SCHED2, "mh-port"), (0, "")],
        _ => [(SVC_F_SCHED1, "flag-1"), (SVC_F_SCHED2, "flag-2"), (SVC_F_SCHED3, "flag-3")],
    };
    names.iter().filter(|(b, _)| *b != 0 && s.flags & b != 0).map(|(_, n)| *n).collect::<Vec<_>>().join(",")
}

/// `print_title`.
fn title(f: Format) -> &'static str {
    if f.stats {
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  -> RemoteAddress:Port\n"
    } else if f.rate {
        "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n  -> RemoteAddress:Port\n"
    } else if f.thresholds {
        "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n  -> RemoteAddress:Port\n"
    } else if f.persistent_conn {
        "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn \n  -> RemoteAddress:Port\n"
    } else if f.tun_info {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
    } else {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    }
}

/// `print_service_entry`.
fn service_entry(out: &mut String, se: &ServiceInfo, f: Format, rule: bool) {
    let svc_name = match se.key {
        ServiceKey::Fwmark(m) if rule => format!("-f {m}"),
        ServiceKey::Fwmark(m) => format!("FWM  {m}"),
        ServiceKey::Addr { proto, addr, port } => {
            let v = addrport(addr, port, proto.num(), f.numeric);
            if rule {
                let opt = if proto.num() == 6 { "-t" } else { "-u" };
                format!("{opt} {v}")
            } else {
                truncate(format!("{:<4} {v}", proto.name()), 33)
            }
        }
    };
    let has_flags = se.flags & (SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3) != 0;
    let mask = u32::from(se.netmask);
    if rule {
        let _ = write!(out, "-A {svc_name} -s {}", se.scheduler);
        if se.flags & SVC_F_PERSISTENT != 0 {
            let _ = write!(out, " -p {}", se.timeout);
            if mask != u32::MAX {
                let _ = write!(out, " -M {}", se.netmask);
            }
        }
        if se.flags & SVC_F_ONEPACKET != 0 {
            out.push_str(" -o");
        }
        if has_flags {
            let _ = write!(out, " -b {}", sched_flags(se));
        }
    } else if f.stats || f.rate {
        let _ = write!(out, "{svc_name:<33}");
        let s = &se.stats;
        let v = if f.stats {
            [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes]
        } else {
            [s.cps, s.inpps, s.outpps, s.inbps, s.outbps]
        };
        for n in v {
            largenum(out, n, f.exact);
        }
    } else {
        let _ = write!(out, "{svc_name} {}", se.scheduler);
        if has_flags {
            let _ = write!(out, " ({})", sched_flags(se));
        }
        if se.flags & SVC_F_PERSISTENT != 0 {
            let _ = write!(out, " persistent {}", se.timeout);
            if mask != u32::MAX {
                let _ = write!(out, " mask {}", se.netmask);
            }
        }
        if se.flags & SVC_F_ONEPACKET != 0 {
            out.push_str(" ops");
        }
    }
    out.push('\n');

    let mut dests = se.dests.clone();
    if !f.nosort {
        msort(&mut dests, &cmp_dests);
    }
    let proto = parts(&se.key).0;
    for e in &dests {
        let dname = addrport(e.addr, e.port, proto, f.numeric);
        if rule {
            let _ = write!(out, "-a {svc_name} -r {dname} {} -w {}", fwd_switch(e.fwd), e.weight);
            if e.fwd == Fwd::Tunnel {
                out.push_str(" --tun-type ipip");
            }
            out.push('\n');
            continue;
        }
        let dname = truncate(dname, 28);
        if f.stats {
            let _ = write!(out, "  -> {dname:<28}");
            for n in [e.stats.conns, e.stats.inpkts, e.stats.outpkts, e.stats.inbytes, e.stats.outbytes] {
                largenum(out, n, f.exact);
            }
            out.push('\n');
        } else if f.rate {
            let _ = write!(out, "  -> {dname:<28} {:>8} {:>8} {:>8}", e.stats.cps, e.stats.inpps, e.stats.outpps);
            largenum(out, e.stats.inbps, f.exact);
            largenum(out, e.stats.outbps, f.exact);
            out.push('\n');
        } else if f.thresholds {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                e.u_threshold, e.l_threshold, e.activeconns, e.inactconns
            );
        } else if f.persistent_conn {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                e.weight, e.persistconns, e.activeconns, e.inactconns
            );
        } else if f.tun_info {
            let ti = if e.fwd == Fwd::Tunnel { "ipip" } else { "n/a" };
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {ti:<13} {:<6} {:<10} {:<10}",
                e.fwd.name(),
                e.weight,
                e.activeconns,
                e.inactconns
            );
        } else {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
                e.fwd.name(),
                e.weight,
                e.activeconns,
                e.inactconns
            );
        }
    }
}

/// `ipvsadm -L` (and `-S` with `rule`): the version line, the title and every
/// service, sorted unless `--nosort`.
pub fn list_all(ipvs: &Ipvs, now: Instant, f: Format, rule: bool) -> String {
    let mut out = String::new();
    if !rule {
        let _ =
            writeln!(out, "IP Virtual Server version {}.{}.{} (size={CONN_TAB_SIZE})", VERSION.0, VERSION.1, VERSION.2);
    }
    let mut svcs = ipvs.services(now);
    if !f.nosort {
        msort(&mut svcs, &cmp_services);
    }
    if !rule {
        out.push_str(title(f));
    }
    for s in &svcs {
        service_entry(&mut out, s, f, rule);
    }
    out
}

/// `ipvsadm -L -t VIP:port`: the title and one service.
pub fn list_service(s: &ServiceInfo, f: Format) -> String {
    let mut out = title(f).to_string();
    service_entry(&mut out, s, f, false);
    out
}

/// `ipvsadm -Lc`: /proc/net/ip_vs_conn as ipvsadm prints it, oldest entry first.
pub fn list_conn(ipvs: &Ipvs, now: Instant, f: Format) -> String {
    let mut out = String::from("IPVS connection entries\n");
    if f.persistent_conn {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        );
    } else {
        let _ = writeln!(out, "pro expire {:<11} {:<18} {:<18} destination", "state", "source", "virtual");
    }
    for c in ipvs.conn_entries(now) {
        let proto = crate::director::ipvs::proto_name(c.proto);
        let secs = c.expires_ms / 1000;
        let expire = format!("{:02}:{:02}", secs / 60, secs % 60);
        let _ = writeln!(
            out,
            "{proto:<3} {expire:<6} {:<11} {:<18} {:<18} {}",
            c.state,
            addrport(c.caddr, c.cport, c.proto, f.numeric),
            addrport(c.vaddr, c.vport, c.proto, f.numeric),
            addrport(c.daddr, c.dport, c.proto, f.numeric)
        );
    }
    out
}

/// `ipvsadm -G` (FULLNAT local addresses; lvs-lab's layout, modelled on `-L`).
pub fn list_laddrs(svcs: &[ServiceInfo], f: Format) -> String {
    let mut out = String::from("Prot LocalAddress:Port\n  -> LocalAddress\n");
    let mut svcs = svcs.to_vec();
    if !f.nosort {
        msort(&mut svcs, &cmp_services);
    }
    for s in &svcs {
        let name = match s.key {
            ServiceKey::Fwmark(m) => format!("FWM  {m}"),
            ServiceKey::Addr { proto, addr, port } => {
                truncate(format!("{:<4} {}", proto.name(), addrport(addr, port, proto.num(), f.numeric)), 33)
            }
        };
        let _ = writeln!(out, "{name}");
        for a in &s.laddrs {
            let _ = writeln!(out, "  -> {a}");
        }
    }
    out
}

/// `usage_exit(program, 0)`: the version line and the help text.
pub fn usage(p: &str) -> String {
    let mut s = String::from(VERSION_LINE);
    let _ = write!(
        s,
        "Usage:\n  {p} -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]\n  {p} -D virtual-service\n  {p} -C\n  {p} -R\n  {p} -S [-n]\n  {p} -a|e virtual-service -r server-address [options]\n  {p} -d virtual-service -r server-address\n  {p} -L|l [virtual-service] [options]\n  {p} -Z [virtual-service]\n  {p} --set tcp tcpfin udp\n  {p} --start-daemon {{master|backup}} [daemon-options]\n  {p} --stop-daemon {{master|backup}}\n  {p} -h\n\n"
    );
    s.push_str(
        "Commands:\n\
Either long or short options are allowed.\n\
\x20 --add-service     -A        add virtual service with options\n\
\x20 --edit-service    -E        edit virtual service with options\n\
\x20 --delete-service  -D        delete virtual service\n\
\x20 --clear           -C        clear the whole table\n\
\x20 --restore         -R        restore rules from stdin\n\
\x20 --save            -S        save rules to stdout\n\
\x20 --add-server      -a        add real server with options\n\
\x20 --edit-server     -e        edit real server with options\n\
\x20 --delete-server   -d        delete real server\n\
\x20 --list            -L|-l     list the table\n\
\x20 --zero            -Z        zero counters in a service or all services\n\
\x20 --set tcp tcpfin udp        set connection timeout values\n\
\x20 --start-daemon              start connection sync daemon\n\
\x20 --stop-daemon               stop connection sync daemon\n\
\x20 --help            -h        display this help message\n\n",
    );
    s.push_str(
        "virtual-service:\n\
\x20 --tcp-service|-t  service-address   service-address is host[:port]\n\
\x20 --udp-service|-u  service-address   service-address is host[:port]\n\
\x20 --sctp-service    service-address   service-address is host[:port]\n\
\x20 --fwmark-service|-f fwmark          fwmark is an integer greater than zero\n\n",
    );
    let _ = write!(
        s,
        "Options:\n\
\x20 --ipv6         -6                   fwmark entry uses IPv6\n\
\x20 --scheduler    -s scheduler         one of {SCHEDULERS},\n\
\x20                                     the default scheduler is wlc.\n\
\x20 --pe            engine              alternate persistence engine may be sip,\n\
\x20                                     not set by default.\n\
\x20 --persistent   -p [timeout]         persistent service\n\
\x20 --netmask      -M netmask           persistent granularity mask\n\
\x20 --real-server  -r server-address    server-address is host (and port)\n\
\x20 --gatewaying   -g                   gatewaying (direct routing) (default)\n\
\x20 --ipip         -i                   ipip encapsulation (tunneling)\n\
\x20 --masquerading -m                   masquerading (NAT)\n\
\x20 --tun-type      type                one of ipip|gue|gre,\n\
\x20                                     the default tunnel type is ipip.\n\
\x20 --tun-port      port                tunnel destination port\n\
\x20 --tun-nocsum                        tunnel encapsulation without checksum\n\
\x20 --tun-csum                          tunnel encapsulation with checksum\n\
\x20 --tun-remcsum                       tunnel encapsulation with remote checksum\n\
\x20 --weight       -w weight            capacity of real server\n\
\x20 --u-threshold  -x uthreshold        upper threshold of connections\n\
\x20 --l-threshold  -y lthreshold        lower threshold of connections\n\
\x20 --connection   -c                   output of current IPVS connections\n\
\x20 --timeout                           output of timeout (tcp tcpfin udp)\n\
\x20 --daemon                            output of daemon information\n\
\x20 --stats                             output of statistics information\n\
\x20 --rate                              output of rate information\n\
\x20 --exact                             expand numbers (display exact values)\n\
\x20 --thresholds                        output of thresholds information\n\
\x20 --persistent-conn                   output of persistent connection info\n\
\x20 --tun-info                          output of tunnel information\n\
\x20 --nosort                            disable sorting output of service/server entries\n\
\x20 --sort                              does nothing, for backwards compatibility\n\
\x20 --ops          -o                   one-packet scheduling\n\
\x20 --numeric      -n                   numeric output of addresses and ports\n\
\x20 --sched-flags  -b flags             scheduler flags (comma-separated)\n"
    );
    s.push_str(
        "Daemon Options:\n\
\x20 --syncid sid                        syncid for connection sync (default=255)\n\
\x20 --sync-maxlen length                Max sync message length (default=1472)\n\
\x20 --mcast-interface interface         multicast interface for connection sync\n\
\x20 --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)\n\
\x20 --mcast-port port                   UDP port (default=8848)\n\
\x20 --mcast-ttl ttl                     Multicast TTL (default=1)\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largenum_formats() {
        let f = |i, e| {
            let mut s = String::new();
            largenum(&mut s, i, e);
            s
        };
        assert_eq!(f(0, false), "        0");
        assert_eq!(f(99_999_999, false), " 99999999");
        assert_eq!(f(100_000_000, false), "  100000K");
        assert_eq!(f(1_234_567_890, false), "    1234M");
        assert_eq!(f(123_456_789_012, false), "     123G");
        assert_eq!(f(123_456_789_012_345, false), "     123T");
        assert_eq!(f(1_234_567_890, true), " 1234567890");
        assert_eq!(f(12, true), "       12");
    }

    #[test]
    fn titles_match_printf_widths() {
        // "%-33s %8s %8s %8s %8s %8s"
        let want = format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        );
        assert_eq!(title(Format { stats: true, ..Format::default() }), want);
        let want = format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        );
        assert_eq!(title(Format { rate: true, ..Format::default() }), want);
        let want = format!(
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        );
        assert_eq!(title(Format { thresholds: true, ..Format::default() }), want);
        let want = format!(
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        );
        assert_eq!(title(Format { persistent_conn: true, ..Format::default() }), want);
    }

    #[test]
    fn merge_sort_is_glibcs() {
        // The subtraction quirk: 200.0.0.1 sorts before 10.0.0.1.
        let a = u32::from(Ipv4Addr::new(200, 0, 0, 1));
        let b = u32::from(Ipv4Addr::new(10, 0, 0, 1));
        assert!(wrap_diff(a, b) < 0);
        let mut v = vec![5, 3, 9, 1, 1, 7];
        msort(&mut v, &|x: &i32, y: &i32| x - y);
        assert_eq!(v, [1, 1, 3, 5, 7, 9]);
    }
}
