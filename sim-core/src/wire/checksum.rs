//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624), which is
//! what the kernel's `csum_replace4`/`inet_proto_csum_replace4` and IPVS's
//! `ip_vs_check_diff4`/`ip_vs_check_diff2` do when NAT rewrites an address or port.

use std::net::Ipv4Addr;

/// Adds `data` as big-endian 16-bit words to a running sum. The result is the
/// sum modulo 0xffff (zero only for all-zero input), all that [`finish`] needs;
/// words are taken four bytes at a time (2^16 ≡ 1 mod 0xffff).
pub fn add(sum: u32, data: &[u8]) -> u32 {
    let mut acc = u64::from(sum);
    let mut quads = data.chunks_exact(4);
    for c in &mut quads {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    match *quads.remainder() {
        [a, b, c] => acc += u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
        [a, b] => acc += u64::from(u16::from_be_bytes([a, b])),
        [a] => acc += u64::from(a) << 8,
        _ => {}
    }
    while acc > u64::from(u32::MAX) {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
    }
    acc as u32
}

/// Folds a running sum to 16 bits and complements it.
pub fn finish(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The checksum of `data` alone (IPv4 header, ICMP message).
pub fn checksum(data: &[u8]) -> u16 {
    finish(add(0, data))
}

/// The IPv4 pseudo-header sum for TCP/UDP (RFC 793/768).
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> u32 {
    let mut s = add(0, &src.octets());
    s = add(s, &dst.octets());
    s + u32::from(proto) + len as u32
}

/// RFC 1624 eqn. 3: the checksum after one 16-bit word changes from `old` to `new`.
pub fn update16(check: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!check) + u32::from(!old) + u32::from(new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The checksum after a 32-bit field (an IPv4 address) changes.
pub fn update32(check: u16, old: [u8; 4], new: [u8; 4]) -> u16 {
    let c = update16(check, u16::from_be_bytes([old[0], old[1]]), u16::from_be_bytes([new[0], new[1]]));
    update16(c, u16::from_be_bytes([old[2], old[3]]), u16::from_be_bytes([new[2], new[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 example words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d.
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
    }

    #[test]
    fn sums_agree_with_word_by_word() {
        let data: Vec<u8> = (0..67u32).map(|i| (i * 37 + 200) as u8).collect();
        for n in 0..data.len() {
            let words = data[..n].chunks(2).map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)));
            let want = finish(words.fold(0xfffe, u32::wrapping_add));
            assert_eq!(finish(add(0xfffe, &data[..n])), want, "{n} bytes");
        }
        assert_eq!(finish(add(0, &[0; 9])), 0xffff);
    }

    proptest::proptest! {
        /// Any data (carries included: runs of 0xff) and any running sum give the
        /// checksum a word-by-word sum does.
        #[test]
        fn sums_of_any_data_agree_with_word_by_word(
            sum in proptest::prelude::any::<u32>(),
            data in proptest::collection::vec(proptest::prop_oneof![proptest::prelude::any::<u8>(), proptest::strategy::Just(0xff)], 0..600),
        ) {
            let words = data.chunks(2).map(|c| u64::from(c[0]) << 8 | u64::from(*c.get(1).unwrap_or(&0)));
            let mut want = words.fold(u64::from(sum), |a, w| a + w);
            while want > 0xffff {
                want = (want & 0xffff) + (want >> 16);
            }
            proptest::prop_assert_eq!(finish(add(sum, &data)), !(want as u16));
        }
    }

    #[test]
    fn incremental_matches_full_recompute() {
        let mut hdr = [0x45u8, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 100];
        let c = checksum(&hdr);
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        let new_dst = [192, 168, 1, 11];
        let inc = update32(c, [10, 0, 0, 100], new_dst);
        hdr[16..20].copy_from_slice(&new_dst);
        hdr[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(inc, checksum(&hdr));
        hdr[10..12].copy_from_slice(&inc.to_be_bytes());
        assert_eq!(checksum(&hdr), 0, "a valid header sums to zero");
    }
}
