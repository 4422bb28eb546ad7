//! One socket's state machine: `tcp_rcv_state_process` and friends, the output path
//! (`tcp_write_xmit`, `tcp_retransmit_skb`) and the timers (`tcp_retransmit_timer`,
//! `tcp_probe_timer`, `reqsk_timer_handler`, TIME_WAIT and FIN_WAIT2).

use super::{
    CloseReason, DELACK, INIT_CWND, MIN_PMTU, MIN_SND_MSS, MSS_DEFAULT, OOW_RATELIMIT, RTO_MAX, RTO_MIN, SegOut,
    SockId, TIMEOUT_FALLBACK, TIMEOUT_INIT, TIMEOUT_MIN, TIMEWAIT_LEN, TcpConf, TcpEvent, TcpState, Why, after, before,
    between, reset_reply,
};
use crate::time::{Duration, Instant};
use crate::wire::ip::{
    ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_HOST_UNREACH, ICMP_NET_UNREACH, ICMP_TIME_EXCEEDED, TCP_ACK, TCP_FIN,
    TCP_PSH, TCP_RST, TCP_SYN, Tcp,
};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

/// ICMP parameter problem (`ICMP_PARAMETERPROB`).
const ICMP_PARAMETERPROB: u8 = 12;
/// `TCP_INFINITE_SSTHRESH`.
const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;
/// At most this many out-of-order segments are kept (stands in for `tcp_prune_ofo_queue`).
const OFO_MAX: usize = 64;

/// What the stack gets from a socket's own processing.
pub(super) struct Ctx<'a> {
    pub now: Instant,
    pub id: SockId,
    pub conf: &'a TcpConf,
    pub out: &'a mut Vec<SegOut>,
    pub events: &'a mut Vec<TcpEvent>,
    /// Set when an ACK acknowledged new data: the peer is reachable
    /// (`tcp_ack` → `sk_dst_confirm` on FLAG_FORWARD_PROGRESS).
    pub progress: bool,
}

/// What the stack does with the socket afterwards.
pub(super) enum Verdict {
    Keep,
    /// The socket reached CLOSED: unhash it and free its slot.
    Free,
    /// `tcp_check_req` handed the segment back to the listener (an ACK that does not
    /// match the request): the listener answers it.
    Listener,
    /// TIME_WAIT accepts a new SYN (`TCP_TW_SYN`): if a listener is there, the stack
    /// frees this socket and the listener takes the SYN with this ISN.
    Recycle {
        isn: u32,
    },
}

/// Congestion avoidance state (`icsk_ca_state`), without Disorder/CWR.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ca {
    Open,
    Recovery,
    Loss,
}

/// A sent, unacknowledged segment (an skb of the retransmit queue).
struct TxSeg {
    seq: u32,
    /// Payload bytes; SYN and FIN add one sequence number each.
    len: u32,
    syn: bool,
    fin: bool,
    psh: bool,
    /// Time of the last transmission (`skb_mstamp`).
    sent_at: Instant,
    /// `TCPCB_RETRANS`: retransmitted at least once, so no RTT sample (Karn).
    retrans: bool,
    /// Marked lost and waiting to be retransmitted.
    lost: bool,
}

impl TxSeg {
    fn end(&self) -> u32 {
        self.seq.wrapping_add(self.len + u32::from(self.syn) + u32::from(self.fin))
    }
}

/// An out-of-order segment waiting for the hole before it.
struct OfoSeg {
    seq: u32,
    data: Vec<u8>,
    fin: bool,
}

/// `icmp_err_convert[]`: the error for an ICMP_DEST_UNREACH code (its `fatal` flag
/// is not used by `tcp_v4_err`).
fn icmp_err_convert(code: u8) -> CloseReason {
    match code {
        2 | 3 => CloseReason::Refused,
        _ => CloseReason::Unreachable,
    }
}

/// `tcp_model_timeout`: how long `boundary` exponentially backed-off retransmissions
/// starting at `base` take, with the RTO capped at `TCP_RTO_MAX`.
fn model_timeout(boundary: u32, base: Duration) -> Duration {
    let ratio = (RTO_MAX.as_millis() / base.as_millis().max(1)).max(1);
    let thresh = ratio.ilog2();
    if boundary <= thresh {
        base * ((2u32 << boundary) - 1)
    } else {
        base * ((2u32 << thresh) - 1) + RTO_MAX * (boundary - thresh)
    }
}

/// `usecs_to_jiffies` at HZ=1000: microseconds rounded up to whole milliseconds.
fn jiffies(us: u64) -> Duration {
    Duration::from_millis(us.div_ceil(1000))
}

/// `inet_csk_rto_backoff`: `rto << backoff`, capped.
fn backed_off(rto: Duration, backoff: u32, max: Duration) -> Duration {
    rto.checked_mul(1u32 << backoff.min(16)).unwrap_or(max).min(max)
}

/// The receive window Linux offers without window scaling: the receive space rounded
/// down to a multiple of the MSS (`tcp_select_initial_window`), 64240 for MSS 1460.
fn window_for(mss: u16) -> u32 {
    let mss = u32::from(mss.max(1));
    ((65536 / mss) * mss).min(65535)
}

pub(super) struct Sock {
    pub state: TcpState,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    /// The listener of a passive open.
    listener: Option<SockId>,
    /// The application holds the socket and has not been told it closed.
    app: bool,
    /// `SOCK_DEAD`: the application called `close()`.
    orphan: bool,
    /// RCV_SHUTDOWN from the peer's FIN.
    fin_rcvd: bool,

    iss: u32,
    irs: u32,
    snd_una: u32,
    snd_nxt: u32,
    snd_wnd: u32,
    snd_wl1: u32,
    max_window: u32,
    bytes_acked: u64,
    /// Unacknowledged and unsent bytes; `buf[0]` has sequence number `buf_seq`.
    buf: VecDeque<u8>,
    buf_seq: u32,
    /// `close()` queued a FIN after the data.
    fin_queued: bool,
    rtx: VecDeque<TxSeg>,
    lost_out: u32,
    lost_why: Why,

    /// `mss_clamp`: the peer's MSS option (536 without one).
    peer_mss: u16,
    /// `icsk_pmtu_cookie`: the path MTU the send MSS was computed for.
    pmtu: u16,
    /// `mss_cache`: the send MSS.
    mss: u16,
    /// The MSS we advertise (`advmss`).
    adv_mss: u16,
    /// `icsk_ack.rcv_mss`: estimate of the peer's segment size.
    rcv_mss: u16,

    cwnd: u32,
    ssthresh: u32,
    cwnd_cnt: u32,
    dupacks: u32,
    high_seq: u32,
    ca: Ca,
    /// `snd_sml`: end of the last small segment sent (Minshall's Nagle).
    snd_sml: u32,
    total_retrans: u32,

    srtt_us: u32,
    mdev_us: u32,
    mdev_max_us: u32,
    rttvar_us: u32,
    rtt_seq: u32,
    /// `icsk_rto`, backoff included.
    rto: Duration,
    backoff: u32,
    retransmits: u32,
    /// When the first segment of the current retransmission episode was first sent.
    retrans_stamp: Option<Instant>,
    probes_out: u32,
    /// `sk_err_soft`: reported instead of ETIMEDOUT if retransmissions give up.
    soft_err: Option<CloseReason>,
    last_oow_ack: Option<Instant>,
    /// When the last acceptable ACK arrived (`rcv_tstamp`).
    rcv_tstamp: Instant,

