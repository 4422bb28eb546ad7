//! Sysctls under `/proc/sys/net/ipv4`: per-device `conf/<dev>/*` with the `all` and
//! `default` copies, `neigh/<dev>/*`, and the global knobs the model uses. How a
//! device's effective value combines with `all` follows `include/linux/inetdevice.h`
//! (`IN_DEV_MAXCONF`, `IN_DEV_ORCONF`, `IN_DEV_CONF_GET`).

use crate::time::Duration;
use std::collections::BTreeMap;

/// `net.ipv4.conf.<dev>.*` values of one device (or of `all` / `default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevConf {
    pub forwarding: u32,
    pub rp_filter: u32,
    pub arp_ignore: u32,
    pub arp_announce: u32,
    pub arp_accept: u32,
    pub arp_filter: u32,
    pub send_redirects: u32,
    pub accept_redirects: u32,
    pub accept_local: u32,
    pub proxy_arp: u32,
    pub route_localnet: u32,
}

impl Default for DevConf {
    /// The kernel's defaults (`ipv4_devconf` in net/ipv4/devinet.c).
    fn default() -> Self {
        DevConf {
            forwarding: 0,
            rp_filter: 0,
            arp_ignore: 0,
            arp_announce: 0,
            arp_accept: 0,
            arp_filter: 0,
            send_redirects: 1,
            accept_redirects: 1,
            accept_local: 0,
            proxy_arp: 0,
            route_localnet: 0,
        }
    }
}

impl DevConf {
    fn field(&mut self, name: &str) -> Option<&mut u32> {
        Some(match name {
            "forwarding" => &mut self.forwarding,
            "rp_filter" => &mut self.rp_filter,
            "arp_ignore" => &mut self.arp_ignore,
            "arp_announce" => &mut self.arp_announce,
            "arp_accept" => &mut self.arp_accept,
            "arp_filter" => &mut self.arp_filter,
            "send_redirects" => &mut self.send_redirects,
            "accept_redirects" => &mut self.accept_redirects,
            "accept_local" => &mut self.accept_local,
            "proxy_arp" => &mut self.proxy_arp,
            "route_localnet" => &mut self.route_localnet,
            _ => return None,
        })
    }
}

/// `net.ipv4.neigh.<dev>.*` (ARP) parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighParms {
    pub base_reachable_time: Duration,
    pub delay_first_probe_time: Duration,
    pub retrans_time: Duration,
    pub ucast_solicit: u32,
    pub mcast_solicit: u32,
    pub app_solicit: u32,
    pub mcast_resolicit: u32,
    pub locktime: Duration,
    pub gc_stale_time: Duration,
    /// `unres_qlen_bytes`: bytes queued per unresolved entry.
    pub unres_qlen_bytes: usize,
}

impl Default for NeighParms {
    /// `arp_tbl` defaults in net/ipv4/arp.c.
    fn default() -> Self {
        NeighParms {
            base_reachable_time: Duration::from_secs(30),
            delay_first_probe_time: Duration::from_secs(5),
            retrans_time: Duration::from_secs(1),
            ucast_solicit: 3,
            mcast_solicit: 3,
            app_solicit: 0,
            mcast_resolicit: 0,
            locktime: Duration::from_secs(1),
            gc_stale_time: Duration::from_secs(60),
            unres_qlen_bytes: 212_992,
        }
    }
}

/// Global `net.ipv4.*` knobs the model reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globals {
    pub tcp_syn_retries: u32,
    /// `tcp_syn_linear_timeouts` (Linux ≥ 6.5, default 4): the first SYN
    /// retransmits come 1 s apart before the doubling starts.
    pub tcp_syn_linear_timeouts: u32,
    pub tcp_synack_retries: u32,
    pub tcp_fin_timeout: u32,
    pub ip_default_ttl: u32,
    pub ip_no_pmtu_disc: u32,
    /// `icmp_ratelimit` in ms (token bucket per destination, `icmpv4_xrlim_allow`).
    pub icmp_ratelimit: u32,
    pub icmp_echo_ignore_all: u32,
    pub ip_local_port_range: (u16, u16),
}

impl Default for Globals {
    fn default() -> Self {
        Globals {
            tcp_syn_retries: 6,
            tcp_syn_linear_timeouts: 4,
            tcp_synack_retries: 5,
            tcp_fin_timeout: 60,
            ip_default_ttl: 64,
            ip_no_pmtu_disc: 0,
            icmp_ratelimit: 1000,
            icmp_echo_ignore_all: 0,
            ip_local_port_range: (32768, 60999),
        }
    }
}

