//! `lvs-lab lint`: each classic mistake is found at its line and names its lesson;
//! correct setups are clean.

use sim_core::scenario::lint::{Finding, lint_files, lint_scenario};
use sim_core::scenario::{load, load_str};

fn lint(text: &str) -> Vec<Finding> {
    let sc = load_str("t", "t.toml", text).unwrap_or_else(|e| panic!("{e}"));
    lint_scenario(&sc).unwrap()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle} not in text")) + 1
}

/// A director and one real server on `lan`, the real server's setup given.
fn lvs(dir_setup: &str, rs_setup: &str) -> String {
    format!(
        r#"
[[segment]]
name = "lan"
[[host]]
name = "dir"
setup = """
{dir_setup}
"""
[[host.nic]]
name = "eth0"
segment = "lan"
[[host]]
name = "rs1"
setup = """
{rs_setup}
"""
[[host.nic]]
name = "eth0"
segment = "lan"
"#
    )
}

const NAT_DIR: &str = "ip addr add 10.0.0.20/24 dev eth0\nipvsadm -A -t 10.0.0.100:80 -s rr\nipvsadm -a -t 10.0.0.100:80 -r 10.0.0.21:80 -m";
const DR_DIR: &str = "ip addr add 10.0.0.20/24 dev eth0\nip addr add 10.0.0.100/32 dev eth0\nipvsadm -A -t 10.0.0.100:80 -s rr\nipvsadm -a -t 10.0.0.100:80 -r 10.0.0.21 -g";
const DR_RS_OK: &str = "ip addr add 10.0.0.21/24 dev eth0\nip route add default via 10.0.0.1\nifconfig lo:0 10.0.0.100 netmask 255.255.255.255 up\necho 1 > /proc/sys/net/ipv4/conf/all/arp_ignore\necho 2 > /proc/sys/net/ipv4/conf/all/arp_announce";

#[test]
fn nat_real_server_gateway() {
    let t = lvs(NAT_DIR, "ip addr add 10.0.0.21/24 dev eth0\nip route add default via 10.0.0.1");
    let f = lint(&t);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].line, f[0].lesson, f[0].host.as_str()),
        (line_of(&t, "default via 10.0.0.1"), "nat-gateway-misconfig", "rs1")
    );
    assert!(f[0].message.contains("default gateway is 10.0.0.1, not the director dir"), "{}", f[0].message);

    let t = lvs(NAT_DIR, "ip addr add 10.0.0.21/24 dev eth0");
    let f = lint(&t);
    assert_eq!((f.len(), f[0].lesson), (1, "nat-gateway-misconfig-no-route"));

    let good = lvs(NAT_DIR, "ip addr add 10.0.0.21/24 dev eth0\nroute add default gw 10.0.0.20");
    assert_eq!(lint(&good), vec![]);
}

#[test]
fn dr_real_servers() {
    assert_eq!(lint(&lvs(DR_DIR, DR_RS_OK)), vec![]);

    let leak = lvs(DR_DIR, &DR_RS_OK.replace("echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore\n", ""));
    let f = lint(&leak);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].line, f[0].lesson), (line_of(&leak, "ifconfig lo:0"), "dr-arp-leak"));
    assert!(f[0].message.contains("arp_ignore=0, arp_announce=2"), "{}", f[0].message);

    // arp_ignore on lo alone does not protect eth0 (max(all, eth0) is what counts).
    let lo_only = lvs(DR_DIR, &DR_RS_OK.replace("conf/all/arp_ignore", "conf/lo/arp_ignore"));
    assert_eq!(lint(&lo_only)[0].lesson, "dr-arp-leak");

    let no_vip = lvs(DR_DIR, "ip addr add 10.0.0.21/24 dev eth0\necho 1 > /proc/sys/net/ipv4/conf/all/arp_ignore");
    assert_eq!(lint(&no_vip)[0].lesson, "dr-no-vip-on-lo");

    let mapped = lvs(&DR_DIR.replace("-r 10.0.0.21 -g", "-r 10.0.0.21:8080 -g"), DR_RS_OK);
    let f = lint(&mapped);
    assert_eq!((f.len(), f[0].lesson, f[0].line), (1, "dr-port-mapping", line_of(&mapped, "-r 10.0.0.21:8080")));
}

