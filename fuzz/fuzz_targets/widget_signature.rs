//! `widget_signature`: see `handoff_bridge::fuzz_targets::widget_signature`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    handoff_bridge::fuzz_targets::widget_signature(data);
});
