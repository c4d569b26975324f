//! `slack_command`: see `handoff_bridge::fuzz_targets::slack_command`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    handoff_bridge::fuzz_targets::slack_command(data);
});
