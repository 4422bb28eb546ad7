//! `arping` from iputils: `arping [-AbDfqU] [-c COUNT] [-w DEADLINE] [-I IF] [-s SRC] TARGET`.
//!
//! iputils semantics the machine follows: one packet a second; `-U` sends unsolicited
//! ARP requests and `-A` unsolicited ARP replies (`-A` implies `-U`), and in both the
//! sender address defaults to the target (a gratuitous ARP) when `-s` is absent; `-D`
//! is duplicate address detection (sender 0.0.0.0); without `-c` or `-w` arping runs
//! until interrupted. Options may come after the target (GNU getopt permutes them).

use crate::node::CmdError;
use crate::time::{Duration, parse_duration};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arping {
    pub target: Ipv4Addr,
    /// `-I`; iputils picks the interface of the route to the target when absent.
    pub iface: Option<String>,
    /// `-s`: the sender protocol address.
    pub source: Option<Ipv4Addr>,
    /// `-c`: packets to send.
    pub count: Option<u32>,
    /// `-w`: stop after this long.
    pub deadline: Option<Duration>,
    pub mode: ArpingMode,
    /// `-b`: keep broadcasting, never unicast to a learned MAC.
    pub broadcast_only: bool,
    /// `-f`: stop at the first reply.
    pub first_reply: bool,
    /// `-q`: print nothing.
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpingMode {
    /// Plain requests, expecting replies.
    Request,
    /// `-U`: unsolicited (gratuitous) requests.
    Unsolicited,
    /// `-A`: unsolicited replies.
    Advert,
    /// `-D`: duplicate address detection.
    Dad,
}

fn usage(detail: &str) -> CmdError {
    CmdError::usage(format!(
        "arping: {detail}\nUsage: arping [-AbDfqU] [-c count] [-w timeout] [-I device] [-s source] destination"
    ))
}

/// Parses `arping ARGS...` (the arguments after `arping`).
pub fn parse(argv: &[String]) -> Result<Arping, CmdError> {
    let mut a = Arping {
        target: Ipv4Addr::UNSPECIFIED,
        iface: None,
        source: None,
        count: None,
        deadline: None,
        mode: ArpingMode::Request,
        broadcast_only: false,
        first_reply: false,
        quiet: false,
    };
    let mut target = None;
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            if target.is_some() {
                return Err(usage(&format!("unexpected `{arg}`: one destination only")));
            }
            target = Some(arg.as_str());
            continue;
        };
        for (i, c) in cluster.char_indices() {
            match c {
                'A' => a.mode = ArpingMode::Advert,
                'U' if a.mode != ArpingMode::Advert => a.mode = ArpingMode::Unsolicited,
                'U' => {}
                'D' => a.mode = ArpingMode::Dad,
                'b' => a.broadcast_only = true,
                'f' => a.first_reply = true,
                'q' => a.quiet = true,
                'c' | 'w' | 'I' | 's' => {
                    let attached = &cluster[i + c.len_utf8()..];
                    let v = if attached.is_empty() {
                        it.next()
                            .map(String::as_str)
                            .ok_or_else(|| usage(&format!("option requires an argument -- '{c}'")))?
                    } else {
                        attached
                    };
                    match c {
                        'c' => a.count = Some(v.parse().map_err(|_| usage(&format!("invalid argument: '{v}'")))?),
                        'w' => {
                            a.deadline = Some(
                                parse_duration(v)
                                    .ok()
                                    .filter(|_| !v.ends_with(char::is_alphabetic))
                                    .ok_or_else(|| usage(&format!("invalid argument: '{v}' (seconds)")))?,
                            )
                        }
                        'I' => a.iface = Some(v.to_string()),
                        _ => {
                            a.source = Some(v.parse().map_err(|_| usage(&format!("invalid source {v}")))?);
                        }
                    }
                    break;
                }
                _ => return Err(usage(&format!("option `-{c}` is not supported by lvs-lab"))),
            }
        }
    }
    let target = target.ok_or_else(|| usage("a destination is required"))?;
    a.target = target.parse().map_err(|_| CmdError::with_status(format!("arping: unknown host {target}"), 2))?;
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Arping, CmdError> {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&argv)
    }

    #[test]
    fn seed_004_form() {
        let a = p("-I eth0 -c 5 -s 192.168.90.200 192.168.90.254").unwrap();
        assert_eq!(a.target, Ipv4Addr::new(192, 168, 90, 254));
        assert_eq!(a.source, Some(Ipv4Addr::new(192, 168, 90, 200)));
        assert_eq!((a.iface.as_deref(), a.count, a.mode), (Some("eth0"), Some(5), ArpingMode::Request));
    }

    #[test]
    fn modes_and_clusters() {
        let a = p("-qUc3 -Ieth1 10.0.0.100 -w 2").unwrap();
        assert_eq!((a.mode, a.count, a.quiet), (ArpingMode::Unsolicited, Some(3), true));
        assert_eq!((a.iface.as_deref(), a.deadline), (Some("eth1"), Some(Duration::from_secs(2))));
        assert_eq!(p("-A -U 10.0.0.1").unwrap().mode, ArpingMode::Advert);
        assert_eq!(p("-U -A 10.0.0.1").unwrap().mode, ArpingMode::Advert);
        assert_eq!(p("-D -f -b 10.0.0.1").unwrap().mode, ArpingMode::Dad);
        assert_eq!(p("-w 1.5 10.0.0.1").unwrap().deadline, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn errors() {
        assert!(p("").is_err());
        assert!(p("-c").is_err());
        assert!(p("-c x 10.0.0.1").is_err());
        assert!(p("-w 5s 10.0.0.1").is_err());
        assert!(p("gateway").unwrap_err().message.contains("unknown host"));
        assert!(p("10.0.0.1 10.0.0.2").is_err());
        assert!(p("-T 10.0.0.1").is_err());
    }
}
