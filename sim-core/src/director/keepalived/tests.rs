//! Tests against the seed configurations and keepalived behaviours.

use super::*;
use std::net::Ipv4Addr;
use std::time::Duration;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../scenarios/keepalived/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).unwrap_or_default()
}

fn seed(name: &str) -> (Parsed, (i32, Vec<String>)) {
    let fs = MemFiles::new().with(name, fixture(name));
    let t = check_config_with(&fs, name, &ParseOptions::default());
    (parse(&fs, name, &ParseOptions::default()).expect("seed parses"), t)
}

fn text(conf: &str) -> (i32, Vec<String>) {
    let fs = MemFiles::new().with("k.conf", conf);
    check_config_with(&fs, "k.conf", &ParseOptions::default())
}

const MIN_VRRP: &str =
    "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";

#[test]
fn seed000_dr_master() {
    let (p, (code, lines)) = seed("seed000-dr-master.conf");
    assert_eq!(code, EXIT_CONFIG_TEST);
    assert_eq!(
        lines,
        [
            "(seed000-dr-master.conf: Line 46) Unknown keyword 'nat_mask'",
            "(seed000-dr-master.conf: Line 60) nb_get_retry is deprecated - please use 'retry'",
            "(seed000-dr-master.conf: Line 73) nb_get_retry is deprecated - please use 'retry'",
        ]
    );
    let c = &p.config;
    assert_eq!(c.global.router_id.as_deref(), Some("LVS_DEVEL"));
    assert_eq!(c.global.notification_email.len(), 3);
    let i = c.instance("VI_http").unwrap();
    assert_eq!((i.virtual_router_id, i.priority, i.state), (51, 100, VrrpState::Master));
    assert_eq!(i.interface.as_deref(), Some("eth0"));
    assert_eq!(i.advert_int, Duration::from_secs(1));
    assert_eq!(i.authentication.as_ref().map(Authentication::pass_str).as_deref(), Some("1111"));
    assert_eq!(i.virtual_ipaddress[0].addr, Ipv4Addr::new(10, 15, 62, 208));
    assert_eq!(i.virtual_ipaddress[0].prefix, 32);
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.key, VsKey::Addr { ip: Ipv4Addr::new(10, 15, 62, 208), port: 19080 });
    assert_eq!((vs.lb_algo.as_str(), vs.lb_kind, vs.protocol), ("rr", LbKind::Dr, Some(Protocol::Tcp)));
    assert_eq!((vs.persistence_timeout, vs.delay_loop), (50, Duration::from_secs(6)));
    assert_eq!(vs.real_servers.len(), 2);
    let rs = &vs.real_servers[0];
    assert_eq!((rs.addr, rs.port, rs.weight), (Ipv4Addr::new(10, 15, 144, 71), 19080, 1));
    let chk = &rs.checkers[0];
    let CheckerKind::Http(h) = &chk.kind else { panic!("HTTP_GET expected") };
    assert_eq!(h.urls[0].path, "/index.html");
    assert_eq!(h.urls[0].status_codes, [(200, 299)]);
    assert_eq!(h.urls[0].digest.map(|d| d[0]), Some(0x6c));
    // nb_get_retry 3 -> retry 3; connect_timeout 3; delay_before_retry 3; delay_loop from the VS.
    assert_eq!(chk.retry, 3);
    assert_eq!(chk.connect_timeout, Duration::from_secs(3));
    assert_eq!(chk.delay_before_retry, Duration::from_secs(3));
    assert_eq!(chk.delay_loop, Duration::from_secs(6));
}

#[test]
fn seed002_vrrp_pair() {
    let (m, (code, lines)) = seed("seed002-vrrp-master.conf");
    assert_eq!((code, lines.len()), (EXIT_OK, 0));
    let (b, (code_b, lines_b)) = seed("seed002-vrrp-backup.conf");
    assert_eq!(code_b, EXIT_CONFIG_TEST);
    // The backup's password differs from the master's and is cut to 8 bytes: the pair
    // reject each other's adverts (`received an invalid passwd`), a dual master.
    assert_eq!(lines_b, ["(seed002-vrrp-backup.conf: Line 23) Truncating auth_pass to 8 characters"]);
    let (mi, bi) = (m.config.instance("VI_1").unwrap(), b.config.instance("VI_1").unwrap());
    assert_eq!((mi.state, mi.priority), (VrrpState::Master, 100));
    assert_eq!((bi.state, bi.priority), (VrrpState::Backup, 90));
    assert_eq!(mi.virtual_router_id, bi.virtual_router_id);
    assert_eq!(mi.authentication.as_ref().unwrap().pass_str(), "123456");
    assert_eq!(bi.authentication.as_ref().unwrap().pass_str(), "aminglin");
    assert_eq!(mi.track_scripts, [TrackScript { name: "chk_nginx".into(), weight: 0, reverse: false }]);
    let s = &m.config.vrrp_scripts[0];
    assert_eq!(
        (s.script.argv.as_slice(), s.interval),
        (&["/usr/local/sbin/check_ng.sh".to_string()][..], Duration::from_secs(3))
    );
}

