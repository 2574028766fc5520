//! Where the decoder is lenient, where it is strict, and what each error answers.

mod common;

use std::borrow::Cow;

use common::*;
use tern_smpp::*;

/// A frame with a correct command_length around `body`.
fn frame(command_id: CommandId, status: u32, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
    out.extend_from_slice(&command_id.0.to_be_bytes());
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The body octets of a PDU we encode.
fn body_of(pdu: &Pdu<'_>) -> Vec<u8> {
    encode(pdu)[16..].to_vec()
}

fn typical_submit() -> SubmitSm<'static> {
    SubmitSm {
        source_addr: c("447700900001"),
        destination_addr: c("447700900002"),
        short_message: c("hello"),
        registered_delivery: 1,
        ..SubmitSm::default()
    }
}

#[test]
fn unknown_command_gets_generic_nack_with_the_peers_sequence() {
    let wire = frame(CommandId(0x0000_0099), 0, 77, b"whatever");
    let err = Pdu::decode(&wire).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::UnknownCommand);
    assert_eq!(err.status, CommandStatus::ESME_RINVCMDID);
    assert_eq!(err.reply(), Reply::GenericNack);
    let mut reply = Vec::new();
    err.encode_reply(&mut reply);
    let header = peek_header(&reply).expect("header");
    assert_eq!(header.command_id, CommandId::GENERIC_NACK);
    assert_eq!(header.command_status, CommandStatus::ESME_RINVCMDID);
    assert_eq!(header.sequence_number, 77);
    assert_eq!(header.command_length, 16);
}

#[test]
fn truncated_submit_sm_gets_submit_sm_resp_with_invmsglen() {
    let body = body_of(&Pdu::new(5, Body::SubmitSm(typical_submit())));
    // Cut inside the fixed octets after destination_addr.
    let cut = body.iter().rposition(|&b| b == 0).expect("has strings") - 4;
    let wire = frame(CommandId::SUBMIT_SM, 0, 5, &body[..cut]);
    let err = Pdu::decode(&wire).unwrap_err();
    assert_eq!(err.status, CommandStatus::ESME_RINVMSGLEN);
    assert_eq!(err.reply(), Reply::Response(CommandId::SUBMIT_SM_RESP));
    assert_eq!(err.sequence_number, 5);
}

#[test]
fn short_message_longer_than_the_body_is_invmsglen() {
    let mut body = body_of(&Pdu::new(5, Body::SubmitSm(typical_submit())));
    let sm_length_at = body.len() - 6;
    body[sm_length_at] = 200;
    let err = Pdu::decode(&frame(CommandId::SUBMIT_SM, 0, 5, &body)).unwrap_err();
    assert_eq!(err.status, CommandStatus::ESME_RINVMSGLEN);
    assert_eq!(
        err.kind,
        DecodeErrorKind::Truncated {
            field: "short_message"
        }
    );
}

