//! ipvsadm command lines: any words, against a table that keeps their effects.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sim_core::director::{ipvs::Ipvs, ipvsadm};
use sim_core::time::Instant;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut ipvs = Ipvs::new(sim_core::rng::stream(1, "fuzz"));
    for (i, line) in text.lines().take(64).enumerate() {
        let mut argv = vec!["ipvsadm".to_string()];
        argv.extend(line.split_whitespace().map(str::to_string));
        let _ = ipvsadm::ipvsadm(&mut ipvs, Instant::from_millis(i as u64), &argv, None);
    }
});
