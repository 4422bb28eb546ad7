//! TCP of the Linux host model: every socket of one host, as pure code. The host's
//! IPv4 layer hands in parsed segments and ICMP errors, calls [`TcpStack::on_timer`]
//! at [`TcpStack::next_deadline`], and drains [`TcpStack::poll_output`] (segments to
//! wrap in IP, TTL 64, DF) and [`TcpStack::poll_events`] (what the applications see).
//!
//! What is modelled, as Linux does it (each rule cites the kernel function or sysctl):
//! the RFC 793/9293 state machine with Linux's request sockets for SYN_RECV, SYN and
//! SYN-ACK retransmission (`tcp_syn_retries`, `tcp_synack_retries`), RSTs exactly as
//! `tcp_v4_send_reset` builds them, RFC 5961 challenge ACKs, `tcp_v4_err` (hard and
//! soft ICMP errors, RFC 6069 RTO revert, PMTU), RTT estimation and RTO as
//! `tcp_rtt_estimator`, IW10, slow start, NewReno fast retransmit, zero-window probes,
//! Nagle (Minshall's variant), TIME_WAIT, FIN_WAIT2 and orphan timeouts.
//!
//! Simplifications, all deliberate:
//! - No options besides MSS: no window scaling, SACK or timestamps (the peer sees a
//!   plain SYN and answers in kind). The receive window is `rounddown(65535, advmss)`
//!   (64240 for MSS 1460) and never shrinks: applications read at once.
//! - Every data segment is ACKed at once (Linux's quick-ack mode at connection start).
//!   The one delayed ACK kept is the ACK of a FIN that moves us to CLOSE_WAIT:
//!   `tcp_fin` enters pingpong mode, so it waits `TCP_DELACK_MIN` (40 ms) for the
//!   application's FIN to carry it, which gives the three-segment close of captures.
//! - Congestion control is Reno growth with CUBIC's β=0.7 on loss; no PRR, RACK, TLP,
//!   cwnd validation after idle, or tcp_metrics cache.
//! - `close()` is a full close (no `shutdown(SHUT_WR)`), so FIN_WAIT2 is always
//!   orphaned; it is kept as a full socket rather than a timewait sock, with the same
//!   answers to data (RST) and FIN (ACK, TIME_WAIT). Send buffers are unbounded; no
//!   listen backlog, syncookies, keepalive, urgent data or TCP Fast Open.
//! - PSH marks the segment that empties the send queue (Linux marks the end of each
//!   `write()`; the same for one write per response).
//! - An ICMP next-hop MTU below 552 locks the path MTU at 552 but does not record
//!   Linux's EMSGSIZE soft error.
//! - `TcpConf::syn_linear_timeouts` defaults to 0 here, the classic 1, 2, 4, ... s
//!   SYN backoff; machines set it from `net.ipv4.tcp_syn_linear_timeouts`, whose
//!   default (4, Linux ≥ 6.5) is what the netns harness's kernel uses.
//! - Any ICMP error `tcp_v4_err` handles ends a connect in SYN_SENT, host unreachable
//!   included (checked on 6.18 in a netns: `connect()` to an unanswered LAN address
//!   fails with EHOSTUNREACH after 3 s; with `lo` down the local ICMP never arrives
//!   and it times out after the SYN retries instead).

mod sock;
#[cfg(test)]
mod tests;

use crate::rng::{self, Rng, Stream};
use crate::time::{Duration, Instant, format_duration};
use crate::wire::IPPROTO_TCP;
use crate::wire::ip::{Embedded, L4, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Tcp};
use sock::{Ctx, Sock, Verdict};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{Ipv4Addr, SocketAddrV4};

/// `TCP_TIMEOUT_INIT`: the first SYN and SYN-ACK timeout (RFC 6298).
const TIMEOUT_INIT: Duration = Duration::from_secs(1);
/// `TCP_TIMEOUT_FALLBACK`: the RTO when the handshake gave no RTT sample.
const TIMEOUT_FALLBACK: Duration = Duration::from_secs(3);
/// `TCP_TIMEOUT_MIN` (2 jiffies at HZ=1000): quick SYN retransmit after a bad SYN-ACK.
const TIMEOUT_MIN: Duration = Duration::from_millis(2);
/// `TCP_RTO_MIN` and `TCP_RTO_MAX`.
const RTO_MIN: Duration = Duration::from_millis(200);
const RTO_MAX: Duration = Duration::from_secs(120);
/// `TCP_TIMEWAIT_LEN`.
const TIMEWAIT_LEN: Duration = Duration::from_secs(60);
/// `TCP_DELACK_MIN` / `TCP_ATO_MIN`.
const DELACK: Duration = Duration::from_millis(40);
/// `tcp_invalid_ratelimit`: at most one out-of-window ACK per 500 ms per socket.
const OOW_RATELIMIT: Duration = Duration::from_millis(500);
/// `TCP_MSS_DEFAULT`: the peer's MSS when its SYN carries no MSS option.
const MSS_DEFAULT: u16 = 536;
/// `TCP_MIN_SND_MSS`.
const MIN_SND_MSS: u16 = 48;
/// `ip_rt_min_pmtu`: a smaller ICMP next-hop MTU is raised to this (`__ip_rt_update_pmtu`).
const MIN_PMTU: u16 = 552;
/// `TCP_INIT_CWND` (IW10, RFC 6928).
const INIT_CWND: u32 = 10;

