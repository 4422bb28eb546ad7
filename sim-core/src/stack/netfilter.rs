//! The iptables subset the seeds use, evaluated as netfilter does: tables
//! `filter`, `nat` and `mangle` with their built-in chains, user chains with
//! jumps and RETURN, policies, counters; `mangle PREROUTING -j MARK` setting
//! `skb->mark` (for fwmark services); `nat POSTROUTING -j MASQUERADE|SNAT` with the
//! connection tracking needed to reverse it for replies (`nf_nat_masquerade_ipv4`).
//! Rules are the shell's typed [`crate::shell::iptables::Rule`]s.

use crate::node::CmdError;
use crate::shell::iptables::{IptCmd, Iptables, Neg, Net, PortDir, RejectWith, Rule, Table, Target};
use crate::wire::ip::{Ipv4, Tcp, Udp, rewrite};
use crate::wire::{ETH_HLEN, IPPROTO_TCP, IPPROTO_UDP};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The built-in chains the stack traverses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    Input,
    Forward,
    Output,
}

impl Chain {
    fn name(self) -> &'static str {
        match self {
            Chain::Input => "INPUT",
            Chain::Forward => "FORWARD",
            Chain::Output => "OUTPUT",
        }
    }
}

/// What the filter table decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop(String),
    /// REJECT with this ICMP unreachable code.
    Reject(u8),
}

impl Verdict {
    /// The rule or policy that decided, for the trace.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Accept => "ACCEPT".into(),
            Verdict::Drop(r) => r.clone(),
            Verdict::Reject(c) => format!("REJECT (ICMP unreachable code {c})"),
        }
    }
}

/// The fields rules match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PktInfo {
    pub proto: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ports: Option<(u16, u16)>,
    pub in_if: Option<String>,
    pub out_if: Option<String>,
}

