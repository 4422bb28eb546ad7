//! The pcapng writer. One Interface Description Block per NIC, named `host:ifname`
//! with its MAC and IPv4 addresses and `if_tsresol` = 9 (nanoseconds); a Name
//! Resolution Block naming every host address; one Enhanced Packet Block per frame
//! a NIC sent or received, with the direction flag and the trace event id (`#id`)
//! as its comment, so a packet in Wireshark leads back to its trace line.

use crate::time::Instant;
use crate::wire::MacAddr;
use pcap_file::DataLink;
use pcap_file::Endianness;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::pcapng::blocks::name_resolution::{Ipv4Record, NameResolutionBlock, Record};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use std::borrow::Cow;
use std::net::Ipv4Addr;

/// A NIC as the capture describes it.
#[derive(Debug, Clone)]
pub struct CaptureIface {
    /// `host:ifname`.
    pub name: String,
    pub mac: MacAddr,
    pub ipv4: Vec<(Ipv4Addr, u8)>,
}

/// An in-memory pcapng file being written.
pub struct Capture {
    writer: PcapNgWriter<Vec<u8>>,
}

/// EPB flags word, bits 0-1: 01 = inbound, 10 = outbound (pcapng §4.3.1).
const INBOUND: u32 = 0b01;
const OUTBOUND: u32 = 0b10;

fn prefix_mask(len: u8) -> [u8; 4] {
    let m = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
    m.to_be_bytes()
}

impl Capture {
    /// Starts a capture with `ifaces` (interface ids are their indices) and a name
    /// for each address in `names`.
    pub fn new(ifaces: &[CaptureIface], names: &[(Ipv4Addr, String)]) -> Self {
        let shb = SectionHeaderBlock {
            endianness: Endianness::Little,
            options: vec![SectionHeaderOption::UserApplication(Cow::Borrowed("lvs-lab"))],
            ..SectionHeaderBlock::default()
        };
        let mut writer = PcapNgWriter::with_section_header(Vec::new(), shb).expect("writing to memory");
        for i in ifaces {
            let mut options = vec![
                InterfaceDescriptionOption::IfName(Cow::Owned(i.name.clone())),
                InterfaceDescriptionOption::IfMacAddr(Cow::Owned(i.mac.0.to_vec())),
                InterfaceDescriptionOption::IfTsResol(9),
            ];
            for (a, len) in &i.ipv4 {
                let mut v = a.octets().to_vec();
                v.extend_from_slice(&prefix_mask(*len));
                options.push(InterfaceDescriptionOption::IfIpv4Addr(Cow::Owned(v)));
            }
            let idb = InterfaceDescriptionBlock { linktype: DataLink::ETHERNET, snaplen: 0xffff, options };
            writer.write_pcapng_block(idb).expect("writing to memory");
        }
        if !names.is_empty() {
            let mut records: Vec<Record> = names
                .iter()
                .map(|(a, n)| {
                    Record::Ipv4(Ipv4Record {
                        ip_addr: Cow::Owned(a.octets().to_vec()),
                        names: vec![Cow::Owned(n.clone())],
                    })
                })
                .collect();
            records.push(Record::End);
            writer.write_pcapng_block(NameResolutionBlock { records, options: vec![] }).expect("writing to memory");
        }
        Capture { writer }
    }

    /// Records a frame seen on interface `iface` at `t`.
    pub fn packet(&mut self, iface: u32, t: Instant, frame: &[u8], inbound: bool, event_id: u64) {
        let epb = EnhancedPacketBlock {
            interface_id: iface,
            timestamp: std::time::Duration::from_nanos(t.nanos()),
            original_len: frame.len() as u32,
            data: Cow::Borrowed(frame),
            options: vec![
                EnhancedPacketOption::Flags(if inbound { INBOUND } else { OUTBOUND }),
                EnhancedPacketOption::Comment(Cow::Owned(format!("#{event_id}"))),
            ],
        };
        self.writer.write_pcapng_block(epb).expect("writing to memory");
    }

    /// The finished file's bytes.
    pub fn finish(self) -> Vec<u8> {
        self.writer.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcapng::{Block, PcapNgReader};

    #[test]
    fn blocks_read_back() {
        let ifaces = vec![CaptureIface {
            name: "client:eth0".into(),
            mac: MacAddr::local(1),
            ipv4: vec![(Ipv4Addr::new(10, 0, 0, 1), 24)],
        }];
        let mut c = Capture::new(&ifaces, &[(Ipv4Addr::new(10, 0, 0, 1), "client".into())]);
        c.packet(0, Instant::from_nanos(1_000_000_123), &[0u8; 60], false, 7);
        let bytes = c.finish();
        let mut r = PcapNgReader::new(&bytes[..]).unwrap();
        let mut kinds = vec![];
        while let Some(b) = r.next_block() {
            match b.unwrap() {
                Block::InterfaceDescription(idb) => {
                    assert!(idb.options.contains(&InterfaceDescriptionOption::IfName("client:eth0".into())));
                    assert!(idb.options.contains(&InterfaceDescriptionOption::IfTsResol(9)));
                    kinds.push("idb");
                }
                Block::NameResolution(_) => kinds.push("nrb"),
                Block::EnhancedPacket(epb) => {
                    assert_eq!(epb.timestamp.as_nanos(), 1_000_000_123);
                    assert!(epb.options.contains(&EnhancedPacketOption::Comment("#7".into())));
                    assert!(epb.options.contains(&EnhancedPacketOption::Flags(OUTBOUND)));
                    kinds.push("epb");
                }
                _ => {}
            }
        }
        assert_eq!(kinds, ["idb", "nrb", "epb"]);
    }
}
