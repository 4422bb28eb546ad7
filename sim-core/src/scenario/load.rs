//! Loading a scenario: built-in names or files, TOML with `file:line:column`
//! errors, references to files beside the scenario, and validation of names,
//! links, MACs and events before anything runs.

use super::model::{EventSpec, HostSpec, ScenarioFile};
use crate::host::{MachineSpec, SetupScript};
use crate::time::Duration;
use crate::wire::MacAddr;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use toml::Spanned;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// A scenario error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.message)
        }
    }
}

impl std::error::Error for LoadError {}

/// Where a scenario's own files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Builtin { dir: String },
    Disk { dir: PathBuf },
}

/// A link to make: between a NIC and a segment, or two NICs.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPlan {
    pub host: usize,
    pub nic: usize,
    /// Segment index, or the peer (host, nic).
    pub to: Result<usize, (usize, usize)>,
    pub params: crate::fabric::LinkParams,
}

/// A validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// Path shown in messages (`scenarios/lan-arp.toml` for built-ins).
    pub file: String,
    pub text: String,
    pub spec: ScenarioFile,
    pub machines: Vec<MachineSpec>,
    pub links: Vec<LinkPlan>,
    pub segment_ageing: Vec<Duration>,
}

/// Names and one-line summaries of the built-in scenarios.
pub fn builtins() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = embedded::FILES
        .iter()
        .filter(|(p, _)| p.ends_with(".toml") && !p.contains('/'))
        .map(|(p, text)| {
            let name = p.trim_end_matches(".toml").to_string();
            let summary = toml::from_str::<toml::Table>(text)
                .ok()
                .and_then(|t| t.get("summary").and_then(|s| s.as_str()).map(str::to_string))
                .unwrap_or_default();
            (name, summary)
        })
        .collect();
    v.sort();
    v
}

/// The text of an embedded file (path relative to `scenarios/`).
pub fn embedded_file(path: &str) -> Option<&'static str> {
    embedded::FILES.iter().find(|(p, _)| *p == path).map(|(_, t)| *t)
}

/// Where each line of a text starts, so that many offsets (one per host's setup)
/// find their line without counting from the top each time.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines { text, starts: std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect() }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let col = self.text[self.starts[line - 1]..offset].chars().count() + 1;
        (line, col)
    }
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    lines: Lines<'a>,
}

impl Ctx<'_> {
    fn at<T>(&self, s: &Spanned<T>, message: impl Into<String>) -> LoadError {
        let (line, col) = self.lines.line_col(s.span().start);
        LoadError { file: self.file.to_string(), line, col, message: message.into() }
    }
    fn nowhere(&self, message: impl Into<String>) -> LoadError {
        LoadError { file: self.file.to_string(), line: 0, col: 0, message: message.into() }
    }
}

/// Loads a built-in scenario by name, or a file by path.
pub fn load(name_or_path: &str) -> Result<Scenario, LoadError> {
    let as_file = name_or_path.ends_with(".toml") || name_or_path.contains('/');
    if !as_file && let Some(text) = embedded_file(&format!("{name_or_path}.toml")) {
        let origin = Origin::Builtin { dir: String::new() };
        return parse(name_or_path, &format!("scenarios/{name_or_path}.toml"), text, origin);
    }
    let path = Path::new(name_or_path);
    let text = std::fs::read_to_string(path).map_err(|e| LoadError {
        file: name_or_path.to_string(),
        line: 0,
        col: 0,
        message: if as_file {
            format!("cannot read scenario: {e}")
        } else {
            format!("no built-in scenario named `{name_or_path}` and no such file (`lvs-lab list` shows the built-ins)")
        },
    })?;
    let stem = path.file_stem().map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&stem, name_or_path, &text, Origin::Disk { dir })
}

/// Parses scenario text (`file` is used in messages).
pub fn load_str(name: &str, file: &str, text: &str) -> Result<Scenario, LoadError> {
    parse(name, file, text, Origin::Disk { dir: PathBuf::from(".") })
}

