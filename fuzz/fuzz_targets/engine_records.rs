//! Fuzzes the engine's WAL record decoders (Accepted and every progress kind): no panic on
//! any payload, and whatever decodes re-encodes to a payload that decodes to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_engine::message::{Record, kind};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    // Steer the kind into the message range most of the time, anywhere otherwise.
    let record_kind = if selector & 0x80 == 0 {
        kind::ACCEPTED + (selector % (kind::DONE - kind::ACCEPTED + 1))
    } else {
        selector
    };
    let Ok(record) = Record::decode(record_kind, payload) else {
        return;
    };
    let mut again = Vec::new();
    match &record {
        Record::Accepted(accepted) => {
            accepted.encode(&mut again).expect("a decoded record is within bounds");
        }
        Record::Progress(progress) => progress.encode(&mut again),
    }
    let decoded = Record::decode(record_kind, &again).expect("re-encoded record decodes");
    assert_eq!(decoded, record);
});
