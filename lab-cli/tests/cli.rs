//! The `lvs-lab` binary as a user drives it: outputs, files, exit statuses, and
//! bad input answered with a located message and status 2, never a panic.

use std::path::PathBuf;
use std::process::{Command, Output};

fn lvs_lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvs-lab")).args(args).output().expect("run lvs-lab")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lvs-lab-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A scenario file written to disk.
fn scenario(name: &str, body: &str) -> String {
    let p = scratch(name).join(format!("{name}.toml"));
    std::fs::write(&p, body).expect("write scenario");
    p.to_string_lossy().into_owned()
}

const TWO_HOSTS: &str = r#"
duration = "5s"
[[segment]]
name = "lan"
[[host]]
name = "a"
setup = "ip addr add 10.0.0.1/24 dev eth0"
[[host.nic]]
name = "eth0"
segment = "lan"
[[host.app]]
kind = "client"
to = "10.0.0.2:80"
[[host]]
name = "b"
setup = "ip addr add 10.0.0.2/24 dev eth0"
[[host.nic]]
name = "eth0"
segment = "lan"
[[host.app]]
kind = "http-server"
body = "B"
"#;

#[test]
fn list_names_first() {
    let o = lvs_lab(&["list"]);
    assert!(o.status.success());
    let (out, _) = text(&o);
    let names: Vec<&str> = out.lines().map(|l| l.split_whitespace().next().unwrap_or("")).collect();
    for n in ["dr-basic", "nat-basic", "lan-echo", "lan-arp", "routed", "routed-rp-filter"] {
        assert!(names.contains(&n), "{n} missing from `list`:\n{out}");
    }
}

