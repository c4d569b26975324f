//! `api_body`: see `handoff_bridge::fuzz_targets::api_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    handoff_bridge::fuzz_targets::api_body(data);
});
