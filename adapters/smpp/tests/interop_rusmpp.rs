//! Differential test against rusmpp-core 0.4, an SMPP codec we did not write: every PDU
//! we encode decodes there with the same header and fields (and rusmpp re-encodes it to
//! the very same octets), and PDUs rusmpp builds decode here to the values it was given.

mod common;

use common::*;
use rusmpp_core::command::borrowed::Command as RCommand;
use rusmpp_core::decode::borrowed::DecodeWithLength;
use rusmpp_core::encode::{Encode, Length};
use rusmpp_core::pdus::borrowed::Pdu as RPdu;
use rusmpp_core::tlvs::borrowed::TlvValue;
use tern_smpp::*;

/// Room for TLVs in rusmpp's fixed-capacity vectors.
const TLV_CAPACITY: usize = 16;

type Theirs<'a> = RCommand<'a, TLV_CAPACITY>;

fn rusmpp_decode(wire: &[u8]) -> Theirs<'_> {
    let (command, size) = Theirs::decode(&wire[4..], wire.len() - 4)
        .unwrap_or_else(|e| panic!("rusmpp refused {wire:02x?}: {e:?}"));
    assert_eq!(size, wire.len() - 4);
    command
}

fn rusmpp_encode(command: &Theirs<'_>) -> Vec<u8> {
    let len = 4 + command.length();
    let mut out = vec![0; len];
    out[..4].copy_from_slice(&(len as u32).to_be_bytes());
    let written = command.encode(&mut out[4..]);
    assert_eq!(written, len - 4);
    out
}

/// C-octet string octets without the NUL.
fn text(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(&[0]).unwrap_or(bytes)
}

fn sample(id: CommandId) -> PduOwned {
    samples()
        .into_iter()
        .find(|p| p.command_id() == id)
        .expect("sample exists")
}

#[test]
fn rusmpp_decodes_every_pdu_we_encode_and_re_encodes_the_same_octets() {
    for pdu in samples() {
        let wire = encode(&pdu);
        let theirs = rusmpp_decode(&wire);
        assert_eq!(u32::from(theirs.id()), pdu.command_id().0);
        assert_eq!(u32::from(theirs.status()), pdu.command_status.0);
        assert_eq!(theirs.sequence_number(), pdu.sequence_number);
        assert!(
            !matches!(theirs.pdu(), Some(RPdu::Other { .. })),
            "rusmpp did not recognise {}",
            pdu.command_id()
        );
        assert_eq!(rusmpp_encode(&theirs), wire, "{}", pdu.command_id());
    }
}

#[test]
fn rusmpp_reads_our_submit_sm_fields_and_tlvs() {
    let pdu = sample(CommandId::SUBMIT_SM);
    let Body::SubmitSm(ours) = &pdu.body else {
        unreachable!()
    };
    let wire = encode(&pdu);
    let theirs = rusmpp_decode(&wire);
    let Some(RPdu::SubmitSm(sm)) = theirs.pdu() else {
        panic!("rusmpp: not a submit_sm")
    };
    assert_eq!(text(sm.source_addr.bytes()), &*ours.source_addr);
    assert_eq!(text(sm.destination_addr.bytes()), &*ours.destination_addr);
    assert_eq!(u8::from(sm.source_addr_ton), ours.source_addr_ton);
    assert_eq!(u8::from(sm.esm_class), ours.esm_class);
    assert_eq!(u8::from(sm.registered_delivery), ours.registered_delivery);
    assert_eq!(u8::from(sm.data_coding), ours.data_coding);
    assert_eq!(text(sm.validity_period.bytes()), &*ours.validity_period);
    assert_eq!(sm.short_message().bytes(), &*ours.short_message);
    let their_tags: Vec<u16> = sm.tlvs().iter().map(|t| u16::from(t.tag())).collect();
    let our_tags: Vec<u16> = ours.tlvs.raw().map(|(t, _)| t.0).collect();
    assert_eq!(their_tags, our_tags);
    let sar = sm.tlvs().iter().find_map(|t| match t.value() {
        Some(TlvValue::SarMsgRefNum(n)) => Some(*n),
        _ => None,
    });
    assert_eq!(sar, ours.tlvs.sar_msg_ref_num());
}

