//! Entry points shared by the fuzz targets (`fuzz/fuzz_targets/`) and the proptests.
//!
//! Each takes arbitrary bytes, must never panic on them, and asserts the invariants that
//! hold for any input: a panic here is a bug in this crate, which is what fuzzing looks for.

use crate::data_coding::Alphabet;
use crate::message_id::{self, HexCase};
use crate::reassembly::{InsertOutcome, InsertStatus, Partial, Reassembler, ReassemblyConfig};
use crate::receipt::{self, MAX_ID_LEN, MessageState};
use crate::segment::SeptetForm;
use crate::user_data::ParsedUserData;

/// Receipt parsing: parse, and when it parses, build and parse again to the same value;
/// merge with TLV values cut from the same bytes.
pub fn receipt(data: &[u8]) {
    if let Ok(parsed) = receipt::parse_receipt(data) {
        let built = parsed.to_bytes();
        let again = receipt::parse_receipt(&built);
        assert_eq!(
            again,
            Ok(parsed),
            "built receipt {built:?} reads back differently"
        );
        if let Ok(decimal) = message_id::hex_to_decimal(parsed.id) {
            let hex = message_id::decimal_to_hex(&decimal, HexCase::Lower);
            assert!(hex.is_ok(), "decimal id {decimal} does not convert back");
        }
    }
    let (state, rest) = match data.split_first() {
        Some((&state, rest)) => (Some(state), rest),
        None => (None, data),
    };
    let (tlv_id, text) = rest.split_at(rest.len() / 3);
    if let Ok(merged) = receipt::merge_receipt(Some(tlv_id), state, text) {
        assert!(!merged.id.is_empty() && merged.id.len() <= MAX_ID_LEN);
        if let Some(tlv_state) = state.and_then(MessageState::from_u8) {
            assert_eq!(merged.state, Some(tlv_state), "the TLV state must win");
        }
    }
}

const FUZZ_CONFIG: ReassemblyConfig = ReassemblyConfig {
    max_groups: 4,
    max_bytes: 2048,
    max_part_bytes: 300,
    timeout_ms: 50,
};

/// Reassembly: the bytes are a script of inserts (raw values, SAR values, or user data with
/// a concatenation header that is parsed and decoded first) and clock steps; the memory
/// bounds must hold after every step and everything handed back must be well formed.
pub fn reassembly(data: &[u8]) {
    let mut reassembler: Reassembler<u8> = Reassembler::new(FUZZ_CONFIG);
    let mut now_ms = 0u64;
    let mut script = Script { rest: data };
    while let Some(op) = script.byte() {
        match op % 4 {
            0 => raw_insert(&mut reassembler, &mut script, now_ms),
            1 => user_data_insert(&mut reassembler, &mut script, now_ms),
            2 => {
                now_ms += u64::from(script.byte().unwrap_or(0));
                while let Some(partial) = reassembler.poll_expired(now_ms) {
                    check_partial(&partial);
                }
            }
            _ => sar_insert(&mut reassembler, &mut script, now_ms),
        }
        assert!(reassembler.accounted_bytes() <= FUZZ_CONFIG.max_bytes);
        assert!(reassembler.group_count() <= FUZZ_CONFIG.max_groups);
    }
}

struct Script<'a> {
    rest: &'a [u8],
}

impl<'a> Script<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    fn bytes(&mut self, len: usize) -> &'a [u8] {
        let (head, rest) = self.rest.split_at(len.min(self.rest.len()));
        self.rest = rest;
        head
    }
}

fn raw_insert(r: &mut Reassembler<u8>, script: &mut Script<'_>, now_ms: u64) {
    let [origin, reference, total, seq, len] = [(); 5].map(|()| script.byte().unwrap_or(0));
    let data = script.bytes(usize::from(len) * 2);
    let outcome = r.insert(
        origin % 3,
        u16::from(reference % 4),
        total % 6,
        seq % 7,
        data,
        now_ms,
    );
    check_outcome(&outcome, total % 6);
}

fn sar_insert(r: &mut Reassembler<u8>, script: &mut Script<'_>, now_ms: u64) {
    let [origin, hi, lo, total, seq, len] = [(); 6].map(|()| script.byte().unwrap_or(0));
    let data = script.bytes(usize::from(len));
    let reference = u16::from_be_bytes([hi % 2, lo]);
    let outcome = r.insert(origin % 3, reference, total, seq, data, now_ms);
    check_outcome(&outcome, total);
}

/// The MO path: parse the header, decode the part to text, reassemble the text.
fn user_data_insert(r: &mut Reassembler<u8>, script: &mut Script<'_>, now_ms: u64) {
    let flags = script.byte().unwrap_or(0);
    let len = script.byte().unwrap_or(0);
    let user_data = script.bytes(usize::from(len));
    let Ok(parsed) = ParsedUserData::parse(user_data, flags & 1 != 0) else {
        return;
    };
    let alphabet = [
        Alphabet::Gsm7,
        Alphabet::Ucs2,
        Alphabet::Latin1,
        Alphabet::Binary,
    ][usize::from(flags >> 1) % 4];
    let form = if flags & 0x10 != 0 {
        SeptetForm::Packed
    } else {
        SeptetForm::Unpacked
    };
    let text = parsed.text(alphabet, form, None);
    let Some(concat) = parsed.udh.and_then(|u| u.concat()) else {
        return;
    };
    let outcome = r.insert(
        flags % 2,
        concat.reference,
        concat.total,
        concat.seq,
        text.as_bytes(),
        now_ms,
    );
    if let InsertStatus::Complete(message) = &outcome.status {
        let joined = String::from_utf8(message.concat());
        assert!(
            joined.is_ok(),
            "parts of UTF-8 text joined into invalid UTF-8"
        );
    }
    check_outcome(&outcome, concat.total);
}

fn check_outcome(outcome: &InsertOutcome<u8>, total: u8) {
    if let InsertStatus::Complete(message) = &outcome.status {
        assert_eq!(message.parts.len(), usize::from(total));
    }
    for partial in &outcome.released {
        check_partial(partial);
    }
}

fn check_partial(partial: &Partial<u8>) {
    assert!(partial.parts.len() < usize::from(partial.total));
    assert!(partial.parts.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(
        partial
            .parts
            .iter()
            .all(|(seq, _)| (1..=partial.total).contains(seq))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_entry_points_accept_empty_and_odd_inputs() {
        for input in [
            &b""[..],
            b"\x00",
            b"id:1 stat:DELIVRD text:",
            b"\x01\x05\x05\x00\x03\x01\x02\x01",
            &[0xFF; 64],
        ] {
            receipt(input);
            reassembly(input);
        }
    }
}