/// A socket of a [`TcpStack`]. Stable for the socket's life; never reused for another.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct SockId {
    slot: u32,
    generation: u32,
}

impl fmt::Display for SockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sk{}.{}", self.slot, self.generation)
    }
}

/// The `net.ipv4.tcp_*` sysctls the model reads, with Linux's defaults. They are read
/// when used, so [`TcpStack::conf_mut`] works like `sysctl -w` on a running host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConf {
    /// `tcp_syn_retries` (6): SYN retransmits before `connect()` fails.
    pub syn_retries: u8,
    /// `tcp_syn_linear_timeouts`: SYN retransmits at a fixed 1 s before backing off.
    /// 0 here (the classic schedule); Linux ≥ 6.5 defaults to 4 (failure at 131 s).
    pub syn_linear_timeouts: u8,
    /// `tcp_synack_retries` (5): SYN-ACK retransmits of a request socket.
    pub synack_retries: u8,
    /// `tcp_retries2` (15): data retransmission bound, about 924.6 s with RTO 200 ms.
    pub retries2: u8,
    /// `tcp_orphan_retries` (0, meaning 8): the bound once the application has closed.
    pub orphan_retries: u8,
    /// `tcp_fin_timeout` (60 s): how long an orphaned FIN_WAIT2 waits for the peer's FIN.
    pub fin_timeout: Duration,
    /// `ip_local_port_range` (32768 60999), both ends included.
    pub local_port_range: (u16, u16),
}

impl Default for TcpConf {
    fn default() -> Self {
        TcpConf {
            syn_retries: 6,
            syn_linear_timeouts: 0,
            synack_retries: 5,
            retries2: 15,
            orphan_retries: 0,
            fin_timeout: Duration::from_secs(60),
            local_port_range: (32768, 60999),
        }
    }
}

/// Why a socket call failed, as the errno an application would see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpError {
    /// EADDRINUSE: another listener overlaps this address and port.
    AddrInUse,
    /// EADDRNOTAVAIL: no free ephemeral port for this destination.
    AddrNotAvail,
}

impl fmt::Display for TcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpError::AddrInUse => "Address already in use",
            TcpError::AddrNotAvail => "Cannot assign requested address",
        })
    }
}

impl std::error::Error for TcpError {}

/// How a connection ended, for the application and the outcome report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CloseReason {
    /// Both FINs exchanged (TIME_WAIT reached, or LAST_ACK acknowledged), or an
    /// orphaned FIN_WAIT2 expired after `tcp_fin_timeout`.
    Normal,
    /// ECONNRESET (EPIPE in CLOSE_WAIT): the peer reset an established connection.
    Reset,
    /// ECONNREFUSED: RST to our SYN, or ICMP port/protocol unreachable in SYN_SENT
    /// (Linux gives ENOPROTOOPT for the latter).
    Refused,
    /// ETIMEDOUT: retransmissions gave up with no ICMP error seen.
    Timeout,
    /// EHOSTUNREACH/ENETUNREACH: gave up after ICMP unreachable or time-exceeded soft
    /// errors, or a fatal unreachable code in SYN_SENT.
    Unreachable,
    /// The application aborted the connection (`abort`, or `close` before it connected).
    Aborted,
}

impl CloseReason {
    /// The errno name an application would print.
    pub fn errno(self) -> &'static str {
        match self {
            CloseReason::Normal => "0",
            CloseReason::Reset => "ECONNRESET",
            CloseReason::Refused => "ECONNREFUSED",
            CloseReason::Timeout => "ETIMEDOUT",
            CloseReason::Unreachable => "EHOSTUNREACH",
            CloseReason::Aborted => "ECONNABORTED",
        }
    }
}

