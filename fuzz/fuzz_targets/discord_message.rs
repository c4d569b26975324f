//! `discord_message`: see `handoff_bridge::fuzz_targets::discord_message`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    handoff_bridge::fuzz_targets::discord_message(data);
});