#[test]
fn seed002_lvs_dr() {
    let (p, (code, lines)) = seed("seed002-lvs-dr-master.conf");
    assert_eq!(code, EXIT_CONFIG_TEST);
    // nb_get_retry is only known inside HTTP_GET/SSL_GET (reference §1.12).
    assert_eq!(
        lines,
        [
            "(seed002-lvs-dr-master.conf: Line 57) Unknown keyword 'nb_get_retry'",
            "(seed002-lvs-dr-master.conf: Line 66) Unknown keyword 'nb_get_retry'",
            "(seed002-lvs-dr-master.conf: Line 29) Truncating auth_pass to 8 characters",
        ]
    );
    let vs = &p.config.virtual_servers[0];
    assert_eq!((vs.lb_algo.as_str(), vs.lb_kind, vs.persistence_timeout), ("wlc", LbKind::Dr, 60));
    let rs = &vs.real_servers[1];
    assert_eq!((rs.addr, rs.weight), (Ipv4Addr::new(192, 168, 31, 22), 100));
    let chk = &rs.checkers[0];
    assert_eq!(chk.kind, CheckerKind::Tcp);
    // The retry line was dropped: TCP_CHECK's default of 1 applies.
    assert_eq!((chk.retry, chk.connect_port, chk.connect_timeout), (1, Some(80), Duration::from_secs(10)));
    let (b, _) = seed("seed002-lvs-dr-backup.conf");
    let bi = b.config.instance("VI_1").unwrap();
    assert_eq!((bi.state, bi.priority), (VrrpState::Backup, 90));
}

#[test]
fn seed003_missing_brace_and_script() {
    let (p, (code, lines)) = seed("seed003-vrrp-lvs-nat.conf");
    assert_eq!(code, EXIT_CONFIG_TEST);
    // The virtual_server block is never closed; each of the three processes says so.
    assert_eq!(lines.iter().filter(|l| *l == "There are 1 missing '}'s or extra '{'s").count(), 3);
    assert!(
        lines.contains(&"(seed003-vrrp-lvs-nat.conf: Line 68) nb_get_retry is deprecated - please use 'retry'".into())
    );
    let c = &p.config;
    assert!(c.global.enable_script_security);
    assert_eq!(c.global.script_user, Some(("root".into(), None)));
    assert_eq!(c.vrrp_scripts[0].script.argv, ["cmd", "||", "shell_path"]);
    let i = c.instance("VI_1").unwrap();
    assert_eq!(i.virtual_ipaddress.len(), 2);
    let vs = &c.virtual_servers[0];
    assert_eq!((vs.lb_kind, vs.lb_algo.as_str()), (LbKind::Nat, "rr"));
    let CheckerKind::Http(h) = &vs.real_servers[0].checkers[0].kind else { panic!() };
    assert_eq!(h.urls.len(), 2);
    assert_eq!(h.urls[0].status_codes, [(200, 200)]);
}

#[test]
fn seed004_bad_vs_address_and_sync_group() {
    for (f, state, prio) in
        [("seed004-nat-master.conf", VrrpState::Master, 100), ("seed004-nat-backup.conf", VrrpState::Backup, 90)]
    {
        let (p, (code, lines)) = seed(f);
        assert_eq!(code, EXIT_CONFIG_TEST);
        // `192.168.100` is not an address: the whole virtual_server (with its
        // `nat_mask` and, on the backup, the `192.168.90. 223` typo) is skipped.
        assert_eq!(lines, [format!("({f}: Line 40) Invalid virtual server IP address/port 192.168.100/80 - skipping")]);
        let c = &p.config;
        assert!(c.virtual_servers.is_empty());
        assert_eq!(c.sync_groups[0].members, ["VI_1", "VI_GATEWAY"]);
        let i = c.instance("VI_1").unwrap();
        assert_eq!((i.state, i.priority, i.sync_group.as_deref()), (state, prio, Some("lvs_1")));
        let g = c.instance("VI_GATEWAY").unwrap();
        assert_eq!((g.virtual_router_id, g.priority), (52, 100));
        assert_eq!(g.virtual_ipaddress[0].addr, Ipv4Addr::new(192, 168, 90, 200));
    }
}

