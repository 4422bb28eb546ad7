//! The outcome report (`--json`): one schema for the simulator and the netns
//! harness, so the two worlds can be diffed. Field names are stable.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole report of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    /// `sim` or `netns`.
    pub world: String,
    /// Simulated (or elapsed) time when the run ended, in ns.
    pub end_ns: u64,
    /// Why the run ended: `quiet`, `until`, or a limit message.
    pub ended: String,
    pub requests: Vec<RequestRecord>,
    pub hosts: BTreeMap<String, NodeReport>,
}

/// How a client request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A full response arrived; `body` holds it.
    Ok,
    /// The connection was reset (RST received).
    Reset,
    /// ICMP port unreachable: ECONNREFUSED.
    Refused,
    /// No answer within the client's timeout.
    Timeout,
    /// ICMP host/net unreachable, or the neighbour could not be resolved: EHOSTUNREACH.
    Unreachable,
    /// Still in progress when the run ended.
    Pending,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Ok => "ok",
            Outcome::Reset => "reset",
            Outcome::Refused => "refused",
            Outcome::Timeout => "timeout",
            Outcome::Unreachable => "unreachable",
            Outcome::Pending => "pending",
        })
    }
}

/// One request a client made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub client: String,
    /// Index of the request within its client app, from 0.
    pub seq: u32,
    /// `tcp` or `udp`.
    pub proto: String,
    pub start_ns: u64,
    pub end_ns: Option<u64>,
    pub outcome: Outcome,
    /// The response body (for `ok`), e.g. `RS1`.
    pub body: Option<String>,
    /// Client address:port of the 4-tuple.
    pub src: String,
    /// Server (virtual) address:port.
    pub dst: String,
}

/// One host's (or director's) state at the end of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    #[serde(default)]
    pub neigh: Vec<NeighEntry>,
    #[serde(default)]
    pub routes: Vec<RouteEntry>,
    /// Client requests made by this node (also collected at the top level).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipvs: Option<IpvsReport>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vrrp: Vec<VrrpReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<EchoStats>,
}

/// What an echo client saw (the `lan-echo` benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EchoStats {
    pub sent: u64,
    pub received: u64,
    pub mean_rtt_ns: u64,
}

/// A neighbour entry, as `ip neigh` shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NeighEntry {
    pub addr: String,
    pub dev: String,
    pub lladdr: Option<String>,
    /// INCOMPLETE, REACHABLE, STALE, DELAY, PROBE, FAILED, PERMANENT, NOARP.
    pub state: String,
}

/// A route of the main table, as `ip route` shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RouteEntry {
    /// `default` or `a.b.c.d/len`.
    pub dst: String,
    pub via: Option<String>,
    pub dev: String,
    pub src: Option<String>,
    /// `link`, `host` or `global`.
    pub scope: String,
    pub metric: u32,
}

/// The director's IPVS table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpvsReport {
    pub services: Vec<IpvsService>,
    pub conns: Vec<IpvsConn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpvsService {
    /// `TCP 10.0.0.100:80`, `UDP ...` or `FWM 7`, as `ipvsadm -Ln` names it.
    pub name: String,
    pub scheduler: String,
    pub persistent: Option<u32>,
    pub dests: Vec<IpvsDest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpvsDest {
    pub addr: String,
    /// `Masq`, `Route`, `Tunnel`, `Local` or `FullNat`.
    pub forward: String,
    pub weight: u32,
    pub active: u32,
    pub inactive: u32,
    pub persistent: u32,
    pub conns: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IpvsConn {
    pub proto: String,
    pub state: String,
    pub client: String,
    pub virt: String,
    pub dest: String,
    pub expire_ms: u64,
}

/// A VRRP instance's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpReport {
    pub instance: String,
    pub vrid: u8,
    /// INIT, BACKUP, MASTER or FAULT.
    pub state: String,
    pub priority: u8,
}