    rcv_nxt: u32,
    /// `rcv_wup`: `rcv_nxt` when we last sent an ACK.
    rcv_wup: u32,
    rcv_wnd: u32,
    ofo: Vec<OfoSeg>,
    /// An ACK owed now, and why.
    ack_why: Option<Why>,
    /// Delayed ACK (only after a FIN: `tcp_fin` enters pingpong mode).
    pingpong: bool,
    delack: Option<Instant>,

    /// Retransmit, probe, SYN-ACK, FIN_WAIT2 or TIME_WAIT deadline.
    deadline: Option<Instant>,
    /// The deadline the stack's timer heap holds a live entry for.
    pub queued: Option<Instant>,
}

impl Sock {
    fn blank(state: TcpState, local: SocketAddrV4, remote: SocketAddrV4, mss: u16) -> Sock {
        let mss = mss.max(MIN_SND_MSS);
        Sock {
            state,
            local,
            remote,
            listener: None,
            app: false,
            orphan: false,
            fin_rcvd: false,
            iss: 0,
            irs: 0,
            snd_una: 0,
            snd_nxt: 0,
            snd_wnd: 0,
            snd_wl1: 0,
            max_window: 0,
            bytes_acked: 0,
            buf: VecDeque::new(),
            buf_seq: 0,
            fin_queued: false,
            rtx: VecDeque::new(),
            lost_out: 0,
            lost_why: Why::LossRetransmit,
            peer_mss: MSS_DEFAULT,
            pmtu: mss.saturating_add(40),
            mss: mss.min(MSS_DEFAULT),
            adv_mss: mss,
            rcv_mss: mss.min(MSS_DEFAULT),
            cwnd: INIT_CWND,
            ssthresh: INFINITE_SSTHRESH,
            cwnd_cnt: 0,
            dupacks: 0,
            high_seq: 0,
            ca: Ca::Open,
            snd_sml: 0,
            total_retrans: 0,
            srtt_us: 0,
            mdev_us: 0,
            mdev_max_us: 0,
            rttvar_us: 0,
            rtt_seq: 0,
            rto: TIMEOUT_INIT,
            backoff: 0,
            retransmits: 0,
            retrans_stamp: None,
            probes_out: 0,
            soft_err: None,
            last_oow_ack: None,
            rcv_tstamp: Instant::ZERO,
            rcv_nxt: 0,
            rcv_wup: 0,
            rcv_wnd: window_for(mss),
            ofo: Vec::new(),
            ack_why: None,
            pingpong: false,
            delack: None,
            deadline: None,
            queued: None,
        }
    }

