//! `ipvsadm` 1.31 (cezarsa/ipvsadm: ipvsadm.c, libipvs): the command line people
//! type, with its option parsing, checks, error texts and exit statuses, over
//! [`Ipvs`]'s control interface. Listings are in [`list`].
//!
//! Exit statuses are ipvsadm's: 2 for `fail()` (bad options), 255 for a kernel
//! error or a popt error (`return -1` from `main`), 1 for a failed listing.
//!
//! FULLNAT (not mainline) uses Alibaba's syntax: `-P/--add-laddr`,
//! `-Q/--del-laddr`, `-G/--get-laddr` with `-z/--laddr ADDR`, and `-b/--fullnat`
//! as a forwarding method. Mainline's `-b` is `--sched-flags` (with an argument);
//! the clash is resolved by the command, which ipvsadm requires first: after
//! `-a`/`-e`, `-b` is FULLNAT; after any other command it is `--sched-flags`.
//! `--fullnat` and `--sched-flags` are unambiguous everywhere.

pub mod list;
mod popt;
pub mod services;

use crate::director::ipvs::service::{SVC_F_ONEPACKET, SVC_F_PERSISTENT, SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3};
use crate::director::ipvs::{DestSpec, Fwd, Ipvs, IpvsError, Proto, ServiceKey, ServiceSpec};
use crate::node::CmdError;
use crate::time::Instant;
use list::Format;
use popt::{Arg, Context, Next, Opt};
use std::net::Ipv4Addr;

/// What a run printed and its exit status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
}

/// Runs `ipvsadm` with `argv` (`argv[0]` is the program name) against `ipvs`;
/// `stdin` feeds `-R`. Exit 0 gives stdout, anything else ipvsadm's error text and
/// status (stderr printed by earlier lines of a `-R` that finally succeeds is
/// dropped; [`run`] keeps it).
pub fn ipvsadm(ipvs: &mut Ipvs, now: Instant, argv: &[String], stdin: Option<&str>) -> Result<String, CmdError> {
    let o = run(ipvs, now, argv, stdin);
    if o.status == 0 {
        Ok(o.stdout)
    } else {
        let msg = if o.stderr.is_empty() { o.stdout } else { o.stderr };
        Err(CmdError::with_status(msg.trim_end_matches('\n'), o.status))
    }
}

/// Runs `ipvsadm` and returns everything it printed.
pub fn run(ipvs: &mut Ipvs, now: Instant, argv: &[String], stdin: Option<&str>) -> Output {
    let mut o = Output::default();
    let prog = argv.first().map_or("ipvsadm", String::as_str);
    if argv.len() <= 1 {
        o.stdout = list::list_all(ipvs, now, Format::default(), false);
        return o;
    }
    match process_options(ipvs, now, prog, &argv[1..], stdin, false, &mut o) {
        Ok(status) => o.status = status,
        Err(Exit(status)) => o.status = status,
    }
    o
}

/// `exit(status)` from deep inside: the whole program stops.
struct Exit(i32);

type Res<T> = Result<T, Exit>;

/// `fail(err, msg)`: the message and a newline on stderr, then exit.
fn fail<T>(o: &mut Output, status: i32, msg: impl AsRef<str>) -> Res<T> {
    o.stderr.push_str(msg.as_ref());
    o.stderr.push('\n');
    Err(Exit(status))
}

/// `tryhelp_exit(program, -1)`.
fn tryhelp<T>(o: &mut Output, prog: &str) -> Res<T> {
    o.stderr.push_str(&format!("Try `{prog} -h' or '{prog} --help' for more information.\n"));
    Err(Exit(255))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    None,
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
    AddLaddr,
    DelLaddr,
    GetLaddr,
}

impl Cmd {
    /// `cmdnames[]`, plus Alibaba's laddr commands.
    fn name(self) -> &'static str {
        match self {
            Cmd::None => "none",
            Cmd::Add => "add-service",
            Cmd::Edit => "edit-service",
            Cmd::Del => "delete-service",
            Cmd::Flush => "flush",
            Cmd::List => "list",
            Cmd::AddDest => "add-server",
            Cmd::DelDest => "delete-server",
            Cmd::EditDest => "edit-server",
            Cmd::Timeout => "set",
            Cmd::StartDaemon => "start-daemon",
            Cmd::StopDaemon => "stop-daemon",
            Cmd::Restore => "restore",
            Cmd::Save => "save",
            Cmd::Zero => "zero",
            Cmd::AddLaddr => "add-laddr",
            Cmd::DelLaddr => "del-laddr",
            Cmd::GetLaddr => "get-laddr",
        }
    }

    /// `commands_v_options[cmd]`: per option, `+` compulsory, `x` illegal, `1`
    /// exclusive, ` ` optional. Columns follow [`OPTNAMES`]; the last is `laddr`.
    fn legal(self) -> &'static [u8; NOPT] {
        match self {
            // Columns: -n -c svc -s -p -M -r fwd -w -x -y mcast timeout daemon stats rate
            // thresholds pconn nosort syncid exact ops pe -b group port ttl maxlen tun-info
            // tun-type tun-port nocsum csum remcsum laddr.
            Cmd::Add | Cmd::Edit => b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxxx",
            Cmd::Del => b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::List => b" 11xxxxxxxxx11       xxxxxxx xxxxxx",
            Cmd::AddDest | Cmd::EditDest => b"xx+xxx+    xxxxxxxxxxxxxxxxxx     x",
            Cmd::DelDest => b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::StartDaemon => b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxxx",
            Cmd::StopDaemon => b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxxx",
            Cmd::Save => b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::Zero => b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::AddLaddr | Cmd::DelLaddr => b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx+",
            Cmd::GetLaddr => b" x xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::None | Cmd::Flush | Cmd::Timeout | Cmd::Restore => b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        }
    }
}

/// Number of option classes: ipvsadm's 34 and `laddr`.
const NOPT: usize = 35;

/// `optnames[]` (and Alibaba's `laddr`).
const OPTNAMES: [&str; NOPT] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
    "laddr",
];

