//! `slack_interaction`: see `handoff_bridge::fuzz_targets::slack_interaction`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    handoff_bridge::fuzz_targets::slack_interaction(data);
});