fn read_beside(origin: &Origin, rel: &str) -> Option<String> {
    match origin {
        Origin::Builtin { dir } => {
            let p = if dir.is_empty() { rel.to_string() } else { format!("{dir}/{rel}") };
            embedded_file(&p).map(str::to_string)
        }
        Origin::Disk { dir } => std::fs::read_to_string(dir.join(rel)).ok(),
    }
}

fn parse(name: &str, file: &str, text: &str, origin: Origin) -> Result<Scenario, LoadError> {
    let cx = Ctx { file, text, lines: Lines::new(text) };
    let spec: ScenarioFile = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map_or((0, 0), |s| cx.lines.line_col(s.start));
        LoadError { file: file.to_string(), line, col, message: e.message().trim().to_string() }
    })?;
    let name = spec.name.clone().unwrap_or_else(|| name.to_string());
    if spec.hosts.is_empty() {
        return Err(cx.nowhere("a scenario needs at least one [[host]]"));
    }
    let mut seg_index = BTreeMap::new();
    let mut segment_ageing = vec![];
    for (i, s) in spec.segments.iter().enumerate() {
        if seg_index.insert(s.name.get_ref().clone(), i).is_some() {
            return Err(cx.at(&s.name, format!("duplicate segment name `{}`", s.name.get_ref())));
        }
        segment_ageing.push(s.ageing.unwrap_or(crate::fabric::Switch::DEFAULT_AGEING));
    }
    let mut host_index = BTreeMap::new();
    for (i, h) in spec.hosts.iter().enumerate() {
        let n = h.name.get_ref();
        if n.is_empty() || n.contains([':', '/', ' ']) {
            return Err(cx.at(&h.name, format!("invalid host name `{n}`: use letters, digits, `-` or `_`")));
        }
        if host_index.insert(n.clone(), i).is_some() {
            return Err(cx.at(&h.name, format!("duplicate host name `{n}`")));
        }
    }
    let nic_of = |hi: usize, nic: &str| spec.hosts[hi].nics.iter().position(|n| n.name.get_ref() == nic);
    let resolve_peer = |p: &Spanned<String>| -> Result<(usize, usize), LoadError> {
        let (h, n) = p
            .get_ref()
            .split_once(':')
            .ok_or_else(|| cx.at(p, format!("peer `{}` must be `host:nic`", p.get_ref())))?;
        let hi = *host_index.get(h).ok_or_else(|| cx.at(p, format!("unknown host `{h}` in peer `{}`", p.get_ref())))?;
        let ni = nic_of(hi, n).ok_or_else(|| cx.at(p, format!("host `{h}` has no NIC `{n}`")))?;
        Ok((hi, ni))
    };
    let mut links = vec![];
    let mut macs: BTreeMap<MacAddr, (String, String)> = BTreeMap::new();
    let mut p2p_done: BTreeSet<((usize, usize), (usize, usize))> = BTreeSet::new();
    let mut machines = vec![];
    for (hi, h) in spec.hosts.iter().enumerate() {
        let mut nic_names = BTreeSet::new();
        let mut nics = vec![];
        for (ni, n) in h.nics.iter().enumerate() {
            let nn = n.name.get_ref();
            if nn.is_empty() || nn.contains([':', ' ']) || nn == "lo" {
                return Err(cx.at(&n.name, format!("invalid NIC name `{nn}`")));
            }
            if !nic_names.insert(nn.clone()) {
                return Err(cx.at(&n.name, format!("duplicate NIC `{nn}` on host `{}`", h.name.get_ref())));
            }
            let mac = match &n.mac {
                Some(m) => m.get_ref().parse::<MacAddr>().map_err(|e| cx.at(m, e))?,
                None => MacAddr::local(((hi as u32 + 1) << 8) | (ni as u32 + 1)),
            };
            if mac.is_multicast() || mac == MacAddr::ZERO {
                return Err(cx.at(n.mac.as_ref().unwrap_or(&n.name), format!("MAC {mac} is not a unicast address")));
            }
            if let Some((oh, on)) = macs.insert(mac, (h.name.get_ref().clone(), nn.clone())) {
                return Err(cx.at(n.mac.as_ref().unwrap_or(&n.name), format!("duplicate MAC {mac}: also on {oh}:{on}")));
            }
            nics.push((nn.clone(), mac));
            let to = match (&n.segment, &n.peer) {
                (Some(s), None) => Ok(*seg_index
                    .get(s.get_ref())
                    .ok_or_else(|| cx.at(s, format!("unknown segment `{}`", s.get_ref())))?),
                (None, Some(p)) => {
                    let (ph, pn) = resolve_peer(p)?;
                    if ph == hi {
                        return Err(cx.at(p, "a NIC cannot be cabled to its own machine"));
                    }
                    Err((ph, pn))
                }
                (Some(s), Some(_)) => return Err(cx.at(s, "a NIC has either `segment` or `peer`, not both")),
                (None, None) => {
                    return Err(cx.at(
                        &n.name,
                        format!(
                            "NIC `{nn}` of `{}` needs `segment = \"...\"` or `peer = \"host:nic\"`",
                            h.name.get_ref()
                        ),
                    ));
                }
            };
            let seg = to.ok().map(|i| &spec.segments[i]);
            let mut params = crate::fabric::LinkParams::default();
            if let Some(v) = n.latency.or(seg.and_then(|s| s.latency)) {
                params.latency = v;
            }
            if let Some(v) = n.rate.or(seg.and_then(|s| s.rate)) {
                params.rate = v;
            }
            if let Some(v) = n.queue.or(seg.and_then(|s| s.queue)) {
                params.queue = v;
            }
            if let Some(v) = n.loss.or(seg.and_then(|s| s.loss)) {
                if !(0.0..=1.0).contains(&v) {
                    return Err(cx.at(&n.name, format!("loss {v} must be between 0 and 1")));
                }
                params.loss = v;
            }
            if let Err((ph, pn)) = to {
                let key = if (hi, ni) < (ph, pn) { ((hi, ni), (ph, pn)) } else { ((ph, pn), (hi, ni)) };
                if !p2p_done.insert(key) {
                    continue;
                }
                if let Some(back) = spec.hosts[ph].nics[pn].peer.as_ref()
                    && resolve_peer(back)? != (hi, ni)
                {
                    return Err(cx.at(
                        back,
                        format!("peer `{}` is cabled to {}:{nn}, not here", back.get_ref(), h.name.get_ref()),
                    ));
                }
                if spec.hosts[ph].nics[pn].segment.is_some() {
                    return Err(cx.at(n.peer.as_ref().expect("peer"), "the peer NIC is plugged into a segment already"));
                }
            }
            links.push(LinkPlan { host: hi, nic: ni, to, params });
        }
        machines.push(machine_spec(&cx, h, nics, &origin)?);
    }
    for e in &spec.events {
        check_event(&cx, &spec.hosts, &host_index, e)?;
    }
    for x in &spec.expects {
        if let Some(h) = &x.host
            && !host_index.contains_key(h.get_ref())
        {
            return Err(cx.at(h, format!("unknown host `{}`", h.get_ref())));
        }
        let k = x.kind.get_ref().as_str();
        if !["outcomes", "bodies", "neigh", "exec", "trace", "vrrp"].contains(&k) {
            return Err(
                cx.at(&x.kind, format!("unknown expectation kind `{k}` (outcomes, bodies, neigh, exec, trace, vrrp)"))
            );
        }
    }
    Ok(Scenario { name, file: file.to_string(), text: text.to_string(), spec, machines, links, segment_ageing })
}