// OPTC_* indices.
const OPTC_NUMERIC: usize = 0;
const OPTC_CONNECTION: usize = 1;
const OPTC_SERVICE: usize = 2;
const OPTC_SCHEDULER: usize = 3;
const OPTC_PERSISTENT: usize = 4;
const OPTC_NETMASK: usize = 5;
const OPTC_SERVER: usize = 6;
const OPTC_FORWARD: usize = 7;
const OPTC_WEIGHT: usize = 8;
const OPTC_UTHRESHOLD: usize = 9;
const OPTC_LTHRESHOLD: usize = 10;
const OPTC_MCAST: usize = 11;
const OPTC_TIMEOUT: usize = 12;
const OPTC_DAEMON: usize = 13;
const OPTC_STATS: usize = 14;
const OPTC_RATE: usize = 15;
const OPTC_THRESHOLDS: usize = 16;
const OPTC_PERSISTENTCONN: usize = 17;
const OPTC_NOSORT: usize = 18;
const OPTC_SYNCID: usize = 19;
const OPTC_EXACT: usize = 20;
const OPTC_ONEPACKET: usize = 21;
const OPTC_PE: usize = 22;
const OPTC_SCHED_FLAGS: usize = 23;
const OPTC_MCAST_GROUP: usize = 24;
const OPTC_MCAST_PORT: usize = 25;
const OPTC_MCAST_TTL: usize = 26;
const OPTC_SYNC_MAXLEN: usize = 27;
const OPTC_TUN_INFO: usize = 28;
const OPTC_TUN_TYPE: usize = 29;
const OPTC_TUN_PORT: usize = 30;
const OPTC_TUN_NOCSUM: usize = 31;
const OPTC_TUN_CSUM: usize = 32;
const OPTC_TUN_REMCSUM: usize = 33;
const OPTC_LADDR: usize = 34;

/// The popt table's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Cmd(char),
    Set,
    StartDaemon,
    StopDaemon,
    Help,
    Version,
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Sched,
    Persistent,
    Netmask,
    Real,
    Masq,
    Ipip,
    Gate,
    FullNat,
    Weight,
    UThresh,
    LThresh,
    Numeric,
    Connection,
    McastIf,
    SyncId,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistConn,
    NoSort,
    Sort,
    Exact,
    Ipv6,
    Ops,
    Pe,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNoCsum,
    TunCsum,
    TunRemCsum,
    Laddr,
}

const fn o(long: &'static str, short: Option<char>, arg: Arg, tag: Tag) -> Opt<Tag> {
    Opt { long, short, arg, tag }
}

/// `options_table[]` of `parse_options`, with Alibaba's FULLNAT entries. Two
/// versions differ in `-b`: `--sched-flags` (an argument) or `--fullnat`.
macro_rules! table {
    ($b:expr) => {
        [
            o("add-service", Some('A'), Arg::None, Tag::Cmd('A')),
            o("edit-service", Some('E'), Arg::None, Tag::Cmd('E')),
            o("delete-service", Some('D'), Arg::None, Tag::Cmd('D')),
            o("clear", Some('C'), Arg::None, Tag::Cmd('C')),
            o("list", Some('L'), Arg::None, Tag::Cmd('L')),
            o("list", Some('l'), Arg::None, Tag::Cmd('l')),
            o("zero", Some('Z'), Arg::None, Tag::Cmd('Z')),
            o("add-server", Some('a'), Arg::None, Tag::Cmd('a')),
            o("edit-server", Some('e'), Arg::None, Tag::Cmd('e')),
            o("delete-server", Some('d'), Arg::None, Tag::Cmd('d')),
            o("set", None, Arg::None, Tag::Set),
            o("help", Some('h'), Arg::None, Tag::Help),
            o("version", Some('v'), Arg::None, Tag::Version),
            o("restore", Some('R'), Arg::None, Tag::Cmd('R')),
            o("save", Some('S'), Arg::None, Tag::Cmd('S')),
            o("add-laddr", Some('P'), Arg::None, Tag::Cmd('P')),
            o("del-laddr", Some('Q'), Arg::None, Tag::Cmd('Q')),
            o("get-laddr", Some('G'), Arg::None, Tag::Cmd('G')),
            o("start-daemon", None, Arg::Required, Tag::StartDaemon),
            o("stop-daemon", None, Arg::Required, Tag::StopDaemon),
            o("tcp-service", Some('t'), Arg::Required, Tag::Tcp),
            o("udp-service", Some('u'), Arg::Required, Tag::Udp),
            o("sctp-service", None, Arg::Required, Tag::Sctp),
            o("fwmark-service", Some('f'), Arg::Required, Tag::Fwmark),
            o("scheduler", Some('s'), Arg::Required, Tag::Sched),
            o("persistent", Some('p'), Arg::Optional, Tag::Persistent),
            o("netmask", Some('M'), Arg::Required, Tag::Netmask),
            o("real-server", Some('r'), Arg::Required, Tag::Real),
            o("masquerading", Some('m'), Arg::None, Tag::Masq),
            o("ipip", Some('i'), Arg::None, Tag::Ipip),
            o("gatewaying", Some('g'), Arg::None, Tag::Gate),
            o("weight", Some('w'), Arg::Required, Tag::Weight),
            o("u-threshold", Some('x'), Arg::Required, Tag::UThresh),
            o("l-threshold", Some('y'), Arg::Required, Tag::LThresh),
            o("numeric", Some('n'), Arg::None, Tag::Numeric),
            o("connection", Some('c'), Arg::None, Tag::Connection),
            o("mcast-interface", None, Arg::Required, Tag::McastIf),
            o("syncid", None, Arg::Required, Tag::SyncId),
            o("timeout", None, Arg::None, Tag::Timeout),
            o("daemon", None, Arg::None, Tag::Daemon),
            o("stats", None, Arg::None, Tag::Stats),
            o("rate", None, Arg::None, Tag::Rate),
            o("thresholds", None, Arg::None, Tag::Thresholds),
            o("persistent-conn", None, Arg::None, Tag::PersistConn),
            o("nosort", None, Arg::None, Tag::NoSort),
            o("sort", None, Arg::None, Tag::Sort),
            o("exact", Some('X'), Arg::None, Tag::Exact),
            o("ipv6", Some('6'), Arg::None, Tag::Ipv6),
            o("ops", Some('o'), Arg::None, Tag::Ops),
            o("pe", None, Arg::Required, Tag::Pe),
            o("sched-flags", if $b { None } else { Some('b') }, Arg::Required, Tag::SchedFlags),
            o("fullnat", if $b { Some('b') } else { None }, Arg::None, Tag::FullNat),
            o("laddr", Some('z'), Arg::Required, Tag::Laddr),
            o("mcast-group", None, Arg::Required, Tag::McastGroup),
            o("mcast-port", None, Arg::Required, Tag::McastPort),
            o("mcast-ttl", None, Arg::Required, Tag::McastTtl),
            o("sync-maxlen", None, Arg::Required, Tag::SyncMaxlen),
            o("tun-info", None, Arg::None, Tag::TunInfo),
            o("tun-type", None, Arg::Required, Tag::TunType),
            o("tun-port", None, Arg::Required, Tag::TunPort),
            o("tun-nocsum", None, Arg::None, Tag::TunNoCsum),
            o("tun-csum", None, Arg::None, Tag::TunCsum),
            o("tun-remcsum", None, Arg::None, Tag::TunRemCsum),
        ]
    };
}

