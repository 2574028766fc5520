//! Fuzzes MO user data parsing, decoding and bounded reassembly
//! (`tern_sms::fuzz::reassembly`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tern_sms::fuzz::reassembly(data);
});
