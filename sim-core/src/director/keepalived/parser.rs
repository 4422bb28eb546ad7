//! The keyword-table engine (`lib/parser.c: process_stream`, `alloc_value_block`,
//! `skip_block`, `null_strvec`) and keepalived's number readers.

use super::check::CheckState;
use super::diag::{ConfigErr, Process};
use super::global::GlobalState;
use super::reader::Reader;
use super::vrrp::VrrpParse;

/// A keyword table (one level of `install_keyword`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Root,
    GlobalDefs,
    SyncGroup,
    Instance,
    Auth,
    Script,
    VirtualServer,
    RealServer,
    Checker(CheckerTable),
    Url,
    SmtpHost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckerTable {
    Tcp,
    Http,
    Ssl,
    Misc,
    Ping,
    Udp,
    Smtp,
    Dns,
    File,
    Bfd,
}

/// What a keyword is in the current pass.
pub(crate) struct Kw {
    pub sub: Option<Table>,
    pub active: bool,
}

/// keepalived exits: `null_strvec` (missing parameter) and the like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exit(pub i32);

/// `KEEPALIVED_EXIT_CONFIG` in keepalived 2.2+ (`lib/scheduler.h`).
pub(crate) const EXIT_CONFIG: i32 = 4;

pub(crate) type Res<T = ()> = Result<T, Exit>;

/// One pass over the configuration, as one keepalived process makes it.
pub(crate) struct Parser<'a> {
    pub r: Reader<'a>,
    pub config_test: bool,
    pub interfaces: Option<Vec<String>>,
    skip_sublevel: i32,
    kw_level: i32,
    /// The logical line being handled (`buf_extern`), for script keywords.
    pub raw: Vec<u8>,
    pub global: GlobalState,
    pub vrrp: VrrpParse,
    pub check: CheckState,
}

const GLOBAL_ROOT: &[&str] = &[
    "linkbeat_use_polling",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "use_pid_dir",
    "instance",
    "child_wait_time",
];
const VRRP_ROOT_OPAQUE: &[&str] = &[
    "track_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "garp_group",
    "linkbeat_interfaces",
    "vrrp_track_process",
    "interface_up_down_delays",
];
const CHILD_ROOT_OPAQUE: &[&str] = &["track_file", "vrrp_track_file", "bfd_instance"];

impl<'a> Parser<'a> {
    pub fn new(r: Reader<'a>, config_test: bool, interfaces: Option<Vec<String>>) -> Self {
        Parser {
            r,
            config_test,
            interfaces,
            skip_sublevel: 0,
            kw_level: 0,
            raw: Vec::new(),
            global: GlobalState::default(),
            vrrp: VrrpParse::default(),
            check: CheckState::default(),
        }
    }

    pub fn process(&self) -> Process {
        self.r.process
    }

    /// `report_config_error(CONFIG_GENERAL_ERROR, ...)`.
    pub fn err(&mut self, msg: impl Into<String>) {
        self.r.report(ConfigErr::GeneralError, msg);
    }

    /// `skip_block(need_block_start)`.
    pub fn skip_block(&mut self, need_block_start: bool) {
        self.skip_sublevel = if need_block_start { -1 } else { 1 };
    }