/// All IPv4 sysctls of one machine.
#[derive(Debug, Clone, Default)]
pub struct Sysctls {
    pub all: DevConf,
    pub default: DevConf,
    /// `conf/<dev>`, in the order devices were registered: a device keeps its
    /// slot ([`Sysctls::add_dev`]), so the per-packet reads skip the name lookup.
    devs: Vec<DevConf>,
    dev_slot: BTreeMap<String, usize>,
    pub neigh_default: NeighParms,
    pub neigh: BTreeMap<String, NeighParms>,
    pub globals: Globals,
    /// Keys other modules own (`net.ipv4.vs.*` for IPVS), stored for them.
    pub extra: BTreeMap<String, String>,
}

/// Why a sysctl write failed, in the words of `sysctl` (procps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysctlError {
    /// `sysctl: cannot stat /proc/sys/...: No such file or directory`
    NoSuchKey(String),
    /// `sysctl: setting key "...": Invalid argument`
    Invalid(String),
}

impl std::fmt::Display for SysctlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SysctlError::NoSuchKey(k) => {
                write!(f, "sysctl: cannot stat {}: No such file or directory", crate::shell::sysctl::path(k))
            }
            SysctlError::Invalid(k) => write!(f, "sysctl: setting key \"{k}\": Invalid argument"),
        }
    }
}

fn parse_u32(key: &str, v: &str) -> Result<u32, SysctlError> {
    v.trim().parse().map_err(|_| SysctlError::Invalid(key.to_string()))
}

impl Sysctls {
    /// Registers a device: it starts from `conf/default` (`devinet_init_net` copies
    /// `ipv4_devconf_dflt` into a new device's conf) and `neigh/default`. Returns
    /// its slot for [`Sysctls::source_checks_at`] (a name registered again keeps
    /// its slot and its settings).
    pub fn add_dev(&mut self, name: &str) -> usize {
        self.neigh.entry(name.to_string()).or_insert_with(|| self.neigh_default.clone());
        if let Some(&slot) = self.dev_slot.get(name) {
            return slot;
        }
        self.devs.push(self.default.clone());
        self.dev_slot.insert(name.to_string(), self.devs.len() - 1);
        self.devs.len() - 1
    }

    /// Unregisters a device (`devinet_sysctl_unregister`, `neigh_sysctl_unregister`):
    /// its `conf/<dev>` and `neigh/<dev>` keys go away, and a device created again
    /// under the name starts from the defaults, not from what the old one had.
    /// The old slot is left unused.
    pub fn remove_dev(&mut self, name: &str) {
        self.dev_slot.remove(name);
        self.neigh.remove(name);
    }

    fn d(&self, dev: &str) -> &DevConf {
        self.dev_slot.get(dev).map_or(&self.default, |&i| &self.devs[i])
    }

    /// `IN_DEV_FORWARD`: the device's own `forwarding`.
    pub fn forwarding(&self, dev: &str) -> bool {
        self.d(dev).forwarding != 0
    }
    /// `IN_DEV_ARP_IGNORE`: max(all, dev).
    pub fn arp_ignore(&self, dev: &str) -> u32 {
        self.all.arp_ignore.max(self.d(dev).arp_ignore)
    }
    /// `IN_DEV_ARP_ANNOUNCE`: max(all, dev).
    pub fn arp_announce(&self, dev: &str) -> u32 {
        self.all.arp_announce.max(self.d(dev).arp_announce)
    }
    /// `IN_DEV_ARP_ACCEPT`: max(all, dev) (an OR before v6.0 when it was boolean).
    pub fn arp_accept(&self, dev: &str) -> u32 {
        self.all.arp_accept.max(self.d(dev).arp_accept)
    }
    /// `IN_DEV_ARPFILTER`: all || dev.
    pub fn arp_filter(&self, dev: &str) -> bool {
        self.all.arp_filter != 0 || self.d(dev).arp_filter != 0
    }
    /// `IN_DEV_TX_REDIRECTS`: all || dev.
    pub fn send_redirects(&self, dev: &str) -> bool {
        self.all.send_redirects != 0 || self.d(dev).send_redirects != 0
    }
    /// `IN_DEV_ACCEPT_LOCAL` and `IN_DEV_RPFILTER` at once, as
    /// `fib_validate_source` reads them for every packet, for the device
    /// registered in `slot` (no name lookup).
    pub fn source_checks_at(&self, slot: usize) -> (bool, u32) {
        let d = self.devs.get(slot).unwrap_or(&self.default);
        (self.all.accept_local != 0 || d.accept_local != 0, self.all.rp_filter.max(d.rp_filter))
    }
    /// `IN_DEV_PROXY_ARP`: all || dev.
    pub fn proxy_arp(&self, dev: &str) -> bool {
        self.all.proxy_arp != 0 || self.d(dev).proxy_arp != 0
    }
    pub fn neigh_parms(&self, dev: &str) -> &NeighParms {
        self.neigh.get(dev).unwrap_or(&self.neigh_default)
    }

