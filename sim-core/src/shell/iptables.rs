//! `iptables` (legacy and nft front ends read the same syntax), the subset LVS
//! tutorials use and a little more.
//!
//! - commands `-A`, `-I CHAIN [N]`, `-D CHAIN RULE|N`, `-F`, `-X`, `-Z`, `-L`, `-S`,
//!   `-N`, `-P CHAIN ACCEPT|DROP`, with `-t filter|nat|mangle`;
//! - matches `[!] -s/-d ADDR[/LEN|/MASK]`, `[!] -p tcp|udp|icmp|vrrp|all|N`,
//!   `[!] -i/-o IF`, `--dport/--sport P[:P]` (after `-p tcp|udp` or `-m tcp|udp`),
//!   `-m multiport --dports|--sports|--ports P,P:P,...`;
//! - targets `ACCEPT`, `DROP`, `RETURN`, `REJECT [--reject-with T]`, `MASQUERADE
//!   [--to-ports P[-P]]`, `SNAT --to-source A[-A][:P[-P]]`, `DNAT --to-destination ...`,
//!   `MARK --set-mark V[/M]`, `LOG [--log-prefix P]`, or a user chain.
//!
//! As with GNU getopt, short options cluster (`-nvL`), long options may be shortened
//! to any unambiguous prefix of the options loaded so far (`--dest`, `--dpo`), and
//! option letters may come in any order. Negation is `! -s X` or the older `-s ! X`.
//! Targets are checked against their table and hooks the way the kernel's x_tables
//! does (`MARK` only in mangle, `DNAT` only from PREROUTING/OUTPUT, ...). Whether a
//! user chain exists is the machine's business.

use super::args::{Args, ipv4, mask_len, number, prefix_len};
use crate::node::CmdError;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iptables {
    pub table: Table,
    pub cmd: IptCmd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    Filter,
    Nat,
    Mangle,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Filter => "filter",
            Table::Nat => "nat",
            Table::Mangle => "mangle",
        }
    }

    /// The table's built-in chains, in the order `iptables -L` lists them.
    pub fn builtin_chains(self) -> &'static [&'static str] {
        match self {
            Table::Filter => &["INPUT", "FORWARD", "OUTPUT"],
            Table::Nat => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
            Table::Mangle => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IptCmd {
    Append {
        chain: String,
        rule: Rule,
    },
    /// `-I CHAIN [N] RULE`; `index` is 1-based, 1 when absent.
    Insert {
        chain: String,
        index: u32,
        rule: Rule,
    },
    /// `-D CHAIN RULE`: the first rule equal to `rule`.
    Delete {
        chain: String,
        rule: Rule,
    },
    /// `-D CHAIN N`.
    DeleteNum {
        chain: String,
        index: u32,
    },
    /// `-F [CHAIN]`: every chain of the table when absent.
    Flush(Option<String>),
    /// `-X [CHAIN]`: every empty user chain when absent.
    DeleteChain(Option<String>),
    /// `-Z [CHAIN]`: zero packet and byte counters.
    Zero(Option<String>),
    /// `-L [CHAIN]` with `-n`, `-v`, `-x`, `--line-numbers`.
    List {
        chain: Option<String>,
        numeric: bool,
        verbose: bool,
        exact: bool,
        line_numbers: bool,
    },
    /// `-S [CHAIN]`: the rules as iptables-save would write them.
    ListRules(Option<String>),
    NewChain(String),
    Policy {
        chain: String,
        accept: bool,
    },
}

/// A value with an optional `!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neg<T> {
    pub negated: bool,
    pub value: T,
}

/// An address and prefix, host bits cleared as iptables stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
}

/// Ports `lo..=hi` (`80` is 80..=80, `1024:` is 1024..=65535).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multiport {
    pub negated: bool,
    pub dir: PortDir,
    pub ports: Vec<PortRange>,
}

/// Which port `-m multiport` matches: `--sports`, `--dports` or `--ports` (either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortDir {
    Source,
    Destination,
    Either,
}

/// A rule's matches and target. `protocol: None` is `-p all`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub protocol: Option<Neg<u8>>,
    pub source: Option<Neg<Net>>,
    pub destination: Option<Neg<Net>>,
    /// `-i`; a trailing `+` is a wildcard, as in iptables.
    pub in_iface: Option<Neg<String>>,
    pub out_iface: Option<Neg<String>>,
    pub sport: Option<Neg<PortRange>>,
    pub dport: Option<Neg<PortRange>>,
    pub multiport: Option<Multiport>,
    /// No `-j`: the rule only counts.
    pub target: Option<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Accept,
    Drop,
    Return,
    Reject(RejectWith),
    Masquerade {
        to_ports: Option<PortRange>,
    },
    Snat(NatRange),
    Dnat(NatRange),
    /// `--set-mark V[/M]`: clear the bits of `mask`, then OR in `value`.
    Mark {
        value: u32,
        mask: u32,
    },
    Log {
        prefix: Option<String>,
    },
    /// A user-defined chain.
    Chain(String),
}

/// `--reject-with`; the default is `icmp-port-unreachable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectWith {
    NetUnreachable,
    HostUnreachable,
    PortUnreachable,
    ProtoUnreachable,
    NetProhibited,
    HostProhibited,
    AdminProhibited,
    TcpReset,
}

