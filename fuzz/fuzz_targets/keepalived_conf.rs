//! keepalived.conf text: keepalived's diagnostics or a model, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sim_core::director::keepalived::{MemFiles, ParseOptions, parse};

fuzz_target!(|data: &[u8]| {
    let mut files = MemFiles::new();
    files.add("/etc/keepalived/keepalived.conf", data.to_vec());
    let _ = parse(&files, "/etc/keepalived/keepalived.conf", &ParseOptions::default());
});