fn machine_spec(
    cx: &Ctx,
    h: &HostSpec,
    nics: Vec<(String, MacAddr)>,
    origin: &Origin,
) -> Result<MachineSpec, LoadError> {
    let mut setup = vec![];
    if let Some(s) = &h.setup {
        let (line, _) = cx.lines.line_col(s.span().start);
        // A `"""` string starts on the line after the opening quotes.
        let first_line = if cx.text[s.span().start..].starts_with("\"\"\"\n") { line + 1 } else { line };
        setup.push(SetupScript {
            origin: cx.file.to_string(),
            first_line,
            text: s.get_ref().clone(),
            args: h.setup_args.clone(),
        });
    }
    for sc in &h.scripts {
        let text = read_beside(origin, sc.get_ref())
            .ok_or_else(|| cx.at(sc, format!("cannot read script `{}`", sc.get_ref())))?;
        setup.push(SetupScript { origin: sc.get_ref().clone(), first_line: 1, text, args: h.setup_args.clone() });
    }
    let mut files = BTreeMap::new();
    for (path, content) in &h.files {
        let text = match content.get_ref().strip_prefix('@') {
            Some(rel) => read_beside(origin, rel).ok_or_else(|| cx.at(content, format!("cannot read `{rel}`")))?,
            None => content.get_ref().clone(),
        };
        files.insert(path.clone(), text);
    }
    let mut names = BTreeSet::new();
    for a in &h.apps {
        if !names.insert(a.get_ref().name().to_string()) {
            return Err(cx.at(
                a,
                format!("two apps named `{}` on `{}`: give one a `name`", a.get_ref().name(), h.name.get_ref()),
            ));
        }
    }
    let keepalived_version = match &h.keepalived_version {
        None => Default::default(),
        Some(v) => crate::director::vrrp::KeepalivedVersion::from_release(v.get_ref()).ok_or_else(|| {
            cx.at(v, format!("unknown keepalived version `{}` (e.g. 1.3.5, 2.2.4, 2.4.3)", v.get_ref()))
        })?,
    };
    Ok(MachineSpec {
        name: h.name.get_ref().clone(),
        nics,
        apps: h.apps.iter().map(|a| a.get_ref().clone()).collect(),
        files,
        setup,
        script_results: h.script_results.clone(),
        keepalived_version,
    })
}