/// `ADDR[-ADDR][:PORT[-PORT]]` of SNAT/DNAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatRange {
    pub addr_lo: Ipv4Addr,
    pub addr_hi: Ipv4Addr,
    pub ports: Option<PortRange>,
}

fn err(message: impl Into<String>) -> CmdError {
    CmdError::with_status(format!("iptables: {}", message.into()), 2)
}

fn invalid(dmesg: String) -> CmdError {
    CmdError::with_status(format!("iptables: Invalid argument. Run `dmesg' for more information. ({dmesg})"), 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arity {
    No,
    Required,
    /// `-L [CHAIN]`: takes the next word when it does not start with `-` or `!`.
    Optional,
}

/// An option iptables knows: its canonical long name, short letter, argument, and
/// the extension that provides it (`""` for the core).
struct Spec {
    long: &'static str,
    short: Option<char>,
    arity: Arity,
    ext: &'static str,
}

const fn spec(long: &'static str, short: Option<char>, arity: Arity, ext: &'static str) -> Spec {
    Spec { long, short, arity, ext }
}

/// Aliases (`--src`, `--destination-port`, ...) point at the canonical name.
const ALIASES: &[(&str, &str)] = &[
    ("src", "source"),
    ("dst", "destination"),
    ("destination-port", "dport"),
    ("source-port", "sport"),
    ("destination-ports", "dports"),
    ("source-ports", "sports"),
];

const SPECS: &[Spec] = &[
    spec("append", Some('A'), Arity::Required, ""),
    spec("delete", Some('D'), Arity::Required, ""),
    spec("insert", Some('I'), Arity::Required, ""),
    spec("replace", Some('R'), Arity::Required, ""),
    spec("list", Some('L'), Arity::Optional, ""),
    spec("list-rules", Some('S'), Arity::Optional, ""),
    spec("flush", Some('F'), Arity::Optional, ""),
    spec("zero", Some('Z'), Arity::Optional, ""),
    spec("new-chain", Some('N'), Arity::Required, ""),
    spec("delete-chain", Some('X'), Arity::Optional, ""),
    spec("policy", Some('P'), Arity::Required, ""),
    spec("rename-chain", Some('E'), Arity::Required, ""),
    spec("source", Some('s'), Arity::Required, ""),
    spec("destination", Some('d'), Arity::Required, ""),
    spec("protocol", Some('p'), Arity::Required, ""),
    spec("in-interface", Some('i'), Arity::Required, ""),
    spec("out-interface", Some('o'), Arity::Required, ""),
    spec("jump", Some('j'), Arity::Required, ""),
    spec("goto", Some('g'), Arity::Required, ""),
    spec("table", Some('t'), Arity::Required, ""),
    spec("match", Some('m'), Arity::Required, ""),
    spec("numeric", Some('n'), Arity::No, ""),
    spec("verbose", Some('v'), Arity::No, ""),
    spec("exact", Some('x'), Arity::No, ""),
    spec("line-numbers", None, Arity::No, ""),
    spec("fragment", Some('f'), Arity::No, ""),
    spec("wait", Some('w'), Arity::Optional, ""),
    spec("set-counters", Some('c'), Arity::Required, ""),
    spec("ipv4", Some('4'), Arity::No, ""),
    spec("ipv6", Some('6'), Arity::No, ""),
    spec("dport", None, Arity::Required, "tcp"),
    spec("sport", None, Arity::Required, "tcp"),
    spec("tcp-flags", None, Arity::Required, "tcp"),
    spec("syn", None, Arity::No, "tcp"),
    spec("dports", None, Arity::Required, "multiport"),
    spec("sports", None, Arity::Required, "multiport"),
    spec("ports", None, Arity::Required, "multiport"),
    spec("reject-with", None, Arity::Required, "REJECT"),
    spec("to-ports", None, Arity::Required, "MASQUERADE"),
    spec("to-source", None, Arity::Required, "SNAT"),
    spec("to-destination", None, Arity::Required, "DNAT"),
    spec("set-mark", None, Arity::Required, "MARK"),
    spec("set-xmark", None, Arity::Required, "MARK"),
    spec("log-prefix", None, Arity::Required, "LOG"),
    spec("log-level", None, Arity::Required, "LOG"),
];

/// Whether the options of extension `ext` are loaded; `udp` provides the same
/// `--dport`/`--sport` as `tcp`.
fn loaded(ext: &str, exts: &[String]) -> bool {
    ext.is_empty() || exts.iter().any(|e| e == ext || (ext == "tcp" && e == "udp"))
}

fn long_spec(name: &str, exts: &[String]) -> Result<&'static Spec, CmdError> {
    let canonical = ALIASES.iter().find(|(a, _)| *a == name).map_or(name, |(_, c)| c);
    let visible = || SPECS.iter().filter(|s| loaded(s.ext, exts));
    if let Some(s) = visible().find(|s| s.long == canonical) {
        return Ok(s);
    }
    let mut hits: Vec<&'static Spec> = visible().filter(|s| s.long.starts_with(name)).collect();
    for (alias, c) in ALIASES {
        if alias.starts_with(name)
            && let Some(s) = visible().find(|s| s.long == *c)
            && !hits.iter().any(|h| h.long == s.long)
        {
            hits.push(s);
        }
    }
    match hits.as_slice() {
        [one] => Ok(one),
        [] => {
            let hint = match SPECS.iter().find(|s| s.long == canonical || s.long.starts_with(name)) {
                Some(s) if s.ext == "tcp" => " (it needs `-p tcp` or `-p udp` first)",
                Some(s) if s.ext == "multiport" => " (it needs `-m multiport` first)",
                Some(_) => " (it needs its target's `-j` first)",
                None => "",
            };
            Err(err(format!("unknown option \"--{name}\"{hint}")))
        }
        _ => Err(err(format!("option `--{name}' is ambiguous"))),
    }
}

fn short_spec(c: char) -> Result<&'static Spec, CmdError> {
    SPECS.iter().find(|s| s.short == Some(c)).ok_or_else(|| {
        err(format!("invalid option -- '{c}'\nTry `iptables -h' or 'iptables --help' for more information."))
    })
}