#[test]
fn run_writes_trace_pcap_and_json() {
    let d = scratch("outputs");
    let (pcap, trace, json) = (d.join("r.pcapng"), d.join("r.jsonl"), d.join("r.json"));
    let o = lvs_lab(&[
        "run",
        "routed",
        "--seed",
        "7",
        "--pcap",
        pcap.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("== routed: seed 7"), "{out}");
    let pcap = std::fs::read(pcap).unwrap();
    assert_eq!(&pcap[..4], &[0x0a, 0x0d, 0x0d, 0x0a], "pcapng section header");
    let first = std::fs::read_to_string(trace).unwrap().lines().next().unwrap().to_string();
    let ev: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert!(ev.get("t_ns").is_some() && ev.get("id").is_some(), "{first}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(report["scenario"], "routed");
    assert_eq!(report["seed"], 7);
    let reqs = report["requests"].as_array().unwrap();
    assert!(!reqs.is_empty());
    for k in ["client", "start_ns", "end_ns", "outcome", "body", "src", "dst"] {
        assert!(reqs[0].get(k).is_some(), "request field {k}");
    }
    assert!(report["hosts"]["router"]["neigh"].is_array());
    assert!(report["hosts"]["router"]["routes"].is_array());
}

#[test]
fn until_and_exec_show_state_at_a_time() {
    let o = lvs_lab(&[
        "run",
        "nat-basic",
        "--until",
        "2s",
        "--exec",
        "dir",
        "ipvsadm -Lnc",
        "--exec",
        "client",
        "ip neigh",
        "-q",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success() || o.status.code() == Some(1), "{err}");
    assert!(out.contains("dir# ipvsadm -Lnc   (at 2.000000000)"), "{out}");
    assert!(out.contains("pro expire state       source             virtual            destination"), "{out}");
    assert!(out.contains("192.168.0.20 dev eth0 lladdr"), "{out}");
}

#[test]
fn the_default_scenario_runs() {
    let o = lvs_lab(&["run", "-q"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("expectations:"), "{out}");
}

fn assert_input_error(o: &Output, needle: &str) {
    let (out, err) = text(o);
    assert_eq!(o.status.code(), Some(2), "status for {needle:?}: stdout {out} stderr {err}");
    assert!(err.contains(needle), "expected {needle:?} in stderr:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unknown_scenario_and_bad_arguments() {
    assert_input_error(&lvs_lab(&["run", "no-such-scenario"]), "no built-in scenario named `no-such-scenario`");
    assert_input_error(&lvs_lab(&["run", "routed", "--until=-3s"]), "--until: negative duration");
    assert_input_error(&lvs_lab(&["run", "routed", "--exec", "nobody", "ip a"]), "has no host `nobody`");
    assert_input_error(&lvs_lab(&["check", "--shard", "5/4"]), "--shard `5/4`");
}

#[test]
fn malformed_scenarios_are_located() {
    let p = scenario("syntax", "duration = \"5s\"\n[[host]\nname = \"a\"\n");
    assert_input_error(&lvs_lab(&["run", &p]), &format!("{p}:2:"));

    let p = scenario("negative", &TWO_HOSTS.replace("duration = \"5s\"", "duration = \"-5s\""));
    assert_input_error(&lvs_lab(&["run", &p]), "negative duration");

    let p = scenario(
        "unknown-segment",
        &TWO_HOSTS.replacen("segment = \"lan\"\n[[host.app]]", "segment = \"lab\"\n[[host.app]]", 1),
    );
    assert_input_error(&lvs_lab(&["run", &p]), "unknown segment `lab`");

    let p = scenario("unknown-host", &format!("{TWO_HOSTS}\n[[event]]\nat = \"1s\"\nhost = \"c\"\ndo = \"crash\"\n"));
    assert_input_error(&lvs_lab(&["run", &p]), "unknown host `c`");

    let p = scenario(
        "unknown-nic",
        &format!("{TWO_HOSTS}\n[[event]]\nat = \"1s\"\nhost = \"a\"\ndo = \"link-down\"\nnic = \"eth9\"\n"),
    );
    assert_input_error(&lvs_lab(&["run", &p]), "host `a` has no NIC `eth9`");

    let p = scenario("dup-host", &TWO_HOSTS.replace("name = \"b\"", "name = \"a\""));
    assert_input_error(&lvs_lab(&["run", &p]), "duplicate host name `a`");
}

#[test]
fn unsupported_commands_name_file_line_and_command() {
    let p = scenario(
        "unsupported",
        &TWO_HOSTS.replace(
            "setup = \"ip addr add 10.0.0.2/24 dev eth0\"",
            "setup = \"\"\"\nip addr add 10.0.0.2/24 dev eth0\nyum install -y nginx\n\"\"\"",
        ),
    );
    let o = lvs_lab(&["run", &p]);
    assert_input_error(&o, "`yum install -y nginx`");
    let (_, err) = text(&o);
    let line = TWO_HOSTS
        .replace(
            "setup = \"ip addr add 10.0.0.2/24 dev eth0\"",
            "setup = \"\"\"\nip addr add 10.0.0.2/24 dev eth0\nyum install -y nginx\n\"\"\"",
        )
        .lines()
        .position(|l| l.starts_with("yum"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("{p}:{line}:")), "line {line} expected in: {err}");

    let p =
        scenario("bad-ip", &TWO_HOSTS.replace("ip addr add 10.0.0.2/24 dev eth0", "ip addr add 10.0.0.2/24 dev eth7"));
    assert_input_error(&lvs_lab(&["run", &p]), "Cannot find device \"eth7\"");
}

#[test]
fn duplicate_addresses_on_a_segment() {
    let p = scenario("dup-addr", &TWO_HOSTS.replace("10.0.0.2/24", "10.0.0.1/24"));
    assert_input_error(&lvs_lab(&["run", &p]), "duplicate address 10.0.0.1/24 on segment `lan`: a:eth0 and b:eth0");
}

#[test]
fn event_limit_says_which_limit_and_when() {
    let p = scenario("limit", &TWO_HOSTS.replace("duration = \"5s\"", "duration = \"5s\"\nmax_events = 20"));
    let (out, _) = text(&lvs_lab(&["run", &p, "-q"]));
    assert!(out.contains("event limit: stopped after 20 events at simulated time 1."), "{out}");
}

#[test]
fn check_prints_a_summary_line_and_junit() {
    let d = scratch("junit");
    let j = d.join("j.xml");
    let o = lvs_lab(&["check", "routed", "lan-arp", "--junit", j.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(out.lines().last(), Some("2 passed, 0 failed"));
    let xml = std::fs::read_to_string(j).unwrap();
    assert!(xml.contains("<testsuite name=\"lvs-lab check\" tests=\"2\" failures=\"0\">"), "{xml}");

    // A failing expectation: exit 1 with expected against actual.
    let p = scenario("failing", &format!("{TWO_HOSTS}\n[[expect]]\nkind = \"bodies\"\nclient = \"a\"\nonly = \"C\"\n"));
    let o = lvs_lab(&["check", &p]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("expected: only C") && out.contains("actual:   B"), "{out}");
    assert_eq!(out.lines().last(), Some("0 passed, 1 failed"));
}

#[test]
fn keepalived_config_test_exit_codes() {
    let d = scratch("ka");
    let good = d.join("good.conf");
    std::fs::write(&good, "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  virtual_ipaddress {\n    10.0.0.100\n  }\n}\n").unwrap();
    assert_eq!(lvs_lab(&["keepalived", "-t", good.to_str().unwrap()]).status.code(), Some(0));
    let bad = d.join("bad.conf");
    std::fs::write(&bad, "vrrp_instance VI_1 {\n  interface eth0\n  bogus_keyword 1\n  virtual_router_id 51\n}\n")
        .unwrap();
    let o = lvs_lab(&["keepalived", "-t", bad.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_ne!(o.status.code(), Some(0));
    assert!(err.contains("Unknown keyword 'bogus_keyword'"), "{err}");
}

/// A reader that stops early (`lvs-lab run rs-failure | head -1`: 240 kB of trace,
/// more than a pipe holds) ends the command quietly:
/// status 0, nothing on stderr, no panic.
#[test]
fn closed_stdout_is_not_a_panic() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    for args in [&["list"][..], &["run", "rs-failure"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lvs-lab"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run lvs-lab");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("a line");
        assert!(!line.is_empty());
        // The read end is closed here; the rest of the output hits a broken pipe.
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}

#[test]
fn bench_director_prints_each_figure_once() {
    let o = lvs_lab(&["bench", "director", "--iterations", "500", "--repeat", "3"]);
    assert!(o.status.success());
    let (out, _) = text(&o);
    for name in [
        "dr_established_ns_per_packet",
        "nat_established_ns_per_packet",
        "tun_established_ns_per_packet",
        "wlc100_new_connection_ns",
        "conn_entry_bytes",
    ] {
        let lines: Vec<&str> = out.lines().filter(|l| l.split_whitespace().next() == Some(name)).collect();
        assert_eq!(lines.len(), 1, "{name}:\n{out}");
        let v: f64 = lines[0].split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
        assert!(v > 0.0, "{name}: {v}");
    }
    assert!(out.contains("conn_entry_bytes                           64.0 (target <= 128)"), "{out}");
}