/// TCP states, named as the kernel's `tcp_states.h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TcpState {
    Listen,
    SynSent,
    SynRecv,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl TcpState {
    /// The name `ss` prints (`ESTAB`, `SYN-SENT`, `TIME-WAIT`, ...).
    pub fn ss_name(self) -> &'static str {
        match self {
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynRecv => "SYN-RECV",
            TcpState::Established => "ESTAB",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }
}

/// `ESTABLISHED`, `SYN_SENT`, ...: the kernel's names, as `netstat` prints them.
impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
        })
    }
}

/// What applications learn. Every socket returned by [`TcpStack::connect`] or announced
/// by `Accepted` gets exactly one `Closed`, also after the application's own `close`;
/// after `close`/`abort` no `Data` or `PeerClosed` follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpEvent {
    /// A handshake completed on `listener` (`accept()` returns `id`).
    Accepted {
        listener: SockId,
        id: SockId,
        peer: SocketAddrV4,
    },
    /// `connect()` succeeded.
    Connected(SockId),
    /// In-order bytes from the peer.
    Data(SockId, Vec<u8>),
    /// The peer's FIN: end of stream (`read()` returns 0).
    PeerClosed(SockId),
    Closed(SockId, CloseReason),
}

/// Why a segment was sent: the trace's cause column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Syn,
    SynAck,
    /// A retransmitted SYN reached a request socket.
    SynAckAgain,
    SynAckRetransmit {
        n: u32,
        timeout: Duration,
    },
    SimultaneousOpen,
    HandshakeAck,
    Ack,
    DelayedAck,
    DupAck,
    OutOfWindowAck,
    ChallengeAck,
    TimeWaitAck,
    FinAck,
    Data,
    Fin,
    /// Timer retransmission of `what` (SYN, SYN-ACK, data, FIN).
    Retransmit {
        what: &'static str,
        n: u32,
        expired: Duration,
        next: Duration,
    },
    FastRetransmit,
    PartialAckRetransmit,
    LossRetransmit,
    MtuRetransmit {
        mss: u16,
    },
    WindowProbe,
    RstNoSocket {
        local: SocketAddrV4,
    },
    RstClosedPort {
        local: SocketAddrV4,
    },
    RstUnexpectedSynAck {
        local: SocketAddrV4,
    },
    RstSynSentBadAck {
        expected: u32,
    },
    RstListenAck,
    RstSynRecvSyn,
    RstSynRecvBadAck,
    RstDataAfterClose,
    RstTimeWait,
    RstAbort,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: &Duration| format_duration(*d);
        match self {
            Why::Syn => f.write_str("SYN: connect() (tcp_connect)"),
            Why::SynAck => f.write_str("SYN-ACK: SYN to a LISTEN socket (tcp_conn_request)"),
            Why::SynAckAgain => f.write_str("SYN-ACK again: retransmitted SYN for a SYN_RECV request (tcp_check_req)"),
            Why::SynAckRetransmit { n, timeout } => {
                write!(f, "SYN-ACK retransmit {n} (timeout {}, tcp_synack_retries)", d(timeout))
            }
            Why::SimultaneousOpen => f.write_str("SYN-ACK: SYN in SYN_SENT, simultaneous open"),
            Why::HandshakeAck => f.write_str("ACK: SYN-ACK accepted, ESTABLISHED"),
            Why::Ack => f.write_str("ACK: data received (quick-ack)"),
            Why::DelayedAck => f.write_str("delayed ACK: FIN received, no reply within 40ms (tcp_delack_timer)"),
            Why::DupAck => f.write_str("dup ACK: out-of-order or duplicate data (tcp_data_queue)"),
            Why::OutOfWindowAck => f.write_str("ACK: out-of-window segment (tcp_validate_incoming)"),
            Why::ChallengeAck => f.write_str("challenge ACK: RST/SYN not at rcv_nxt or bad ACK (RFC 5961)"),
            Why::TimeWaitAck => f.write_str("ACK from TIME_WAIT (tcp_timewait_state_process)"),
            Why::FinAck => f.write_str("ACK of FIN (tcp_fin)"),
            Why::Data => f.write_str("data"),
            Why::Fin => f.write_str("FIN: close() (tcp_send_fin)"),
            Why::Retransmit { what, n, expired, next } => {
                write!(f, "{what} retransmit {n} (RTO {} expired, next {})", d(expired), d(next))
            }
            Why::FastRetransmit => f.write_str("fast retransmit: 3 dup ACKs (NewReno)"),
            Why::PartialAckRetransmit => f.write_str("retransmit: partial ACK in recovery (NewReno)"),
            Why::LossRetransmit => f.write_str("retransmit: marked lost after RTO (tcp_xmit_retransmit_queue)"),
            Why::MtuRetransmit { mss } => {
                write!(f, "retransmit at MSS {mss}: ICMP frag needed (tcp_simple_retransmit)")
            }
            Why::WindowProbe => f.write_str("zero-window probe (tcp_send_probe0)"),
            Why::RstNoSocket { local } => write!(f, "RST: no socket for {local} (tcp_v4_send_reset)"),
            Why::RstClosedPort { local } => write!(f, "RST: SYN to closed port {local} (tcp_v4_send_reset)"),
            Why::RstUnexpectedSynAck { local } => {
                write!(f, "RST: unexpected SYN-ACK, no socket for {local} (tcp_v4_send_reset)")
            }
            Why::RstSynSentBadAck { expected } => {
                write!(
                    f,
                    "RST: unexpected SYN-ACK in SYN_SENT, expected ack {expected} (tcp_rcv_synsent_state_process)"
                )
            }
            Why::RstListenAck => f.write_str("RST: ACK to a LISTEN socket, no pending connection"),
            Why::RstSynRecvSyn => f.write_str("RST: new SYN in window of a SYN_RECV request (tcp_check_req)"),
            Why::RstSynRecvBadAck => f.write_str("RST: unacceptable ACK in SYN_RECV"),
            Why::RstDataAfterClose => f.write_str("RST: data after close() (TCPAbortOnData)"),
            Why::RstTimeWait => f.write_str("RST: data or SYN to TIME_WAIT (tcp_timewait_state_process)"),
            Why::RstAbort => f.write_str("RST: connection aborted (tcp_disconnect, SO_LINGER 0)"),
        }
    }
}

