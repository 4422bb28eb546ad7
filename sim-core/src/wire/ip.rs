//! IPv4 with TCP, UDP and ICMP: zero-copy views for input paths, builders for output,
//! and in-place rewrites with incremental checksums for forwarding paths.

use super::checksum;
use super::{ETH_HLEN, ETHERTYPE_IPV4, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, WireError};
use etherparse::{Ipv4HeaderSlice, TcpHeader, TcpHeaderSlice, TcpOptionElement};
use std::net::Ipv4Addr;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;

pub const ICMP_ECHO_REPLY: u8 = 0;
pub const ICMP_DEST_UNREACH: u8 = 3;
pub const ICMP_REDIRECT: u8 = 5;
pub const ICMP_ECHO: u8 = 8;
pub const ICMP_TIME_EXCEEDED: u8 = 11;
/// Codes of ICMP_DEST_UNREACH.
pub const ICMP_NET_UNREACH: u8 = 0;
pub const ICMP_HOST_UNREACH: u8 = 1;
pub const ICMP_PORT_UNREACH: u8 = 3;
pub const ICMP_FRAG_NEEDED: u8 = 4;

/// An IPv4 packet read in place. The header checksum and lengths are validated.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub ttl: u8,
    pub tos: u8,
    pub id: u16,
    pub df: bool,
    pub mf: bool,
    /// Fragment offset in 8-byte units.
    pub frag_off: u16,
    /// The header, options included.
    pub header: &'a [u8],
    /// The payload, cut at the header's total length (Ethernet padding removed).
    pub payload: &'a [u8],
}

impl<'a> Ipv4<'a> {
    /// Parses and validates as `ip_rcv_core` does: version, IHL, total length, checksum.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        // The common case checked by hand; anything odd goes through etherparse
        // for its precise error.
        if bytes.len() < 20 || bytes[0] >> 4 != 4 || bytes[0] & 0x0f < 5 {
            let e =
                Ipv4HeaderSlice::from_slice(bytes).err().map_or_else(|| "bad header".to_string(), |e| e.to_string());
            return Err(WireError::Malformed(format!("IPv4 header: {e}")));
        }
        let hlen = usize::from(bytes[0] & 0x0f) * 4;
        if bytes.len() < hlen {
            return Err(WireError::Truncated { what: "IPv4 header", need: hlen, have: bytes.len() });
        }
        let total = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        if total < hlen {
            return Err(WireError::Malformed(format!("IPv4 total length {total} shorter than header {hlen}")));
        }
        if total > bytes.len() {
            return Err(WireError::Truncated { what: "IPv4 packet", need: total, have: bytes.len() });
        }
        if checksum::checksum(&bytes[..hlen]) != 0 {
            return Err(WireError::BadChecksum("IPv4 header"));
        }
        let flags = u16::from_be_bytes([bytes[6], bytes[7]]);
        Ok(Ipv4 {
            src: Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]),
            dst: Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]),
            proto: bytes[9],
            ttl: bytes[8],
            tos: bytes[1],
            id: u16::from_be_bytes([bytes[4], bytes[5]]),
            df: flags & 0x4000 != 0,
            mf: flags & 0x2000 != 0,
            frag_off: flags & 0x1fff,
            header: &bytes[..hlen],
            payload: &bytes[hlen..total],
        })
    }

    /// Reads a packet this program built or already validated with [`Ipv4::parse`]:
    /// no checksum or length validation, so it is cheap on hot paths. Falls back
    /// to [`Ipv4::parse`] when the bytes do not even hold a header. Inlined, so a
    /// caller pays only for the fields it reads.
    #[inline(always)]
    pub fn trusted(bytes: &'a [u8]) -> Result<Self, WireError> {
        if bytes.len() < 20 {
            return Self::parse(bytes);
        }
        let hlen = usize::from(bytes[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        if hlen < 20 || total < hlen || total > bytes.len() {
            return Self::parse(bytes);
        }
        let flags = u16::from_be_bytes([bytes[6], bytes[7]]);
        Ok(Ipv4 {
            src: Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]),
            dst: Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]),
            proto: bytes[9],
            ttl: bytes[8],
            tos: bytes[1],
            id: u16::from_be_bytes([bytes[4], bytes[5]]),
            df: flags & 0x4000 != 0,
            mf: flags & 0x2000 != 0,
            frag_off: flags & 0x1fff,
            header: &bytes[..hlen],
            payload: &bytes[hlen..total],
        })
    }

    /// True for a non-first fragment or a first fragment with more to come.
    pub fn is_fragment(&self) -> bool {
        self.mf || self.frag_off != 0
    }

    /// The whole packet, header and payload.
    pub fn packet_len(&self) -> usize {
        self.header.len() + self.payload.len()
    }

    /// Sum of the TCP/UDP pseudo-header for this packet's payload.
    fn pseudo(&self) -> u32 {
        checksum::pseudo_header(self.src, self.dst, self.proto, self.payload.len())
    }

    /// Verifies the TCP or UDP checksum (a UDP checksum of 0 means "none").
    pub fn l4_checksum_ok(&self) -> bool {
        if self.proto == IPPROTO_UDP && self.payload.len() >= 8 && self.payload[6..8] == [0, 0] {
            return true;
        }
        checksum::finish(checksum::add(self.pseudo(), self.payload)) == 0
    }
}

