//! MAC addresses.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    pub fn from_slice(b: &[u8]) -> Self {
        let mut m = [0u8; 6];
        m.copy_from_slice(&b[..6]);
        MacAddr(m)
    }
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }
    /// Group bit set: broadcast and multicast (e.g. VRRP's 01:00:5e:00:00:12).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
    /// The IPv4 multicast MAC for `group` (RFC 1112: 01:00:5e + low 23 bits).
    pub fn ipv4_multicast(group: std::net::Ipv4Addr) -> Self {
        let o = group.octets();
        MacAddr([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
    }
    /// A locally administered unicast MAC derived from an index (02:00:00:xx:xx:xx).
    pub fn local(index: u32) -> Self {
        let b = index.to_be_bytes();
        MacAddr([0x02, 0x00, b[0], b[1], b[2], b[3]])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        let s = format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
        f.pad(&s)
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for MacAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(format!("invalid MAC address `{s}`: expected six hex octets like 02:00:00:00:00:01"));
        }
        let mut m = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 2 {
                return Err(format!("invalid MAC address `{s}`"));
            }
            m[i] = u8::from_str_radix(p, 16).map_err(|_| format!("invalid MAC address `{s}`"))?;
        }
        Ok(MacAddr(m))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let m: MacAddr = "02:00:0a:0B:0c:ff".parse().unwrap();
        assert_eq!(m.to_string(), "02:00:0a:0b:0c:ff");
        assert!("02:00".parse::<MacAddr>().is_err());
        assert!("zz:00:00:00:00:00".parse::<MacAddr>().is_err());
        assert_eq!(MacAddr::ipv4_multicast("224.0.0.18".parse().unwrap()).to_string(), "01:00:5e:00:00:12");
    }
}