fn check_event(cx: &Ctx, hosts: &[HostSpec], index: &BTreeMap<String, usize>, e: &EventSpec) -> Result<(), LoadError> {
    let hi =
        *index.get(e.host.get_ref()).ok_or_else(|| cx.at(&e.host, format!("unknown host `{}`", e.host.get_ref())))?;
    match e.action.get_ref().as_str() {
        "exec" => {
            if e.command.is_none() {
                return Err(cx.at(&e.action, "`do = \"exec\"` needs `command = \"...\"`"));
            }
        }
        "link-down" | "link-up" => {
            let nic = e.nic.as_ref().ok_or_else(|| cx.at(&e.action, "link events need `nic = \"eth0\"`"))?;
            if !hosts[hi].nics.iter().any(|n| n.name.get_ref() == nic.get_ref()) {
                return Err(cx.at(nic, format!("host `{}` has no NIC `{}`", e.host.get_ref(), nic.get_ref())));
            }
        }
        "crash" | "boot" => {}
        "stop" | "start" => {
            let app = e.app.as_ref().ok_or_else(|| cx.at(&e.action, "`stop`/`start` need `app = \"name\"`"))?;
            if app != "keepalived" && !hosts[hi].apps.iter().any(|a| a.get_ref().name() == app) {
                return Err(cx.at(&e.action, format!("host `{}` has no app `{app}`", e.host.get_ref())));
            }
        }
        other => {
            return Err(cx.at(
                &e.action,
                format!("unknown event `{other}` (exec, link-down, link-up, crash, boot, stop, start)"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Lines;
    use proptest::prelude::*;

    proptest! {
        /// Line and column as counted from the top: newlines before the offset, and
        /// characters since the last of them.
        #[test]
        fn lines_count_as_from_the_top(text in "[a\n\u{e9}\u{4e2d} ]{0,60}", at in any::<prop::sample::Index>()) {
            let offsets: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            let offset = offsets[at.index(offsets.len())];
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            prop_assert_eq!(Lines::new(&text).line_col(offset), (line, col));
        }
    }
}
