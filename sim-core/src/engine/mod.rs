//! The discrete-event kernel: simulated time, the (time, seq) event queue, and the
//! run loop that drives nodes, links and switches, with tracing and capture as
//! middleware around node ports (no protocol code knows it is being recorded).

pub mod queue;

use crate::capture::{Capture, CaptureIface};
use crate::fabric::{Forward, Link, LinkDrop, LinkParams, Switch};
use crate::node::{CmdError, Emit, Node, Outbox, PortId};
use crate::rng;
use crate::time::Instant;
use crate::trace::{Layout, TraceEvent};
use crate::wire::{Eth, MacAddr, summary};
use queue::EventQueue;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Index of a node in the simulation.
pub type NodeId = usize;

/// One end of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Node { node: NodeId, port: PortId },
    Switch { switch: usize, port: usize },
}

/// Something scheduled by the scenario: faults and timed commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Pull (`up = false`) or plug the cable of a NIC.
    Link { node: NodeId, port: PortId, up: bool },
    /// The machine stops: its links go dark and its state is lost.
    Crash { node: NodeId },
    /// The machine boots again from its scenario definition (setup re-runs).
    Boot { node: NodeId },
    /// A command typed at the machine (e.g. `systemctl stop httpd`, `iptables -I OUTPUT -p vrrp -j DROP`).
    Exec { node: NodeId, line: String },
}

/// Builds a node afresh (at start and on every boot), running its setup.
pub type NodeFactory = Box<dyn Fn(Instant, &mut Outbox) -> Result<Box<dyn Node>, String>>;

enum Ev {
    Arrive { at: Endpoint, frame: Vec<u8> },
    Timer { node: NodeId },
    Action(Action),
}

struct Slot {
    node: Box<dyn Node>,
    factory: Option<NodeFactory>,
    up: bool,
    armed: Option<Instant>,
    /// What the node emitted while being built, sent when the run starts.
    pending: Vec<Emit>,
    /// Link and side per port.
    ports: Vec<Option<(usize, usize)>>,
    /// Capture interface id per port.
    cap_if: Vec<u32>,
    port_names: Vec<String>,
}

struct LinkSlot {
    link: Link,
    ends: [Endpoint; 2],
}

struct SwitchSlot {
    sw: Switch,
    /// Link and side per switch port.
    ports: Vec<(usize, usize)>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// No events left.
    Quiet,
    /// Reached the time limit.
    Until(Instant),
    /// Hit the event limit at the given time: the scenario is probably looping.
    EventLimit { events: u64, at: Instant },
}

impl std::fmt::Display for RunEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunEnd::Quiet => write!(f, "quiet"),
            RunEnd::Until(t) => write!(f, "until {t}"),
            RunEnd::EventLimit { events, at } => {
                write!(f, "event limit: stopped after {events} events at simulated time {at}")
            }
        }
    }
}

/// Options of a simulation.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub seed: u64,
    /// Collect trace events (needed for `--trace` and for capture comments).
    pub trace: bool,
    /// Write a pcapng.
    pub capture: bool,
    /// Stop when this many events have been processed.
    pub max_events: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions { seed: 1, trace: true, capture: false, max_events: 50_000_000 }
    }
}

/// A simulation: nodes, the fabric between them, the clock and the event queue.
pub struct Sim {
    now: Instant,
    queue: EventQueue<Ev>,
    nodes: Vec<Slot>,
    links: Vec<LinkSlot>,
    switches: Vec<SwitchSlot>,
    opts: SimOptions,
    events: u64,
    deliveries: u64,
    trace: Vec<TraceEvent>,
    next_id: u64,
    capture: Option<Capture>,
    mac_names: BTreeMap<MacAddr, String>,
    out: Outbox,
    /// Reused buffer for what a node emitted.
    spare: Vec<Emit>,
    /// Errors from boots and timed commands, reported with the outcome.
    errors: Vec<String>,
}

