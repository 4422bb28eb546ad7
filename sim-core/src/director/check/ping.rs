//! PING_CHECK (`keepalived/check/check_ping.c`): one ICMP echo request per attempt.

use super::{Common, Cx, Probe, ProbeResult, Said, retry_epilog};
use crate::time::Instant;
use std::net::Ipv4Addr;

#[derive(Debug, Clone)]
pub(super) struct PingCheck {
    dst: Ipv4Addr,
    bind: Option<Ipv4Addr>,
}

impl PingCheck {
    pub fn new(dst: Ipv4Addr, bind: Option<Ipv4Addr>) -> Self {
        PingCheck { dst, bind }
    }

    /// `icmp_connect_thread`.
    pub fn probe(&self, c: &Common) -> Probe {
        Probe::Ping { dst: self.dst, bind: self.bind, timeout: c.timeout }
    }

    /// `icmp_check_thread`: an echo reply is success. An ICMP error makes `recv` fail,
    /// which keepalived always logs (`recv_it`).
    pub fn on_result(&mut self, c: &mut Common, r: &ProbeResult, cx: &mut Cx) -> Instant {
        let ok = matches!(r, ProbeResult::Reply(_));
        if !ok {
            let (rs, vs) = (cx.rs_name(c), cx.vs_name());
            if matches!(r, ProbeResult::TimedOut) {
                if c.st.is_up && c.log_all_failures {
                    cx.log(format!("ICMP connection to address {rs} timeout."));
                }
            } else {
                cx.log("recv ICMP packet error".to_string());
                if c.st.is_up && c.log_all_failures {
                    cx.log(format!("ICMP connection to {rs} of {vs} failed."));
                }
            }
        }
        epilog(c, ok, cx)
    }
}

/// `icmp_epilog`'s words.
fn epilog(c: &mut Common, ok: bool, cx: &mut Cx) -> Instant {
    let retries = c.retry;
    retry_epilog(c, ok, cx, |said, rs, cx| match said {
        Said::Success => format!("ICMP connection to {rs} success."),
        Said::FailedAfterRetries => {
            format!("ICMP CHECK on service {rs} of {} failed after {retries} retries.", cx.vs_name())
        }
        Said::Failed => format!("ICMP CHECK on service {rs} failed."),
    })
}