#[test]
fn rusmpp_reads_our_receipt_tlvs() {
    let pdu = sample(CommandId::DELIVER_SM);
    let Body::DeliverSm(ours) = &pdu.body else {
        unreachable!()
    };
    let wire = encode(&pdu);
    let theirs = rusmpp_decode(&wire);
    let Some(RPdu::DeliverSm(sm)) = theirs.pdu() else {
        panic!("rusmpp: not a deliver_sm")
    };
    assert_eq!(sm.short_message().bytes(), &*ours.short_message);
    let mut seen = 0;
    for tlv in sm.tlvs() {
        match tlv.value() {
            Some(TlvValue::ReceiptedMessageId(id)) => {
                assert_eq!(Some(text(id.bytes())), ours.tlvs.receipted_message_id());
                seen += 1;
            }
            Some(TlvValue::MessageState(state)) => {
                assert_eq!(Some(u8::from(*state)), ours.tlvs.message_state());
                seen += 1;
            }
            Some(TlvValue::NetworkErrorCode(code)) => {
                let ours = ours.tlvs.network_error_code().expect("present");
                assert_eq!(code.error_code, ours.error_code);
                assert_eq!(u8::from(code.network_type), ours.network_type);
                seen += 1;
            }
            other => panic!("unexpected TLV {other:?}"),
        }
    }
    assert_eq!(seen, 3);
}

#[test]
fn rusmpp_reads_our_bind_query_and_submit_multi_fields() {
    let bind = sample(CommandId::BIND_TRANSCEIVER);
    let wire = encode(&bind);
    let (Some(RPdu::BindTransceiver(theirs)), Body::BindTransceiver(ours)) =
        (rusmpp_decode(&wire).pdu().cloned(), &bind.body)
    else {
        panic!("bind_transceiver expected")
    };
    assert_eq!(text(theirs.system_id.bytes()), &*ours.system_id);
    assert_eq!(text(theirs.password.bytes()), &*ours.password);
    assert_eq!(u8::from(theirs.interface_version), ours.interface_version);

    let query = sample(CommandId::QUERY_SM);
    let wire = encode(&query);
    let (Some(RPdu::QuerySm(theirs)), Body::QuerySm(ours)) =
        (rusmpp_decode(&wire).pdu().cloned(), &query.body)
    else {
        panic!("query_sm expected")
    };
    assert_eq!(text(theirs.message_id.bytes()), &*ours.message_id);
    assert_eq!(text(theirs.source_addr.bytes()), &*ours.source_addr);

    let multi = sample(CommandId::SUBMIT_MULTI);
    let wire = encode(&multi);
    let (Some(RPdu::SubmitMulti(theirs)), Body::SubmitMulti(ours)) =
        (rusmpp_decode(&wire).pdu().cloned(), &multi.body)
    else {
        panic!("submit_multi expected")
    };
    assert_eq!(
        usize::from(theirs.number_of_dests()),
        ours.dest_addresses.len()
    );
    assert_eq!(theirs.short_message().bytes(), &*ours.short_message);
}