impl Sim {
    pub fn new(opts: SimOptions) -> Self {
        let tracing = opts.trace || opts.capture;
        Sim {
            now: Instant::ZERO,
            queue: EventQueue::default(),
            nodes: Vec::new(),
            links: Vec::new(),
            switches: Vec::new(),
            events: 0,
            deliveries: 0,
            trace: Vec::new(),
            next_id: 1,
            capture: None,
            mac_names: BTreeMap::new(),
            out: Outbox::new(tracing),
            spare: Vec::new(),
            errors: Vec::new(),
            opts,
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn seed(&self) -> u64 {
        self.opts.seed
    }

    fn tracing(&self) -> bool {
        self.out.tracing()
    }

    /// Adds a node built by `factory` (which also runs its setup); the factory is
    /// kept to boot the node again after a crash.
    pub fn add_node(&mut self, factory: NodeFactory) -> Result<NodeId, String> {
        let node = factory(self.now, &mut self.out)?;
        let (pending, _) = self.out.take();
        let id = self.nodes.len();
        let n = node.ports().len();
        let port_names = node.ports().into_iter().map(|p| p.name).collect();
        self.nodes.push(Slot {
            node,
            factory: Some(factory),
            up: true,
            armed: None,
            pending,
            ports: vec![None; n],
            cap_if: vec![0; n],
            port_names,
        });
        Ok(id)
    }

    /// Adds a ready-made node that cannot be rebooted (tests, benches).
    pub fn add_plain_node(&mut self, node: Box<dyn Node>) -> NodeId {
        let id = self.nodes.len();
        let n = node.ports().len();
        let port_names = node.ports().into_iter().map(|p| p.name).collect();
        let pending = Vec::new();
        self.nodes.push(Slot {
            node,
            factory: None,
            up: true,
            armed: None,
            pending,
            ports: vec![None; n],
            cap_if: vec![0; n],
            port_names,
        });
        id
    }

    /// Starts the run: sends what nodes emitted while being built (gratuitous ARPs
    /// of their setup, say) and arms their timers. Call once, after `connect` and
    /// `start_capture`.
    pub fn start(&mut self) {
        for id in 0..self.nodes.len() {
            let mut items = std::mem::take(&mut self.nodes[id].pending);
            self.emit(id, &mut items);
            self.rearm(id);
        }
    }

    /// Adds an L2 segment (a learning switch); returns its index.
    pub fn add_switch(&mut self, sw: Switch) -> usize {
        self.switches.push(SwitchSlot { sw, ports: Vec::new() });
        self.switches.len() - 1
    }

    fn endpoint_name(&self, e: Endpoint) -> String {
        match e {
            Endpoint::Node { node, port } => {
                format!("{}:{}", self.nodes[node].node.name(), self.nodes[node].port_names[port])
            }
            Endpoint::Switch { switch, .. } => self.switches[switch].sw.name.clone(),
        }
    }

    /// Connects a node port to a switch (a new switch port) or to another node port.
    pub fn connect(&mut self, a: Endpoint, b: Endpoint, params: LinkParams) -> Result<usize, String> {
        let id = self.links.len();
        let name = format!("link:{}-{}", self.endpoint_name(a), self.endpoint_name(b));
        let mut ends = [a, b];
        for (side, e) in ends.iter_mut().enumerate() {
            match e {
                Endpoint::Node { node, port } => {
                    let slot = self.nodes.get_mut(*node).ok_or("no such node")?;
                    let p = slot.ports.get_mut(*port).ok_or_else(|| format!("node has no port {port}"))?;
                    if p.is_some() {
                        return Err(format!("{} is already connected", slot.port_names[*port]));
                    }
                    *p = Some((id, side));
                }
                Endpoint::Switch { switch, port } => {
                    let s = self.switches.get_mut(*switch).ok_or("no such switch")?;
                    *port = s.ports.len();
                    s.ports.push((id, side));
                }
            }
        }
        self.links.push(LinkSlot { link: Link::new(params, rng::stream(self.opts.seed, &name)), ends });
        Ok(id)
    }

    /// Starts capturing every node port. Call after all nodes are added; `names`
    /// feeds the pcapng name resolution block.
    pub fn start_capture(&mut self, names: &[(Ipv4Addr, String)]) {
        let mut ifaces = Vec::new();
        for slot in &mut self.nodes {
            let host = slot.node.name().to_string();
            for (i, p) in slot.node.ports().into_iter().enumerate() {
                slot.cap_if[i] = ifaces.len() as u32;
                ifaces.push(CaptureIface { name: format!("{host}:{}", p.name), mac: p.mac, ipv4: p.ipv4 });
            }
        }
        self.capture = Some(Capture::new(&ifaces, names));
    }

    /// Learns the names of every NIC's MAC, so traces say `rs1:eth0`, not a MAC.
    pub fn learn_mac_names(&mut self) {
        for slot in &self.nodes {
            for p in slot.node.ports() {
                self.mac_names.insert(p.mac, format!("{}:{}", slot.node.name(), p.name));
            }
        }
    }

    /// Schedules a scenario action.
    pub fn schedule(&mut self, at: Instant, action: Action) {
        self.queue.push(at, Ev::Action(action));
    }

    pub fn node(&self, id: NodeId) -> &dyn Node {
        self.nodes[id].node.as_ref()
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn node_is_up(&self, id: NodeId) -> bool {
        self.nodes[id].up
    }

    /// Runs a command on a node now (`--exec`), tracing what it emits.
    pub fn exec(&mut self, id: NodeId, line: &str) -> Result<String, CmdError> {
        if !self.nodes[id].up {
            return Err(CmdError::with_status(format!("{} is down", self.nodes[id].node.name()), 1));
        }
        let r = self.nodes[id].node.exec(self.now, line, &mut self.out);
        self.flush(id, None);
        r
    }

    pub fn trace(&self) -> &[TraceEvent] {
        &self.trace
    }

    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// Frames delivered to nodes' NICs so far.
    pub fn deliveries(&self) -> u64 {
        self.deliveries
    }

    /// Column widths for the text trace.
    pub fn layout(&self) -> Layout {
        Layout::fit(
            self.nodes.iter().map(|s| s.node.name()),
            self.nodes.iter().flat_map(|s| s.port_names.iter().map(String::as_str)),
        )
    }

    /// The pcapng so far (ends the capture).
    pub fn take_capture(&mut self) -> Option<Vec<u8>> {
        self.capture.take().map(Capture::finish)
    }

    fn push_event(&mut self, node: &str, iface: &str, dir: &str, summary: String, cause: Option<String>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.trace.push(TraceEvent {
            id,
            time: self.now,
            node: node.to_string(),
            iface: iface.to_string(),
            dir: dir.to_string(),
            summary,
            cause,
        });
        id
    }

    fn summarize(&self, frame: &[u8]) -> String {
        summary::frame(frame, &|m| self.mac_names.get(&m).cloned())
    }

    /// Processes what node `id` emitted; `rx` is the trace index of the frame it handled.
    fn flush(&mut self, id: NodeId, rx: Option<usize>) {
        let mut items = std::mem::take(&mut self.spare);
        let verdict = self.out.take_into(&mut items);
        if let (Some(i), Some(v)) = (rx, verdict) {
            self.trace[i].set_verdict(v);
        }
        self.emit(id, &mut items);
        self.spare = items;
        self.rearm(id);
    }

    fn emit(&mut self, id: NodeId, items: &mut Vec<Emit>) {
        for item in items.drain(..) {
            match item {
                Emit::Frame { port, frame, cause } => self.transmit(id, port, frame, cause),
                Emit::Note { iface, kind, text, cause } => {
                    let name = self.nodes[id].node.name().to_string();
                    self.push_event(&name, &iface, kind, text, cause);
                }
            }
        }
    }

    fn rearm(&mut self, id: NodeId) {
        let slot = &mut self.nodes[id];
        if !slot.up {
            return;
        }
        // Armed at the time the timer event was queued (a past deadline fires now).
        let d = slot.node.next_deadline().map(|t| t.max(self.now));
        if d != slot.armed {
            slot.armed = d;
            if let Some(t) = d {
                self.queue.push(t, Ev::Timer { node: id });
            }
        }
    }

    fn transmit(&mut self, id: NodeId, port: PortId, frame: Vec<u8>, cause: Option<String>) {
        let slot = &self.nodes[id];
        let Some(&Some((link, side))) = slot.ports.get(port) else {
            if self.tracing() {
                let (n, s) = (slot.node.name().to_string(), self.summarize(&frame));
                let ifn = slot.port_names.get(port).cloned().unwrap_or_else(|| port.to_string());
                self.push_event(&n, &ifn, "drop", s, Some("no cable: the NIC is not connected".into()));
            }
            return;
        };
        if self.tracing() || self.capture.is_some() {
            self.observe(id, port, &frame, false, cause);
        }
        self.send_on_link(link, side, frame);
    }

    /// Traces and captures a frame node `id` receives (`inbound`) or sends on
    /// `port`; returns its trace index. Out of line and cold: an untraced,
    /// uncaptured run (the benchmarks) keeps the delivery and send paths short.
    #[cold]
    #[inline(never)]
    fn observe(
        &mut self,
        id: NodeId,
        port: PortId,
        frame: &[u8],
        inbound: bool,
        cause: Option<String>,
    ) -> Option<usize> {
        let (mut at, mut ev_id) = (None, 0);
        if self.tracing() {
            let slot = &self.nodes[id];
            let (n, ifn, s) = (slot.node.name().to_string(), slot.port_names[port].clone(), self.summarize(frame));
            ev_id = self.push_event(&n, &ifn, if inbound { "rx" } else { "tx" }, s, cause);
            at = Some(self.trace.len() - 1);
        }
        if let Some(c) = &mut self.capture {
            c.packet(self.nodes[id].cap_if[port], self.now, frame, inbound, ev_id);
        }
        at
    }

    fn send_on_link(&mut self, link: usize, side: usize, frame: Vec<u8>) {
        let l = &mut self.links[link];
        match l.link.transmit(side, self.now, frame.len()) {
            Ok(at) => {
                let to = l.ends[1 - side];
                self.queue.push(at, Ev::Arrive { at: to, frame });
            }
            Err(why) => self.link_drop(link, side, &frame, why),
        }
    }

    fn link_drop(&mut self, link: usize, side: usize, frame: &[u8], why: LinkDrop) {
        if !self.tracing() {
            return;
        }
        let ends = self.links[link].ends;
        let s = self.summarize(frame);
        let (node, iface) = match ends[side] {
            Endpoint::Node { node, port } => {
                (self.nodes[node].node.name().to_string(), self.nodes[node].port_names[port].clone())
            }
            Endpoint::Switch { switch, .. } => (self.switches[switch].sw.name.clone(), "-".into()),
        };
        let to = self.endpoint_name(ends[1 - side]);
        self.push_event(&node, &iface, "drop", s, Some(format!("{why} towards {to}")));
    }

    fn arrive(&mut self, at: Endpoint, frame: Vec<u8>) {
        match at {
            Endpoint::Switch { switch, port } => {
                let Ok(eth) = Eth::parse(&frame) else { return };
                let (src, dst) = (eth.src, eth.dst);
                let s = &mut self.switches[switch];
                match s.sw.handle(self.now, port, src, dst) {
                    Forward::Port(p) => {
                        let (link, side) = s.ports[p];
                        self.send_on_link(link, side, frame);
                    }
                    Forward::Flood => {
                        let outs: Vec<(usize, usize)> =
                            s.ports.iter().enumerate().filter(|(p, _)| *p != port).map(|(_, &ls)| ls).collect();
                        if let Some((&last, rest)) = outs.split_last() {
                            for &(link, side) in rest {
                                self.send_on_link(link, side, frame.clone());
                            }
                            self.send_on_link(last.0, last.1, frame);
                        }
                    }
                    Forward::Filter => {}
                }
            }
            Endpoint::Node { node, port } => {
                if !self.nodes[node].up {
                    return;
                }
                self.deliveries += 1;
                let rx = if self.tracing() || self.capture.is_some() {
                    self.observe(node, port, &frame, true, None)
                } else {
                    None
                };
                self.nodes[node].node.on_frame_owned(self.now, port, frame, &mut self.out);
                self.flush(node, rx);
            }
        }
    }

    fn set_carrier(&mut self, node: NodeId, port: PortId, up: bool) {
        let Some(&Some((link, side))) = self.nodes[node].ports.get(port) else { return };
        self.links[link].link.up = up;
        if let Endpoint::Switch { switch, port: sp } = self.links[link].ends[1 - side] {
            self.switches[switch].sw.flush_port(sp);
        }
        if self.nodes[node].up {
            self.nodes[node].node.on_carrier(self.now, port, up, &mut self.out);
            self.flush(node, None);
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Link { node, port, up } => {
                let name = format!("{}:{}", self.nodes[node].node.name(), self.nodes[node].port_names[port]);
                let what = if up { "link up" } else { "link down" };
                let n = self.nodes[node].node.name().to_string();
                let ifn = self.nodes[node].port_names[port].clone();
                if self.tracing() {
                    self.push_event(&n, &ifn, "fault", format!("{what}: {name}"), None);
                }
                self.set_carrier(node, port, up);
            }
            Action::Crash { node } => {
                let n = self.nodes[node].node.name().to_string();
                if self.tracing() {
                    self.push_event(&n, "-", "fault", format!("{n} crashes: links down, state lost"), None);
                }
                for p in 0..self.nodes[node].ports.len() {
                    self.set_carrier(node, p, false);
                }
                self.nodes[node].up = false;
                self.nodes[node].armed = None;
            }
            Action::Boot { node } => {
                let n = self.nodes[node].node.name().to_string();
                if self.nodes[node].up {
                    self.errors.push(format!("boot of {n} at {}: it is already running", self.now));
                    return;
                }
                if self.tracing() {
                    self.push_event(&n, "-", "fault", format!("{n} boots: setup runs again"), None);
                }
                let Some(factory) = self.nodes[node].factory.take() else {
                    self.errors.push(format!("{n} cannot be booted again"));
                    return;
                };
                let built = factory(self.now, &mut self.out);
                self.nodes[node].factory = Some(factory);
                match built {
                    Ok(fresh) => {
                        self.nodes[node].node = fresh;
                        self.nodes[node].up = true;
                        for p in 0..self.nodes[node].ports.len() {
                            self.set_carrier(node, p, true);
                        }
                        self.flush(node, None);
                    }
                    Err(e) => self.errors.push(format!("boot of {n} at {}: {e}", self.now)),
                }
            }
            Action::Exec { node, line } => {
                let n = self.nodes[node].node.name().to_string();
                if !self.nodes[node].up {
                    self.errors.push(format!("{n} at {}: `{line}`: the machine is down", self.now));
                    return;
                }
                if self.tracing() {
                    self.push_event(&n, "-", "cmd", format!("# {line}"), None);
                }
                match self.nodes[node].node.exec(self.now, &line, &mut self.out) {
                    Ok(_) => {}
                    Err(e) => self.errors.push(format!("{n} at {}: `{line}`: {}", self.now, e.message)),
                }
                self.flush(node, None);
            }
        }
    }

    /// Runs until no event is left, the clock passes `until`, or the event limit.
    /// Events due exactly at `until` still run.
    pub fn run_until(&mut self, until: Instant) -> RunEnd {
        while let Some(t) = self.queue.peek_time() {
            if t > until {
                self.now = until;
                return RunEnd::Until(until);
            }
            if self.events >= self.opts.max_events {
                return RunEnd::EventLimit { events: self.events, at: self.now };
            }
            let Some((t, ev)) = self.queue.pop() else { break };
            self.now = t;
            self.events += 1;
            match ev {
                Ev::Arrive { at, frame } => self.arrive(at, frame),
                Ev::Timer { node } => {
                    let slot = &mut self.nodes[node];
                    if !slot.up || slot.armed != Some(t) {
                        continue;
                    }
                    slot.armed = None;
                    slot.node.on_timer(t, &mut self.out);
                    self.flush(node, None);
                }
                Ev::Action(a) => self.act(a),
            }
        }
        RunEnd::Quiet
    }
}