const TABLE_SCHED_FLAGS: [Opt<Tag>; 63] = table!(false);
const TABLE_FULLNAT: [Opt<Tag>; 63] = table!(true);

/// The service being named (`ipvs_service_t`).
#[derive(Debug, Clone)]
struct Svc {
    fwmark: u32,
    proto: u8,
    addr: Ipv4Addr,
    v6: bool,
    port: u16,
    sched: String,
    flags: u32,
    timeout: u32,
    netmask: u32,
    pe: String,
}

/// The dest being named (`ipvs_dest_t`).
#[derive(Debug, Clone)]
struct Dst {
    addr: Ipv4Addr,
    v6: bool,
    port: u16,
    fwd: Fwd,
    weight: i32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: usize,
}

/// `struct ipvs_command_entry`.
struct Ce {
    cmd: Cmd,
    svc: Svc,
    dest: Dst,
    timeout: (u32, u32, u32),
    laddr: Option<Ipv4Addr>,
}

/// `IPVS_SVC_PERSISTENT_TIMEOUT`: `-p` without a value.
const PERSISTENT_TIMEOUT: u32 = 6 * 60;
/// `MAX_TIMEOUT`: 31 days.
const MAX_TIMEOUT: i64 = 86400 * 31;
/// `IP_VS_SCHEDNAME_MAXLEN − 1`.
const SCHEDNAME_MAX: usize = 15;

/// `strtol(s, &end, 10)` accepted only if it consumed everything: leading blanks,
/// a sign and decimal digits.
fn strtol(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().unwrap_or(i64::MAX);
    Some(if neg { -v } else { v })
}

/// `string_to_number(s, min, max)`: the number, or None (-1).
fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    strtol(s).filter(|n| (min..=max).contains(n))
}

/// `inet_aton`: `a.b.c.d`, `a.b.c`, `a.b` or `a`, each part decimal, octal
/// (leading 0) or hex (0x).
pub(crate) fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut vals = Vec::with_capacity(4);
    for p in &parts {
        let v = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            if h.is_empty() { 0 } else { u64::from_str_radix(h, 16).ok()? }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse::<u64>().ok()?
        };
        vals.push(v);
    }
    let n = vals.len();
    let (last, head) = vals.split_last()?;
    if head.iter().any(|&v| v > 255) || *last >= 1u64 << (8 * (5 - n)) {
        return None;
    }
    let mut a: u64 = *last;
    for (i, v) in head.iter().enumerate() {
        a |= v << (8 * (3 - i));
    }
    Some(Ipv4Addr::from(a as u32))
}

/// `host_to_addr`: no resolver here beyond the loopback name.
fn host_to_addr(name: &str) -> Option<Ipv4Addr> {
    (name == "localhost").then_some(Ipv4Addr::LOCALHOST)
}

const SERVICE_ADDR: u8 = 1;
const SERVICE_PORT: u8 = 2;

/// `parse_service`: `host[:port]` (`[v6]:port` recognised, then refused later).
/// Returns SERVICE_ADDR|SERVICE_PORT bits, 0 on error.
fn parse_service(buf: &str, proto: u8, addr: &mut Ipv4Addr, v6: &mut bool, port: &mut u16) -> u8 {
    if buf.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let (host, portp) = if let Some(rest) = buf.strip_prefix('[') {
        let Some((h, p)) = rest.split_once(']') else { return 0 };
        let Some(p) = p.strip_prefix(':') else { return 0 };
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return 0;
        }
        *v6 = true;
        (None, Some(p))
    } else if buf.parse::<std::net::Ipv6Addr>().is_ok() {
        *v6 = true;
        (None, None)
    } else {
        match buf.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(buf), None),
        }
    };
    if let Some(h) = host {
        match inet_aton(h).or_else(|| host_to_addr(h)) {
            Some(a) => {
                *addr = a;
                *v6 = false;
            }
            None => return 0,
        }
    }
    let mut result = SERVICE_ADDR;
    if let Some(p) = portp {
        result |= SERVICE_PORT;
        match string_to_number(p, 0, 65535).map(|n| n as u16).or_else(|| services::service_to_port(p, proto)) {
            Some(n) => *port = n,
            None => return 0,
        }
    }
    result
}

/// `parse_sched_flags`.
fn parse_sched_flags(o: &mut Output, sched: &str, arg: &str) -> Res<u32> {
    let sched = if sched.is_empty() { "wlc" } else { sched };
    let mut flags = 0;
    let toks: Vec<&str> = arg.split(',').filter(|t| !t.is_empty()).collect();
    // strtok on an all-separator string yields NULL, which strcmp would crash on;
    // treat it as an invalid (empty) flag.
    let toks = if toks.is_empty() { vec![""] } else { toks };
    for f in toks {
        let (bit, only) = match f {
            "flag-1" => (SVC_F_SCHED1, None),
            "flag-2" => (SVC_F_SCHED2, None),
            "flag-3" => (SVC_F_SCHED3, None),
            "sh-fallback" => (SVC_F_SCHED1, Some("sh")),
            "sh-port" => (SVC_F_SCHED2, Some("sh")),
            "mh-fallback" => (SVC_F_SCHED1, Some("mh")),
            "mh-port" => (SVC_F_SCHED2, Some("mh")),
            _ => return fail(o, 2, format!("invalid scheduler flag `{f}'")),
        };
        flags |= bit;
        if only.is_some_and(|s| s != sched) {
            return fail(o, 2, format!("incompatible scheduler flag `{f}'"));
        }
    }
    Ok(flags)
}

