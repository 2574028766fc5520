//! The invariants every input must keep, shared by the cargo-fuzz target
//! (`fuzz/fuzz_targets/smpp_decode.rs`) and the proptests.

use crate::frame::Framer;
use crate::header::HEADER_LEN;
use crate::pdu::Pdu;
use crate::tlv::{Tlv, Tlvs};

/// Largest PDU the harness frames, small so that random lengths often fit.
const FUZZ_MAX_PDU_LEN: u32 = 4096;

/// Feeds arbitrary octets through the framer and the decoder, and every PDU that decodes
/// through encode → decode → encode. Panics only if the codec breaks one of its own
/// invariants: that is what the fuzzer looks for.
pub fn fuzz_decode(data: &[u8]) {
    let framer = Framer::new(FUZZ_MAX_PDU_LEN);
    for frame in framer.frames(data) {
        match frame {
            Ok(frame) => check_frame(frame),
            Err(e) => {
                let mut reply = Vec::new();
                e.encode_reply(&mut reply);
                assert_eq!(reply.len(), HEADER_LEN);
            }
        }
    }
    // The whole input as one frame with a matching command_length reaches every body
    // decoder, not only those whose random length happened to fit.
    if let Some((_, rest)) = data.split_first_chunk::<4>()
        && let Ok(len) = u32::try_from(data.len())
    {
        let mut patched = Vec::with_capacity(data.len());
        patched.extend_from_slice(&len.to_be_bytes());
        patched.extend_from_slice(rest);
        check_frame(&patched);
    }
}

fn check_frame(frame: &[u8]) {
    match Pdu::decode(frame) {
        Ok(pdu) => check_round_trip(&pdu),
        Err(e) => {
            let mut reply = Vec::new();
            e.encode_reply(&mut reply);
            assert_eq!(reply.len(), HEADER_LEN);
        }
    }
}

/// Asserts that `pdu` encodes, decodes back equal, re-encodes to identical octets, and that
/// its owned copy and its TLVs behave. Panics on any violation.
pub fn check_round_trip(pdu: &Pdu<'_>) {
    let mut first = Vec::new();
    let len = pdu.encode(&mut first).expect("a valid PDU encodes");
    assert_eq!(len, first.len());
    let again = Pdu::decode(&first).expect("an encoded PDU decodes");
    assert_eq!(&again, pdu, "decode(encode(pdu)) differs");
    let mut second = Vec::new();
    again.encode(&mut second).expect("a decoded PDU re-encodes");
    assert_eq!(first, second, "re-encoding changed the octets");
    assert_eq!(&pdu.clone().into_owned(), pdu);
    if let Some(tlvs) = pdu.body.tlvs() {
        check_tlvs(tlvs);
    }
}

/// Each typed TLV re-encodes to a TLV that types back to itself.
fn check_tlvs(tlvs: &Tlvs<'_>) {
    let _ = tlvs.first_malformed();
    let mut scratch = Vec::new();
    for tlv in tlvs {
        scratch.clear();
        tlv.encode(&mut scratch).expect("a decoded TLV re-encodes");
        let rebuilt = Tlvs::from_wire(&scratch).expect("an encoded TLV is well formed");
        let back: Vec<Tlv<'_>> = rebuilt.iter().collect();
        assert_eq!(back, [tlv]);
    }
}
