//! The common case of `ip_vs_in_hook` in one pass: a client packet of an entry
//! that is established in every sense the general path checks, forwarded by DR or
//! NAT. The kernel runs the same steps for it (§5.1 steps 5–8: no SYN to
//! reschedule on, the dest still available, `ip_vs_in_stats`, `ip_vs_set_state`,
//! `packet_xmit`, `ip_vs_conn_put`); here they are fused so a packet costs one
//! entry lookup and no detour through the general path's cases.
//!
//! Everything that could make the general path do anything else — a SYN, a dest
//! gone or unavailable, a TCP state change (which moves counters and is traced), a
//! route that is local or missing, a TTL about to expire, DF over the MTU, any
//! other forwarding method — sends the packet back to the general path before
//! anything has changed, so both give the same result (tests check this packet
//! for packet against the general path). Like the general path's lookup, it skips
//! `ip_vs_out_hook`, which runs first in the kernel: a packet that is a known
//! client connection's could only match there if its 4-tuple were also a NAT
//! reply's, a configuration no one can build.

use super::Ipvs;
use super::conn::{NONE, cf, ip as addr};
use super::core::{Iph, L4};
use super::dest::Fwd;
use super::proto_tcp::{self, Dir};
use super::xmit::dnat;
use crate::stack::hooks::{HookEnv, HookVerdict};
use crate::time::Instant;
use crate::wire::ip::{TCP_SYN, rewrite};
use crate::wire::{ETH_HLEN, IPPROTO_TCP, IPPROTO_UDP};

impl Ipvs {
    /// Forwards a client packet at LOCAL_IN/LOCAL_OUT when it is the common case;
    /// otherwise leaves it untouched to the general path, with what it read when no
    /// entry has its 4-tuple (`Err(Some(..))`: the general path need not parse or
    /// look again). Only option-less, unfragmented TCP/UDP packets with a whole
    /// transport header qualify.
    #[inline(always)]
    pub(crate) fn in_established(
        &mut self,
        now: Instant,
        frame: &mut Vec<u8>,
        env: &dyn HookEnv,
    ) -> Result<HookVerdict, Option<(Iph, L4)>> {
        #[cfg(test)]
        if !self.fast_path {
            return Err(None);
        }
        let ip = frame.get(ETH_HLEN..).ok_or(None)?;
        let h: &[u8; 28] = ip.first_chunk().ok_or(None)?;
        if h[0] != 0x45 || h[6] & 0x3f != 0 || h[7] != 0 {
            return Err(None);
        }
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let proto = h[9];
        let (tcp, tflags) = match proto {
            IPPROTO_TCP if len >= 40 => (true, *ip.get(33).ok_or(None)?),
            IPPROTO_UDP if len >= 28 => (false, 0),
            _ => return Err(None),
        };
        if len > ip.len() {
            return Err(None);
        }
        let saddr = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
        let daddr = u32::from_be_bytes([h[16], h[17], h[18], h[19]]);
        let sport = u16::from_be_bytes([h[20], h[21]]);
        let dport = u16::from_be_bytes([h[22], h[23]]);
        let (df, ttl) = (h[6] & 0x40 != 0, h[8]);
        let Some(idx) = self.conn_in_get(proto, saddr, sport, daddr, dport) else {
            // What Iph::parse and the port read of the general path would give.
            let iph = Iph { hlen: 20, len, proto, saddr, daddr, df, frag: false };
            return Err(Some((iph, L4 { sport, dport, tflags })));
        };
        let c = self.conns.conn(idx);
        // Step 5: a SYN may reschedule (expire_nodest_conn, conn_reuse_mode).
        if tcp && tflags & TCP_SYN != 0 {
            return Err(None);
        }
        // Step 6: the dest must still be there.
        let d = c.dest as usize;
        if c.dest == NONE {
            return Err(None);
        }
        let dest = &self.dests[d];
        if !dest.available() {
            return Err(None);
        }
        let svc = dest.svc as usize;
        let fwd = c.fwd();
        if fwd != Fwd::Route && fwd != Fwd::Masq {
            return Err(None);
        }
        // set_tcp_state: only packets that leave the state as it is.
        let state = c.state;
        if tcp && proto_tcp::next_state(state, tflags, Dir::Input, c.has(cf::NOOUTPUT)) != state {
            return Err(None);
        }
        // __ip_vs_get_out_rt for a non-local route: TTL and MTU must pass.
        let (rs, rport) = (c.daddr, c.dport);
        let rt = self.dest_dst(d, rs, now, env).ok_or(None)?;
        if rt.local || addr(saddr).is_loopback() || ttl <= 1 || (df && len as u32 > rt.mtu) {
            return Err(None);
        }
        let (dev, gateway) = (rt.dev, rt.gateway);

        // ip_vs_in_stats (the dest is available).
        self.dests[d].stats.add_in(now, len);
        self.services[svc].stats.add_in(now, len);
        // The state's timeout, taken on every packet.
        let timeout = if tcp { self.tcp_timeouts[usize::from(state)] } else { self.udp_timeout };
        self.conns.conn_mut(idx).timeout_ms = timeout.saturating_mul(1000);
        // packet_xmit.
        frame.truncate(ETH_HLEN + len);
        let ip = &mut frame[ETH_HLEN..];
        rewrite::dec_ttl(ip);
        let next_hop = if fwd == Fwd::Masq {
            dnat(ip, rs, rport);
            gateway.unwrap_or(addr(rs))
        } else {
            addr(rs)
        };
        // ip_vs_conn_put.
        self.conns.arm(idx, now);
        Ok(HookVerdict::Transmit { dev, next_hop })
    }
}
