//! ARP input and output as net/ipv4/arp.c does it: `arp_process` with
//! `arp_ignore`, `arp_filter`, `arp_accept` and the gratuitous-ARP rules, and
//! `arp_solicit`'s source address under `arp_announce`.

use super::iface::{IfIndex, Scope};
use super::neigh::{Nud, Update, UpdateResult};
use super::{Hk, Stack};
use crate::node::Outbox;
use crate::time::Instant;
use crate::wire::arp::{ARP_REPLY, ARP_REQUEST, Arp};
use crate::wire::{Eth, MacAddr};
use std::net::Ipv4Addr;

impl Stack {
    /// `arp_ignore(in_dev, sip, tip)`: true when the kernel would not answer, with
    /// the reason for the trace.
    fn arp_ignore(&self, dev: usize, sip: Ipv4Addr, tip: Ipv4Addr) -> Option<String> {
        let name = &self.ifaces[dev].name;
        let level = self.sysctl.arp_ignore(name);
        let on_dev = self.ifaces[dev].has_addr(tip);
        match level {
            1 if !on_dev => Some(format!("arp_ignore=1: {tip} is not configured on {name}")),
            2 if !on_dev => Some(format!("arp_ignore=2: {tip} is not configured on {name}")),
            2 if !self.ifaces[dev].addrs.iter().any(|a| a.matches(tip) && a.matches(sip)) => {
                Some(format!("arp_ignore=2: sender {sip} is not in {tip}'s subnet on {name}"))
            }
            3 if !self.ifaces.iter().flat_map(|i| &i.addrs).any(|a| a.addr == tip && a.scope < Scope::Host) => {
                Some(format!("arp_ignore=3: {tip} has scope host"))
            }
            8 => Some(format!("arp_ignore=8: {name} never answers")),
            _ => None,
        }
    }

    /// Where `tip` lives, for the cause text: `on lo`, `on eth0`.
    fn addr_home(&self, a: Ipv4Addr) -> String {
        self.ifaces
            .iter()
            .flat_map(|i| i.addrs.iter().map(move |x| (i, x)))
            .find(|(_, x)| x.addr == a)
            .map(
                |(i, x)| {
                    if x.label != i.name { format!("on {} ({})", i.name, x.label) } else { format!("on {}", i.name) }
                },
            )
            .unwrap_or_default()
    }

    /// `arp_rcv` → `arp_process`.
    pub(super) fn arp_rcv(&mut self, now: Instant, dev: usize, eth: &Eth, for_us: bool, hk: &mut Hk, out: &mut Outbox) {
        let arp = match Arp::parse(eth.payload) {
            Ok(a) => a,
            Err(e) => return out.drop_rx(|| format!("malformed ARP: {e}")),
        };
        if self.ifaces[dev].noarp {
            return out.drop_rx(|| format!("{} has NOARP", self.ifaces[dev].name));
        }
        if arp.op != ARP_REQUEST && arp.op != ARP_REPLY {
            return out.drop_rx(|| format!("ARP op {} not understood", arp.op));
        }
        let (sip, tip) = (arp.spa, arp.tpa);
        if tip.is_multicast() || tip.is_loopback() {
            return out.drop_rx(|| format!("request for {tip} ignored (multicast/loopback)"));
        }
        let ifindex = self.ifaces[dev].index;
        let dev_name = self.ifaces[dev].name.clone();
        let my_mac = self.ifaces[dev].mac;
        // RFC 2131/5227 duplicate address detection probe.
        if sip.is_unspecified() {
            if arp.op == ARP_REQUEST && self.is_local(tip) && self.arp_ignore(dev, sip, tip).is_none() {
                self.arp_send(dev, &Arp { op: ARP_REPLY, sha: my_mac, spa: tip, tha: arp.sha, tpa: sip }, arp.sha, out);
                out.verdict(|| format!("duplicate address probe for our {tip}: answered"));
            } else {
                out.verdict(|| format!("duplicate address probe for {tip}"));
            }
            return;
        }
        if arp.op == ARP_REQUEST && self.is_local(tip) {
            // ip_route_input_noref(tip, sip): validates the source like any input.
            if let Err(why) = self.validate_source(sip, dev) {
                out.drop_rx(|| format!("request for local {tip} not answered: {why}"));
            } else if let Some(why) = self.arp_ignore(dev, sip, tip) {
                out.verdict(|| format!("{why}: no reply"));
            } else if self.sysctl.arp_filter(&dev_name) && self.route_dev(sip) != Some(ifindex) {
                out.verdict(|| format!("arp_filter=1: the route to {sip} does not leave via {dev_name}: no reply"));
            } else {
                // neigh_event_ns: the asker is likely to talk to us; cache it STALE.
                let p = self.sysctl.neigh_parms(&dev_name).clone();
                let mut nout = vec![];
                let r = self.neigh.update(
                    now,
                    ifindex,
                    sip,
                    arp.sha,
                    Update { state: Nud::Stale, override_: true, create: true },
                    &p,
                    &mut nout,
                );
                self.run_neigh(now, nout, hk, out);
                self.arp_send(dev, &Arp::reply_to(&arp, my_mac), arp.sha, out);
                let ign = self.sysctl.arp_ignore(&dev_name);
                // neigh_event_ns overrides: an asker's sender address moves an
                // existing entry to its MAC, locktime or not. Say so when it does.
                let moved = match r {
                    UpdateResult::Changed { from: Some((s, Some(m))), to } if m != to.1 => format!(
                        "; neighbour {sip} {} {m} -> {} {} (the request's sender, neigh_event_ns overrides)",
                        s.name(),
                        to.0.name(),
                        to.1
                    ),
                    _ => String::new(),
                };
                out.verdict(|| format!("{tip} is local {}: replying (arp_ignore={ign}){moved}", self.addr_home(tip)));
            }
            return;
        }
        // Update our ARP tables.
        let exists = self.neigh.get(ifindex, sip).is_some();
        let accept = self.arp_accept(dev, sip);
        let sip_unicast = !self.is_local(sip) && !sip.is_broadcast() && !self.ifaces[dev].is_broadcast(sip);
        let is_garp = (exists || accept) && sip == tip && (arp.op == ARP_REQUEST || arp.tha == arp.sha) && sip_unicast;
        let create = accept && (is_garp || (arp.op == ARP_REPLY && sip_unicast));
        if !exists && !create {
            let what = if arp.op == ARP_REPLY { "reply" } else { "request" };
            let acc = self.sysctl.arp_accept(&dev_name);
            return out.verdict(|| {
                if is_garp || sip == tip {
                    format!("gratuitous ARP for {sip} creates no entry (arp_accept={acc})")
                } else {
                    format!("{what} not for us and no entry for {sip}: ignored")
                }
            });
        }
        let p = self.sysctl.neigh_parms(&dev_name).clone();
        let updated_at = self.neigh.get(ifindex, sip).map(|n| n.updated);
        let locked = updated_at.is_some_and(|u| now <= u + p.locktime);
        let override_ = !locked || is_garp;
        let state = if arp.op == ARP_REPLY && for_us { Nud::Reachable } else { Nud::Stale };
        let mut nout = vec![];
        let r = self.neigh.update(now, ifindex, sip, arp.sha, Update { state, override_, create }, &p, &mut nout);
        self.run_neigh(now, nout, hk, out);
        let garp = if is_garp { "gratuitous ARP: " } else { "" };
        match r {
            UpdateResult::Locked { held } => out.verdict(|| {
                format!(
                    "ignored: {sip} is-at {held} was set {}ms ago, within locktime {}ms: the first reply wins",
                    now.since(updated_at.unwrap_or(now)).as_millis(),
                    p.locktime.as_millis()
                )
            }),
            UpdateResult::Changed { from, to } => out.verdict(|| match from {
                Some((s, Some(m))) if Some(m) != Some(to.1) => {
                    format!("{garp}neighbour {sip} {} {m} -> {} {}", s.name(), to.0.name(), to.1)
                }
                Some((s, _)) => format!("{garp}neighbour {sip} {} -> {} {}", s.name(), to.0.name(), to.1),
                None => format!("{garp}neighbour {sip} created {} {} (arp_accept)", to.0.name(), to.1),
            }),
            UpdateResult::Unchanged => out.verdict(|| format!("{garp}neighbour {sip} unchanged")),
            UpdateResult::NoEntry => {}
        }
    }

