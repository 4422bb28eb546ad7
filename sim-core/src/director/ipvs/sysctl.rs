//! The knobs of /proc/sys/net/ipv4/vs that change behaviour modelled here
//! (`ip_vs_control_net_init_sysctl`, ip_vs_ctl.c; reference §7).

/// Per-netns IPVS sysctls, with the kernel's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    /// §5.1 steps 5–6: expire (and reschedule) connections whose dest was deleted
    /// or, for a new SYN, has weight 0. Default 0: such packets are dropped.
    pub expire_nodest_conn: i32,
    /// §4: a template whose dest has weight 0 is invalidated. Default 0.
    pub expire_quiescent_template: i32,
    /// §3.4: any non-RST TCP segment may create a connection. Default 0.
    pub sloppy_tcp: i32,
    /// §5.1 step 5: reschedule a SYN that hits a TIME_WAIT/CLOSE connection
    /// (bit 1), or a FIN_WAIT one without output seen (bit 2). Default 1.
    pub conn_reuse_mode: i32,
    /// §5.4: fwmark services with no dest route packets to their own destination.
    pub cache_bypass: i32,
    /// §5.6: re-route NAT replies after SNAT. Default 1.
    pub snat_reroute: i32,
    /// §6.1/§6.4: PMTU discovery for tunnels (copy DF, send FRAG_NEEDED). Default 1.
    pub pmtu_disc: i32,
    /// §5.5: schedule ICMP errors that match no connection. Default 0.
    pub schedule_icmp: i32,
    /// §5.6: answer NAT real-server packets with no connection with port unreachable.
    pub nat_icmp_send: i32,
    /// §3.2: keep netfilter conntrack for IPVS connections (IP_VS_CONN_F_NFCT).
    pub conntrack: i32,
    /// §2.7: lblc cache entry lifetime, seconds (default 24 h).
    pub lblc_expiration: i32,
    /// §2.8: lblcr dest-set shrink period, seconds (default 24 h).
    pub lblcr_expiration: i32,
}

impl Default for Sysctl {
    fn default() -> Self {
        Sysctl {
            expire_nodest_conn: 0,
            expire_quiescent_template: 0,
            sloppy_tcp: 0,
            conn_reuse_mode: 1,
            cache_bypass: 0,
            snat_reroute: 1,
            pmtu_disc: 1,
            schedule_icmp: 0,
            nat_icmp_send: 0,
            conntrack: 0,
            lblc_expiration: 24 * 60 * 60,
            lblcr_expiration: 24 * 60 * 60,
        }
    }
}

/// The directory the knobs live in.
pub const PROC_DIR: &str = "/proc/sys/net/ipv4/vs/";

/// `expire_nodest_conn` from any of the spellings people use: the bare name,
/// `/proc/sys/net/ipv4/vs/NAME`, or `net.ipv4.vs.NAME` (sysctl -w).
pub fn knob_name(path: &str) -> Option<&str> {
    let p = path.trim();
    p.strip_prefix(PROC_DIR)
        .or_else(|| p.strip_prefix("net.ipv4.vs."))
        .or_else(|| p.strip_prefix("net/ipv4/vs/"))
        .or(Some(p))
        .filter(|n| !n.is_empty() && !n.contains('/') && !n.contains('.'))
}

/// Maps knob names to fields once, for reading and for writing.
macro_rules! knob {
    ($s:expr, $name:expr) => {
        match $name {
            "expire_nodest_conn" => Some(&mut $s.expire_nodest_conn),
            "expire_quiescent_template" => Some(&mut $s.expire_quiescent_template),
            "sloppy_tcp" => Some(&mut $s.sloppy_tcp),
            "conn_reuse_mode" => Some(&mut $s.conn_reuse_mode),
            "cache_bypass" => Some(&mut $s.cache_bypass),
            "snat_reroute" => Some(&mut $s.snat_reroute),
            "pmtu_disc" => Some(&mut $s.pmtu_disc),
            "schedule_icmp" => Some(&mut $s.schedule_icmp),
            "nat_icmp_send" => Some(&mut $s.nat_icmp_send),
            "conntrack" => Some(&mut $s.conntrack),
            "lblc_expiration" => Some(&mut $s.lblc_expiration),
            "lblcr_expiration" => Some(&mut $s.lblcr_expiration),
            _ => None,
        }
    };
}

impl Sysctl {
    /// The names this model knows, in /proc order.
    pub const NAMES: [&'static str; 12] = [
        "conntrack",
        "cache_bypass",
        "expire_nodest_conn",
        "sloppy_tcp",
        "expire_quiescent_template",
        "nat_icmp_send",
        "pmtu_disc",
        "conn_reuse_mode",
        "schedule_icmp",
        "snat_reroute",
        "lblc_expiration",
        "lblcr_expiration",
    ];

    /// `cat /proc/sys/net/ipv4/vs/NAME` (without the newline); `None` for a knob
    /// this model does not have.
    pub fn get(&self, path: &str) -> Option<String> {
        let name = knob_name(path)?;
        let mut copy = self.clone();
        let v: Option<&mut i32> = knob!(copy, name);
        v.map(|v| v.to_string())
    }

    /// `echo VALUE > /proc/sys/net/ipv4/vs/NAME`. Values are parsed as
    /// `proc_dointvec` does (an optional sign and decimal digits around blanks); the
    /// error text is what the shell prints for the failed write.
    pub fn set(&mut self, path: &str, value: &str) -> Result<(), String> {
        let Some(name) = knob_name(path) else {
            return Err(format!("{path}: No such file or directory"));
        };
        let slot: Option<&mut i32> = knob!(self, name);
        let Some(slot) = slot else {
            return Err(format!("{PROC_DIR}{name}: No such file or directory"));
        };
        match value.trim().parse::<i32>() {
            Ok(v) => {
                *slot = v;
                Ok(())
            }
            Err(_) => Err("write error: Invalid argument".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_spellings() {
        let mut s = Sysctl::default();
        assert_eq!(s.get("conn_reuse_mode").as_deref(), Some("1"));
        assert_eq!(s.get("/proc/sys/net/ipv4/vs/pmtu_disc").as_deref(), Some("1"));
        s.set("net.ipv4.vs.expire_nodest_conn", "1\n").unwrap();
        assert_eq!(s.expire_nodest_conn, 1);
        assert!(s.set("/proc/sys/net/ipv4/vs/sloppy_tcp", "yes").is_err());
        assert!(s.set("/proc/sys/net/ipv4/vs/nope", "1").is_err());
        assert_eq!(s.get("amemthresh"), None);
        for n in Sysctl::NAMES {
            assert!(s.get(n).is_some(), "{n}");
        }
    }
}
