//! The real topology: one network namespace per host and one per L2 segment (a
//! bridge), veth pairs for the links. Every name carries the run's prefix
//! (`lvslab-<id>-`, the id being the harness's pid in base 36), nothing touches the
//! initial namespace, and [`Topo`] removes what it made when dropped — on success,
//! error, panic, or after Ctrl-C.

use super::sys;
use std::process::{Command, Stdio};

/// What every namespace name of ours starts with.
pub const PREFIX: &str = "lvslab-";

/// Runs a program and returns its standard output, or its standard error (or the
/// reason it could not start) as the error.
pub fn cmd(argv: &[&str]) -> Result<String, String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", argv[0]))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(if err.is_empty() { format!("`{}` failed ({})", argv.join(" "), out.status) } else { err })
    }
}

/// `cmd` with context for errors.
fn must(argv: &[&str]) -> Result<String, String> {
    cmd(argv).map_err(|e| format!("`{}`: {e}", argv.join(" ")))
}

/// Runs `argv` inside namespace `ns` (through `nsenter`, which keeps the mount
/// namespace: `/proc/sys/net` follows the network namespace).
pub fn in_ns(ns: &str, argv: &[&str]) -> Result<String, String> {
    let netns = format!("--net=/run/netns/{ns}");
    let mut v = vec!["nsenter", netns.as_str(), "--"];
    v.extend_from_slice(argv);
    cmd(&v)
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

/// The namespaces and links of one run.
#[derive(Debug)]
pub struct Topo {
    /// The run id (base-36 pid): unique among running harnesses.
    pub id: String,
    /// Namespaces created so far, in creation order.
    made: Vec<String>,
}

/// The sysctls every namespace starts with: no IPv6 (the model has none, and it
/// keeps router solicitations out of the capture), and the kernel's own defaults
/// for the IPv4 knobs the model knows, since a new namespace inherits the initial
/// namespace's IPv4 settings, which a distribution may have changed.
const NS_SYSCTLS: &[&str] = &[
    "net.ipv6.conf.all.disable_ipv6=1",
    "net.ipv6.conf.default.disable_ipv6=1",
    "net.ipv4.ip_forward=0",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    "net.ipv4.conf.all.arp_ignore=0",
    "net.ipv4.conf.default.arp_ignore=0",
    "net.ipv4.conf.all.arp_announce=0",
    "net.ipv4.conf.default.arp_announce=0",
    "net.ipv4.conf.all.arp_filter=0",
    "net.ipv4.conf.default.arp_filter=0",
    "net.ipv4.conf.all.arp_accept=0",
    "net.ipv4.conf.default.arp_accept=0",
    "net.ipv4.conf.all.send_redirects=1",
    "net.ipv4.conf.default.send_redirects=1",
    "net.ipv4.conf.all.accept_redirects=1",
    "net.ipv4.conf.default.accept_redirects=1",
    "net.ipv4.conf.all.accept_local=0",
    "net.ipv4.conf.default.accept_local=0",
];

impl Topo {
    pub fn new() -> Topo {
        Topo { id: base36(std::process::id()), made: vec![] }
    }

    /// Namespace of host `name`.
    pub fn host_ns(&self, name: &str) -> String {
        format!("{PREFIX}{}-h-{name}", self.id)
    }

    /// Namespace of segment number `i` (point-to-point cables get their own, after
    /// the scenario's segments).
    pub fn seg_ns(&self, i: usize) -> String {
        format!("{PREFIX}{}-s{i}", self.id)
    }

    /// The bridge-side name of host `h`'s NIC `n` (15 characters at most).
    pub fn port_name(&self, h: usize, n: usize) -> String {
        format!("lv{}h{h}n{n}", self.id)
    }

    /// Creates a namespace with the baseline sysctls and `lo` up.
    pub fn add_ns(&mut self, ns: &str) -> Result<(), String> {
        if sys::interrupted() {
            return Err("interrupted".into());
        }
        must(&["ip", "netns", "add", ns])?;
        self.made.push(ns.to_string());
        let mut argv = vec!["sysctl", "-q", "-w"];
        argv.extend_from_slice(NS_SYSCTLS);
        in_ns(ns, &argv).map_err(|e| format!("sysctl in {ns}: {e}"))?;
        must(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// A segment: a namespace holding bridge `br0` (no STP, no forwarding delay).
    pub fn add_segment(&mut self, i: usize, ageing_s: u64) -> Result<(), String> {
        let ns = self.seg_ns(i);
        self.add_ns(&ns)?;
        let ageing = (ageing_s * 100).to_string();
        must(&[
            "ip",
            "-n",
            &ns,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
            "ageing_time",
            &ageing,
            "mcast_snooping",
            "0",
        ])?;
        must(&["ip", "-n", &ns, "link", "set", "br0", "up"])?;
        Ok(())
    }

    /// Cables host `h` (namespace `hns`) NIC `nic` with `mac` into segment `seg`.
    pub fn add_link(&mut self, hns: &str, h: usize, n: usize, nic: &str, mac: &str, seg: usize) -> Result<(), String> {
        let sns = self.seg_ns(seg);
        let port = self.port_name(h, n);
        must(&[
            "ip", "-n", hns, "link", "add", nic, "address", mac, "type", "veth", "peer", "name", &port, "netns", &sns,
        ])?;
        must(&["ip", "-n", &sns, "link", "set", &port, "master", "br0", "up"])?;
        // No offloads: frames must be whole and checksummed on the wire, for the
        // capture and for the director, which reads them from a packet socket.
        let off = ["ethtool", "-K", "_", "tx", "off", "tso", "off", "gso", "off", "gro", "off"];
        let mut a = off;
        a[2] = nic;
        in_ns(hns, &a).map_err(|e| format!("ethtool in {hns}: {e}"))?;
        a[2] = &port;
        in_ns(&sns, &a).map_err(|e| format!("ethtool in {sns}: {e}"))?;
        must(&["ip", "-n", hns, "link", "set", nic, "up"])?;
        Ok(())
    }

    /// Limits NIC `nic` of host `h` (namespace `hns`) to `rate` bit/s with a drop-tail
    /// queue of `queue` frames: `tbf` with one full frame of burst, so frames leave one
    /// serialisation time apart as on the simulator's link. `both`: the bridge port
    /// towards the host too (a segment's link is shaped in both directions).
    #[allow(clippy::too_many_arguments)]
    pub fn shape(
        &self,
        hns: &str,
        h: usize,
        n: usize,
        nic: &str,
        seg: usize,
        rate: u64,
        queue: usize,
        both: bool,
    ) -> Result<(), String> {
        let (rate, limit) = (format!("{rate}bit"), ((queue.max(1) + 1) * 1514).to_string());
        let tbf = |ns: &str, dev: &str| {
            in_ns(
                ns,
                &["tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", &rate, "burst", "1514", "limit", &limit],
            )
            .map(drop)
            .map_err(|e| format!("link rate on {dev} in {ns} (tc tbf): {e}"))
        };
        tbf(hns, nic)?;
        if both {
            tbf(&self.seg_ns(seg), &self.port_name(h, n))?;
        }
        Ok(())
    }

    /// A veth pair straight between two namespaces, both ends up (for benchmarks).
    pub fn add_pair(&mut self, a: &str, an: &str, amac: &str, b: &str, bn: &str, bmac: &str) -> Result<(), String> {
        must(&["ip", "-n", a, "link", "add", an, "address", amac, "type", "veth", "peer", "name", bn, "netns", b])?;
        must(&["ip", "-n", b, "link", "set", bn, "address", bmac, "up"])?;
        must(&["ip", "-n", a, "link", "set", an, "up"])?;
        Ok(())
    }

    /// Plugs (`up`) or pulls the cable of host `h`'s NIC `n`: its bridge port goes
    /// up or down, so the NIC keeps its configuration and sees the carrier change.
    pub fn set_cable(&self, h: usize, n: usize, seg: usize, up: bool) -> Result<(), String> {
        must(&["ip", "-n", &self.seg_ns(seg), "link", "set", &self.port_name(h, n), if up { "up" } else { "down" }])
            .map(drop)
    }

    /// Kills every process in `ns` and deletes it.
    pub fn remove_ns(&mut self, ns: &str) {
        remove_ns(ns);
        self.made.retain(|n| n != ns);
    }
}

/// Kills the processes of namespace `ns` and deletes it (errors ignored).
fn remove_ns(ns: &str) {
    kill_ns_pids(ns);
    let _ = cmd(&["ip", "netns", "del", ns]);
}

/// Kills every process that lives in namespace `ns`.
pub fn kill_ns_pids(ns: &str) {
    if let Ok(pids) = cmd(&["ip", "netns", "pids", ns]) {
        for p in pids.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
            sys::kill(p);
        }
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        for ns in self.made.iter().rev() {
            remove_ns(ns);
        }
    }
}

/// `lvs-lab netns clean`: removes our namespaces whose run has ended (the harness
/// that made them is gone). Returns the names removed.
pub fn clean() -> Result<Vec<String>, String> {
    let list = cmd(&["ip", "netns", "list"])?;
    let mut removed = vec![];
    for line in list.lines() {
        let Some(ns) = line.split_whitespace().next() else { continue };
        let Some(rest) = ns.strip_prefix(PREFIX) else { continue };
        let Some(id) = rest.split('-').next() else { continue };
        let live = u32::from_str_radix(id, 36).ok().is_some_and(|pid| sys::alive(pid as i32));
        if !live {
            remove_ns(ns);
            removed.push(ns.to_string());
        }
    }
    Ok(removed)
}

/// Whether this process may make namespaces: root and a working `ip netns add`.
/// The error says plainly what is missing.
pub fn preflight() -> Result<(), String> {
    if sys::euid() != 0 {
        return Err("the netns harness needs root (network namespaces, veth, AF_PACKET): run it with sudo".into());
    }
    for tool in ["ip", "nsenter", "ethtool", "sysctl"] {
        if Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
            return Err(format!(
                "the netns harness needs `{tool}` (apt-get install iproute2 util-linux ethtool procps)"
            ));
        }
    }
    let probe = format!("{PREFIX}{}-probe", base36(std::process::id()));
    cmd(&["ip", "netns", "add", &probe])
        .map_err(|e| format!("this system cannot create network namespaces (`ip netns add`): {e}"))?;
    let veth = cmd(&["ip", "-n", &probe, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1"]);
    let bridge = cmd(&["ip", "-n", &probe, "link", "add", "br0", "type", "bridge"]);
    remove_ns(&probe);
    veth.map_err(|e| format!("this kernel cannot make veth pairs: {e}"))?;
    bridge.map_err(|e| format!("this kernel cannot make bridges: {e}"))?;
    Ok(())
}

/// Whether the kernel can make IPIP tunnels (the `ipip` module), which the real
/// servers of a TUN scenario need.
pub fn has_ipip() -> bool {
    let probe = format!("{PREFIX}{}-ipip", base36(std::process::id()));
    if cmd(&["ip", "netns", "add", &probe]).is_err() {
        return false;
    }
    let ok = cmd(&["ip", "-n", &probe, "link", "add", "t0", "type", "ipip", "remote", "192.0.2.1"]).is_ok()
        || cmd(&["ip", "-n", &probe, "link", "show", "tunl0"]).is_ok();
    remove_ns(&probe);
    ok
}
