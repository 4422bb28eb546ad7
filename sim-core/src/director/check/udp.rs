//! UDP_CHECK (`keepalived/check/check_udp.c`): send a datagram, fail on an ICMP error
//! (or, with `require_reply`, on silence or a reply that does not match).

use super::{Common, Cx, Probe, ProbeResult, Said, retry_epilog};
use crate::director::keepalived::UdpCheck as UdpConf;
use crate::time::Instant;
use std::net::SocketAddrV4;

#[derive(Debug, Clone)]
pub(super) struct UdpCheck {
    dst: SocketAddrV4,
    bind: Option<SocketAddrV4>,
    payload: Vec<u8>,
    require_reply: bool,
    /// The expected reply and its wildcard mask (set bits are not compared).
    reply: Option<(Vec<u8>, Vec<u8>)>,
    min_reply_len: usize,
    max_reply_len: usize,
}

/// `read_hex_str`: hex digits with optional blanks; with `wildcard`, `x`/`X` nibbles match
/// anything. An odd digit before a blank or the end is a whole octet. `None` if invalid or empty.
pub(super) fn read_hex_str(s: &str, wildcard: bool) -> Option<(Vec<u8>, Vec<u8>)> {
    let nibble = |ch: u8| -> Option<(u8, u8)> {
        match ch {
            b'0'..=b'9' => Some((ch - b'0', 0)),
            b'a'..=b'f' => Some((ch - b'a' + 10, 0)),
            b'A'..=b'F' => Some((ch - b'A' + 10, 0)),
            b'x' | b'X' if wildcard => Some((0, 0x0f)),
            _ => None,
        }
    };
    let b = s.as_bytes();
    let (mut data, mut mask) = (Vec::new(), Vec::new());
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let (mut v, mut m) = nibble(b[i])?;
        i += 1;
        if i < b.len() && b[i] != b' ' {
            let (v2, m2) = nibble(b[i])?;
            i += 1;
            v = v << 4 | v2;
            m = m << 4 | m2;
        }
        data.push(v);
        mask.push(m);
    }
    (!data.is_empty()).then_some((data, mask))
}

impl UdpCheck {
    pub fn new(u: &UdpConf, dst: SocketAddrV4, bind: Option<SocketAddrV4>) -> Self {
        let payload = u.payload.as_deref().and_then(|p| read_hex_str(p, false)).map(|(d, _)| d).unwrap_or_default();
        UdpCheck {
            dst,
            bind,
            payload,
            require_reply: u.require_reply.is_some(),
            reply: u.require_reply.as_deref().and_then(|r| read_hex_str(r, true)),
            min_reply_len: usize::from(u.min_reply_length),
            max_reply_len: usize::from(u.max_reply_length),
        }
    }

    /// `udp_connect_thread`.
    pub fn probe(&self, c: &Common) -> Probe {
        Probe::Udp { dst: self.dst, bind: self.bind, payload: self.payload.clone(), timeout: c.timeout }
    }

    /// `check_udp_reply`: true if the reply does NOT match (length limits, then the
    /// common prefix of the reply and the expected data, outside the mask).
    fn mismatch(&self, got: &[u8]) -> bool {
        let Some((data, mask)) = &self.reply else { return false };
        if got.len() < self.min_reply_len || got.len() > self.max_reply_len {
            return true;
        }
        got.iter().zip(data).zip(mask).any(|((g, d), m)| (g ^ d) & !m != 0)
    }

    /// `udp_check_thread` with `udp_socket_state`: silence is success unless a reply is
    /// required; an ICMP error is a failure.
    pub fn on_result(&mut self, c: &mut Common, r: &ProbeResult, cx: &mut Cx) -> Instant {
        let rs = cx.rs_name(c);
        let log_all = c.st.is_up && c.log_all_failures;
        let ok = match r {
            ProbeResult::Reply(d) if self.mismatch(d) => {
                if log_all {
                    cx.log(format!("UDP check to {rs} reply data mismatch."));
                }
                false
            }
            ProbeResult::Reply(_) => true,
            ProbeResult::TimedOut if !self.require_reply => true,
            _ => {
                if log_all {
                    cx.log(format!("UDP connection to {rs} failed."));
                }
                false
            }
        };
        epilog(c, ok, cx)
    }
}

/// `udp_epilog`'s words.
fn epilog(c: &mut Common, ok: bool, cx: &mut Cx) -> Instant {
    let retries = c.retry;
    retry_epilog(c, ok, cx, |said, rs, _| match said {
        Said::Success => format!("UDP connection to {rs} success."),
        Said::FailedAfterRetries => format!("UDP_CHECK on service {rs} failed after {retries} retries."),
        Said::Failed => format!("UDP_CHECK on service {rs} failed."),
    })
}
