//! Behaviour tests with the reference's worked numbers: a small zero-latency LAN of
//! [`Vrrp`] engines, driven deadline by deadline.

use super::*;
use crate::director::keepalived::parse_str;
use crate::time::Duration;
use crate::wire::ip::Ipv4;
use proptest::prelude::*;
use std::collections::BTreeMap;

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

fn mac(n: u8) -> MacAddr {
    MacAddr([2, 0, 0, 0, 0, n])
}

fn secs(s: f64) -> Instant {
    Instant::from_nanos((s * 1e9).round() as u64)
}

fn cfg(text: &str) -> KeepalivedConfig {
    parse_str(text).map(|p| p.config).unwrap_or_else(|e| panic!("config refused: {:?}", e.diagnostic))
}

/// One instance on `eth0`, the fields that vary.
fn conf(state: &str, prio: Option<u8>, extra: &str) -> String {
    let prio = prio.map(|p| format!("priority {p}")).unwrap_or_default();
    format!(
        "vrrp_instance VI_1 {{\n state {state}\n interface eth0\n virtual_router_id 51\n {prio}\n advert_int 1\n \
         {extra}\n virtual_ipaddress {{\n 192.168.200.16\n }}\n}}\n"
    )
}

/// Scripts answer from a table (default 0); `set` changes an answer.
#[derive(Default)]
struct Scripts(BTreeMap<String, i32>);

impl ScriptEnv for Scripts {
    fn run(&mut self, _now: Instant, script: &str) -> i32 {
        self.0.get(script).copied().unwrap_or(0)
    }
}

struct Node {
    vrrp: Vrrp,
    addr: Ipv4Addr,
    /// Powered: a dead node neither sends nor receives nor ticks.
    alive: bool,
    /// (time, action) for everything the node did.
    out: Vec<(Instant, VrrpAction)>,
}