/// The command being built and the rule's parts.
#[derive(Default)]
struct State {
    table: Option<Table>,
    command: Option<(&'static str, String)>,
    index: Option<u32>,
    policy: Option<String>,
    rule: Rule,
    exts: Vec<String>,
    rule_opts: Vec<&'static str>,
    numeric: bool,
    verbose: bool,
    exact: bool,
    line_numbers: bool,
    match_tcp_explicit: Option<String>,
    target_name: Option<String>,
    reject_with: Option<RejectWith>,
    to_ports: Option<PortRange>,
    nat_to: Option<NatRange>,
    mark: Option<(u32, u32)>,
    log_prefix: Option<String>,
}

/// Parses `iptables ARGS...` (the arguments after `iptables`).
pub fn parse(argv: &[String]) -> Result<Iptables, CmdError> {
    let mut a = Args::new(argv);
    let mut st = State::default();
    let mut negate = false;
    while let Some(arg) = a.next() {
        if arg == "!" {
            if negate {
                return Err(err("multiple `!' flags not allowed"));
            }
            negate = true;
            continue;
        }
        if let Some(long) = arg.strip_prefix("--").filter(|l| !l.is_empty()) {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let s = long_spec(name, &st.exts)?;
            let value = match (s.arity, inline) {
                (Arity::No, Some(_)) => return Err(err(format!("option `--{name}' doesn't allow an argument"))),
                (_, Some(v)) => Some(v.to_string()),
                (Arity::No, None) => None,
                (Arity::Required, None) => {
                    Some(a.next().ok_or_else(|| err(format!("option `--{name}' requires an argument")))?.to_string())
                }
                (Arity::Optional, None) => optional(&mut a),
            };
            apply(&mut st, s, value, std::mem::take(&mut negate), &mut a)?;
            continue;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            return Err(err(format!(
                "Bad argument `{arg}'\nTry `iptables -h' or 'iptables --help' for more information."
            )));
        };
        for (i, c) in cluster.char_indices() {
            let s = short_spec(c)?;
            let attached = &cluster[i + c.len_utf8()..];
            match s.arity {
                Arity::No => apply(&mut st, s, None, std::mem::take(&mut negate), &mut a)?,
                Arity::Required => {
                    let v = if attached.is_empty() {
                        a.next().ok_or_else(|| err(format!("option requires an argument -- '{c}'")))?.to_string()
                    } else {
                        attached.to_string()
                    };
                    apply(&mut st, s, Some(v), std::mem::take(&mut negate), &mut a)?;
                    break;
                }
                Arity::Optional => {
                    let v = if attached.is_empty() { optional(&mut a) } else { Some(attached.to_string()) };
                    apply(&mut st, s, v, std::mem::take(&mut negate), &mut a)?;
                    break;
                }
            }
        }
    }
    if negate {
        return Err(err("`!' must come before an option"));
    }
    finish(st)
}

fn optional(a: &mut Args<'_>) -> Option<String> {
    let next = a.peek().filter(|n| !n.starts_with('-') && !n.starts_with('!'))?;
    a.next();
    Some(next.to_string())
}

/// The value after an option, taking the old `-s ! ADDR` negation into account.
fn value_neg(value: Option<String>, negate: bool, a: &mut Args<'_>) -> Result<(String, bool), CmdError> {
    let v = value.unwrap_or_default();
    if v == "!" {
        if negate {
            return Err(err("multiple `!' flags not allowed"));
        }
        let next = a.next().ok_or_else(|| err("`!' needs a value after it"))?;
        return Ok((next.to_string(), true));
    }
    Ok((v, negate))
}

fn apply(st: &mut State, s: &Spec, value: Option<String>, negate: bool, a: &mut Args<'_>) -> Result<(), CmdError> {
    let is_command = matches!(
        s.long,
        "append"
            | "delete"
            | "insert"
            | "replace"
            | "list"
            | "list-rules"
            | "flush"
            | "zero"
            | "new-chain"
            | "delete-chain"
            | "policy"
            | "rename-chain"
    );
    if negate && (is_command || matches!(s.long, "table" | "match" | "jump" | "numeric" | "verbose")) {
        return Err(err(format!("cannot have ! before --{}", s.long)));
    }
    if is_command {
        if let Some((prev, _)) = &st.command {
            return Err(err(format!("Can't use --{} with --{prev} (one command per line)", s.long)));
        }
        if matches!(s.long, "replace" | "rename-chain") {
            return Err(err(format!("--{} is not supported by lvs-lab", s.long)));
        }
        let chain = value.unwrap_or_default();
        if chain.len() > 28 {
            return Err(err(format!("chain name `{chain}' too long (must be under 29 chars)")));
        }
        match s.long {
            "insert" | "delete" => {
                if let Some(n) = a.peek().filter(|n| !n.starts_with('-') && !n.starts_with('!')) {
                    a.next();
                    let idx = number(n).filter(|i| *i > 0).ok_or_else(|| err(format!("Invalid rule number `{n}'")))?;
                    st.index = Some(idx);
                }
            }
            "policy" => {
                let t = a.next().ok_or_else(|| err("-P requires a chain and a policy"))?;
                st.policy = Some(t.to_string());
            }
            _ => {}
        }
        st.command = Some((s.long, chain));
        return Ok(());
    }
    let v = value.clone().unwrap_or_default();
    match s.long {
        "table" => {
            st.table = Some(match v.as_str() {
                "filter" => Table::Filter,
                "nat" => Table::Nat,
                "mangle" => Table::Mangle,
                "raw" | "security" => {
                    return Err(err(format!("table `{v}` is not supported by lvs-lab (filter, nat, mangle)")));
                }
                _ => return Err(err(format!("can't initialize iptables table `{v}': Table does not exist"))),
            });
        }
        "numeric" => st.numeric = true,
        "verbose" => st.verbose = true,
        "exact" => st.exact = true,
        "line-numbers" => st.line_numbers = true,
        "wait" | "ipv4" => {}
        "ipv6" | "fragment" | "set-counters" | "goto" | "tcp-flags" | "syn" | "set-xmark" | "log-level" => {
            return Err(err(format!("`--{}` is not supported by lvs-lab", s.long)));
        }
        "match" => {
            match v.as_str() {
                "tcp" | "udp" => st.match_tcp_explicit = Some(v.clone()),
                "multiport" => {}
                _ => {
                    return Err(err(format!(
                        "match `{v}` is not supported by lvs-lab (supported: -m tcp, -m udp, -m multiport)"
                    )));
                }
            }
            st.rule_opts.push("match");
            st.exts.push(v);
        }
        "jump" => {
            if st.target_name.is_some() {
                return Err(err("multiple -j flags not allowed"));
            }
            if !matches!(
                v.as_str(),
                "ACCEPT" | "DROP" | "RETURN" | "REJECT" | "MASQUERADE" | "SNAT" | "DNAT" | "MARK" | "LOG"
            ) && [
                "ACCEPT",
                "DROP",
                "RETURN",
                "REJECT",
                "MASQUERADE",
                "SNAT",
                "DNAT",
                "MARK",
                "LOG",
                "QUEUE",
                "NFQUEUE",
                "TPROXY",
                "CT",
                "NOTRACK",
                "TCPMSS",
                "CONNMARK",
                "REDIRECT",
                "TOS",
                "TTL",
                "ULOG",
                "NFLOG",
            ]
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&v))
            {
                return Err(err(format!(
                    "target `{v}` is not supported by lvs-lab (targets are case-sensitive; supported: ACCEPT, DROP, RETURN, REJECT, MASQUERADE, SNAT, DNAT, MARK, LOG or a user chain)"
                )));
            }
            st.rule_opts.push("jump");
            st.exts.push(v.clone());
            st.target_name = Some(v);
        }
        "source" | "destination" => {
            let (v, neg) = value_neg(value, negate, a)?;
            let net = Neg { negated: neg, value: net(&v)? };
            if s.long == "source" {
                st.rule.source = Some(net)
            } else {
                st.rule.destination = Some(net)
            }
            st.rule_opts.push(s.long);
        }
        "protocol" => {
            let (v, neg) = value_neg(value, negate, a)?;
            let lower = v.to_ascii_lowercase();
            let num = protocol(&lower)?;
            st.rule.protocol = (num != 0 || neg).then_some(Neg { negated: neg, value: num });
            if !neg && matches!(num, 6 | 17) {
                st.exts.push(if num == 6 { "tcp".into() } else { "udp".into() });
            }
            st.rule_opts.push("protocol");
        }
        "in-interface" | "out-interface" => {
            let (v, neg) = value_neg(value, negate, a)?;
            if v.is_empty() || v.len() > 15 {
                return Err(err(format!("interface name `{v}' must be shorter than IFNAMSIZ (15)")));
            }
            let i = Some(Neg { negated: neg, value: v });
            if s.long == "in-interface" {
                st.rule.in_iface = i
            } else {
                st.rule.out_iface = i
            }
            st.rule_opts.push(s.long);
        }
        "dport" | "sport" => {
            let (v, neg) = value_neg(value, negate, a)?;
            let r = Some(Neg { negated: neg, value: port_range(&v, ':')? });
            if s.long == "dport" {
                st.rule.dport = r
            } else {
                st.rule.sport = r
            }
            st.rule_opts.push(s.long);
        }
        "dports" | "sports" | "ports" => {
            let (v, neg) = value_neg(value, negate, a)?;
            if st.rule.multiport.is_some() {
                return Err(err("multiport can only have one option"));
            }
            let dir = match s.long {
                "dports" => PortDir::Destination,
                "sports" => PortDir::Source,
                _ => PortDir::Either,
            };
            let ports = v.split(',').map(|p| port_range(p, ':')).collect::<Result<Vec<_>, _>>()?;
            let slots: usize = ports.iter().map(|p| if p.lo == p.hi { 1 } else { 2 }).sum();
            if slots > 15 {
                return Err(err("multiport: too many ports specified (at most 15, a range counts as two)"));
            }
            st.rule.multiport = Some(Multiport { negated: neg, dir, ports });
            st.rule_opts.push(s.long);
        }
        "reject-with" => st.reject_with = Some(reject_with(&v)?),
        "to-ports" => st.to_ports = Some(port_range(&v, '-')?),
        "to-source" | "to-destination" => st.nat_to = Some(nat_range(&v)?),
        "set-mark" => {
            let (val, mask) = match v.split_once('/') {
                Some((val, m)) => (number(val), number(m)),
                None => (number(&v), Some(u32::MAX)),
            };
            match (val, mask) {
                (Some(val), Some(mask)) => st.mark = Some((val, mask)),
                _ => return Err(err(format!("MARK: Bad MARK value \"{v}\""))),
            }
        }
        "log-prefix" => st.log_prefix = Some(v),
        _ => return Err(err(format!("`--{}` is not supported by lvs-lab", s.long))),
    }
    Ok(())
}