    /// `strvec_slot` through `null_strvec`: a missing parameter is fatal.
    pub fn arg<'s>(&mut self, v: &'s [String], i: usize) -> Res<&'s str> {
        if let Some(s) = v.get(i) {
            return Ok(s);
        }
        let first = v.first().map_or("***MISSING ***", String::as_str);
        let msg = if i > 0 && i - 1 < v.len() {
            format!(
                "*** Configuration line starting `{first}` is missing a parameter after keyword `{}` at word position {}",
                v[i - 1],
                i + 1
            )
        } else {
            format!("*** Configuration line starting `{first}` is missing a parameter at word position {}", i + 1)
        };
        self.r.report(ConfigErr::MissingParameter, msg);
        Err(Exit(EXIT_CONFIG))
    }

    /// Whether an interface exists (always, when the machine's interfaces are unknown).
    pub fn if_exists(&self, name: &str) -> bool {
        self.global.data.dynamic_interfaces || self.interfaces.as_ref().is_none_or(|l| l.iter().any(|i| i == name))
    }

    /// Parses the whole stream (`init_data`): root keywords, then the missing-`}` check.
    pub fn run(&mut self) -> Res {
        self.process_stream(Table::Root, false)?;
        if self.r.block_depth > 0 {
            let d = self.r.block_depth;
            self.r.report(ConfigErr::MissingEob, format!("There are {d} missing '}}'s or extra '{{'s"));
        }
        Ok(())
    }

    fn lookup(&self, table: Table, w: &str) -> Option<Kw> {
        let p = self.process();
        let kw = |sub: Option<Table>, active: bool| Some(Kw { sub, active });
        match table {
            Table::Root => match w {
                "global_defs" => kw(Some(Table::GlobalDefs), p == Process::Parent),
                _ if GLOBAL_ROOT.contains(&w) => kw(None, p == Process::Parent),
                "vrrp_sync_group" => kw(Some(Table::SyncGroup), p == Process::Vrrp),
                "vrrp_instance" => kw(Some(Table::Instance), p == Process::Vrrp),
                "vrrp_script" => kw(Some(Table::Script), p == Process::Vrrp),
                "virtual_server_group" => kw(None, p == Process::Checker),
                "virtual_server" => kw(Some(Table::VirtualServer), p == Process::Checker),
                "SSL" => kw(None, false),
                // Known blocks the simulator does not model: skipped in every process.
                _ if VRRP_ROOT_OPAQUE.contains(&w) || CHILD_ROOT_OPAQUE.contains(&w) => kw(None, false),
                _ => None,
            },
            Table::GlobalDefs => super::global::lookup(w),
            Table::SyncGroup | Table::Instance | Table::Auth | Table::Script => super::vrrp::lookup(table, w),
            Table::VirtualServer | Table::RealServer | Table::Checker(_) | Table::Url | Table::SmtpHost => {
                super::check::lookup(table, w)
            }
        }
    }

    /// `process_stream`: returns true if the block was skipped (no close handler).
    fn process_stream(&mut self, table: Table, mut need_bob: bool) -> Res<bool> {
        while let Some(buf) = self.r.read_line() {
            let strvec = self.r.tokenize(&buf);
            let Some(first) = strvec.first() else { continue };
            let mut str_ = first.clone();
            if self.skip_sublevel == -1 {
                if str_ == "{" {
                    self.skip_sublevel = 1;
                    need_bob = false;
                    continue;
                }
                self.skip_sublevel = 0;
            }
            if self.skip_sublevel != 0 {
                for w in &strvec {
                    str_ = w.clone();
                    if w == "{" {
                        self.skip_sublevel += 1;
                    } else if w == "}" {
                        self.skip_sublevel -= 1;
                        if self.skip_sublevel == 0 {
                            break;
                        }
                    }
                }
                if str_ == "}" && self.skip_sublevel == 0 && self.kw_level > 0 {
                    return Ok(true);
                }
                continue;
            }
            if need_bob {
                need_bob = false;
                if str_ == "{" && self.kw_level > 0 {
                    continue;
                }
                self.r.report(ConfigErr::MissingBob, "Missing '{' at beginning of configuration block");
            } else if str_ == "{" {
                self.r.report(ConfigErr::UnexpectedBob, "Unexpected '{' - ignoring");
                continue;
            }
            if str_ == "}" && self.kw_level > 0 {
                break;
            }
            let Some(kw) = self.lookup(table, &str_) else {
                self.r.report(ConfigErr::UnknownKeyword, format!("Unknown keyword '{str_}'"));
                continue;
            };
            let mut strvec = strvec;
            if !kw.active {
                self.skip_sublevel = if strvec.last().is_some_and(|l| l == "{") { 1 } else { -1 };
            }
            let mut bob_needed = false;
            if kw.sub.is_some() {
                if strvec.last().is_some_and(|l| l == "{") {
                    strvec.pop();
                } else {
                    bob_needed = true;
                }
            }
            if kw.active {
                self.raw = buf;
                self.handle(table, &strvec)?;
            }
            if let Some(sub) = kw.sub {
                self.kw_level += 1;
                let skipped = self.process_stream(sub, bob_needed)?;
                self.kw_level -= 1;
                if !skipped && kw.active {
                    self.close(sub);
                }
            }
        }
        Ok(false)
    }

    fn handle(&mut self, table: Table, v: &[String]) -> Res {
        match table {
            Table::Root => match v[0].as_str() {
                "vrrp_sync_group" | "vrrp_instance" | "vrrp_script" => self.vrrp_root(v),
                "virtual_server" | "virtual_server_group" => self.check_root(v),
                _ => Ok(()),
            },
            Table::GlobalDefs => self.global_handler(v),
            Table::SyncGroup | Table::Instance | Table::Auth | Table::Script => self.vrrp_handler(table, v),
            _ => self.check_handler(table, v),
        }
    }

    fn close(&mut self, sub: Table) {
        match sub {
            Table::SyncGroup | Table::Instance | Table::Script => self.vrrp_close(sub),
            Table::VirtualServer | Table::RealServer | Table::Checker(_) | Table::Url => self.check_close(sub),
            _ => {}
        }
    }

    /// `alloc_value_block`: calls `f` for every line of a `{ ... }` value block.
    pub fn value_block(&mut self, v: &[String], f: &mut dyn FnMut(&mut Self, Vec<String>) -> Res) -> Res {
        let mut need_bob = true;
        let mut had_eob = false;
        let mut first_vec: Option<Vec<String>> = None;
        if v.len() > 1 {
            if v[1] == "{" {
                need_bob = false;
                if v.len() > 2 {
                    let mut fv = v[2..].to_vec();
                    if fv.last().is_some_and(|l| l == "}") {
                        fv.pop();
                        had_eob = true;
                    }
                    first_vec = Some(fv);
                }
            } else {
                self.err(format!("Block {} has extra parameters {} ...", v[0], v[1]));
            }
        }
        loop {
            let vec = if let Some(fv) = first_vec.take() {
                fv
            } else {
                let Some(buf) = self.r.read_line() else { break };
                let mut vec = self.r.tokenize(&buf);
                if vec.is_empty() {
                    continue;
                }
                if need_bob {
                    need_bob = false;
                    if vec[0] == "{" {
                        if vec.len() == 1 {
                            continue;
                        }
                        vec.remove(0);
                    } else {
                        self.r.log(format!("'{{' missing from beginning of block {}", v[0]));
                    }
                }
                if vec.last().is_some_and(|l| l == "}") {
                    if vec.len() == 1 {
                        break;
                    }
                    had_eob = true;
                    vec.pop();
                }
                vec
            };
            if !vec.is_empty() {
                f(self, vec)?;
            }
            if had_eob {
                break;
            }
        }
        Ok(())
    }

    /// `read_value_block`: every word of a value block, in order.
    pub fn read_value_block(&mut self, v: &[String]) -> Res<Vec<String>> {
        let mut words = Vec::new();
        self.value_block(v, &mut |_, line| {
            words.extend(line);
            Ok(())
        })?;
        Ok(words)
    }

    /// A value block whose content the simulator does not model.
    pub fn discard_block(&mut self, v: &[String]) -> Res {
        self.value_block(v, &mut |_, _| Ok(()))
    }

    fn warn_prefix(&self, ignore_error: bool) -> &'static str {
        if ignore_error && !self.config_test { "WARNING - " } else { "" }
    }

    /// `read_unsigned_func` (base 10): keepalived accepts a trailing-garbage number that
    /// is in range when `ignore_error` is set, except under `-t`.
    pub fn read_unsigned(&mut self, s: &str, min: u64, max: u64, ignore_error: bool) -> Option<u64> {
        let warn = self.warn_prefix(ignore_error);
        let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
        let (val, rest, overflow) = strtoul(t);
        if t.starts_with('-') {
            self.r.report(ConfigErr::InvalidNumber, format!("{warn}negative number '{s}'"));
        } else if !rest.is_empty() {
            self.r.report(ConfigErr::InvalidNumber, format!("{warn}invalid number '{s}'"));
        } else if overflow || val > u64::from(u32::MAX) {
            self.r.report(ConfigErr::InvalidNumber, format!("{warn}number '{s}' outside unsigned integer range"));
            return None;
        } else if val < min || val > max {
            self.r.report(ConfigErr::InvalidNumber, format!("{warn}number '{s}' outside range [{min}, {max}]"));
        } else {
            return Some(val);
        }
        (ignore_error && !self.config_test && val >= min && val <= max && !t.starts_with('-')).then_some(val)
    }

    /// `read_int_func` (base 10).
    pub fn read_int(&mut self, s: &str, min: i64, max: i64, ignore_error: bool) -> Option<i64> {
        let warn = self.warn_prefix(ignore_error);
        let (val, rest, overflow) = strtol(s);
        if !rest.is_empty() {
            self.r.report(ConfigErr::InvalidNumber, format!("{warn}invalid number '{s}'"));
        } else if overflow || val < i64::from(i32::MIN) || val > i64::from(i32::MAX) {
            self.r.report(ConfigErr::InvalidNumber, format!("{warn}number '{s}' outside integer range"));
        } else if val < min || val > max {
            self.r.report(ConfigErr::InvalidNumber, format!("number '{s}' outside range [{min}, {max}]"));
        } else {
            return Some(val);
        }
        (ignore_error && !self.config_test && val >= min && val <= max && !overflow).then_some(val)
    }

    /// `read_decimal_unsigned_long_func`: a decimal with up to `shift` fractional
    /// digits, returned scaled by 10^shift (timers use shift 6: microseconds).
    pub fn read_decimal(&mut self, s: &str, min: u64, max: u64, shift: u32, ignore_error: bool) -> Option<u64> {
        let warn = self.warn_prefix(ignore_error);
        if s.starts_with('-') {
            self.r.report(ConfigErr::InvalidNumber, format!("{warn}negative number '{s}'"));
            return None;
        }
        let (int_part, frac) = match s.find('.') {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (s, ""),
        };
        let mut frac_digits = frac.to_string();
        let mut round_up = false;
        if frac.len() > shift as usize {
            self.r.report(ConfigErr::InvalidNumber, format!("{warn}number '{s}' has too many decimal places"));
            round_up = frac.as_bytes().get(shift as usize).is_some_and(|&c| c >= b'5');
            // C truncates bytes; a cut inside a multi-byte character leaves a
            // non-digit for `strtoul` to stop at.
            let cut = (0..=shift as usize).rev().find(|&i| frac.is_char_boundary(i)).unwrap_or(0);
            frac_digits.truncate(cut);
            if cut < shift as usize {
                frac_digits.push(char::REPLACEMENT_CHARACTER);
            }
        }
        while frac_digits.len() < shift as usize {
            frac_digits.push('0');
        }
        let joined = format!("{int_part}{frac_digits}");
        let (mut val, rest, overflow) = strtoul(&joined);
        if round_up {
            val = val.saturating_add(1);
        }
        let scale = 10u64.pow(shift);
        if !rest.is_empty() {
            self.r.report(ConfigErr::InvalidNumber, format!("{warn}invalid number '{s}'"));
        } else if overflow {
            self.r.report(ConfigErr::InvalidNumber, format!("{warn}number '{s}' outside unsigned decimal range"));
            return None;
        } else if val < min || val > max {
            let w = shift as usize;
            self.r.report(
                ConfigErr::InvalidNumber,
                format!(
                    "{warn}number '{s}' outside range [{}.{:0w$}, {}.{:0w$}]",
                    min / scale,
                    min % scale,
                    max / scale,
                    max % scale
                ),
            );
        } else {
            return Some(val);
        }
        (ignore_error && val >= min && val <= max).then_some(val)
    }

    /// `read_timer`: seconds with up to 6 decimals, in microseconds.
    pub fn read_timer(&mut self, s: &str, min_us: u64, max_us: u64, ignore_error: bool) -> Option<u64> {
        let max = if max_us == 0 { u64::MAX - 1 } else { max_us };
        self.read_decimal(s, min_us, max, 6, ignore_error)
    }
}

