//! PING_CHECK (`keepalived/check/check_ping.c`): one ICMP echo request per attempt.

use super::{Common, Cx, Probe, ProbeResult};
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

/// `icmp_epilog`: retries only while up; once down, a failure waits `delay_loop`.
fn epilog(c: &mut Common, ok: bool, cx: &mut Cx) -> Instant {
    let mut delay = c.delay_loop;
    if ok || ((c.st.is_up || !c.st.has_run) && c.retry_it >= c.retry) {
        c.retry_it = 0;
        let rs = cx.rs_name(c);
        if ok && (!c.st.is_up || !c.st.has_run) {
            cx.log(format!("ICMP connection to {rs} success."));
            cx.update(c, true);
        } else if !ok && (c.st.is_up || !c.st.has_run) {
            if c.retry > 0 && c.st.has_run {
                let vs = cx.vs_name();
                cx.log(format!("ICMP CHECK on service {rs} of {vs} failed after {} retries.", c.retry));
            } else {
                cx.log(format!("ICMP CHECK on service {rs} failed."));
            }
            cx.update(c, false);
        }
    } else if c.st.is_up {
        delay = c.delay_before_retry;
        c.retry_it += 1;
    }
    c.st.has_run = true;
    cx.now() + delay
}
