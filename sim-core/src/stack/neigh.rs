//! The neighbour (ARP) cache with Linux's NUD states and timers
//! (net/core/neighbour.c: `__neigh_event_send`, `neigh_update`,
//! `neigh_timer_handler`; net/ipv4/arp.c for ARP's parameters).
//!
//! - A new entry is INCOMPLETE: a broadcast solicitation goes out at once and then
//!   every `retrans_time` (1 s); after `mcast_solicit` (3) of them it is FAILED and
//!   the queued packets are reported unreachable (`arp_error_report`).
//! - A reply makes it REACHABLE for `reachable_time`, drawn uniformly from
//!   [base/2, 3·base/2) (`neigh_rand_reach_time`, base 30 s, redrawn every 300 s).
//! - Without confirmation it then becomes STALE; the next packet sent moves it to
//!   DELAY (5 s, `delay_first_probe_time`), then PROBE: `ucast_solicit` (3) unicast
//!   probes 1 s apart, then FAILED.
//! - Within `locktime` (1 s) of its last change, a reply with a different address
//!   does not override the entry (`arp_process`: "use the FIRST one"); a
//!   gratuitous ARP always does.

use super::conf::NeighParms;
use super::iface::IfIndex;
use crate::rng::{self, Stream};
use crate::time::{Duration, Instant};
use crate::wire::MacAddr;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;

/// NUD states (`include/net/neighbour.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Nud {
    Incomplete,
    Reachable,
    Stale,
    Delay,
    Probe,
    Failed,
    Noarp,
    Permanent,
}

impl Nud {
    pub fn name(self) -> &'static str {
        match self {
            Nud::Incomplete => "INCOMPLETE",
            Nud::Reachable => "REACHABLE",
            Nud::Stale => "STALE",
            Nud::Delay => "DELAY",
            Nud::Probe => "PROBE",
            Nud::Failed => "FAILED",
            Nud::Noarp => "NOARP",
            Nud::Permanent => "PERMANENT",
        }
    }
    /// NUD_VALID: has a usable link-layer address.
    pub fn valid(self) -> bool {
        matches!(self, Nud::Reachable | Nud::Stale | Nud::Delay | Nud::Probe | Nud::Noarp | Nud::Permanent)
    }
    /// NUD_CONNECTED.
    pub fn connected(self) -> bool {
        matches!(self, Nud::Reachable | Nud::Noarp | Nud::Permanent)
    }
    fn in_timer(self) -> bool {
        matches!(self, Nud::Incomplete | Nud::Reachable | Nud::Delay | Nud::Probe)
    }
}

/// `unres_qlen`: packets kept per unresolved entry (the byte limit of modern
/// kernels allows about this many small packets).
const UNRES_QLEN: usize = 101;

/// One jiffy at `CONFIG_HZ=250` (Debian's kernels, and the netns referee's): the
/// neighbour code keeps `confirmed`/`updated` in jiffies, so its time tests
/// cannot tell instants 4 ms apart.
const JIFFY_NS: u64 = 4_000_000;

/// `neigh_alloc`: a new entry's `confirmed` lies twice base_reachable_time in the
/// past, so nothing about it counts as recently confirmed.
fn alloc_confirmed(now: Instant, base_reachable_time: Duration) -> Instant {
    now - base_reachable_time * 2
}

/// The jiffy an instant falls in.
fn jiffies(t: Instant) -> u64 {
    t.nanos() / JIFFY_NS
}

#[derive(Debug, Clone)]
pub struct Neigh {
    pub addr: Ipv4Addr,
    pub dev: IfIndex,
    pub lladdr: Option<MacAddr>,
    pub state: Nud,
    pub updated: Instant,
    pub confirmed: Instant,
    pub used: Instant,
    probes: u32,
    timer: Option<Instant>,
    /// Frames waiting for resolution, each with the trace cause it was sent with.
    queue: VecDeque<(Vec<u8>, Option<String>)>,
}