impl PktInfo {
    pub fn of(ip: &Ipv4, in_if: Option<&str>, out_if: Option<&str>) -> Self {
        let ports = match ip.proto {
            IPPROTO_TCP => Tcp::parse(ip.payload).ok().map(|t| (t.sport, t.dport)),
            IPPROTO_UDP => Udp::parse(ip.payload).ok().map(|u| (u.sport, u.dport)),
            _ => None,
        };
        PktInfo {
            proto: ip.proto,
            src: ip.src,
            dst: ip.dst,
            ports,
            in_if: in_if.map(str::to_string),
            out_if: out_if.map(str::to_string),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    rule: Rule,
    packets: u64,
}

#[derive(Debug, Clone)]
struct ChainState {
    builtin: bool,
    accept: bool,
    rules: Vec<Entry>,
}

/// A MASQUERADE/SNAT mapping: (proto, original source, its port, destination, its port).
type Tuple = (u8, Ipv4Addr, u16, Ipv4Addr, u16);

#[derive(Debug, Clone)]
pub struct Netfilter {
    chains: BTreeMap<(Table, String), ChainState>,
    /// original tuple → translated (source, port).
    nat: BTreeMap<Tuple, (Ipv4Addr, u16)>,
    /// reply tuple (proto, dst, dport, new src, new port) → original (source, port).
    nat_reply: BTreeMap<Tuple, (Ipv4Addr, u16)>,
    /// No rule anywhere and every policy ACCEPT: packets need no inspection.
    quiet: bool,
}

impl Default for Netfilter {
    fn default() -> Self {
        let mut chains = BTreeMap::new();
        for t in [Table::Filter, Table::Nat, Table::Mangle] {
            for c in t.builtin_chains() {
                chains.insert((t, c.to_string()), ChainState { builtin: true, accept: true, rules: vec![] });
            }
        }
        Netfilter { chains, nat: BTreeMap::new(), nat_reply: BTreeMap::new(), quiet: true }
    }
}

fn net_match(n: &Option<Neg<Net>>, a: Ipv4Addr) -> bool {
    n.as_ref().is_none_or(|n| {
        let m = crate::stack::iface::mask(n.value.prefix_len);
        ((u32::from(a) ^ u32::from(n.value.addr)) & m == 0) != n.negated
    })
}

fn iface_match(n: &Option<Neg<String>>, i: Option<&str>) -> bool {
    n.as_ref().is_none_or(|n| {
        let hit = match (n.value.strip_suffix('+'), i) {
            (Some(prefix), Some(i)) => i.starts_with(prefix),
            (None, Some(i)) => i == n.value,
            (_, None) => false,
        };
        hit != n.negated
    })
}

fn rule_matches(r: &Rule, p: &PktInfo) -> bool {
    if let Some(pr) = &r.protocol
        && (pr.value == p.proto) == pr.negated
    {
        return false;
    }
    if !net_match(&r.source, p.src) || !net_match(&r.destination, p.dst) {
        return false;
    }
    if !iface_match(&r.in_iface, p.in_if.as_deref()) || !iface_match(&r.out_iface, p.out_if.as_deref()) {
        return false;
    }
    let in_range = |pr: &Neg<crate::shell::iptables::PortRange>, port: u16| {
        (pr.value.lo <= port && port <= pr.value.hi) != pr.negated
    };
    if let Some(sp) = &r.sport
        && !p.ports.is_some_and(|(s, _)| in_range(sp, s))
    {
        return false;
    }
    if let Some(dp) = &r.dport
        && !p.ports.is_some_and(|(_, d)| in_range(dp, d))
    {
        return false;
    }
    if let Some(m) = &r.multiport {
        let Some((s, d)) = p.ports else { return false };
        let hit = m.ports.iter().any(|pr| {
            let inr = |x: u16| pr.lo <= x && x <= pr.hi;
            match m.dir {
                PortDir::Source => inr(s),
                PortDir::Destination => inr(d),
                PortDir::Either => inr(s) || inr(d),
            }
        });
        if hit == m.negated {
            return false;
        }
    }
    true
}

fn reject_code(w: RejectWith) -> u8 {
    match w {
        RejectWith::NetUnreachable => 0,
        RejectWith::HostUnreachable => 1,
        RejectWith::ProtoUnreachable => 2,
        RejectWith::PortUnreachable | RejectWith::TcpReset => 3,
        RejectWith::NetProhibited => 9,
        RejectWith::HostProhibited => 10,
        RejectWith::AdminProhibited => 13,
    }
}

/// One table traversal's result.
enum Walk {
    Target(Target, String),
    Policy(bool),
}

impl Netfilter {
    /// True when no rule is loaded and every policy accepts: the fast path.
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    fn recompute_quiet(&mut self) {
        self.quiet = self.chains.values().all(|c| c.rules.is_empty() && c.accept);
    }

    /// Walks a chain (following jumps to user chains, at most 16 deep) and returns
    /// the first terminating target, or the built-in chain's policy.
    fn walk(&mut self, table: Table, chain: &str, p: &PktInfo, depth: u8) -> Option<Walk> {
        if depth > 16 {
            return None;
        }
        let n = self.chains.get(&(table, chain.to_string()))?.rules.len();
        for i in 0..n {
            let st = self.chains.get_mut(&(table, chain.to_string()))?;
            let e = &mut st.rules[i];
            if !rule_matches(&e.rule, p) {
                continue;
            }
            e.packets += 1;
            let desc = format!("rule {} of {chain}: {}", i + 1, rule_text(&e.rule));
            match e.rule.target.clone() {
                None | Some(Target::Log { .. }) => {}
                Some(Target::Return) => return None,
                Some(Target::Chain(c)) => {
                    if let Some(w) = self.walk(table, &c, p, depth + 1) {
                        return Some(w);
                    }
                }
                Some(t @ Target::Mark { .. }) => return Some(Walk::Target(t, desc)),
                Some(t) => return Some(Walk::Target(t, desc)),
            }
        }
        let st = self.chains.get(&(table, chain.to_string()))?;
        st.builtin.then_some(Walk::Policy(st.accept))
    }

    /// The filter table's verdict at INPUT, FORWARD or OUTPUT.
    pub fn filter(&mut self, chain: Chain, p: &PktInfo) -> Verdict {
        match self.walk(Table::Filter, chain.name(), p, 0) {
            Some(Walk::Target(Target::Drop, d)) => Verdict::Drop(format!("DROP by {d}")),
            Some(Walk::Target(Target::Reject(w), _)) => Verdict::Reject(reject_code(w)),
            Some(Walk::Policy(false)) => Verdict::Drop(format!("{} policy DROP", chain.name())),
            _ => Verdict::Accept,
        }
    }

    /// `mangle PREROUTING`: the mark `-j MARK --set-mark` leaves on the packet.
    pub fn prerouting_mark(&mut self, p: &PktInfo) -> u32 {
        let mut mark = 0;
        let n = self.chains.get(&(Table::Mangle, "PREROUTING".to_string())).map_or(0, |c| c.rules.len());
        for i in 0..n {
            let Some(st) = self.chains.get_mut(&(Table::Mangle, "PREROUTING".to_string())) else { break };
            let e = &mut st.rules[i];
            if !rule_matches(&e.rule, p) {
                continue;
            }
            e.packets += 1;
            match e.rule.target {
                // MARK is non-terminating: later rules still run.
                Some(Target::Mark { value, mask }) => mark = (mark & !mask) ^ value,
                Some(Target::Accept | Target::Drop) => break,
                _ => {}
            }
        }
        mark
    }

    /// `nat POSTROUTING`: MASQUERADE (to the outgoing device's address) or SNAT,
    /// remembered so replies can be reversed. Returns the new source if changed.
    pub fn postrouting(&mut self, frame: &mut [u8], out_if: &str, masq_src: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        if self.quiet && self.nat.is_empty() {
            return None;
        }
        let ip = Ipv4::parse(&frame[ETH_HLEN..]).ok()?;
        let p = PktInfo::of(&ip, None, Some(out_if));
        let (sport, dport) = p.ports.unwrap_or((0, 0));
        let key = (p.proto, p.src, sport, p.dst, dport);
        let (new_src, new_port) = match self.nat.get(&key) {
            Some(&m) => m,
            None => {
                let Some(Walk::Target(t, _)) = self.walk(Table::Nat, "POSTROUTING", &p, 0) else { return None };
                let to = match t {
                    Target::Masquerade { .. } => masq_src?,
                    Target::Snat(r) => r.addr_lo,
                    _ => return None,
                };
                let mut port = sport;
                while self.nat_reply.contains_key(&(p.proto, p.dst, dport, to, port)) {
                    port = port.wrapping_add(1).max(1024);
                }
                self.nat.insert(key, (to, port));
                self.nat_reply.insert((p.proto, p.dst, dport, to, port), (p.src, sport));
                (to, port)
            }
        };
        let pkt = &mut frame[ETH_HLEN..];
        rewrite::set_src(pkt, new_src);
        if new_port != sport {
            rewrite::set_sport(pkt, new_port);
        }
        Some(new_src)
    }

    /// The reply half of MASQUERADE/SNAT, in PREROUTING: a packet to a translated
    /// (address, port) gets its original destination back. True if rewritten.
    pub fn unmasquerade(&mut self, frame: &mut [u8]) -> bool {
        if self.nat_reply.is_empty() {
            return false;
        }
        let Ok(ip) = Ipv4::parse(&frame[ETH_HLEN..]) else { return false };
        let p = PktInfo::of(&ip, None, None);
        let (sport, dport) = p.ports.unwrap_or((0, 0));
        let Some(&(orig, oport)) = self.nat_reply.get(&(p.proto, p.src, sport, p.dst, dport)) else { return false };
        let pkt = &mut frame[ETH_HLEN..];
        rewrite::set_dst(pkt, orig);
        if oport != dport {
            rewrite::set_dport(pkt, oport);
        }
        true
    }

    /// Carries out an `iptables` command and returns what it prints.
    pub fn apply(&mut self, cmd: &Iptables) -> Result<String, CmdError> {
        let r = self.apply_inner(cmd);
        self.recompute_quiet();
        r
    }

    fn apply_inner(&mut self, cmd: &Iptables) -> Result<String, CmdError> {
        let t = cmd.table;
        let no_chain = |_: &str| CmdError::with_status("iptables: No chain/target/match by that name.", 1);
        let check_target = |s: &Self, r: &Rule| -> Result<(), CmdError> {
            if let Some(Target::Chain(c)) = &r.target
                && !s.chains.contains_key(&(t, c.clone()))
            {
                return Err(CmdError::with_status(
                    format!("iptables v1.8.9 (legacy): Couldn't load target `{c}':No such file or directory"),
                    2,
                ));
            }
            Ok(())
        };
        match &cmd.cmd {
            IptCmd::Append { chain, rule } => {
                check_target(self, rule)?;
                let st = self.chains.get_mut(&(t, chain.clone())).ok_or_else(|| no_chain(chain))?;
                st.rules.push(Entry { rule: rule.clone(), packets: 0 });
            }
            IptCmd::Insert { chain, index, rule } => {
                check_target(self, rule)?;
                let st = self.chains.get_mut(&(t, chain.clone())).ok_or_else(|| no_chain(chain))?;
                let i = (*index as usize).saturating_sub(1);
                if i > st.rules.len() {
                    return Err(CmdError::with_status("iptables: Index of insertion too big.", 1));
                }
                st.rules.insert(i, Entry { rule: rule.clone(), packets: 0 });
            }
            IptCmd::Delete { chain, rule } => {
                let st = self.chains.get_mut(&(t, chain.clone())).ok_or_else(|| no_chain(chain))?;
                let i = st.rules.iter().position(|e| &e.rule == rule).ok_or_else(|| {
                    CmdError::with_status("iptables: Bad rule (does a matching rule exist in that chain?).", 1)
                })?;
                st.rules.remove(i);
            }
            IptCmd::DeleteNum { chain, index } => {
                let st = self.chains.get_mut(&(t, chain.clone())).ok_or_else(|| no_chain(chain))?;
                let i = (*index as usize).wrapping_sub(1);
                if i >= st.rules.len() {
                    return Err(CmdError::with_status("iptables: Index of deletion too big.", 1));
                }
                st.rules.remove(i);
            }
            IptCmd::Flush(c) => {
                for ((tt, name), st) in self.chains.iter_mut() {
                    if *tt == t && c.as_ref().is_none_or(|c| c == name) {
                        st.rules.clear();
                    }
                }
                if let Some(c) = c
                    && !self.chains.contains_key(&(t, c.clone()))
                {
                    return Err(no_chain(c));
                }
            }
            IptCmd::DeleteChain(c) => {
                let keys: Vec<(Table, String)> = self
                    .chains
                    .iter()
                    .filter(|((tt, name), st)| *tt == t && !st.builtin && c.as_ref().is_none_or(|c| c == name))
                    .map(|(k, _)| k.clone())
                    .collect();
                if let Some(c) = c {
                    if self.chains.get(&(t, c.clone())).is_some_and(|s| s.builtin) {
                        return Err(CmdError::with_status(
                            "iptables: Invalid argument. Run `dmesg' for more information.",
                            1,
                        ));
                    }
                    if keys.is_empty() {
                        return Err(no_chain(c));
                    }
                }
                for k in keys {
                    if self.chains[&k].rules.is_empty() {
                        self.chains.remove(&k);
                    } else {
                        return Err(CmdError::with_status("iptables: Directory not empty.", 1));
                    }
                }
            }
            IptCmd::Zero(c) => {
                for ((tt, name), st) in self.chains.iter_mut() {
                    if *tt == t && c.as_ref().is_none_or(|c| c == name) {
                        for e in &mut st.rules {
                            e.packets = 0;
                        }
                    }
                }
            }
            IptCmd::NewChain(c) => {
                if self.chains.contains_key(&(t, c.clone())) {
                    return Err(CmdError::with_status("iptables: Chain already exists.", 1));
                }
                self.chains.insert((t, c.clone()), ChainState { builtin: false, accept: true, rules: vec![] });
            }
            IptCmd::Policy { chain, accept } => {
                let st = self.chains.get_mut(&(t, chain.clone())).ok_or_else(|| no_chain(chain))?;
                if !st.builtin {
                    return Err(CmdError::with_status("iptables: Bad built-in chain name.", 1));
                }
                st.accept = *accept;
            }
            IptCmd::List { chain, numeric: _, verbose, exact: _, line_numbers } => {
                return self.list(t, chain.as_deref(), *verbose, *line_numbers);
            }
            IptCmd::ListRules(chain) => return Ok(self.save(t, chain.as_deref())),
        }
        Ok(String::new())
    }

    /// `iptables -L -n` text.
    fn list(&self, t: Table, only: Option<&str>, verbose: bool, line_numbers: bool) -> Result<String, CmdError> {
        let mut s = String::new();
        let mut found = false;
        for ((tt, name), st) in self.ordered(t) {
            if *tt != t || only.is_some_and(|o| o != name) {
                continue;
            }
            found = true;
            if !s.is_empty() {
                s.push('\n');
            }
            if st.builtin {
                let pk: u64 = st.rules.iter().map(|e| e.packets).sum();
                let pol = if st.accept { "ACCEPT" } else { "DROP" };
                if verbose {
                    s.push_str(&format!("Chain {name} (policy {pol} {pk} packets, 0 bytes)\n"));
                } else {
                    s.push_str(&format!("Chain {name} (policy {pol})\n"));
                }
            } else {
                s.push_str(&format!("Chain {name} (0 references)\n"));
            }
            let num = if line_numbers { "num  " } else { "" };
            s.push_str(&format!("{num}target     prot opt source               destination         \n"));
            for (i, e) in st.rules.iter().enumerate() {
                let r = &e.rule;
                let target = match &r.target {
                    Some(tg) => target_name(tg),
                    None => String::new(),
                };
                let prot = r.protocol.map_or("all".to_string(), |p| {
                    format!("{}{}", if p.negated { "!" } else { "" }, proto_name(p.value))
                });
                let net = |n: &Option<Neg<Net>>| {
                    n.map_or("0.0.0.0/0".to_string(), |n| {
                        format!("{}{}/{}", if n.negated { "!" } else { "" }, n.value.addr, n.value.prefix_len)
                    })
                };
                let ln = if line_numbers { format!("{:<4} ", i + 1) } else { String::new() };
                let extra = rule_extras(r);
                s.push_str(&format!(
                    "{ln}{target:<10} {prot:<4} --  {:<20} {:<20}{extra}\n",
                    net(&r.source),
                    net(&r.destination)
                ));
            }
        }
        if !found {
            return Err(CmdError::with_status("iptables: No chain/target/match by that name.", 1));
        }
        Ok(s)
    }

    /// Built-in chains in the table's order, then user chains by name.
    fn ordered(&self, t: Table) -> Vec<(&(Table, String), &ChainState)> {
        let mut v: Vec<_> = self.chains.iter().filter(|((tt, _), _)| *tt == t).collect();
        let order = t.builtin_chains();
        v.sort_by_key(|((_, n), st)| (!st.builtin, order.iter().position(|c| c == n).unwrap_or(usize::MAX), n.clone()));
        v
    }

    /// `iptables -S` text.
    fn save(&self, t: Table, only: Option<&str>) -> String {
        let mut s = String::new();
        for ((_, name), st) in self.ordered(t) {
            if only.is_some_and(|o| o != name) {
                continue;
            }
            if st.builtin {
                s.push_str(&format!("-P {name} {}\n", if st.accept { "ACCEPT" } else { "DROP" }));
            } else {
                s.push_str(&format!("-N {name}\n"));
            }
        }
        for ((_, name), st) in self.ordered(t) {
            if only.is_some_and(|o| o != name) {
                continue;
            }
            for e in &st.rules {
                s.push_str(&format!("-A {name} {}\n", rule_text(&e.rule)));
            }
        }
        s
    }
}

/// `/etc/protocols` names for the protocols the seeds use.
fn proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        112 => "vrrp".into(),
        n => n.to_string(),
    }
}

