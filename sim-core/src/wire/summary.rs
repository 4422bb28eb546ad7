//! One-line, tcpdump-like summaries of frames for the trace. MAC addresses are shown
//! by the name of the NIC that owns them (`rs1:eth0`) when a resolver knows it.

use super::arp::{ARP_REPLY, ARP_REQUEST, Arp};
use super::ip::*;
use super::{
    ETHERTYPE_ARP, ETHERTYPE_IPV4, Eth, IPPROTO_ICMP, IPPROTO_IPIP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_VRRP, MacAddr,
};
use std::fmt::Write;

/// Summarises a whole Ethernet frame: `src > dst` at L2, then the packet.
pub fn frame(f: &[u8], name: &dyn Fn(MacAddr) -> Option<String>) -> String {
    let Ok(eth) = Eth::parse(f) else {
        return format!("runt frame ({} bytes)", f.len());
    };
    let mac = |m: MacAddr| {
        if m.is_broadcast() { "broadcast".to_string() } else { name(m).unwrap_or_else(|| m.to_string()) }
    };
    let mut s = format!("{} > {} ", mac(eth.src), mac(eth.dst));
    match eth.ethertype {
        ETHERTYPE_ARP => s.push_str(&arp(eth.payload)),
        ETHERTYPE_IPV4 => s.push_str(&ipv4(eth.payload)),
        t => {
            let _ = write!(s, "ethertype 0x{t:04x} len={}", eth.payload.len());
        }
    }
    s
}

fn arp(p: &[u8]) -> String {
    match Arp::parse(p) {
        Ok(a) if a.op == ARP_REQUEST && a.is_gratuitous() => {
            format!("ARP gratuitous request {} is-at {}", a.spa, a.sha)
        }
        Ok(a) if a.op == ARP_REQUEST => format!("ARP who-has {} tell {}", a.tpa, a.spa),
        Ok(a) if a.op == ARP_REPLY && a.is_gratuitous() => format!("ARP gratuitous reply {} is-at {}", a.spa, a.sha),
        Ok(a) if a.op == ARP_REPLY => format!("ARP reply {} is-at {}", a.spa, a.sha),
        Ok(a) => format!("ARP op {} {} > {}", a.op, a.spa, a.tpa),
        Err(e) => format!("ARP {e}"),
    }
}

/// Summarises an IPv4 packet (header onwards).
pub fn ipv4(p: &[u8]) -> String {
    let ip = match Ipv4::parse(p) {
        Ok(ip) => ip,
        Err(e) => return format!("IP {e}"),
    };
    let mut s = String::with_capacity(96);
    let frag =
        if ip.is_fragment() { format!(" frag off={} mf={}", ip.frag_off * 8, u8::from(ip.mf)) } else { String::new() };
    if ip.frag_off != 0 {
        let _ = write!(s, "IP {} > {} proto {}{frag} len={}", ip.src, ip.dst, ip.proto, ip.payload.len());
        return s;
    }
    match ip.proto {
        IPPROTO_TCP => match Tcp::parse(ip.payload) {
            Ok(t) => {
                let _ = write!(
                    s,
                    "IP {}:{} > {}:{} TCP [{}] seq={}",
                    ip.src,
                    t.sport,
                    ip.dst,
                    t.dport,
                    tcp_flags(t.flags),
                    t.seq
                );
                if t.has(TCP_ACK) {
                    let _ = write!(s, " ack={}", t.ack);
                }
                let _ = write!(s, " len={}", t.payload.len());
            }
            Err(e) => {
                let _ = write!(s, "IP {} > {} TCP {e}", ip.src, ip.dst);
            }
        },
        IPPROTO_UDP => match Udp::parse(ip.payload) {
            Ok(u) => {
                let _ = write!(s, "IP {}:{} > {}:{} UDP len={}", ip.src, u.sport, ip.dst, u.dport, u.payload.len());
            }
            Err(e) => {
                let _ = write!(s, "IP {} > {} UDP {e}", ip.src, ip.dst);
            }
        },
        IPPROTO_ICMP => {
            let _ = write!(s, "IP {} > {} ICMP {}", ip.src, ip.dst, icmp(ip.payload));
        }
        IPPROTO_IPIP => {
            let _ = write!(s, "IPIP {} > {} ({})", ip.src, ip.dst, ipv4(ip.payload));
        }
        IPPROTO_VRRP => {
            let _ = write!(s, "IP {} > {} {}", ip.src, ip.dst, vrrp(ip.payload));
        }
        p => {
            let _ = write!(s, "IP {} > {} proto {p} len={}", ip.src, ip.dst, ip.payload.len());
        }
    }
    if ip.ttl <= 1 {
        let _ = write!(s, " ttl={}", ip.ttl);
    }
    s.push_str(&frag);
    s
}