/// A TCP segment read in place.
#[derive(Debug, Clone, Copy)]
pub struct Tcp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// The MSS option, if present.
    pub mss: Option<u16>,
    pub payload: &'a [u8],
}

impl<'a> Tcp<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        let h = TcpHeaderSlice::from_slice(bytes).map_err(|e| WireError::Malformed(format!("TCP header: {e}")))?;
        let mss = h.options_iterator().find_map(|o| match o {
            Ok(TcpOptionElement::MaximumSegmentSize(m)) => Some(m),
            _ => None,
        });
        Ok(Tcp {
            sport: h.source_port(),
            dport: h.destination_port(),
            seq: h.sequence_number(),
            ack: h.acknowledgment_number(),
            flags: bytes[13],
            window: h.window_size(),
            mss,
            payload: &bytes[h.slice().len()..],
        })
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Sequence space the segment occupies: payload plus one each for SYN and FIN.
    pub fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.has(TCP_SYN)) + u32::from(self.has(TCP_FIN))
    }
}

/// A UDP datagram read in place.
#[derive(Debug, Clone, Copy)]
pub struct Udp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub payload: &'a [u8],
}

impl<'a> Udp<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        if bytes.len() < 8 {
            return Err(WireError::Truncated { what: "UDP header", need: 8, have: bytes.len() });
        }
        let len = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
        if len < 8 || len > bytes.len() {
            return Err(WireError::Malformed(format!("UDP length {len} with {} bytes present", bytes.len())));
        }
        Ok(Udp {
            sport: u16::from_be_bytes([bytes[0], bytes[1]]),
            dport: u16::from_be_bytes([bytes[2], bytes[3]]),
            payload: &bytes[8..len],
        })
    }
}

/// An ICMP message read in place.
#[derive(Debug, Clone, Copy)]
pub struct Icmp<'a> {
    pub typ: u8,
    pub code: u8,
    /// The four bytes after the checksum (echo id/seq, next-hop MTU, gateway).
    pub rest: [u8; 4],
    /// For errors: the offending packet's IP header and first bytes.
    pub payload: &'a [u8],
}

impl<'a> Icmp<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        if bytes.len() < 8 {
            return Err(WireError::Truncated { what: "ICMP header", need: 8, have: bytes.len() });
        }
        if checksum::checksum(bytes) != 0 {
            return Err(WireError::BadChecksum("ICMP"));
        }
        Ok(Icmp { typ: bytes[0], code: bytes[1], rest: [bytes[4], bytes[5], bytes[6], bytes[7]], payload: &bytes[8..] })
    }

    pub fn is_error(&self) -> bool {
        matches!(self.typ, ICMP_DEST_UNREACH | ICMP_TIME_EXCEEDED | ICMP_REDIRECT | 4 | 12)
    }

    /// The next-hop MTU of a FRAG_NEEDED error (RFC 1191).
    pub fn next_hop_mtu(&self) -> u16 {
        u16::from_be_bytes([self.rest[2], self.rest[3]])
    }

    /// The embedded packet's addresses, protocol and, when present, ports.
    pub fn embedded(&self) -> Option<Embedded> {
        let p = self.payload;
        if p.len() < 20 || p[0] >> 4 != 4 {
            return None;
        }
        let hlen = usize::from(p[0] & 0x0f) * 4;
        let ports = (p.len() >= hlen + 4)
            .then(|| (u16::from_be_bytes([p[hlen], p[hlen + 1]]), u16::from_be_bytes([p[hlen + 2], p[hlen + 3]])));
        let tcp_seq = (p[9] == IPPROTO_TCP && p.len() >= hlen + 8)
            .then(|| u32::from_be_bytes([p[hlen + 4], p[hlen + 5], p[hlen + 6], p[hlen + 7]]));
        Some(Embedded {
            src: Ipv4Addr::new(p[12], p[13], p[14], p[15]),
            dst: Ipv4Addr::new(p[16], p[17], p[18], p[19]),
            proto: p[9],
            ports,
            tcp_seq,
        })
    }
}

