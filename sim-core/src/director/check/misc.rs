//! MISC_CHECK (`keepalived/check/check_misc.c`): run a script; exit 0 is success, and
//! with `misc_dynamic` an exit status of 2..255 is success with weight `status - 2`.

use super::{Common, Cx, Probe, ProbeResult};
use crate::director::keepalived::{MiscCheck as MiscConf, Script};
use crate::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub(super) struct MiscCheck {
    script: Script,
    /// `misc_timeout`, else the virtual server's `delay_loop` (`misc_check_thread`).
    timeout: Duration,
    dynamic: bool,
    last_exit_code: i32,
    /// When the script was last started: the next run counts from here.
    last_ran: Instant,
}

impl MiscCheck {
    pub fn new(m: &MiscConf, vs_delay_loop: Duration) -> Self {
        MiscCheck {
            script: m.script.clone(),
            timeout: m.timeout.filter(|t| !t.is_zero()).unwrap_or(vs_delay_loop),
            dynamic: m.dynamic,
            last_exit_code: 0,
            last_ran: Instant::ZERO,
        }
    }

    /// `misc_check_thread`.
    pub fn probe(&mut self, now: Instant) -> Probe {
        self.last_ran = now;
        Probe::Misc { script: self.script.clone(), timeout: self.timeout }
    }

    /// `misc_check_child_thread`. A result that is not a script's (a machine error) counts
    /// as exit status 1; a plain [`ProbeResult::TimedOut`] as keepalived's timeout.
    pub fn on_result(&mut self, c: &mut Common, r: &ProbeResult, cx: &mut Cx) -> Instant {
        let mut exit_type: Option<&str> = None;
        let mut success = false;
        let mut reason: Option<(&str, i32)> = None;
        let mut message_only = false;
        let failed_while_up = c.st.is_up || !c.st.has_run;
        match *r {
            ProbeResult::Exited(code) => {
                let status = code.rem_euclid(256);
                if status == 0 || (self.dynamic && status >= 2) {
                    // The weight is two less than the status (0..253); 0 restores the configured one.
                    let weight = if status >= 2 {
                        i64::from(status - 2)
                    } else {
                        cx.vs.rs.get(c.st.rs).map_or(0, |s| s.iweight)
                    };
                    if status != self.last_exit_code {
                        cx.vs.update_svr_wgt(&mut cx.io, weight, c.st.rs, true);
                        self.last_exit_code = status;
                    }
                    if !c.st.is_up || !c.st.has_run {
                        exit_type = Some("succeeded");
                        success = true;
                    }
                    c.retry_it = 0;
                } else if failed_while_up {
                    exit_type = Some("failed");
                    reason = Some(("exited with status", status));
                    if c.retry_it < c.retry {
                        c.retry_it += 1;
                        if c.log_all_failures {
                            message_only = true;
                        } else {
                            exit_type = None;
                        }
                    } else {
                        c.retry_it = 0;
                        self.last_exit_code = status;
                    }
                }
            }
            _ => {
                if failed_while_up {
                    match *r {
                        ProbeResult::ScriptTimedOut | ProbeResult::TimedOut => exit_type = Some("timed out"),
                        ProbeResult::Signaled(sig) => {
                            exit_type = Some("failed");
                            reason = Some(("due to signal", sig));
                        }
                        _ => {
                            exit_type = Some("failed");
                            reason = Some(("exited with status", 1));
                        }
                    }
                    if c.retry_it < c.retry {
                        c.retry_it += 1;
                        if c.log_all_failures {
                            message_only = true;
                        } else {
                            exit_type = None;
                        }
                    } else {
                        c.retry_it = 0;
                    }
                }
            }
        }
        if let Some(t) = exit_type {
            let msg = if !success && c.retry > 0 { format!(" after {} retries", c.retry) } else { String::new() };
            let (rs, vs) = (cx.rs_name(c), cx.vs_name());
            let argv0 = self.script.argv.first().map_or("", String::as_str);
            match reason {
                Some((why, code)) => {
                    cx.log(format!("Misc check for [{rs} VS {vs}] by [{argv0}] {t}{msg} ({why} {code})."))
                }
                None => cx.log(format!("Misc check for [{rs} VS {vs}] by [{argv0}] {t}{msg}.")),
            }
            if !message_only {
                cx.update(c, success);
            }
        }
        let delay = if c.retry_it > 0 { c.delay_before_retry } else { c.delay_loop };
        let next = (self.last_ran + delay).max(cx.now() + Duration::from_micros(1));
        c.st.has_run = true;
        next
    }
}