/// tcpdump's flag letters: `S`, `S.`, `.`, `P.`, `F.`, `R`, `R.`.
pub fn tcp_flags(f: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [(TCP_SYN, 'S'), (TCP_FIN, 'F'), (TCP_PSH, 'P'), (TCP_RST, 'R')] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    if f & TCP_ACK != 0 {
        s.push('.');
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

fn icmp(p: &[u8]) -> String {
    let m = match Icmp::parse(p) {
        Ok(m) => m,
        Err(e) => return e.to_string(),
    };
    let id_seq = || {
        format!("id={} seq={}", u16::from_be_bytes([m.rest[0], m.rest[1]]), u16::from_be_bytes([m.rest[2], m.rest[3]]))
    };
    let what = match (m.typ, m.code) {
        (ICMP_ECHO, _) => return format!("echo request {}", id_seq()),
        (ICMP_ECHO_REPLY, _) => return format!("echo reply {}", id_seq()),
        (ICMP_DEST_UNREACH, ICMP_NET_UNREACH) => "net unreachable".to_string(),
        (ICMP_DEST_UNREACH, ICMP_HOST_UNREACH) => "host unreachable".to_string(),
        (ICMP_DEST_UNREACH, ICMP_PORT_UNREACH) => "port unreachable".to_string(),
        (ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED) => format!("frag needed mtu={}", m.next_hop_mtu()),
        (ICMP_DEST_UNREACH, c) => format!("unreachable code {c}"),
        (ICMP_TIME_EXCEEDED, 0) => "time exceeded in transit".to_string(),
        (ICMP_REDIRECT, _) => {
            format!("redirect to {}", std::net::Ipv4Addr::new(m.rest[0], m.rest[1], m.rest[2], m.rest[3]))
        }
        (t, c) => return format!("type {t} code {c}"),
    };
    match m.embedded() {
        Some(e) => match e.ports {
            Some((sp, dp)) => format!("{what} ({}:{sp} > {}:{dp} proto {})", e.src, e.dst, e.proto),
            None => format!("{what} ({} > {} proto {})", e.src, e.dst, e.proto),
        },
        None => what,
    }
}

fn vrrp(p: &[u8]) -> String {
    if p.len() < 8 {
        return format!("VRRP truncated ({} bytes)", p.len());
    }
    let version = p[0] >> 4;
    let count = usize::from(p[3]);
    let addrs: Vec<String> = p[8..]
        .chunks_exact(4)
        .take(count)
        .map(|a| std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string())
        .collect();
    let interval = if version == 3 {
        format!("intvl {}cs", u16::from_be_bytes([p[4], p[5]]) & 0x0fff)
    } else {
        format!("intvl {}s", p[5])
    };
    format!("VRRPv{version} vrid {} prio {} {interval} addrs {}", p[1], p[2], addrs.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn summaries() {
        let ip = IpHdr::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 100), IPPROTO_TCP);
        let mut f = build(
            &ip,
            &L4::Tcp {
                sport: 40000,
                dport: 80,
                seq: 7,
                ack: 9,
                flags: TCP_SYN | TCP_ACK,
                window: 1,
                mss: None,
                payload: b"",
            },
        );
        crate::wire::set_eth(&mut f, MacAddr::local(2), MacAddr::local(1), ETHERTYPE_IPV4);
        let names = |m: MacAddr| (m == MacAddr::local(1)).then(|| "client:eth0".to_string());
        assert_eq!(
            frame(&f, &names),
            "client:eth0 > 02:00:00:00:00:02 IP 10.0.0.1:40000 > 10.0.0.100:80 TCP [S.] seq=7 ack=9 len=0"
        );
        let a = Arp::request(MacAddr::local(1), Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(
            frame(&a.frame(MacAddr::BROADCAST, MacAddr::local(1)), &names),
            "client:eth0 > broadcast ARP who-has 10.0.0.2 tell 10.0.0.1"
        );
        assert_eq!(frame(&[1, 2, 3], &names), "runt frame (3 bytes)");
    }
}