    /// Reads a key (`net.ipv4.conf.all.arp_ignore` or with `/`).
    pub fn get(&self, key: &str) -> Result<String, SysctlError> {
        let k = normalise(key);
        self.value(&k).or_else(|| self.extra.get(&k).cloned()).ok_or(SysctlError::NoSuchKey(k))
    }

    fn value(&self, key: &str) -> Option<String> {
        let parts: Vec<&str> = key.split('.').collect();
        match parts.as_slice() {
            ["net", "ipv4", "conf", dev, name] => {
                let mut conf = match *dev {
                    "all" => self.all.clone(),
                    "default" => self.default.clone(),
                    d => self.devs[*self.dev_slot.get(&dev_name(d))?].clone(),
                };
                conf.field(name).map(|v| v.to_string())
            }
            ["net", "ipv4", "ip_forward"] => Some(self.all.forwarding.to_string()),
            ["net", "ipv4", "neigh", dev, name] => {
                let p = match *dev {
                    "default" => &self.neigh_default,
                    d => self.neigh.get(&dev_name(d))?,
                };
                neigh_get(p, name)
            }
            ["net", "ipv4", name] => global_get(&self.globals, name),
            _ => None,
        }
    }

    /// Writes a key. `ip_forward` and `conf/all/forwarding` propagate to every
    /// device, as `devinet_sysctl_forward` → `inet_forward_change` does.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SysctlError> {
        let k = normalise(key);
        let parts: Vec<String> = k.split('.').map(str::to_string).collect();
        let p: Vec<&str> = parts.iter().map(String::as_str).collect();
        match p.as_slice() {
            ["net", "ipv4", "ip_forward"] | ["net", "ipv4", "conf", "all", "forwarding"] => {
                let v = parse_u32(&k, value)?;
                let v = u32::from(v != 0);
                self.all.forwarding = v;
                self.default.forwarding = v;
                for d in &mut self.devs {
                    d.forwarding = v;
                }
                Ok(())
            }
            ["net", "ipv4", "conf", dev, name] => {
                let v = parse_u32(&k, value)?;
                let conf = match *dev {
                    "all" => &mut self.all,
                    "default" => &mut self.default,
                    d => {
                        let &i = self.dev_slot.get(&dev_name(d)).ok_or_else(|| SysctlError::NoSuchKey(k.clone()))?;
                        &mut self.devs[i]
                    }
                };
                *conf.field(name).ok_or_else(|| SysctlError::NoSuchKey(k.clone()))? = v;
                Ok(())
            }
            ["net", "ipv4", "neigh", dev, name] => {
                let parms = match *dev {
                    "default" => &mut self.neigh_default,
                    d => self.neigh.get_mut(&dev_name(d)).ok_or_else(|| SysctlError::NoSuchKey(k.clone()))?,
                };
                neigh_set(parms, name, value).ok_or_else(|| SysctlError::NoSuchKey(k.clone()))?
            }
            ["net", "ipv4", "vs", _] => {
                self.extra.insert(k.clone(), value.trim().to_string());
                Ok(())
            }
            ["net", "ipv4", name] => global_set(&mut self.globals, name, value, &k),
            _ => Err(SysctlError::NoSuchKey(k)),
        }
    }
}

/// `net/ipv4/conf/all/arp_ignore` and `/proc/sys/net/...` → procps's dotted form,
/// where a `.` inside a device name is written `/` (`net.ipv4.conf.vrrp/51.arp_ignore`).
pub fn normalise(key: &str) -> String {
    crate::shell::sysctl::key(key.trim().trim_start_matches("/proc/sys/").trim_matches('/'))
}

/// The dotted key of `conf/<dev>/<name>` (`vrrp.51` is written `vrrp/51`).
pub fn conf_key(dev: &str, name: &str) -> String {
    format!("net.ipv4.conf.{}.{name}", dev.replace('.', "/"))
}

/// The device name in a dotted key's component (`vrrp/51` is `vrrp.51`).
fn dev_name(component: &str) -> String {
    component.replace('/', ".")
}

