//! `slack_event`: see `handoff_bridge::fuzz_targets::slack_event`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    handoff_bridge::fuzz_targets::slack_event(data);
});
