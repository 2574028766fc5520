//! Feeds arbitrary octets to the SMPP framer and decoder; every PDU that decodes must
//! re-encode and decode back equal (see `tern_smpp::fuzz_decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tern_smpp::fuzz_decode(data);
});