fn target_name(t: &Target) -> String {
    match t {
        Target::Accept => "ACCEPT".into(),
        Target::Drop => "DROP".into(),
        Target::Return => "RETURN".into(),
        Target::Reject(_) => "REJECT".into(),
        Target::Masquerade { .. } => "MASQUERADE".into(),
        Target::Snat(_) => "SNAT".into(),
        Target::Dnat(_) => "DNAT".into(),
        Target::Mark { .. } => "MARK".into(),
        Target::Log { .. } => "LOG".into(),
        Target::Chain(c) => c.clone(),
    }
}

fn rule_extras(r: &Rule) -> String {
    let mut s = String::new();
    let pn = r.protocol.map(|p| proto_name(p.value)).unwrap_or_default();
    if let Some(d) = &r.dport {
        s.push_str(&format!(" {pn} dpt:{}{}", if d.negated { "!" } else { "" }, range(d.value)));
    }
    if let Some(sp) = &r.sport {
        s.push_str(&format!(" {pn} spt:{}{}", if sp.negated { "!" } else { "" }, range(sp.value)));
    }
    if let Some(m) = &r.multiport {
        let dir = match m.dir {
            PortDir::Source => "sports",
            PortDir::Destination => "dports",
            PortDir::Either => "ports",
        };
        let ports: Vec<String> = m.ports.iter().map(|p| range(*p)).collect();
        s.push_str(&format!(" multiport {dir} {}{}", if m.negated { "! " } else { "" }, ports.join(",")));
    }
    match &r.target {
        Some(Target::Mark { value, mask }) if *mask == u32::MAX => s.push_str(&format!(" MARK set 0x{value:x}")),
        Some(Target::Mark { value, mask }) => s.push_str(&format!(" MARK xset 0x{value:x}/0x{mask:x}")),
        Some(Target::Snat(n)) => s.push_str(&format!(" to:{}", n.addr_lo)),
        _ => {}
    }
    s
}