/// Protocol names iptables and /etc/protocols know, lowercased.
fn protocol(p: &str) -> Result<u8, CmdError> {
    Ok(match p {
        "all" => 0,
        "icmp" => 1,
        "igmp" => 2,
        "ipip" | "ipencap" => 4,
        "tcp" => 6,
        "udp" => 17,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "vrrp" => 112,
        "sctp" => 132,
        _ => number(p)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| err(format!("unknown protocol \"{p}\" specified")))?,
    })
}

fn net(text: &str) -> Result<Net, CmdError> {
    if text.contains(',') {
        return Err(err(format!("`{text}`: address lists are not supported by lvs-lab (one address per rule)")));
    }
    let bad = || err(format!("host/network `{text}' not found"));
    let (addr, len) = match text.split_once('/') {
        Some((a, m)) => {
            let len = match prefix_len(m) {
                Some(l) => l,
                None => {
                    mask_len(ipv4(m).ok_or_else(bad)?).ok_or_else(|| err(format!("invalid mask `{m}' specified")))?
                }
            };
            (ipv4(a).ok_or_else(bad)?, len)
        }
        None => (ipv4(text).ok_or_else(bad)?, 32),
    };
    let mask = u32::from(super::args::len_mask(len));
    Ok(Net { addr: Ipv4Addr::from(u32::from(addr) & mask), prefix_len: len })
}