impl Node {
    fn logs(&self) -> Vec<String> {
        self.out
            .iter()
            .filter_map(|(_, a)| match a {
                VrrpAction::Log(l) => Some(l.clone()),
                _ => None,
            })
            .collect()
    }
    fn log_times(&self, needle: &str) -> Vec<Instant> {
        self.out
            .iter()
            .filter(|(_, a)| matches!(a, VrrpAction::Log(l) if l.contains(needle)))
            .map(|(t, _)| *t)
            .collect()
    }
    fn state(&self) -> String {
        self.vrrp.report()[0].state.clone()
    }
    fn became(&self, to: &str) -> Vec<Instant> {
        self.out
            .iter()
            .filter(|(_, a)| matches!(a, VrrpAction::StateChange { to: t, .. } if *t == to))
            .map(|(t, _)| *t)
            .collect()
    }
    fn garps(&self) -> Vec<Instant> {
        self.out.iter().filter(|(_, a)| matches!(a, VrrpAction::Garp { .. })).map(|(t, _)| *t).collect()
    }
    fn sent(&self) -> Vec<(Instant, Vec<u8>)> {
        self.out
            .iter()
            .filter_map(|(t, a)| match a {
                VrrpAction::Send { packet, .. } => Some((*t, packet.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Nodes on one segment (`eth0`); `cut[a][b]` drops a's packets to b.
struct Lan {
    nodes: Vec<Node>,
    now: Instant,
    scripts: Scripts,
    cut: Vec<Vec<bool>>,
}

impl Lan {
    fn new() -> Self {
        Lan { nodes: Vec::new(), now: Instant::ZERO, scripts: Scripts::default(), cut: Vec::new() }
    }

    fn add(&mut self, text: &str, last_octet: u8, opts: Options) -> usize {
        let addr = Ipv4Addr::new(192, 168, 200, last_octet);
        let ifaces = vec![
            IfaceInfo { name: "eth0".into(), mac: mac(last_octet), addr: Some(addr), up: true },
            IfaceInfo { name: "eth1".into(), mac: mac(100 + last_octet), addr: None, up: true },
        ];
        let vrrp = Vrrp::new(&cfg(text), &ifaces, opts, self.now);
        self.nodes.push(Node { vrrp, addr, alive: true, out: Vec::new() });
        let n = self.nodes.len();
        self.cut = vec![vec![false; n]; n];
        self.flush();
        n - 1
    }

    /// Delivers everything emitted so far, until quiet.
    fn flush(&mut self) {
        loop {
            let mut wire = Vec::new();
            for (k, n) in self.nodes.iter_mut().enumerate() {
                for a in n.vrrp.drain_actions() {
                    if let VrrpAction::Send { packet, .. } = &a {
                        wire.push((k, packet.clone()));
                    }
                    n.out.push((self.now, a));
                }
            }
            if wire.is_empty() {
                return;
            }
            for (from, pkt) in wire {
                let Ok(ip) = Ipv4::parse(&pkt) else { continue };
                for to in 0..self.nodes.len() {
                    let n = &self.nodes[to];
                    let reaches = if ip.dst == GROUP { to != from } else { ip.dst == n.addr };
                    if reaches && n.alive && self.nodes[from].alive && !self.cut[from][to] {
                        let now = self.now;
                        self.nodes[to].vrrp.on_packet(now, "eth0", &pkt);
                    }
                }
            }
        }
    }

    fn run_until(&mut self, t: Instant) {
        loop {
            let next = self.nodes.iter().filter(|n| n.alive).filter_map(|n| n.vrrp.next_deadline()).min();
            match next {
                Some(d) if d <= t => {
                    self.now = d;
                    for n in self.nodes.iter_mut().filter(|n| n.alive) {
                        n.vrrp.on_timer(d, &mut self.scripts);
                    }
                    self.flush();
                }
                _ => break,
            }
        }
        self.now = t;
    }

    fn kill(&mut self, k: usize) {
        self.nodes[k].alive = false;
    }

    fn stop(&mut self, k: usize) {
        let now = self.now;
        self.nodes[k].vrrp.stop(now);
        self.flush();
        self.nodes[k].alive = false;
    }

    fn set_if(&mut self, k: usize, dev: &str, up: bool) {
        let now = self.now;
        self.nodes[k].vrrp.set_interface(now, dev, up);
        self.flush();
    }
}

fn v22() -> Options {
    Options::default()
}

// ----- timers -------------------------------------------------------------------------

/// Reference §2.2: v2 skew (256−P)/256 s, v3 ((256−P)·adv)/256, in keepalived's integer µs.
#[test]
fn master_down_interval_formulas() {
    let cases: [(u8, u8, &str, u64); 6] = [
        (2, 100, "advert_int 1", 3_609_375),
        (2, 150, "advert_int 1", 3_414_062),
        (2, 254, "advert_int 1", 3_007_812),
        (2, 100, "advert_int 3", 9_609_375),
        (3, 100, "advert_int 0.5", 1_804_687),
        (3, 100, "advert_int 1", 3_609_375),
    ];
    for (version, prio, int, want_us) in cases {
        let text = format!(
            "vrrp_instance VI_1 {{\n state BACKUP\n interface eth0\n virtual_router_id 51\n priority {prio}\n {int}\n \
             version {version}\n virtual_ipaddress {{\n 192.168.200.16\n }}\n}}\n"
        );
        let mut lan = Lan::new();
        lan.add(&text, 1, v22());
        lan.run_until(secs(20.0));
        let n = &lan.nodes[0];
        assert_eq!(n.became("MASTER")[0], Instant::from_micros(want_us), "v{version} prio {prio} {int}");
        assert_eq!(n.logs()[0], "(VI_1) Entering BACKUP STATE (init)");
        assert_eq!(n.logs()[1], "(VI_1) Entering MASTER STATE");
    }
}

/// `state MASTER` with a priority below 255 still waits 3 adverts + skew (§2.1).
#[test]
fn state_master_without_owner_priority_waits() {
    let mut lan = Lan::new();
    lan.add(&conf("MASTER", Some(100), ""), 1, v22());
    lan.run_until(secs(10.0));
    assert_eq!(lan.nodes[0].became("MASTER"), vec![Instant::from_micros(3_609_375)]);
}

/// `state MASTER` without `priority` is an address owner (255): MASTER 1 µs after start,
/// with no `(init)` line.
#[test]
fn owner_claims_at_once() {
    let mut lan = Lan::new();
    lan.add(&conf("MASTER", None, ""), 1, v22());
    lan.run_until(secs(2.5));
    let n = &lan.nodes[0];
    assert_eq!(n.became("MASTER"), vec![Instant::from_micros(1)]);
    assert_eq!(n.logs()[0], "(VI_1) Entering MASTER STATE");
    assert_eq!(n.vrrp.report()[0].priority, 255);
    // Adverts at 1 µs, then every advert_int.
    let times: Vec<Instant> = n.sent().iter().map(|(t, _)| *t).collect();
    assert_eq!(times, vec![Instant::from_micros(1), Instant::from_micros(1_000_001), Instant::from_micros(2_000_001)]);
}

// ----- failover and preemption --------------------------------------------------------------

fn pair(a: &str, b: &str, opts: Options) -> Lan {
    let mut lan = Lan::new();
    lan.add(a, 1, opts);
    lan.add(b, 2, opts);
    lan
}

#[test]
fn failover_after_master_down_interval() {
    let mut lan = pair(&conf("MASTER", Some(100), ""), &conf("BACKUP", Some(90), ""), v22());
    lan.run_until(secs(10.0));
    assert_eq!(lan.nodes[0].state(), "MASTER");
    assert_eq!(lan.nodes[1].state(), "BACKUP");
    // The master's last advert before it dies.
    let last = lan.nodes[0].sent().last().map(|(t, _)| *t).unwrap();
    lan.kill(0);
    lan.run_until(secs(20.0));
    // 3 × 1 s + (256 − 90)/256 s = 3.6484375 s after the last accepted advert.
    assert_eq!(lan.nodes[1].became("MASTER"), vec![last + Duration::from_micros(3_648_437)]);
    let logs = lan.nodes[1].logs();
    assert_eq!(logs.iter().filter(|l| l.as_str() == "(VI_1) Entering MASTER STATE").count(), 1);
}

#[test]
fn higher_priority_preempts_and_old_master_yields() {
    let mut lan = Lan::new();
    lan.add(&conf("BACKUP", Some(100), ""), 1, v22());
    lan.run_until(secs(10.0));
    let t0 = lan.now;
    lan.add(&conf("BACKUP", Some(150), ""), 2, v22());
    lan.run_until(secs(20.0));
    let b = &lan.nodes[1];
    assert!(b.logs().contains(&"(VI_1) received lower priority (100) advert from 192.168.200.1 - discarding".into()));
    // Discarded adverts do not restart the timer: MASTER 3 + 106/256 s after B started.
    assert_eq!(b.became("MASTER"), vec![t0 + Duration::from_micros(3_414_062)]);
    let a = &lan.nodes[0];
    assert!(
        a.logs()
            .contains(&"(VI_1) Master received advert from 192.168.200.2 with higher priority 150, ours 100".into())
    );
    assert_eq!(a.logs().last().unwrap(), "(VI_1) Entering BACKUP STATE");
    assert_eq!(a.state(), "BACKUP");
    // The old master removed its VIP.
    assert!(a.out.iter().any(|(_, x)| matches!(x, VrrpAction::DelVip { .. })));
}

#[test]
fn nopreempt_never_takes_over() {
    let mut lan = Lan::new();
    lan.add(&conf("BACKUP", Some(100), ""), 1, v22());
    lan.run_until(secs(10.0));
    lan.add(&conf("BACKUP", Some(150), "nopreempt"), 2, v22());
    lan.run_until(secs(60.0));
    assert_eq!(lan.nodes[0].state(), "MASTER");
    assert_eq!(lan.nodes[1].state(), "BACKUP");
}

#[test]
fn preempt_delay_postpones_takeover() {
    let mut lan = Lan::new();
    lan.add(&conf("BACKUP", Some(100), ""), 1, v22());
    lan.run_until(secs(10.0));
    let t0 = lan.now;
    lan.add(&conf("BACKUP", Some(150), "preempt_delay 10"), 2, Options { log_detail: true, ..v22() });
    lan.run_until(secs(60.0));
    let b = &lan.nodes[1];
    let start = b.log_times("start preempt delay (10.000000)")[0];
    assert!(start > t0 && start <= t0 + Duration::from_secs(1));
    // Adverts are accepted while now < start + 10 s; the one at exactly start + 10 s is
    // discarded, so the down timer runs from the advert before it.
    assert_eq!(b.became("MASTER"), vec![start + Duration::from_micros(9_000_000 + 3_414_062)]);
    assert!(b.logs().contains(&"(VI_1) received lower priority (100) advert from 192.168.200.1 - discarding".into()));
}

#[test]
fn priority_zero_on_stop_hands_over_after_skew() {
    let mut lan =
        pair(&conf("MASTER", Some(100), ""), &conf("BACKUP", Some(90), ""), Options { log_detail: true, ..v22() });
    lan.run_until(secs(10.0));
    let t = lan.now;
    lan.stop(0);
    let a = &lan.nodes[0];
    let sent = a.sent();
    let last = &sent.last().unwrap().1;
    assert_eq!(last[20 + 2], 0, "priority-0 advert");
    assert!(a.logs().contains(&"(VI_1) sent 0 priority".into()));
    assert!(a.out.iter().any(|(_, x)| matches!(x, VrrpAction::DelVip { .. })));
    assert_eq!(a.state(), "STOP");
    lan.run_until(secs(20.0));
    let b = &lan.nodes[1];
    assert!(b.logs().contains(&"(VI_1) Backup received priority 0 advertisement".into()));
    // Skew_Time = (256 − 90)/256 s.
    assert_eq!(b.became("MASTER"), vec![t + Duration::from_micros(648_437)]);
}

// ----- split brain (§2.5) -------------------------------------------------------------------

#[test]
fn split_brain_equal_priority_higher_ip_wins() {
    let mut lan = pair(&conf("BACKUP", Some(100), ""), &conf("BACKUP", Some(100), ""), v22());
    lan.cut[0][1] = true;
    lan.cut[1][0] = true;
    lan.run_until(secs(10.0));
    assert_eq!((lan.nodes[0].state(), lan.nodes[1].state()), ("MASTER".into(), "MASTER".into()));
    lan.cut[0][1] = false;
    lan.cut[1][0] = false;
    lan.run_until(secs(15.0));
    let (a, b) = (&lan.nodes[0], &lan.nodes[1]);
    assert_eq!(a.state(), "BACKUP", "192.168.200.1 has the lower address");
    assert_eq!(b.state(), "MASTER");
    assert!(
        a.logs().contains(
            &"(VI_1) Master received advert from 192.168.200.2 with same priority 100 but higher IP address than ours"
                .into()
        )
    );
    assert!(b.logs().contains(
        &"(VI_1) Received advert from 192.168.200.1 with lower priority 100, ours 100, forcing new election".into()
    ));
}

/// The lower priority master hears the winner first and yields; the winner never hears a
/// lower-priority advert, so it sends no GARPs: the loser's GARPs were the last ones the
/// LAN saw (failure mode 3, keepalived #166).
#[test]
fn split_brain_lower_priority_yields_without_regarp() {
    let mut lan = pair(&conf("BACKUP", Some(110), ""), &conf("BACKUP", Some(100), ""), v22());
    lan.cut[0][1] = true;
    lan.cut[1][0] = true;
    lan.run_until(secs(10.0));
    let garps_before = lan.nodes[0].garps().len();
    lan.cut[0][1] = false;
    lan.cut[1][0] = false;
    lan.run_until(secs(20.0));
    assert_eq!(lan.nodes[0].state(), "MASTER");
    assert_eq!(lan.nodes[1].state(), "BACKUP");
    assert!(
        lan.nodes[1]
            .logs()
            .contains(&"(VI_1) Master received advert from 192.168.200.1 with higher priority 110, ours 100".into())
    );
    assert_eq!(lan.nodes[0].garps().len(), garps_before);
}

/// Unidirectional loss (§5.2): A hears B but B never hears A: dual master persists.
#[test]
fn unidirectional_loss_keeps_dual_master() {
    let mut lan = pair(&conf("BACKUP", Some(110), ""), &conf("BACKUP", Some(100), ""), v22());
    lan.cut[0][1] = true;
    lan.run_until(secs(30.0));
    assert_eq!((lan.nodes[0].state(), lan.nodes[1].state()), ("MASTER".into(), "MASTER".into()));
    let a = &lan.nodes[0];
    let first = a.log_times("forcing new election")[0];
    assert!(a.log_times("forcing new election").len() > 10);
    // Each lower-priority advert: an advert back and garp_lower_prio_repeat (5) GARPs now,
    // 5 more garp_lower_prio_delay (5 s) later.
    assert_eq!(a.garps().iter().filter(|&&t| t == first).count(), 5);
    assert!(a.garps().iter().filter(|&&t| t == first + Duration::from_secs(5)).count() >= 5);
}

// ----- GARP schedule (§2.4) -----------------------------------------------------------------

#[test]
fn garp_timeline_five_now_five_after_five_seconds() {
    let mut lan = Lan::new();
    lan.add(&conf("BACKUP", Some(100), ""), 1, v22());
    lan.run_until(secs(60.0));
    let n = &lan.nodes[0];
    let t = n.became("MASTER")[0];
    assert_eq!(n.garps(), [vec![t; 5], vec![t + Duration::from_secs(5); 5]].concat());
    let VrrpAction::Garp { frame, mac: m, vip, dev } =
        &n.out.iter().find(|(_, a)| matches!(a, VrrpAction::Garp { .. })).unwrap().1
    else {
        unreachable!()
    };
    assert_eq!((dev.as_str(), *vip, *m), ("eth0", Ipv4Addr::new(192, 168, 200, 16), mac(1)));
    // §3.6: broadcast, ARP request, sender = target = VIP, target MAC ff:ff:ff:ff:ff:ff.
    assert_eq!(&frame[..6], &[0xff; 6]);
    assert_eq!(&frame[6..12], &mac(1).0);
    assert_eq!(&frame[12..14], &[0x08, 0x06]);
    assert_eq!(&frame[14..22], &[0, 1, 8, 0, 6, 4, 0, 1]);
    assert_eq!(&frame[28..32], &[192, 168, 200, 16]);
    assert_eq!(&frame[32..38], &[0xff; 6]);
    assert_eq!(&frame[38..42], &[192, 168, 200, 16]);
    // The VIP went on before the first GARP.
    let add = n.out.iter().position(|(_, a)| matches!(a, VrrpAction::AddVip { .. })).unwrap();
    let garp = n.out.iter().position(|(_, a)| matches!(a, VrrpAction::Garp { .. })).unwrap();
    assert!(add < garp);
}

/// `vrrp_garp_interval`: one GARP per interval per interface; repeats of a VIP already
/// queued merge, so 5 repeats of one VIP become 2 GARPs.
#[test]
fn garp_interval_spaces_and_merges() {
    let text = format!("global_defs {{\n vrrp_garp_interval 0.1\n}}\n{}", conf("BACKUP", Some(100), ""));
    let mut lan = lone(&text, v22());
    lan.run_until(secs(60.0));
    let n = &lan.nodes[0];
    let t = n.became("MASTER")[0];
    let ms = |k: u64| Duration::from_millis(k);
    assert_eq!(n.garps(), vec![t, t + ms(100), t + ms(5000), t + ms(5100)]);
}

#[test]
fn garp_refresh_at_the_advert_after_it_is_due() {
    let mut lan = Lan::new();
    lan.add(&conf("BACKUP", Some(100), "garp_master_refresh 10\n garp_master_refresh_repeat 2"), 1, v22());
    lan.run_until(secs(40.0));
    let n = &lan.nodes[0];
    let t = n.became("MASTER")[0];
    let g = n.garps();
    // 5 at T, 5 at T+5, then 2 at the first advert strictly after T+10 (T+11), T+22, T+33.
    let tail: Vec<Instant> = g[10..].to_vec();
    let s = |k: u64| t + Duration::from_secs(k);
    assert_eq!(tail, vec![s(11), s(11), s(22), s(22), s(33), s(33)]);
}

// ----- tracking (§2.7) -----------------------------------------------------------------------

#[test]
fn script_weight_changes_the_election() {
    let script = "vrrp_script chk {\n script \"/bin/chk\"\n interval 2\n weight -20\n}\n";
    let a = format!("{script}{}", conf("MASTER", Some(100), "track_script {\n chk\n }"));
    let b = conf("BACKUP", Some(90), "");
    let mut lan = pair(&a, &b, v22());
    lan.run_until(secs(10.0));
    assert_eq!(lan.nodes[0].state(), "MASTER");
    lan.scripts.0.insert("/bin/chk".into(), 1);
    lan.run_until(secs(30.0));
    let a = &lan.nodes[0];
    assert!(a.logs().contains(&"Script `chk` now returning 1".into()));
    assert!(a.logs().contains(&"VRRP_Script(chk) failed (exited with status 1)".into()));
    assert!(a.logs().contains(&"(VI_1) Changing effective priority from 100 to 80".into()));
    assert_eq!(a.state(), "BACKUP");
    assert_eq!(lan.nodes[1].state(), "MASTER");
    assert!(
        lan.nodes[1]
            .logs()
            .contains(&"(VI_1) received lower priority (80) advert from 192.168.200.1 - discarding".into())
    );
    // Recovery: +20 again, and the higher node preempts back.
    lan.scripts.0.insert("/bin/chk".into(), 0);
    lan.run_until(secs(50.0));
    assert!(lan.nodes[0].logs().contains(&"VRRP_Script(chk) succeeded".into()));
    assert_eq!(lan.nodes[0].state(), "MASTER");
    assert_eq!(lan.nodes[1].state(), "BACKUP");
}

#[test]
fn rise_and_fall_count_consecutive_results() {
    let script = "vrrp_script chk {\n script \"/bin/chk\"\n interval 1\n weight 10\n rise 2\n fall 3\n}\n";
    let mut lan = Lan::new();
    lan.add(&format!("{script}{}", conf("BACKUP", Some(100), "track_script {\n chk\n }")), 1, v22());
    lan.run_until(secs(0.5));
    // First run decides: +10.
    assert_eq!(lan.nodes[0].vrrp.report()[0].priority, 110);
    lan.scripts.0.insert("/bin/chk".into(), 2);
    lan.run_until(secs(2.5));
    assert_eq!(lan.nodes[0].vrrp.report()[0].priority, 110, "two failures < fall");
    lan.run_until(secs(3.5));
    assert_eq!(lan.nodes[0].vrrp.report()[0].priority, 100, "third failure");
    lan.scripts.0.insert("/bin/chk".into(), 0);
    lan.run_until(secs(4.5));
    assert_eq!(lan.nodes[0].vrrp.report()[0].priority, 100, "one success < rise");
    lan.run_until(secs(5.5));
    assert_eq!(lan.nodes[0].vrrp.report()[0].priority, 110);
}

#[test]
fn unweighted_script_holds_fault_until_it_succeeds() {
    let script = "vrrp_script chk {\n script \"/bin/chk\"\n interval 1\n}\n";
    let mut lan = Lan::new();
    lan.scripts.0.insert("/bin/chk".into(), 1);
    lan.add(&format!("{script}{}", conf("BACKUP", Some(100), "track_script {\n chk\n }")), 1, v22());
    lan.run_until(secs(5.0));
    let n = &lan.nodes[0];
    assert_eq!(n.state(), "FAULT");
    // vrrp_init_state put it in FAULT silently while it waited for the first result; the
    // failure finds it already there.
    assert_eq!(n.logs(), vec!["Script `chk` now returning 1", "VRRP_Script(chk) failed (exited with status 1)"]);
    assert_eq!(n.became("FAULT"), vec![Instant::ZERO]);
    lan.scripts.0.insert("/bin/chk".into(), 0);
    lan.run_until(secs(6.0));
    assert_eq!(lan.nodes[0].logs().last().unwrap(), "(VI_1) Entering BACKUP STATE");
}

#[test]
fn track_interface_down_is_fault_and_backup_takes_over() {
    let a = conf("MASTER", Some(100), "track_interface {\n eth1\n }");
    let mut lan = pair(&a, &conf("BACKUP", Some(90), ""), v22());
    lan.run_until(secs(10.0));
    let t = lan.now;
    let sent_before = lan.nodes[0].sent().len();
    lan.set_if(0, "eth1", false);
    let a = &lan.nodes[0];
    assert_eq!(a.state(), "FAULT");
    let logs = a.logs();
    assert_eq!(&logs[logs.len() - 2..], ["Netlink reports eth1 down", "(VI_1) Entering FAULT STATE"]);
    // Two priority-0 adverts (leave_master's and restore_interface's).
    let zero: Vec<u8> = a.sent()[sent_before..].iter().map(|(_, p)| p[22]).collect();
    assert_eq!(zero, vec![0, 0]);
    lan.run_until(secs(20.0));
    assert_eq!(lan.nodes[1].became("MASTER"), vec![t + Duration::from_micros(648_437)]);
    // Carrier back: BACKUP, then it preempts the lower backup.
    lan.set_if(0, "eth1", true);
    assert_eq!(lan.nodes[0].logs().last().unwrap(), "(VI_1) Entering BACKUP STATE");
    lan.run_until(secs(30.0));
    assert_eq!(lan.nodes[0].state(), "MASTER");
}

#[test]
fn weighted_track_interface_moves_priority() {
    let mut lan = Lan::new();
    lan.add(&conf("BACKUP", Some(100), "track_interface {\n eth1 weight -30\n }"), 1, v22());
    lan.set_if(0, "eth1", false);
    assert_eq!(lan.nodes[0].vrrp.report()[0].priority, 70);
    assert_eq!(lan.nodes[0].state(), "BACKUP");
    lan.set_if(0, "eth1", true);
    assert_eq!(lan.nodes[0].vrrp.report()[0].priority, 100);
}

// ----- sync groups (§2.8) ---------------------------------------------------------------------

const SEED004_MASTER: &str = "global_defs {\n router_id LVS_DEVEL\n}\nvrrp_sync_group lvs_1 {\n group {\n VI_1\n VI_GATEWAY\n }\n}\n\
vrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 51\n priority 100\n advert_int 1\n \
authentication {\n auth_type PASS\n auth_pass 1111\n }\n track_interface {\n eth1\n }\n virtual_ipaddress {\n 192.168.90.100\n }\n}\n\
vrrp_instance VI_GATEWAY {\n state MASTER\n interface eth0\n virtual_router_id 52\n priority 100\n advert_int 1\n \
authentication {\n auth_type PASS\n auth_pass 1111\n }\n virtual_ipaddress {\n 192.168.90.200\n }\n}\n";

#[test]
fn sync_group_members_move_together() {
    let mut lan = Lan::new();
    lan.add(SEED004_MASTER, 1, v22());
    lan.run_until(secs(5.0));
    let n = &lan.nodes[0];
    // A member wanting MASTER in a BACKUP group waits adver_int + minimum skew.
    assert_eq!(n.became("MASTER"), vec![Instant::from_micros(1_003_906); 2]);
    assert!(n.logs().contains(&"VRRP_Group(lvs_1) Syncing instances to MASTER state".into()));
    assert!(n.vrrp.report().iter().all(|r| r.state == "MASTER"));
    // A fault in one member takes the whole group to FAULT.
    lan.set_if(0, "eth1", false);
    let n = &lan.nodes[0];
    assert!(n.vrrp.report().iter().all(|r| r.state == "FAULT"));
    let logs = n.logs();
    let k = logs.iter().position(|l| l == "Netlink reports eth1 down").unwrap();
    assert_eq!(
        &logs[k..],
        [
            "Netlink reports eth1 down",
            "(VI_1) Entering FAULT STATE",
            "VRRP_Group(lvs_1) Syncing instances to FAULT state",
            "(VI_GATEWAY) Entering FAULT STATE",
        ]
    );
    lan.set_if(0, "eth1", true);
    let n = &lan.nodes[0];
    assert!(n.vrrp.report().iter().all(|r| r.state == "BACKUP"));
    assert!(n.logs().contains(&"VRRP_Group(lvs_1) Syncing instances to BACKUP state".into()));
    lan.run_until(secs(20.0));
    assert!(lan.nodes[0].vrrp.report().iter().all(|r| r.state == "MASTER"));
}

// Fixtures copied from scenarios/keepalived (seed 002 step 4/6, seed 003 item 8).
/// 1.3: `state MASTER` makes the transition one interval after start and sets the VIPs one
/// interval later; a preempting backup answers a lower advert with its own and takes over
/// one interval after that.
#[test]
fn v1_3_transition_and_forced_election() {
    let v13 = Options { version: KeepalivedVersion::V1_3, log_detail: false };
    let mut lan = Lan::new();
    lan.add(&conf("MASTER", Some(100), ""), 1, v13);
    lan.run_until(secs(10.0));
    let a = &lan.nodes[0];
    assert_eq!(a.log_times("Transition to MASTER STATE"), vec![secs(1.0)]);
    assert_eq!(a.log_times("Entering MASTER STATE"), vec![secs(2.0)]);
    lan.add(&conf("BACKUP", Some(150), ""), 2, v13);
    lan.run_until(secs(20.0));
    let (a, b) = (&lan.nodes[0], &lan.nodes[1]);
    let forced = b.log_times("VRRP_Instance(VI_1) forcing a new MASTER election")[0];
    assert_eq!(a.log_times("VRRP_Instance(VI_1) Received advert with higher priority 150, ours 100"), vec![forced]);
    assert_eq!(b.log_times("VRRP_Instance(VI_1) Transition to MASTER STATE"), vec![forced + Duration::from_secs(1)]);
    assert_eq!(b.state(), "MASTER");
    assert_eq!(a.state(), "BACKUP");
}

#[test]
fn v1_3_state_master_with_a_tracked_script_still_claims_after_one_interval() {
    // 1.3.5 runs the script at start-up (`thread_add_event`) and leaves the instance in
    // GOTO_MASTER: the first success must not turn it into a plain BACKUP (seed 003's pair).
    let v13 = Options { version: KeepalivedVersion::V1_3, log_detail: false };
    let script = "vrrp_script chk {\n script \"/bin/chk\"\n interval 2\n}\n";
    let mut lan = Lan::new();
    lan.add(&format!("{script}{}", conf("MASTER", Some(100), "track_script {\n chk\n }")), 1, v13);
    lan.add(&format!("{script}{}", conf("BACKUP", Some(90), "track_script {\n chk\n }")), 2, v13);
    lan.run_until(secs(5.0));
    let (a, b) = (&lan.nodes[0], &lan.nodes[1]);
    assert_eq!(a.log_times("VRRP_Instance(VI_1) Transition to MASTER STATE"), vec![secs(1.0)]);
    assert_eq!(a.log_times("VRRP_Instance(VI_1) Entering MASTER STATE"), vec![secs(2.0)]);
    assert_eq!(b.logs(), vec!["VRRP_Instance(VI_1) Entering BACKUP STATE", "VRRP_Script(chk) succeeded"]);
    assert_eq!(b.state(), "BACKUP");
    // A script that fails at start still takes the instance to FAULT.
    let mut lan = Lan::new();
    lan.scripts.0.insert("/bin/chk".into(), 1);
    lan.add(&format!("{script}{}", conf("MASTER", Some(100), "track_script {\n chk\n }")), 1, v13);
    lan.run_until(secs(5.0));
    assert_eq!(lan.nodes[0].state(), "FAULT");
}

const SEED002_MASTER: &str = r#"! seed 002_002d859144b46f77.txt, step 4: nginx HA with keepalived, master A (VRRP only)

global_defs {
#定义接收邮件
   notification_email {
     aming@aminglinux.com
   }
#定义发送邮件
   notification_email_from root@aminglinux.com
   smtp_server 127.0.0.1
   smtp_connect_timeout 30
   router_id LVS_DEVEL
}
#定义监控ngnix服务的脚本
vrrp_script chk_nginx {
    script "/usr/local/sbin/check_ng.sh"
    interval 3
}
#自定义master 角色名 监听哇咔 权重 以及密码 VIP 加载上面的定义的监控脚本
vrrp_instance VI_1 {
    state MASTER
    interface ens33
    virtual_router_id 51
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 123456
    }
    virtual_ipaddress {
        192.168.31.100
    }
    track_script {
        chk_nginx
    }
}

"#;
const SEED002_BACKUP: &str = r#"! seed 002_002d859144b46f77.txt, step 6: nginx HA with keepalived, backup B (VRRP only)
global_defs {
   notification_email {
     1193630409@qq.com
   }
   notification_email_from root@aminglinux.com
   smtp_server 127.0.0.1
   smtp_connect_timeout 30
   router_id LVS_DEVEL
}
vrrp_script chk_nginx {
    script "/usr/local/sbin/check_ng.sh"
    interval 3
}
vrrp_instance VI_1 {
    state BACKUP     # 不一样的地方
    interface ens33
    virtual_router_id 51  #不一样的地方设置编号
    priority 90            #设置级别
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass aminglinux>com
    }
    virtual_ipaddress {
        192.168.31.100
    }
    track_script {
        chk_nginx
    }
}

"#;
const SEED003: &str = r#"! seed 003_77a314b552959c9f.txt, item 8 "配置信息": /etc/keepalived/keepalived.conf; the tutorial's two
! code fences (VRRP part, then the virtual_server part) joined, the fence lines removed.
# 全局配置
 global_defs {              
    router_id LVS_DEVEL     # 定义路由标识信息，相同局域网唯一/必须配置

    notification_email {    # 定义报警邮件地址
      acassen@firewall.loc
      failover@firewall.loc
    } 
    notification_email_from Alexandre.Cassen@firewall.loc  # 定义发送邮件的地址
    smtp_server 192.168.200.1    # 邮箱服务器 
    smtp_connect_timeout 30      # 定义超时时间

    script_user root             # 执行脚本时配置否则会有警告
    enable_script_security       # 执行脚本时配置否则会有警告

 } 

# 自定义VRRP实例健康检查脚本，keepalived只能做到对自身问题和网络故障的监控，Script可以增加其它的监控来判定是否需要切换主备。
vrrp_script consul {
    script "cmd || shell_path"
    interval 2  # 执行脚本间隔
}

# 虚拟ip配置，实现高可用
vrrp_instance VI_1 {     # 定义实例
    state MASTER         # 状态参数 master/backup 只是说明
    interface eth0       # 虚IP地址放置的网卡位置，master节点会在此网卡上添加需IP
    virtual_router_id 51 # 同一个集群id一致，取值 1到255
    priority 100         # 优先级决定是主还是备，越大越优先
    advert_int 1         # 在局域网内发送组播的时间间隔
    authentication {     # 认证，集群内的配置需一致
        auth_type PASS
        auth_pass 1111
    }                         
    virtual_ipaddress {  # 设备之间使用的虚拟ip地址
        192.168.200.16    
        192.168.200.17
    }
    track_script {       # 启用脚本检查方式
        consul
    }
}

# 负载均衡配置 - 检验失败 - 当VIP调度非本机的真实IP时，web访问失败
# 虚拟ip配置，实现负载均衡
virtual_server 10.10.10.3 1358 { # 虚拟Ip
    delay_loop 3               # 健康检查时间间隔
    lb_algo rr                 # lvs调度算法rr|wrr|lc|wlc
    lb_kind NAT                # 负载均衡转发规则NAT|DR|RUN
    persistence_timeout 50     # 会话超时时间 
    protocol TCP

    real_server 192.168.200.4 1358 { # 配置真实IP
        weight 1    # 权重，取值-254..254，0无效
        HTTP_GET {  # 定义检查方式
            url {
              path /testurl/test.jsp
              digest 640205b7b0fc66c1ea91c463fac6334d   #生成方式 genhash -s 192.168.2.188 -p 80 -u /testurl/test.jsp
              status_code 200                           
            }
            url {
              path /testurl2/test.jsp
              digest 640205b7b0fc66c1ea91c463fac6334d
            }
            connect_timeout 3
            nb_get_retry 3
            delay_before_retry 3
        }
    }
    # real_server 192.168.200.5 1358 {...}

"#;

// ----- receive validation (§2.9) and seeds ------------------------------------------------------

/// An advert as another node would send it.
fn foreign(vrid: u8, prio: u8, int: u8, vips: &[Ipv4Addr], pass: Option<&[u8; 8]>, ttl: u8) -> Vec<u8> {
    let pass = pass.map_or(packet::V2Auth::None, packet::V2Auth::Pass);
    ip_packet(Ipv4Addr::new(192, 168, 200, 9), GROUP, ttl, 1, &build_v2(vrid, prio, int, vips, pass))
}

fn lone(text: &str, opts: Options) -> Lan {
    let mut lan = Lan::new();
    lan.add(text, 1, opts);
    lan
}

fn inject(lan: &mut Lan, pkt: &[u8]) -> Vec<String> {
    let before = lan.nodes[0].out.len();
    let now = lan.now;
    lan.nodes[0].vrrp.on_packet(now, "eth0", pkt);
    lan.flush();
    lan.nodes[0].out[before..]
        .iter()
        .filter_map(|(_, a)| match a {
            VrrpAction::Log(l) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

const VIP16: Ipv4Addr = Ipv4Addr::new(192, 168, 200, 16);

#[test]
fn validation_pipeline_messages_2_2() {
    let mut lan = lone(&conf("BACKUP", Some(100), ""), v22());
    assert_eq!(
        inject(&mut lan, &foreign(51, 100, 1, &[VIP16], None, 64)),
        ["(VI_1) invalid TTL/HL. Received 64 and expect 255"]
    );
    let v3 = ip_packet(
        Ipv4Addr::new(192, 168, 200, 9),
        GROUP,
        255,
        1,
        &build_v3(51, 100, 100, &[VIP16], Ipv4Addr::new(192, 168, 200, 9), GROUP, true),
    );
    assert_eq!(inject(&mut lan, &v3), ["(VI_1) wrong version. Received 3 and expect 2"]);
    assert_eq!(
        inject(&mut lan, &foreign(51, 100, 2, &[VIP16], None, 255)),
        ["(VI_1) advertisement interval mismatch mine=1 sec rcv'd=2 sec"]
    );
    assert_eq!(
        inject(&mut lan, &foreign(51, 100, 1, &[VIP16], Some(b"x\0\0\0\0\0\0\0"), 255)),
        ["(VI_1) received a 1 auth, expecting 0!"]
    );
    assert_eq!(
        inject(&mut lan, &foreign(51, 100, 1, &[VIP16, VIP16], None, 255)),
        ["(VI_1) received an unexpected ip number count 2, expected 1!"]
    );
    let mut bad = foreign(51, 100, 1, &[VIP16], None, 255);
    bad[20 + 6] ^= 0xff;
    // The IP header is unchanged, so only the VRRP checksum fails.
    assert_eq!(inject(&mut lan, &bad), ["(VI_1) Invalid VRRPv2 checksum"]);
    let mut short = foreign(51, 100, 1, &[VIP16], None, 255);
    short[20 + 3] = 0;
    assert_eq!(
        inject(&mut lan, &ip_packet(Ipv4Addr::new(192, 168, 200, 9), GROUP, 255, 1, &short[20..])),
        ["(VI_1) vrrp packet too long, length 40 and expect 36"]
    );
    assert_eq!(
        inject(&mut lan, &foreign(51, 100, 1, &[Ipv4Addr::new(10, 0, 0, 1)], None, 255)),
        ["(VI_1) ip address associated with VRID 51 not present in MASTER advert : 192.168.200.16"]
    );
    // Unknown VRIDs are ignored silently; so is anything that is not VRRP.
    assert!(inject(&mut lan, &foreign(52, 100, 1, &[VIP16], None, 255)).is_empty());
    // None of these restarted the down timer.
    lan.run_until(secs(10.0));
    assert_eq!(lan.nodes[0].became("MASTER"), vec![Instant::from_micros(3_609_375)]);
}

#[test]
fn rate_limited_errors_from_2_3_3() {
    let mut lan = lone(&conf("BACKUP", Some(100), ""), Options { version: KeepalivedVersion::V2_4, log_detail: false });
    let p = foreign(51, 100, 1, &[VIP16], None, 64);
    assert_eq!(inject(&mut lan, &p), ["(VI_1) invalid TTL/HL from 192.168.200.9. Received 64 and expect 255"]);
    assert!(inject(&mut lan, &p).is_empty(), "logged once per kind");
    // A VIP mismatch is only a warning from 2.3.3: the advert is accepted.
    let other = foreign(51, 200, 1, &[Ipv4Addr::new(10, 0, 0, 1)], None, 255);
    assert_eq!(
        inject(&mut lan, &other),
        ["(VI_1) ip address associated with VRID 51 not present in advert from 192.168.200.9: 192.168.200.16"]
    );
    lan.run_until(secs(3.0));
    assert_eq!(lan.nodes[0].state(), "BACKUP", "the accepted advert restarted the down timer");
}

/// §2.2 quirk: any packet for its VRID, even a rejected one, re-arms a master's advert timer.
#[test]
fn master_advert_timer_rearmed_by_any_packet() {
    let mut lan = lone(&conf("MASTER", None, ""), v22());
    lan.run_until(secs(2.5));
    let bad = foreign(51, 100, 1, &[VIP16], None, 64);
    assert_eq!(inject(&mut lan, &bad), ["(VI_1) invalid TTL/HL. Received 64 and expect 255"]);
    lan.run_until(secs(5.0));
    let times: Vec<Instant> = lan.nodes[0].sent().iter().map(|(t, _)| *t).collect();
    assert_eq!(times[3..], [secs(3.5), secs(4.5)], "the advert due at 3.000001 s moved to 3.5 s");
}

/// Two address owners (2.2 `vrrp_state_master_rx`): each drops itself to 254 and yields;
/// then the higher address wins.
#[test]
fn two_owners_both_reduce_priority() {
    let mut lan = pair(&conf("MASTER", None, ""), &conf("MASTER", None, ""), v22());
    lan.run_until(secs(10.0));
    let line = "(VI_1) CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority";
    assert!(lan.nodes[0].logs().contains(&line.to_string()));
    assert_eq!(lan.nodes[0].state(), "BACKUP");
    assert_eq!(lan.nodes[1].state(), "MASTER");
    assert_eq!(lan.nodes[1].vrrp.report()[0].priority, 254);
}

/// VRRPv3: a backup adopts the master's advertisement interval for its down timer.
#[test]
fn v3_backup_adopts_master_interval() {
    let a = conf("MASTER", Some(200), "version 3").replace("advert_int 1", "advert_int 0.5");
    let b = conf("BACKUP", Some(100), "version 3");
    let mut lan = pair(&a, &b, v22());
    lan.run_until(secs(10.0));
    let last = lan.nodes[0].sent().last().map(|(t, _)| *t).unwrap();
    lan.kill(0);
    lan.run_until(secs(20.0));
    // 3 × 0.5 s + (256 − 100) × 50 cs × 625/16 µs = 1.5 s + 0.304687 s.
    assert_eq!(lan.nodes[1].became("MASTER"), vec![last + Duration::from_micros(1_804_687)]);
}

/// Seed 003 (a 1.3.x log): a foreign cluster with the same VRID and other VIPs.
#[test]
fn vrid_conflict_seed003_lines_1_3() {
    let text = SEED003
        .replace("interface eth0", "interface ens192")
        .replace("192.168.200.16    \n        192.168.200.17", "172.16.212.118");
    let mut lan = Lan::new();
    let ifaces =
        vec![IfaceInfo { name: "ens192".into(), mac: mac(1), addr: Some(Ipv4Addr::new(172, 16, 212, 1)), up: true }];
    let vrrp =
        Vrrp::new(&cfg(&text), &ifaces, Options { version: KeepalivedVersion::V1_3, log_detail: false }, Instant::ZERO);
    lan.nodes.push(Node { vrrp, addr: Ipv4Addr::new(172, 16, 212, 1), alive: true, out: Vec::new() });
    lan.cut = vec![vec![false]];
    lan.run_until(secs(5.0));
    let n = &lan.nodes[0];
    assert_eq!(
        n.logs()[..3],
        [
            "VRRP_Script(consul) succeeded",
            "VRRP_Instance(VI_1) Transition to MASTER STATE",
            "VRRP_Instance(VI_1) Entering MASTER STATE"
        ]
    );
    let pkt = ip_packet(
        Ipv4Addr::new(172, 16, 212, 9),
        GROUP,
        255,
        1,
        &build_v2(51, 100, 1, &[Ipv4Addr::new(172, 16, 212, 200)], packet::V2Auth::Pass(b"1111\0\0\0\0")),
    );
    let now = lan.now;
    let before = lan.nodes[0].out.len();
    lan.nodes[0].vrrp.on_packet(now, "ens192", &pkt);
    lan.flush();
    let logs: Vec<String> = lan.nodes[0].out[before..]
        .iter()
        .filter_map(|(_, a)| if let VrrpAction::Log(l) = a { Some(l.clone()) } else { None })
        .collect();
    assert_eq!(
        logs,
        [
            "(VI_1): ip address associated with VRID 51 not present in MASTER advert : 172.16.212.118",
            "bogus VRRP packet received on ens192 !!!",
            "VRRP_Instance(VI_1) Dropping received VRRP packet...",
        ]
    );
}

fn seed002(opts: Options) -> Lan {
    let m = SEED002_MASTER.replace("ens33", "eth0");
    let b = SEED002_BACKUP.replace("ens33", "eth0");
    pair(&m, &b, opts)
}

/// Seed 002: `auth_pass 123456` against `aminglinux>com` (kept as `aminglin`): dual master.
#[test]
fn auth_mismatch_seed002_dual_master() {
    let mut lan = seed002(v22());
    lan.run_until(secs(20.0));
    let (a, b) = (&lan.nodes[0], &lan.nodes[1]);
    assert_eq!((a.state(), b.state()), ("MASTER".into(), "MASTER".into()));
    assert!(b.logs().contains(&"(VI_1) received an invalid passwd!".into()));
    assert!(a.logs().contains(&"(VI_1) received an invalid passwd!".into()));
    // The backup's down timer ran from its start: the invalid adverts never restarted it.
    assert_eq!(b.became("MASTER"), vec![Instant::from_micros(3_648_437)]);
}

/// 1.3: every invalid advert restarts the backup's down timer, so the backup never claims.
#[test]
fn auth_mismatch_seed002_1_3_backup_stays() {
    let mut lan = seed002(Options { version: KeepalivedVersion::V1_3, log_detail: false });
    lan.run_until(secs(20.0));
    let b = &lan.nodes[1];
    assert_eq!(lan.nodes[0].state(), "MASTER");
    assert_eq!(b.state(), "BACKUP");
    let logs = b.logs();
    let k = logs.iter().position(|l| l == "(VI_1): received an invalid passwd!").unwrap();
    assert_eq!(logs[k + 1], "bogus VRRP packet received on eth0 !!!");
    assert_eq!(logs[k + 2], "VRRP_Instance(VI_1) ignoring received advertisment...");
}

// ----- wire -------------------------------------------------------------------------------------

/// Reference §3.7 from the engine: VRID 51, priority 100, advert 1 s, VIP 192.168.200.16,
/// source 192.168.200.1.
#[test]
fn first_advert_is_byte_exact() {
    let mut lan = Lan::new();
    lan.add(&conf("MASTER", None, ""), 1, v22());
    lan.run_until(secs(0.5));
    let (_, p) = &lan.nodes[0].sent()[0];
    let mut want =
        vec![0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0, 0, 192, 168, 200, 1, 224, 0, 0, 18];
    let hc = crate::wire::checksum::checksum(&want);
    want[10..12].copy_from_slice(&hc.to_be_bytes());
    // Priority 255 instead of the worked example's 100: checksum 0xf210 − 0x9b00.
    want.extend_from_slice(&[
        0x21, 0x33, 0xff, 0x01, 0x00, 0x01, 0x57, 0x10, 0xc0, 0xa8, 0xc8, 0x10, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    assert_eq!(p, &want);
    assert!(lan.nodes[0].out.iter().any(|(_, a)| *a == VrrpAction::JoinGroup { dev: "eth0".into(), group: GROUP }));
}

#[test]
fn unicast_v3_sends_to_each_peer_with_real_destination_checksum() {
    let extra = "version 3\n unicast_src_ip 192.168.200.1\n unicast_peer {\n 192.168.200.2\n 192.168.200.3\n }";
    let mut lan = Lan::new();
    lan.add(&conf("MASTER", None, extra), 1, v22());
    lan.run_until(secs(0.5));
    let sent = lan.nodes[0].sent();
    assert_eq!(sent.len(), 2);
    for ((_, p), peer) in sent.iter().zip([2u8, 3]) {
        let ip = Ipv4::parse(p).unwrap();
        assert_eq!(ip.dst, Ipv4Addr::new(192, 168, 200, peer));
        assert_eq!(checksum_v3(ip.src, ip.dst, ip.payload), 0);
        assert_eq!(ip.id, 1, "one IP ID per advert round");
    }
    assert!(!lan.nodes[0].out.iter().any(|(_, a)| matches!(a, VrrpAction::JoinGroup { .. })));
}

#[test]
fn use_vmac_sends_from_the_virtual_mac() {
    let mut lan = Lan::new();
    lan.add(&conf("MASTER", None, "use_vmac"), 1, v22());
    lan.run_until(secs(0.5));
    let n = &lan.nodes[0];
    let vmac = MacAddr([0, 0, 0x5e, 0, 1, 51]);
    assert!(
        n.out
            .iter()
            .any(|(_, a)| *a == VrrpAction::Vmac { dev: "eth0".into(), name: "vrrp.51".into(), mac: vmac, up: true })
    );
    assert!(n.out.iter().any(|(_, a)| matches!(a, VrrpAction::Send { dev, .. } if dev == "vrrp.51")));
    assert!(
        n.out.iter().any(|(_, a)| matches!(a, VrrpAction::Garp { mac, dev, .. } if *mac == vmac && dev == "vrrp.51"))
    );
    assert!(n.out.iter().any(|(_, a)| matches!(a, VrrpAction::AddVip { dev, .. } if dev == "vrrp.51")));
}

/// Strict mode: `state MASTER` without owner priority is reset, `accept` is off, so the
/// VIP is firewalled while held (failure mode 8).
#[test]
fn strict_mode_blocks_vips_while_master() {
    let text = format!("global_defs {{\n vrrp_strict\n}}\n{}", conf("MASTER", Some(100), ""));
    let mut lan = lone(&text, v22());
    lan.run_until(secs(5.0));
    let n = &lan.nodes[0];
    let k = n.out.iter().position(|(_, a)| matches!(a, VrrpAction::BlockVip { block: true, .. })).unwrap();
    assert!(matches!(&n.out[k + 1].1, VrrpAction::AddVip { .. }));
    assert_eq!(n.out[k].1, VrrpAction::BlockVip { addr: VIP16, block: true });
    lan.stop(0);
    assert!(lan.nodes[0].out.iter().any(|(_, a)| *a == VrrpAction::BlockVip { addr: VIP16, block: false }));
}

fn ah(pass: &str) -> String {
    format!("authentication {{\n auth_type AH\n auth_pass {pass}\n }}")
}

/// `auth_type AH`: protocol 51 adverts with an HMAC-MD5-96 ICV; elections work as usual.
#[test]
fn ah_adverts_elect_and_fail_over() {
    let mut lan = pair(&conf("BACKUP", Some(100), &ah("secret")), &conf("BACKUP", Some(90), &ah("secret")), v22());
    lan.run_until(secs(10.0));
    assert_eq!((lan.nodes[0].state(), lan.nodes[1].state()), ("MASTER".into(), "BACKUP".into()));
    let sent = lan.nodes[0].sent();
    let (_, p) = sent.last().unwrap();
    assert_eq!((p[9], p.len()), (51, 20 + 24 + 20));
    assert_eq!(p[20], 112, "next header VRRP");
    assert_eq!(&p[24..28], &[192, 168, 200, 1], "SPI = source address");
    assert_eq!(u32::from_be_bytes([p[28], p[29], p[30], p[31]]) as usize, sent.len(), "one sequence number per advert");
    assert_eq!(p[44 + 4], 2, "VRRP auth type AH");
    // The backup follows the master's counter; when the master dies it continues from there.
    let last = sent.last().unwrap().0;
    lan.kill(0);
    lan.run_until(secs(20.0));
    assert_eq!(lan.nodes[1].became("MASTER"), vec![last + Duration::from_micros(3_648_437)]);
    let (_, p) = &lan.nodes[1].sent()[0];
    assert_eq!(u32::from_be_bytes([p[28], p[29], p[30], p[31]]) as usize, sent.len() + 1);
}

#[test]
fn ah_wrong_password_rejected() {
    let mut lan = pair(&conf("BACKUP", Some(100), &ah("secret")), &conf("BACKUP", Some(90), &ah("other")), v22());
    lan.run_until(secs(10.0));
    assert_eq!((lan.nodes[0].state(), lan.nodes[1].state()), ("MASTER".into(), "MASTER".into()));
    assert!(
        lan.nodes[1].logs().contains(
            &"(VI_1) IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !".into()
        )
    );
}

#[test]
fn deterministic() {
    let run = || {
        let mut lan = seed002(Options { version: KeepalivedVersion::V2_2, log_detail: true });
        lan.run_until(secs(30.0));
        lan.nodes.iter().map(|n| format!("{:?}", n.out)).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes, or a valid advert with arbitrary bytes overwritten, never panic,
    /// whatever the version profile and authentication.
    #[test]
    fn on_packet_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120),
                              edits in proptest::collection::vec((0usize..72, any::<u8>()), 0..8),
                              version in 0usize..3, auth in 0usize..3) {
        let opts = Options {
            version: [KeepalivedVersion::V1_3, KeepalivedVersion::V2_2, KeepalivedVersion::V2_4][version],
            log_detail: true,
        };
        let extra = ["", "authentication {\n auth_type PASS\n auth_pass 1111\n }", "authentication {\n auth_type AH\n auth_pass 1111\n }"][auth];
        let mut lan = lone(&conf("BACKUP", Some(100), extra), opts);
        lan.run_until(secs(5.0));
        let now = lan.now;
        lan.nodes[0].vrrp.on_packet(now, "eth0", &bytes);
        let mut as_ah = bytes.clone();
        if let Some(b) = as_ah.get_mut(9) { *b = 51; }
        lan.nodes[0].vrrp.on_packet(now, "eth0", &as_ah);
        let key = *b"1111\0\0\0\0";
        let msg = build_v2(51, 200, 1, &[VIP16], [packet::V2Auth::None, packet::V2Auth::Pass(&key), packet::V2Auth::Ah][auth]);
        let src = Ipv4Addr::new(192, 168, 200, 9);
        let mut p = if auth == 2 {
            ah::packet(&ah::Outer { src, dst: GROUP, ttl: 255, id: 1, unicast: false }, 5, &key, &msg)
        } else {
            ip_packet(src, GROUP, 255, 1, &msg)
        };
        for (at, b) in edits {
            if let Some(x) = p.get_mut(at) { *x = b; }
        }
        lan.nodes[0].vrrp.on_packet(now, "eth0", &p);
        lan.run_until(secs(10.0));
    }
}
