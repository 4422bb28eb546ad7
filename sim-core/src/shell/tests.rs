//! The seeds' scripts and command lines, run against a recording machine; error
//! lines; and a property test that no input panics.

use super::seed_scripts::*;
use super::sysctl::{Setting, Sysctl, SysctlItem, SysctlOp};
use super::*;
use crate::node::CmdError;
use std::collections::BTreeMap;

/// A machine that records every command (and where it was written) and keeps
/// files in a map.
#[derive(Default)]
struct Machine {
    cmds: Vec<Command>,
    sites: Vec<(String, usize, String)>,
    files: BTreeMap<String, String>,
    /// Commands whose name (as `Debug` prefix) fails, to test error paths.
    refuse: Option<&'static str>,
}

impl ShellEnv for Machine {
    fn run(&mut self, cmd: &Command, site: Site<'_>) -> Result<String, CmdError> {
        if let Some(r) = self.refuse
            && format!("{cmd:?}").starts_with(r)
        {
            return Err(CmdError::with_status(format!("{r} refused"), 1));
        }
        self.cmds.push(cmd.clone());
        self.sites.push((site.script.to_string(), site.line, site.text.to_string()));
        Ok(match cmd {
            Command::Sysctl(Sysctl { op: SysctlOp::Items(items), values_only: true, .. }) => {
                items.iter().map(|_| "1\n").collect()
            }
            _ => String::new(),
        })
    }
    fn read_file(&self, path: &str) -> Option<String> {
        self.files.get(path).cloned()
    }
    fn write_file(&mut self, path: &str, text: &str, append: bool) -> Result<(), CmdError> {
        crate::shell::write_mem_file(&mut self.files, path, text, append);
        Ok(())
    }
    fn remove_file(&mut self, path: &str) -> bool {
        self.files.remove(path).is_some()
    }
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// The typed command of a plain command line (no quotes or variables).
fn c(line: &str) -> Command {
    let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
    parse_argv(&argv).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// `echo V > /proc/sys/KEY`.
fn proc_write(key: &str, value: &str) -> Command {
    Command::Sysctl(Sysctl {
        op: SysctlOp::Items(vec![SysctlItem::Write(Setting {
            key: key.into(),
            value: value.into(),
            ignore_errors: false,
        })]),
        values_only: false,
        names_only: false,
        quiet: true,
        ignore_unknown: false,
    })
}

fn run(name: &str, text: &str, a: &[&str]) -> (Result<String, ScriptError>, Machine) {
    let mut m = Machine::default();
    let r = run_named_script(name, text, &args(a), &mut m);
    (r, m)
}

#[test]
fn seed_000_lvs_dr_start_stop_usage() {
    let (out, m) = run("lvs-DR.sh", S000_LVS_DR_SH, &["start"]);
    assert_eq!(out.unwrap(), " start LVS of Director Server\n");
    assert_eq!(
        m.cmds,
        vec![
            c("ifconfig eth0:1 10.15.144.120 broadcast 10.15.144.120 netmask 255.255.255.255 up"),
            c("route add -host 10.15.144.120 dev eth0:1"),
            proc_write("net.ipv4.ip_forward", "1"),
            c("ipvsadm -C"),
            c("ipvsadm -A -t 10.15.144.120:10087 -s wrr -p 60"),
            c("ipvsadm -a -t 10.15.144.120:10087 -r 10.15.144.102 -g -w 2"),
            c("ipvsadm -a -t 10.15.144.120:10087 -r 10.15.144.103 -g -w 1"),
            c("ipvsadm -a -t 10.15.144.120:10087 -r 10.15.144.104 -g -w 1"),
            Command::Ipvsadm(vec![]),
        ]
    );
    assert_eq!(
        m.sites[..3],
        [
            (
                "lvs-DR.sh".to_string(),
                15,
                "/sbin/ifconfig eth0:1 $VIP broadcast $VIP netmask 255.255.255.255 up".to_string()
            ),
            ("lvs-DR.sh".to_string(), 16, "/sbin/route add -host $VIP dev eth0:1".to_string()),
            ("lvs-DR.sh".to_string(), 17, "echo \"1\" >/proc/sys/net/ipv4/ip_forward".to_string()),
        ]
    );
    let (out, m) = run("lvs-DR.sh", S000_LVS_DR_SH, &["stop"]);
    assert_eq!(out.unwrap(), "close LVS Directorserver\n");
    assert_eq!(m.cmds, vec![proc_write("net.ipv4.ip_forward", "0"), c("ipvsadm -C"), c("ifconfig eth0:1 down")]);
    // No argument: the usage line, then `exit 1` (line 36 of the script).
    let (out, m) = run("lvs-DR.sh", S000_LVS_DR_SH, &[]);
    let e = out.unwrap_err();
    assert_eq!((e.line, e.command.as_str(), e.status), (36, "exit 1", 1));
    assert_eq!(e.stdout, "Usage: lvs-DR.sh {start|stop}\n");
    assert!(m.cmds.is_empty());
}

#[test]
fn seed_000_rs_dr() {
    let (out, m) = run("rs-DR.sh", S000_RS_DR_SH, &["start"]);
    assert_eq!(out.unwrap(), " Start LVS  of  Real Server\n");
    assert_eq!(
        m.cmds,
        vec![
            c("ifconfig lo:0 10.15.144.120 netmask 255.255.255.255 broadcast 10.15.144.120 up"),
            c("route add -host 10.15.144.120 dev lo:0"),
            proc_write("net.ipv4.conf.lo.arp_ignore", "1"),
            proc_write("net.ipv4.conf.lo.arp_announce", "2"),
            proc_write("net.ipv4.conf.all.arp_ignore", "1"),
            proc_write("net.ipv4.conf.all.arp_announce", "2"),
            c("sysctl -p"),
        ]
    );
    let Command::Sysctl(s) = &m.cmds[6] else { panic!() };
    assert_eq!(s.op, SysctlOp::Load(vec!["/etc/sysctl.conf".into()]));
    let (out, m) = run("rs-DR.sh", S000_RS_DR_SH, &["stop"]);
    assert_eq!(out.unwrap(), "close LVS Director server\n");
    assert_eq!(m.cmds[0], c("ifconfig lo:0 down"));
    assert_eq!(m.cmds[1], c("route del 10.15.144.120"));
    assert_eq!(m.cmds.len(), 6);
}

#[test]
fn seed_000_nat_sh_first_line_is_not_a_comment() {
    // `// nat.sh` is a C comment: sh runs `//` (a directory). lvs-lab stops there.
    let (out, m) = run("nat.sh", S000_NAT_SH, &["start"]);
    let e = out.unwrap_err();
    assert_eq!((e.line, e.command.as_str()), (1, "// nat.sh"));
    assert!(e.message.contains("command not supported by lvs-lab"), "{e}");
    assert!(m.cmds.is_empty());
    // Without it, the script configures the real server.
    let fixed = S000_NAT_SH.replacen("// nat.sh", "# nat.sh", 1);
    let (out, m) = run("nat.sh", &fixed, &["start"]);
    assert_eq!(out.unwrap(), " Start LVS of RealServer\n");
    assert_eq!(
        m.cmds,
        vec![
            c("ifconfig eth0:2 172.18.1.11 broadcast 172.18.1.11 netmask 255.255.255.0 up"),
            c("route add default gw 172.18.1.254"),
        ]
    );
    let (_, m) = run("nat.sh", &fixed, &["stop"]);
    assert_eq!(m.cmds, vec![c("ifconfig eth0:2 down"), c("route del default gw 172.18.1.254")]);
}

#[test]
fn seed_002_lvs_nat() {
    let (out, m) = run("lvs_nat.sh", S002_LVS_NAT_SH, &[]);
    assert_eq!(out.unwrap(), "");
    assert_eq!(
        m.cmds,
        vec![
            proc_write("net.ipv4.ip_forward", "1"),
            proc_write("net.ipv4.conf.all.send_redirects", "0"),
            proc_write("net.ipv4.conf.default.send_redirects", "0"),
            proc_write("net.ipv4.conf.ens33.send_redirects", "0"),
            proc_write("net.ipv4.conf.ens37.send_redirects", "0"),
            c("iptables -t nat -F"),
            c("iptables -t nat -X"),
            c("iptables -t nat -A POSTROUTING -s 192.168.31.0/24 -j MASQUERADE"),
            c("ipvsadm -C"),
            c("ipvsadm -A -t 192.168.0.20:80 -s wlc -p 3"),
            c("ipvsadm -a -t 192.168.0.20:80 -r 192.168.31.21:80 -m -w 1"),
            c("ipvsadm -a -t 192.168.0.20:80 -r 192.168.31.22:80 -m -w 1"),
        ]
    );
}

#[test]
fn seed_002_lvs_dr_and_rs() {
    let (out, m) = run("lvs_dr.sh", S002_LVS_DR_SH, &[]);
    assert_eq!(out.unwrap(), "");
    assert_eq!(
        m.cmds,
        vec![
            proc_write("net.ipv4.ip_forward", "1"),
            c("ifconfig ens33:2 192.168.31.100 broadcast 192.168.31.100 netmask 255.255.255.255 up"),
            c("route add -host 192.168.31.100 dev ens33:2"),
            c("ipvsadm -C"),
            c("ipvsadm -A -t 192.168.31.100:80 -s wrr"),
            c("ipvsadm -a -t 192.168.31.100:80 -r 192.168.31.21:80 -g -w 1"),
            c("ipvsadm -a -t 192.168.31.100:80 -r 192.168.31.22:80 -g -w 1"),
        ]
    );
    let (out, m) = run("lvs_rs.sh", S002_LVS_RS_SH, &[]);
    assert_eq!(out.unwrap(), "");
    // `route add -host $vip lo:0`: net-tools takes the bare last word as the device.
    assert_eq!(m.cmds[1], c("route add -host 192.168.31.100 dev lo:0"));
    assert_eq!(
        m.cmds,
        vec![
            c("ifconfig lo:0 192.168.31.100 broadcast 192.168.31.100 netmask 255.255.255.255 up"),
            c("route add -host 192.168.31.100 lo:0"),
            proc_write("net.ipv4.conf.lo.arp_ignore", "1"),
            proc_write("net.ipv4.conf.lo.arp_announce", "2"),
            proc_write("net.ipv4.conf.all.arp_ignore", "1"),
            proc_write("net.ipv4.conf.all.arp_announce", "2"),
        ]
    );
}

#[test]
fn seed_004_lvs_dr() {
    let (out, m) = run("lvs-dr.sh", S004_LVS_DR_SH, &["start"]);
    assert_eq!(out.unwrap(), "");
    assert_eq!(
        m.cmds,
        vec![
            c("iptables -F"),
            c("iptables -Z"),
            c("ipvsadm -C"),
            c("ipvsadm --set 30 5 60"),
            c("ifconfig eth0:0 192.168.90.200 broadcast 192.168.90.200 netmask 255.255.255.255 up"),
            c("route add -host 192.168.90.200 dev eth0:0"),
            c("ipvsadm -A -t 192.168.90.200:80 -s wrr -p 3"),
            c("ipvsadm -a -t 192.168.90.200:80 -r 192.168.90.220:80 -g -w 1"),
            c("ipvsadm -a -t 192.168.90.200:80 -r 192.168.90.221:80 -g -w 1"),
            c("arping -I eth0 -c 5 -s 192.168.90.200 192.168.90.254"),
            c("ipvsadm -ln"),
        ]
    );
    assert_eq!(m.files.get("/var/lock/subsys/ipvsadm").map(String::as_str), Some(""));
    let (out, m) = run("lvs-dr.sh", S004_LVS_DR_SH, &["stop"]);
    assert_eq!(out.unwrap(), "ipvsadm stoped\n");
    assert_eq!(m.cmds.len(), 5);
    assert_eq!(m.cmds[3], c("route del 192.168.90.200"));
    // `status)` uses `if`: an error when (and only when) the script gets there.
    let (out, _) = run("lvs-dr.sh", S004_LVS_DR_SH, &["status"]);
    let e = out.unwrap_err();
    assert_eq!(e.line, 40);
    assert_eq!(e.command, "if [ ! -e /var/lock/subsys/ipvsadm ];then");
    assert!(e.message.starts_with("`if` (conditionals) is not supported by lvs-lab's shell (supported:"), "{e}");
}

#[test]
fn seed_004_sysctl_conf_then_sysctl_p() {
    let text = format!("cat >> /etc/sysctl.conf <<EOF\n{S004_SYSCTL_CONF}EOF\nsysctl -p\n");
    let (out, m) = run("rs.sh", &text, &[]);
    assert_eq!(out.unwrap(), "");
    let conf = m.files.get("/etc/sysctl.conf").unwrap();
    assert_eq!(conf, S004_SYSCTL_CONF);
    let got = sysctl::load("/etc/sysctl.conf", Some(conf)).unwrap();
    let keys: Vec<(&str, &str)> = got.iter().map(|s| (s.key.as_str(), s.value.as_str())).collect();
    assert_eq!(
        keys,
        vec![
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.conf.lo.arp_ignore", "1"),
            ("net.ipv4.conf.lo.arp_announce", "2"),
            ("net.ipv4.conf.all.arp_ignore", "1"),
            ("net.ipv4.conf.all.arp_announce", "2"),
        ]
    );
    assert_eq!(m.cmds, vec![c("sysctl -p")]);
}

#[test]
fn seed_command_lines() {
    // Seeds 000 §9, 001, 002 and 003, as typed at a prompt.
    for (line, want) in [
        ("/sbin/ifconfig eth0:1 10.15.62.208 netmask 255.255.255.255 up", None),
        ("ip addr del 10.15.62.208 dev eth0:1", None),
        ("ipvsadm", Some(Command::Ipvsadm(vec![]))),
        ("echo \"1\" > /proc/sys/net/ipv4/ip_forward", Some(proc_write("net.ipv4.ip_forward", "1"))),
        ("echo \"0\" > /proc/sys/net/ipv4/ip_forward", Some(proc_write("net.ipv4.ip_forward", "0"))),
        ("iptables -t mangle -A PREROUTING -d 172.18.21.71 -p tcp --dport 80 -j MARK --set-mark 1", None),
        (
            "iptables -t mangle -A PREROUTING -d 172.18.100.7 -p tcp -m multiport --dports 80,443 -j MARK --set-mark 10",
            None,
        ),
        ("iptables -t mangle -nvL", None),
        ("iptables -t mangle -F", None),
        ("ipvsadm -A -f 10 -s rr -p", None),
        ("ipvsadm -a -f 1 -r 172.18.21.72 -g -w 1", None),
        ("ipvsadm -E -f 1 -s rr -p 10", None),
        ("ipvsadm -A -t 172.18.21.71:0 -s rr -p", None),
        ("iptables -I OUTPUT -p vrrp -j DROP", None),
        ("iptables -D OUTPUT -p vrrp -j DROP", None),
        ("iptables -F", None),
        ("route add default gw 192.168.31.20 netmask 0.0.0.0 dev ens33", None),
        ("ipvsadm -lcn", None),
        ("ipvsadm -L --timeout", None),
        ("ipvsadm --set 1 2 1", None),
        ("ipvsadm -Ln", None),
        ("ipvsadm -A -t 192.168.237.131:80 -s rr", None),
        ("ipvsadm -a -t 192.168.237.131:80 -r 192.168.237.171:80 -m", None),
        ("echo 1 > /proc/sys/net/ipv4/ip_forward", Some(proc_write("net.ipv4.ip_forward", "1"))),
        ("systemctl start keepalived", None),
        ("ip a", None),
        ("ip add", None),
        ("/etc/init.d/keepalived start", None),
        ("/etc/init.d/keepalived stop", None),
        ("/etc/init.d/keepalived status", None),
        ("sudo /usr/local/sbin/keepalived -f /usr/local/etc/keepalived/keepalived.conf", None),
        ("sudo ipvsadm -lcn", None),
        ("/usr/local/sbin/lvsdr.sh start", None),
    ] {
        let got = parse_command_line(line);
        match (got, want) {
            (Ok(cmd), Some(w)) => assert_eq!(cmd, w, "{line}"),
            (Ok(cmd), None) => {
                let plain = line.trim_start_matches("sudo ");
                if plain.starts_with("/usr/local/sbin/lvsdr.sh") {
                    panic!("{line}: ran {cmd:?}");
                }
                assert_eq!(cmd, c(plain), "{line}");
            }
            (Err(e), _) if line.starts_with("/usr/local/sbin/lvsdr.sh") => {
                // No such file on the recording machine: an unknown command.
                assert!(e.message.contains("command not supported"), "{e}");
            }
            (Err(e), _) => panic!("{line}: {e}"),
        }
    }
}

#[test]
fn seed_command_lines_outside_the_subset() {
    for (line, what) in [
        ("yum -y install ipvsadm", "`yum`: command not supported by lvs-lab"),
        ("watch -n 1 'ipvsadm -lcn'", "`watch`: command not supported"),
        ("sudo tcpdump -i eth0 host 10.15.1.120 port 10087", "`tcpdump`: command not supported"),
        ("\u{3000}echo \"1\" > /proc/sys/net/ipv4/ip_forward", "U+3000"),
        ("service iptables save", "action `save` is not supported"),
        ("tail -f /var/log/message", "`tail`"),
        ("chmod 755 /usr/local/sbin/lvs_nat.sh", "runs no machine command"),
        ("curl 172.18.21.71", "`curl`"),
        ("ipvsadm -lcn | head", "pipes `|` is not supported"),
    ] {
        let e = parse_command_line(line).unwrap_err();
        assert!(e.message.contains(what), "{line}: {e}");
        assert_eq!(e.line, 1);
    }
    // Seed 002: `systemctl stop firewalld; systemc disable firewalld` (a typo).
    let (out, m) = run("sh", "systemctl stop firewalld; systemc disable firewalld", &[]);
    let e = out.unwrap_err();
    assert_eq!(e.command, "systemc disable firewalld");
    assert!(e.message.starts_with("`systemc`: command not supported"));
    assert_eq!(m.cmds, vec![c("systemctl stop firewalld")]);
}

#[test]
fn errors_name_the_line_and_command() {
    let script = "#!/bin/sh\nVIP=10.0.0.1\n\nip addr add $VIP/32 dev lo\nyum install nginx\nip link set lo up\n";
    let (out, m) = run("x.sh", script, &[]);
    let e = out.unwrap_err();
    assert_eq!((e.line, e.command.as_str()), (5, "yum install nginx"));
    assert_eq!(
        e.to_string().lines().next().unwrap(),
        "line 5: `yum install nginx`: `yum`: command not supported by lvs-lab (supported: ip, ifconfig, route, netstat, arp, sysctl, arping, iptables, ipvsadm, keepalived, systemctl, service, /etc/init.d/NAME, modprobe, sleep, ss, echo, true, false, :, exit, cat, export, set, ., source, sh, bash, touch, rm, mkdir, chmod, chkconfig, logger, sudo)"
    );
    assert_eq!(m.cmds.len(), 1);
    // A tool's own error, with the continued line joined.
    let (out, _) = run("x.sh", "echo a\nifconfig eth0 \\\n  netmask 255.0.255.0\n", &[]);
    let e = out.unwrap_err();
    assert_eq!((e.line, e.command.as_str()), (2, "ifconfig eth0 netmask 255.0.255.0"));
    assert!(e.message.contains("SIOCSIFNETMASK"));
    assert_eq!(e.stdout, "a\n");
    // The machine's error, even with output discarded.
    let mut m = Machine { refuse: Some("Ipvsadm"), ..Default::default() };
    let e = run_script("true\n/sbin/ipvsadm -C > /dev/null 2>&1\n", &[], &mut m).unwrap_err();
    assert_eq!((e.line, e.message.as_str()), (2, "Ipvsadm refused"));
    // ... unless the line says so.
    let mut m = Machine { refuse: Some("Ipvsadm"), ..Default::default() };
    assert!(run_script("ipvsadm -C || true\nip a\n", &[], &mut m).is_ok());
    assert_eq!(m.cmds, vec![c("ip a")]);
}

#[test]
fn unsupported_constructs() {
    for (text, line, what) in [
        ("ip a\nfor i in 1 2; do\n  echo $i\ndone\n", 2, "`for` loops"),
        ("while true; do sleep 1; done", 1, "`while` loops"),
        ("f() {\n echo hi\n}\n", 1, "functions"),
        ("function f {\n echo hi\n}\n", 1, "functions"),
        ("echo a\nn=`ps -C nginx --no-heading|wc -l`\n", 2, "backquotes"),
        ("d=$(date)", 1, "command substitution `$(...)`"),
        ("x=$((1+2))", 1, "arithmetic"),
        ("ipvsadm -Ln | grep TCP", 1, "pipes"),
        ("sleep 10 &", 1, "background"),
        ("[ -f /etc/x ] && echo y", 1, "`test`"),
        ("rm -rf /var/lock/*", 1, "globs"),
        ("(cd /tmp)", 1, "subshells"),
        ("{ echo a; }", 1, "groups"),
        ("ip a || echo failed", 1, "`||` followed by"),
        ("ipvsadm -R < /etc/sysconfig/ipvsadm", 1, "input redirection"),
        ("ipvsadm -R <<EOF\n-A -t 1.2.3.4:80\nEOF\n", 1, "only into `cat`"),
        ("if [ $n -eq \"0\" ]; then\n  if true; then echo; fi\nfi\n", 1, "`if`"),
        ("echo ${#VIP}", 1, "`${#VIP}`"),
    ] {
        let (out, _) = run("x.sh", text, &[]);
        let e = out.unwrap_err();
        assert!(e.message.contains(what), "{text:?}: {e}");
        assert_eq!(e.line, line, "{text:?}: {e}");
        assert!(e.message.contains("not supported"), "{text:?}: {e}");
    }
    for (text, what) in [
        ("echo 'abc", "unterminated single quote"),
        ("echo \"abc", "unterminated double quote"),
        ("fi", "unexpected `fi`"),
        ("case x in\n a) echo\n", "without `esac`"),
        ("if true; then echo\n", "missing its end"),
        ("echo a ;; echo b", "`;;` outside `case`"),
        ("cat <<", "delimiter"),
    ] {
        let (out, _) = run("x.sh", text, &[]);
        let e = out.unwrap_err();
        assert!(e.message.contains(what), "{text:?}: {e}");
    }
}

#[test]
fn language_features() {
    let script = r#"#!/bin/bash
# comment
A=1 B="two words" C='$A'
export D=4
echo $A "$B" $C ${D} ${E:-five} ${A:-x} "${1}" $# $0 \
  tail
ipv="/usr/sbin/ipvsadm -C"
$ipv
sudo sysctl -w net.ipv4.conf.all.arp_ignore=1 && sysctl net.ipv4.ip_forward
echo -n no newline; echo
cat /proc/sys/net/ipv4/ip_forward
echo 2 >/proc/sys/net/ipv4/conf/eth0/rp_filter
echo "net.ipv4.conf.all.arp_announce = 2" >> /etc/sysctl.conf
cat > /etc/motd <<-'END'
	$A stays
	END
cat <<EOF > /etc/x
a=$A \$A
EOF
LANG=C ipvsadm -Ln
modprobe ipip
sleep 1.5
echo done >&2
exit 0
echo never
"#;
    let (out, m) = run("t.sh", script, &["arg one"]);
    assert_eq!(out.unwrap(), "1 two words $A 4 five 1 arg one 1 t.sh tail\nno newline\n1\ndone\n");
    assert_eq!(
        m.cmds,
        vec![
            c("ipvsadm -C"),
            c("sysctl -w net.ipv4.conf.all.arp_ignore=1"),
            c("sysctl net.ipv4.ip_forward"),
            Command::Sysctl(Sysctl {
                op: SysctlOp::Items(vec![SysctlItem::Read("net.ipv4.ip_forward".into())]),
                values_only: true,
                names_only: false,
                quiet: false,
                ignore_unknown: false,
            }),
            proc_write("net.ipv4.conf.eth0.rp_filter", "2"),
            c("ipvsadm -Ln"),
            Command::Modprobe { module: "ipip".into(), remove: false },
            Command::Sleep(std::time::Duration::from_millis(1500)),
        ]
    );
    assert_eq!(m.files["/etc/sysctl.conf"], "net.ipv4.conf.all.arp_announce = 2\n");
    assert_eq!(m.files["/etc/motd"], "$A stays\n");
    assert_eq!(m.files["/etc/x"], "a=1 $A\n");
}

#[test]
fn case_patterns_and_separators() {
    let script = "case \"$1\" in\n  start|restart) echo go ;;\n  st?p) echo halt;;\n  [Ss]tatus) echo st\n  ;;\n  *) echo other; exit 3 ;; esac\necho after";
    for (arg, out) in
        [("start", "go\nafter\n"), ("restart", "go\nafter\n"), ("stop", "halt\nafter\n"), ("Status", "st\nafter\n")]
    {
        assert_eq!(run("s", script, &[arg]).0.unwrap(), out, "{arg}");
    }
    let e = run("s", script, &["x"]).0.unwrap_err();
    assert_eq!((e.status, e.line, e.stdout.as_str()), (3, 6, "other\n"));
    // A quoted pattern matches literally.
    assert_eq!(run("s", "case \"$1\" in '*') echo star;; *) echo any;; esac", &["x"]).0.unwrap(), "any\n");
    assert_eq!(run("s", "case a in (a) echo paren;; esac", &[]).0.unwrap(), "paren\n");
}

#[test]
fn nested_scripts_and_files() {
    let mut m = Machine::default();
    let setup = "cat > /usr/local/sbin/lvs_rs.sh <<'EOF'\nvip=$1\nifconfig lo:0 $vip netmask 255.255.255.255 up\nEOF\n\
                 chmod +x /usr/local/sbin/lvs_rs.sh\n/usr/local/sbin/lvs_rs.sh 10.0.0.100\nsh /usr/local/sbin/lvs_rs.sh 10.0.0.101\n\
                 touch /tmp/a\nrm -f /tmp/a /tmp/none\n. /usr/local/sbin/lvs_rs.sh 10.0.0.102\n";
    run_script(setup, &[], &mut m).unwrap();
    assert_eq!(
        m.sites[0],
        ("/usr/local/sbin/lvs_rs.sh".into(), 2, "ifconfig lo:0 $vip netmask 255.255.255.255 up".into())
    );
    assert_eq!(
        m.cmds,
        vec![
            c("ifconfig lo:0 10.0.0.100 netmask 255.255.255.255 up"),
            c("ifconfig lo:0 10.0.0.101 netmask 255.255.255.255 up"),
            // `.` keeps the caller's arguments (none): `$vip` is empty.
            c("ifconfig lo:0 netmask 255.255.255.255 up"),
        ]
    );
    assert!(!m.files.contains_key("/tmp/a"));
    let e = run_script("rm /tmp/none", &[], &mut m).unwrap_err();
    assert!(e.message.contains("cannot remove"));
    m.files.insert("/bad.sh".into(), "echo in\nyum x\n".into());
    let e = run_script("echo out\nsh /bad.sh\n", &[], &mut m).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.starts_with("/bad.sh: line 2: `yum x`: `yum`: command not supported"), "{e}");
    m.files.insert("/loop.sh".into(), "sh /loop.sh\n".into());
    assert!(run_script("sh /loop.sh", &[], &mut m).unwrap_err().message.contains("nested too deep"));
    assert!(run_script("cat /nope", &[], &mut m).unwrap_err().message.contains("No such file"));
    assert!(run_script("source /nope", &[], &mut m).unwrap_err().message.contains("No such file"));
}

#[test]
fn set_u_and_field_splitting() {
    let (out, _) = run("s", "set -u\necho $NOPE\n", &[]);
    assert_eq!(out.unwrap_err().line, 2);
    let mut m = Machine::default();
    run_script("X=\"  -A   -t 1.2.3.4:80 \"\nipvsadm $X -s rr\nipvsadm \"$X\"\nE=\n$E ip a\n", &[], &mut m).unwrap();
    assert_eq!(m.cmds[0], c("ipvsadm -A -t 1.2.3.4:80 -s rr"));
    assert_eq!(m.cmds[1], Command::Ipvsadm(vec!["  -A   -t 1.2.3.4:80 ".into()]));
    assert_eq!(m.cmds[2], c("ip a"));
}

#[test]
fn crlf_and_bom_are_accepted() {
    let (out, m) = run("s", "\u{feff}VIP=10.0.0.1\r\nip addr add $VIP dev lo\r\n", &[]);
    out.unwrap();
    assert_eq!(m.cmds, vec![c("ip addr add 10.0.0.1 dev lo")]);
}

#[test]
fn parse_command_line_errors() {
    assert!(parse_command_line("echo hi").unwrap_err().message.contains("no machine command"));
    assert!(parse_command_line("ip a; ip r").unwrap_err().message.contains("2 commands"));
    assert_eq!(
        parse_command_line("cat /proc/sys/net/ipv4/ip_forward").unwrap(),
        Command::Sysctl(Sysctl {
            op: SysctlOp::Items(vec![SysctlItem::Read("net.ipv4.ip_forward".into())]),
            values_only: true,
            names_only: false,
            quiet: false,
            ignore_unknown: false,
        })
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("ip".to_string()),
            Just("ifconfig".to_string()),
            Just("route".to_string()),
            Just("sysctl".to_string()),
            Just("arping".to_string()),
            Just("iptables".to_string()),
            Just("arp".to_string()),
            Just("ss".to_string()),
            Just("netstat".to_string()),
            Just("sleep".to_string()),
            Just("modprobe".to_string()),
            Just("systemctl".to_string()),
            Just("-t".to_string()),
            Just("-A".to_string()),
            Just("--dport".to_string()),
            Just("!".to_string()),
            Just("add".to_string()),
            Just("del".to_string()),
            Just("dev".to_string()),
            Just("10.0.0.1/24".to_string()),
            Just("255.255.0.0".to_string()),
            "[a-z0-9./:=!-]{0,8}",
            any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn scripts_never_panic(text in "[ -~\\n\\t\u{3000}é]{0,120}", arg in "[a-z]{0,5}") {
            let mut m = Machine::default();
            let _ = run_script(&text, &[arg], &mut m);
        }

        #[test]
        fn shell_syntax_never_panics(parts in proptest::collection::vec(prop_oneof![
            Just("case"), Just("in"), Just("esac"), Just(";;"), Just(")"), Just("("), Just("if"), Just("fi"),
            Just("<<EOF\n"), Just("EOF\n"), Just("\n"), Just("'"), Just("\""), Just("$"), Just("${"), Just("}"),
            Just("`"), Just("$("), Just("|"), Just("||"), Just("&&"), Just("&"), Just(">"), Just("2>&1"),
            Just("\\"), Just("#"), Just("echo"), Just("x"), Just("*"), Just("{"), Just("do"), Just("done"),
            Just("f()"), Just(";"), Just("true"), Just("exit"), Just("1"), Just("=")
        ], 0..24)) {
            let text: String = parts.join(" ");
            let mut m = Machine::default();
            let _ = run_script(&text, &["start".to_string()], &mut m);
        }

        #[test]
        fn command_parsers_never_panic(argv in proptest::collection::vec(word(), 0..10)) {
            let _ = parse_argv(&argv);
            for tool in ["ip", "ifconfig", "route", "sysctl", "arping", "iptables", "arp", "netstat", "ss", "sleep"] {
                let mut v = vec![tool.to_string()];
                v.extend(argv.iter().cloned());
                let _ = parse_argv(&v);
            }
        }
    }
}
