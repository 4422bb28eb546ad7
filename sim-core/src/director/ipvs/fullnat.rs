//! FULLNAT: **not mainline Linux.** Modelled on Alibaba's LVS fork as seed 001 §(4)
//! describes it: the request's source CIP:cport becomes a director-side local
//! address and port (LADDR:lport), its destination VIP:vport becomes RIP:dport
//! (port mapping allowed); the real server answers the local address, so replies
//! come back through the director, which maps them back to VIP:vport → CIP:cport.
//!
//! Configuration follows Alibaba's ipvsadm: `-b`/`--fullnat` as the forwarding
//! method on `-a/-e`, local addresses with `ipvsadm -P -t VIP:port -z LADDR`
//! (`--add-laddr`, `--laddr`), `-Q` to delete and `-G` to list them. A service
//! without local addresses uses the route's source address toward the real server.
//!
//! Local ports are handed out deterministically: per local address a cursor walks
//! 1024..=65535, skipping any port whose `<laddr:lport, RIP:dport>` pair is in use.
//! The local address is chosen round-robin over the service's list at the first
//! packet of a connection. Not modelled: Alibaba's TCP option carrying the client
//! address (TOA), sequence-number adjustment, SYN proxy, and ICMP translation.

use super::Ipvs;
use super::IpvsError;
use super::conn::{Key, KeyKind, NONE, ip as addr};
use super::core::ap;
use super::service::ServiceKey;
use crate::node::Outbox;
use std::net::Ipv4Addr;

/// The local port range.
const LPORT_MIN: u16 = 1024;
const LPORT_SPAN: u32 = 65536 - LPORT_MIN as u32;

impl Ipvs {
    /// `ipvsadm -P -t VIP:port -z LADDR`: add a local address to a service.
    pub fn add_laddr(&mut self, key: &ServiceKey, laddr: Ipv4Addr) -> Result<(), IpvsError> {
        let s = self.find_service(key).ok_or(IpvsError::NoService)?;
        let svc = &mut self.services[s as usize];
        if svc.laddrs.contains(&laddr) {
            return Err(IpvsError::Exists);
        }
        svc.laddrs.push(laddr);
        Ok(())
    }

    /// `ipvsadm -Q -t VIP:port -z LADDR`: remove one. Connections using it keep it.
    pub fn del_laddr(&mut self, key: &ServiceKey, laddr: Ipv4Addr) -> Result<(), IpvsError> {
        let s = self.find_service(key).ok_or(IpvsError::NoService)?;
        let svc = &mut self.services[s as usize];
        let pos = svc.laddrs.iter().position(|&a| a == laddr).ok_or(IpvsError::NotFound)?;
        svc.laddrs.remove(pos);
        if svc.laddr_next > pos {
            svc.laddr_next -= 1;
        }
        Ok(())
    }

    /// Chooses the local address and port of FULLNAT connection `idx` and hashes
    /// its reply key. `route_src` is the source the route to the real server would
    /// use. False when every local port toward that real server is taken.
    pub(crate) fn fullnat_bind(&mut self, idx: u32, route_src: Ipv4Addr, out: &mut Outbox) -> bool {
        let c = self.conns.conn(idx);
        let (proto, daddr, dport, dest) = (c.proto, c.daddr, c.dport, c.dest);
        let laddr = if dest == NONE {
            route_src
        } else {
            let svc = &mut self.services[self.dests[dest as usize].svc as usize];
            if svc.laddrs.is_empty() {
                route_src
            } else {
                let i = svc.laddr_next % svc.laddrs.len();
                svc.laddr_next = (i + 1) % svc.laddrs.len();
                svc.laddrs[i]
            }
        };
        let la = u32::from(laddr);
        let cursor = self.fnat_cursor.get(&la).copied().unwrap_or(LPORT_MIN);
        let start = u32::from(cursor.max(LPORT_MIN) - LPORT_MIN);
        let free = (0..LPORT_SPAN)
            .map(|i| (LPORT_MIN as u32 + (start + i) % LPORT_SPAN) as u16)
            .find(|&p| self.conns.get(&Key::new(KeyKind::Out, proto, la, p, daddr, dport)).is_none());
        let Some(lport) = free else {
            out.note_with(
                "-",
                "ipvs",
                || format!("FULLNAT to {}: dropped", ap(daddr, dport)),
                || format!("every local port of {laddr} toward {} is in use", ap(daddr, dport)),
            );
            return false;
        };
        self.fnat_cursor.insert(la, if lport == u16::MAX { LPORT_MIN } else { lport + 1 });
        let c = self.conns.conn_mut(idx);
        c.laddr = la;
        c.lport = lport;
        let desc = (ap(c.caddr, c.cport), ap(c.vaddr, c.vport));
        self.conns.rehash(idx);
        out.note_with(
            "-",
            "ipvs",
            || format!("FULLNAT {} -> {}: local address {}", desc.0, desc.1, ap(la, lport)),
            || {
                format!(
                    "the real server {} sees the director's {} as the client (not mainline: Alibaba FULLNAT)",
                    addr(daddr),
                    laddr
                )
            },
        );
        true
    }
}