/// A segment to send. The host wraps it in IPv4 (TTL 64, DF) with [`SegOut::l4`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegOut {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// The MSS option (SYN and SYN-ACK only).
    pub mss: Option<u16>,
    pub payload: Vec<u8>,
    pub why: Why,
}

impl SegOut {
    /// The transport part for [`crate::wire::ip::build`].
    pub fn l4(&self) -> L4<'_> {
        L4::Tcp {
            sport: self.src.port(),
            dport: self.dst.port(),
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            mss: self.mss,
            payload: &self.payload,
        }
    }
}

/// One line of an `ss -tan` listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SockInfo {
    pub id: SockId,
    pub state: TcpState,
    pub local: SocketAddrV4,
    /// `0.0.0.0:0` for a listener (`ss` prints `*`).
    pub peer: SocketAddrV4,
    /// Bytes queued and not yet acknowledged (`Send-Q`).
    pub send_q: u32,
}

/// The 4-tuple of an established-hash entry: (local addr<<16 | port, remote addr<<16 | port).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct ConnKey(u64, u64);

impl ConnKey {
    fn new(local: SocketAddrV4, remote: SocketAddrV4) -> Self {
        let pack = |a: SocketAddrV4| u64::from(a.ip().to_bits()) << 16 | u64::from(a.port());
        ConnKey(pack(local), pack(remote))
    }
}

/// A fast, fixed-key hasher for the connection table (lookups only; the table is never
/// iterated, so output never depends on its order).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        mix64(self.0)
    }
}

/// splitmix64's finaliser: a keyed hash stands in for the kernel's siphash secrets.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Builds the reply `tcp_v4_send_reset` makes to `seg` (from `remote` to `local`): with
/// ACK set, RST with seq = seg.ack; else RST|ACK acking the segment. Never to a RST.
fn reset_reply(local: SocketAddrV4, remote: SocketAddrV4, seg: &Tcp, why: Why) -> Option<SegOut> {
    if seg.has(TCP_RST) {
        return None;
    }
    let (seq, ack, flags) = if seg.has(TCP_ACK) {
        (seg.ack, 0, TCP_RST)
    } else {
        (0, seg.seq.wrapping_add(seg.seg_len()), TCP_RST | TCP_ACK)
    };
    Some(SegOut { src: local, dst: remote, seq, ack, flags, window: 0, mss: None, payload: Vec::new(), why })
}

struct Slot {
    generation: u32,
    sock: Option<Sock>,
}