/// What the cache asks the stack to do.
#[derive(Debug)]
pub enum NeighOut {
    /// Send an ARP request for `target`: broadcast, or unicast to `to` (a probe).
    /// `hint_src` is the source of the packet waiting for resolution (`arp_solicit`).
    Solicit { dev: IfIndex, target: Ipv4Addr, to: Option<MacAddr>, hint_src: Option<Ipv4Addr> },
    /// A queued frame can go now, to `mac`, with the cause it was queued with.
    Send { dev: IfIndex, mac: MacAddr, frame: Vec<u8>, cause: Option<String> },
    /// Resolution failed: report the queued frame unreachable.
    Failed { dev: IfIndex, target: Ipv4Addr, frame: Vec<u8> },
    /// A state change worth a trace line.
    Note { dev: IfIndex, text: String },
}

/// What an ARP message does to the cache (`neigh_update` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    pub state: Nud,
    pub override_: bool,
    /// Create the entry if missing (a request for us, or `arp_accept`).
    pub create: bool,
}

/// The result of `neigh_update`, for the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateResult {
    NoEntry,
    /// Ignored: a different address within locktime without override.
    Locked {
        held: MacAddr,
    },
    Changed {
        from: Option<(Nud, Option<MacAddr>)>,
        to: (Nud, MacAddr),
    },
    Unchanged,
}

pub struct NeighTable {
    /// Keyed by [`k`]: (device, address) in one word, in the same order.
    entries: BTreeMap<u64, Neigh>,
    timers: BTreeSet<(Instant, u64)>,
    reach: BTreeMap<IfIndex, (Duration, Instant)>,
    rng: Stream,
}

/// (device, address) as one key that sorts as the pair does (the address's
/// octets big-endian), so a lookup compares words, not byte arrays.
fn k(dev: IfIndex, addr: Ipv4Addr) -> u64 {
    u64::from(dev) << 32 | u64::from(u32::from(addr))
}

/// The (device, address) of a key.
fn unk(key: u64) -> (IfIndex, Ipv4Addr) {
    ((key >> 32) as IfIndex, Ipv4Addr::from(key as u32))
}

impl NeighTable {
    pub fn new(rng: Stream) -> Self {
        NeighTable { entries: BTreeMap::new(), timers: BTreeSet::new(), reach: BTreeMap::new(), rng }
    }

    pub fn get(&self, dev: IfIndex, addr: Ipv4Addr) -> Option<&Neigh> {
        self.entries.get(&k(dev, addr))
    }

