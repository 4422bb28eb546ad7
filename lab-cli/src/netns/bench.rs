//! `lvs-lab bench netns`: how fast the director forwards real frames through
//! AF_PACKET in the harness. A generator namespace blasts UDP datagrams for a VIP
//! at the director's veth; the director — the simulator's `Machine` with IPVS-NAT
//! configured by `ipvsadm` — rewrites them and sends them out of its other veth to
//! a sink namespace that counts what arrives.

use super::sys::{self, PacketSocket, RxRing};
use super::topo::{self, Topo};
use crate::Fail;
use sim_core::host::Machine;
use sim_core::node::{Emit, Node, Outbox};
use sim_core::time::Instant;
use sim_core::wire::MacAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const DIR_IN: &str = "02:00:00:00:0b:01";
const DIR_OUT: &str = "02:00:00:00:0b:02";
const GEN: &str = "02:00:00:00:0a:01";
const SINK: &str = "02:00:00:00:0c:01";

/// A UDP datagram 10.1.0.2:`sport` -> 10.1.0.1:9 in an Ethernet frame (64 bytes on the wire).
fn frame(sport: u16) -> Vec<u8> {
    let payload = [0u8; 18];
    let b = etherparse::PacketBuilder::ethernet2(
        GEN.parse::<MacAddr>().expect("mac").0,
        DIR_IN.parse::<MacAddr>().expect("mac").0,
    )
    .ipv4([10, 1, 0, 2], [10, 1, 0, 1], 64)
    .udp(sport, 9);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, &payload).expect("writing to a Vec");
    v
}

fn director() -> Result<Machine, Fail> {
    let text = format!(
        r#"
[[segment]]
name = "in"
[[segment]]
name = "out"
[[host]]
name = "dir"
setup = """
ip addr add 10.1.0.1/24 dev eth0
ip addr add 10.2.0.1/24 dev eth1
sysctl -w net.ipv4.ip_forward=1
ip neigh replace 10.2.0.2 lladdr {SINK} dev eth1 nud permanent
ip neigh replace 10.1.0.2 lladdr {GEN} dev eth0 nud permanent
ipvsadm -A -u 10.1.0.1:9 -s rr
ipvsadm -a -u 10.1.0.1:9 -r 10.2.0.2:9 -m
"""
[[host.nic]]
name = "eth0"
segment = "in"
mac = "{DIR_IN}"
[[host.nic]]
name = "eth1"
segment = "out"
mac = "{DIR_OUT}"
"#
    );
    let sc = sim_core::scenario::load_str("bench-netns", "bench-netns.toml", &text)
        .map_err(|e| Fail::input(e.to_string()))?;
    Machine::boot(&sc.machines[0], 1, Instant::ZERO, &mut Outbox::new(false)).map_err(Fail::input)
}

fn fail(e: impl std::fmt::Display) -> Fail {
    Fail { code: 1, message: e.to_string() }
}

/// How the director reads its frames.
enum Input {
    Plain(PacketSocket),
    Ring(RxRing),
}

