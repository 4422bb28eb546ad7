//! Small helpers the tool parsers share: argument cursors, abbreviation matching,
//! IPv4 addresses, prefixes and netmasks.

use crate::node::CmdError;
use std::net::Ipv4Addr;

/// iproute2's `matches(arg, word)`: `arg` is a non-empty prefix of `word`, so `ip a`
/// is `ip address` and `ip r del` is `ip route delete`. The first word in the tool's
/// own order wins, which is why callers test candidates in iproute2's order.
pub(crate) fn matches(arg: &str, word: &str) -> bool {
    !arg.is_empty() && word.starts_with(arg)
}

/// A cursor over a command's arguments.
#[derive(Debug)]
pub(crate) struct Args<'a> {
    items: &'a [String],
    pos: usize,
}

impl<'a> Args<'a> {
    pub(crate) fn new(items: &'a [String]) -> Self {
        Args { items, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<&'a str> {
        self.items.get(self.pos).map(String::as_str)
    }

    // Not an `Iterator`: callers interleave `next` with `peek` and `value`.
    #[allow(clippy::should_implement_trait)]
    pub(crate) fn next(&mut self) -> Option<&'a str> {
        let item = self.peek();
        if item.is_some() {
            self.pos += 1;
        }
        item
    }

    /// The argument after keyword `key`, or the tool's "missing argument" error.
    pub(crate) fn value(&mut self, key: &str, missing: impl FnOnce(&str) -> CmdError) -> Result<&'a str, CmdError> {
        self.next().ok_or_else(|| missing(key))
    }

    pub(crate) fn rest(&self) -> &'a [String] {
        &self.items[self.pos.min(self.items.len())..]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.items.len()
    }
}

/// A dotted-quad IPv4 address (no host names: lvs-lab has no resolver).
pub(crate) fn ipv4(text: &str) -> Option<Ipv4Addr> {
    text.parse().ok()
}

/// The prefix length of a contiguous netmask, `None` for masks like 255.0.255.0
/// (the kernel's `bad_mask()` rejects those with EINVAL).
pub(crate) fn mask_len(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let len = m.leading_ones();
    (m.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

/// The netmask of a prefix length.
pub(crate) fn len_mask(len: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(len.min(32))).unwrap_or(0))
}

/// A prefix length, 0 to 32.
pub(crate) fn prefix_len(text: &str) -> Option<u8> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u8>().ok().filter(|l| *l <= 32)
}

/// `ADDR` or `ADDR/LEN`: the address and the length if one was written.
pub(crate) fn addr_and_len(text: &str) -> Option<(Ipv4Addr, Option<u8>)> {
    match text.split_once('/') {
        Some((a, l)) => Some((ipv4(a)?, Some(prefix_len(l)?))),
        None => Some((ipv4(text)?, None)),
    }
}

/// A decimal number the way C's `strtoul` base 0 reads it (`0x` hex too).
pub(crate) fn number(text: &str) -> Option<u32> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u32::from_str_radix(hex, 16).ok();
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_len(Ipv4Addr::new(255, 255, 255, 0)), Some(24));
        assert_eq!(mask_len(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(mask_len(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(mask_len(Ipv4Addr::new(255, 0, 255, 0)), None);
        assert_eq!(len_mask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(len_mask(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(len_mask(32), Ipv4Addr::new(255, 255, 255, 255));
    }

    #[test]
    fn prefixes_and_numbers() {
        assert_eq!(addr_and_len("10.0.0.1/8"), Some((Ipv4Addr::new(10, 0, 0, 1), Some(8))));
        assert_eq!(addr_and_len("10.0.0.1"), Some((Ipv4Addr::new(10, 0, 0, 1), None)));
        assert_eq!(addr_and_len("10.0.0.1/33"), None);
        assert_eq!(addr_and_len("10.0.0.1/+8"), None);
        assert_eq!(number("0x10"), Some(16));
        assert_eq!(number("12"), Some(12));
        assert_eq!(number("-1"), None);
        assert!(matches("a", "address") && !matches("", "address") && !matches("addrs", "address"));
    }
}
