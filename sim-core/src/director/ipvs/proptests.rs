//! Property tests: wrr's long-run shares, counter and table consistency under
//! random configuration changes and traffic, and no panic on arbitrary frames.

use super::sched::{self, DestList, SchedCtx};
use super::tests::{CLIENT, Env, VIP, adm, ipvs, meta, tcp_frame, udp_frame};
use super::*;
use crate::node::Outbox;
use crate::stack::hooks::{HookPoint, Hooked, PacketMeta};
use crate::wire::ip::{TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};
use proptest::prelude::*;
use std::net::Ipv4Addr;

fn rs(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 1, 10 + i)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Over many picks each dest's share is w_i/Σw, within one period.
    #[test]
    fn wrr_long_run_shares(weights in prop::collection::vec(0i32..12, 1..7)) {
        let mut v = ipvs();
        adm(&mut v, Instant::ZERO, "ipvsadm -A -t 10.0.0.1:80 -s wrr");
        for (i, w) in weights.iter().enumerate() {
            adm(&mut v, Instant::ZERO, &format!("ipvsadm -a -t 10.0.0.1:80 -r {} -g -w {w}", rs(i as u8)));
        }
        let total: i32 = weights.iter().sum();
        let s = v.find_service(&ServiceKey::tcp(VIP, 80)).unwrap() as usize;
        let n = 50 * total.max(1) as usize;
        let mut counts = vec![0usize; v.dests.len()];
        let mut rng = crate::rng::stream(3, "wrr");
        let p = super::core::Sp { proto: 6, saddr: 1, daddr: 2, sport: 3, dport: 80, inverse: false, local: false };
        for _ in 0..n {
            let svc = &mut v.services[s];
            let list = DestList { order: &svc.dests, all: &v.dests };
            let mut ctx = SchedCtx { now: Instant::ZERO, rng: &mut rng, lblc_expiration: 1, lblcr_expiration: 1 };
            match svc.sched.schedule(&list, &p.sched(0), &mut ctx) {
                Some(pick) => counts[pick.dest as usize] += 1,
                None => prop_assert_eq!(total, 0),
            }
        }
        for (i, w) in weights.iter().enumerate() {
            let want = n as i64 * i64::from(*w) / i64::from(total.max(1));
            prop_assert!((counts[i] as i64 - want).abs() <= i64::from(total), "dest {} w {} got {} want {}", i, w, counts[i], want);
        }
    }

    /// Every scheduler's pick is a dest of the service with weight > 0 that is not
    /// overloaded (dh, sh and mh may fail, never pick an unusable one).
    #[test]
    fn picks_are_usable(spec in prop::collection::vec((0i32..4, 0i32..5, 0i32..5, any::<bool>()), 1..8), src in any::<u32>(), port in any::<u16>()) {
        let (mut all, order) = sched::testutil::list(&spec.iter().map(|&(w, a, i, _)| (w, a, i)).collect::<Vec<_>>());
        for (d, s) in all.iter_mut().zip(&spec) {
            if s.3 { sched::testutil::overload(d); }
        }
        let d = DestList { order: &order, all: &all };
        let mut rng = crate::rng::stream(9, "picks");
        for name in sched::NAMES {
            let mut s = sched::new(name, &d, Instant::ZERO).unwrap();
            for flags in [0, service::SVC_F_SCHED1, service::SVC_F_SCHED2] {
                let p = sched::SchedPkt { saddr: src, daddr: src.rotate_left(7), sport: port, dport: 80, inverse: false, svc_flags: flags };
                let mut ctx = SchedCtx { now: Instant::ZERO, rng: &mut rng, lblc_expiration: 1, lblcr_expiration: 1 };
                if let Some(pick) = s.schedule(&d, &p, &mut ctx) {
                    let x = d.get(pick.dest);
                    prop_assert!(x.weight > 0 && !x.overloaded(), "{} picked weight {} overloaded {}", name, x.weight, x.overloaded());
                    prop_assert!(!s.explain(&d, &p, &pick).is_empty());
                }
            }
        }
    }

    /// Random dest changes, traffic in both directions and time: counters match
    /// the table and never go negative; everything eventually expires.
    #[test]
    fn counters_stay_consistent(ops in prop::collection::vec((0u8..9, 0u8..4, 0u8..6, 0u16..4), 1..120), sched_i in 0usize..14, persistent in any::<bool>()) {
        let mut v = ipvs();
        let now = |ms: u64| Instant::from_millis(ms);
        let p = if persistent { " -p 30" } else { "" };
        adm(&mut v, now(0), &format!("ipvsadm -A -t 10.0.0.1:80 -s {}{p}", sched::NAMES[sched_i]));
        adm(&mut v, now(0), &format!("ipvsadm -A -u 10.0.0.1:53 -s {}{p}", sched::NAMES[sched_i]));
        let mut ms = 0u64;
        let mut out = Outbox::new(true);
        for (op, who, x, port) in ops {
            let fwd = ["-g", "-m", "-i", "-b"][usize::from(x % 4)];
            let (svc, proto) = if port % 2 == 0 { ("-t 10.0.0.1:80", 6) } else { ("-u 10.0.0.1:53", 17) };
            let line = match op {
                0 => format!("ipvsadm -a {svc} -r {} {fwd} -w {x}", rs(who)),
                1 => format!("ipvsadm -e {svc} -r {} {fwd} -w {x}", rs(who)),
                2 => format!("ipvsadm -d {svc} -r {}", rs(who)),
                3 => format!("ipvsadm -e {svc} -r {} {fwd} -w {x} -x {port} -y {}", rs(who), port / 2),
                _ => String::new(),
            };
            if !line.is_empty() {
                let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
                let _ = crate::director::ipvsadm::ipvsadm(&mut v, now(ms), &argv, None);
            } else if op < 8 {
                let c = (Ipv4Addr::new(172, 16, 0, who), 1000 + port);
                let flags = [TCP_SYN, TCP_ACK, TCP_FIN | TCP_ACK, TCP_RST, TCP_SYN | TCP_ACK, 0][usize::from(x)];
                let (hook, f) = if op == 4 || op == 5 || op == 6 {
                    let f = if proto == 6 { tcp_frame(c, (VIP, 80), flags, b"x") } else { udp_frame(c, (VIP, 53), b"x") };
                    (HookPoint::LocalIn, f)
                } else {
                    let f = if proto == 6 { tcp_frame((rs(who), 80), c, flags, b"y") } else { udp_frame((rs(who), 53), c, b"y") };
                    (HookPoint::Forward, f)
                };
                let mut f = f;
                let _ = v.hook(now(ms), meta(hook), &mut f, &Env { mtu: 1500 }, &mut out);
            } else {
                ms += 1000 * u64::from(x) * u64::from(port + 1) * 10;
                v.on_timer(now(ms), &mut out);
            }
            out.take();
            prop_assert!(v.check_counters().is_ok(), "{:?}", v.check_counters());
            prop_assert!(v.dests.iter().all(|d| d.activeconns >= 0 && d.inactconns >= 0 && d.persistconns >= 0));
            ms += 1;
        }
        v.on_timer(now(ms + 10_000_000), &mut out);
        prop_assert_eq!(v.conn_count(), 0);
        prop_assert!(v.dests.iter().all(|d| d.activeconns == 0 && d.inactconns == 0 && d.persistconns == 0 && d.refcnt == 0));
    }

    /// The established fast path changes nothing: two directors, one with it and one
    /// without, given the same configuration changes, packets (both directions, any
    /// TCP flags, TTLs down to 1, DF over the MTU, local and unroutable real servers)
    /// and time, give the same verdicts, frames, trace notes, listings and counters.
    #[test]
    fn fast_path_matches_general_path(ops in prop::collection::vec((0u8..9, 0u8..6, 0u8..6, 0u16..4, 0u8..4), 1..150), sched_i in 0usize..14, persistent in any::<bool>()) {
        let mut fast = ipvs();
        let mut slow = ipvs();
        slow.fast_path = false;
        let now = |ms: u64| Instant::from_millis(ms);
        let p = if persistent { " -p 30" } else { "" };
        let rsx = |who: u8| match who {
            4 => Ipv4Addr::new(10, 0, 0, 2),
            5 => Ipv4Addr::new(172, 31, 0, 5),
            _ => rs(who),
        };
        let mut ms = 0u64;
        let (mut out_f, mut out_s) = (Outbox::new(true), Outbox::new(true));
        for v in [&mut fast, &mut slow] {
            adm(v, now(0), &format!("ipvsadm -A -t 10.0.0.1:80 -s {}{p}", sched::NAMES[sched_i]));
            adm(v, now(0), &format!("ipvsadm -A -u 10.0.0.1:53 -s {}{p}", sched::NAMES[sched_i]));
        }
        for (op, who, x, port, ttl) in ops {
            let fwd = ["-g", "-m", "-i", "-b"][usize::from(x % 4)];
            let (svc, proto) = if port % 2 == 0 { ("-t 10.0.0.1:80", 6) } else { ("-u 10.0.0.1:53", 17) };
            let line = match op {
                0 => format!("ipvsadm -a {svc} -r {} {fwd} -w {x}", rsx(who)),
                1 => format!("ipvsadm -e {svc} -r {} {fwd} -w {x}", rsx(who)),
                2 => format!("ipvsadm -d {svc} -r {}", rsx(who)),
                _ => String::new(),
            };
            if !line.is_empty() {
                let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
                let a = crate::director::ipvsadm::ipvsadm(&mut fast, now(ms), &argv, None);
                let b = crate::director::ipvsadm::ipvsadm(&mut slow, now(ms), &argv, None);
                prop_assert_eq!(a.is_ok(), b.is_ok());
            } else if op < 8 {
                let c = (Ipv4Addr::new(172, 16, 0, who % 3), 1000 + port);
                let flags = [TCP_SYN, TCP_ACK, TCP_FIN | TCP_ACK, TCP_RST, TCP_SYN | TCP_ACK, 0][usize::from(x)];
                let payload: &[u8] = if ttl == 3 { &[7; 1400] } else { b"x" };
                let (hook, mut f) = if op < 7 {
                    let f = if proto == 6 { tcp_frame(c, (VIP, 80), flags, payload) } else { udp_frame(c, (VIP, 53), payload) };
                    (if op == 6 { HookPoint::LocalOut } else { HookPoint::LocalIn }, f)
                } else {
                    let f = if proto == 6 { tcp_frame((rsx(who), 80), c, flags, b"y") } else { udp_frame((rsx(who), 53), c, b"y") };
                    (HookPoint::Forward, f)
                };
                f[14 + 8] = [64, 1, 2, 64][usize::from(ttl)];
                if ttl == 3 {
                    f[14 + 6] |= 0x40;
                }
                let mtu = if ttl == 3 { 1000 } else { 1500 };
                let mut g = f.clone();
                let a = fast.hook(now(ms), meta(hook), &mut f, &Env { mtu }, &mut out_f);
                let b = slow.hook(now(ms), meta(hook), &mut g, &Env { mtu }, &mut out_s);
                prop_assert_eq!(a, b);
                prop_assert_eq!(f, g);
            } else {
                ms += 1000 * u64::from(x) * u64::from(port + 1) * 10;
                fast.on_timer(now(ms), &mut out_f);
                slow.on_timer(now(ms), &mut out_s);
            }
            prop_assert_eq!(format!("{:?}", out_f.take()), format!("{:?}", out_s.take()));
            for cmd in ["ipvsadm -Lnc", "ipvsadm -Ln --stats", "ipvsadm -Ln"] {
                prop_assert_eq!(adm(&mut fast, now(ms), cmd), adm(&mut slow, now(ms), cmd));
            }
            ms += 1;
        }
    }

    /// Arbitrary bytes, and damaged real frames, never panic any hook.
    #[test]
    fn arbitrary_frames_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..120), flips in prop::collection::vec((0usize..80, any::<u8>()), 0..6), hook in 0usize..5, mark in 0u32..3) {
        let mut v = ipvs();
        adm(&mut v, Instant::ZERO, "ipvsadm -A -t 10.0.0.1:80 -s rr");
        adm(&mut v, Instant::ZERO, "ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11 -m");
        adm(&mut v, Instant::ZERO, "ipvsadm -A -f 1 -s sh -p");
        adm(&mut v, Instant::ZERO, "ipvsadm -a -f 1 -r 192.168.1.12 -i");
        v.sysctl.schedule_icmp = 1;
        v.sysctl.nat_icmp_send = 1;
        let hooks = [HookPoint::PreRouting, HookPoint::LocalIn, HookPoint::Forward, HookPoint::LocalOut, HookPoint::PostRouting];
        let m = PacketMeta { hook: hooks[hook], in_dev: Some(0), mark };
        let mut out = Outbox::new(true);
        let mut f = bytes.clone();
        let _ = v.hook(Instant::ZERO, m, &mut f, &Env { mtu: 1500 }, &mut out);
        for base in [tcp_frame((CLIENT, 1), (VIP, 80), TCP_SYN, b"abc"), udp_frame((CLIENT, 1), (VIP, 80), b"abc")] {
            let mut f = base;
            for &(i, b) in &flips {
                if let Some(x) = f.get_mut(14 + i) { *x ^= b; }
            }
            let _ = v.hook(Instant::ZERO, m, &mut f, &Env { mtu: 1500 }, &mut out);
        }
        // ICMP errors quoting damaged packets.
        let mut q = tcp_frame((VIP, 80), (CLIENT, 1), TCP_ACK, b"");
        for &(i, b) in &flips {
            if let Some(x) = q.get_mut(14 + i % 28) { *x ^= b; }
        }
        let h = crate::wire::ip::IpHdr::new(Ipv4Addr::new(1, 1, 1, 1), VIP, crate::wire::IPPROTO_ICMP);
        let quote_len = 14 + bytes.len().min(28);
        let mut f = crate::wire::ip::build(&h, &crate::wire::ip::L4::Icmp { typ: 3, code: bytes.first().copied().unwrap_or(4) % 16, rest: [0; 4], payload: &q[14..quote_len.min(q.len())] });
        let _ = v.hook(Instant::ZERO, m, &mut f, &Env { mtu: 1500 }, &mut out);
        v.on_timer(Instant::from_secs(10_000), &mut out);
    }
}