#[test]
fn master_without_priority_is_owner() {
    let p = parse_str("vrrp_instance V {\n state MASTER\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 10.0.0.1/24 dev eth0 label eth0:1 brd + }\n}\n").unwrap();
    let i = p.config.instance("V").unwrap();
    assert_eq!((i.priority, i.state, i.configured_priority), (255, VrrpState::Master, None));
    let v = &i.virtual_ipaddress[0];
    assert_eq!((v.prefix, v.dev.as_deref(), v.label.as_deref()), (24, Some("eth0"), Some("eth0:1")));
    assert_eq!(v.brd, Some(Ipv4Addr::new(10, 0, 0, 255)));
}

#[test]
fn lexical_errors() {
    let (code, lines) = text("global_defs {\n router_id \"x\n}\n");
    assert_eq!(lines[0], "(Line 2) Unterminated quote 'router_id \"x'");
    assert_eq!(lines[1], "(Line 2) Unmatched quote: 'router_id \"x'");
    // The quote ate the value: router_id is missing its parameter, which is fatal.
    assert_eq!(code, EXIT_CONFIG_ERROR);
    let (code, lines) = text("global_defs {\n router_id\n}\n");
    assert_eq!(code, EXIT_CONFIG_ERROR);
    assert_eq!(
        lines,
        [
            "(Line 2) *** Configuration line starting `router_id` is missing a parameter after keyword `router_id` at word position 2"
        ]
    );
    let (_, lines) = text("}\nfoo bar\n");
    assert_eq!(
        lines[..3],
        ["(Line 1) Extra '}' found", "(Line 1) Unknown keyword '}'", "(Line 2) Unknown keyword 'foo'"]
    );
    let (_, lines) = text("global_defs\nrouter_id x\n}\n");
    assert_eq!(lines[0], "(Line 2) Missing '{' at beginning of configuration block");
}

#[test]
fn typo_block_shifts_nesting() {
    let conf = format!("{}vrrp_instance VI_2 {{\n authentication {{ auth_typo PASS }}\n}}\n", MIN_VRRP);
    let fs = MemFiles::new().with("k.conf", conf);
    let (code, lines) = check_config_with(&fs, "k.conf", &ParseOptions::default());
    assert_eq!(code, EXIT_CONFIG_TEST);
    assert!(lines.contains(&"(k.conf: Line 9) Unknown keyword 'auth_typo'".to_string()), "{lines:?}");
}

#[test]
fn numbers_clamped_or_rejected() {
    let (_, lines) = text(
        "vrrp_instance V {\n interface eth0\n virtual_router_id 256\n priority 0\n virtual_ipaddress { 10.0.0.1 }\n}\n",
    );
    assert!(lines.contains(&"(k.conf: Line 3) number '256' outside range [1, 255]".to_string()), "{lines:?}");
    assert!(lines.contains(&"(k.conf: Line 3) (V): VRID '256' not valid - must be between 1 & 255".to_string()));
    assert!(
        lines.contains(
            &"(k.conf: Line 4) (V) Priority not valid! must be between 1 & 255. Using default 100".to_string()
        )
    );
    assert!(lines.contains(&"(V) the virtual router id must be set".to_string()));
    // Outside -t the VRRP child exits.
    let err = parse_str("vrrp_instance V {\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\n").unwrap_err();
    assert_eq!(err.exit_code, EXIT_CONFIG_ERROR);
    assert_eq!(err.diagnostic.message, "(V) the virtual router id must be set");
    // Trailing garbage: accepted with WARNING outside -t, rejected under -t.
    let p = parse_str(&MIN_VRRP.replace("virtual_router_id 51", "virtual_router_id 51x")).unwrap_err();
    assert!(p.diagnostics.iter().any(|d| d.message == "invalid number '51x'"));
    let p = parse_str(&MIN_VRRP.replace(" interface eth0\n", " interface eth0\n garp_master_repeat 7x\n")).unwrap();
    assert!(p.messages().contains(&"(keepalived.conf: Line 3) WARNING - invalid number '7x'".to_string()));
    assert_eq!(p.config.instances[0].garp_master_repeat, 7);
}