/// `check_true_false`.
pub(crate) fn check_true_false(s: &str) -> Option<bool> {
    match s {
        "true" | "on" | "yes" => Some(true),
        "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// `strtoul(s, &end, 10)`: (value, unparsed rest, overflowed). Leading blanks and a
/// sign are accepted as C does; an empty digit run parses as 0 with the whole input left.
pub(crate) fn strtoul(s: &str) -> (u64, &str, bool) {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'+') => (false, &t[1..]),
        Some(b'-') => (true, &t[1..]),
        _ => (false, t),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return (0, s, false);
    }
    let mut overflow = false;
    let mut v: u64 = 0;
    for b in body[..digits].bytes() {
        match v.checked_mul(10).and_then(|x| x.checked_add(u64::from(b - b'0'))) {
            Some(n) => v = n,
            None => {
                overflow = true;
                v = u64::MAX;
            }
        }
    }
    if neg && !overflow {
        v = v.wrapping_neg();
    }
    (v, &body[digits..], overflow)
}

/// `strtol(s, &end, 10)` on a 64-bit `long`.
pub(crate) fn strtol(s: &str) -> (i64, &str, bool) {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'+') => (false, &t[1..]),
        Some(b'-') => (true, &t[1..]),
        _ => (false, t),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return (0, s, false);
    }
    let mut v: i128 = 0;
    for b in body[..digits].bytes() {
        v = (v * 10 + i128::from(b - b'0')).min(i128::from(i64::MAX) + 1);
    }
    if neg {
        v = -v;
    }
    let overflow = v > i128::from(i64::MAX) || v < i128::from(i64::MIN);
    let clamped = v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    (clamped, &body[digits..], overflow)
}