/// `set_option`.
fn set_option(o: &mut Output, options: &mut u64, optc: usize) -> Res<()> {
    let bit = 1u64 << optc;
    if *options & bit != 0 {
        return fail(o, 2, format!("multiple '{}' options specified", OPTNAMES[optc]));
    }
    *options |= bit;
    Ok(())
}

fn set_command(o: &mut Output, cmd: &mut Cmd, new: Cmd) -> Res<()> {
    if *cmd != Cmd::None {
        return fail(o, 2, "multiple commands specified");
    }
    *cmd = new;
    Ok(())
}

/// `generic_opt_check`.
fn generic_opt_check(o: &mut Output, cmd: Cmd, options: u64) -> Res<()> {
    let row = cmd.legal();
    let mut last = None;
    for (j, &legal) in row.iter().enumerate() {
        let set = options & (1u64 << j) != 0;
        if !set {
            if legal == b'+' {
                return fail(
                    o,
                    2,
                    format!("You need to supply the '{}' option for the '{}' command", OPTNAMES[j], cmd.name()),
                );
            }
        } else {
            if legal == b'x' {
                return fail(o, 2, format!("Illegal '{}' option with the '{}' command", OPTNAMES[j], cmd.name()));
            }
            if legal == b'1' {
                if let Some(l) = last {
                    return fail(
                        o,
                        2,
                        format!(
                            "The option '{}' conflicts with the '{}' option in the '{}' command",
                            OPTNAMES[j],
                            OPTNAMES[l],
                            cmd.name()
                        ),
                    );
                }
                last = Some(j);
            }
        }
    }
    Ok(())
}

