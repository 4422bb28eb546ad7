//! `sysctl` from procps(-ng), and the key names of `/proc/sys` paths.
//!
//! - an argument containing `=` is written, one without is read, as procps does
//!   (`sysctl k=v` writes even without `-w`; with `-w` every argument needs `=`);
//! - `-p [FILE...]` loads files (default `/etc/sysctl.conf`): lines whose first
//!   non-blank character is `#` or `;` are comments, `key = value` sets, a key
//!   starting with `-` ignores errors, and malformed lines are skipped with a warning;
//! - keys may use `/` as separator (`net/ipv4/ip_forward`); [`key`] converts them the
//!   way procps's `slashdot()` does. Keys are validated by the machine, not here.

use crate::node::CmdError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    pub op: SysctlOp,
    /// `-n`: print values only.
    pub values_only: bool,
    /// `-N`: print names only.
    pub names_only: bool,
    /// `-q`: print nothing for writes.
    pub quiet: bool,
    /// `-e`: ignore unknown keys.
    pub ignore_unknown: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysctlOp {
    /// Reads and writes, in argument order.
    Items(Vec<SysctlItem>),
    /// `-a`, `-A`, `-X`: every key.
    All,
    /// `-p [FILE...]`: the machine reads each file and applies [`load`]'s settings.
    Load(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysctlItem {
    Read(String),
    Write(Setting),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Dotted, as [`key`] normalises it.
    pub key: String,
    pub value: String,
    /// The key was written `-key` in a conf file: errors for it are ignored.
    pub ignore_errors: bool,
}

/// The default file of `sysctl -p`.
pub const DEFAULT_CONF: &str = "/etc/sysctl.conf";

/// A key in dotted form: when its first separator is `/`, procps swaps `/` and `.`
/// (so `net/ipv4/conf/eth0.100/rp_filter` is `net.ipv4.conf.eth0/100.rp_filter`).
pub fn key(name: &str) -> String {
    match name.find(['/', '.']) {
        Some(i) if name.as_bytes()[i] == b'/' => swap(name),
        _ => name.to_string(),
    }
}

/// The `/proc/sys` path of a dotted key (`net.ipv4.conf.vrrp/51.arp_ignore` is
/// `/proc/sys/net/ipv4/conf/vrrp.51/arp_ignore`).
pub fn path(key: &str) -> String {
    format!("/proc/sys/{}", swap(key))
}

/// `slashdot()`'s exchange of `/` and `.`.
fn swap(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '/' => '.',
            '.' => '/',
            c => c,
        })
        .collect()
}

/// The sysctl key of a `/proc/sys/...` path (`/proc/sys/net/ipv4/ip_forward` is
/// `net.ipv4.ip_forward`), or `None` for other paths.
pub fn proc_key(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/proc/sys/")?.trim_matches('/');
    (!rest.is_empty()).then(|| key(rest))
}

/// The settings of conf file `path` with contents `text` (`None`: the file does
/// not exist, which is an error as in procps).
pub fn load(path: &str, text: Option<&str>) -> Result<Vec<Setting>, CmdError> {
    let text = text.ok_or_else(|| {
        CmdError::with_status(format!("sysctl: cannot open \"{path}\": No such file or directory"), 1)
    })?;
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.len() < 2 || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        let Some((name, value)) = t.split_once('=') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || value.is_empty() {
            continue;
        }
        let (name, ignore_errors) = match name.strip_prefix('-') {
            Some(n) => (n, true),
            None => (name, false),
        };
        out.push(Setting { key: key(name), value: value.to_string(), ignore_errors });
    }
    Ok(out)
}

fn usage(detail: &str) -> CmdError {
    CmdError::usage(format!(
        "sysctl: {detail}\nUsage: sysctl [-n] [-N] [-q] [-e] [-w] variable[=value] ...\n       sysctl -p [file ...]\n       sysctl -a"
    ))
}