/// The header of the packet an ICMP error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Embedded {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    /// (source, destination) ports for TCP/UDP.
    pub ports: Option<(u16, u16)>,
    /// The quoted TCP sequence number (ICMP errors quote at least 8 transport bytes):
    /// `tcp_v4_err` ignores errors about segments outside `snd_una..=snd_nxt`.
    pub tcp_seq: Option<u32>,
}

/// The IPv4 header fields a sender chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHdr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub ttl: u8,
    pub tos: u8,
    pub id: u16,
    pub df: bool,
}

impl IpHdr {
    /// Linux defaults: TTL 64 (`ip_default_ttl`), TOS 0, DF set (`ip_no_pmtu_disc`=0).
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> Self {
        IpHdr { src, dst, proto, ttl: 64, tos: 0, id: 0, df: true }
    }
}

/// A transport payload to build behind an [`IpHdr`].
#[derive(Debug, Clone, Copy)]
pub enum L4<'a> {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        mss: Option<u16>,
        payload: &'a [u8],
    },
    Udp {
        sport: u16,
        dport: u16,
        payload: &'a [u8],
    },
    Icmp {
        typ: u8,
        code: u8,
        rest: [u8; 4],
        payload: &'a [u8],
    },
    /// Bytes used as they are (VRRP, an inner IP packet for IPIP); the protocol is `IpHdr::proto`.
    Raw(&'a [u8]),
}

/// Builds an Ethernet + IPv4 frame. The Ethernet header is zeroed except for the
/// ethertype: the neighbour layer fills in the MACs when the next hop is resolved.
pub fn build(ip: &IpHdr, l4: &L4) -> Vec<u8> {
    build_into(Vec::new(), ip, l4)
}

/// [`build`] into `f`, whose contents are discarded (a recycled buffer saves
/// an allocation).
pub fn build_into(mut f: Vec<u8>, ip: &IpHdr, l4: &L4) -> Vec<u8> {
    let (proto, l4_len) = match l4 {
        L4::Tcp { mss, payload, .. } => (IPPROTO_TCP, 20 + if mss.is_some() { 4 } else { 0 } + payload.len()),
        L4::Udp { payload, .. } => (IPPROTO_UDP, 8 + payload.len()),
        L4::Icmp { payload, .. } => (IPPROTO_ICMP, 8 + payload.len()),
        L4::Raw(b) => (ip.proto, b.len()),
    };
    assert!(l4_len <= 65515, "IPv4 payload fits in 65515 bytes");
    let (src, dst) = (ip.src.octets(), ip.dst.octets());
    let (total, id) = (((20 + l4_len) as u16).to_be_bytes(), ip.id.to_be_bytes());
    #[rustfmt::skip]
    let mut h = [
        0x45, ip.tos, total[0], total[1], id[0], id[1], if ip.df { 0x40 } else { 0 }, 0,
        ip.ttl, proto, 0, 0, src[0], src[1], src[2], src[3], dst[0], dst[1], dst[2], dst[3],
    ];
    let c = checksum::checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    f.clear();
    f.reserve_exact(ETH_HLEN + 20 + l4_len);
    f.extend_from_slice(&[0; 12]);
    f.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    f.extend_from_slice(&h);
    match *l4 {
        L4::Tcp { sport, dport, seq, ack, flags, window, mss, payload } => {
            let mut t = TcpHeader::new(sport, dport, seq, window);
            t.acknowledgment_number = ack;
            t.fin = flags & TCP_FIN != 0;
            t.syn = flags & TCP_SYN != 0;
            t.rst = flags & TCP_RST != 0;
            t.psh = flags & TCP_PSH != 0;
            t.ack = flags & TCP_ACK != 0;
            if let Some(m) = mss {
                t.set_options(&[TcpOptionElement::MaximumSegmentSize(m)]).expect("MSS option fits");
            }
            t.checksum = t.calc_checksum_ipv4_raw(src, dst, payload).expect("segment fits");
            f.extend_from_slice(&t.to_bytes());
            f.extend_from_slice(payload);
        }
        L4::Udp { sport, dport, payload } => {
            let len = (8 + payload.len()) as u16;
            let (sp, dp, l) = (sport.to_be_bytes(), dport.to_be_bytes(), len.to_be_bytes());
            let mut u = [sp[0], sp[1], dp[0], dp[1], l[0], l[1], 0, 0];
            let sum = checksum::add(checksum::pseudo_header(ip.src, ip.dst, IPPROTO_UDP, len.into()), &u);
            // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
            let c = match checksum::finish(checksum::add(sum, payload)) {
                0 => 0xffff,
                c => c,
            };
            u[6..8].copy_from_slice(&c.to_be_bytes());
            f.extend_from_slice(&u);
            f.extend_from_slice(payload);
        }
        L4::Icmp { typ, code, rest, payload } => {
            let start = f.len();
            f.extend_from_slice(&[typ, code, 0, 0]);
            f.extend_from_slice(&rest);
            f.extend_from_slice(payload);
            let c = checksum::checksum(&f[start..]);
            f[start + 2..start + 4].copy_from_slice(&c.to_be_bytes());
        }
        L4::Raw(b) => f.extend_from_slice(b),
    }
    f
}

