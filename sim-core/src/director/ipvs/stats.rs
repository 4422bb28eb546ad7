//! Counters and the rate estimator (ip_vs_est.c, ip_vs_ctl.c; reference §8).
//!
//! Packets bump the live (per-CPU, in the kernel) counters. Every 2 s the estimator
//! copies them into `kstats` and updates the rates; what ipvsadm shows is
//! `kstats − kstats0`, so `--stats` lags traffic by up to 2 s as on a real director.
//! The ticks sit on a global 2-s grid from time zero (the kernel spreads them over
//! its kthreads at an unpredictable phase). They are computed lazily: an object
//! catches up with the ticks it missed whenever it is touched or read, which gives
//! exactly the values periodic ticks would, without waking the simulator every 2 s.

use crate::time::Instant;

/// The estimator period: 2 s.
const TICK_NS: u64 = 2_000_000_000;

/// `struct ip_vs_kstats`: the five counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
}

impl Counters {
    fn minus(&self, o: &Counters) -> Counters {
        Counters {
            conns: self.conns.wrapping_sub(o.conns),
            inpkts: self.inpkts.wrapping_sub(o.inpkts),
            outpkts: self.outpkts.wrapping_sub(o.outpkts),
            inbytes: self.inbytes.wrapping_sub(o.inbytes),
            outbytes: self.outbytes.wrapping_sub(o.outbytes),
        }
    }
}

/// What ipvsadm reads: counters since the last `-Z` and the displayed rates
/// (`ip_vs_copy_stats` + `ip_vs_read_estimator`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsView {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// `struct ip_vs_estimator`: the previous sample and the scaled rates.
#[derive(Debug, Clone, Copy, Default)]
struct Estimator {
    next_tick: u64,
    last: Counters,
    cps: i64,
    inpps: i64,
    outpps: i64,
    inbps: i64,
    outbps: i64,
}

/// One stats object (per dest and per service).
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    live: Counters,
    kstats: Counters,
    kstats0: Counters,
    est: Estimator,
}

fn ewma(rate: &mut i64, sample: u64, shift: u32) {
    let sample = (sample as i64).wrapping_shl(shift);
    *rate = rate.wrapping_add(sample.wrapping_sub(*rate) >> 2);
}

impl Estimator {
    /// `ip_vs_chain_estimation` for one object: snapshot, then the EWMA update
    /// (`cps += ((Δconns << 9) − cps) >> 2`, bytes with `<< 4`).
    fn tick(&mut self, live: &Counters, kstats: &mut Counters) {
        *kstats = *live;
        let d = kstats.minus(&self.last);
        self.last = *kstats;
        ewma(&mut self.cps, d.conns, 9);
        ewma(&mut self.inpps, d.inpkts, 9);
        ewma(&mut self.outpps, d.outpkts, 9);
        ewma(&mut self.inbps, d.inbytes, 4);
        ewma(&mut self.outbps, d.outbytes, 4);
    }

    fn idle(&self, live: &Counters, kstats: &Counters) -> bool {
        *live == self.last
            && *kstats == self.last
            && self.cps == 0
            && self.inpps == 0
            && self.outpps == 0
            && self.inbps == 0
            && self.outbps == 0
    }

    fn catch_up(&mut self, now: u64, live: &Counters, kstats: &mut Counters) {
        while self.next_tick <= now {
            self.tick(live, kstats);
            self.next_tick += TICK_NS;
            if self.idle(live, kstats) {
                // Nothing changes any more: skip straight past `now`.
                self.next_tick = (now / TICK_NS + 1) * TICK_NS;
            }
        }
    }
}

impl Stats {
    /// A fresh object whose first estimator tick is the next 2-s boundary.
    pub fn new(now: Instant) -> Self {
        let mut s = Stats::default();
        s.est.next_tick = (now.nanos() / TICK_NS + 1) * TICK_NS;
        s
    }

    #[inline]
    fn sync(&mut self, now: Instant) {
        if now.nanos() >= self.est.next_tick {
            self.est.catch_up(now.nanos(), &self.live, &mut self.kstats);
        }
    }

    /// `ip_vs_conn_stats`: a new (non-template) connection.
    #[inline]
    pub fn add_conn(&mut self, now: Instant) {
        self.sync(now);
        self.live.conns += 1;
    }

