//! Frame views and builders. Parsing and header serialisation go through etherparse;
//! what is ours is the small, allocation-free layer a forwarding path needs: field
//! accessors over raw frames, incremental checksums, and one-line summaries.

pub mod arp;
pub mod checksum;
pub mod ip;
pub mod mac;
pub mod summary;

pub use mac::MacAddr;

/// Length of an Ethernet II header (no VLAN tags are modelled).
pub const ETH_HLEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;

pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_IPIP: u8 = 4;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_VRRP: u8 = 112;

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    Truncated { what: &'static str, need: usize, have: usize },
    Malformed(String),
    BadChecksum(&'static str),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Truncated { what, need, have } => {
                write!(f, "truncated {what}: need {need} bytes, have {have}")
            }
            WireError::Malformed(m) => write!(f, "malformed: {m}"),
            WireError::BadChecksum(what) => write!(f, "bad {what} checksum"),
        }
    }
}

/// The Ethernet header of a frame, read without copying.
#[derive(Debug, Clone, Copy)]
pub struct Eth<'a> {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub ethertype: u16,
    pub payload: &'a [u8],
}

impl<'a> Eth<'a> {
    pub fn parse(frame: &'a [u8]) -> Result<Self, WireError> {
        if frame.len() < ETH_HLEN {
            return Err(WireError::Truncated { what: "Ethernet header", need: ETH_HLEN, have: frame.len() });
        }
        Ok(Eth {
            dst: MacAddr::from_slice(&frame[0..6]),
            src: MacAddr::from_slice(&frame[6..12]),
            ethertype: u16::from_be_bytes([frame[12], frame[13]]),
            payload: &frame[ETH_HLEN..],
        })
    }
}

/// Writes an Ethernet header into the first 14 bytes of `frame`.
pub fn set_eth(frame: &mut [u8], dst: MacAddr, src: MacAddr, ethertype: u16) {
    frame[0..6].copy_from_slice(&dst.0);
    frame[6..12].copy_from_slice(&src.0);
    frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
}
