//! Trace events and their two renderings: one stable text line per event,
//! `time node iface dir summary [cause] #id`, and JSON lines.

use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// One event of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Increasing from 1 within a run; pcapng comments carry it as `#id`.
    pub id: u64,
    #[serde(rename = "t_ns")]
    pub time: Instant,
    pub node: String,
    /// NIC name, or `-` for events that belong to no NIC.
    pub iface: String,
    /// `rx`, `tx`, `drop` for frames; a tag such as `app`, `neigh`, `ipvs`, `vrrp`,
    /// `check`, `cmd`, `fault` for other events.
    pub dir: String,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cause: Option<String>,
}

/// Column widths for aligned text, fixed per run (from the scenario's names).
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub node: usize,
    pub iface: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Layout { node: 8, iface: 6 }
    }
}

impl Layout {
    /// Columns as wide as the longest node and interface names (at least 4 and 5).
    pub fn fit<'a>(nodes: impl Iterator<Item = &'a str>, ifaces: impl Iterator<Item = &'a str>) -> Layout {
        Layout {
            node: nodes.map(str::len).max().unwrap_or(4).max(4),
            iface: ifaces.map(str::len).max().unwrap_or(4).max(5),
        }
    }
}

impl TraceEvent {
    /// Records a node's verdict on the frame this event received: `drop` when
    /// it dropped it, and why.
    pub fn set_verdict(&mut self, v: crate::node::Verdict) {
        if v.dropped {
            self.dir = "drop".into();
        }
        self.cause = Some(v.cause);
    }

    /// The text line, without a newline.
    pub fn text(&self, layout: Layout) -> String {
        let mut s = String::with_capacity(160);
        let _ = write!(
            s,
            "{:>13} {:<nw$} {:<iw$} {:<5} {}",
            self.time,
            self.node,
            self.iface,
            self.dir,
            self.summary,
            nw = layout.node,
            iw = layout.iface
        );
        if let Some(c) = &self.cause {
            let _ = write!(s, " [{c}]");
        }
        let _ = write!(s, " #{}", self.id);
        s
    }

    /// The JSON line, without a newline.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("trace events serialise")
    }
}

/// Renders a whole trace as text, one line per event.
pub fn render_text(events: &[TraceEvent], layout: Layout) -> String {
    let mut s = String::new();
    for e in events {
        s.push_str(&e.text(layout));
        s.push('\n');
    }
    s
}

/// Renders a whole trace as JSON lines.
pub fn render_jsonl(events: &[TraceEvent]) -> String {
    let mut s = String::new();
    for e in events {
        s.push_str(&e.json());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_line_shape() {
        let e = TraceEvent {
            id: 12,
            time: Instant::from_nanos(1_000_010_000),
            node: "rs1".into(),
            iface: "eth0".into(),
            dir: "rx".into(),
            summary: "client:eth0 > broadcast ARP who-has 10.0.0.100 tell 10.0.0.1".into(),
            cause: Some("arp_ignore=1: 10.0.0.100 is not on eth0".into()),
        };
        assert_eq!(
            e.text(Layout { node: 6, iface: 5 }),
            "  1.000010000 rs1    eth0  rx    client:eth0 > broadcast ARP who-has 10.0.0.100 tell 10.0.0.1 [arp_ignore=1: 10.0.0.100 is not on eth0] #12"
        );
        let j = e.json();
        assert!(j.contains("\"t_ns\":1000010000"), "{j}");
        let back: TraceEvent = serde_json::from_str(&j).unwrap();
        assert_eq!(back, e);
    }
}