fn neigh_get(p: &NeighParms, name: &str) -> Option<String> {
    Some(match name {
        "base_reachable_time_ms" => p.base_reachable_time.as_millis().to_string(),
        "base_reachable_time" => p.base_reachable_time.as_secs().to_string(),
        "delay_first_probe_time" => p.delay_first_probe_time.as_secs().to_string(),
        "retrans_time_ms" => p.retrans_time.as_millis().to_string(),
        "ucast_solicit" => p.ucast_solicit.to_string(),
        "mcast_solicit" => p.mcast_solicit.to_string(),
        "app_solicit" => p.app_solicit.to_string(),
        "mcast_resolicit" => p.mcast_resolicit.to_string(),
        "locktime" => (p.locktime.as_millis() / 10).to_string(),
        "gc_stale_time" => p.gc_stale_time.as_secs().to_string(),
        "unres_qlen_bytes" => p.unres_qlen_bytes.to_string(),
        _ => return None,
    })
}

fn neigh_set(p: &mut NeighParms, name: &str, value: &str) -> Option<Result<(), SysctlError>> {
    let key = format!("net.ipv4.neigh.*.{name}");
    let n = match value.trim().parse::<u64>() {
        Ok(n) => n,
        Err(_) => return Some(Err(SysctlError::Invalid(key))),
    };
    match name {
        "base_reachable_time_ms" => p.base_reachable_time = Duration::from_millis(n),
        "base_reachable_time" => p.base_reachable_time = Duration::from_secs(n),
        "delay_first_probe_time" => p.delay_first_probe_time = Duration::from_secs(n),
        "retrans_time_ms" => p.retrans_time = Duration::from_millis(n),
        "ucast_solicit" => p.ucast_solicit = n as u32,
        "mcast_solicit" => p.mcast_solicit = n as u32,
        "app_solicit" => p.app_solicit = n as u32,
        "mcast_resolicit" => p.mcast_resolicit = n as u32,
        // In USER_HZ (1/100 s) ticks.
        "locktime" => p.locktime = Duration::from_millis(n * 10),
        "gc_stale_time" => p.gc_stale_time = Duration::from_secs(n),
        "unres_qlen_bytes" => p.unres_qlen_bytes = n as usize,
        _ => return None,
    }
    Some(Ok(()))
}

fn global_get(g: &Globals, name: &str) -> Option<String> {
    Some(match name {
        "tcp_syn_retries" => g.tcp_syn_retries.to_string(),
        "tcp_syn_linear_timeouts" => g.tcp_syn_linear_timeouts.to_string(),
        "tcp_synack_retries" => g.tcp_synack_retries.to_string(),
        "tcp_fin_timeout" => g.tcp_fin_timeout.to_string(),
        "ip_default_ttl" => g.ip_default_ttl.to_string(),
        "ip_no_pmtu_disc" => g.ip_no_pmtu_disc.to_string(),
        "icmp_ratelimit" => g.icmp_ratelimit.to_string(),
        "icmp_echo_ignore_all" => g.icmp_echo_ignore_all.to_string(),
        "ip_local_port_range" => format!("{}\t{}", g.ip_local_port_range.0, g.ip_local_port_range.1),
        _ => return None,
    })
}

