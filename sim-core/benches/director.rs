//! The director's forwarding path (criterion): ns per packet of an established
//! flow in DR, NAT and TUN; a new connection under wlc with 100 real servers;
//! bytes per connection entry; building and ageing out 1 M connections.
//! `lvs-lab bench director` runs the same measurements without criterion
//! (`sim_core::director::ipvs::bench::bench_figures`).

use criterion::{Criterion, criterion_group, criterion_main};
use sim_core::director::ipvs::Fwd;
use sim_core::director::ipvs::bench::{NewConns, Packets, build_and_age, established};
use sim_core::time::Instant;
use std::hint::black_box;

fn established_flows(c: &mut Criterion) {
    let mut g = c.benchmark_group("established");
    for (name, fwd) in [("dr", Fwd::Route), ("nat", Fwd::Masq), ("tun", Fwd::Tunnel)] {
        let (mut v, ack) = established(fwd);
        let mut s = Packets::default();
        g.bench_function(name, |b| b.iter(|| s.send(&mut v, Instant::from_millis(1), &ack, None)));
    }
    g.finish();
}

fn new_connections(c: &mut Criterion) {
    let mut nc = NewConns::default();
    c.bench_function("new_connection/wlc_100_dests", |b| {
        b.iter_custom(|iters| std::time::Duration::from_nanos((nc.measure(iters as usize) * iters as f64) as u64))
    });
}

fn million_connections(c: &mut Criterion) {
    static REPORT: std::sync::Once = std::sync::Once::new();
    let mut g = c.benchmark_group("table");
    g.sample_size(10);
    g.bench_function("build_and_age_1m", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let start = std::time::Instant::now();
                let (build, bytes, age) = build_and_age(1_000_000);
                total += start.elapsed();
                REPORT.call_once(|| {
                    println!(
                        "connection entry {} bytes; 1 M connections: {build:.0} ns each to build, \
                         {bytes:.1} table bytes each, {age:.0} ns each to age out",
                        sim_core::director::ipvs::bench::CONN_ENTRY_BYTES
                    )
                });
                black_box((build, bytes, age));
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, established_flows, new_connections, million_connections);
criterion_main!(benches);
