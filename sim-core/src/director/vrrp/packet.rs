//! VRRP advertisements on the wire (reference §3): VRRPv2 (RFC 3768) and VRRPv3 over
//! IPv4 (RFC 5798), the IPv4 header keepalived writes (`vrrp.c: vrrp_build_ip4`), and a
//! non-panicking reader for received packets.

use crate::wire::checksum;
use crate::wire::ip::{IpHdr, L4, build};
use crate::wire::{ETH_HLEN, IPPROTO_VRRP};
use std::net::Ipv4Addr;

/// `VRRP_PKT_ADVERT`: the only VRRP message type.
pub const VRRP_TYPE_ADVERT: u8 = 1;
/// Length of the fixed VRRP header (`sizeof(vrrphdr_t)`).
pub const VRRP_HDR_LEN: usize = 8;
/// `VRRP_AUTH_LEN`: the v2 authentication data trailing the addresses.
pub const VRRP_AUTH_LEN: usize = 8;
/// Auth types of the v2 header (`VRRP_AUTH_NONE`, `VRRP_AUTH_PASS`, `VRRP_AUTH_AH`).
pub const AUTH_NONE: u8 = 0;
pub const AUTH_PASS: u8 = 1;
pub const AUTH_AH: u8 = 2;
/// `VRRP_IP_TTL`.
pub const VRRP_IP_TTL: u8 = 255;
/// IPv4 TOS keepalived sets on adverts: internetwork control (`vrrp_build_ip4`).
pub const VRRP_TOS: u8 = 0xc0;

/// The authentication of a VRRPv2 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V2Auth<'a> {
    None,
    /// `auth_type PASS`: the password, zero padded, in the auth data.
    Pass(&'a [u8; 8]),
    /// `auth_type AH`: auth type 2, zero auth data; the AH header carries the ICV.
    Ah,
}

/// The VRRPv2 message (`vrrp_build_vrrp_v2`): header, addresses, 8 bytes of auth data
/// (the PASS password zero padded, else zeros), checksum over the message only (§3.4).
pub fn build_v2(vrid: u8, priority: u8, adver_int_secs: u8, addrs: &[Ipv4Addr], auth: V2Auth) -> Vec<u8> {
    let mut m = Vec::with_capacity(VRRP_HDR_LEN + 4 * addrs.len() + VRRP_AUTH_LEN);
    let (auth_type, pass) = match auth {
        V2Auth::None => (AUTH_NONE, None),
        V2Auth::Pass(p) => (AUTH_PASS, Some(p)),
        V2Auth::Ah => (AUTH_AH, None),
    };
    m.extend_from_slice(&[0x20 | VRRP_TYPE_ADVERT, vrid, priority, addrs.len() as u8, auth_type, adver_int_secs, 0, 0]);
    for a in addrs {
        m.extend_from_slice(&a.octets());
    }
    m.extend_from_slice(pass.unwrap_or(&[0; 8]));
    let c = checksum::checksum(&m);
    m[6..8].copy_from_slice(&c.to_be_bytes());
    m
}

/// The VRRPv3 message (`vrrp_build_vrrp_v3`): the 12-bit Max Adver Int in centiseconds,
/// reserved bits zero, checksum with the IPv4 pseudo-header of `src`/`dst` (keepalived's
/// default, §3.4) or, with `pseudo` false, over the message alone (`v3_checksum_as_v2`).
pub fn build_v3(
    vrid: u8,
    priority: u8,
    adver_int_cs: u16,
    addrs: &[Ipv4Addr],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    pseudo: bool,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(VRRP_HDR_LEN + 4 * addrs.len());
    let int = (adver_int_cs & 0x0fff).to_be_bytes();
    m.extend_from_slice(&[0x30 | VRRP_TYPE_ADVERT, vrid, priority, addrs.len() as u8, int[0], int[1], 0, 0]);
    for a in addrs {
        m.extend_from_slice(&a.octets());
    }
    let c = if pseudo { checksum_v3(src, dst, &m) } else { checksum::checksum(&m) };
    m[6..8].copy_from_slice(&c.to_be_bytes());
    m
}

/// The v3 checksum of `msg` (checksum field zero, or already filled: a valid message
/// then sums to zero) with the IPv4 pseudo-header src, dst, 0, 112, length.
pub fn checksum_v3(src: Ipv4Addr, dst: Ipv4Addr, msg: &[u8]) -> u16 {
    checksum::finish(checksum::add(checksum::pseudo_header(src, dst, IPPROTO_VRRP, msg.len()), msg))
}

/// The IPv4 packet keepalived sends (`vrrp_build_ip4`, §3.1): IHL 5, TOS 0xc0, the given
/// ID, no DF, TTL, protocol 112; the header checksum is filled as the kernel does for an
/// `IP_HDRINCL` socket.
pub fn ip_packet(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, id: u16, msg: &[u8]) -> Vec<u8> {
    let ip = IpHdr { src, dst, proto: IPPROTO_VRRP, ttl, tos: VRRP_TOS, id, df: false };
    let mut f = build(&ip, &L4::Raw(msg));
    f.drain(..ETH_HLEN);
    f
}

/// The fixed fields of a received VRRP message, read without trusting any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub typ: u8,
    pub vrid: u8,
    pub priority: u8,
    pub naddr: u8,
    /// v2: Auth Type (byte 4).
    pub auth_type: u8,
    /// v2: Adver Int in seconds (byte 5).
    pub adver_int_v2: u8,
    /// v3: Max Adver Int in centiseconds (low 12 bits of bytes 4-5).
    pub adver_int_v3: u16,
    pub checksum: u16,
}