/// `inet_pton(AF_INET, ...)`: exactly four decimal octets.
pub(crate) fn inet_pton4(s: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut o = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        o[i] = p.parse().ok()?;
    }
    Some(std::net::Ipv4Addr::from(o))
}

/// `inet_stosockaddr(ip, port)`: an address and an optional port (1..65535).
pub(crate) fn inet_stosockaddr(ip: &str, port: Option<&str>) -> Option<(std::net::Ipv4Addr, u16)> {
    let addr = inet_pton4(ip)?;
    let port = match port {
        None => 0,
        Some(p) => {
            let (v, rest, overflow) = strtoul(p);
            if !rest.is_empty() || overflow || v == 0 || v > 65535 {
                return None;
            }
            v as u16
        }
    };
    Some((addr, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_number_parsing() {
        assert_eq!(strtoul("42"), (42, "", false));
        assert_eq!(strtoul("3s"), (3, "s", false));
        assert_eq!(strtoul("x"), (0, "x", false));
        assert_eq!(strtoul(""), (0, "", false));
        assert_eq!(strtol("-7"), (-7, "", false));
        assert!(strtoul("99999999999999999999999").2);
        assert_eq!(inet_pton4("192.168.100"), None);
        assert_eq!(inet_pton4("192.168.90."), None);
        assert_eq!(inet_pton4("10.0.0.1"), Some(std::net::Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_stosockaddr("10.0.0.1", Some("0")), None);
    }
}
