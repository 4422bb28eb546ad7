//! TCP connection states (ip_vs_proto_tcp.c; reference §3.4): the INPUT, OUTPUT and
//! INPUT_ONLY tables, the default timeouts, which states count as active, and the
//! scheduling gate.

use super::Ipvs;
use super::conn::{NONE, cf};
use crate::wire::ip::{TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};

pub const S_NONE: u8 = 0;
pub const S_ESTABLISHED: u8 = 1;
pub const S_SYN_SENT: u8 = 2;
pub const S_SYN_RECV: u8 = 3;
pub const S_FIN_WAIT: u8 = 4;
pub const S_TIME_WAIT: u8 = 5;
pub const S_CLOSE: u8 = 6;
pub const S_CLOSE_WAIT: u8 = 7;
pub const S_LAST_ACK: u8 = 8;
pub const S_LISTEN: u8 = 9;
pub const S_SYNACK: u8 = 10;
/// `IP_VS_TCP_S_LAST`.
pub const S_LAST: usize = 11;

/// `tcp_state_name_table`, as /proc/net/ip_vs_conn shows them.
pub const STATE_NAMES: [&str; S_LAST] = [
    "NONE",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "SYNACK",
];

/// `tcp_timeouts[]`, seconds.
pub const DEFAULT_TIMEOUTS: [u32; S_LAST] = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120];

/// `tcp_state_active_table[]`: SYN_SENT, SYN_RECV, ESTABLISHED and SYNACK count as
/// ActiveConn.
pub const fn state_active(s: u8) -> bool {
    matches!(s, S_ESTABLISHED | S_SYN_SENT | S_SYN_RECV | S_SYNACK)
}

/// A state's name (`tcp_state_name`).
pub fn state_name(s: u8) -> &'static str {
    STATE_NAMES.get(usize::from(s)).copied().unwrap_or("ERR!")
}

/// The direction a packet is seen in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client → real server (`IP_VS_DIR_INPUT`).
    Input,
    /// Real server → client, through the director (`IP_VS_DIR_OUTPUT`).
    Output,
}

const ES: u8 = S_ESTABLISHED;
const SS: u8 = S_SYN_SENT;
const SR: u8 = S_SYN_RECV;
const FW: u8 = S_FIN_WAIT;
const TW: u8 = S_TIME_WAIT;
const CL: u8 = S_CLOSE;
const CW: u8 = S_CLOSE_WAIT;
const LA: u8 = S_LAST_ACK;
const LI: u8 = S_LISTEN;

/// `tcp_states[]`: for each table, rows syn, fin, ack, rst; columns the current state
/// NONE ES SS SR FW TW CL CW LA LI SYNACK (§3.4, verbatim; NONE and SYNACK never
/// appear as a next state).
const INPUT: [[u8; S_LAST]; 4] = [
    /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    /*fin*/ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
];
const OUTPUT: [[u8; S_LAST]; 4] = [
    /*syn*/ [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
    /*fin*/ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
    /*rst*/ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
];
const INPUT_ONLY: [[u8; S_LAST]; 4] = [
    /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    /*fin*/ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
];

/// `tcp_state_idx`: RST > SYN > FIN > ACK; none of them gives no row.
fn state_idx(flags: u8) -> Option<usize> {
    if flags & TCP_RST != 0 {
        Some(3)
    } else if flags & TCP_SYN != 0 {
        Some(0)
    } else if flags & TCP_FIN != 0 {
        Some(1)
    } else if flags & TCP_ACK != 0 {
        Some(2)
    } else {
        None
    }
}

/// Which table a packet uses and what it does to NOOUTPUT (`set_tcp_state`).
pub fn next_state(cur: u8, flags: u8, dir: Dir, nooutput: bool) -> u8 {
    let table = match (dir, nooutput) {
        (Dir::Output, _) => &OUTPUT,
        (Dir::Input, true) => &INPUT_ONLY,
        (Dir::Input, false) => &INPUT,
    };
    match state_idx(flags) {
        Some(row) => table[row][usize::from(cur).min(S_LAST - 1)],
        None => S_CLOSE,
    }
}

/// `tcp_conn_schedule`'s gate: may a segment with no connection entry create one?
/// RST never; otherwise a SYN, or anything with `sloppy_tcp` (§3.4).
pub fn schedulable(flags: u8, sloppy: bool) -> bool {
    flags & TCP_RST == 0 && (sloppy || flags & TCP_SYN != 0)
}

/// A state change, for the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: u8,
    pub to: u8,
}