#[test]
fn overlong_source_addr_gets_invsrcadr() {
    let long = "1".repeat(limits::ADDRESS_MAX_LEN + 1);
    let mut body = vec![0, 1, 1];
    body.extend_from_slice(long.as_bytes());
    body.push(0);
    body.extend_from_slice(&[1, 1, b'2', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let err = Pdu::decode(&frame(CommandId::SUBMIT_SM, 0, 6, &body)).unwrap_err();
    assert_eq!(err.status, CommandStatus::ESME_RINVSRCADR);
    assert_eq!(err.reply(), Reply::Response(CommandId::SUBMIT_SM_RESP));
}

#[test]
fn overlong_system_id_gets_invsysid_and_long_passwords_within_limit_are_accepted() {
    let bind = |system_id: &str, password: &str| {
        let mut body = Vec::new();
        for s in [system_id, password, ""] {
            body.extend_from_slice(s.as_bytes());
            body.push(0);
        }
        body.extend_from_slice(&[0x34, 0, 0, 0]);
        frame(CommandId::BIND_TRANSMITTER, 0, 1, &body)
    };
    let generous = "p".repeat(limits::PASSWORD_MAX_LEN);
    let wire = bind("a-system-id-of-30-characters!!", &generous);
    let ok = Pdu::decode(&wire).expect("lenient");
    let Body::BindTransmitter(b) = ok.body else {
        panic!("bind expected")
    };
    assert_eq!(&*b.password, generous.as_bytes());
    let err = Pdu::decode(&bind(&"s".repeat(limits::SYSTEM_ID_MAX_LEN + 1), "pw")).unwrap_err();
    assert_eq!(err.status, CommandStatus::ESME_RINVSYSID);
    assert_eq!(
        err.reply(),
        Reply::Response(CommandId::BIND_TRANSMITTER_RESP)
    );
}

#[test]
fn non_ascii_octets_in_addresses_are_carried() {
    let submit = SubmitSm {
        source_addr: Cow::Borrowed(b"\xc3\xa9\xff\x80"),
        ..typical_submit()
    };
    let pdu = Pdu::new(3, Body::SubmitSm(submit));
    assert_eq!(Pdu::decode(&encode(&pdu)).expect("decodes"), pdu);
}

#[test]
fn missing_nul_on_the_last_c_string_of_a_body_is_accepted() {
    let resp = frame(CommandId::SUBMIT_SM_RESP, 0, 8, b"abc123");
    let pdu = Pdu::decode(&resp).expect("lenient");
    let Body::SubmitSmResp(body) = &pdu.body else {
        panic!("submit_sm_resp expected")
    };
    assert_eq!(&*body.message_id, b"abc123");
    // Re-encoding writes the NUL.
    assert_eq!(encode(&pdu)[16..], *b"abc123\0");

    let mut bind = b"sys\0pw\0\0\x34\x01\x01".to_vec();
    bind.extend_from_slice(b"^4477");
    let wire = frame(CommandId::BIND_RECEIVER, 0, 1, &bind);
    let pdu = Pdu::decode(&wire).expect("lenient");
    let Body::BindReceiver(b) = pdu.body else {
        panic!("bind expected")
    };
    assert_eq!(&*b.address_range, b"^4477");
}

#[test]
fn missing_nul_in_the_middle_of_a_body_is_still_an_error() {
    let err = Pdu::decode(&frame(CommandId::QUERY_SM, 0, 2, b"id-without-nul")).unwrap_err();
    assert_eq!(err.status, CommandStatus::ESME_RINVMSGLEN);
}

#[test]
fn error_responses_without_a_body_decode_with_empty_fields() {
    for id in [
        CommandId::SUBMIT_SM_RESP,
        CommandId::BIND_TRANSCEIVER_RESP,
        CommandId::SUBMIT_MULTI_RESP,
        CommandId::QUERY_SM_RESP,
        CommandId::DATA_SM_RESP,
    ] {
        let wire = frame(id, 0x58, 4, b"");
        let pdu = Pdu::decode(&wire).expect("bodiless error response");
        assert_eq!(pdu.command_status, CommandStatus::ESME_RTHROTTLED);
        assert_eq!(pdu.command_id(), id);
    }
}

#[test]
fn trailing_garbage_after_a_response_is_dropped() {
    let resp = frame(
        CommandId::SUBMIT_SM_RESP,
        0,
        8,
        b"id1\0\x04\x27\x00\x01\x02\xde\xad",
    );
    let pdu = Pdu::decode(&resp).expect("lenient");
    let tlvs = pdu.body.tlvs().expect("has TLVs");
    // The well-formed TLV before the garbage is kept, the garbage is not.
    assert_eq!(tlvs.message_state(), Some(2));
    assert_eq!(tlvs.as_bytes(), b"\x04\x27\x00\x01\x02");
}

#[test]
fn malformed_tlv_area_of_a_request_gets_invoptparstream() {
    let mut body = body_of(&Pdu::new(5, Body::SubmitSm(typical_submit())));
    body.extend_from_slice(b"\x02\x04\x00\x02\x01");
    let err = Pdu::decode(&frame(CommandId::SUBMIT_SM, 0, 5, &body)).unwrap_err();
    assert_eq!(err.status, CommandStatus::ESME_RINVOPTPARSTREAM);
    assert_eq!(err.reply(), Reply::Response(CommandId::SUBMIT_SM_RESP));
}

#[test]
fn tlv_with_a_wrong_length_is_kept_raw_not_refused() {
    let mut body = body_of(&Pdu::new(5, Body::DeliverSm(typical_submit())));
    body.extend_from_slice(b"\x04\x27\x00\x02\x00\x02\x00\x1e\x00\x03ab\0");
    let wire = frame(CommandId::DELIVER_SM, 0, 5, &body);
    let pdu = Pdu::decode(&wire).expect("kept raw");
    let tlvs = pdu.body.tlvs().expect("has TLVs");
    assert_eq!(tlvs.message_state(), None);
    assert_eq!(tlvs.receipted_message_id(), Some(&b"ab"[..]));
    assert_eq!(tlvs.first_malformed(), Some(Tag::MESSAGE_STATE));
    assert_eq!(encode(&pdu), wire, "relayed byte for byte");
}

#[test]
fn vendor_tlvs_and_vendor_statuses_are_carried_through() {
    let vendor = tlvs(&[
        Tlv::Other {
            tag: Tag(0x1401),
            value: b"\x01\x02",
        },
        Tlv::ReceiptedMessageId(b"X1"),
        Tlv::Other {
            tag: Tag(0x3FFF),
            value: b"end",
        },
    ]);
    let pdu = Pdu::response(
        CommandStatus(0x0000_0401),
        11,
        Body::DataSmResp(SmResp {
            message_id: c("X1"),
            tlvs: vendor.clone(),
        }),
    );
    let wire = encode(&pdu);
    let back = Pdu::decode(&wire).expect("decodes");
    assert!(back.command_status.is_vendor());
    assert_eq!(back.body.tlvs(), Some(&vendor));
    assert_eq!(encode(&back), wire);
}

#[test]
fn smpp33_bind_and_bind_resp_without_tlvs_are_understood() {
    let bind = frame(
        CommandId::BIND_TRANSMITTER,
        0,
        1,
        b"old\0pw\0\0\x33\x00\x00\0",
    );
    let pdu = Pdu::decode(&bind).expect("3.3 bind");
    let Body::BindTransmitter(b) = pdu.body else {
        panic!("bind expected")
    };
    assert!(b.is_smpp33());
    assert!(!supports_tlvs(b.interface_version));
    let resp = frame(CommandId::BIND_TRANSMITTER_RESP, 0, 1, b"SMSC\0");
    let Body::BindTransmitterResp(r) = Pdu::decode(&resp).expect("3.3 resp").body else {
        panic!("bind_resp expected")
    };
    assert_eq!(r.sc_interface_version(), None);

    let to_33 = BindResp::answering(c("SMSC"), INTERFACE_VERSION_33, INTERFACE_VERSION_34);
    assert!(to_33.tlvs.is_empty());
    let to_34 = BindResp::answering(c("SMSC"), INTERFACE_VERSION_34, INTERFACE_VERSION_34);
    assert_eq!(to_34.sc_interface_version(), Some(INTERFACE_VERSION_34));
}

#[test]
fn smpp50_broadcast_pdus_decode_typed_with_their_tlvs() {
    let sample = samples()
        .into_iter()
        .find(|p| p.command_id() == CommandId::BROADCAST_SM)
        .expect("sample");
    let wire = encode(&sample);
    let Body::BroadcastSm(b) = Pdu::decode(&wire).expect("decodes").body else {
        panic!("broadcast_sm expected")
    };
    assert_eq!(
        b.tlvs.broadcast_frequency_interval().map(|f| f.number),
        Some(5)
    );
    assert_eq!(b.tlvs.broadcast_area_identifier(), Some(&b"\x00area51"[..]));
}

#[test]
fn bad_dest_flag_in_submit_multi_gets_invdestflag() {
    let body = b"\0\x01\x01src\0\x01\x07";
    let err = Pdu::decode(&frame(CommandId::SUBMIT_MULTI, 0, 3, body)).unwrap_err();
    assert_eq!(err.status, CommandStatus::ESME_RINVDESTFLAG);
    assert_eq!(err.reply(), Reply::Response(CommandId::SUBMIT_MULTI_RESP));
}

#[test]
fn command_length_disagreeing_with_the_frame_gets_generic_nack_invcmdlen() {
    let mut wire = frame(CommandId::ENQUIRE_LINK, 0, 12, b"");
    wire.push(0);
    let err = Pdu::decode(&wire).unwrap_err();
    assert_eq!(err.status, CommandStatus::ESME_RINVCMDLEN);
    assert_eq!(err.reply(), Reply::GenericNack);
    let short = Pdu::decode(&wire[..10]).unwrap_err();
    assert_eq!(short.kind, DecodeErrorKind::ShortFrame { len: 10 });
}

#[test]
fn encode_refuses_what_decode_would_refuse_and_leaves_the_buffer_untouched() {
    let mut out = vec![1, 2, 3];
    let nul_inside = Pdu::new(
        1,
        Body::SubmitSm(SubmitSm {
            source_addr: Cow::Borrowed(b"12\x0034"),
            ..typical_submit()
        }),
    );
    assert!(matches!(
        nul_inside.encode(&mut out),
        Err(EncodeError::InvalidCString {
            field: "source_addr",
            ..
        })
    ));
    let too_long = Pdu::new(
        1,
        Body::SubmitSm(SubmitSm {
            short_message: Cow::Owned(vec![b'x'; 256]),
            ..typical_submit()
        }),
    );
    assert!(matches!(
        too_long.encode(&mut out),
        Err(EncodeError::OctetsTooLong { len: 256, .. })
    ));
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn header_only_encoding_matches_the_full_encoder() {
    let mut a = Vec::new();
    encode_header_only(CommandId::UNBIND, CommandStatus::ESME_ROK, 99, &mut a);
    assert_eq!(a, encode(&Pdu::new(99, Body::Unbind)));
}

#[test]
fn owned_pdu_outlives_its_read_buffer() {
    let owned = {
        let wire = encode(&Pdu::new(4, Body::SubmitSm(typical_submit())));
        Pdu::decode(&wire).expect("decodes").into_owned()
    };
    assert_eq!(owned, Pdu::new(4, Body::SubmitSm(typical_submit())));
}