fn global_set(g: &mut Globals, name: &str, value: &str, key: &str) -> Result<(), SysctlError> {
    if name == "ip_local_port_range" {
        let v: Vec<u16> = value.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        return match v.as_slice() {
            [lo, hi] if lo <= hi => {
                g.ip_local_port_range = (*lo, *hi);
                Ok(())
            }
            _ => Err(SysctlError::Invalid(key.to_string())),
        };
    }
    let v = parse_u32(key, value)?;
    let slot = match name {
        "tcp_syn_retries" => &mut g.tcp_syn_retries,
        "tcp_syn_linear_timeouts" => &mut g.tcp_syn_linear_timeouts,
        "tcp_synack_retries" => &mut g.tcp_synack_retries,
        "tcp_fin_timeout" => &mut g.tcp_fin_timeout,
        "ip_default_ttl" => &mut g.ip_default_ttl,
        "ip_no_pmtu_disc" => &mut g.ip_no_pmtu_disc,
        "icmp_ratelimit" => &mut g.icmp_ratelimit,
        "icmp_echo_ignore_all" => &mut g.icmp_echo_ignore_all,
        _ => return Err(SysctlError::NoSuchKey(key.to_string())),
    };
    *slot = v;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_and_dev_combine_as_the_kernel_does() {
        let mut s = Sysctls::default();
        s.add_dev("lo");
        s.add_dev("eth0");
        s.set("net.ipv4.conf.lo.arp_ignore", "1").unwrap();
        assert_eq!(s.arp_ignore("eth0"), 0, "lo's setting does not reach eth0");
        s.set("/proc/sys/net/ipv4/conf/all/arp_ignore", "1").unwrap();
        assert_eq!(s.arp_ignore("eth0"), 1, "max(all, eth0)");
        s.set("net/ipv4/conf/all/arp_announce", "2").unwrap();
        assert_eq!(s.arp_announce("eth0"), 2);
        // send_redirects is an OR: clearing only `all` keeps the device's 1.
        s.set("net.ipv4.conf.all.send_redirects", "0").unwrap();
        assert!(s.send_redirects("eth0"));
        s.set("net.ipv4.conf.eth0.send_redirects", "0").unwrap();
        assert!(!s.send_redirects("eth0"));
    }

    #[test]
    fn ip_forward_propagates_and_default_applies_to_new_devices() {
        let mut s = Sysctls::default();
        let eth0 = s.add_dev("eth0");
        s.set("net.ipv4.ip_forward", "1").unwrap();
        assert!(s.forwarding("eth0"));
        s.set("net.ipv4.conf.default.rp_filter", "1").unwrap();
        let tunl0 = s.add_dev("tunl0");
        assert_eq!(s.source_checks_at(tunl0).1, 1, "tunl0 created later takes conf/default");
        assert_eq!(s.source_checks_at(eth0).1, 0);
        assert_eq!(s.get("net.ipv4.conf.tunl0.rp_filter").unwrap(), "1");
        // A name registered again while it exists keeps its slot.
        assert_eq!(s.add_dev("eth0"), eth0);
    }

    #[test]
    fn a_device_created_again_starts_from_the_defaults() {
        let mut s = Sysctls::default();
        s.set("net.ipv4.conf.default.arp_announce", "1").unwrap();
        let vmac = s.add_dev("vrrp51");
        s.set("net.ipv4.conf.vrrp51.arp_ignore", "1").unwrap();
        s.set("net.ipv4.conf.vrrp51.arp_announce", "2").unwrap();
        s.set("net.ipv4.neigh.vrrp51.retrans_time_ms", "500").unwrap();
        s.remove_dev("vrrp51");
        assert!(s.get("net.ipv4.conf.vrrp51.arp_ignore").is_err(), "the keys went with the device");
        let again = s.add_dev("vrrp51");
        assert_ne!(again, vmac);
        assert_eq!(s.get("net.ipv4.conf.vrrp51.arp_ignore").unwrap(), "0");
        assert_eq!(s.get("net.ipv4.conf.vrrp51.arp_announce").unwrap(), "1", "conf/default");
        assert_eq!(s.get("net.ipv4.neigh.vrrp51.retrans_time_ms").unwrap(), "1000");
    }

    /// keepalived's default VMAC name has a dot: procps writes it `/` in a dotted
    /// key, and the `/proc/sys` path keeps the dot (`slashdot()` in sysctl.c).
    #[test]
    fn a_device_name_with_a_dot() {
        let mut s = Sysctls::default();
        s.add_dev("vrrp.51");
        s.set("net.ipv4.conf.vrrp/51.arp_ignore", "1").unwrap();
        assert_eq!(s.arp_ignore("vrrp.51"), 1);
        s.set("/proc/sys/net/ipv4/conf/vrrp.51/arp_announce", "2").unwrap();
        assert_eq!(s.get("net/ipv4/conf/vrrp.51/arp_announce").unwrap(), "2");
        s.set("net.ipv4.neigh.vrrp/51.retrans_time_ms", "500").unwrap();
        assert_eq!(s.get("net.ipv4.neigh.vrrp/51.retrans_time_ms").unwrap(), "500");
        assert_eq!(
            s.set("net.ipv4.conf.vrrp/52.arp_ignore", "1").unwrap_err().to_string(),
            "sysctl: cannot stat /proc/sys/net/ipv4/conf/vrrp.52/arp_ignore: No such file or directory"
        );
        // Written with dots, the name is split into components that do not exist.
        assert!(s.set("net.ipv4.conf.vrrp.51.arp_ignore", "1").is_err());
    }

    #[test]
    fn errors_read_like_sysctl() {
        let mut s = Sysctls::default();
        assert_eq!(
            s.set("net.ipv4.conf.eth9.arp_ignore", "1").unwrap_err().to_string(),
            "sysctl: cannot stat /proc/sys/net/ipv4/conf/eth9/arp_ignore: No such file or directory"
        );
        assert_eq!(
            s.set("net.ipv4.conf.all.arp_ignore", "x").unwrap_err().to_string(),
            "sysctl: setting key \"net.ipv4.conf.all.arp_ignore\": Invalid argument"
        );
    }
}
