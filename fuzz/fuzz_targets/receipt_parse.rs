//! Fuzzes delivery receipt parsing, building and TLV merging (`tern_sms::fuzz::receipt`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tern_sms::fuzz::receipt(data);
});
