//! HTTP_GET / SSL_GET (`keepalived/check/check_http.c`): one URL per attempt, its status
//! code checked against the `status_code` ranges (200-299 by default) and, with `digest`,
//! the MD5 of the body (what `genhash` prints) compared.

use super::{Common, Cx, Probe, ProbeResult};
use crate::director::keepalived::HttpCheck as HttpConf;
use crate::director::vrrp::ah::md5;
use crate::time::Instant;
use std::net::SocketAddrV4;

/// `REGISTER_CHECKER_*`: what an attempt's end means for the URL iterator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// The URL passed.
    New,
    /// The URL failed while the checker is up (or has not run).
    Retry,
    /// The URL failed while the checker is down.
    Failed,
}

#[derive(Debug, Clone)]
struct Url {
    path: String,
    digest: Option<[u8; 16]>,
    status_codes: Vec<(u16, u16)>,
    virtualhost: Option<String>,
    /// The GET request, byte for byte (`http_request_thread`).
    request: String,
    /// `len_mismatch`: the last Content-Length/received difference reported.
    len_mismatch: i64,
}

#[derive(Debug, Clone)]
pub(super) struct HttpCheck {
    dst: SocketAddrV4,
    bind: Option<SocketAddrV4>,
    ssl: bool,
    urls: Vec<Url>,
    /// `url_it`: the URL the next attempt fetches.
    url_it: Option<usize>,
    /// `failed_url`: the URL that brought the checker down.
    failed_url: Option<usize>,
    fast_recovery: bool,
}

/// `request_template`: `GET path HTTP/1.x`, the `KeepAliveClient` agent, `Connection: close`
/// for `1.0C` and `1.1`, and `Host:` the virtual host or `IP:port`.
fn request(path: &str, protocol: &str, vhost: Option<&str>, dst: SocketAddrV4) -> String {
    let minor = if protocol == "1.1" { 1 } else { 0 };
    let close = if protocol == "1.0C" || protocol == "1.1" { "Connection: close\r\n" } else { "" };
    let host = match vhost {
        Some(h) => h.to_string(),
        None => format!("{}:{}", dst.ip(), dst.port()),
    };
    format!("GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {host}\r\n\r\n")
}

impl HttpCheck {
    /// `vhost` is the first of the checker's, the real server's and the virtual server's
    /// `virtualhost`; a URL's own wins over it.
    pub fn new(h: &HttpConf, dst: SocketAddrV4, bind: Option<SocketAddrV4>, vhost: Option<&str>) -> Self {
        let urls = h
            .urls
            .iter()
            .map(|u| Url {
                path: u.path.clone(),
                digest: u.digest,
                status_codes: u.status_codes.clone(),
                virtualhost: u.virtualhost.clone(),
                request: request(&u.path, &h.http_protocol, u.virtualhost.as_deref().or(vhost), dst),
                len_mismatch: 0,
            })
            .collect::<Vec<_>>();
        HttpCheck {
            dst,
            bind,
            ssl: h.ssl,
            url_it: (!urls.is_empty()).then_some(0),
            urls,
            failed_url: None,
            fast_recovery: h.fast_recovery,
        }
    }

    /// `http_connect_thread`.
    pub fn probe(&self, c: &Common) -> Probe {
        let u = self.url_it.and_then(|i| self.urls.get(i));
        Probe::Http {
            dst: self.dst,
            bind: self.bind,
            ssl: self.ssl,
            path: u.map(|u| u.path.clone()).unwrap_or_default(),
            request: u.map(|u| u.request.clone()).unwrap_or_default(),
            timeout: c.timeout,
        }
    }

    /// The attempt's end: `http_handle_response` for a response, else the failure
    /// `http_check_thread`/`http_response_thread` report through `timeout_epilog`.
    pub fn on_result(&mut self, c: &mut Common, r: &ProbeResult, cx: &mut Cx) -> Instant {
        match r {
            ProbeResult::Http { status, content_length, body } => {
                self.handle_response(c, *status, *content_length, body, cx)
            }
            ProbeResult::TimedOut => self.timeout_epilog(c, cx, "Timeout connecting"),
            ProbeResult::ReadTimedOut => self.timeout_epilog(c, cx, "Timeout WEB read"),
            ProbeResult::HttpEmpty | ProbeResult::Connected => {
                self.timeout_epilog(c, cx, "Read, no data received from ")
            }
            ProbeResult::SslError => self.timeout_epilog(c, cx, "SSL handshake/communication error connecting to"),
            _ => self.timeout_epilog(c, cx, "Error connecting"),
        }
    }