/// The part of an offending packet an ICMP error quotes: as much as fits in 576
/// bytes (`icmp_send`: room = 576 − IP header − ICMP header).
pub fn icmp_quote(offending_ip_packet: &[u8]) -> &[u8] {
    &offending_ip_packet[..offending_ip_packet.len().min(576 - 20 - 8)]
}

/// In-place edits of an IPv4 packet (`ip` starts at the IP header), keeping every
/// checksum valid with incremental updates as the kernel does.
pub mod rewrite {
    use super::*;

    fn hdr_check(ip: &[u8]) -> u16 {
        u16::from_be_bytes([ip[10], ip[11]])
    }
    fn set_hdr_check(ip: &mut [u8], c: u16) {
        ip[10..12].copy_from_slice(&c.to_be_bytes());
    }
    fn l4_check_offset(ip: &[u8]) -> Option<usize> {
        let hl = usize::from(ip[0] & 0x0f) * 4;
        let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
        if frag != 0 {
            return None;
        }
        match ip[9] {
            IPPROTO_TCP if ip.len() >= hl + 18 => Some(hl + 16),
            IPPROTO_UDP if ip.len() >= hl + 8 && ip[hl + 6..hl + 8] != [0, 0] => Some(hl + 6),
            _ => None,
        }
    }

    /// `ip_decrease_ttl`: TTL − 1 with the header checksum adjusted as the kernel
    /// does it on x86 (`check += htons(0x0100); check += check >= 0xFFFF` on the
    /// checksum read little-endian), ±0 representation included. Returns the new TTL.
    #[inline]
    pub fn dec_ttl(ip: &mut [u8]) -> u8 {
        let check = u32::from(u16::from_le_bytes([ip[10], ip[11]])) + 1;
        let check = (check + u32::from(check >= 0xffff)) as u16;
        ip[10..12].copy_from_slice(&check.to_le_bytes());
        ip[8] = ip[8].wrapping_sub(1);
        ip[8]
    }

    /// A transport checksum after an update: a UDP checksum computed as 0 is sent
    /// as 0xFFFF (0 means "none").
    fn l4_fix(ip: &[u8], c: u16) -> u16 {
        if ip[9] == IPPROTO_UDP && c == 0 { 0xffff } else { c }
    }

    /// Writes the address at `at`, updating the header checksum and the transport
    /// checksum at `l4`.
    fn addr_at(ip: &mut [u8], at: usize, new: Ipv4Addr, l4: Option<usize>) {
        let mut old = [0u8; 4];
        old.copy_from_slice(&ip[at..at + 4]);
        let new = new.octets();
        ip[at..at + 4].copy_from_slice(&new);
        let c = checksum::update32(hdr_check(ip), old, new);
        set_hdr_check(ip, c);
        if let Some(o) = l4 {
            let c = checksum::update32(u16::from_be_bytes([ip[o], ip[o + 1]]), old, new);
            let c = l4_fix(ip, c);
            ip[o..o + 2].copy_from_slice(&c.to_be_bytes());
        }
    }