#[test]
fn we_decode_what_rusmpp_encodes() {
    use rusmpp_core::pdus::borrowed::{DeliverSm as RDeliverSm, SubmitSm as RSubmitSm};
    use rusmpp_core::types::borrowed::{COctetString, EmptyOrFullCOctetString, OctetString};
    use rusmpp_core::values::{MessageState as RState, RegisteredDelivery as RRd};

    let submit: RSubmitSm<'_, TLV_CAPACITY> = RSubmitSm::builder()
        .source_addr(COctetString::new(b"447700900001\0").expect("valid"))
        .destination_addr(COctetString::new(b"447700900002\0").expect("valid"))
        .validity_period(EmptyOrFullCOctetString::new(b"250317143005032+\0").expect("valid"))
        .registered_delivery(RRd::from(1u8))
        .short_message(OctetString::new(b"Hello from rusmpp").expect("valid"))
        .push_tlv(rusmpp_core::tlvs::borrowed::MessageSubmissionRequestTlvValue::SarMsgRefNum(9))
        .expect("room")
        .build();
    let command = Theirs::new(rusmpp_core::CommandStatus::EsmeRok, 42, submit);
    let wire = rusmpp_encode(&command);
    let pdu = Pdu::decode(&wire).expect("we decode rusmpp's submit_sm");
    assert_eq!(pdu.sequence_number, 42);
    let Body::SubmitSm(sm) = &pdu.body else {
        panic!("submit_sm expected")
    };
    assert_eq!(&*sm.source_addr, b"447700900001");
    assert_eq!(&*sm.destination_addr, b"447700900002");
    assert_eq!(&*sm.validity_period, b"250317143005032+");
    assert_eq!(sm.registered_delivery, 1);
    assert_eq!(&*sm.short_message, b"Hello from rusmpp");
    assert_eq!(sm.tlvs.sar_msg_ref_num(), Some(9));
    assert_eq!(encode(&pdu), wire, "we re-encode rusmpp's octets unchanged");

    let receipt: RDeliverSm<'_, TLV_CAPACITY> = RDeliverSm::builder()
        .source_addr(COctetString::new(b"447700900002\0").expect("valid"))
        .destination_addr(COctetString::new(b"447700900001\0").expect("valid"))
        .short_message(OctetString::new(b"id:abc stat:DELIVRD").expect("valid"))
        .push_tlv(
            rusmpp_core::tlvs::borrowed::MessageDeliveryRequestTlvValue::ReceiptedMessageId(
                COctetString::new(b"abc\0").expect("valid"),
            ),
        )
        .expect("room")
        .push_tlv(
            rusmpp_core::tlvs::borrowed::MessageDeliveryRequestTlvValue::MessageState(
                RState::Delivered,
            ),
        )
        .expect("room")
        .build();
    let command = Theirs::new(rusmpp_core::CommandStatus::EsmeRok, 43, receipt);
    let wire = rusmpp_encode(&command);
    let pdu = Pdu::decode(&wire).expect("we decode rusmpp's deliver_sm");
    let Body::DeliverSm(sm) = &pdu.body else {
        panic!("deliver_sm expected")
    };
    assert_eq!(sm.tlvs.receipted_message_id(), Some(&b"abc"[..]));
    assert_eq!(sm.tlvs.message_state(), Some(MessageState::DELIVERED.0));
    assert_eq!(encode(&pdu), wire);
}

#[test]
fn we_decode_every_rusmpp_header_only_pdu() {
    let bodies = [
        (RPdu::<TLV_CAPACITY>::EnquireLink, CommandId::ENQUIRE_LINK),
        (RPdu::EnquireLinkResp, CommandId::ENQUIRE_LINK_RESP),
        (RPdu::Unbind, CommandId::UNBIND),
        (RPdu::UnbindResp, CommandId::UNBIND_RESP),
        (RPdu::GenericNack, CommandId::GENERIC_NACK),
        (RPdu::CancelSmResp, CommandId::CANCEL_SM_RESP),
        (RPdu::ReplaceSmResp, CommandId::REPLACE_SM_RESP),
        (
            RPdu::CancelBroadcastSmResp,
            CommandId::CANCEL_BROADCAST_SM_RESP,
        ),
    ];
    for (seq, (body, id)) in (1u32..).zip(bodies) {
        let command = Theirs::new(rusmpp_core::CommandStatus::EsmeRok, seq, body);
        let wire = rusmpp_encode(&command);
        let pdu = Pdu::decode(&wire).expect("decodes");
        assert_eq!((pdu.command_id(), pdu.sequence_number), (id, seq));
    }
}