    /// `arp_accept(in_dev, sip)`: 1 accepts, 2 only from the device's subnets.
    fn arp_accept(&self, dev: usize, sip: Ipv4Addr) -> bool {
        match self.sysctl.arp_accept(&self.ifaces[dev].name) {
            1 => true,
            2 => self.ifaces[dev].addrs.iter().any(|a| a.matches(sip)),
            _ => false,
        }
    }

    /// Sends an ARP message out of `dev` to `eth_dst`.
    pub(super) fn arp_send(&mut self, dev: usize, arp: &Arp, eth_dst: MacAddr, out: &mut Outbox) {
        let iface = &self.ifaces[dev];
        if iface.noarp || !iface.running() {
            return;
        }
        let Some(port) = iface.tx_port() else { return };
        out.send(port, arp.frame(eth_dst, iface.mac));
    }

    /// `arp_solicit`: the request's source address obeys `arp_announce`
    /// (0: the waiting packet's source if local; 1: only if on the target's
    /// subnet on this device; 2: the device's best primary address).
    pub(super) fn arp_solicit(
        &mut self,
        dev: IfIndex,
        target: Ipv4Addr,
        to: Option<MacAddr>,
        hint: Option<Ipv4Addr>,
        out: &mut Outbox,
    ) {
        let Some(d) = self.dev_pos(dev) else { return };
        let name = self.ifaces[d].name.clone();
        let level = self.sysctl.arp_announce(&name);
        let saddr = match (level, hint) {
            (0, Some(s)) if self.is_local(s) => Some(s),
            (1, Some(s))
                if self.is_local(s) && self.ifaces[d].addrs.iter().any(|a| a.matches(target) && a.matches(s)) =>
            {
                Some(s)
            }
            _ => None,
        };
        let saddr = saddr.or_else(|| self.select_addr(d, Some(target), Scope::Link)).unwrap_or(Ipv4Addr::UNSPECIFIED);
        let mac = self.ifaces[d].mac;
        let req = Arp { op: ARP_REQUEST, sha: mac, spa: saddr, tha: MacAddr::ZERO, tpa: target };
        let iface = &self.ifaces[d];
        if iface.noarp || !iface.running() {
            return;
        }
        let Some(port) = iface.tx_port() else { return };
        let unicast = to.is_some();
        out.send_with(port, req.frame(to.unwrap_or(MacAddr::BROADCAST), mac), || {
            let how = if unicast { "unicast probe" } else { "resolving" };
            match hint {
                Some(h) if h != saddr => format!("{how}; source {saddr}, not {h}: arp_announce={level}"),
                _ => format!("{how}; source {saddr} (arp_announce={level})"),
            }
        });
    }
}