impl Ipvs {
    /// `set_tcp_state`: move the entry, move the dest's counters between active and
    /// inactive, assure the template on ESTABLISHED, and take the new state's
    /// timeout (always, even without a state change).
    pub(crate) fn set_tcp_state(&mut self, idx: u32, dir: Dir, flags: u8) -> Transition {
        let c = self.conns.conn_mut(idx);
        let mut nooutput = c.has(cf::NOOUTPUT);
        if nooutput && dir == Dir::Output {
            c.flags &= !cf::NOOUTPUT;
            nooutput = false;
        }
        let from = c.state;
        let to = next_state(from, flags, dir, nooutput);
        // The dest whose counters moved between active and inactive.
        let mut moved = NONE;
        if to != from {
            let dest = c.dest;
            if dest != NONE {
                let d = &mut self.dests[dest as usize];
                if !c.has(cf::INACTIVE) && !state_active(to) {
                    d.activeconns -= 1;
                    d.inactconns += 1;
                    c.flags |= cf::INACTIVE;
                    moved = dest;
                } else if c.has(cf::INACTIVE) && state_active(to) {
                    d.activeconns += 1;
                    d.inactconns -= 1;
                    c.flags &= !cf::INACTIVE;
                    moved = dest;
                }
            }
            c.state = to;
        }
        c.timeout_ms = self.tcp_timeouts[usize::from(to)].saturating_mul(1000);
        if moved != NONE {
            self.sched_dest_changed(moved);
        }
        if to != from && to == S_ESTABLISHED {
            self.assure_template(idx);
        }
        Transition { from, to }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u8 = TCP_SYN;
    const A: u8 = TCP_ACK;
    const F: u8 = TCP_FIN | TCP_ACK;
    const R: u8 = TCP_RST;

    /// The reference's tables (§3.4), as its markdown has them.
    const REFERENCE: &str = "\
INPUT
| syn | SR | ES | ES | SR | SR | SR | SR | SR | SR | SR | SR |
| fin | CL | CW | SS | TW | TW | TW | CL | CW | LA | LI | TW |
| ack | ES | ES | SS | ES | FW | TW | CL | CW | CL | LI | ES |
| rst | CL | CL | CL | **SR** | CL | CL | CL | CL | LA | LI | SR |
OUTPUT
| syn | SS | ES | SS | SR | SS | SS | SS | SS | SS | LI | SR |
| fin | TW | FW | SS | TW | FW | TW | CL | TW | LA | LI | TW |
| ack | ES | ES | SS | ES | FW | TW | CL | CW | LA | ES | ES |
| rst | CL | CL | SS | CL | CL | TW | CL | CL | CL | CL | CL |
INPUT_ONLY
| syn | SR | ES | ES | SR | SR | SR | SR | SR | SR | SR | SR |
| fin | CL | FW | SS | TW | FW | TW | CL | CW | LA | LI | TW |
| ack | ES | ES | SS | ES | FW | TW | CL | CW | CL | LI | ES |
| rst | CL | CL | CL | **SR** | CL | CL | CL | CL | LA | LI | CL |
";

    /// Every transition, checked against the reference's text.
    #[test]
    fn tables_match_the_reference_transition_by_transition() {
        let abbrev = ["NO", "ES", "SS", "SR", "FW", "TW", "CL", "CW", "LA", "LI", "SA"];
        let mut table = "";
        let mut checked = 0;
        for line in REFERENCE.lines() {
            if !line.starts_with('|') {
                table = line;
                continue;
            }
            let cells: Vec<&str> =
                line.split('|').map(|c| c.trim().trim_matches('*')).filter(|c| !c.is_empty()).collect();
            let flags = match cells[0] {
                "syn" => S,
                "fin" => F,
                "ack" => A,
                _ => R,
            };
            let (dir, noout) = match table {
                "INPUT" => (Dir::Input, false),
                "OUTPUT" => (Dir::Output, false),
                _ => (Dir::Input, true),
            };
            for (cur, want) in cells[1..].iter().enumerate() {
                let got = next_state(cur as u8, flags, dir, noout);
                assert_eq!(abbrev[usize::from(got)], *want, "{table} {} from {}", cells[0], abbrev[cur]);
                checked += 1;
            }
        }
        assert_eq!(checked, 3 * 4 * S_LAST);
        // OUTPUT ignores NOOUTPUT (the flag is cleared by the reply).
        assert_eq!(next_state(S_SYN_RECV, A, Dir::Output, true), next_state(S_SYN_RECV, A, Dir::Output, false));
        // Precedence: SYN+ACK takes the syn row, FIN+ACK the fin row, RST+anything rst.
        assert_eq!(next_state(S_NONE, S | A, Dir::Output, false), S_SYN_SENT);
        assert_eq!(next_state(S_ESTABLISHED, F, Dir::Input, false), S_CLOSE_WAIT);
        assert_eq!(next_state(S_ESTABLISHED, R | S | A, Dir::Input, false), S_CLOSE);
        // No flag at all: CLOSE.
        assert_eq!(next_state(S_ESTABLISHED, 0, Dir::Input, false), S_CLOSE);
        // A client RST in SYN_RECV keeps SYN_RECV.
        assert_eq!(next_state(S_SYN_RECV, R, Dir::Input, false), S_SYN_RECV);
        assert_eq!(next_state(S_SYN_RECV, R, Dir::Input, true), S_SYN_RECV);
        // Sloppy: an ACK from NONE establishes.
        assert_eq!(next_state(S_NONE, A, Dir::Input, true), S_ESTABLISHED);
    }

    #[test]
    fn gate() {
        assert!(schedulable(S, false));
        assert!(schedulable(S | A, false), "SYN+ACK is scheduled (active FTP)");
        assert!(!schedulable(A, false));
        assert!(schedulable(A, true));
        assert!(!schedulable(R | S, true));
    }

    #[test]
    fn active_states() {
        let active: Vec<&str> = (0..S_LAST as u8).filter(|s| state_active(*s)).map(state_name).collect();
        assert_eq!(active, ["ESTABLISHED", "SYN_SENT", "SYN_RECV", "SYNACK"]);
        assert_eq!(state_name(42), "ERR!");
    }
}