/// All TCP sockets of one host.
pub struct TcpStack {
    conf: TcpConf,
    rng: Stream,
    /// `secure_tcp_seq`'s and `secure_ipv4_port_ephemeral`'s secrets.
    isn_secret: u64,
    port_secret: u64,
    /// `table_perturb` of `__inet_hash_connect`.
    perturb: [u32; 256],
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// The established hash: connected sockets, request sockets, TIME_WAIT.
    conns: HashMap<ConnKey, u32, BuildHasherDefault<KeyHasher>>,
    /// Listeners by (port, bound address); 0.0.0.0 is the wildcard.
    listeners: BTreeMap<(u16, Ipv4Addr), u32>,
    /// (deadline, slot, generation), lazily kept: an entry is live only while it equals
    /// its socket's `queued`; the top is made live at the end of every public call.
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    out: Vec<SegOut>,
    /// Peers confirmed by forward progress, for the neighbour cache.
    confirmed: Vec<Ipv4Addr>,
    events: Vec<TcpEvent>,
}

impl fmt::Debug for TcpStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStack").field("sockets", &(self.slots.len() - self.free.len())).finish()
    }
}

impl TcpStack {
    pub fn new(mut rng: Stream, conf: TcpConf) -> Self {
        let isn_secret = rng.next_u64();
        let port_secret = rng.next_u64();
        TcpStack {
            conf,
            rng,
            isn_secret,
            port_secret,
            perturb: [0; 256],
            slots: Vec::new(),
            free: Vec::new(),
            conns: HashMap::default(),
            listeners: BTreeMap::new(),
            timers: BinaryHeap::new(),
            out: Vec::new(),
            confirmed: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn conf(&self) -> &TcpConf {
        &self.conf
    }

    /// The sysctls, for `sysctl -w net.ipv4.tcp_*` on a running host.
    pub fn conf_mut(&mut self) -> &mut TcpConf {
        &mut self.conf
    }

    /// `bind()` + `listen()`. `addr` `None` is INADDR_ANY. Servers set SO_REUSEADDR, so
    /// only another listener whose address overlaps conflicts (`inet_csk_bind_conflict`).
    pub fn listen(&mut self, addr: Option<Ipv4Addr>, port: u16) -> Result<SockId, TcpError> {
        let addr = addr.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let clash = self
            .listeners
            .range((port, Ipv4Addr::UNSPECIFIED)..=(port, Ipv4Addr::BROADCAST))
            .any(|(&(_, a), _)| a == addr || a.is_unspecified() || addr.is_unspecified());
        if clash {
            return Err(TcpError::AddrInUse);
        }
        let id = self.alloc(Sock::listener(SocketAddrV4::new(addr, port)));
        self.listeners.insert((port, addr), id.slot);
        Ok(id)
    }

    /// Closes a listener (the service stopped): its pending handshakes are dropped
    /// silently (`inet_csk_listen_stop`) and later SYNs to the port get RST.
    pub fn close_listener(&mut self, id: SockId) {
        let Some(local) = self.sock(id).filter(|s| s.state == TcpState::Listen).map(|s| s.local) else {
            return;
        };
        self.listeners.remove(&(local.port(), *local.ip()));
        let children: Vec<u32> = (0..self.slots.len() as u32)
            .filter(|&i| self.slots[i as usize].sock.as_ref().is_some_and(|s| s.is_request_of(id)))
            .collect();
        for slot in children {
            self.release(slot);
        }
        self.release(id.slot);
        self.finish();
    }

    /// `connect()` from `src` (the source address routing chose) to `dst`. `mss` is the
    /// route's MTU − 40: the MSS we advertise and the first cap on what we send (Linux
    /// advertises the device MTU − 40 even under a smaller cached PMTU). The port comes
    /// from `ip_local_port_range`, never one a listener holds nor a 4-tuple in use.
    pub fn connect(&mut self, now: Instant, src: Ipv4Addr, dst: SocketAddrV4, mss: u16) -> Result<SockId, TcpError> {
        let port = self.pick_port(src, dst).ok_or(TcpError::AddrNotAvail)?;
        let local = SocketAddrV4::new(src, port);
        let iss = self.isn(now, local, dst);
        let id = self.alloc(Sock::connect(local, dst, iss, mss));
        self.conns.insert(ConnKey::new(local, dst), id.slot);
        self.with_sock(now, id.slot, |s, cx| {
            s.send_syn(cx);
            Verdict::Keep
        });
        self.finish();
        Ok(id)
    }

    /// Queues `data` (`write()`); sent as the window, cwnd and Nagle allow. Ignored on
    /// a socket that can no longer send (EPIPE).
    pub fn send(&mut self, now: Instant, id: SockId, data: &[u8]) {
        if self.sock(id).is_some() {
            self.with_sock(now, id.slot, |s, cx| {
                s.app_send(cx, data);
                Verdict::Keep
            });
        }
        self.finish();
    }

    /// `close()`: FIN after the queued data; before the handshake completes the attempt
    /// is just dropped (`tcp_close`). On a listener, as [`TcpStack::close_listener`].
    pub fn close(&mut self, now: Instant, id: SockId) {
        match self.sock(id).map(|s| s.state) {
            Some(TcpState::Listen) => return self.close_listener(id),
            Some(_) => {
                self.with_sock(now, id.slot, |s, cx| s.app_close(cx));
            }
            None => {}
        }
        self.finish();
    }

    /// Aborts with RST where `tcp_disconnect` sends one (SO_LINGER 0, `curl --max-time`).
    pub fn abort(&mut self, now: Instant, id: SockId) {
        match self.sock(id).map(|s| s.state) {
            Some(TcpState::Listen) => return self.close_listener(id),
            Some(_) => {
                self.with_sock(now, id.slot, |s, cx| s.app_abort(cx));
            }
            None => {}
        }
        self.finish();
    }

    /// A TCP segment for a local address (`tcp_v4_rcv`). The host has checked the
    /// checksum. `route_mss` is the MTU − 40 of the route back to `src` (device MTU or
    /// learned PMTU): a new passive connection advertises and caps its MSS with it.
    pub fn on_segment(&mut self, now: Instant, src: Ipv4Addr, dst: Ipv4Addr, seg: &Tcp, route_mss: u16) {
        let local = SocketAddrV4::new(dst, seg.dport);
        let remote = SocketAddrV4::new(src, seg.sport);
        let listener = |l: &BTreeMap<(u16, Ipv4Addr), u32>| {
            l.get(&(seg.dport, dst)).or_else(|| l.get(&(seg.dport, Ipv4Addr::UNSPECIFIED))).copied()
        };
        let mut recycle_isn = None;
        if let Some(&slot) = self.conns.get(&ConnKey::new(local, remote)) {
            match self.with_sock(now, slot, |s, cx| s.on_segment(cx, seg)) {
                Some(Verdict::Listener) => {}
                // TCP_TW_SYN: a listener takes the SYN, else TIME_WAIT just ACKs it.
                Some(Verdict::Recycle { isn }) if listener(&self.listeners).is_some() => {
                    self.release(slot);
                    recycle_isn = Some(isn);
                }
                Some(Verdict::Recycle { .. }) => {
                    self.with_sock(now, slot, |s, cx| s.timewait_ack(cx));
                    return self.finish();
                }
                _ => return self.finish(),
            }
        }
        match listener(&self.listeners) {
            Some(lslot) => self.listen_input(now, lslot, local, remote, seg, route_mss, recycle_isn),
            None => {
                let why = if seg.has(TCP_SYN) && seg.has(TCP_ACK) {
                    Why::RstUnexpectedSynAck { local }
                } else if seg.has(TCP_SYN) {
                    Why::RstClosedPort { local }
                } else {
                    Why::RstNoSocket { local }
                };
                self.out.extend(reset_reply(local, remote, seg, why));
            }
        }
        self.finish();
    }

    /// An ICMP error about a TCP segment we sent (`tcp_v4_err`); `mtu` is the next-hop
    /// MTU of FRAG_NEEDED. The host updates its own route PMTU; this adjusts the socket.
    pub fn on_icmp_error(&mut self, now: Instant, typ: u8, code: u8, mtu: u16, about: &Embedded) {
        let (Some((sport, dport)), Some(seq)) = (about.ports, about.tcp_seq) else {
            return;
        };
        if about.proto != IPPROTO_TCP {
            return;
        }
        let key = ConnKey::new(SocketAddrV4::new(about.src, sport), SocketAddrV4::new(about.dst, dport));
        if let Some(&slot) = self.conns.get(&key) {
            self.with_sock(now, slot, |s, cx| s.on_icmp_error(cx, typ, code, mtu, seq));
        }
        self.finish();
    }

    /// The path MTU towards `dst` changed (learned, expired, or `ip route ... mtu`):
    /// sockets to it size new segments accordingly (`tcp_sync_mss`).
    pub fn set_path_mtu(&mut self, now: Instant, dst: Ipv4Addr, mtu: u16) {
        for slot in 0..self.slots.len() as u32 {
            if self.slots[slot as usize].sock.as_ref().is_some_and(|s| *s.remote.ip() == dst) {
                self.with_sock(now, slot, |s, cx| {
                    s.set_path_mtu(cx, mtu);
                    Verdict::Keep
                });
            }
        }
        self.finish();
    }

    /// Runs every timer due at `now`.
    pub fn on_timer(&mut self, now: Instant) {
        loop {
            self.tidy();
            let Some(&Reverse((t, slot, _))) = self.timers.peek() else { break };
            if t > now {
                break;
            }
            self.timers.pop();
            // tidy() made the top live: the socket exists and has this generation.
            if let Some(s) = self.slots[slot as usize].sock.as_mut() {
                s.queued = None;
            }
            self.with_sock(now, slot, |s, cx| s.on_timer(cx));
        }
        self.finish();
    }

    /// The earliest instant [`TcpStack::on_timer`] has work to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Peers whose ACKs acknowledged new data since the last call: the host
    /// confirms their neighbour entries (`dst_confirm_neigh`).
    pub fn take_confirmed(&mut self) -> Vec<Ipv4Addr> {
        std::mem::take(&mut self.confirmed)
    }

    /// Whether segments are waiting in [`TcpStack::poll_output`].
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// Segments to send, in order.
    pub fn poll_output(&mut self) -> std::vec::Drain<'_, SegOut> {
        self.out.drain(..)
    }

    /// Whether [`TcpStack::poll_events`] has anything.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// What the applications learn, in order.
    pub fn poll_events(&mut self) -> std::vec::Drain<'_, TcpEvent> {
        self.events.drain(..)
    }