/// Parses `sysctl ARGS...` (the arguments after `sysctl`).
pub fn parse(argv: &[String]) -> Result<Sysctl, CmdError> {
    let mut s = Sysctl {
        op: SysctlOp::Items(Vec::new()),
        values_only: false,
        names_only: false,
        quiet: false,
        ignore_unknown: false,
    };
    let (mut write, mut all, mut load) = (false, false, None::<Vec<String>>);
    let mut rest = Vec::new();
    for arg in argv {
        if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some(("load", file)) => load.get_or_insert_with(Vec::new).push(file.to_string()),
                None if long == "load" => {
                    load.get_or_insert_with(Vec::new);
                }
                None if long == "all" => all = true,
                None if long == "values" => s.values_only = true,
                None if long == "names" => s.names_only = true,
                None if long == "quiet" => s.quiet = true,
                None if long == "ignore" => s.ignore_unknown = true,
                None if long == "write" => write = true,
                _ => return Err(usage(&format!("option `{arg}` is not supported by lvs-lab"))),
            }
            continue;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            rest.push(arg.clone());
            continue;
        };
        for (i, c) in cluster.char_indices() {
            match c {
                'a' | 'A' | 'X' => all = true,
                'n' => s.values_only = true,
                'N' => s.names_only = true,
                'q' => s.quiet = true,
                'e' => s.ignore_unknown = true,
                'w' => write = true,
                'b' | 'o' | 'x' => {}
                'p' => {
                    // `-pFILE`: the rest of the cluster is the file.
                    let files = load.get_or_insert_with(Vec::new);
                    let attached = &cluster[i + 1..];
                    if !attached.is_empty() {
                        files.push(attached.to_string());
                    }
                    break;
                }
                _ => return Err(usage(&format!("option `-{c}` is not supported by lvs-lab"))),
            }
        }
    }
    if let Some(mut files) = load {
        files.extend(rest);
        if files.is_empty() {
            files.push(DEFAULT_CONF.to_string());
        }
        s.op = SysctlOp::Load(files);
        return Ok(s);
    }
    if all {
        s.op = SysctlOp::All;
        return Ok(s);
    }
    if rest.is_empty() {
        return Err(usage("no variables specified"));
    }
    let mut items = Vec::new();
    for arg in rest {
        match arg.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => items.push(SysctlItem::Write(Setting {
                key: key(k.trim()),
                value: v.trim_start().to_string(),
                ignore_errors: false,
            })),
            _ if write || arg.contains('=') => {
                return Err(CmdError::with_status(
                    format!("sysctl: \"{arg}\" must be of the form name=value (no spaces around `=`)"),
                    1,
                ));
            }
            _ => items.push(SysctlItem::Read(key(&arg))),
        }
    }
    s.op = SysctlOp::Items(items);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Sysctl, CmdError> {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&argv)
    }

    fn w(k: &str, v: &str) -> SysctlItem {
        SysctlItem::Write(Setting { key: k.into(), value: v.into(), ignore_errors: false })
    }

    #[test]
    fn writes_reads_and_keys() {
        let s = p("-w net.ipv4.conf.all.arp_ignore=1 net/ipv4/conf/lo/arp_announce=2").unwrap();
        assert_eq!(
            s.op,
            SysctlOp::Items(vec![w("net.ipv4.conf.all.arp_ignore", "1"), w("net.ipv4.conf.lo.arp_announce", "2")])
        );
        assert_eq!(p("net.ipv4.ip_forward=1").unwrap().op, SysctlOp::Items(vec![w("net.ipv4.ip_forward", "1")]));
        let s = p("-n net.ipv4.ip_forward").unwrap();
        assert!(s.values_only);
        assert_eq!(s.op, SysctlOp::Items(vec![SysctlItem::Read("net.ipv4.ip_forward".into())]));
        assert_eq!(key("net/ipv4/conf/eth0.100/rp_filter"), "net.ipv4.conf.eth0/100.rp_filter");
        assert_eq!(proc_key("/proc/sys/net/ipv4/conf/lo/arp_ignore").as_deref(), Some("net.ipv4.conf.lo.arp_ignore"));
        assert_eq!(proc_key("/proc/net/dev"), None);
        assert_eq!(p("-a").unwrap().op, SysctlOp::All);
    }

    #[test]
    fn load_forms() {
        assert_eq!(p("-p").unwrap().op, SysctlOp::Load(vec![DEFAULT_CONF.into()]));
        assert_eq!(p("-q -p /etc/x.conf").unwrap().op, SysctlOp::Load(vec!["/etc/x.conf".into()]));
        assert_eq!(p("-p/etc/x.conf").unwrap().op, SysctlOp::Load(vec!["/etc/x.conf".into()]));
        assert_eq!(p("--load=/etc/y.conf").unwrap().op, SysctlOp::Load(vec!["/etc/y.conf".into()]));
        assert!(p("-qp").unwrap().quiet);
    }

    #[test]
    fn conf_files() {
        let text = "# comment\n; also\nnet.ipv4.ip_forward=1 \n  net.ipv4.conf.lo.arp_ignore = 1\n\
                    -net.ipv4.conf.eth9.rp_filter = 0\nbogus line\nkey =\n";
        let got = load("/etc/sysctl.conf", Some(text)).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], Setting { key: "net.ipv4.ip_forward".into(), value: "1".into(), ignore_errors: false });
        assert_eq!(got[1].value, "1");
        assert!(got[2].ignore_errors);
        assert!(load("/etc/none", None).unwrap_err().message.contains("cannot open \"/etc/none\""));
    }

    #[test]
    fn errors() {
        assert!(p("-w net.ipv4.ip_forward = 1").unwrap_err().message.contains("must be of the form name=value"));
        assert!(p("").is_err());
        assert!(p("-z").is_err());
        assert!(p("--system").is_err());
    }
}