impl Header {
    /// Reads the 8-byte header; `None` if the message is shorter (`vrrp_get_header`).
    pub fn parse(msg: &[u8]) -> Option<Header> {
        let h = msg.get(..VRRP_HDR_LEN)?;
        Some(Header {
            version: h[0] >> 4,
            typ: h[0] & 0x0f,
            vrid: h[1],
            priority: h[2],
            naddr: h[3],
            auth_type: h[4],
            adver_int_v2: h[5],
            adver_int_v3: u16::from_be_bytes([h[4], h[5]]) & 0x0fff,
            checksum: u16::from_be_bytes([h[6], h[7]]),
        })
    }

    /// The message length this header announces (`expected_vrrp_pkt_len`): 8 + 4n, plus
    /// the 8 auth bytes for a v2 header.
    pub fn expected_len(&self) -> usize {
        VRRP_HDR_LEN + 4 * usize::from(self.naddr) + if self.version == 2 { VRRP_AUTH_LEN } else { 0 }
    }
}

/// The addresses of a message, as many as both the count and the bytes allow.
pub fn addrs(msg: &[u8], naddr: u8) -> Vec<Ipv4Addr> {
    msg.get(VRRP_HDR_LEN..)
        .unwrap_or_default()
        .chunks_exact(4)
        .take(usize::from(naddr))
        .map(|a| Ipv4Addr::new(a[0], a[1], a[2], a[3]))
        .collect()
}

/// The v2 auth data: the 8 bytes ending the IP packet (`vrrp_check_packet` reads them at
/// `tot_len - 8`), if present.
pub fn auth_data(msg: &[u8]) -> Option<[u8; 8]> {
    let start = msg.len().checked_sub(VRRP_AUTH_LEN)?;
    msg.get(start..)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ip::Ipv4;

    const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 16);
    const SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 1);
    const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

    /// Reference §3.7: VRRPv2, VRID 51, priority 100, advert 1 s, no auth, one VIP.
    #[test]
    fn worked_example_v2() {
        let m = build_v2(51, 100, 1, &[VIP], V2Auth::None);
        assert_eq!(m, [0x21, 0x33, 0x64, 0x01, 0x00, 0x01, 0xf2, 0x10, 0xc0, 0xa8, 0xc8, 0x10, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(checksum::checksum(&m), 0, "a valid v2 message sums to zero");
        let ip = ip_packet(SRC, GROUP, 255, 1, &m);
        assert_eq!(&ip[..4], &[0x45, 0xc0, 0x00, 0x28]);
        assert_eq!(&ip[6..10], &[0x00, 0x00, 0xff, 0x70]);
        assert_eq!(&ip[16..20], &[224, 0, 0, 18]);
        let p = Ipv4::parse(&ip).unwrap();
        assert_eq!((p.ttl, p.tos, p.df, p.id), (255, 0xc0, false, 1));
        assert_eq!(p.payload, &m[..]);
    }

    /// Reference §3.7: the same instance as VRRPv3, source 192.168.200.1.
    #[test]
    fn worked_example_v3_both_checksums() {
        let m = build_v3(51, 100, 100, &[VIP], SRC, GROUP, true);
        assert_eq!(m, [0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0x78, 0x74, 0xc0, 0xa8, 0xc8, 0x10]);
        assert_eq!(checksum_v3(SRC, GROUP, &m), 0);
        let plain = build_v3(51, 100, 100, &[VIP], SRC, GROUP, false);
        assert_eq!(u16::from_be_bytes([plain[6], plain[7]]), 0xe1ad);
        assert_eq!(checksum::checksum(&plain), 0);
    }

    #[test]
    fn pass_auth_and_counts() {
        let pw = *b"1111\0\0\0\0";
        let m = build_v2(51, 90, 1, &[VIP, Ipv4Addr::new(192, 168, 200, 17)], V2Auth::Pass(&pw));
        assert_eq!(m.len(), 8 + 8 + 8);
        assert_eq!(m[4], AUTH_PASS);
        assert_eq!(auth_data(&m), Some(pw));
        assert_eq!(checksum::checksum(&m), 0);
        let h = Header::parse(&m).unwrap();
        assert_eq!((h.version, h.typ, h.vrid, h.priority, h.naddr, h.adver_int_v2), (2, 1, 51, 90, 2, 1));
        assert_eq!(h.expected_len(), m.len());
        assert_eq!(addrs(&m, h.naddr).len(), 2);
        // Zero VIPs: 16 bytes, IP total length 36 (reference §3.2, issue #2175).
        assert_eq!(ip_packet(SRC, GROUP, 255, 7, &build_v2(1, 100, 1, &[], V2Auth::None)).len(), 36);
    }

    #[test]
    fn v3_interval_is_twelve_bits() {
        let m = build_v3(1, 100, 0xffff, &[VIP], SRC, GROUP, true);
        assert_eq!(Header::parse(&m).unwrap().adver_int_v3, 0x0fff);
        assert_eq!(m[4] & 0xf0, 0, "reserved bits zero");
    }

    #[test]
    fn short_input_is_none() {
        assert!(Header::parse(&[0x21, 1, 2]).is_none());
        assert!(auth_data(&[1, 2]).is_none());
        assert!(addrs(&[0x21, 1, 100, 9], 9).is_empty());
    }
}
