//! UDP "states" (ip_vs_proto_udp.c; reference §3.5): one state, `UDP`, whose
//! timeout every packet in either direction renews. UDP entries are never counted
//! as active: they stay in InActConn from creation.

use super::Ipvs;
use super::proto_tcp::Dir;

/// `IP_VS_UDP_S_NORMAL`.
pub const S_NORMAL: u8 = 0;
/// `udp_state_name_table`.
pub const STATE_NAME: &str = "UDP";
/// `udp_timeouts[IP_VS_UDP_S_NORMAL]`, seconds.
pub const DEFAULT_TIMEOUT: u32 = 5 * 60;

impl Ipvs {
    /// `udp_state_transition`: a reply assures the template; the timeout restarts.
    pub(crate) fn set_udp_state(&mut self, idx: u32, dir: Dir) {
        if dir == Dir::Output {
            self.assure_template(idx);
        }
        let c = self.conns.conn_mut(idx);
        c.state = S_NORMAL;
        c.timeout_ms = self.udp_timeout.saturating_mul(1000);
    }
}