/// Runs the benchmark for `seconds` with `flows` distinct client ports; `plain`:
/// read with one `recvmsg` per frame instead of the TPACKET_V3 ring.
pub fn bench(seconds: f64, flows: u16, plain: bool) -> Result<u8, Fail> {
    topo::preflight().map_err(Fail::input)?;
    sys::catch_interrupts();
    let mut topo = Topo::new();
    let (g, d, s) = (topo.host_ns("bench-gen"), topo.host_ns("bench-dir"), topo.host_ns("bench-sink"));
    for ns in [&g, &d, &s] {
        topo.add_ns(ns).map_err(fail)?;
    }
    topo.add_pair(&g, "eth0", GEN, &d, "eth0", DIR_IN).map_err(fail)?;
    topo.add_pair(&d, "eth1", DIR_OUT, &s, "eth0", SINK).map_err(fail)?;
    let mut dir = director()?;
    let mut input = if plain {
        Input::Plain(PacketSocket::open(&d, "eth0", true).map_err(fail)?)
    } else {
        Input::Ring(RxRing::open(&d, "eth0", 1).map_err(fail)?)
    };
    let tx = PacketSocket::open(&d, "eth1", true).map_err(fail)?;
    let gen_sock = PacketSocket::open(&g, "eth0", true).map_err(fail)?;
    let sink_sock = PacketSocket::open(&s, "eth0", true).map_err(fail)?;
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, sunk) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let frames: Vec<Vec<u8>> = (0..flows.max(1)).map(|i| frame(20000 + i)).collect();
    let gen_frames = frames.clone();
    let generator = {
        let (stop, sent) = (stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                if gen_sock.send(&gen_frames[i % gen_frames.len()]).is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        })
    };
    let sink = {
        let (stop, sunk) = (stop.clone(), sunk.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if sys::poll_readable(&[sink_sock.raw()], 50).is_ok_and(|r| r[0]) {
                    while let Ok(Some(_)) = sink_sock.recv(&mut buf) {
                        sunk.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };
    let mut out = Outbox::new(false);
    let mut emits: Vec<Emit> = vec![];
    // The machine alone, without sockets: what the director's code costs per frame.
    let alone = {
        let mut m = director()?;
        let n = 200_000u64;
        let t = sys::monotonic_ns();
        for i in 0..n {
            m.on_frame(Instant::from_nanos(i), 0, &frames[i as usize % frames.len()], &mut out);
            out.take_into(&mut emits);
            emits.clear();
        }
        (sys::monotonic_ns() - t) as f64 / n as f64
    };
    let mut buf = vec![0u8; 2048];
    let (mut received, mut forwarded) = (0u64, 0u64);
    let t0 = sys::monotonic_ns();
    let warmup = t0 + 200_000_000;
    let end = t0 + (seconds * 1e9) as u64;
    let (mut w_rx, mut w_fwd, mut w_t) = (0, 0, t0);
    loop {
        let now = sys::monotonic_ns();
        if now >= end || sys::interrupted() {
            break;
        }
        if w_t == t0 && now >= warmup {
            (w_rx, w_fwd, w_t) = (received, forwarded, now);
        }
        let fd = match &input {
            Input::Plain(p) => p.raw(),
            Input::Ring(r) => r.raw(),
        };
        if !sys::poll_readable(&[fd], 10).map_err(fail)?[0] {
            continue;
        }
        let inst = Instant::from_nanos(now - t0);
        let mut forward = |frame: &[u8]| -> Result<(), Fail> {
            received += 1;
            dir.on_frame(inst, 0, frame, &mut out);
            out.take_into(&mut emits);
            for e in emits.drain(..) {
                if let Emit::Frame { port: 1, frame, .. } = e {
                    tx.send(&frame).map_err(fail)?;
                    forwarded += 1;
                }
            }
            Ok(())
        };
        match &mut input {
            Input::Plain(rx) => {
                for _ in 0..256 {
                    let Some(r) = rx.recv(&mut buf).map_err(fail)? else { break };
                    forward(&buf[..r.len])?;
                }
            }
            Input::Ring(ring) => {
                let mut res = Ok(());
                ring.drain(|f| {
                    if res.is_ok() {
                        res = forward(f);
                    }
                });
                res?;
            }
        }
    }
    let elapsed = (sys::monotonic_ns() - w_t) as f64 / 1e9;
    stop.store(true, Ordering::Relaxed);
    let _ = generator.join();
    let _ = sink.join();
    drop(topo);
    let rate = (forwarded - w_fwd) as f64 / elapsed;
    let how = if plain { "plain AF_PACKET sockets" } else { "an AF_PACKET TPACKET_V3 receive ring, send() out" };
    outln!("bench netns: IPVS-NAT (rr, UDP, {flows} flows) in lvs-lab's director over {how}");
    outln!("generator sent   {} frames", sent.load(Ordering::Relaxed));
    outln!("director read    {received} frames, forwarded {forwarded}");
    outln!("sink received    {} frames", sunk.load(Ordering::Relaxed));
    outln!(
        "measured         {:.2} s after a 0.2 s warm-up, {:.0} frames read/s",
        elapsed,
        (received - w_rx) as f64 / elapsed
    );
    outln!("forwarding rate  {:.0} packets/s ({:.2} Mpps)", rate, rate / 1e6);
    outln!("the machine alone {alone:.0} ns/frame ({:.2} Mpps) without sockets", 1e3 / alone);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_frame_is_a_valid_udp_datagram() {
        let f = frame(20000);
        assert_eq!(f.len(), 60);
        let p = etherparse::SlicedPacket::from_ethernet(&f).expect("parses");
        assert!(matches!(p.transport, Some(etherparse::TransportSlice::Udp(_))));
    }

    #[test]
    fn the_bench_director_boots() {
        let m = director().unwrap_or_else(|f| panic!("{}", f.message));
        assert_eq!(m.ports().len(), 2);
    }
}