/// Service names iptables resolves through /etc/services that LVS tutorials use.
fn port(p: &str) -> Result<u16, CmdError> {
    Ok(match p {
        "ftp" => 21,
        "ssh" => 22,
        "smtp" => 25,
        "domain" => 53,
        "http" | "www" => 80,
        "https" => 443,
        "mysql" => 3306,
        _ => p.parse().map_err(|_| err(format!("invalid port/service `{p}' specified")))?,
    })
}

/// `P`, `P:Q`, `P:` and `:Q` (`sep` is `-` for NAT port ranges).
fn port_range(text: &str, sep: char) -> Result<PortRange, CmdError> {
    let r = match text.split_once(sep) {
        Some((lo, hi)) => PortRange {
            lo: if lo.is_empty() { 0 } else { port(lo)? },
            hi: if hi.is_empty() { u16::MAX } else { port(hi)? },
        },
        None => {
            let p = port(text)?;
            PortRange { lo: p, hi: p }
        }
    };
    if r.lo > r.hi {
        return Err(err(format!("invalid portrange `{text}' specified")));
    }
    Ok(r)
}

fn nat_range(text: &str) -> Result<NatRange, CmdError> {
    let (addrs, ports) = match text.split_once(':') {
        Some((a, p)) => (a, Some(port_range(p, '-')?)),
        None => (text, None),
    };
    let bad = || err(format!("Bad IP address \"{addrs}\""));
    let (lo, hi) = match addrs.split_once('-') {
        Some((lo, hi)) => (ipv4(lo).ok_or_else(bad)?, ipv4(hi).ok_or_else(bad)?),
        None => {
            let a = ipv4(addrs).ok_or_else(bad)?;
            (a, a)
        }
    };
    Ok(NatRange { addr_lo: lo, addr_hi: hi, ports })
}

fn reject_with(t: &str) -> Result<RejectWith, CmdError> {
    Ok(match t {
        "icmp-net-unreachable" | "net-unreach" => RejectWith::NetUnreachable,
        "icmp-host-unreachable" | "host-unreach" => RejectWith::HostUnreachable,
        "icmp-proto-unreachable" | "proto-unreach" => RejectWith::ProtoUnreachable,
        "icmp-port-unreachable" | "port-unreach" => RejectWith::PortUnreachable,
        "icmp-net-prohibited" | "net-prohib" => RejectWith::NetProhibited,
        "icmp-host-prohibited" | "host-prohib" => RejectWith::HostProhibited,
        "icmp-admin-prohibited" | "admin-prohib" => RejectWith::AdminProhibited,
        "tcp-reset" | "tcp-rst" => RejectWith::TcpReset,
        _ => return Err(err(format!("REJECT: unknown reject type \"{t}\""))),
    })
}

