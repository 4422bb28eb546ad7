//! Arbitrary frames into a configured LVS director machine (stack + IPVS).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sim_core::host::{Machine, MachineSpec, SetupScript};
use sim_core::node::{Node, Outbox};
use sim_core::time::Instant;
use sim_core::wire::MacAddr;
use std::collections::BTreeMap;

fn director() -> Machine {
    let spec = MachineSpec {
        name: "dir".into(),
        nics: vec![("eth0".into(), MacAddr::local(1)), ("eth1".into(), MacAddr::local(2))],
        apps: vec![],
        files: BTreeMap::new(),
        setup: vec![SetupScript {
            origin: "fuzz".into(),
            first_line: 1,
            text: "ip addr add 10.0.0.1/24 dev eth0\nip addr add 192.168.1.1/24 dev eth1\n\
                   ip addr add 10.0.0.100/32 dev eth0\nsysctl -w net.ipv4.ip_forward=1\n\
                   ipvsadm -A -t 10.0.0.100:80 -s wlc -p 30\nipvsadm -a -t 10.0.0.100:80 -r 192.168.1.11:80 -m\n\
                   ipvsadm -a -t 10.0.0.100:80 -r 192.168.1.12:8080 -m -w 3\nipvsadm -A -u 10.0.0.100:53 -s sh\n\
                   ipvsadm -a -u 10.0.0.100:53 -r 192.168.1.11 -g\nipvsadm -A -t 10.0.0.100:443 -s rr\n\
                   ipvsadm -a -t 10.0.0.100:443 -r 192.168.1.12 -i\n"
                .into(),
            args: vec![],
        }],
        script_results: BTreeMap::new(),
        keepalived_version: Default::default(),
    };
    Machine::boot(&spec, 1, Instant::ZERO, &mut Outbox::new(false)).expect("director boots")
}

fuzz_target!(|data: &[u8]| {
    let mut m = director();
    let mut out = Outbox::new(true);
    let mut t = 1_000_000u64;
    // Frames are length-prefixed (1 byte port + 2 bytes length); the rest of the
    // input is one last frame.
    let mut rest = data;
    while rest.len() >= 3 {
        let port = usize::from(rest[0] & 1);
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let frame = &rest[3..3 + len];
        t += 1000;
        m.on_frame(Instant::from_nanos(t), port, frame, &mut out);
        if let Some(d) = m.next_deadline() {
            m.on_timer(d.max(Instant::from_nanos(t)), &mut out);
        }
        out.take_into(&mut Vec::new());
        rest = &rest[3 + len..];
    }
});