    /// `ip_vs_in_stats`: one inbound packet of `bytes` (`skb->len`).
    #[inline]
    pub fn add_in(&mut self, now: Instant, bytes: usize) {
        self.sync(now);
        self.live.inpkts += 1;
        self.live.inbytes += bytes as u64;
    }

    /// `ip_vs_out_stats`: one reply packet.
    #[inline]
    pub fn add_out(&mut self, now: Instant, bytes: usize) {
        self.sync(now);
        self.live.outpkts += 1;
        self.live.outbytes += bytes as u64;
    }

    /// `ip_vs_zero_stats` (`ipvsadm -Z`): the last snapshot becomes the zero point
    /// and the rates restart from zero (`ip_vs_zero_estimator`).
    pub fn zero(&mut self, now: Instant) {
        self.sync(now);
        self.kstats0 = self.kstats;
        let next_tick = self.est.next_tick;
        self.est = Estimator { next_tick, last: self.kstats, ..Estimator::default() };
    }

    /// The counters and rates ipvsadm would read at `now`.
    pub fn view(&self, now: Instant) -> StatsView {
        let mut est = self.est;
        let mut kstats = self.kstats;
        if now.nanos() >= est.next_tick {
            est.catch_up(now.nanos(), &self.live, &mut kstats);
        }
        let c = kstats.minus(&self.kstats0);
        let scale = |r: i64, add: i64, shift: u32| (r.wrapping_add(add).max(0) as u64) >> shift;
        StatsView {
            conns: c.conns,
            inpkts: c.inpkts,
            outpkts: c.outpkts,
            inbytes: c.inbytes,
            outbytes: c.outbytes,
            cps: scale(est.cps, 0x1ff, 10),
            inpps: scale(est.inpps, 0x1ff, 10),
            outpps: scale(est.outpps, 0x1ff, 10),
            inbps: scale(est.inbps, 0xf, 5),
            outbps: scale(est.outbps, 0xf, 5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §8: a steady 50 conn/s from zero shows cps 12, 22, 29, 34, 38, 41, 43, 45.
    #[test]
    fn cps_ramp_matches_reference() {
        let mut s = Stats::new(Instant::ZERO);
        let mut shown = Vec::new();
        for tick in 1..=8u64 {
            for i in 0..100u64 {
                s.add_conn(Instant::from_millis((tick - 1) * 2000 + i * 20));
            }
            shown.push(s.view(Instant::from_millis(tick * 2000)).cps);
        }
        assert_eq!(shown, [12, 22, 29, 34, 38, 41, 43, 45]);
    }

    /// §10.7: 100 000 bytes per 2 s show InBPS 12500, 21875, 28906, 34180.
    #[test]
    fn bps_ramp_matches_reference() {
        let mut s = Stats::new(Instant::ZERO);
        let mut shown = Vec::new();
        for tick in 1..=4u64 {
            s.add_in(Instant::from_millis(tick * 2000 - 1000), 100_000);
            shown.push(s.view(Instant::from_millis(tick * 2000)).inbps);
        }
        assert_eq!(shown, [12500, 21875, 28906, 34180]);
    }

    #[test]
    fn counters_lag_until_the_next_tick_and_zero_resets() {
        let mut s = Stats::new(Instant::ZERO);
        s.add_in(Instant::from_millis(100), 60);
        assert_eq!(s.view(Instant::from_millis(1999)).inpkts, 0, "kstats is a 2-s snapshot");
        assert_eq!(s.view(Instant::from_millis(2000)).inpkts, 1);
        s.zero(Instant::from_millis(2500));
        let v = s.view(Instant::from_millis(2500));
        assert_eq!((v.inpkts, v.inbytes, v.inpps), (0, 0, 0));
        s.add_in(Instant::from_millis(3000), 40);
        assert_eq!(s.view(Instant::from_millis(4000)).inbytes, 40);
    }

    #[test]
    fn idle_catch_up_is_cheap_and_decays_to_zero() {
        let mut s = Stats::new(Instant::ZERO);
        s.add_conn(Instant::from_millis(1));
        s.add_conn(Instant::from_secs(365 * 24 * 3600));
        let v = s.view(Instant::from_secs(365 * 24 * 3600));
        assert_eq!((v.conns, v.cps), (1, 0));
    }
}
