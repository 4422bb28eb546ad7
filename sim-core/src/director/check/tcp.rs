//! TCP_CHECK (`keepalived/check/check_tcp.c`): a connect, then close.

use super::{Common, Cx, Probe, ProbeResult};
use crate::time::Instant;
use std::net::SocketAddrV4;

#[derive(Debug, Clone)]
pub(super) struct TcpCheck {
    dst: SocketAddrV4,
    bind: Option<SocketAddrV4>,
}

impl TcpCheck {
    pub fn new(dst: SocketAddrV4, bind: Option<SocketAddrV4>) -> Self {
        TcpCheck { dst, bind }
    }

    /// `tcp_connect_thread`.
    pub fn probe(&self, c: &Common) -> Probe {
        Probe::Tcp { dst: self.dst, bind: self.bind, timeout: c.timeout }
    }

    /// `tcp_check_thread`: connected is success; a timeout or any error is a failure,
    /// logged per attempt only with `log_all_failures` while the checker is up.
    pub fn on_result(&mut self, c: &mut Common, r: &ProbeResult, cx: &mut Cx) -> Instant {
        let ok = matches!(r, ProbeResult::Connected);
        if !ok && c.st.is_up && c.log_all_failures {
            let how = if matches!(r, ProbeResult::TimedOut) { "timedout" } else { "failed" };
            let rs = cx.rs_name(c);
            cx.log(format!("TCP connection to {rs} {how}."));
        }
        epilog(c, ok, cx)
    }
}

/// `tcp_epilog`. Unlike UDP/PING, a failing checker keeps counting retries (and waiting
/// `delay_before_retry`) even while it is down.
fn epilog(c: &mut Common, ok: bool, cx: &mut Cx) -> Instant {
    let delay;
    if ok || c.retry_it >= c.retry {
        delay = c.delay_loop;
        c.retry_it = 0;
        let rs = cx.rs_name(c);
        if ok && (!c.st.is_up || !c.st.has_run) {
            cx.log(format!("TCP connection to {rs} success."));
            cx.update(c, true);
        } else if !ok && (c.st.is_up || !c.st.has_run) {
            if c.retry > 0 && c.st.has_run {
                cx.log(format!("TCP_CHECK on service {rs} failed after {} retries.", c.retry));
            } else {
                cx.log(format!("TCP_CHECK on service {rs} failed."));
            }
            cx.update(c, false);
        }
    } else {
        delay = c.delay_before_retry;
        c.retry_it += 1;
    }
    c.st.has_run = true;
    cx.now() + delay
}
