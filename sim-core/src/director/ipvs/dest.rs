//! Real servers (`struct ip_vs_dest`; reference §1.2): weights, thresholds and the
//! OVERLOAD flag, the active/inactive/persistent counters, and the trash.

use super::stats::Stats;
use crate::stack::hooks::RouteInfo;
use crate::time::Instant;
use std::net::Ipv4Addr;

/// `IP_VS_DEST_F_AVAILABLE`: in its service's list (cleared when deleted).
pub const DEST_F_AVAILABLE: u8 = 0x1;
/// `IP_VS_DEST_F_OVERLOAD`: over its upper threshold; every scheduler skips it.
pub const DEST_F_OVERLOAD: u8 = 0x2;

/// `IP_VS_DEST_TRASH_PERIOD`: an idle deleted dest can be revived for 120 s.
pub const TRASH_PERIOD_NS: u64 = 120_000_000_000;

/// The forwarding method (`IP_VS_CONN_F_FWD_MASK` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fwd {
    /// `-m`: NAT (`IP_VS_CONN_F_MASQ`, 0).
    Masq,
    /// LOCALNODE (1): ipvsadm has no switch for it; settable through this API only.
    Local,
    /// `-i`: IPIP tunnel (`IP_VS_CONN_F_TUNNEL`, 2).
    Tunnel,
    /// `-g`: direct routing (`IP_VS_CONN_F_DROUTE`, 3), ipvsadm's default.
    Route,
    /// cache_bypass connections (4) only; never a dest's method.
    Bypass,
    /// `-b`: FULLNAT, Alibaba's fork (not mainline; `IP_VS_CONN_F_FULLNAT`, 5 there).
    FullNat,
}

impl Fwd {
    pub const fn code(self) -> u16 {
        match self {
            Fwd::Masq => 0,
            Fwd::Local => 1,
            Fwd::Tunnel => 2,
            Fwd::Route => 3,
            Fwd::Bypass => 4,
            Fwd::FullNat => 5,
        }
    }

    pub fn from_code(c: u16) -> Fwd {
        match c {
            0 => Fwd::Masq,
            1 => Fwd::Local,
            2 => Fwd::Tunnel,
            3 => Fwd::Route,
            5 => Fwd::FullNat,
            _ => Fwd::Bypass,
        }
    }

    /// ipvsadm's `fwd_name`: the Forward column of `-L`.
    pub const fn name(self) -> &'static str {
        match self {
            Fwd::Masq => "Masq",
            Fwd::Local => "Local",
            Fwd::Tunnel => "Tunnel",
            Fwd::Route => "Route",
            Fwd::Bypass => "Bypass",
            Fwd::FullNat => "FullNat",
        }
    }

    /// Whether replies come back through the director, so connections start with
    /// output expected (`IP_VS_CONN_F_NOOUTPUT` is set for the other methods).
    pub const fn sees_replies(self) -> bool {
        matches!(self, Fwd::Masq | Fwd::FullNat)
    }
}

/// What `ipvsadm -a/-e` (or keepalived's `real_server`) asks for
/// (`struct ip_vs_dest_user_kern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestSpec {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub fwd: Fwd,
    pub weight: i32,
    pub u_threshold: u32,
    pub l_threshold: u32,
}

impl DestSpec {
    /// Weight 1, no thresholds.
    pub fn new(addr: Ipv4Addr, port: u16, fwd: Fwd) -> Self {
        DestSpec { addr, port, fwd, weight: 1, u_threshold: 0, l_threshold: 0 }
    }

    pub fn weight(mut self, w: i32) -> Self {
        self.weight = w;
        self
    }
}

/// A real server. Dest indices are never reused, so connections and lblc entries
/// can keep an index the way the kernel keeps a reference.
pub(crate) struct Dest {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub fwd: Fwd,
    pub weight: i32,
    /// The latest non-zero weight (set on add even when zero); mh builds from it.
    pub last_weight: i32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub flags: u8,
    pub activeconns: i32,
    pub inactconns: i32,
    pub persistconns: i32,
    /// Connections and templates bound to it (the kernel's refcnt minus one).
    pub refcnt: u32,
    /// The service it belongs (or belonged) to, by index and uid.
    pub svc: u32,
    pub svc_uid: u32,
    /// Boxed so the fields schedulers read stay within one cache line.
    pub stats: Box<Stats>,
    /// In `ipvs->dest_trash` after deletion.
    pub in_trash: bool,
    /// `idle_start` of `ip_vs_dest_trash_expire`.
    pub idle_start: Option<Instant>,
    /// `dest->dest_dst`: the route to the real server, boxed (it is read only
    /// when forwarding).
    pub dst: Option<Box<DestDst>>,
}

/// `struct ip_vs_dest_dst`: a route kept with its dest (`__ip_vs_dst_set`) and
/// reused while `__ip_vs_dst_check` passes: the stack's route generation is the
/// one it was looked up under (`dst_cookie`) and no learned path MTU in it has
/// expired.
#[derive(Debug, Clone)]
pub(crate) struct DestDst {
    pub genid: u64,
    pub daddr: u32,
    pub rt: RouteInfo,
}

impl Dest {
    pub fn available(&self) -> bool {
        self.flags & DEST_F_AVAILABLE != 0
    }
    pub fn overloaded(&self) -> bool {
        self.flags & DEST_F_OVERLOAD != 0
    }
    /// `ip_vs_dest_conn_overhead`: active × 256 + inactive.
    pub fn overhead(&self) -> i64 {
        (i64::from(self.activeconns) << 8) + i64::from(self.inactconns)
    }
    /// `ip_vs_dest_totalconns`: active + inactive (templates do not count).
    pub fn totalconns(&self) -> i64 {
        i64::from(self.activeconns) + i64::from(self.inactconns)
    }

    /// The OVERLOAD check after a bind (`ip_vs_bind_dest`, §1.2).
    pub fn check_overload_on_bind(&mut self) {
        if self.u_threshold != 0 && self.totalconns() >= i64::from(self.u_threshold) {
            self.flags |= DEST_F_OVERLOAD;
        }
    }

    /// The OVERLOAD clear after an unbind (`ip_vs_unbind_dest`, §1.2).
    pub fn check_overload_on_unbind(&mut self) {
        let total = self.totalconns();
        let clear = if self.l_threshold != 0 {
            total < i64::from(self.l_threshold)
        } else if self.u_threshold != 0 {
            total * 4 < i64::from(self.u_threshold) * 3
        } else {
            true
        };
        if clear {
            self.flags &= !DEST_F_OVERLOAD;
        }
    }

    /// `addr:port`, for traces.
    pub fn name(&self) -> String {
        format!("{}:{}", self.addr, self.port)
    }
}
