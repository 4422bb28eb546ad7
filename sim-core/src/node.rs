//! The boundary every simulated machine sits behind (DESIGN.md, "The director's
//! boundary"): frames in on ports, frames and trace events out, timers, commands.
//! Hosts and the director implement [`Node`]; the simulator's engine and the netns
//! harness's poll loop are the only drivers. No simulator type crosses it.

use crate::report::NodeReport;
use crate::time::Instant;
use crate::wire::MacAddr;
use std::net::Ipv4Addr;

/// A NIC of a node, by index (the order of its `[[host.nic]]` entries).
pub type PortId = usize;

/// What a node says about one of its NICs, for capture headers and names in traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    pub name: String,
    pub mac: MacAddr,
    /// Addresses with prefix length, in the order `ip addr` lists them.
    pub ipv4: Vec<(Ipv4Addr, u8)>,
}

/// A command that failed, with the text and exit status the real tool would give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError {
    pub message: String,
    pub status: i32,
}

impl CmdError {
    /// An error with exit status 2, the usual status for a usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        CmdError { message: message.into(), status: 2 }
    }
    pub fn with_status(message: impl Into<String>, status: i32) -> Self {
        CmdError { message: message.into(), status }
    }
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A simulated machine.
pub trait Node {
    fn name(&self) -> &str;
    /// The NICs, indexed by [`PortId`].
    fn ports(&self) -> Vec<PortInfo>;
    /// A frame arrived on `port`. Emit frames and trace events into `out`.
    fn on_frame(&mut self, now: Instant, port: PortId, frame: &[u8], out: &mut Outbox);
    /// The same, for a driver that owns the frame and no longer needs it: a node
    /// that keeps or rewrites frames (forwarding) avoids a copy.
    fn on_frame_owned(&mut self, now: Instant, port: PortId, frame: Vec<u8>, out: &mut Outbox) {
        self.on_frame(now, port, &frame, out);
    }
    /// Timers (ARP, TCP retransmits, VRRP adverts, health checks, expiry) that are due.
    fn on_timer(&mut self, now: Instant, out: &mut Outbox);
    /// The earliest instant at which `on_timer` has work to do.
    fn next_deadline(&self) -> Option<Instant>;
    /// The cable of `port` was plugged (`up`) or pulled.
    fn on_carrier(&mut self, now: Instant, port: PortId, up: bool, out: &mut Outbox) {
        let _ = (now, port, up, out);
    }
    /// Runs one command line typed at this machine (setup, a timed fault, or a show
    /// command such as `ip neigh` or `ipvsadm -Ln`) and returns what it prints.
    fn exec(&mut self, now: Instant, line: &str, out: &mut Outbox) -> Result<String, CmdError>;
    /// This node's part of the outcome report.
    fn report(&self, now: Instant) -> NodeReport;
}

/// One thing a node emitted while handling an input, in emission order.
#[derive(Debug)]
pub enum Emit {
    Frame { port: PortId, frame: Vec<u8>, cause: Option<String> },
    Note { iface: String, kind: &'static str, text: String, cause: Option<String> },
}

/// What a node decided about the frame it is handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub dropped: bool,
    pub cause: String,
}

/// Where a node puts what it emits. Causes and notes are closures, evaluated only
/// when tracing is on, so the untraced hot path formats nothing.
#[derive(Debug, Default)]
pub struct Outbox {
    tracing: bool,
    items: Vec<Emit>,
    verdict: Option<Verdict>,
}

impl Outbox {
    pub fn new(tracing: bool) -> Self {
        Outbox { tracing, items: Vec::new(), verdict: None }
    }

    /// Whether trace text is being collected.
    pub fn tracing(&self) -> bool {
        self.tracing
    }

    /// Sends `frame` out of `port`.
    pub fn send(&mut self, port: PortId, frame: Vec<u8>) {
        self.items.push(Emit::Frame { port, frame, cause: None });
    }

    /// Sends `frame` out of `port`, saying why.
    pub fn send_with(&mut self, port: PortId, frame: Vec<u8>, cause: impl FnOnce() -> String) {
        let cause = self.tracing.then(cause);
        self.items.push(Emit::Frame { port, frame, cause });
    }

    /// A trace event that is not a frame: `kind` is a short tag (`app`, `neigh`,
    /// `ipvs`, `vrrp`, `check`, `cmd`), `iface` may be `-`.
    pub fn note(&mut self, iface: &str, kind: &'static str, text: impl FnOnce() -> String) {
        if self.tracing {
            self.items.push(Emit::Note { iface: iface.to_string(), kind, text: text(), cause: None });
        }
    }

    /// A note with a cause.
    pub fn note_with(
        &mut self,
        iface: &str,
        kind: &'static str,
        text: impl FnOnce() -> String,
        cause: impl FnOnce() -> String,
    ) {
        if self.tracing {
            self.items.push(Emit::Note { iface: iface.to_string(), kind, text: text(), cause: Some(cause()) });
        }
    }

    /// Why the frame being handled was accepted, answered or forwarded.
    pub fn verdict(&mut self, cause: impl FnOnce() -> String) {
        if self.tracing {
            self.verdict = Some(Verdict { dropped: false, cause: cause() });
        }
    }

    /// The frame being handled was dropped, and why.
    pub fn drop_rx(&mut self, cause: impl FnOnce() -> String) {
        if self.tracing {
            self.verdict = Some(Verdict { dropped: true, cause: cause() });
        }
    }

    /// Takes what was emitted, leaving the outbox empty for the next input.
    pub fn take(&mut self) -> (Vec<Emit>, Option<Verdict>) {
        (std::mem::take(&mut self.items), self.verdict.take())
    }

    /// Moves what was emitted into `buf` (which must be empty), keeping both
    /// allocations for reuse, and returns the verdict.
    pub fn take_into(&mut self, buf: &mut Vec<Emit>) -> Option<Verdict> {
        std::mem::swap(&mut self.items, buf);
        self.verdict.take()
    }

    pub fn take_verdict(&mut self) -> Option<Verdict> {
        self.verdict.take()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.verdict.is_none()
    }
}
