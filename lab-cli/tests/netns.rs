//! The netns harness on real kernels. These tests need root and network
//! namespaces: elsewhere they print `SKIPPED` and pass, unless
//! `LVS_LAB_REQUIRE_NETNS=1` (set by `.ci/run`), where they fail instead.

use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_lvs-lab");

/// Held around every `netns clean`: a clean removes every ended run's namespaces,
/// so one test's clean would take the dead run another test plants to see its
/// own clean remove it (tests run in parallel).
static CLEANING: Mutex<()> = Mutex::new(());

fn cleaning() -> MutexGuard<'static, ()> {
    CLEANING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the harness can run here; otherwise says why (and fails if required).
fn netns_or_skip(test: &str) -> bool {
    let out = {
        let _one_clean_at_a_time = cleaning();
        Command::new(BIN).args(["netns", "clean"]).output().expect("runs lvs-lab")
    };
    if out.status.success() {
        return true;
    }
    let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if std::env::var("LVS_LAB_REQUIRE_NETNS").as_deref() == Ok("1") {
        panic!("{test}: LVS_LAB_REQUIRE_NETNS=1 but the netns harness cannot run: {why}");
    }
    eprintln!("SKIPPED {test}: the netns harness cannot run here: {why}");
    false
}

fn lab(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("runs lvs-lab")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn base36(mut n: u32) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut s = vec![];
    loop {
        s.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    s.reverse();
    String::from_utf8(s).expect("ascii")
}

/// Our namespaces of the run whose harness had `pid`.
fn namespaces_of(pid: u32) -> Vec<String> {
    let list = Command::new("ip").args(["netns", "list"]).output().expect("ip netns list");
    let prefix = format!("lvslab-{}-", base36(pid));
    String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

fn tmp(name: &str) -> String {
    std::env::temp_dir().join(format!("lvs-lab-netns-test-{}-{name}", std::process::id())).display().to_string()
}

#[test]
fn routed_agrees_with_the_kernel() {
    if !netns_or_skip("routed_agrees_with_the_kernel") {
        return;
    }
    let o = lab(&["netns", "diff", "routed", "--until", "4s"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("routed: sim and kernel agree (3 requests"), "{}", text(&o));
}

#[test]
fn a_difference_is_shown_rerun_and_then_reported() {
    if !netns_or_skip("a_difference_is_shown_rerun_and_then_reported") {
        return;
    }
    // Link loss is simulated but not served on veths (no sch_netem): the two worlds
    // differ every time, so the rerun differs too and the diff fails, both runs shown.
    let routed = include_str!("../../scenarios/routed.toml");
    let lossy = routed.replacen("name = \"lan1\"\n", "name = \"lan1\"\nloss = 1.0\n", 1);
    assert_ne!(lossy, routed, "routed.toml has a segment lan1");
    let path = tmp("lossy.toml");
    std::fs::write(&path, lossy).expect("writes the scenario");
    let o = lab(&["netns", "diff", &path, "--until", "2500ms"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let first = t.find("the first kernel run differs").unwrap_or_else(|| panic!("first run shown: {t}"));
    let last = t.find("sim and kernel differ: request client/client#0").unwrap_or_else(|| panic!("{t}"));
    assert!(first < last, "{t}");
    // Each run shows what the kernel did: its requests, with ports and bodies.
    assert_eq!(t.matches("client/client    #0   tcp 10.0.1.10:").count(), 2, "{t}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn model_hosts_latency_decides_an_arp_race_as_in_the_simulator() {
    if !netns_or_skip("model_hosts_latency_decides_an_arp_race_as_in_the_simulator") {
        return;
    }
    // Three ARP replies for the VIP race to a real router; the links' latencies
    // (held by the harness for model hosts) decide which it keeps: rs1 here, the
    // director in the other. The first request (at 1 s) is answered by the winner.
    for s in ["dr-arp-leak", "dr-arp-leak-director-wins"] {
        let o = lab(&["netns", "diff", s, "--until", "1500ms", "--model", "rs1", "--model", "rs2"]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains(&format!("{s}: sim and kernel agree (1 request")), "{}", text(&o));
    }
}

#[test]
fn an_arp_race_is_decided_by_latency_on_a_busy_machine_too() {
    if !netns_or_skip("an_arp_race_is_decided_by_latency_on_a_busy_machine_too") {
        return;
    }
    // CI's machine: the harness read rs2's copy of the router's who-has (the
    // bridge floods to the newest port first), was scheduled out, and sent rs2's
    // reply before reading rs1's copy, so the router kept rs2 (kernel RS2, sim
    // RS1). The stall makes every turn of the loop that slow and reads one socket
    // a turn; the replies must still leave in the order of the latencies.
    let o = Command::new(BIN)
        .args(["netns", "diff", "dr-arp-leak", "--until", "1500ms", "--model", "rs1", "--model", "rs2"])
        .env("LVS_LAB_NETNS_STALL", "60us")
        .output()
        .expect("runs lvs-lab");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("dr-arp-leak: sim and kernel agree (1 request") && !t.contains("differs"), "{t}");
}

#[test]
fn a_model_hosts_timer_frames_leave_on_time() {
    if !netns_or_skip("a_model_hosts_timer_frames_leave_on_time") {
        return;
    }
    // dir1's master-down timer fires at 3.609375 s; its first advert is held for
    // the cable's latency (microseconds). The harness once slept to the next timer
    // instead (dir2's, at 3.648 s), so both directors became MASTER together.
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
    use pcap_file::pcapng::{Block, PcapNgReader};
    let (pcap, trace) = (tmp("vmac.pcapng"), tmp("vmac.trace"));
    let o = lab(&["netns", "run", "vrrp-failover-vmac", "--until", "3700ms", "--pcap", &pcap, "--trace", &trace]);
    assert!(o.status.success(), "{}", text(&o));
    // The same run's model-host trace: dir1's transition, and dir2's verdict on
    // dir1's gratuitous ARP with its cause, as the simulator traces them.
    let t = std::fs::read_to_string(&trace).expect("trace written");
    assert!(t.lines().any(|l| l.contains(" dir1 ") && l.contains("vrrp  (VI_1) Entering MASTER STATE")), "{t}");
    assert!(
        t.lines().any(|l| l.contains(" dir2 ")
            && l.contains(" rx    00:00:5e:00:01:33 > broadcast ARP gratuitous request 192.168.31.100")
            && l.contains("creates no entry (arp_accept=0)")),
        "{t}"
    );
    assert!(!t.contains(" client ") && !t.contains(" router "), "kernel hosts have no trace lines");
    let bytes = std::fs::read(&pcap).expect("pcap written");
    let mut r = PcapNgReader::new(&bytes[..]).expect("pcapng");
    let (mut names, mut advert) = (vec![], None);
    while let Some(b) = r.next_block() {
        match b.expect("block") {
            Block::InterfaceDescription(idb) => names.push(idb.options.iter().find_map(|o| match o {
                InterfaceDescriptionOption::IfName(n) => Some(n.to_string()),
                _ => None,
            })),
            // IPv4 (ethertype at 12) carrying VRRP (protocol 112 at 14 + 9).
            Block::EnhancedPacket(p)
                if names[p.interface_id as usize].as_deref() == Some("dir1:ens33")
                    && p.data.get(12..14) == Some(&[0x08, 0x00])
                    && p.data.get(23) == Some(&112) =>
            {
                advert = Some(p.timestamp.as_nanos());
                break;
            }
            _ => {}
        }
    }
    let at = advert.expect("dir1 sent an advert");
    assert!((3_609_375_000..3_640_000_000).contains(&at), "dir1's first advert at {at} ns, due at 3609375000");
    let _ = std::fs::remove_file(pcap);
    let _ = std::fs::remove_file(trace);
}

#[test]
fn the_director_forwards_real_frames_over_af_packet() {
    if !netns_or_skip("the_director_forwards_real_frames_over_af_packet") {
        return;
    }
    let (json, pcap) = (tmp("nat.json"), tmp("nat.pcapng"));
    let o = lab(&["netns", "run", "nat-basic", "--until", "3500ms", "--json", &json, "--pcap", &pcap]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("lvs-lab's model over AF_PACKET: dir"), "{}", text(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("json");
    assert_eq!(r["world"], "netns");
    let reqs = r["requests"].as_array().expect("requests");
    assert!(reqs.len() >= 2, "{r}");
    for q in reqs {
        assert_eq!(q["outcome"], "ok", "{q}");
        assert_eq!(q["body"], "RS2", "{q}");
    }
    // The director's table and the client's neighbour entry for the VIP.
    assert!(r["hosts"]["dir"]["ipvs"]["services"].as_array().is_some_and(|s| !s.is_empty()), "{r}");
    let neigh = r["hosts"]["client"]["neigh"].as_array().expect("neigh");
    assert!(neigh.iter().any(|n| n["addr"] == "192.168.0.20"), "{neigh:?}");
    let bytes = std::fs::read(&pcap).expect("pcap written");
    assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a], "a pcapng section header");
    let has = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
    assert!(has("dir:ens33") && has("client:eth0") && has("rs2:ens33"), "interfaces named host:ifname");
    let _ = std::fs::remove_file(json);
    let _ = std::fs::remove_file(pcap);
}

#[test]
fn tun_scenarios_are_unavailable_without_ipip() {
    if !netns_or_skip("tun_scenarios_are_unavailable_without_ipip") {
        return;
    }
    if std::path::Path::new("/sys/module/ipip").exists() {
        eprintln!("SKIPPED tun_scenarios_are_unavailable_without_ipip: this kernel has ipip");
        return;
    }
    let o = lab(&["netns", "diff", "tun-basic", "--until", "1s"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("tun-basic: unavailable on this kernel"), "{}", text(&o));
}

#[test]
fn two_runs_at_once_do_not_collide_and_leave_nothing() {
    if !netns_or_skip("two_runs_at_once_do_not_collide_and_leave_nothing") {
        return;
    }
    let spawn = || {
        Command::new(BIN)
            .args(["netns", "run", "routed", "--until", "2500ms"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns")
    };
    let (a, b) = (spawn(), spawn());
    let (pa, pb) = (a.id(), b.id());
    let (oa, ob) = (a.wait_with_output().expect("a"), b.wait_with_output().expect("b"));
    for o in [&oa, &ob] {
        assert!(o.status.success(), "{}", text(o));
        assert!(text(o).contains("#1   tcp 10.0.1.10"), "{}", text(o));
    }
    assert!(namespaces_of(pa).is_empty() && namespaces_of(pb).is_empty(), "namespaces left behind");
}

#[test]
fn ctrl_c_cleans_up() {
    if !netns_or_skip("ctrl_c_cleans_up") {
        return;
    }
    let child = Command::new(BIN)
        .args(["netns", "run", "routed", "--until", "30s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let pid = child.id();
    let t = std::time::Instant::now();
    while namespaces_of(pid).len() < 5 && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!namespaces_of(pid).is_empty(), "the run made its namespaces");
    let k = Command::new("kill").args(["-INT", &pid.to_string()]).status().expect("kill");
    assert!(k.success());
    let o = child.wait_with_output().expect("waits");
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(text(&o).contains("interrupted"), "{}", text(&o));
    assert!(namespaces_of(pid).is_empty(), "namespaces left behind: {:?}", namespaces_of(pid));
}

#[test]
fn clean_removes_only_dead_runs_of_our_prefix() {
    if !netns_or_skip("clean_removes_only_dead_runs_of_our_prefix") {
        return;
    }
    let _no_other_clean = cleaning();
    // A pid that has exited: its run is over.
    let mut dead = Command::new("true").spawn().expect("true");
    let dead_pid = dead.id();
    dead.wait().expect("waits");
    let leftover = format!("lvslab-{}-h-leftover", base36(dead_pid));
    let mine = format!("lvslab-{}-h-alive", base36(std::process::id()));
    let foreign = format!("notours-{}", std::process::id());
    for ns in [&leftover, &mine, &foreign] {
        assert!(Command::new("ip").args(["netns", "add", ns]).status().expect("ip").success());
    }
    let o = lab(&["netns", "clean"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&format!("removed {leftover}")), "{}", text(&o));
    let list =
        String::from_utf8_lossy(&Command::new("ip").args(["netns", "list"]).output().expect("ip").stdout).into_owned();
    assert!(!list.contains(&leftover), "{list}");
    assert!(list.contains(&mine) && list.contains(&foreign), "live runs and other namespaces stay: {list}");
    for ns in [&mine, &foreign] {
        let _ = Command::new("ip").args(["netns", "del", ns]).status();
    }
}

#[test]
fn without_root_it_says_so_and_exits_2() {
    if !netns_or_skip("without_root_it_says_so_and_exits_2") {
        return;
    }
    let Ok(o) = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "netns", "run", "routed"])
        .output()
    else {
        eprintln!("SKIPPED without_root_it_says_so_and_exits_2: no setpriv");
        return;
    };
    if String::from_utf8_lossy(&o.stderr).contains("Permission denied") && o.status.code() != Some(2) {
        eprintln!("SKIPPED without_root_it_says_so_and_exits_2: the test binary is not readable by nobody");
        return;
    }
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("needs root"), "{}", text(&o));
}