    /// `http_handle_response`.
    fn handle_response(
        &mut self,
        c: &mut Common,
        status: u16,
        content_length: Option<usize>,
        body: &[u8],
        cx: &mut Cx,
    ) -> Instant {
        let Some(u) = self.url_it else { return self.epilog(c, cx, Method::New) };
        let Some(url) = self.urls.get_mut(u) else { return self.epilog(c, cx, Method::New) };
        if !(100..=599).contains(&status) || !url.status_codes.iter().any(|&(a, b)| (a..=b).contains(&status)) {
            return self.timeout_epilog(c, cx, "HTTP status code error to");
        }
        match content_length {
            Some(cl) if cl != body.len() => {
                let diff = cl as i64 - body.len() as i64;
                if url.len_mismatch != diff {
                    let (rs, vs) = (cx.rs_name(c), cx.vs_name());
                    let vhost = url.virtualhost.as_deref().unwrap_or("");
                    cx.log(format!(
                        "http_check for RS {rs} VS {vs} url {vhost}{}: content_length ({cl}) does not match received bytes ({})",
                        url.path,
                        body.len()
                    ));
                    url.len_mismatch = diff;
                }
            }
            _ => url.len_mismatch = 0,
        }
        let mut msg = "HTTP status code";
        if let Some(want) = url.digest {
            let n = content_length.map_or(body.len(), |cl| cl.min(body.len()));
            if md5(&body[..n]) != want {
                return self.timeout_epilog(c, cx, "MD5 digest error to");
            }
            msg = "MD5 digest";
        }
        if !c.st.is_up {
            let rs = cx.rs_name(c);
            let path = url.path.clone();
            cx.log(format!("{msg} success to {rs} url({path})"));
        }
        self.epilog(c, cx, Method::New)
    }

    /// `timeout_epilog`: a failed attempt, retried while the checker is up.
    fn timeout_epilog(&mut self, c: &mut Common, cx: &mut Cx, msg: &str) -> Instant {
        if c.st.is_up || !c.st.has_run {
            if c.log_all_failures {
                let rs = cx.rs_name(c);
                cx.log(format!("{msg} server {rs}."));
            }
            c.st.has_run = true;
            return self.epilog(c, cx, Method::Retry);
        }
        self.epilog(c, cx, Method::Failed)
    }

    /// `epilog`: advance the URL iterator or count a retry; all URLs passed brings the
    /// checker up, `retry` retries exhausted brings it down; then the next delay.
    fn epilog(&mut self, c: &mut Common, cx: &mut Cx, method: Method) -> Instant {
        match method {
            Method::New => {
                self.url_it = self.url_it.map(|i| i + 1).filter(|&i| i < self.urls.len());
                c.retry_it = 0;
            }
            Method::Retry => c.retry_it = c.retry_it.saturating_add(1),
            Method::Failed => {}
        }
        if method == Method::New && self.url_it.is_none() && self.failed_url.is_none() {
            if !c.st.is_up || !c.st.has_run {
                let rs = cx.rs_name(c);
                cx.log(format!("Remote Web server {rs} succeed on service."));
                cx.update(c, true);
                c.st.has_run = true;
            }
            self.url_it = Some(0);
            c.retry_it = 0;
        } else if method == Method::Retry && c.retry_it > c.retry {
            if c.st.is_up || !c.st.has_run {
                let rs = cx.rs_name(c);
                if c.st.has_run && c.retry > 0 {
                    cx.log(format!("HTTP_CHECK on service {rs} failed after {} retries.", c.retry_it - 1));
                } else {
                    cx.log(format!("HTTP_CHECK on service {rs} failed."));
                }
                cx.update(c, false);
            }
            self.failed_url = self.url_it;
        } else if method == Method::New && self.failed_url.is_some() {
            // The failed URL passes again: all URLs must pass from the first.
            self.failed_url = None;
            self.url_it = Some(0);
            c.retry_it = 0;
        }
        let delay = if method == Method::New {
            if !c.st.has_run {
                c.retry_it = c.retry;
            }
            c.delay_loop
        } else if self.failed_url.is_some() {
            c.delay_before_retry.max(c.delay_loop)
        } else {
            c.delay_before_retry
        };
        if self.fast_recovery && (!c.st.has_run || (!c.st.is_up && self.failed_url.is_none())) {
            return cx.now();
        }
        cx.now() + delay
    }
}