/// `parse_options`: the first option must be a command.
fn parse_options(
    o: &mut Output,
    prog: &str,
    args: &[String],
    ce: &mut Ce,
    options: &mut u64,
    format: &mut Format,
) -> Res<Result<(), ()>> {
    let mut ctx = Context::new(args);
    let mut sched_flags_arg: Option<String> = None;
    match ctx.next_opt(&TABLE_SCHED_FLAGS) {
        Next::Opt(tag, arg) => {
            let new = match tag {
                Tag::Cmd('A') => Cmd::Add,
                Tag::Cmd('E') => Cmd::Edit,
                Tag::Cmd('D') => Cmd::Del,
                Tag::Cmd('a') => Cmd::AddDest,
                Tag::Cmd('e') => Cmd::EditDest,
                Tag::Cmd('d') => Cmd::DelDest,
                Tag::Cmd('C') => Cmd::Flush,
                Tag::Cmd('L') | Tag::Cmd('l') => Cmd::List,
                Tag::Cmd('Z') => Cmd::Zero,
                Tag::Cmd('R') => Cmd::Restore,
                Tag::Cmd('S') => Cmd::Save,
                Tag::Cmd('P') => Cmd::AddLaddr,
                Tag::Cmd('Q') => Cmd::DelLaddr,
                Tag::Cmd('G') => Cmd::GetLaddr,
                Tag::Set => Cmd::Timeout,
                Tag::StartDaemon | Tag::StopDaemon => {
                    let a = arg.unwrap_or_default();
                    if a != "master" && a != "backup" {
                        let m = if tag == Tag::StartDaemon {
                            "illegal start-daemon parameter specified"
                        } else {
                            "illegal start_daemon specified"
                        };
                        return fail(o, 2, m);
                    }
                    if tag == Tag::StartDaemon { Cmd::StartDaemon } else { Cmd::StopDaemon }
                }
                Tag::Help => {
                    o.stdout.push_str(&list::usage(prog));
                    return Err(Exit(0));
                }
                Tag::Version => {
                    o.stdout.push_str(list::VERSION_LINE);
                    return Err(Exit(0));
                }
                _ => return tryhelp(o, prog),
            };
            set_command(o, &mut ce.cmd, new)?;
        }
        _ => return tryhelp(o, prog),
    }
    let table: &[Opt<Tag>] =
        if matches!(ce.cmd, Cmd::AddDest | Cmd::EditDest) { &TABLE_FULLNAT } else { &TABLE_SCHED_FLAGS };
    loop {
        let (tag, arg) = match ctx.next_opt(table) {
            Next::Opt(t, a) => (t, a),
            Next::End => break,
            Next::Err(e, bad) => {
                o.stderr.push_str(&format!("{bad}: {}\n", e.text()));
                return Ok(Err(()));
            }
        };
        let optional = arg.clone();
        let arg = arg.unwrap_or_default();
        match tag {
            Tag::Tcp | Tag::Udp | Tag::Sctp => {
                set_option(o, options, OPTC_SERVICE)?;
                ce.svc.proto = match tag {
                    Tag::Tcp => 6,
                    Tag::Udp => 17,
                    _ => 132,
                };
                let (mut a, mut v6, mut p) = (ce.svc.addr, ce.svc.v6, ce.svc.port);
                if parse_service(&arg, ce.svc.proto, &mut a, &mut v6, &mut p) & SERVICE_ADDR == 0 {
                    return fail(o, 2, "illegal virtual server address[:port] specified");
                }
                (ce.svc.addr, ce.svc.v6, ce.svc.port) = (a, v6, p);
            }
            Tag::Fwmark => {
                set_option(o, options, OPTC_SERVICE)?;
                ce.svc.proto = 6;
                ce.svc.fwmark = match strtol(&arg) {
                    Some(l) if l > 0 && l <= i64::from(u32::MAX) => l as u32,
                    _ => return fail(o, 2, format!("invalid fwmark value `{arg}' specified")),
                };
            }
            Tag::Sched => {
                set_option(o, options, OPTC_SCHEDULER)?;
                ce.svc.sched = arg.chars().take(SCHEDNAME_MAX).collect();
            }
            Tag::Persistent => {
                set_option(o, options, OPTC_PERSISTENT)?;
                ce.svc.flags |= SVC_F_PERSISTENT;
                ce.svc.timeout = match optional {
                    None => PERSISTENT_TIMEOUT,
                    Some(a) => parse_timeout(o, &a, 1, MAX_TIMEOUT)?,
                };
            }
            Tag::Netmask => {
                set_option(o, options, OPTC_NETMASK)?;
                if ce.svc.v6 {
                    // atoi(optarg) in 1..=128; IPv6 services are refused later anyway.
                    if !strtol(arg.trim_end_matches(|c: char| !c.is_ascii_digit()))
                        .is_some_and(|m| (1..=128).contains(&m))
                    {
                        return fail(o, 2, "illegal ipv6 netmask specified");
                    }
                    continue;
                }
                match inet_aton(&arg).or_else(|| host_to_addr(&arg)) {
                    Some(m) => ce.svc.netmask = u32::from(m),
                    None => return fail(o, 2, "illegal virtual server persistent mask specified"),
                }
            }
            Tag::Real => {
                set_option(o, options, OPTC_SERVER)?;
                let (mut a, mut v6, mut p) = (ce.svc.addr, ce.svc.v6, ce.svc.port);
                let parse = parse_service(&arg, ce.svc.proto, &mut a, &mut v6, &mut p);
                (ce.dest.addr, ce.dest.v6, ce.dest.port) = (a, v6, p);
                if parse & SERVICE_ADDR == 0 {
                    return fail(o, 2, "illegal real server address[:port] specified");
                }
                if parse == SERVICE_ADDR {
                    ce.dest.port = ce.svc.port;
                }
            }
            Tag::Ipip | Tag::Gate | Tag::Masq | Tag::FullNat => {
                set_option(o, options, OPTC_FORWARD)?;
                ce.dest.fwd = match tag {
                    Tag::Ipip => Fwd::Tunnel,
                    Tag::Gate => Fwd::Route,
                    Tag::Masq => Fwd::Masq,
                    _ => Fwd::FullNat,
                };
            }
            Tag::Weight => {
                set_option(o, options, OPTC_WEIGHT)?;
                match string_to_number(&arg, 0, 65535) {
                    Some(w) => ce.dest.weight = w as i32,
                    None => return fail(o, 2, "illegal weight specified"),
                }
            }
            Tag::UThresh => {
                set_option(o, options, OPTC_UTHRESHOLD)?;
                match string_to_number(&arg, 0, i64::from(i32::MAX)) {
                    Some(v) => ce.dest.u_threshold = v as u32,
                    None => return fail(o, 2, "illegal u_threshold specified"),
                }
            }
            Tag::LThresh => {
                set_option(o, options, OPTC_LTHRESHOLD)?;
                match string_to_number(&arg, 0, i64::from(i32::MAX)) {
                    Some(v) => ce.dest.l_threshold = v as u32,
                    None => return fail(o, 2, "illegal l_threshold specified"),
                }
            }
            Tag::Connection => set_option(o, options, OPTC_CONNECTION)?,
            Tag::Numeric => {
                set_option(o, options, OPTC_NUMERIC)?;
                format.numeric = true;
            }
            Tag::McastIf => set_option(o, options, OPTC_MCAST)?,
            Tag::SyncId => {
                set_option(o, options, OPTC_SYNCID)?;
                if string_to_number(&arg, 0, 255).is_none() {
                    return fail(o, 2, "illegal syncid specified");
                }
            }
            Tag::Timeout => set_option(o, options, OPTC_TIMEOUT)?,
            Tag::Daemon => set_option(o, options, OPTC_DAEMON)?,
            Tag::Stats => {
                set_option(o, options, OPTC_STATS)?;
                format.stats = true;
            }
            Tag::Rate => {
                set_option(o, options, OPTC_RATE)?;
                format.rate = true;
            }
            Tag::Thresholds => {
                set_option(o, options, OPTC_THRESHOLDS)?;
                format.thresholds = true;
            }
            Tag::PersistConn => {
                set_option(o, options, OPTC_PERSISTENTCONN)?;
                format.persistent_conn = true;
            }
            Tag::NoSort => {
                set_option(o, options, OPTC_NOSORT)?;
                format.nosort = true;
            }
            Tag::Sort => {}
            Tag::Exact => {
                set_option(o, options, OPTC_EXACT)?;
                format.exact = true;
            }
            Tag::Ipv6 => {
                if ce.svc.fwmark != 0 {
                    ce.svc.v6 = true;
                } else {
                    return fail(o, 2, "-6 used before -f\n");
                }
            }
            Tag::Ops => {
                set_option(o, options, OPTC_ONEPACKET)?;
                ce.svc.flags |= SVC_F_ONEPACKET;
            }
            Tag::Pe => {
                set_option(o, options, OPTC_PE)?;
                ce.svc.pe = arg;
            }
            Tag::SchedFlags => {
                set_option(o, options, OPTC_SCHED_FLAGS)?;
                sched_flags_arg = Some(arg);
            }
            Tag::McastGroup => {
                set_option(o, options, OPTC_MCAST_GROUP)?;
                let ok = if arg.contains(':') {
                    arg.parse::<std::net::Ipv6Addr>().is_ok_and(|a| a.is_multicast())
                } else {
                    arg.parse::<Ipv4Addr>().is_ok_and(|a| a.is_multicast())
                };
                if !ok {
                    let fam = if arg.contains(':') { "IPv6" } else { "IPv4" };
                    return fail(o, 2, format!("invalid {fam} mcast-group `{arg}'"));
                }
            }
            Tag::McastPort => {
                set_option(o, options, OPTC_MCAST_PORT)?;
                if string_to_number(&arg, 1, 65535).is_none() {
                    return fail(o, 2, "illegal mcast-port specified");
                }
            }
            Tag::McastTtl => {
                set_option(o, options, OPTC_MCAST_TTL)?;
                if string_to_number(&arg, 1, 255).is_none() {
                    return fail(o, 2, "illegal mcast-ttl specified");
                }
            }
            Tag::SyncMaxlen => {
                set_option(o, options, OPTC_SYNC_MAXLEN)?;
                if string_to_number(&arg, 1, 65535 - 20 - 8).is_none() {
                    return fail(o, 2, "illegal sync-maxlen specified");
                }
            }
            Tag::TunInfo => {
                set_option(o, options, OPTC_TUN_INFO)?;
                format.tun_info = true;
            }
            Tag::TunType => {
                set_option(o, options, OPTC_TUN_TYPE)?;
                ce.dest.tun_type = match arg.as_str() {
                    "ipip" => 0,
                    "gue" => 1,
                    "gre" => 2,
                    _ => return fail(o, 2, "illegal tunnel type specified"),
                };
            }
            Tag::TunPort => {
                set_option(o, options, OPTC_TUN_PORT)?;
                if string_to_number(&arg, 1, 65535).is_none() {
                    return fail(o, 2, "illegal tunnel port specified");
                }
            }
            Tag::TunNoCsum => set_option(o, options, OPTC_TUN_NOCSUM)?,
            Tag::TunCsum => set_option(o, options, OPTC_TUN_CSUM)?,
            Tag::TunRemCsum => set_option(o, options, OPTC_TUN_REMCSUM)?,
            Tag::Laddr => {
                set_option(o, options, OPTC_LADDR)?;
                match inet_aton(&arg) {
                    Some(a) => ce.laddr = Some(a),
                    None => return fail(o, 2, "illegal local address specified"),
                }
            }
            Tag::Cmd(_) | Tag::Set | Tag::StartDaemon | Tag::StopDaemon | Tag::Help | Tag::Version => {
                let bad = args.get(ctx.last_word()).cloned().unwrap_or_default();
                return fail(o, 2, format!("invalid option `{bad}'"));
            }
        }
    }
    if ce.cmd == Cmd::Timeout {
        match (ctx.get_arg(), ctx.get_arg(), ctx.get_arg()) {
            (Some(a), Some(b), Some(c)) => {
                ce.timeout = (
                    parse_timeout(o, &a, 0, MAX_TIMEOUT)?,
                    parse_timeout(o, &b, 0, MAX_TIMEOUT)?,
                    parse_timeout(o, &c, 0, MAX_TIMEOUT)?,
                );
            }
            _ => return fail(o, 2, "--set option requires 3 timeout values"),
        }
    }
    if let Some(a) = ctx.get_arg() {
        return fail(o, 2, format!("unexpected argument {a}"));
    }
    if let Some(f) = sched_flags_arg {
        ce.svc.flags &= !(SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3);
        ce.svc.flags |= parse_sched_flags(o, &ce.svc.sched, &f)?;
    }
    Ok(Ok(()))
}

