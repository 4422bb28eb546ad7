//! The ns-3 comparison workload (`lvs-lab bench lan-echo`): one client and N UDP
//! echo servers on a 10 Gb/s switched LAN, 100 000 echoes, ARP included, no trace
//! and no capture. Reports time per run; divide the deliveries (2 per echo) by it.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sim_core::scenario::bench::{lan_echo, run_lan_echo};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("lan_echo");
    g.sample_size(10);
    for servers in [10, 100] {
        let sc = lan_echo(servers, 100_000);
        let probe = run_lan_echo(&sc);
        assert_eq!(probe.echoes_received, 100_000);
        g.throughput(Throughput::Elements(probe.deliveries));
        g.bench_function(format!("servers_{servers}"), |b| b.iter(|| run_lan_echo(&sc)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
