//! `discord_interaction`: see `handoff_bridge::fuzz_targets::discord_interaction`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    handoff_bridge::fuzz_targets::discord_interaction(data);
});