/// `parse_timeout`.
fn parse_timeout(o: &mut Output, buf: &str, min: i64, max: i64) -> Res<u32> {
    match string_to_number(buf, min, max) {
        Some(v) => Ok(v as u32),
        None => fail(o, 2, format!("invalid timeout value `{buf}' specified")),
    }
}

/// libipvs `ipvs_strerror` for `op`.
fn strerror(cmd: Cmd, e: IpvsError) -> &'static str {
    use IpvsError::*;
    match (cmd, e) {
        (Cmd::Add, Exists) => "Service already exists",
        (Cmd::Add | Cmd::Edit, NotFound) => "Scheduler or persistence engine not found",
        (Cmd::Edit | Cmd::Del | Cmd::Zero | Cmd::List | Cmd::GetLaddr, NoService) => "No such service",
        (Cmd::AddDest | Cmd::EditDest | Cmd::DelDest | Cmd::AddLaddr | Cmd::DelLaddr, NoService) => {
            "Service not defined"
        }
        (Cmd::AddDest, Exists) => "Destination already exists",
        (Cmd::EditDest | Cmd::DelDest, NotFound) => "No such destination",
        (Cmd::AddLaddr, Exists) => "Local address already exists",
        (Cmd::DelLaddr, NotFound) => "No such local address",
        (_, Invalid) => "Invalid operation.  Possibly wrong module version, address not unicast, ...",
        (_, AddressFamily) => "Operation not supported with specified address family",
        (_, Range) => "Numerical result out of range",
        (_, Fault) => "Bad address",
        (_, Exists) => "File exists",
        (_, NoService) => "No such process",
        (_, NotFound) => "No such file or directory",
    }
}

fn service_key(svc: &Svc) -> Result<ServiceKey, IpvsError> {
    if svc.v6 {
        return Err(IpvsError::AddressFamily);
    }
    if svc.fwmark != 0 {
        return Ok(ServiceKey::Fwmark(svc.fwmark));
    }
    match Proto::from_num(svc.proto) {
        Some(proto) => Ok(ServiceKey::Addr { proto, addr: svc.addr, port: svc.port }),
        None => Err(IpvsError::Fault),
    }
}