#[test]
fn tun_rp_filter() {
    let dir = DR_DIR.replace("-g", "-i");
    let rs = "ip addr add 10.0.0.21/24 dev eth0\nmodprobe ipip\nip link set tunl0 up\nip addr add 10.0.0.100/32 dev tunl0\nsysctl -w net.ipv4.conf.all.arp_ignore=1\nsysctl -w net.ipv4.conf.all.arp_announce=2";
    assert_eq!(lint(&lvs(&dir, rs)), vec![]);
    let bad = lvs(&dir, &format!("{rs}\nsysctl -w net.ipv4.conf.default.rp_filter=1"));
    let f = lint(&bad);
    assert_eq!((f.len(), f[0].lesson, f[0].line), (1, "tun-rp-filter", line_of(&bad, "default.rp_filter=1")));
}

#[test]
fn keepalived_files() {
    let conf = |vrid: u32, prio: &str, vip: &str, protocol: bool| {
        format!(
            "vrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    virtual_router_id {vrid}\n{prio}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\nvirtual_server {vip} 80 {{\n    lb_kind DR\n{}    real_server 10.0.0.21 80 {{\n        TCP_CHECK {{\n        }}\n    }}\n}}\n",
            if protocol { "    protocol TCP\n" } else { "" }
        )
    };
    let a = ("a.conf".to_string(), conf(51, "    priority 100\n", "10.0.0.100", true));
    let b = ("b.conf".to_string(), conf(51, "    priority 90\n", "10.0.0.200", true));
    let f = lint_files(&[a.clone(), b]).unwrap();
    assert_eq!(f.iter().map(|x| x.lesson).collect::<Vec<_>>(), ["vrid-conflict"], "{f:?}");
    assert_eq!((f[0].file.as_str(), f[0].line), ("b.conf", 1));

    let peer = ("b.conf".to_string(), conf(51, "    priority 100\n", "10.0.0.100", true));
    let f = lint_files(&[a.clone(), peer]).unwrap();
    assert_eq!(f.iter().map(|x| x.lesson).collect::<Vec<_>>(), ["keepalived-nat"], "{f:?}");

    let owner = ("c.conf".to_string(), conf(52, "", "10.0.0.150", false));
    let f = lint_files(&[owner]).unwrap();
    let lessons: Vec<&str> = f.iter().map(|x| x.lesson).collect();
    assert!(lessons.contains(&"vrrp-failover") && lessons.contains(&"keepalived-no-protocol"), "{f:?}");
    let no_proto = f.iter().find(|x| x.lesson == "keepalived-no-protocol").unwrap();
    assert_eq!(no_proto.line, 9, "the virtual_server line");
    assert!(no_proto.message.contains("defaults it to UDP"));
}

#[test]
fn each_lesson_is_found_and_each_fix_is_clean() {
    let lessons_of = |name: &str| -> Vec<&'static str> {
        let sc = load(name).unwrap();
        let mut l: Vec<&str> = lint_scenario(&sc).unwrap().iter().map(|f| f.lesson).collect();
        l.dedup();
        l
    };
    for (broken, lesson) in [
        ("nat-gateway-misconfig", "nat-gateway-misconfig"),
        ("nat-gateway-misconfig-no-route", "nat-gateway-misconfig-no-route"),
        ("dr-arp-leak", "dr-arp-leak"),
        ("dr-arp-leak-director-wins", "dr-arp-leak"),
        ("dr-no-vip-on-lo", "dr-no-vip-on-lo"),
        ("dr-port-mapping", "dr-port-mapping"),
        ("tun-rp-filter", "tun-rp-filter"),
        ("vrid-conflict", "vrid-conflict"),
        ("keepalived-no-protocol", "keepalived-no-protocol"),
        ("keepalived-nat", "keepalived-nat"),
    ] {
        assert_eq!(lessons_of(broken), [lesson], "{broken}");
    }
    // Every fixed variant is clean, except that seed 004's fix keeps its equal
    // VI_GATEWAY priorities (the lesson is about the virtual_server line).
    for (name, _) in sim_core::scenario::builtins() {
        if name.ends_with("-fixed") {
            let want: &[&str] = if name == "keepalived-nat-fixed" { &["keepalived-nat"] } else { &[] };
            assert_eq!(lessons_of(&name), want, "{name}");
        }
    }
}

#[test]
fn working_built_ins_are_clean() {
    for name in ["dr-basic", "nat-basic", "tun-basic", "fullnat-basic", "keepalived-dr", "wrr-order"] {
        let sc = load(name).unwrap();
        assert_eq!(lint_scenario(&sc).unwrap(), vec![], "{name}");
    }
}
