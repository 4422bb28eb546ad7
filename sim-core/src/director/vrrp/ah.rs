//! `auth_type AH` (reference §3.2): an RFC 2402 Authentication Header between IP and
//! VRRP, its ICV an HMAC-MD5-96 keyed with the 8-byte `auth_pass` (`vrrp.c:
//! vrrp_build_ipsecah`, `vrrp_update_pkt`, `vrrp_in_chk_ipsecah`; `vrrp_ipsecah.h`).
//! MD5 (RFC 1321) and HMAC (RFC 2104) are written out here: small, and no dependency.

use super::packet::ip_packet;
use crate::wire::{IPPROTO_VRRP, checksum};
use std::net::Ipv4Addr;

/// IP protocol number of AH.
pub const IPPROTO_AH: u8 = 51;
/// `sizeof(ipsec_ah_t)`: next header, payload length, reserved, SPI, sequence, 12-byte ICV.
pub const AH_LEN: usize = 24;
/// `IPSEC_AH_PLEN`: the AH length in 32-bit words minus 2.
const AH_PLEN: u8 = 4;
/// `HMAC_MD5_TRUNC`.
const ICV_LEN: usize = 12;

const S: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15,
    21,
];

/// `floor(2^32 × |sin(i + 1)|)`, RFC 1321 §3.4 (written out: no floating point).
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8,
    0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
    0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87,
    0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039,
    0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
    0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
    0xeb86d391,
];

/// MD5 of `data` (RFC 1321).
pub fn md5(data: &[u8]) -> [u8; 16] {
    let mut h: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    for block in msg.chunks_exact(64) {
        let m: Vec<u32> = block.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(K[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        h = [h[0].wrapping_add(a), h[1].wrapping_add(b), h[2].wrapping_add(c), h[3].wrapping_add(d)];
    }
    let mut out = [0u8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(h) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// HMAC-MD5 (RFC 2104) of `data` under `key` (at most 64 bytes: keepalived's is 8).
pub fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&md5(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(data);
    let mut outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&md5(&inner));
    md5(&outer)
}

/// The ICV over `packet` (IP header, AH, VRRP) with the mutable fields zeroed as
/// keepalived does: TOS, fragment offset, header checksum, the TTL when unicast, and
/// the ICV itself.
fn icv(packet: &[u8], ihl: usize, key: &[u8; 8], unicast: bool) -> Option<[u8; ICV_LEN]> {
    let mut p = packet.to_vec();
    p.get_mut(1).map(|b| *b = 0)?;
    p.get_mut(6..8)?.fill(0);
    if unicast {
        *p.get_mut(8)? = 0;
    }
    p.get_mut(10..12)?.fill(0);
    p.get_mut(ihl + 12..ihl + AH_LEN)?.fill(0);
    let d = hmac_md5(key, &p);
    d[..ICV_LEN].try_into().ok()
}

/// The IPv4 fields of an outgoing AH advert.
#[derive(Debug, Clone, Copy)]
pub struct Outer {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub id: u16,
    /// Unicast: the TTL is a mutable field too.
    pub unicast: bool,
}

/// An AH-protected advert (`vrrp_build_ipsecah`): protocol 51, SPI = source address,
/// `seq`, the ICV; `msg` is the VRRPv2 message (auth type 2, zero auth data).
pub fn packet(o: &Outer, seq: u32, key: &[u8; 8], msg: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(AH_LEN + msg.len());
    payload.extend_from_slice(&[IPPROTO_VRRP, AH_PLEN, 0, 0]);
    payload.extend_from_slice(&o.src.octets());
    payload.extend_from_slice(&seq.to_be_bytes());
    payload.extend_from_slice(&[0; ICV_LEN]);
    payload.extend_from_slice(msg);
    let mut p = ip_packet(o.src, o.dst, o.ttl, o.id, &payload);
    p[9] = IPPROTO_AH;
    p[10..12].fill(0);
    let hc = checksum::checksum(&p[..20]);
    p[10..12].copy_from_slice(&hc.to_be_bytes());
    if let Some(mac) = icv(&p, 20, key, o.unicast) {
        p[20 + 12..20 + AH_LEN].copy_from_slice(&mac);
    }
    p
}

/// The fields of a received AH header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AhHeader {
    pub next_header: u8,
    pub spi: [u8; 4],
    pub seq: u32,
}

impl AhHeader {
    pub fn parse(ah: &[u8]) -> Option<AhHeader> {
        let h = ah.get(..AH_LEN)?;
        Some(AhHeader {
            next_header: h[0],
            spi: [h[4], h[5], h[6], h[7]],
            seq: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        })
    }
}

/// Whether the received `packet`'s ICV is right under `key`.
pub fn icv_ok(packet: &[u8], ihl: usize, key: &[u8; 8], unicast: bool) -> bool {
    match (icv(packet, ihl, key, unicast), packet.get(ihl + 12..ihl + AH_LEN)) {
        (Some(want), Some(got)) => want[..] == got[..],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn md5_rfc1321_vectors() {
        assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(&md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(&md5(b"12345678901234567890123456789012345678901234567890123456789012345678901234567890")),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn hmac_md5_rfc2104_vectors() {
        assert_eq!(hex(&hmac_md5(&[0x0b; 16], b"Hi There")), "9294727a3638bb1c13f48ef8158bfc9d");
        assert_eq!(hex(&hmac_md5(b"Jefe", b"what do ya want for nothing?")), "750c783e6ab0b503eaa86e310a5db738");
    }

    #[test]
    fn icv_round_trip_and_mutable_fields() {
        let key = *b"1111\0\0\0\0";
        let msg =
            super::super::packet::build_v2(51, 100, 1, &[Ipv4Addr::new(10, 0, 0, 1)], super::super::packet::V2Auth::Ah);
        let src = Ipv4Addr::new(10, 0, 0, 2);
        let o = Outer { src, dst: Ipv4Addr::new(224, 0, 0, 18), ttl: 255, id: 1, unicast: false };
        let p = packet(&o, 7, &key, &msg);
        assert_eq!(p.len(), 20 + 24 + 20);
        assert_eq!(p[9], IPPROTO_AH);
        assert_eq!(checksum::checksum(&p[..20]), 0);
        assert_eq!(AhHeader::parse(&p[20..]), Some(AhHeader { next_header: 112, spi: src.octets(), seq: 7 }));
        assert!(icv_ok(&p, 20, &key, false));
        assert!(!icv_ok(&p, 20, b"2222\0\0\0\0", false));
        let mut q = p.clone();
        q[1] = 0x10; // TOS is mutable: not covered
        assert!(icv_ok(&q, 20, &key, false));
        q[20 + 24 + 2] = 99; // the priority is covered
        assert!(!icv_ok(&q, 20, &key, false));
        assert!(!icv_ok(&p[..30], 20, &key, false));
    }
}