/// `process_options`: parse, check, then run the command. Returns the exit status.
fn process_options(
    ipvs: &mut Ipvs,
    now: Instant,
    prog: &str,
    args: &[String],
    stdin: Option<&str>,
    reading_stdin: bool,
    o: &mut Output,
) -> Res<i32> {
    let mut ce = Ce {
        cmd: Cmd::None,
        svc: Svc {
            fwmark: 0,
            proto: 0,
            addr: Ipv4Addr::UNSPECIFIED,
            v6: false,
            port: 0,
            sched: String::new(),
            flags: 0,
            timeout: 0,
            netmask: u32::MAX,
            pe: String::new(),
        },
        dest: Dst {
            addr: Ipv4Addr::UNSPECIFIED,
            v6: false,
            port: 0,
            fwd: Fwd::Route,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: 0,
        },
        timeout: (0, 0, 0),
        laddr: None,
    };
    let mut options = 0u64;
    let mut format = Format::default();
    if parse_options(o, prog, args, &mut ce, &mut options, &mut format)?.is_err() {
        return Ok(255);
    }
    generic_opt_check(o, ce.cmd, options)?;

    if matches!(ce.cmd, Cmd::Add | Cmd::Edit) {
        if ce.svc.fwmark == 0 && ce.svc.port == 0 && ce.svc.flags & SVC_F_PERSISTENT == 0 {
            return fail(o, 2, "Zero port specified for non-persistent service");
        }
        if ce.svc.flags & SVC_F_ONEPACKET != 0 && ce.svc.fwmark == 0 && ce.svc.proto != 17 {
            return fail(o, 2, "One-Packet Scheduling is only for UDP virtual services");
        }
        if ce.svc.sched.is_empty() {
            ce.svc.sched = "wlc".into();
        }
    }
    if ce.cmd == Cmd::StartDaemon || ce.cmd == Cmd::StopDaemon {
        return fail(o, 2, "the connection synchronization daemon is not modelled by lvs-lab");
    }
    if matches!(ce.cmd, Cmd::AddDest | Cmd::EditDest) {
        if ce.svc.fwmark == 0 && matches!(ce.dest.fwd, Fwd::Tunnel | Fwd::Route) {
            ce.dest.port = ce.svc.port;
        }
        if ce.dest.v6 != ce.svc.v6 && ce.dest.fwd != Fwd::Tunnel {
            return fail(o, 2, "Different address family is allowed only for tunneling servers");
        }
        let tun_opts = 1u64 << OPTC_TUN_TYPE
            | 1u64 << OPTC_TUN_PORT
            | 1u64 << OPTC_TUN_NOCSUM
            | 1u64 << OPTC_TUN_CSUM
            | 1u64 << OPTC_TUN_REMCSUM;
        if options & tun_opts != 0 && ce.dest.fwd != Fwd::Tunnel {
            return fail(o, 2, "Tunnel options conflict with forward method");
        }
        tunnel_opt_check(o, ce.dest.tun_type, options)?;
        if ce.dest.tun_type != 0 {
            return fail(o, 2, "only the ipip tunnel type is modelled by lvs-lab");
        }
    }

    let kernel = |o: &mut Output, cmd: Cmd, r: Result<(), IpvsError>| -> i32 {
        match r {
            Ok(()) => 0,
            Err(e) => {
                o.stderr.push_str(strerror(cmd, e));
                o.stderr.push('\n');
                255
            }
        }
    };
    let key = service_key(&ce.svc);
    let spec = || {
        key.map(|k| ServiceSpec {
            key: k,
            scheduler: ce.svc.sched.clone(),
            flags: ce.svc.flags,
            timeout: ce.svc.timeout,
            netmask: Ipv4Addr::from(ce.svc.netmask),
            pe: (!ce.svc.pe.is_empty()).then(|| ce.svc.pe.clone()),
        })
    };
    let dest = DestSpec {
        addr: ce.dest.addr,
        port: ce.dest.port,
        fwd: ce.dest.fwd,
        weight: ce.dest.weight,
        u_threshold: ce.dest.u_threshold,
        l_threshold: ce.dest.l_threshold,
    };
    let dest_v6 = ce.dest.v6;
    let with_dest =
        |r: Result<ServiceKey, IpvsError>| r.and_then(|k| if dest_v6 { Err(IpvsError::AddressFamily) } else { Ok(k) });
    Ok(match ce.cmd {
        Cmd::List => {
            let conflict = (options & (1 << OPTC_CONNECTION | 1 << OPTC_TIMEOUT | 1 << OPTC_DAEMON) != 0
                && options & (1 << OPTC_STATS | 1 << OPTC_RATE | 1 << OPTC_THRESHOLDS) != 0)
                || (options & (1 << OPTC_TIMEOUT | 1 << OPTC_DAEMON) != 0 && options & (1 << OPTC_PERSISTENTCONN) != 0);
            if conflict {
                return fail(o, 2, "options conflicts in the list command");
            }
            if options & (1 << OPTC_CONNECTION) != 0 {
                o.stdout.push_str(&list::list_conn(ipvs, now, format));
            } else if options & (1 << OPTC_SERVICE) != 0 {
                match key.ok().and_then(|k| ipvs.service(now, &k)) {
                    Some(s) => o.stdout.push_str(&list::list_service(&s, format)),
                    None => {
                        o.stderr.push_str("No such service\n");
                        return Err(Exit(1));
                    }
                }
            } else if options & (1 << OPTC_TIMEOUT) != 0 {
                let (t, f, u) = ipvs.timeouts();
                o.stdout.push_str(&format!("Timeout (tcp tcpfin udp): {t} {f} {u}\n"));
            } else if options & (1 << OPTC_DAEMON) != 0 {
                // No sync daemon runs: list_daemon prints nothing.
            } else {
                o.stdout.push_str(&list::list_all(ipvs, now, format, false));
            }
            0
        }
        Cmd::Restore => return restore(ipvs, now, prog, stdin.unwrap_or(""), reading_stdin, o),
        Cmd::Save => {
            o.stdout.push_str(&list::list_all(ipvs, now, format, true));
            0
        }
        Cmd::Flush => {
            ipvs.flush(now);
            0
        }
        Cmd::Add => kernel(o, ce.cmd, spec().and_then(|s| ipvs.add_service(now, &s))),
        Cmd::Edit => kernel(o, ce.cmd, spec().and_then(|s| ipvs.edit_service(now, &s))),
        Cmd::Del => kernel(o, ce.cmd, key.and_then(|k| ipvs.del_service(now, &k))),
        Cmd::Zero => {
            let r = if options & (1 << OPTC_SERVICE) != 0 {
                key.and_then(|k| ipvs.zero(now, Some(&k)))
            } else {
                ipvs.zero(now, None)
            };
            kernel(o, ce.cmd, r)
        }
        Cmd::AddDest => kernel(o, ce.cmd, with_dest(key).and_then(|k| ipvs.add_dest(now, &k, &dest))),
        Cmd::EditDest => kernel(o, ce.cmd, with_dest(key).and_then(|k| ipvs.edit_dest(now, &k, &dest))),
        Cmd::DelDest => kernel(o, ce.cmd, with_dest(key).and_then(|k| ipvs.del_dest(now, &k, dest.addr, dest.port))),
        Cmd::Timeout => {
            ipvs.set_timeouts(ce.timeout.0, ce.timeout.1, ce.timeout.2);
            0
        }
        Cmd::AddLaddr | Cmd::DelLaddr => {
            let la = ce.laddr.unwrap_or(Ipv4Addr::UNSPECIFIED);
            let r =
                key.and_then(|k| if ce.cmd == Cmd::AddLaddr { ipvs.add_laddr(&k, la) } else { ipvs.del_laddr(&k, la) });
            kernel(o, ce.cmd, r)
        }
        Cmd::GetLaddr => {
            let which = if options & (1 << OPTC_SERVICE) != 0 {
                match key.ok().and_then(|k| ipvs.service(now, &k)) {
                    Some(s) => vec![s],
                    None => {
                        o.stderr.push_str("No such service\n");
                        return Err(Exit(1));
                    }
                }
            } else {
                ipvs.services(now)
            };
            o.stdout.push_str(&list::list_laddrs(&which, format));
            0
        }
        Cmd::None | Cmd::StartDaemon | Cmd::StopDaemon => 0,
    })
}

