//! ARP for Ethernet/IPv4 (RFC 826), parsed and built through etherparse.

use super::{ETH_HLEN, ETHERTYPE_ARP, MacAddr, WireError, set_eth};
use etherparse::{ArpEthIpv4Packet, ArpOperation, ArpPacketSlice};
use std::net::Ipv4Addr;

pub const ARP_REQUEST: u16 = 1;
pub const ARP_REPLY: u16 = 2;

/// An Ethernet/IPv4 ARP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    pub op: u16,
    pub sha: MacAddr,
    pub spa: Ipv4Addr,
    pub tha: MacAddr,
    pub tpa: Ipv4Addr,
}

impl Arp {
    pub fn parse(payload: &[u8]) -> Result<Self, WireError> {
        let s = ArpPacketSlice::from_slice(payload).map_err(|e| WireError::Malformed(format!("ARP: {e}")))?;
        let p = s
            .to_packet()
            .try_eth_ipv4()
            .map_err(|e| WireError::Malformed(format!("ARP is not Ethernet/IPv4: {e:?}")))?;
        Ok(Arp {
            op: p.operation.0,
            sha: MacAddr(p.sender_mac),
            spa: p.sender_ipv4_addr(),
            tha: MacAddr(p.target_mac),
            tpa: p.target_ipv4_addr(),
        })
    }

    /// Gratuitous: sender and target protocol address are the same (RFC 5227 §3).
    pub fn is_gratuitous(&self) -> bool {
        self.spa == self.tpa
    }

    /// The complete Ethernet frame carrying this message.
    pub fn frame(&self, eth_dst: MacAddr, eth_src: MacAddr) -> Vec<u8> {
        let p = ArpEthIpv4Packet {
            operation: ArpOperation(self.op),
            sender_mac: self.sha.0,
            sender_ipv4: self.spa.octets(),
            target_mac: self.tha.0,
            target_ipv4: self.tpa.octets(),
        };
        let mut f = vec![0u8; ETH_HLEN];
        set_eth(&mut f, eth_dst, eth_src, ETHERTYPE_ARP);
        f.extend_from_slice(&p.to_bytes());
        // Pad to the 60-byte Ethernet minimum, as a NIC does.
        f.resize(60, 0);
        f
    }

    /// A broadcast request for `tpa`.
    pub fn request(sha: MacAddr, spa: Ipv4Addr, tpa: Ipv4Addr) -> Self {
        Arp { op: ARP_REQUEST, sha, spa, tha: MacAddr::ZERO, tpa }
    }

    /// The reply to `req`, saying `tip is-at mac`.
    pub fn reply_to(req: &Arp, mac: MacAddr) -> Self {
        Arp { op: ARP_REPLY, sha: mac, spa: req.tpa, tha: req.sha, tpa: req.spa }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Eth;

    #[test]
    fn round_trip() {
        let a = Arp::request(MacAddr::local(1), Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let f = a.frame(MacAddr::BROADCAST, MacAddr::local(1));
        assert_eq!(f.len(), 60);
        let e = Eth::parse(&f).unwrap();
        assert_eq!(e.ethertype, ETHERTYPE_ARP);
        assert_eq!(Arp::parse(e.payload).unwrap(), a);
        assert!(Arp::parse(&e.payload[..10]).is_err());
    }
}