    pub fn entries(&self) -> impl Iterator<Item = &Neigh> {
        self.entries.values()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|t| t.0)
    }

    /// `parms->reachable_time`, redrawn every 300 s as `neigh_periodic_work` does.
    fn reachable_time(&mut self, now: Instant, dev: IfIndex, p: &NeighParms) -> Duration {
        if let Some(&(d, drawn)) = self.reach.get(&dev)
            && now.since(drawn) < Duration::from_secs(300)
        {
            return d;
        }
        let base = p.base_reachable_time.as_millis() as u32;
        let d = if base == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(u64::from(rng::below(&mut self.rng, base) + base / 2))
        };
        self.reach.insert(dev, (d, now));
        d
    }

    fn set_timer(&mut self, dev: IfIndex, addr: Ipv4Addr, at: Option<Instant>) {
        let Some(n) = self.entries.get_mut(&k(dev, addr)) else { return };
        if let Some(old) = n.timer.take() {
            self.timers.remove(&(old, k(dev, addr)));
        }
        n.timer = at;
        if let Some(t) = at {
            self.timers.insert((t, k(dev, addr)));
        }
    }

    /// Output through the cache (`neigh_resolve_output` / `__neigh_event_send`):
    /// with a valid address the frame comes back to be sent at once (STALE moves
    /// to DELAY), else it is queued and resolution starts or continues. `parms`
    /// gives the device's parameters, looked up only when they are needed.
    pub fn output<'p>(
        &mut self,
        now: Instant,
        dev: IfIndex,
        addr: Ipv4Addr,
        frame: Vec<u8>,
        cause: Option<String>,
        parms: impl Fn() -> &'p NeighParms,
        tracing: bool,
        out: &mut Vec<NeighOut>,
    ) -> Option<(MacAddr, Vec<u8>, Option<String>)> {
        let key = k(dev, addr);
        let n = self.entries.entry(key).or_insert_with(|| Neigh {
            addr,
            dev,
            lladdr: None,
            state: Nud::Failed,
            updated: now,
            confirmed: alloc_confirmed(now, parms().base_reachable_time),
            used: now,
            probes: 0,
            timer: None,
            queue: VecDeque::new(),
        });
        n.used = now;
        match n.state {
            s if s.valid() => {
                let mac = n.lladdr.unwrap_or(MacAddr::BROADCAST);
                if s == Nud::Stale {
                    let p = parms();
                    n.state = Nud::Delay;
                    n.updated = now;
                    if tracing {
                        out.push(NeighOut::Note {
                            dev,
                            text: format!(
                                "{addr} STALE -> DELAY: used, reachability unconfirmed; probing in {}s",
                                p.delay_first_probe_time.as_secs()
                            ),
                        });
                    }
                    self.set_timer(dev, addr, Some(now + p.delay_first_probe_time));
                }
                return Some((mac, frame, cause));
            }
            Nud::Incomplete => {
                if n.queue.len() >= UNRES_QLEN {
                    n.queue.pop_front();
                }
                n.queue.push_back((frame, cause));
            }
            _ => {
                // NONE or FAILED: start resolving.
                let p = parms();
                n.queue.push_back((frame, cause));
                n.state = Nud::Incomplete;
                n.updated = now;
                n.probes = p.ucast_solicit;
                if tracing {
                    out.push(NeighOut::Note { dev, text: format!("{addr} INCOMPLETE: resolving") });
                }
                self.set_timer(dev, addr, Some(now + p.retrans_time.max(Duration::from_millis(10))));
                self.probe(dev, addr, out);
            }
        }
        None
    }

    /// `neigh_probe` → `arp_solicit`: unicast while `probes < ucast_solicit` and an
    /// address is known, else broadcast.
    fn probe(&mut self, dev: IfIndex, addr: Ipv4Addr, out: &mut Vec<NeighOut>) {
        let Some(n) = self.entries.get_mut(&k(dev, addr)) else { return };
        let unicast = n.state == Nud::Probe && n.lladdr.is_some();
        let hint_src =
            n.queue.back().and_then(|(f, _)| (f.len() >= 34).then(|| Ipv4Addr::new(f[26], f[27], f[28], f[29])));
        n.probes += 1;
        out.push(NeighOut::Solicit { dev, target: addr, to: if unicast { n.lladdr } else { None }, hint_src });
    }

    fn max_probes(n: &Neigh, p: &NeighParms) -> u32 {
        p.ucast_solicit + p.app_solicit + if n.state == Nud::Probe { p.mcast_resolicit } else { p.mcast_solicit }
    }

    /// `neigh_update`.
    pub fn update(
        &mut self,
        now: Instant,
        dev: IfIndex,
        addr: Ipv4Addr,
        lladdr: MacAddr,
        u: Update,
        p: &NeighParms,
        out: &mut Vec<NeighOut>,
    ) -> UpdateResult {
        let key = k(dev, addr);
        let created = !self.entries.contains_key(&key);
        if created {
            if !u.create {
                return UpdateResult::NoEntry;
            }
            self.entries.insert(
                key,
                Neigh {
                    addr,
                    dev,
                    lladdr: None,
                    state: Nud::Failed,
                    updated: now,
                    confirmed: alloc_confirmed(now, p.base_reachable_time),
                    used: now,
                    probes: 0,
                    timer: None,
                    queue: VecDeque::new(),
                },
            );
        }
        let reach = self.reachable_time(now, dev, p);
        let n = self.entries.get_mut(&key).expect("present");
        let old = n.state;
        let before = (old, n.lladdr);
        if matches!(old, Nud::Permanent | Nud::Noarp) {
            return UpdateResult::Unchanged;
        }
        let mut new = u.state;
        if old.valid() {
            if n.lladdr != Some(lladdr) && !u.override_ {
                return UpdateResult::Locked { held: n.lladdr.unwrap_or(MacAddr::ZERO) };
            }
            if n.lladdr == Some(lladdr) && new == Nud::Stale {
                new = old;
            }
        }
        if new.connected() {
            n.confirmed = now;
        }
        let changed = new != old || n.lladdr != Some(lladdr);
        if changed {
            n.updated = now;
        }
        n.lladdr = Some(lladdr);
        n.state = new;
        let timer = match new {
            Nud::Reachable => Some(now + reach),
            Nud::Delay | Nud::Probe => n.timer,
            _ => None,
        };
        let queued: Vec<(Vec<u8>, Option<String>)> = if new.valid() { n.queue.drain(..).collect() } else { Vec::new() };
        self.set_timer(dev, addr, timer);
        for (frame, cause) in queued {
            out.push(NeighOut::Send { dev, mac: lladdr, frame, cause });
        }
        if changed {
            UpdateResult::Changed { from: (!created).then_some(before), to: (new, lladdr) }
        } else {
            UpdateResult::Unchanged
        }
    }

    /// Positive feedback from upper layers (`neigh_confirm`): a TCP ACK that
    /// advanced, or an explicit MSG_CONFIRM.
    pub fn confirm(&mut self, now: Instant, dev: IfIndex, addr: Ipv4Addr) {
        if let Some(n) = self.entries.get_mut(&k(dev, addr)) {
            n.confirmed = now;
        }
    }

    /// `neigh_timer_handler` for every entry that is due.
    pub fn on_timer(
        &mut self,
        now: Instant,
        parms: &dyn Fn(IfIndex) -> NeighParms,
        tracing: bool,
        out: &mut Vec<NeighOut>,
    ) {
        while let Some(&(t, key)) = self.timers.first() {
            let (dev, addr) = unk(key);
            if t > now {
                break;
            }
            self.timers.remove(&(t, key));
            let p = parms(dev);
            let reach = self.reachable_time(now, dev, &p);
            let Some(n) = self.entries.get_mut(&key) else { continue };
            n.timer = None;
            let mut next = None;
            let from = n.state;
            match n.state {
                // Strict comparisons: a timer that fires exactly at the deadline
                // must not re-arm itself for the same instant (the kernel's next
                // jiffy makes `time_before_eq` safe; simulated time does not move).
                Nud::Reachable => {
                    if now < n.confirmed + reach {
                        next = Some(n.confirmed + reach);
                    } else if now <= n.used + p.delay_first_probe_time {
                        n.state = Nud::Delay;
                        n.updated = now;
                        next = Some(now + p.delay_first_probe_time);
                    } else {
                        n.state = Nud::Stale;
                        n.updated = now;
                    }
                }
                Nud::Delay => {
                    // `time_before_eq(now, confirmed + delay_probe_time)` in jiffies:
                    // a confirmation in the same jiffy as the move to DELAY still
                    // counts when the timer fires delay_probe_time later.
                    if jiffies(now) <= jiffies(n.confirmed + p.delay_first_probe_time) {
                        n.state = Nud::Reachable;
                        n.updated = now;
                        next = Some(n.confirmed + reach);
                    } else {
                        n.state = Nud::Probe;
                        n.updated = now;
                        n.probes = 0;
                        next = Some(now + p.retrans_time.max(Duration::from_millis(10)));
                    }
                }
                _ => next = Some(now + p.retrans_time.max(Duration::from_millis(10))),
            }
            if matches!(n.state, Nud::Incomplete | Nud::Probe) && n.probes >= Self::max_probes(n, &p) {
                n.state = Nud::Failed;
                n.updated = now;
                next = None;
                let frames: Vec<Vec<u8>> = n.queue.drain(..).map(|(f, _)| f).collect();
                if tracing {
                    out.push(NeighOut::Note {
                        dev,
                        text: format!("{addr} {} -> FAILED: no reply to {} solicitations", from.name(), n.probes),
                    });
                }
                for frame in frames {
                    out.push(NeighOut::Failed { dev, target: addr, frame });
                }
            } else if tracing && n.state != from {
                let why = match (from, n.state) {
                    (Nud::Reachable, Nud::Stale) => {
                        format!("not confirmed for reachable_time ({}ms)", reach.as_millis())
                    }
                    (Nud::Reachable, Nud::Delay) => "reachable_time expired while in use".to_string(),
                    (Nud::Delay, Nud::Reachable) => "confirmed by an upper layer".to_string(),
                    (Nud::Delay, Nud::Probe) => {
                        "still unconfirmed after delay_first_probe_time: unicast probes".to_string()
                    }
                    _ => String::new(),
                };
                out.push(NeighOut::Note { dev, text: format!("{addr} {} -> {}: {why}", from.name(), n.state.name()) });
            }
            let state = n.state;
            if state.in_timer() {
                self.set_timer(dev, addr, next);
            }
            if matches!(state, Nud::Incomplete | Nud::Probe) {
                self.probe(dev, addr, out);
            }
        }
    }

    /// `ip neigh add|replace`: a PERMANENT (or given-state) entry set by hand.
    pub fn set_static(
        &mut self,
        now: Instant,
        dev: IfIndex,
        addr: Ipv4Addr,
        lladdr: Option<MacAddr>,
        state: Nud,
        out: &mut Vec<NeighOut>,
    ) {
        let key = k(dev, addr);
        let queued: Vec<(Vec<u8>, Option<String>)> =
            self.entries.get_mut(&key).map(|n| n.queue.drain(..).collect()).unwrap_or_default();
        self.set_timer(dev, addr, None);
        self.entries.insert(
            key,
            Neigh {
                addr,
                dev,
                lladdr,
                state,
                updated: now,
                confirmed: alloc_confirmed(now, crate::stack::conf::NeighParms::default().base_reachable_time),
                used: now,
                probes: 0,
                timer: None,
                queue: VecDeque::new(),
            },
        );
        if state == Nud::Reachable {
            self.set_timer(dev, addr, Some(now + Duration::from_secs(30)));
        }
        if let Some(mac) = lladdr {
            for (frame, cause) in queued {
                out.push(NeighOut::Send { dev, mac, frame, cause });
            }
        }
    }

    /// `ip neigh del`.
    pub fn remove(&mut self, dev: IfIndex, addr: Ipv4Addr) -> bool {
        self.set_timer(dev, addr, None);
        self.entries.remove(&k(dev, addr)).is_some()
    }

    /// Drops every entry of a device (it went down: `neigh_ifdown`) or matching `pred`.
    pub fn flush(&mut self, pred: impl Fn(&Neigh) -> bool) {
        let gone: Vec<(IfIndex, Ipv4Addr)> =
            self.entries.values().filter(|n| pred(n)).map(|n| (n.dev, n.addr)).collect();
        for (d, a) in gone {
            self.remove(d, a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEV: IfIndex = 2;

    proptest! {
        /// The packed key sorts as (device, address) does (what `ip neigh` lists
        /// in) and unpacks to it.
        #[test]
        fn packed_keys_sort_as_pairs(a in (any::<u32>(), any::<u32>()), b in (any::<u32>(), any::<u32>())) {
            let (pa, pb) = ((a.0, Ipv4Addr::from(a.1)), (b.0, Ipv4Addr::from(b.1)));
            prop_assert_eq!(k(pa.0, pa.1).cmp(&k(pb.0, pb.1)), pa.cmp(&pb));
            prop_assert_eq!(unk(k(pa.0, pa.1)), pa);
        }
    }

    fn table() -> NeighTable {
        NeighTable::new(rng::stream(1, "neigh"))
    }

    fn solicits(out: &[NeighOut]) -> Vec<Option<MacAddr>> {
        out.iter().filter_map(|o| if let NeighOut::Solicit { to, .. } = o { Some(*to) } else { None }).collect()
    }

    fn run_timers(t: &mut NeighTable, until: Instant, p: &NeighParms, out: &mut Vec<NeighOut>) -> Vec<Instant> {
        let mut fired = vec![];
        while let Some(d) = t.next_deadline() {
            if d > until {
                break;
            }
            fired.push(d);
            let pp = p.clone();
            t.on_timer(d, &move |_| pp.clone(), false, out);
        }
        fired
    }

    #[test]
    fn incomplete_fails_after_three_broadcasts_one_second_apart() {
        let p = NeighParms::default();
        let mut t = table();
        let a = Ipv4Addr::new(10, 0, 0, 9);
        let mut out = vec![];
        t.output(Instant::ZERO, DEV, a, vec![0; 60], None, || &p, false, &mut out);
        assert_eq!(solicits(&out), vec![None], "one broadcast at once");
        let fired = run_timers(&mut t, Instant::from_secs(10), &p, &mut out);
        assert_eq!(fired, vec![Instant::from_secs(1), Instant::from_secs(2), Instant::from_secs(3)]);
        assert_eq!(solicits(&out), vec![None, None, None]);
        assert_eq!(t.get(DEV, a).unwrap().state, Nud::Failed);
        assert!(out.iter().any(|o| matches!(o, NeighOut::Failed { .. })), "queued packet reported unreachable");
    }

    #[test]
    fn reply_resolves_then_ages_to_stale_then_probes_unicast() {
        let p = NeighParms::default();
        let mut t = table();
        let a = Ipv4Addr::new(10, 0, 0, 9);
        let m = MacAddr::local(9);
        let mut out = vec![];
        t.output(Instant::ZERO, DEV, a, vec![0; 60], None, || &p, false, &mut out);
        let u = Update { state: Nud::Reachable, override_: false, create: false };
        let r = t.update(Instant::from_millis(1), DEV, a, m, u, &p, &mut out);
        assert!(matches!(r, UpdateResult::Changed { to: (Nud::Reachable, _), .. }));
        assert!(out.iter().any(|o| matches!(o, NeighOut::Send { mac, .. } if *mac == m)), "queued frame released");
        out.clear();
        // No confirmations: between 15 s and 45 s it turns STALE.
        run_timers(&mut t, Instant::from_secs(46), &p, &mut out);
        assert_eq!(t.get(DEV, a).unwrap().state, Nud::Stale);
        let stale_at = t.get(DEV, a).unwrap().updated;
        assert!(stale_at >= Instant::from_secs(15) && stale_at <= Instant::from_secs(45), "{stale_at}");
        // Used again: DELAY for 5 s, then PROBE with unicast solicitations.
        let t0 = Instant::from_secs(100);
        t.output(t0, DEV, a, vec![0; 60], None, || &p, false, &mut out);
        assert_eq!(t.get(DEV, a).unwrap().state, Nud::Delay);
        run_timers(&mut t, t0 + Duration::from_secs(5), &p, &mut out);
        assert_eq!(t.get(DEV, a).unwrap().state, Nud::Probe);
        assert_eq!(solicits(&out), vec![Some(m)]);
        run_timers(&mut t, t0 + Duration::from_secs(9), &p, &mut out);
        assert_eq!(solicits(&out), vec![Some(m), Some(m), Some(m)]);
        assert_eq!(t.get(DEV, a).unwrap().state, Nud::Failed);
    }

    #[test]
    fn delay_counts_a_confirmation_from_the_same_jiffy() {
        // dr-arp-leak-announce on a real kernel: a reply confirms the entry, an
        // overriding request moves it (STALE), a packet uses it (DELAY) within the
        // same 4 ms jiffy: 5 s later it is REACHABLE again, without a probe.
        let p = NeighParms::default();
        let a = Ipv4Addr::new(10, 0, 0, 9);
        let (first, second) = (MacAddr::local(1), MacAddr::local(2));
        for (gap_us, want) in [(300, Nud::Reachable), (5000, Nud::Probe)] {
            let mut t = table();
            let mut out = vec![];
            let t0 = Instant::from_secs(1);
            t.output(t0, DEV, a, vec![0; 60], None, || &p, false, &mut out);
            let reply = Update { state: Nud::Reachable, override_: false, create: false };
            t.update(t0 + Duration::from_micros(10), DEV, a, first, reply, &p, &mut out);
            let moved = t0 + Duration::from_micros(gap_us);
            let request = Update { state: Nud::Stale, override_: true, create: true };
            t.update(moved, DEV, a, second, request, &p, &mut out);
            t.output(moved + Duration::from_micros(40), DEV, a, vec![0; 60], None, || &p, false, &mut out);
            assert_eq!(t.get(DEV, a).unwrap().state, Nud::Delay);
            out.clear();
            run_timers(&mut t, moved + Duration::from_secs(6), &p, &mut out);
            assert_eq!(t.get(DEV, a).unwrap().state, want, "gap {gap_us} us");
            assert_eq!(solicits(&out).is_empty(), want == Nud::Reachable);
        }
    }

    #[test]
    fn an_entry_created_by_a_request_is_not_confirmed() {
        // neigh_alloc backdates `confirmed`: the replier's entry for the asker,
        // created STALE and used at once, is probed after delay_first_probe_time.
        let p = NeighParms::default();
        let mut t = table();
        let a = Ipv4Addr::new(10, 0, 0, 9);
        let mut out = vec![];
        let t0 = Instant::from_secs(100);
        let request = Update { state: Nud::Stale, override_: true, create: true };
        t.update(t0, DEV, a, MacAddr::local(1), request, &p, &mut out);
        t.output(t0 + Duration::from_micros(5), DEV, a, vec![0; 60], None, || &p, false, &mut out);
        out.clear();
        run_timers(&mut t, t0 + Duration::from_secs(6), &p, &mut out);
        assert_eq!(t.get(DEV, a).unwrap().state, Nud::Probe);
    }

    #[test]
    fn first_reply_wins_within_locktime_but_garp_overrides() {
        let p = NeighParms::default();
        let mut t = table();
        let vip = Ipv4Addr::new(10, 0, 0, 100);
        let (dir, rs) = (MacAddr::local(1), MacAddr::local(2));
        let mut out = vec![];
        t.output(Instant::ZERO, DEV, vip, vec![0; 60], None, || &p, false, &mut out);
        let reply = Update { state: Nud::Reachable, override_: false, create: false };
        t.update(Instant::from_micros(20), DEV, vip, dir, reply, &p, &mut out);
        // The second reply 10 us later, inside locktime, is ignored.
        let late = Update {
            state: Nud::Reachable,
            override_: Instant::from_micros(30).since(Instant::from_micros(20)) > p.locktime,
            create: false,
        };
        assert_eq!(
            t.update(Instant::from_micros(30), DEV, vip, rs, late, &p, &mut out),
            UpdateResult::Locked { held: dir }
        );
        // A gratuitous ARP overrides at once.
        let garp = Update { state: Nud::Stale, override_: true, create: false };
        t.update(Instant::from_micros(40), DEV, vip, rs, garp, &p, &mut out);
        assert_eq!(t.get(DEV, vip).unwrap().lladdr, Some(rs));
    }
}