/// `tunnel_opt_check` for the tunnel type's legal options.
fn tunnel_opt_check(o: &mut Output, tun_type: usize, options: u64) -> Res<()> {
    const NAMES: [&str; 3] = ["ipip", "gue", "gre"];
    const OPTS: [usize; 4] = [OPTC_TUN_PORT, OPTC_TUN_NOCSUM, OPTC_TUN_CSUM, OPTC_TUN_REMCSUM];
    const LEGAL: [&[u8; 4]; 3] = [b"xxxx", b"+111", b"x11x"];
    let row = LEGAL[tun_type.min(2)];
    let mut last = None;
    for (j, &k) in OPTS.iter().enumerate() {
        let set = options & (1u64 << k) != 0;
        if !set {
            if row[j] == b'+' {
                return fail(
                    o,
                    2,
                    format!(
                        "You need to supply the '{}' option for the '{}' tunnel type",
                        OPTNAMES[k], NAMES[tun_type]
                    ),
                );
            }
        } else {
            if row[j] == b'x' {
                return fail(
                    o,
                    2,
                    format!("Illegal '{}' option with the '{}' tunnel type", OPTNAMES[k], NAMES[tun_type]),
                );
            }
            if row[j] == b'1' {
                if let Some(l) = last {
                    return fail(
                        o,
                        2,
                        format!(
                            "The option '{}' conflicts with the '{}' option in the '{}' tunnel type",
                            OPTNAMES[k], OPTNAMES[l], NAMES[tun_type]
                        ),
                    );
                }
                last = Some(k);
            }
        }
    }
    Ok(())
}

/// `restore_table` over `config_stream_read`: each line is split on blanks into an
/// argv (the word `ipvsadm` anywhere is dropped; `#` starts no comment, as in
/// ipvsadm); lines with at least one word run through `process_options`, and the
/// status of the last one is the result. A failing line's `fail()` ends it all.
fn restore(ipvs: &mut Ipvs, now: Instant, prog: &str, input: &str, reading_stdin: bool, o: &mut Output) -> Res<i32> {
    if reading_stdin {
        return tryhelp(o, prog);
    }
    let mut result = 0;
    for line in input.split('\n') {
        let words: Vec<String> =
            line.split([' ', '\t', '\r']).filter(|w| !w.is_empty() && *w != "ipvsadm").map(String::from).collect();
        if words.is_empty() {
            continue;
        }
        result = process_options(ipvs, now, prog, &words, None, true, o)?;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "-A",
                "-E",
                "-D",
                "-C",
                "-a",
                "-e",
                "-d",
                "-L",
                "-l",
                "-Z",
                "-S",
                "-R",
                "-n",
                "-c",
                "-t",
                "-u",
                "-f",
                "-s",
                "-p",
                "-M",
                "-r",
                "-g",
                "-m",
                "-i",
                "-b",
                "-w",
                "-x",
                "-y",
                "-o",
                "-P",
                "-Q",
                "-G",
                "-z",
                "-6",
                "-Ln",
                "-lcn",
                "-at",
                "--set",
                "--stats",
                "--rate",
                "--exact",
                "--timeout",
                "--daemon",
                "--nosort",
                "--thresholds",
                "--persistent-conn",
                "--tun-info",
                "--tun-type",
                "--tun-port",
                "--pe",
                "--fullnat",
                "--sched-flags",
                "--start-daemon",
                "--mcast-group",
                "--",
                "-",
                "10.0.0.1:80",
                "10.0.0.1",
                "1.2.3.4:0",
                "10.0.0.1:http",
                "[::1]:80",
                "rr",
                "wlc",
                "sh",
                "mh",
                "sh-port,sh-fallback",
                "0",
                "1",
                "7",
                "65536",
                "-1",
                "255.255.255.0",
                "master",
                "ipip",
                "gue",
                ":",
                "::",
                "",
                "x",
            ])
            .prop_map(String::from),
            ".{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// No argv, and no -R input, makes ipvsadm panic; a failure always has a
        /// message and a non-zero status.
        #[test]
        fn never_panics(lines in prop::collection::vec(prop::collection::vec(words(), 0..9), 1..6)) {
            let mut v = Ipvs::new(crate::rng::stream(0, "t"));
            let mut stdin = String::new();
            for l in &lines {
                let mut argv = vec!["ipvsadm".to_string()];
                argv.extend(l.iter().cloned());
                stdin.push_str(&l.join(" "));
                stdin.push('\n');
                let o = run(&mut v, Instant::ZERO, &argv, None);
                prop_assert!(o.status == 0 || !o.stderr.is_empty() || !o.stdout.is_empty(), "{:?}: silent failure", argv);
            }
            let o = run(&mut v, Instant::ZERO, &["ipvsadm".into(), "-R".into()], Some(&stdin));
            prop_assert!(o.status == 0 || !o.stderr.is_empty());
            let _ = run(&mut v, Instant::ZERO, &["ipvsadm".into(), "-Ln".into(), "--stats".into()], None);
        }
    }

    #[test]
    fn inet_aton_forms() {
        assert_eq!(inet_aton("10.0.0.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("0x0a000001"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("012.0.0.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("256.0.0.1"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton(""), None);
        assert_eq!(strtol(" +42"), Some(42));
        assert_eq!(strtol("42x"), None);
    }

    #[test]
    fn restore_quirks() {
        let mut v = Ipvs::new(crate::rng::stream(0, "t"));
        let argv = vec!["ipvsadm".to_string(), "-R".to_string()];
        // Blank lines are skipped and the word "ipvsadm" is dropped.
        let o = run(
            &mut v,
            Instant::ZERO,
            &argv,
            Some("\nipvsadm -A -t 10.0.0.1:80 -s rr\n\n-a -t 10.0.0.1:80 -r 10.1.1.1\n"),
        );
        assert_eq!(o.status, 0, "{o:?}");
        assert_eq!(v.services(Instant::ZERO)[0].dests.len(), 1);
        // '#' starts no comment: the line is words without a command.
        let o = run(&mut v, Instant::ZERO, &argv, Some("# saved rules\n-C\n"));
        assert_eq!(
            (o.status, o.stderr.as_str()),
            (255, "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n")
        );
        assert_eq!(v.services(Instant::ZERO).len(), 1, "fail() ended the restore before -C");
        // A kernel error on one line does not stop the next; the last status counts.
        let o = run(&mut v, Instant::ZERO, &argv, Some("-A -t 10.0.0.1:80\n-A -t 10.0.0.2:80\n"));
        assert_eq!((o.status, o.stderr.as_str()), (0, "Service already exists\n"));
    }
}
