//! Scenario files: arbitrary text must give a located error or a scenario, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(sc) = sim_core::scenario::load_str("fuzz", "fuzz.toml", text) {
            let opts = sim_core::scenario::RunOptions {
                until: Some(std::time::Duration::from_millis(200)),
                max_events: Some(20_000),
                ..Default::default()
            };
            let _ = sim_core::scenario::run(&sc, &opts);
        }
    }
});
