//! The scenario file format (TOML), as serde types. `docs/scenario-format.md`
//! describes it for users; keep the two in step.

use crate::fabric::link::parse_rate;
use crate::host::apps::AppSpec;
use crate::time::Duration;
use crate::wire::MacAddr;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use toml::Spanned;

fn de_rate_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum R {
        N(u64),
        S(String),
    }
    match R::deserialize(d)? {
        R::N(n) => Ok(Some(n)),
        R::S(s) => parse_rate(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

/// `[[segment]]`: an L2 segment (a learning switch).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSpec {
    pub name: Spanned<String>,
    /// MAC ageing time (300 s).
    #[serde(default, with = "crate::time::serde_duration::option")]
    pub ageing: Option<Duration>,
    #[serde(default, with = "crate::time::serde_duration::option")]
    pub latency: Option<Duration>,
    #[serde(default, deserialize_with = "de_rate_opt")]
    pub rate: Option<u64>,
    #[serde(default)]
    pub queue: Option<usize>,
    #[serde(default)]
    pub loss: Option<f64>,
}

/// `[[host.nic]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NicSpec {
    pub name: Spanned<String>,
    /// The segment it is plugged into...
    #[serde(default)]
    pub segment: Option<Spanned<String>>,
    /// ...or another machine's NIC, back to back (`router:eth1`).
    #[serde(default)]
    pub peer: Option<Spanned<String>>,
    #[serde(default)]
    pub mac: Option<Spanned<String>>,
    #[serde(default, with = "crate::time::serde_duration::option")]
    pub latency: Option<Duration>,
    #[serde(default, deserialize_with = "de_rate_opt")]
    pub rate: Option<u64>,
    #[serde(default)]
    pub queue: Option<usize>,
    #[serde(default)]
    pub loss: Option<f64>,
}

/// `[[host]]`: a machine.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: Spanned<String>,
    /// What the machine is, for readers (`client`, `router`, `director`, `real-server`).
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default, rename = "nic")]
    pub nics: Vec<NicSpec>,
    /// Commands as typed at the machine, or a whole script.
    #[serde(default)]
    pub setup: Option<Spanned<String>>,
    /// Arguments of the setup script (`["start"]` for `case "$1" in start)`).
    #[serde(default)]
    pub setup_args: Vec<String>,
    /// Script files (relative to the scenario) run after `setup`, e.g. a tutorial's `lvs-dr.sh`.
    #[serde(default)]
    pub scripts: Vec<Spanned<String>>,
    /// Files on the machine: path → contents, or `@relative/path` to read a file
    /// beside the scenario (`/etc/keepalived/keepalived.conf = "@keepalived/seed004-nat-master.conf"`).
    #[serde(default)]
    pub files: BTreeMap<String, Spanned<String>>,
    #[serde(default, rename = "app")]
    pub apps: Vec<Spanned<AppSpec>>,
    /// What `vrrp_script`/`MISC_CHECK` scripts return on this machine: script text → exit status.
    #[serde(default)]
    pub script_results: BTreeMap<String, i32>,
    /// The keepalived release the machine runs (`1.3.5` as CentOS 7 ships it, `2.2.4`,
    /// `2.4.3`): picks the VRRP version profile (log wording, validation). Default 2.2.
    #[serde(default)]
    pub keepalived_version: Option<Spanned<String>>,
}

/// `[[event]]`: something that happens at a simulated time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    #[serde(with = "crate::time::serde_duration")]
    pub at: Duration,
    pub host: Spanned<String>,
    /// `exec`, `link-down`, `link-up`, `crash`, `boot`, `stop`, `start`.
    #[serde(rename = "do")]
    pub action: Spanned<String>,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub nic: Option<Spanned<String>>,
    #[serde(default)]
    pub app: Option<String>,
}

/// `[[expect]]`: a claim about the outcome, checked by `run` and `check`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// `outcomes`, `bodies`, `neigh`, `exec`, `trace`, `vrrp`.
    pub kind: Spanned<String>,
    /// What the claim is for, shown when it fails.
    #[serde(default)]
    pub about: Option<String>,
    /// Client (`host` or `host/app`) for `outcomes`/`bodies`; host for `neigh`/`exec`/`vrrp`.
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub host: Option<Spanned<String>>,
    // outcomes
    #[serde(default)]
    pub ok: Option<usize>,
    #[serde(default)]
    pub reset: Option<usize>,
    #[serde(default)]
    pub refused: Option<usize>,
    #[serde(default)]
    pub timeout: Option<usize>,
    #[serde(default)]
    pub unreachable: Option<usize>,
    #[serde(default)]
    pub pending: Option<usize>,
    /// Every request had this outcome.
    #[serde(default)]
    pub all: Option<String>,
    // bodies
    #[serde(default)]
    pub sequence: Option<Vec<String>>,
    #[serde(default)]
    pub cycle: Option<Vec<String>>,
    /// Every body is one of these, and each appears.
    #[serde(default)]
    pub set: Option<Vec<String>>,
    #[serde(default)]
    pub only: Option<String>,
    // neigh
    #[serde(default)]
    pub addr: Option<String>,
    #[serde(default)]
    pub lladdr: Option<String>,
    /// `host:nic` whose MAC the entry must hold.
    #[serde(default)]
    pub lladdr_of: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub absent: Option<bool>,
    // exec
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub contains: Option<Vec<String>>,
    #[serde(default)]
    pub lacks: Option<Vec<String>>,
    #[serde(default)]
    pub equals: Option<String>,
    // trace
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub at_least: Option<usize>,
    #[serde(default)]
    pub at_most: Option<usize>,
    /// Only events at exactly this simulated time count (`at = "13.257833s"`).
    #[serde(default, with = "crate::time::serde_duration::option")]
    pub at: Option<Duration>,
    /// Only events at or after this time count.
    #[serde(default, with = "crate::time::serde_duration::option")]
    pub after: Option<Duration>,
    /// Only events before this time count.
    #[serde(default, with = "crate::time::serde_duration::option")]
    pub before: Option<Duration>,
    // vrrp
    #[serde(default)]
    pub instance: Option<String>,
}

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: Option<String>,
    /// One line shown by `lvs-lab list`.
    #[serde(default)]
    pub summary: Option<String>,
    /// What the scenario teaches, shown by `lvs-lab show`.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub seed: Option<u64>,
    /// Simulated time the run lasts.
    #[serde(with = "crate::time::serde_duration", default = "default_duration")]
    pub duration: Duration,
    #[serde(default)]
    pub max_events: Option<u64>,
    #[serde(default, rename = "segment")]
    pub segments: Vec<SegmentSpec>,
    #[serde(default, rename = "host")]
    pub hosts: Vec<HostSpec>,
    #[serde(default, rename = "event")]
    pub events: Vec<EventSpec>,
    #[serde(default, rename = "expect")]
    pub expects: Vec<ExpectSpec>,
}

fn default_duration() -> Duration {
    Duration::from_secs(30)
}

/// Parses a MAC written in a scenario.
pub fn mac(s: &str) -> Result<MacAddr, String> {
    s.parse()
}