    /// Writes the port `which` bytes into the transport header (if it is there),
    /// updating the transport checksum at `l4`.
    fn port_at(ip: &mut [u8], which: usize, new: u16, l4: Option<usize>) {
        let hl = usize::from(ip[0] & 0x0f) * 4;
        if ip.len() < hl + 4 {
            return;
        }
        let at = hl + which;
        let old = u16::from_be_bytes([ip[at], ip[at + 1]]);
        ip[at..at + 2].copy_from_slice(&new.to_be_bytes());
        if let Some(o) = l4 {
            let c = checksum::update16(u16::from_be_bytes([ip[o], ip[o + 1]]), old, new);
            let c = l4_fix(ip, c);
            ip[o..o + 2].copy_from_slice(&c.to_be_bytes());
        }
    }

    fn set_addr(ip: &mut [u8], at: usize, new: Ipv4Addr) {
        addr_at(ip, at, new, l4_check_offset(ip));
    }

    /// Replaces the source address; IP and TCP/UDP checksums follow.
    pub fn set_src(ip: &mut [u8], new: Ipv4Addr) {
        set_addr(ip, 12, new)
    }

    /// Replaces the destination address; IP and TCP/UDP checksums follow.
    pub fn set_dst(ip: &mut [u8], new: Ipv4Addr) {
        set_addr(ip, 16, new)
    }

    fn set_port(ip: &mut [u8], which: usize, new: u16) {
        port_at(ip, which, new, l4_check_offset(ip));
    }

    /// Replaces the TCP/UDP source port, checksum adjusted.
    pub fn set_sport(ip: &mut [u8], new: u16) {
        set_port(ip, 0, new)
    }

    /// Replaces the TCP/UDP destination port, checksum adjusted.
    pub fn set_dport(ip: &mut [u8], new: u16) {
        set_port(ip, 2, new)
    }

    /// [`set_dport`] then [`set_dst`] (a DNAT), byte for byte, reading the header
    /// once: neither step changes where the transport checksum is or whether it
    /// is in use (a UDP checksum updated to 0 is written 0xFFFF).
    #[inline]
    pub fn set_dport_dst(ip: &mut [u8], port: u16, addr: Ipv4Addr) {
        let l4 = l4_check_offset(ip);
        port_at(ip, 2, port, l4);
        addr_at(ip, 16, addr, l4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_frame() -> Vec<u8> {
        let ip = IpHdr::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 100), IPPROTO_TCP);
        build(
            &ip,
            &L4::Tcp {
                sport: 40000,
                dport: 80,
                seq: 1,
                ack: 0,
                flags: TCP_SYN,
                window: 64240,
                mss: Some(1460),
                payload: b"",
            },
        )
    }