#[test]
fn defaults_and_normalisations() {
    let p = parse_str(&format!(
        "{MIN_VRRP}virtual_server 10.0.0.1 80 {{\n quorum 5\n real_server 10.0.0.2 8080 {{\n TCP_CHECK {{\n }}\n }}\n}}\n"
    ))
    .unwrap();
    let m = p.messages();
    assert!(m.contains(&"Virtual server [10.0.0.1]:none:80: no protocol set - defaulting to UDP".to_string()), "{m:?}");
    assert!(m.contains(&"Virtual server [10.0.0.1]:udp:80: no scheduler set, setting default 'wlc'".to_string()));
    assert!(m.contains(&"Virtual server [10.0.0.1]:udp:80: no forwarding method set, setting default NAT".to_string()));
    assert!(
        m.contains(
            &"Warning - quorum 5 for [10.0.0.1]:udp:80 exceeds total weight of real servers 1, reducing quorum to 1"
                .to_string()
        )
    );
    let vs = &p.config.virtual_servers[0];
    assert_eq!((vs.protocol, vs.lb_kind, vs.lb_algo.as_str(), vs.quorum), (Some(Protocol::Udp), LbKind::Nat, "wlc", 1));
    let c = &vs.real_servers[0].checkers[0];
    assert_eq!(
        (c.retry, c.delay_loop, c.connect_timeout, c.delay_before_retry),
        (1, Duration::from_secs(60), Duration::from_secs(5), Duration::from_secs(1))
    );
    // NAT keeps a different real-server port; DR resets it.
    assert_eq!(vs.real_servers[0].port, 8080);
    let p = parse_str(&format!(
        "{MIN_VRRP}virtual_server 10.0.0.1 80 {{\n lb_kind DR\n protocol tcp\n real_server 10.0.0.2 8080 {{\n }}\n}}\n"
    ))
    .unwrap();
    assert_eq!(p.config.virtual_servers[0].real_servers[0].port, 80);
    assert!(p.messages().iter().any(|l| l.ends_with(
        "WARNING - virtual server [10.0.0.1]:tcp:80 and real server [10.0.0.2]:tcp:8080 ports don't match - resetting"
    )));
}

#[test]
fn includes_resolve_relative_and_report() {
    let fs = MemFiles::new()
        .with("etc/k/keepalived.conf", "include conf.d/*.conf\ninclude missing.conf\ninclude nodir/*.conf\n")
        .with("etc/k/conf.d/a.conf", MIN_VRRP)
        .with("etc/k/conf.d/b.conf", "bogus\n");
    let (code, lines) = check_config_with(&fs, "etc/k/keepalived.conf", &ParseOptions::default());
    assert_eq!(code, EXIT_CONFIG_TEST);
    assert_eq!(lines[0], "(conf.d/b.conf: Line 1) Unknown keyword 'bogus'");
    assert_eq!(lines[1], "(Line 2) Config files missing 'missing.conf'.");
    assert_eq!(lines[2], "(Line 3) Config files missing 'nodir/*.conf'.");
    let p = parse(&fs, "etc/k/keepalived.conf", &ParseOptions::default()).unwrap();
    assert_eq!(p.config.instances.len(), 1);
    // includem makes a missing file an error: keepalived stops (NO_CONFIG).
    let fs = MemFiles::new().with("k.conf", "includem missing.conf\n");
    assert_eq!(check_config_with(&fs, "k.conf", &ParseOptions::default()).0, EXIT_NO_CONFIG);
    // An empty glob match is silent for plain include.
    let fs = MemFiles::new().with("k.conf", "include conf.d/*.conf\n").with("conf.d/x.txt", "");
    assert_eq!(check_config_with(&fs, "k.conf", &ParseOptions::default()), (EXIT_OK, vec![]));
}

#[test]
fn include_loop_terminates() {
    let fs = MemFiles::new().with("k.conf", "include k.conf\nbogus\n");
    let (_, lines) = check_config_with(&fs, "k.conf", &ParseOptions::default());
    assert!(lines.iter().any(|l| l.contains("open problem (Too many open files) - skipping")));
    let fs = MemFiles::new().with("k.conf", "include k.conf\ninclude k.conf\n");
    let err = parse(&fs, "k.conf", &ParseOptions::default()).unwrap_err();
    assert!(err.diagnostic.message.contains("too many lines"));
}

#[test]
fn missing_top_level_file() {
    let fs = MemFiles::new();
    assert_eq!(
        check_config_with(&fs, "nothere.conf", &ParseOptions::default()),
        (EXIT_OK, vec!["Config files missing 'nothere.conf'.".to_string()])
    );
    assert_eq!(parse(&fs, "nothere.conf", &ParseOptions::default()).unwrap_err().exit_code, EXIT_NO_CONFIG);
}