/// The hooks each target may be used from (`None`: any), as the kernel checks them.
fn target_hooks(target: &str) -> Option<(Table, &'static [&'static str])> {
    Some(match target {
        "MASQUERADE" => (Table::Nat, &["POSTROUTING"]),
        "SNAT" => (Table::Nat, &["POSTROUTING", "INPUT"]),
        "DNAT" => (Table::Nat, &["PREROUTING", "OUTPUT"]),
        "MARK" => (Table::Mangle, &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]),
        "REJECT" => (Table::Filter, &["INPUT", "FORWARD", "OUTPUT"]),
        _ => return None,
    })
}

fn finish(st: State) -> Result<Iptables, CmdError> {
    let table = st.table.unwrap_or(Table::Filter);
    let Some((command, chain)) = st.command.clone() else {
        return Err(err("no command specified\nTry `iptables -h' or 'iptables --help' for more information."));
    };
    let rule_cmd = matches!(command, "append" | "insert") || (command == "delete" && st.index.is_none());
    if !rule_cmd && let Some(opt) = st.rule_opts.first() {
        return Err(err(format!("Illegal option `--{opt}' with this command")));
    }
    if command != "list" && (st.numeric || st.exact || st.line_numbers) {
        return Err(err("Illegal option `-n', `-x' or `--line-numbers' with this command (only with -L)"));
    }
    let chain_opt = (!chain.is_empty()).then_some(chain.clone());
    let cmd = match command {
        "append" | "insert" | "delete" if st.index.is_some() && command == "delete" => {
            IptCmd::DeleteNum { chain, index: st.index.unwrap_or(1) }
        }
        "append" | "insert" | "delete" => {
            let rule = build_rule(&st, table, &chain)?;
            match command {
                "append" => IptCmd::Append { chain, rule },
                "insert" => IptCmd::Insert { chain, index: st.index.unwrap_or(1), rule },
                _ => IptCmd::Delete { chain, rule },
            }
        }
        "flush" => IptCmd::Flush(chain_opt),
        "zero" => IptCmd::Zero(chain_opt),
        "delete-chain" => IptCmd::DeleteChain(chain_opt),
        "list" => IptCmd::List {
            chain: chain_opt,
            numeric: st.numeric,
            verbose: st.verbose,
            exact: st.exact,
            line_numbers: st.line_numbers,
        },
        "list-rules" => IptCmd::ListRules(chain_opt),
        "new-chain" => {
            if table.builtin_chains().contains(&chain.as_str()) || chain.starts_with('-') || chain.is_empty() {
                return Err(err("Chain already exists."));
            }
            IptCmd::NewChain(chain)
        }
        _ => {
            if !table.builtin_chains().contains(&chain.as_str()) {
                return Err(err("Bad built-in chain name."));
            }
            let accept = match st.policy.as_deref() {
                Some("ACCEPT") => true,
                Some("DROP") => false,
                p => return Err(err(format!("Bad policy name `{}' (ACCEPT or DROP)", p.unwrap_or("")))),
            };
            IptCmd::Policy { chain, accept }
        }
    };
    Ok(Iptables { table, cmd })
}