fn range(p: crate::shell::iptables::PortRange) -> String {
    if p.lo == p.hi { p.lo.to_string() } else { format!("{}:{}", p.lo, p.hi) }
}

/// A rule in `iptables -S` syntax.
fn rule_text(r: &Rule) -> String {
    let mut v: Vec<String> = vec![];
    let neg = |b: bool| if b { "! " } else { "" };
    if let Some(n) = &r.source {
        v.push(format!("{}-s {}/{}", neg(n.negated), n.value.addr, n.value.prefix_len));
    }
    if let Some(n) = &r.destination {
        v.push(format!("{}-d {}/{}", neg(n.negated), n.value.addr, n.value.prefix_len));
    }
    if let Some(i) = &r.in_iface {
        v.push(format!("{}-i {}", neg(i.negated), i.value));
    }
    if let Some(i) = &r.out_iface {
        v.push(format!("{}-o {}", neg(i.negated), i.value));
    }
    if let Some(p) = &r.protocol {
        v.push(format!("{}-p {}", neg(p.negated), proto_name(p.value)));
    }
    if let Some(m) = &r.multiport {
        let dir = match m.dir {
            PortDir::Source => "--sports",
            PortDir::Destination => "--dports",
            PortDir::Either => "--ports",
        };
        let ports: Vec<String> = m.ports.iter().map(|p| range(*p)).collect();
        v.push(format!("-m multiport {}{dir} {}", neg(m.negated), ports.join(",")));
    }
    if let Some(d) = &r.sport {
        v.push(format!("{}--sport {}", neg(d.negated), range(d.value)));
    }
    if let Some(d) = &r.dport {
        v.push(format!("{}--dport {}", neg(d.negated), range(d.value)));
    }
    if let Some(t) = &r.target {
        let extra = match t {
            Target::Mark { value, mask } if *mask == u32::MAX => format!(" --set-xmark 0x{value:x}/0xffffffff"),
            Target::Mark { value, mask } => format!(" --set-xmark 0x{value:x}/0x{mask:x}"),
            Target::Snat(n) => format!(" --to-source {}", n.addr_lo),
            _ => String::new(),
        };
        v.push(format!("-j {}{extra}", target_name(t)));
    }
    v.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::{Command, parse_command_line};
    use crate::wire::ip::{IpHdr, L4, build};

    fn ipt(nf: &mut Netfilter, line: &str) {
        let Command::Iptables(c) = parse_command_line(line).unwrap() else { panic!("{line}") };
        nf.apply(&c).unwrap();
    }

    fn info(proto: u8, dst: [u8; 4], dport: u16) -> PktInfo {
        PktInfo {
            proto,
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: dst.into(),
            ports: Some((40000, dport)),
            in_if: None,
            out_if: None,
        }
    }

    #[test]
    fn vrrp_output_drop_and_delete() {
        let mut nf = Netfilter::default();
        ipt(&mut nf, "iptables -I OUTPUT -p vrrp -j DROP");
        let vrrp = PktInfo { proto: 112, ports: None, ..info(112, [224, 0, 0, 18], 0) };
        assert!(matches!(nf.filter(Chain::Output, &vrrp), Verdict::Drop(_)));
        assert_eq!(nf.filter(Chain::Output, &info(6, [10, 0, 0, 2], 80)), Verdict::Accept);
        ipt(&mut nf, "iptables -D OUTPUT -p vrrp -j DROP");
        assert_eq!(nf.filter(Chain::Output, &vrrp), Verdict::Accept);
    }

    #[test]
    fn mangle_marks_for_fwmark_services() {
        let mut nf = Netfilter::default();
        ipt(
            &mut nf,
            "iptables -t mangle -A PREROUTING -d 10.0.0.100 -p tcp -m multiport --dports 80,443 -j MARK --set-mark 7",
        );
        assert_eq!(nf.prerouting_mark(&info(6, [10, 0, 0, 100], 443)), 7);
        assert_eq!(nf.prerouting_mark(&info(6, [10, 0, 0, 100], 22)), 0);
        assert_eq!(nf.prerouting_mark(&info(17, [10, 0, 0, 100], 80)), 0);
    }

    #[test]
    fn masquerade_and_reverse() {
        let mut nf = Netfilter::default();
        ipt(&mut nf, "iptables -t nat -A POSTROUTING -s 192.168.31.0/24 -j MASQUERADE");
        let h = IpHdr::new(Ipv4Addr::new(192, 168, 31, 21), Ipv4Addr::new(8, 8, 8, 8), IPPROTO_UDP);
        let mut f = build(&h, &L4::Udp { sport: 5000, dport: 53, payload: b"q" });
        assert_eq!(
            nf.postrouting(&mut f, "ens33", Some(Ipv4Addr::new(192, 168, 0, 20))),
            Some(Ipv4Addr::new(192, 168, 0, 20))
        );
        let ip = Ipv4::parse(&f[ETH_HLEN..]).unwrap();
        assert!(ip.l4_checksum_ok());
        let h = IpHdr::new(Ipv4Addr::new(8, 8, 8, 8), Ipv4Addr::new(192, 168, 0, 20), IPPROTO_UDP);
        let mut r = build(&h, &L4::Udp { sport: 53, dport: 5000, payload: b"a" });
        assert!(nf.unmasquerade(&mut r));
        let ip = Ipv4::parse(&r[ETH_HLEN..]).unwrap();
        assert_eq!(ip.dst, Ipv4Addr::new(192, 168, 31, 21));
        assert!(ip.l4_checksum_ok());
    }
}