#[test]
fn interfaces_checked_when_known() {
    let fs = MemFiles::new().with("k.conf", MIN_VRRP.replace("eth0", "eth9"));
    let opts = ParseOptions { interfaces: Some(vec!["eth0".into()]), ..ParseOptions::default() };
    let (code, lines) = check_config_with(&fs, "k.conf", &opts);
    assert_eq!(code, EXIT_CONFIG_TEST);
    assert_eq!(
        lines,
        ["(k.conf: Line 2) WARNING - interface eth9 for vrrp_instance VI_1 doesn't exist", "(VI_1) Unknown interface!"]
    );
}

#[test]
fn sync_group_old_syntax_and_weights() {
    let conf = format!(
        "vrrp_script s {{\n script \"/bin/true\"\n weight 10\n}}\nvrrp_sync_group G {{\n VI_1\n}}\nvrrp_sync_group H {{\n group {{ VI_1 }}\n}}\n{}",
        MIN_VRRP.replace(" virtual_router_id 51\n", " virtual_router_id 51\n track_script {\n  s\n }\n")
    );
    let p = parse_str(&conf).unwrap();
    let m = p.messages();
    assert!(m.contains(&"(keepalived.conf: Line 6) Unknown keyword 'VI_1'".to_string()), "{m:?}");
    assert!(m.contains(&"(keepalived.conf: Line 7) Sync group G has no members - removing".to_string()));
    assert!(m.contains(&"Sync group H has only 1 virtual router(s) - this probably isn't what you want".to_string()));
    assert!(m.contains(&"(VI_1) ignoring tracked script s with weights due to SYNC group".to_string()));
    assert!(p.config.instances[0].track_scripts.is_empty());
}

proptest::proptest! {
    #[test]
    fn arbitrary_text_never_panics(s in "(?s).{0,400}") {
        let fs = MemFiles::new().with("k.conf", s.clone()).with("inc.conf", s);
        let _ = check_config_with(&fs, "k.conf", &ParseOptions::default());
        let _ = parse(&fs, "k.conf", &ParseOptions::default());
    }

    #[test]
    fn keyword_soup_never_panics(words in proptest::collection::vec(proptest::sample::select(vec![
        "vrrp_instance", "virtual_server", "real_server", "HTTP_GET", "url", "{", "}", "\"", "#", "include", "inc.conf",
        "priority", "1", "10.0.0.1", "80", "authentication", "auth_pass", "virtual_ipaddress", "\n", "state", "MASTER",
        "vrrp_sync_group", "group", "$X=", "$X", "@a", "TCP_CHECK", "track_script", "weight", "-300", "advert_int", "0.001",
    ]), 0..80)) {
        let s = words.join(" ");
        let fs = MemFiles::new().with("k.conf", s.clone()).with("inc.conf", s);
        let _ = check_config_with(&fs, "k.conf", &ParseOptions::default());
        let _ = parse(&fs, "k.conf", &ParseOptions::default());
    }
}

/// A 32-byte `digest` holding multi-byte UTF-8 is a bad hex digit, not a panic
/// (found by fuzzing keepalived.conf).
#[test]
fn digest_with_multibyte_characters() {
    // Two-byte characters from offset 1: the last hex pair starts inside one.
    let digest = format!("a{}b", "é".repeat(15));
    assert_eq!(digest.len(), 32);
    let conf = format!(
        "{MIN_VRRP}virtual_server 10.0.0.1 80 {{\n protocol TCP\n real_server 10.0.0.2 80 {{\n HTTP_GET {{\n url {{\n path /\n digest {digest}\n }}\n }}\n }}\n}}\n"
    );
    let m = match parse_str(&conf) {
        Ok(p) => p.messages(),
        Err(e) => e.diagnostics.iter().map(|d| d.message.clone()).collect(),
    };
    assert!(
        m.iter().any(|l| l.contains("Unable to interpret hex digit in '") && l.ends_with("at offset 30/31")),
        "{m:?}"
    );
}

/// A timer whose seventh byte after the point is inside a multi-byte character is
/// an invalid number, as `strtoul` sees the truncated bytes, not a panic (found by
/// fuzzing keepalived.conf in CI).
#[test]
fn timer_truncated_inside_a_multibyte_character() {
    let conf = MIN_VRRP.replace(" interface eth0\n", " interface eth0\n advert_int 1.12345é\n");
    let m = match parse_str(&conf) {
        Ok(p) => p.messages(),
        Err(e) => e.diagnostics.iter().map(|d| d.message.clone()).collect(),
    };
    assert!(m.iter().any(|l| l.contains("number '1.12345é' has too many decimal places")), "{m:?}");
    assert!(m.iter().any(|l| l.contains("invalid number '1.12345é'")), "{m:?}");
}