fn build_rule(st: &State, table: Table, chain: &str) -> Result<Rule, CmdError> {
    let mut rule = st.rule.clone();
    let proto = rule.protocol.filter(|p| !p.negated).map(|p| p.value);
    if let Some(m) = &st.match_tcp_explicit {
        let want = if m == "tcp" { 6 } else { 17 };
        if proto != Some(want) {
            return Err(invalid(format!("x_tables: ip_tables: {m} match: only valid for protocol {want}")));
        }
    }
    if rule.multiport.is_some() && !matches!(proto, Some(6 | 17 | 132)) {
        return Err(err("multiport needs `-p tcp', `-p udp' or `-p sctp'"));
    }
    let name = st.target_name.as_deref();
    if let Some(t) = name
        && let Some((want, hooks)) = target_hooks(t)
    {
        if want != table {
            return Err(invalid(format!(
                "x_tables: ip_tables: {t} target: only valid in {} table, not {}",
                want.name(),
                table.name()
            )));
        }
        if table.builtin_chains().contains(&chain) && !hooks.contains(&chain) {
            return Err(invalid(format!(
                "x_tables: ip_tables: {t} target: used from hooks {chain}, but only usable from {}",
                hooks.join("/")
            )));
        }
    }
    rule.target = match name {
        None => None,
        Some("ACCEPT") => Some(Target::Accept),
        Some("DROP") => Some(Target::Drop),
        Some("RETURN") => Some(Target::Return),
        Some("REJECT") => {
            let with = st.reject_with.unwrap_or(RejectWith::PortUnreachable);
            if with == RejectWith::TcpReset && proto != Some(6) {
                return Err(err("REJECT: TCP_RESET invalid for non-tcp (use `-p tcp`)"));
            }
            Some(Target::Reject(with))
        }
        Some("MASQUERADE") => Some(Target::Masquerade { to_ports: st.to_ports }),
        Some(t @ ("SNAT" | "DNAT")) => {
            let to = st.nat_to.ok_or_else(|| {
                err(format!("You must specify --to-{}", if t == "SNAT" { "source" } else { "destination" }))
            })?;
            Some(if t == "SNAT" { Target::Snat(to) } else { Target::Dnat(to) })
        }
        Some("MARK") => {
            let (value, mask) = st
                .mark
                .ok_or_else(|| err("MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required"))?;
            Some(Target::Mark { value, mask })
        }
        Some("LOG") => Some(Target::Log { prefix: st.log_prefix.clone() }),
        Some(other) => Some(Target::Chain(other.to_string())),
    };
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Iptables, CmdError> {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&argv)
    }

    fn rule_of(line: &str) -> (Table, String, Rule) {
        match p(line).unwrap_or_else(|e| panic!("{line}: {e}")) {
            Iptables { table, cmd: IptCmd::Append { chain, rule } } => (table, chain, rule),
            Iptables { table, cmd: IptCmd::Insert { chain, rule, .. } } => (table, chain, rule),
            Iptables { table, cmd: IptCmd::Delete { chain, rule } } => (table, chain, rule),
            other => panic!("{other:?}"),
        }
    }

    fn net(a: [u8; 4], len: u8) -> Option<Neg<Net>> {
        Some(Neg { negated: false, value: Net { addr: a.into(), prefix_len: len } })
    }

    #[test]
    fn seed_nat_masquerade() {
        let (t, c, r) = rule_of("-t nat -A POSTROUTING -s 192.168.31.0/24 -j MASQUERADE");
        assert_eq!((t, c.as_str()), (Table::Nat, "POSTROUTING"));
        assert_eq!(
            r,
            Rule {
                source: net([192, 168, 31, 0], 24),
                target: Some(Target::Masquerade { to_ports: None }),
                ..Default::default()
            }
        );
    }

    #[test]
    fn seed_mangle_marks() {
        let (t, c, r) = rule_of("-t mangle -A PREROUTING -d 172.18.21.71 -p tcp --dport 80 -j MARK --set-mark 1");
        assert_eq!((t, c.as_str()), (Table::Mangle, "PREROUTING"));
        assert_eq!(r.destination, net([172, 18, 21, 71], 32));
        assert_eq!(r.protocol, Some(Neg { negated: false, value: 6 }));
        assert_eq!(r.dport, Some(Neg { negated: false, value: PortRange { lo: 80, hi: 80 } }));
        assert_eq!(r.target, Some(Target::Mark { value: 1, mask: u32::MAX }));
        let (_, _, r) = rule_of(
            "-t mangle -A PREROUTING -d 172.18.100.7 -p tcp -m multiport --dports 80,443 -j MARK --set-mark 10",
        );
        assert_eq!(
            r.multiport,
            Some(Multiport {
                negated: false,
                dir: PortDir::Destination,
                ports: vec![PortRange { lo: 80, hi: 80 }, PortRange { lo: 443, hi: 443 }]
            })
        );
        assert_eq!(r.target, Some(Target::Mark { value: 10, mask: u32::MAX }));
    }

    #[test]
    fn seed_vrrp_drop_insert_and_delete() {
        let want = Rule {
            protocol: Some(Neg { negated: false, value: 112 }),
            target: Some(Target::Drop),
            ..Default::default()
        };
        assert_eq!(
            p("-I OUTPUT -p vrrp -j DROP").unwrap(),
            Iptables {
                table: Table::Filter,
                cmd: IptCmd::Insert { chain: "OUTPUT".into(), index: 1, rule: want.clone() }
            }
        );
        assert_eq!(
            p("-D OUTPUT -p vrrp -j DROP").unwrap().cmd,
            IptCmd::Delete { chain: "OUTPUT".into(), rule: want.clone() }
        );
        assert_eq!(p("-D OUTPUT 1").unwrap().cmd, IptCmd::DeleteNum { chain: "OUTPUT".into(), index: 1 });
        assert_eq!(
            p("-I INPUT 3 -p 112 -j DROP").unwrap().cmd,
            IptCmd::Insert { chain: "INPUT".into(), index: 3, rule: Rule { target: Some(Target::Drop), ..want } }
        );
    }

    #[test]
    fn table_commands_and_listing() {
        assert_eq!(p("-F").unwrap(), Iptables { table: Table::Filter, cmd: IptCmd::Flush(None) });
        assert_eq!(p("-t nat -F").unwrap(), Iptables { table: Table::Nat, cmd: IptCmd::Flush(None) });
        assert_eq!(p("-t nat -X").unwrap().cmd, IptCmd::DeleteChain(None));
        assert_eq!(p("-Z").unwrap().cmd, IptCmd::Zero(None));
        assert_eq!(p("-F INPUT").unwrap().cmd, IptCmd::Flush(Some("INPUT".into())));
        assert_eq!(
            p("-t mangle -nvL").unwrap(),
            Iptables {
                table: Table::Mangle,
                cmd: IptCmd::List { chain: None, numeric: true, verbose: true, exact: false, line_numbers: false }
            }
        );
        assert_eq!(
            p("-L INPUT -n --line-numbers").unwrap().cmd,
            IptCmd::List {
                chain: Some("INPUT".into()),
                numeric: true,
                verbose: false,
                exact: false,
                line_numbers: true
            }
        );
        assert_eq!(p("--list-rules").unwrap().cmd, IptCmd::ListRules(None));
        assert_eq!(p("-N LVS").unwrap().cmd, IptCmd::NewChain("LVS".into()));
        assert_eq!(p("-P FORWARD DROP").unwrap().cmd, IptCmd::Policy { chain: "FORWARD".into(), accept: false });
        assert_eq!(p("-tnat -nL").unwrap().table, Table::Nat);
    }

    #[test]
    fn long_options_negation_and_targets() {
        let (_, _, r) = rule_of(
            "--append INPUT ! --src 10.0.0.0/255.0.0.0 --dest 10.1.2.3/24 -p TCP --dpo 8000:8080 -i eth0 -j REJECT --reject-with tcp-reset",
        );
        assert_eq!(r.source, Some(Neg { negated: true, value: Net { addr: [10, 0, 0, 0].into(), prefix_len: 8 } }));
        assert_eq!(r.destination, net([10, 1, 2, 0], 24));
        assert_eq!(r.dport, Some(Neg { negated: false, value: PortRange { lo: 8000, hi: 8080 } }));
        assert_eq!(r.in_iface, Some(Neg { negated: false, value: "eth0".into() }));
        assert_eq!(r.target, Some(Target::Reject(RejectWith::TcpReset)));
        let (_, _, r) = rule_of("-A INPUT -s ! 10.0.0.1 -p udp --sport 53 -j ACCEPT");
        assert!(r.source.unwrap().negated);
        assert_eq!(r.sport.unwrap().value, PortRange { lo: 53, hi: 53 });
        let (_, _, r) =
            rule_of("-t nat -A PREROUTING -d 1.2.3.4 -p tcp --dport 80 -j DNAT --to-destination 10.0.0.2:8080");
        assert_eq!(
            r.target,
            Some(Target::Dnat(NatRange {
                addr_lo: [10, 0, 0, 2].into(),
                addr_hi: [10, 0, 0, 2].into(),
                ports: Some(PortRange { lo: 8080, hi: 8080 })
            }))
        );
        let (_, _, r) = rule_of("-t nat -A POSTROUTING -o eth0 -j SNAT --to-source 1.2.3.4-1.2.3.6");
        assert!(matches!(r.target, Some(Target::Snat(NatRange { ports: None, .. }))));
        let (_, _, r) = rule_of("-A FORWARD -j LVS_CHAIN");
        assert_eq!(r.target, Some(Target::Chain("LVS_CHAIN".into())));
        let (_, _, r) = rule_of("-A INPUT -p tcp -m tcp --dport http -j LOG --log-prefix lvs:");
        assert_eq!(r.target, Some(Target::Log { prefix: Some("lvs:".into()) }));
        let (_, _, r) = rule_of("-A INPUT -p all -j ACCEPT");
        assert_eq!(r.protocol, None);
        let (_, _, r) = rule_of("-t mangle -A PREROUTING -j MARK --set-mark 0x10/0xff");
        assert_eq!(r.target, Some(Target::Mark { value: 16, mask: 255 }));
    }

    #[test]
    fn errors() {
        let e = |l: &str| p(l).unwrap_err().message;
        assert!(e("-A INPUT --dport 80 -j ACCEPT").contains("needs `-p tcp`"));
        assert!(e("-A INPUT -p tcp --dports 80,443 -j ACCEPT").contains("-m multiport"));
        assert!(e("-A INPUT -m multiport --dports 80,443 -j ACCEPT").contains("multiport needs"));
        assert!(e("-A INPUT -m state --state NEW -j ACCEPT").contains("not supported"));
        assert!(e("-A PREROUTING -d 1.2.3.4 -j MARK --set-mark 1").contains("only valid in mangle table, not filter"));
        assert!(
            e("-t nat -A POSTROUTING -j DNAT --to-destination 1.2.3.4").contains("only usable from PREROUTING/OUTPUT")
        );
        assert!(e("-A INPUT -j accept").contains("case-sensitive"));
        assert!(e("-A INPUT -m tcp --dport 80").contains("only valid for protocol 6"));
        assert!(e("-t raw -F").contains("not supported"));
        assert!(e("-t bogus -F").contains("Table does not exist"));
        assert!(e("-F -A INPUT").contains("Can't use"));
        assert!(e("-L -s 1.2.3.4").contains("Illegal option"));
        assert!(e("-A INPUT -n -j ACCEPT").contains("Illegal option"));
        assert!(e("-P INPUT REJECT").contains("Bad policy"));
        assert!(e("-P LVS ACCEPT").contains("Bad built-in chain"));
        assert!(e("-s 1.2.3.4").contains("no command"));
        assert!(e("-A INPUT -s host.example -j DROP").contains("not found"));
        assert!(e("-A INPUT -s 1.2.3.4,5.6.7.8 -j DROP").contains("address lists"));
        assert!(e("-A INPUT -p tcp --dport 90:80").contains("portrange"));
        assert!(e("-A INPUT -p bogus").contains("unknown protocol"));
        assert!(e("-A INPUT -j SNAT --to-source 1.2.3.4").contains("only valid in nat"));
        assert!(e("-t nat -A POSTROUTING -j SNAT").contains("--to-source"));
        assert!(e("-A INPUT -p udp -j REJECT --reject-with tcp-reset").contains("TCP_RESET"));
        assert!(e("-A INPUT -j REJECT --reject-with icmp-bogus").contains("unknown reject type"));
        assert!(e("-A INPUT foo").contains("Bad argument"));
        assert!(e("-A INPUT -Q").contains("invalid option"));
        assert!(e("-A INPUT !").contains("must come before"));
        assert!(e("-I INPUT x -j DROP").contains("Invalid rule number"));
        assert!(e("-A INPUT -p tcp --d 80").contains("ambiguous"));
        assert!(e("-A").contains("requires an argument"));
    }
}