    pub fn listener(local: SocketAddrV4) -> Sock {
        Sock::blank(TcpState::Listen, local, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0), MSS_DEFAULT)
    }

    /// `tcp_v4_connect` + `tcp_connect_init`.
    pub fn connect(local: SocketAddrV4, remote: SocketAddrV4, iss: u32, mss: u16) -> Sock {
        let mut s = Sock::blank(TcpState::SynSent, local, remote, mss);
        s.app = true;
        s.set_iss(iss);
        s
    }

    /// A request socket (`tcp_conn_request` / `tcp_openreq_init`) for `seg`, a SYN.
    pub fn request(
        listener: SockId,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Tcp,
        iss: u32,
        route_mss: u16,
    ) -> Sock {
        let mut s = Sock::blank(TcpState::SynRecv, local, remote, route_mss);
        s.listener = Some(listener);
        s.set_iss(iss);
        s.take_syn(seg);
        s
    }

    fn set_iss(&mut self, iss: u32) {
        self.iss = iss;
        self.snd_una = iss;
        self.snd_nxt = iss;
        self.snd_sml = iss;
        self.buf_seq = iss.wrapping_add(1);
        self.high_seq = iss;
    }

    /// Takes the peer's SYN: its sequence number, window and MSS option.
    fn take_syn(&mut self, seg: &Tcp) {
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq.wrapping_add(1);
        self.rcv_wup = self.rcv_nxt;
        self.snd_wnd = u32::from(seg.window);
        self.max_window = self.snd_wnd;
        self.snd_wl1 = seg.seq;
        self.peer_mss = seg.mss.unwrap_or(MSS_DEFAULT);
        self.sync_mss();
    }

    pub fn is_request_of(&self, listener: SockId) -> bool {
        self.state == TcpState::SynRecv && self.listener == Some(listener)
    }

    pub fn next_timer(&self) -> Option<Instant> {
        match (self.deadline, self.delack) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn send_q(&self) -> u32 {
        self.buf.len() as u32
    }

    fn write_seq(&self) -> u32 {
        self.buf_seq.wrapping_add(self.buf.len() as u32).wrapping_add(u32::from(self.fin_queued))
    }

    /// Sequence space queued but not yet sent (data, then the FIN).
    fn unsent(&self) -> u32 {
        self.write_seq().wrapping_sub(self.snd_nxt)
    }

    fn in_flight(&self) -> u32 {
        (self.rtx.len() as u32).saturating_sub(self.lost_out)
    }

    /// `tcp_sync_mss`: the send MSS for the path MTU, clamped by the peer's MSS.
    fn sync_mss(&mut self) {
        self.mss = self.pmtu.saturating_sub(40).min(self.peer_mss).max(MIN_SND_MSS);
    }

    // ----- output -------------------------------------------------------------

    fn emit(&mut self, cx: &mut Ctx, seq: u32, flags: u8, payload: Vec<u8>, why: Why) {
        let ack = if flags & TCP_ACK != 0 {
            self.ack_why = None;
            self.delack = None;
            self.rcv_wup = self.rcv_nxt;
            self.rcv_nxt
        } else {
            0
        };
        let mss = (flags & TCP_SYN != 0).then_some(self.adv_mss);
        cx.out.push(SegOut {
            src: self.local,
            dst: self.remote,
            seq,
            ack,
            flags,
            window: self.rcv_wnd as u16,
            mss,
            payload,
            why,
        });
    }

    fn send_ack(&mut self, cx: &mut Ctx, why: Why) {
        self.emit(cx, self.snd_nxt, TCP_ACK, Vec::new(), why);
    }

    /// `__tcp_oow_rate_limited`: one out-of-window answer per `tcp_invalid_ratelimit`.
    fn oow_limited(&mut self, now: Instant) -> bool {
        if self.last_oow_ack.is_some_and(|t| now.since(t) < OOW_RATELIMIT) {
            return true;
        }
        self.last_oow_ack = Some(now);
        false
    }

    /// `tcp_oow_rate_limited`: segments with data (not SYN) are always answered.
    fn oow_rate_limited(&mut self, now: Instant, seg: &Tcp) -> bool {
        if seg.seg_len() > 0 && !seg.has(TCP_SYN) {
            return false;
        }
        self.oow_limited(now)
    }

    /// `tcp_send_challenge_ack` (RFC 5961), rate limited per socket.
    fn challenge_ack(&mut self, cx: &mut Ctx) {
        if !self.oow_limited(cx.now) {
            self.send_ack(cx, Why::ChallengeAck);
        }
    }

    fn copy_out(&self, seq: u32, len: u32) -> Vec<u8> {
        let off = seq.wrapping_sub(self.buf_seq) as usize;
        let end = off.saturating_add(len as usize).min(self.buf.len());
        let mut v = Vec::with_capacity(end.saturating_sub(off));
        if off < end {
            let (a, b) = self.buf.as_slices();
            if off < a.len() {
                v.extend_from_slice(&a[off..end.min(a.len())]);
            }
            if end > a.len() {
                v.extend_from_slice(&b[off.saturating_sub(a.len())..end - a.len()]);
            }
        }
        v
    }

    pub fn send_syn(&mut self, cx: &mut Ctx) {
        self.queue_syn(cx.now);
        self.emit(cx, self.iss, TCP_SYN, Vec::new(), Why::Syn);
        self.deadline = Some(cx.now + self.rto);
    }

    pub fn send_synack(&mut self, cx: &mut Ctx, why: Why) {
        self.queue_syn(cx.now);
        self.emit(cx, self.iss, TCP_SYN | TCP_ACK, Vec::new(), why);
        self.deadline = Some(cx.now + TIMEOUT_INIT);
    }

    fn queue_syn(&mut self, now: Instant) {
        let seg = TxSeg {
            seq: self.iss,
            len: 0,
            syn: true,
            fin: false,
            psh: false,
            sent_at: now,
            retrans: false,
            lost: false,
        };
        self.rtx.push_back(seg);
        self.snd_nxt = self.iss.wrapping_add(1);
    }

    /// Sends `len` new bytes (and the FIN if `fin`) at `snd_nxt`.
    fn send_new(&mut self, cx: &mut Ctx, len: u32, fin: bool, psh: bool, why: Why) {
        let seq = self.snd_nxt;
        let payload = self.copy_out(seq, len);
        let seg = TxSeg { seq, len, syn: false, fin, psh, sent_at: cx.now, retrans: false, lost: false };
        let end = seg.end();
        if self.rtx.is_empty() {
            // tcp_event_new_data_sent: the first packet out arms the RTO.
            self.deadline = Some(cx.now + self.rto);
        }
        self.rtx.push_back(seg);
        if len < u32::from(self.mss) {
            self.snd_sml = end;
        }
        self.snd_nxt = end;
        let flags = TCP_ACK | if psh { TCP_PSH } else { 0 } | if fin { TCP_FIN } else { 0 };
        self.emit(cx, seq, flags, payload, why);
    }

    /// `tcp_retransmit_skb` of the `i`-th queued segment, cut to the current MSS first
    /// (`tcp_fragment`); the rest stays queued with the same marks.
    fn retransmit(&mut self, cx: &mut Ctx, i: usize, why: Why) {
        let mss = u32::from(self.mss);
        let Some(s) = self.rtx.get_mut(i) else { return };
        if s.len > mss {
            let rest = TxSeg {
                seq: s.seq.wrapping_add(mss),
                len: s.len - mss,
                syn: false,
                fin: s.fin,
                psh: s.psh,
                sent_at: s.sent_at,
                retrans: s.retrans,
                lost: s.lost,
            };
            s.len = mss;
            s.fin = false;
            s.psh = false;
            if rest.lost {
                self.lost_out += 1;
            }
            self.rtx.insert(i + 1, rest);
        }
        let Some(s) = self.rtx.get_mut(i) else { return };
        if self.retrans_stamp.is_none() {
            self.retrans_stamp = Some(s.sent_at);
        }
        if s.lost {
            s.lost = false;
            self.lost_out = self.lost_out.saturating_sub(1);
        }
        s.retrans = true;
        s.sent_at = cx.now;
        self.total_retrans += 1;
        let (seq, len) = (s.seq, s.len);
        let flags = if s.syn {
            TCP_SYN | if self.state == TcpState::SynSent { 0 } else { TCP_ACK }
        } else {
            TCP_ACK | if s.psh { TCP_PSH } else { 0 } | if s.fin { TCP_FIN } else { 0 }
        };
        let payload = self.copy_out(seq, len);
        self.emit(cx, seq, flags, payload, why);
    }

    /// `tcp_xmit_retransmit_queue` then `tcp_write_xmit`: lost segments first, then new
    /// data as cwnd, the peer's window and Nagle allow; arms the probe timer when only
    /// the window holds data back (`tcp_check_probe_timer`).
    fn push(&mut self, cx: &mut Ctx) {
        if !matches!(
            self.state,
            TcpState::Established | TcpState::CloseWait | TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck
        ) {
            return;
        }
        let mut i = 0;
        while self.lost_out > 0 && i < self.rtx.len() && self.in_flight() < self.cwnd {
            if self.rtx[i].lost {
                self.retransmit(cx, i, self.lost_why);
            }
            i += 1;
        }
        let mss = u32::from(self.mss);
        while self.unsent() > 0 && self.in_flight() < self.cwnd {
            let data_left = self.unsent().saturating_sub(u32::from(self.fin_queued));
            let len = data_left.min(mss);
            let fin = self.fin_queued && len == data_left;
            let end = self.snd_nxt.wrapping_add(len + u32::from(fin));
            if after(end, self.snd_una.wrapping_add(self.snd_wnd)) {
                break;
            }
            // tcp_nagle_test with tcp_minshall_check: hold a small segment while an
            // earlier small one is unacknowledged (the FIN is exempt).
            if len < mss && !fin && after(self.snd_sml, self.snd_una) && !after(self.snd_sml, self.snd_nxt) {
                break;
            }
            let why = if len == 0 { Why::Fin } else { Why::Data };
            self.send_new(cx, len, fin, len > 0 && len == data_left, why);
        }
        if self.rtx.is_empty() && self.unsent() > 0 && self.deadline.is_none() {
            self.deadline = Some(cx.now + self.rto.max(RTO_MIN));
        }
    }

    /// `tcp_ack_snd_check`: the owed ACK, delayed in pingpong mode for less than a
    /// full segment (`__tcp_ack_snd_check`).
    fn ack_snd_check(&mut self, cx: &mut Ctx) {
        let Some(why) = self.ack_why.take() else { return };
        if why == Why::Ack && self.pingpong && self.rcv_nxt.wrapping_sub(self.rcv_wup) <= u32::from(self.rcv_mss) {
            self.delack.get_or_insert(cx.now + DELACK);
        } else {
            self.send_ack(cx, why);
        }
    }

    // ----- application calls --------------------------------------------------

    pub fn app_send(&mut self, cx: &mut Ctx, data: &[u8]) {
        if data.is_empty() || self.fin_queued || self.orphan {
            return;
        }
        if matches!(self.state, TcpState::SynSent | TcpState::Established | TcpState::CloseWait) {
            self.buf.extend(data);
            self.push(cx);
        }
    }

    /// `tcp_close`: FIN_WAIT1/LAST_ACK with a FIN after the data (`tcp_close_state`);
    /// a connection not yet established just goes away.
    pub fn app_close(&mut self, cx: &mut Ctx) -> Verdict {
        if self.orphan {
            return Verdict::Keep;
        }
        self.orphan = true;
        match self.state {
            TcpState::SynSent | TcpState::SynRecv => return self.done(cx, CloseReason::Aborted),
            TcpState::Established => self.state = TcpState::FinWait1,
            TcpState::CloseWait => self.state = TcpState::LastAck,
            _ => return Verdict::Keep,
        }
        self.fin_queued = true;
        self.push(cx);
        Verdict::Keep
    }

    /// `tcp_disconnect`: RST|ACK in the states `tcp_need_reset` names, then CLOSED.
    pub fn app_abort(&mut self, cx: &mut Ctx) -> Verdict {
        match self.state {
            TcpState::TimeWait => return Verdict::Keep,
            TcpState::Established
            | TcpState::CloseWait
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::SynRecv => {
                // tcp_acceptable_seq
                let wnd_end = self.snd_una.wrapping_add(self.snd_wnd);
                let seq = if before(wnd_end, self.snd_nxt) { wnd_end } else { self.snd_nxt };
                self.emit(cx, seq, TCP_RST | TCP_ACK, Vec::new(), Why::RstAbort);
            }
            _ => {}
        }
        self.done(cx, CloseReason::Aborted)
    }

    /// `tcp_done`: CLOSED, telling the application why.
    fn done(&mut self, cx: &mut Ctx, reason: CloseReason) -> Verdict {
        if self.app {
            self.app = false;
            cx.events.push(TcpEvent::Closed(cx.id, reason));
        }
        Verdict::Free
    }

    /// `tcp_reset`: a valid RST arrived.
    fn reset(&mut self, cx: &mut Ctx) -> Verdict {
        let reason = if self.state == TcpState::SynSent { CloseReason::Refused } else { CloseReason::Reset };
        self.done(cx, reason)
    }

    /// `tcp_time_wait`: TIME_WAIT for `TCP_TIMEWAIT_LEN` (or 3.5 RTO if longer).
    fn time_wait(&mut self, cx: &mut Ctx) {
        self.state = TcpState::TimeWait;
        self.rtx.clear();
        self.lost_out = 0;
        self.buf.clear();
        self.ofo.clear();
        self.delack = None;
        let rto35 = self.rto * 7 / 2;
        self.deadline = Some(cx.now + TIMEWAIT_LEN.max(rto35));
        if self.app {
            self.app = false;
            cx.events.push(TcpEvent::Closed(cx.id, CloseReason::Normal));
        }
    }

    // ----- input --------------------------------------------------------------

    pub fn on_segment(&mut self, cx: &mut Ctx, seg: &Tcp) -> Verdict {
        match self.state {
            TcpState::Listen => Verdict::Keep,
            TcpState::SynSent => self.synsent_input(cx, seg),
            TcpState::TimeWait => self.timewait_input(cx, seg),
            TcpState::SynRecv if self.listener.is_some() => match self.check_req(cx, seg) {
                Some(v) => v,
                None => self.rcv_state_process(cx, seg),
            },
            _ => self.rcv_state_process(cx, seg),
        }
    }

    /// `tcp_rcv_synsent_state_process`.
    fn synsent_input(&mut self, cx: &mut Ctx, seg: &Tcp) -> Verdict {
        if seg.has(TCP_ACK) {
            if !after(seg.ack, self.snd_una) || after(seg.ack, self.snd_nxt) {
                // "Previous FIN/ACK or RST/ACK might be ignored": retry the SYN soon.
                if self.retransmits == 0 {
                    self.deadline = Some(cx.now + TIMEOUT_MIN);
                }
                let why = Why::RstSynSentBadAck { expected: self.snd_nxt };
                cx.out.extend(reset_reply(self.local, self.remote, seg, why));
                return Verdict::Keep;
            }
            if seg.has(TCP_RST) {
                return self.reset(cx);
            }
            if !seg.has(TCP_SYN) {
                return Verdict::Keep;
            }
            self.take_syn(seg);
            self.ack_input(cx, seg);
            self.state = TcpState::Established;
            self.init_transfer();
            cx.events.push(TcpEvent::Connected(cx.id));
            self.ack_why = Some(Why::HandshakeAck);
            self.push(cx);
            self.ack_snd_check(cx);
            return Verdict::Keep;
        }
        if seg.has(TCP_RST) {
            return Verdict::Keep;
        }
        if seg.has(TCP_SYN) {
            // Crossed SYNs: simultaneous open. Our SYN goes again with ACK set.
            self.state = TcpState::SynRecv;
            self.take_syn(seg);
            self.emit(cx, self.iss, TCP_SYN | TCP_ACK, Vec::new(), Why::SimultaneousOpen);
        }
        Verdict::Keep
    }

    /// `tcp_check_req`: a segment for a request socket. `None` means the handshake
    /// completes: the caller goes on as for a SYN_RECV socket.
    fn check_req(&mut self, cx: &mut Ctx, seg: &Tcp) -> Option<Verdict> {
        let mut flg = seg.flags & (TCP_RST | TCP_SYN | TCP_ACK);
        if seg.seq == self.irs && flg == TCP_SYN {
            if !self.oow_rate_limited(cx.now, seg) {
                self.retransmit(cx, 0, Why::SynAckAgain);
                self.deadline = Some(cx.now + backed_off(TIMEOUT_INIT, self.retransmits, RTO_MAX));
            }
            return Some(Verdict::Keep);
        }
        if flg & TCP_ACK != 0 && seg.ack != self.iss.wrapping_add(1) {
            return Some(Verdict::Listener);
        }
        let end = seg.seq.wrapping_add(seg.seg_len());
        if !in_window(seg.seq, end, self.rcv_nxt, self.rcv_nxt.wrapping_add(self.rcv_wnd)) {
            if flg & TCP_RST == 0 && !self.oow_rate_limited(cx.now, seg) {
                self.send_ack(cx, Why::OutOfWindowAck);
            }
            return Some(Verdict::Keep);
        }
        if seg.seq == self.irs {
            flg &= !TCP_SYN;
        }
        if flg & (TCP_RST | TCP_SYN) != 0 {
            if flg & TCP_RST == 0 {
                cx.out.extend(reset_reply(self.local, self.remote, seg, Why::RstSynRecvSyn));
            }
            return Some(Verdict::Free);
        }
        if flg & TCP_ACK == 0 {
            return Some(Verdict::Keep);
        }
        None
    }

    /// `tcp_sequence`: the segment overlaps the receive window.
    fn sequence_ok(&self, seq: u32, end: u32) -> bool {
        !before(end, self.rcv_wup) && !after(seq, self.rcv_wup.wrapping_add(self.rcv_wnd))
    }

    /// `tcp_reset_check`: a RST at rcv_nxt − 1 after the peer's FIN is accepted.
    fn reset_check(&self, seq: u32) -> bool {
        seq == self.rcv_nxt.wrapping_sub(1)
            && matches!(self.state, TcpState::CloseWait | TcpState::LastAck | TcpState::Closing)
    }

    /// `tcp_rcv_state_process` for synchronized states (and SYN_RECV), with
    /// `tcp_validate_incoming` (RFC 5961) first.
    fn rcv_state_process(&mut self, cx: &mut Ctx, seg: &Tcp) -> Verdict {
        let (syn, rst, ack) = (seg.has(TCP_SYN), seg.has(TCP_RST), seg.has(TCP_ACK));
        if !ack && !rst && !syn {
            return Verdict::Keep;
        }
        let end = seg.seq.wrapping_add(seg.seg_len());
        if !self.sequence_ok(seg.seq, end) {
            if !rst {
                if syn {
                    self.challenge_ack(cx);
                } else if !self.oow_rate_limited(cx.now, seg) {
                    self.send_ack(cx, Why::OutOfWindowAck);
                }
            } else if self.reset_check(seg.seq) {
                return self.reset(cx);
            }
            return Verdict::Keep;
        }
        if rst {
            if seg.seq == self.rcv_nxt || self.reset_check(seg.seq) {
                return self.reset(cx);
            }
            self.challenge_ack(cx);
            return Verdict::Keep;
        }
        if syn {
            let crossed = self.state == TcpState::SynRecv
                && ack
                && seg.seg_len() == 1
                && seg.seq.wrapping_add(1) == self.rcv_nxt
                && seg.ack == self.snd_nxt;
            if !crossed {
                self.challenge_ack(cx);
                return Verdict::Keep;
            }
        }
        if !ack {
            return Verdict::Keep;
        }
        // Step 5: the ACK field.
        let acked = self.ack_input(cx, seg);
        if self.state == TcpState::SynRecv {
            if acked != AckResult::Ok || self.snd_una != self.snd_nxt {
                cx.out.extend(reset_reply(self.local, self.remote, seg, Why::RstSynRecvBadAck));
                return Verdict::Keep;
            }
            self.state = TcpState::Established;
            self.init_transfer();
            self.app = true;
            cx.events.push(match self.listener {
                Some(listener) => TcpEvent::Accepted { listener, id: cx.id, peer: self.remote },
                None => TcpEvent::Connected(cx.id),
            });
        } else if acked == AckResult::Bad {
            self.challenge_ack(cx);
            return Verdict::Keep;
        }
        let fin = seg.has(TCP_FIN);
        let new_text = seg.seq != end && after(end.wrapping_sub(u32::from(fin)), self.rcv_nxt);
        let fin_acked = self.snd_una == self.write_seq() && self.fin_queued;
        match self.state {
            TcpState::FinWait1 if fin_acked => {
                self.state = TcpState::FinWait2;
                if new_text {
                    // "Receive out of order FIN after close()" / data after close.
                    cx.out.extend(reset_reply(self.local, self.remote, seg, Why::RstDataAfterClose));
                    return self.done(cx, CloseReason::Reset);
                }
                self.deadline = Some(cx.now + cx.conf.fin_timeout);
            }
            TcpState::Closing if fin_acked => {
                self.time_wait(cx);
                return Verdict::Keep;
            }
            TcpState::LastAck if fin_acked => return self.done(cx, CloseReason::Normal),
            _ => {}
        }
        // Step 7: the segment text.
        match self.state {
            TcpState::CloseWait | TcpState::Closing | TcpState::LastAck if !before(seg.seq, self.rcv_nxt) => {}
            TcpState::Established
            | TcpState::CloseWait
            | TcpState::Closing
            | TcpState::LastAck
            | TcpState::FinWait1
            | TcpState::FinWait2 => {
                if self.state != TcpState::Established && (self.orphan || self.fin_rcvd) && new_text {
                    cx.out.extend(reset_reply(self.local, self.remote, seg, Why::RstDataAfterClose));
                    return self.reset(cx);
                }
                self.data_queue(cx, seg);
            }
            _ => {}
        }
        if self.state != TcpState::TimeWait {
            self.push(cx);
        }
        self.ack_snd_check(cx);
        Verdict::Keep
    }

    /// `tcp_data_queue`: in-order data goes to the application (with any out-of-order
    /// segments it completes), the rest waits; every data segment is ACKed.
    fn data_queue(&mut self, cx: &mut Ctx, seg: &Tcp) {
        let fin = seg.has(TCP_FIN);
        let len = seg.payload.len() as u32;
        if len == 0 && !fin {
            return;
        }
        let end = seg.seq.wrapping_add(len + u32::from(fin));
        if !after(end, self.rcv_nxt) || !before(seg.seq, self.rcv_nxt.wrapping_add(self.rcv_wnd)) {
            self.ack_why = Some(Why::DupAck);
            return;
        }
        if after(seg.seq, self.rcv_nxt) {
            self.ofo_insert(seg);
            self.ack_why = Some(Why::DupAck);
            return;
        }
        // tcp_measure_rcv_mss
        if len >= u32::from(self.rcv_mss) {
            self.rcv_mss = (len.min(u32::from(u16::MAX)) as u16).min(self.adv_mss);
        }
        let skip = self.rcv_nxt.wrapping_sub(seg.seq) as usize;
        let mut bytes = seg.payload.get(skip..).unwrap_or(&[]).to_vec();
        self.rcv_nxt = end;
        let mut fin_seen = fin;
        if !fin {
            self.ofo_drain(&mut bytes, &mut fin_seen);
        }
        if !bytes.is_empty() && self.app && !self.orphan {
            cx.events.push(TcpEvent::Data(cx.id, bytes));
        }
        self.ack_why = Some(Why::Ack);
        if fin_seen {
            self.fin(cx);
        }
    }

    fn ofo_insert(&mut self, seg: &Tcp) {
        if self.ofo.len() >= OFO_MAX {
            return;
        }
        let key = seg.seq.wrapping_sub(self.rcv_nxt);
        let at = self.ofo.partition_point(|e| e.seq.wrapping_sub(self.rcv_nxt) < key);
        let fin = seg.has(TCP_FIN);
        let dup =
            self.ofo.get(at).is_some_and(|e| e.seq == seg.seq && e.data.len() == seg.payload.len() && e.fin == fin);
        if !dup {
            self.ofo.insert(at, OfoSeg { seq: seg.seq, data: seg.payload.to_vec(), fin });
        }
    }

    /// `tcp_ofo_queue`: appends what now follows `rcv_nxt`.
    fn ofo_drain(&mut self, bytes: &mut Vec<u8>, fin_seen: &mut bool) {
        while self.ofo.first().is_some_and(|e| !after(e.seq, self.rcv_nxt)) {
            let e = self.ofo.remove(0);
            let end = e.seq.wrapping_add(e.data.len() as u32 + u32::from(e.fin));
            if !after(end, self.rcv_nxt) {
                continue;
            }
            let skip = self.rcv_nxt.wrapping_sub(e.seq) as usize;
            bytes.extend_from_slice(e.data.get(skip..).unwrap_or(&[]));
            self.rcv_nxt = end;
            if e.fin {
                *fin_seen = true;
                break;
            }
        }
    }

    /// `tcp_fin`.
    fn fin(&mut self, cx: &mut Ctx) {
        self.fin_rcvd = true;
        self.ofo.clear();
        match self.state {
            TcpState::SynRecv | TcpState::Established => {
                self.state = TcpState::CloseWait;
                self.pingpong = true;
                if self.app && !self.orphan {
                    cx.events.push(TcpEvent::PeerClosed(cx.id));
                }
            }
            TcpState::FinWait1 => {
                self.send_ack(cx, Why::FinAck);
                self.state = TcpState::Closing;
            }
            TcpState::FinWait2 => {
                self.send_ack(cx, Why::FinAck);
                self.time_wait(cx);
            }
            _ => {}
        }
    }

    /// `tcp_timewait_state_process` in TIME_WAIT (`tcp_rfc1337` = 0).
    fn timewait_input(&mut self, cx: &mut Ctx, seg: &Tcp) -> Verdict {
        let (syn, rst, ack) = (seg.has(TCP_SYN), seg.has(TCP_RST), seg.has(TCP_ACK));
        if seg.seq == self.rcv_nxt && (seg.seg_len() == 0 || rst) {
            if rst {
                return Verdict::Free;
            }
            self.deadline = Some(cx.now + TIMEWAIT_LEN);
            return Verdict::Keep;
        }
        if syn && !rst && !ack && after(seg.seq, self.rcv_nxt) {
            let isn = self.snd_nxt.wrapping_add(65535 + 2);
            return Verdict::Recycle { isn: isn.max(1) };
        }
        if !rst {
            if ack {
                self.deadline = Some(cx.now + TIMEWAIT_LEN);
            }
            if !self.oow_rate_limited(cx.now, seg) {
                self.send_ack(cx, Why::TimeWaitAck);
            }
        }
        Verdict::Keep
    }

    /// `TCP_TW_ACK` after a `TCP_TW_SYN` that no listener takes.
    pub fn timewait_ack(&mut self, cx: &mut Ctx) -> Verdict {
        self.send_ack(cx, Why::TimeWaitAck);
        Verdict::Keep
    }

    // ----- ACK processing -----------------------------------------------------

    /// `tcp_ack`: window update, retransmit queue cleaning, RTT, congestion control,
    /// NewReno fast retransmit and zero-window probe bookkeeping.
    fn ack_input(&mut self, cx: &mut Ctx, seg: &Tcp) -> AckResult {
        let ack = seg.ack;
        let prior_una = self.snd_una;
        if before(ack, prior_una) {
            // RFC 5961 5.2: an ACK too old for any window we offered is not accepted.
            let max_win = u64::from(self.max_window).min(self.bytes_acked) as u32;
            return if before(ack, prior_una.wrapping_sub(max_win)) { AckResult::Bad } else { AckResult::Old };
        }
        if after(ack, self.snd_nxt) {
            return AckResult::Bad;
        }
        let now = cx.now;
        self.rcv_tstamp = now;
        self.probes_out = 0;
        self.soft_err = None;
        let prior_empty = self.rtx.is_empty();
        let win_update = self.update_window(seg);
        if after(ack, prior_una) {
            cx.progress = true;
            self.retransmits = 0;
            let prior_in_flight = self.in_flight();
            let (acked, rtt) = self.clean_rtx(now, ack);
            self.bytes_acked += u64::from(ack.wrapping_sub(prior_una));
            self.snd_una = ack;
            let n = ack.wrapping_sub(self.buf_seq);
            if (n as i32) > 0 {
                let n = (n as usize).min(self.buf.len());
                self.buf.drain(..n);
                self.buf_seq = self.buf_seq.wrapping_add(n as u32);
            }
            if let Some(rtt) = rtt {
                self.rtt_estimator(rtt);
                self.rto = self.rtt_rto().min(RTO_MAX);
                self.backoff = 0;
            }
            if self.retrans_stamp.is_some() && !self.rtx.iter().any(|s| s.retrans) {
                self.retrans_stamp = None;
            }
            match self.ca {
                Ca::Recovery | Ca::Loss if !before(ack, self.high_seq) => {
                    if self.ca == Ca::Recovery {
                        self.cwnd = self.ssthresh;
                    }
                    self.ca = Ca::Open;
                }
                Ca::Recovery => {
                    // NewReno partial ACK: the next hole is lost too.
                    self.mark_head_lost();
                    self.retransmit(cx, 0, Why::PartialAckRetransmit);
                }
                _ => {}
            }
            if self.ca != Ca::Recovery {
                self.cong_avoid(acked, prior_in_flight);
            }
            self.dupacks = 0;
            // tcp_rearm_rto
            if !matches!(self.state, TcpState::FinWait2 | TcpState::TimeWait) {
                self.deadline = (!self.rtx.is_empty()).then(|| now + self.rto);
            }
        } else if !win_update && seg.seg_len() == 0 && !self.rtx.is_empty() && self.ca == Ca::Open {
            self.dupacks += 1;
            if self.dupacks == 3 {
                self.enter_recovery(cx);
            }
        }
        if prior_empty && self.unsent() > 0 {
            // tcp_ack_probe
            let head = self.unsent().min(u32::from(self.mss));
            if !after(self.snd_nxt.wrapping_add(head), self.snd_una.wrapping_add(self.snd_wnd)) {
                self.backoff = 0;
                self.deadline = None;
            } else {
                self.deadline = Some(now + self.probe0_when());
            }
        }
        AckResult::Ok
    }

    /// `tcp_ack_update_window` with `tcp_may_update_window`.
    fn update_window(&mut self, seg: &Tcp) -> bool {
        let nwin = u32::from(seg.window);
        let may = after(seg.ack, self.snd_una)
            || after(seg.seq, self.snd_wl1)
            || (seg.seq == self.snd_wl1 && (nwin > self.snd_wnd || nwin == 0));
        if may {
            self.snd_wl1 = seg.seq;
            self.snd_wnd = nwin;
            self.max_window = self.max_window.max(nwin);
        }
        may
    }

    /// `tcp_clean_rtx_queue`: drops what `ack` covers; returns the segments acked and
    /// the RTT of the oldest one unless a retransmitted one was among them (Karn).
    fn clean_rtx(&mut self, now: Instant, ack: u32) -> (u32, Option<Duration>) {
        let (mut acked, mut first, mut retrans) = (0, None, false);
        while let Some(s) = self.rtx.front_mut() {
            if after(s.end(), ack) {
                if after(ack, s.seq) {
                    let d = ack.wrapping_sub(s.seq);
                    s.seq = ack;
                    s.len = s.len.saturating_sub(d);
                }
                break;
            }
            if s.retrans {
                retrans = true;
            } else if first.is_none() {
                first = Some(s.sent_at);
            }
            if s.lost {
                self.lost_out = self.lost_out.saturating_sub(1);
            }
            self.rtx.pop_front();
            acked += 1;
        }
        (acked, first.filter(|_| !retrans).map(|t| now.since(t)))
    }

    /// `tcp_rtt_estimator`: Linux's Jacobson/Karels with `mdev_max` and `rttvar`.
    fn rtt_estimator(&mut self, rtt: Duration) {
        let rto_min_us = RTO_MIN.as_micros() as i64;
        let mut m = rtt.as_micros().min(u128::from(u32::MAX >> 4)) as i64;
        let mut srtt = i64::from(self.srtt_us);
        if srtt != 0 {
            m -= srtt >> 3;
            srtt += m;
            if m < 0 {
                m = -m;
                m -= i64::from(self.mdev_us) >> 2;
                if m > 0 {
                    m >>= 3;
                }
            } else {
                m -= i64::from(self.mdev_us) >> 2;
            }
            self.mdev_us = (i64::from(self.mdev_us) + m).max(0) as u32;
            if self.mdev_us > self.mdev_max_us {
                self.mdev_max_us = self.mdev_us;
                self.rttvar_us = self.rttvar_us.max(self.mdev_max_us);
            }
            if after(self.snd_una, self.rtt_seq) {
                if self.mdev_max_us < self.rttvar_us {
                    self.rttvar_us -= (self.rttvar_us - self.mdev_max_us) >> 2;
                }
                self.rtt_seq = self.snd_nxt;
                self.mdev_max_us = rto_min_us as u32;
            }
        } else {
            srtt = m << 3;
            self.mdev_us = (m << 1) as u32;
            self.rttvar_us = (m << 1).max(rto_min_us) as u32;
            self.mdev_max_us = self.rttvar_us;
            self.rtt_seq = self.snd_nxt;
        }
        self.srtt_us = srtt.clamp(1, i64::from(u32::MAX)) as u32;
    }

    /// `__tcp_set_rto`: srtt + max(4·mdev, rto_min), in whole jiffies.
    fn rtt_rto(&self) -> Duration {
        jiffies(u64::from(self.srtt_us >> 3) + u64::from(self.rttvar_us))
    }

    /// `tcp_init_transfer` / `tcp_init_metrics`: the RTO falls back to 3 s without a
    /// handshake RTT sample; IW10, or 1 after more than one SYN retransmission.
    fn init_transfer(&mut self) {
        self.ssthresh = INFINITE_SSTHRESH;
        if self.srtt_us == 0 {
            self.rttvar_us = TIMEOUT_FALLBACK.as_micros() as u32;
            self.mdev_us = self.rttvar_us;
            self.mdev_max_us = self.rttvar_us;
            self.rto = TIMEOUT_FALLBACK;
        }
        self.cwnd = if self.total_retrans > 1 { 1 } else { INIT_CWND };
        self.cwnd_cnt = 0;
        self.ca = Ca::Open;
    }

    /// Slow start, then Reno's additive increase (`tcp_slow_start`, `tcp_cong_avoid_ai`),
    /// only while cwnd limits the sender (`tcp_is_cwnd_limited`).
    fn cong_avoid(&mut self, mut acked: u32, prior_in_flight: u32) {
        let slow_start = self.cwnd < self.ssthresh;
        let limited = if slow_start { self.cwnd < 2 * prior_in_flight } else { prior_in_flight >= self.cwnd };
        if !limited || acked == 0 {
            return;
        }
        if slow_start {
            let c = (self.cwnd + acked).min(self.ssthresh);
            acked -= c - self.cwnd;
            self.cwnd = c;
            if acked == 0 {
                return;
            }
        }
        self.cwnd_cnt += acked;
        if self.cwnd_cnt >= self.cwnd {
            let delta = self.cwnd_cnt / self.cwnd;
            self.cwnd_cnt -= delta * self.cwnd;
            self.cwnd += delta;
        }
    }

    /// CUBIC's multiplicative decrease (β = 717/1024).
    fn reduced_ssthresh(&self) -> u32 {
        (self.cwnd.saturating_mul(717) / 1024).max(2)
    }

    fn mark_head_lost(&mut self) {
        if let Some(s) = self.rtx.front_mut()
            && !s.lost
        {
            s.lost = true;
            self.lost_out += 1;
        }
    }

    /// Third duplicate ACK (`tcp_reordering` = 3): NewReno fast retransmit.
    fn enter_recovery(&mut self, cx: &mut Ctx) {
        self.ssthresh = self.reduced_ssthresh();
        self.cwnd = self.ssthresh;
        self.cwnd_cnt = 0;
        self.high_seq = self.snd_nxt;
        self.ca = Ca::Recovery;
        self.mark_head_lost();
        self.retransmit(cx, 0, Why::FastRetransmit);
        self.deadline = Some(cx.now + self.rto);
    }

    /// `tcp_enter_loss`: everything outstanding is lost, cwnd 1.
    fn enter_loss(&mut self) {
        if self.ca == Ca::Open || !after(self.high_seq, self.snd_una) || (self.ca == Ca::Loss && self.retransmits == 0)
        {
            self.ssthresh = self.reduced_ssthresh();
        }
        for s in &mut self.rtx {
            s.lost = true;
        }
        self.lost_out = self.rtx.len() as u32;
        self.cwnd = 1;
        self.cwnd_cnt = 0;
        self.ca = Ca::Loss;
        self.high_seq = self.snd_nxt;
        self.dupacks = 0;
        self.lost_why = Why::LossRetransmit;
    }

    // ----- timers -------------------------------------------------------------

    pub fn on_timer(&mut self, cx: &mut Ctx) -> Verdict {
        let now = cx.now;
        if self.delack.is_some_and(|t| t <= now) {
            self.send_ack(cx, Why::DelayedAck);
        }
        if self.deadline.is_none_or(|t| t > now) {
            return Verdict::Keep;
        }
        self.deadline = None;
        match self.state {
            TcpState::TimeWait => Verdict::Free,
            TcpState::FinWait2 => self.done(cx, CloseReason::Normal),
            TcpState::SynRecv if self.listener.is_some() => self.synack_timer(cx),
            _ if !self.rtx.is_empty() => self.retransmit_timer(cx),
            _ if self.unsent() > 0 => self.probe_timer(cx),
            _ => Verdict::Keep,
        }
    }

    /// `reqsk_timer_handler`: SYN-ACK at 1, 3, 7, 15, 31 s; dropped silently at 63 s.
    fn synack_timer(&mut self, cx: &mut Ctx) -> Verdict {
        if self.retransmits >= u32::from(cx.conf.synack_retries) {
            return Verdict::Free;
        }
        let timeout = backed_off(TIMEOUT_INIT, self.retransmits, RTO_MAX);
        self.retransmits += 1;
        self.retransmit(cx, 0, Why::SynAckRetransmit { n: self.retransmits, timeout });
        self.deadline = Some(cx.now + backed_off(TIMEOUT_INIT, self.retransmits, RTO_MAX));
        Verdict::Keep
    }

    /// `tcp_write_timeout`: SYN states count retransmissions; others compare the time
    /// since the first retransmitted segment was sent with `tcp_model_timeout`.
    fn write_timeout(&self, cx: &Ctx) -> bool {
        match self.state {
            TcpState::SynSent | TcpState::SynRecv => {
                let mut max = u32::from(cx.conf.syn_retries);
                if self.state == TcpState::SynSent {
                    max += u32::from(cx.conf.syn_linear_timeouts);
                }
                self.retransmits >= max
            }
            _ => {
                let retry_until = if self.orphan {
                    self.orphan_retries(cx.conf, self.rto < RTO_MAX)
                } else {
                    u32::from(cx.conf.retries2)
                };
                self.retransmits > 0
                    && self.retrans_stamp.is_some_and(|t| cx.now.since(t) >= model_timeout(retry_until, RTO_MIN))
            }
        }
    }

    /// `tcp_orphan_retries`: 0 means 8 while the RTO is below its cap.
    fn orphan_retries(&self, conf: &TcpConf, alive: bool) -> u32 {
        let mut r = u32::from(conf.orphan_retries);
        if self.soft_err.is_some() && !alive {
            r = 0;
        }
        if r == 0 && alive { 8 } else { r }
    }

    /// `tcp_write_err`: the soft error if one was seen, else ETIMEDOUT.
    fn write_err(&mut self, cx: &mut Ctx) -> Verdict {
        let reason = self.soft_err.unwrap_or(CloseReason::Timeout);
        self.done(cx, reason)
    }

    /// `tcp_retransmit_timer`.
    fn retransmit_timer(&mut self, cx: &mut Ctx) -> Verdict {
        let now = cx.now;
        let what = match (self.rtx.front().map(|s| (s.syn, s.fin, s.len)), self.state) {
            (Some((true, _, _)), TcpState::SynSent) => "SYN",
            (Some((true, _, _)), _) => "SYN-ACK",
            (Some((_, true, 0)), _) => "FIN",
            _ => "data",
        };
        let synish = matches!(self.state, TcpState::SynSent | TcpState::SynRecv);
        if self.snd_wnd == 0 && !self.orphan && !synish {
            // The receiver shrank its window: retransmissions are zero-window probes
            // and only time out without any ACK for TCP_RTO_MAX.
            if now.since(self.rcv_tstamp) > RTO_MAX {
                return self.write_err(cx);
            }
            self.enter_loss();
            let expired = self.rto;
            self.rto = (self.rto * 2).min(RTO_MAX);
            let why = Why::Retransmit { what, n: self.retransmits, expired, next: self.rto };
            self.retransmit(cx, 0, why);
            self.deadline = Some(now + self.rto);
            return Verdict::Keep;
        }
        if self.write_timeout(cx) {
            return self.write_err(cx);
        }
        self.enter_loss();
        let expired = self.rto;
        self.backoff += 1;
        self.retransmits += 1;
        if self.state != TcpState::SynSent || self.backoff > u32::from(cx.conf.syn_linear_timeouts) {
            self.rto = (self.rto * 2).min(RTO_MAX);
        }
        let why = Why::Retransmit { what, n: self.retransmits, expired, next: self.rto };
        self.retransmit(cx, 0, why);
        self.deadline = Some(now + self.rto);
        Verdict::Keep
    }

    /// `tcp_probe0_when`.
    fn probe0_when(&self) -> Duration {
        backed_off(self.rto.max(RTO_MIN), self.backoff, RTO_MAX)
    }

    /// `tcp_probe_timer` + `tcp_send_probe0`/`tcp_write_wakeup`: send what the window
    /// allows, else a zero-window probe (an ACK at snd_una − 1).
    fn probe_timer(&mut self, cx: &mut Ctx) -> Verdict {
        let mut max_probes = u32::from(cx.conf.retries2);
        if self.orphan {
            let alive = self.probe0_when() < RTO_MAX;
            max_probes = self.orphan_retries(cx.conf, alive);
            if !alive && self.backoff >= max_probes {
                return self.write_err(cx);
            }
        }
        if self.probes_out >= max_probes {
            return self.write_err(cx);
        }
        let wnd_end = self.snd_una.wrapping_add(self.snd_wnd);
        if before(self.snd_nxt, wnd_end) {
            let data_left = self.unsent().saturating_sub(u32::from(self.fin_queued));
            let len = data_left.min(wnd_end.wrapping_sub(self.snd_nxt)).min(u32::from(self.mss));
            let fin = self.fin_queued && len == data_left;
            self.send_new(cx, len, fin, len > 0, Why::WindowProbe);
            self.probes_out = 0;
            self.backoff = 0;
            return Verdict::Keep;
        }
        self.emit(cx, self.snd_una.wrapping_sub(1), TCP_ACK, Vec::new(), Why::WindowProbe);
        self.probes_out += 1;
        if self.backoff < u32::from(cx.conf.retries2) {
            self.backoff += 1;
        }
        self.deadline = Some(cx.now + self.probe0_when());
        Verdict::Keep
    }

    // ----- ICMP and PMTU --------------------------------------------------------

    /// `tcp_v4_err` for this socket; `seq` is the quoted segment's sequence number.
    pub fn on_icmp_error(&mut self, cx: &mut Ctx, typ: u8, code: u8, mtu: u16, seq: u32) -> Verdict {
        match self.state {
            TcpState::TimeWait | TcpState::Listen => return Verdict::Keep,
            TcpState::SynRecv if self.listener.is_some() => {
                // tcp_req_err: unreachable or time exceeded about our SYN-ACK drops
                // the request silently.
                let abort = typ == ICMP_PARAMETERPROB
                    || typ == ICMP_TIME_EXCEEDED
                    || (typ == ICMP_DEST_UNREACH && (code == ICMP_NET_UNREACH || code == ICMP_HOST_UNREACH));
                return if seq == self.iss && abort { Verdict::Free } else { Verdict::Keep };
            }
            _ => {}
        }
        if !between(seq, self.snd_una, self.snd_nxt) {
            return Verdict::Keep;
        }
        let reason = match typ {
            ICMP_PARAMETERPROB => CloseReason::Unreachable,
            ICMP_DEST_UNREACH if code == ICMP_FRAG_NEEDED => {
                self.mtu_reduced(cx, mtu);
                return Verdict::Keep;
            }
            ICMP_DEST_UNREACH if code <= 15 => icmp_err_convert(code),
            ICMP_TIME_EXCEEDED => CloseReason::Unreachable,
            _ => return Verdict::Keep,
        };
        // tcp_v4_err: in SYN_SENT/SYN_RECV every error it handles ends the connect
        // (`tcp_done_with_error`), soft ones (host/net unreachable) included:
        // connect() fails at once with EHOSTUNREACH — "No route to host" 3 s after
        // a SYN to a LAN address nobody answers ARP for. Once established the
        // error is only remembered (sk_err_soft) and reported at the timeout.
        if matches!(self.state, TcpState::SynSent | TcpState::SynRecv) {
            return self.done(cx, reason);
        }
        self.soft_err = Some(reason);
        if typ == ICMP_DEST_UNREACH && (code == ICMP_NET_UNREACH || code == ICMP_HOST_UNREACH) {
            return self.rto_revert(cx, seq);
        }
        Verdict::Keep
    }

    /// `tcp_ld_RTO_revert` (RFC 6069): an unreachable about the head segment undoes one
    /// RTO backoff, so retransmissions into a dead path are not stretched out.
    fn rto_revert(&mut self, cx: &mut Ctx, seq: u32) -> Verdict {
        if seq != self.snd_una || self.retransmits == 0 || self.backoff == 0 {
            return Verdict::Keep;
        }
        let Some(sent_at) = self.rtx.front().map(|s| s.sent_at) else { return Verdict::Keep };
        self.backoff -= 1;
        let base = if self.srtt_us != 0 { self.rtt_rto() } else { TIMEOUT_INIT };
        self.rto = backed_off(base, self.backoff, RTO_MAX);
        let elapsed = jiffies(cx.now.since(sent_at).as_micros() as u64);
        if self.rto > elapsed {
            self.deadline = Some(cx.now + (self.rto - elapsed));
            Verdict::Keep
        } else {
            self.deadline = None;
            self.retransmit_timer(cx)
        }
    }

    /// `tcp_v4_mtu_reduced`: a smaller path MTU cuts the MSS and resends at once what
    /// no longer fits (`tcp_simple_retransmit`). Below `ip_rt_min_pmtu` the route's
    /// MTU is locked at 552.
    fn mtu_reduced(&mut self, cx: &mut Ctx, mtu: u16) {
        let new = if mtu < MIN_PMTU { self.pmtu.min(MIN_PMTU) } else { mtu };
        if new >= self.pmtu {
            return;
        }
        self.pmtu = new;
        self.sync_mss();
        let mss = u32::from(self.mss);
        for s in &mut self.rtx {
            if s.len > mss && !s.lost {
                s.lost = true;
                self.lost_out += 1;
            }
        }
        if self.lost_out == 0 {
            return;
        }
        if self.ca != Ca::Loss {
            self.high_seq = self.snd_nxt;
            self.ssthresh = self.ssthresh.max(self.cwnd / 2 + self.cwnd / 4);
            self.ca = Ca::Loss;
        }
        self.lost_why = Why::MtuRetransmit { mss: self.mss };
        self.push(cx);
    }

    /// The route's path MTU changed: new segments use it (`tcp_sync_mss`).
    pub fn set_path_mtu(&mut self, cx: &mut Ctx, mtu: u16) {
        self.pmtu = mtu.max(68);
        self.sync_mss();
        self.push(cx);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AckResult {
    /// RFC 5961 5.2 or an ACK for data never sent: challenge ACK, drop.
    Bad,
    /// Older than snd_una but within the window: ignored, the segment goes on.
    Old,
    Ok,
}

/// `tcp_in_window`.
fn in_window(seq: u32, end: u32, s_win: u32, e_win: u32) -> bool {
    seq == s_win || (after(end, s_win) && before(seq, e_win)) || (seq == e_win && seq == end)
}