    #[test]
    fn built_frames_parse_with_valid_checksums() {
        let f = tcp_frame();
        let ip = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
        assert!(ip.df);
        assert!(ip.l4_checksum_ok());
        let t = Tcp::parse(ip.payload).unwrap();
        assert_eq!((t.sport, t.dport, t.mss), (40000, 80, Some(1460)));
        assert!(t.has(TCP_SYN) && !t.has(TCP_ACK));

        let ipu = IpHdr::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2), IPPROTO_UDP);
        let u = build(&ipu, &L4::Udp { sport: 5000, dport: 7, payload: &[7; 64] });
        let ip = Ipv4::parse(&u[ETH_HLEN..]).unwrap();
        assert!(ip.l4_checksum_ok());
        assert_eq!(Udp::parse(ip.payload).unwrap().payload.len(), 64);
    }

    #[test]
    fn dec_ttl_keeps_the_header_checksum_valid() {
        // Every header checksum value reached through the IP ID, TTLs down to 1.
        for id in 0..=u16::MAX {
            let mut f = tcp_frame();
            let ip = &mut f[ETH_HLEN..];
            ip[4..6].copy_from_slice(&id.to_be_bytes());
            ip[8] = 2 + (id % 254) as u8;
            ip[10..12].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&ip[..20]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            let ttl = ip[8];
            assert_eq!(rewrite::dec_ttl(ip), ttl - 1);
            assert_eq!(checksum::checksum(&ip[..20]), 0, "id {id}");
        }
    }

    #[test]
    fn headers_match_etherparse() {
        use etherparse::{IpNumber, Ipv4Header, UdpHeader};
        for (tos, id, df, payload) in
            [(0, 0, true, &[7u8; 64][..]), (0xb9, 513, false, &[0xff; 3][..]), (4, 9, true, &[])]
        {
            let ip =
                IpHdr { tos, id, df, ttl: 63, ..IpHdr::new([10, 0, 0, 1].into(), [10, 9, 0, 2].into(), IPPROTO_UDP) };
            let mut h =
                Ipv4Header::new(8 + payload.len() as u16, 63, IpNumber::UDP, [10, 0, 0, 1], [10, 9, 0, 2]).unwrap();
            h.dscp = etherparse::IpDscp::try_new(tos >> 2).unwrap();
            h.ecn = etherparse::IpEcn::try_new(tos & 3).unwrap();
            (h.identification, h.dont_fragment) = (id, df);
            h.header_checksum = h.calc_header_checksum();
            let mut want = [0u8; 12].to_vec();
            want.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
            want.extend_from_slice(&h.to_bytes());
            want.extend_from_slice(&UdpHeader::with_ipv4_checksum(5000, 7, &h, payload).unwrap().to_bytes());
            want.extend_from_slice(payload);
            assert_eq!(build(&ip, &L4::Udp { sport: 5000, dport: 7, payload }), want);
        }
    }

    /// The fused DNAT matches its two steps for every UDP checksum value, so also
    /// where either step computes 0 (written 0xFFFF).
    #[test]
    fn fused_dnat_maps_zero_as_the_steps_do() {
        let h = IpHdr::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 100), IPPROTO_UDP);
        let f = build(&h, &L4::Udp { sport: 5, dport: 53, payload: b"q" });
        for check in 0..=u16::MAX {
            let mut a = f[ETH_HLEN..].to_vec();
            a[26..28].copy_from_slice(&check.to_be_bytes());
            let mut b = a.clone();
            rewrite::set_dport(&mut a, 5353);
            rewrite::set_dst(&mut a, Ipv4Addr::new(192, 168, 1, 11));
            rewrite::set_dport_dst(&mut b, 5353, Ipv4Addr::new(192, 168, 1, 11));
            assert_eq!(a, b, "checksum {check:#06x}");
        }
    }

    proptest::proptest! {
        /// The fused DNAT writes exactly what its two steps write, whatever the
        /// header: TCP or UDP, zero or any checksum, fragments, truncation.
        #[test]
        fn fused_dnat_is_the_two_steps(
            udp in proptest::bool::ANY,
            check in 0u16..4,
            frag in 0u16..3,
            cut in 0usize..30,
            port in proptest::num::u16::ANY,
            addr in proptest::num::u32::ANY,
        ) {
            let mut f = if udp {
                build(&IpHdr::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 100), IPPROTO_UDP), &L4::Udp { sport: 5, dport: 53, payload: b"q" })
            } else {
                tcp_frame()
            };
            let ip = &mut f[ETH_HLEN..];
            ip[6..8].copy_from_slice(&[(frag >> 8) as u8 & 0x1f, frag as u8]);
            let o = 20 + if udp { 6 } else { 16 };
            if check < 2 {
                ip[o..o + 2].copy_from_slice(&[0, check as u8]);
            }
            let keep = ip.len() - cut.min(ip.len() - 20);
            let mut a = ip[..keep].to_vec();
            let mut b = a.clone();
            rewrite::set_dport(&mut a, port);
            rewrite::set_dst(&mut a, Ipv4Addr::from(addr));
            rewrite::set_dport_dst(&mut b, port, Ipv4Addr::from(addr));
            proptest::prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn rewrites_keep_checksums_valid() {
        let mut f = tcp_frame();
        let ip = &mut f[ETH_HLEN..];
        rewrite::set_dst(ip, Ipv4Addr::new(192, 168, 1, 11));
        rewrite::set_dport(ip, 8080);
        rewrite::set_src(ip, Ipv4Addr::new(172, 16, 0, 9));
        rewrite::set_sport(ip, 1234);
        assert_eq!(rewrite::dec_ttl(ip), 63);
        let p = Ipv4::parse(ip).unwrap();
        assert!(p.l4_checksum_ok());
        let t = Tcp::parse(p.payload).unwrap();
        assert_eq!((p.dst, t.dport, t.sport), (Ipv4Addr::new(192, 168, 1, 11), 8080, 1234));
    }

    #[test]
    fn truncated_and_corrupt_packets_are_errors() {
        let f = tcp_frame();
        assert!(Ipv4::parse(&f[ETH_HLEN..ETH_HLEN + 30]).is_err());
        let mut g = f.clone();
        g[ETH_HLEN + 12] ^= 1;
        assert_eq!(Ipv4::parse(&g[ETH_HLEN..]).unwrap_err(), WireError::BadChecksum("IPv4 header"));
        assert!(Tcp::parse(&[0; 10]).is_err());
        assert!(Udp::parse(&[0, 1, 0, 2, 0, 99, 0, 0]).is_err());
    }
}