    /// The sockets, for an `ss -tan`-like listing (in creation-slot order).
    pub fn sockets(&self) -> impl Iterator<Item = SockInfo> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, slot)| {
            slot.sock.as_ref().map(|s| SockInfo {
                id: SockId { slot: i as u32, generation: slot.generation },
                state: s.state,
                local: s.local,
                peer: s.remote,
                send_q: s.send_q(),
            })
        })
    }

    /// Whether a SYN from `remote` to `local` would go to a listening socket's
    /// `tcp_conn_request` (no socket holds the 4-tuple, a listener has the port).
    pub fn syn_goes_to_listener(&self, local: SocketAddrV4, remote: SocketAddrV4) -> bool {
        !self.conns.contains_key(&ConnKey::new(local, remote))
            && (self.listeners.contains_key(&(local.port(), *local.ip()))
                || self.listeners.contains_key(&(local.port(), Ipv4Addr::UNSPECIFIED)))
    }

    /// The state of a socket, `None` once it is gone (CLOSED).
    pub fn state(&self, id: SockId) -> Option<TcpState> {
        self.sock(id).map(|s| s.state)
    }

    fn sock(&self, id: SockId) -> Option<&Sock> {
        self.slots.get(id.slot as usize).filter(|s| s.generation == id.generation)?.sock.as_ref()
    }

    fn alloc(&mut self, sock: Sock) -> SockId {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot { generation: 0, sock: None });
                self.slots.len() as u32 - 1
            }
        };
        let s = &mut self.slots[slot as usize];
        s.sock = Some(sock);
        SockId { slot, generation: s.generation }
    }

    /// Frees a slot: unhashes the socket; its heap entries go stale with the generation.
    fn release(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        if let Some(sock) = s.sock.take() {
            if sock.state == TcpState::Listen {
                self.listeners.remove(&(sock.local.port(), *sock.local.ip()));
            } else {
                self.conns.remove(&ConnKey::new(sock.local, sock.remote));
            }
            s.generation = s.generation.wrapping_add(1);
            self.free.push(slot);
        }
    }

    /// Runs `f` on the socket in `slot` with a context, then applies its verdict:
    /// frees the socket, or mirrors its timer into the heap.
    fn with_sock(
        &mut self,
        now: Instant,
        slot: u32,
        f: impl FnOnce(&mut Sock, &mut Ctx) -> Verdict,
    ) -> Option<Verdict> {
        let generation = self.slots[slot as usize].generation;
        let sock = self.slots[slot as usize].sock.as_mut()?;
        let id = SockId { slot, generation };
        let mut cx = Ctx { now, id, conf: &self.conf, out: &mut self.out, events: &mut self.events, progress: false };
        let v = f(sock, &mut cx);
        if cx.progress {
            self.confirmed.push(*sock.remote.ip());
        }
        match v {
            Verdict::Free => self.release(slot),
            Verdict::Keep | Verdict::Listener | Verdict::Recycle { .. } => self.sync_timer(slot),
        }
        Some(v)
    }

    /// Pushes the socket's next timer into the heap when it is earlier than what the
    /// heap already holds for it (later deadlines are found when the old entry pops).
    fn sync_timer(&mut self, slot: u32) {
        let generation = self.slots[slot as usize].generation;
        let Some(s) = self.slots[slot as usize].sock.as_mut() else { return };
        if let Some(t) = s.next_timer()
            && s.queued.is_none_or(|q| t < q)
        {
            s.queued = Some(t);
            self.timers.push(Reverse((t, slot, generation)));
        }
    }

    /// Makes the heap's top entry live: drops entries of freed sockets and superseded
    /// entries, and re-queues sockets whose deadline moved later.
    fn tidy(&mut self) {
        while let Some(&Reverse((t, slot, generation))) = self.timers.peek() {
            let s = &mut self.slots[slot as usize];
            match s.sock.as_mut() {
                Some(sock) if s.generation == generation && sock.queued == Some(t) => {
                    if sock.next_timer() == Some(t) {
                        return;
                    }
                    self.timers.pop();
                    sock.queued = None;
                    if let Some(next) = sock.next_timer() {
                        sock.queued = Some(next);
                        self.timers.push(Reverse((next, slot, generation)));
                    }
                }
                _ => {
                    self.timers.pop();
                }
            }
        }
    }

    fn finish(&mut self) {
        self.tidy();
    }

    /// `tcp_rcv_state_process` in LISTEN, and `tcp_conn_request` for a SYN.
    #[allow(clippy::too_many_arguments)]
    fn listen_input(
        &mut self,
        now: Instant,
        lslot: u32,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Tcp,
        route_mss: u16,
        recycle_isn: Option<u32>,
    ) {
        if seg.has(TCP_ACK) {
            self.out.extend(reset_reply(local, remote, seg, Why::RstListenAck));
            return;
        }
        if seg.has(TCP_RST) || !seg.has(TCP_SYN) || seg.has(TCP_FIN) {
            return;
        }
        let listener = SockId { slot: lslot, generation: self.slots[lslot as usize].generation };
        let iss = recycle_isn.unwrap_or_else(|| self.isn(now, local, remote));
        let id = self.alloc(Sock::request(listener, local, remote, seg, iss, route_mss));
        self.conns.insert(ConnKey::new(local, remote), id.slot);
        self.with_sock(now, id.slot, |s, cx| {
            s.send_synack(cx, Why::SynAck);
            Verdict::Keep
        });
    }

    /// `secure_tcp_seq`: a keyed hash of the 4-tuple plus a 64 ns clock, so a reused
    /// 4-tuple gets a later ISN (what lets TIME_WAIT accept a new SYN).
    fn isn(&self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        let k = ConnKey::new(local, remote);
        let h = mix64(mix64(self.isn_secret ^ k.0) ^ k.1);
        (h as u32).wrapping_add((now.nanos() >> 6) as u32)
    }

    /// `__inet_hash_connect`: start at a keyed hash of (src, dst, dport) plus the
    /// perturbation table, try ports of the range's parity first, two by two, skipping
    /// listening ports and 4-tuples in use; then bump the table by a little randomness.
    fn pick_port(&mut self, src: Ipv4Addr, dst: SocketAddrV4) -> Option<u16> {
        let (lo, hi) = self.conf.local_port_range;
        let (low, high) = (u32::from(lo.min(hi)), u32::from(lo.max(hi)) + 1);
        let mut remaining = high - low;
        if remaining > 1 {
            remaining &= !1;
        }
        let h = mix64(mix64(self.port_secret ^ u64::from(src.to_bits())) ^ ConnKey::new(dst, dst).0);
        let index = (h & 0xff) as usize;
        let mut offset = self.perturb[index].wrapping_add((h >> 32) as u32) % remaining;
        offset &= !1;
        loop {
            let mut port = low + offset;
            let mut i = 0;
            while i < remaining {
                if port >= high {
                    port -= remaining;
                }
                let p = port as u16;
                let listening = self.listeners.range((p, Ipv4Addr::UNSPECIFIED)..=(p, Ipv4Addr::BROADCAST)).next();
                if listening.is_none() && !self.conns.contains_key(&ConnKey::new(SocketAddrV4::new(src, p), dst)) {
                    let jitter = rng::below(&mut self.rng, 8) * 2;
                    self.perturb[index] = self.perturb[index].wrapping_add(i.max(jitter) + 2);
                    return Some(p);
                }
                i += 2;
                port += 2;
            }
            offset += 1;
            if offset & 1 == 0 || remaining <= 1 {
                return None;
            }
        }
    }
}

/// `before()` of `include/net/tcp.h`: sequence comparison modulo 2^32.
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

/// `between(seq1, seq2, seq3)`: seq2 <= seq1 <= seq3 modulo 2^32.
fn between(seq: u32, lo: u32, hi: u32) -> bool {
    hi.wrapping_sub(lo) >= seq.wrapping_sub(lo)
}
