//! What a client receives about its message: the receipt deliver_sm (SMPP 3.4 Appendix B
//! text with OUR id, plus the receipted_message_id and message_state TLVs for 3.4
//! peers) and the query_sm answer.

use tern_smpp::time::AbsoluteTime;
use tern_smpp::tlv::{NetworkErrorCode, Tlv, Tlvs};
use tern_smpp::{Body, EsmClass, MessageState, QuerySmResp, SubmitSm};
use tern_sms::receipt::{ReceiptDate, Stat};

use crate::lifecycle::{ClientReceipt, ReceiptState, State};
use crate::message::{FinalState, MessageRecord};

/// The addresses of a receipt: the message's destination becomes its source.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReceiptAddresses {
    source_ton: u8,
    source_npi: u8,
    source: Vec<u8>,
    dest_ton: u8,
    dest_npi: u8,
    dest: Vec<u8>,
}

/// What a receipt needs from its message's record: when it was accepted and its
/// addresses. Owned and small, so a receipt can travel to a session on another shard.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReceiptOrigin {
    /// When the message was accepted (Unix ms): the receipt's `submit date`.
    pub accepted_at_ms: u64,
    /// The receipt's addresses.
    pub addresses: ReceiptAddresses,
}

impl ReceiptOrigin {
    /// The origin of a receipt about the message `record` describes.
    pub fn of(record: &MessageRecord<'_>) -> ReceiptOrigin {
        ReceiptOrigin {
            accepted_at_ms: record.accepted_at_ms,
            addresses: ReceiptAddresses {
                source_ton: record.destination.ton,
                source_npi: record.destination.npi,
                source: record.destination.digits.to_vec(),
                dest_ton: record.source.ton,
                dest_npi: record.source.npi,
                dest: record.source.digits.to_vec(),
            },
        }
    }
}

/// Writes the receipt text into `text` and its TLVs into `tlvs`; returns its addresses
/// (empty when the message record is gone, e.g. after a restart without it).
pub fn build_receipt(
    record: Option<&MessageRecord<'static>>,
    receipt: &ClientReceipt,
    with_tlvs: bool,
    text: &mut Vec<u8>,
    tlvs: &mut Vec<u8>,
) -> ReceiptAddresses {
    let origin = record.map(ReceiptOrigin::of);
    build_receipt_from(origin.as_ref(), receipt, with_tlvs, text, tlvs);
    origin.map(|o| o.addresses).unwrap_or_default()
}

/// Writes the receipt text into `text` and its TLVs into `tlvs`, from the message's
/// origin (`None` when the record is gone: the receipt's own time stands in).
pub fn build_receipt_from(
    origin: Option<&ReceiptOrigin>,
    receipt: &ClientReceipt,
    with_tlvs: bool,
    text: &mut Vec<u8>,
    tlvs: &mut Vec<u8>,
) {
    let state = message_state(receipt.state);
    let id = receipt.id.to_hex();
    let id = std::str::from_utf8(&id).unwrap_or("");
    let mut err_text = [0u8; 3];
    let error = receipt.error % 1000;
    for (i, slot) in err_text.iter_mut().enumerate() {
        let divisor = 10u32.pow(2 - i as u32);
        *slot = b'0' + (error / divisor % 10) as u8;
    }
    let delivered = state == MessageState::DELIVERED;
    let submitted_ms = origin.map_or(receipt.at_ms, |o| o.accepted_at_ms);
    text.clear();
    tern_sms::Receipt {
        id,
        stat: Stat::parse(stat_name(state)),
        submitted: Some(1),
        delivered: Some(u32::from(delivered)),
        submit_date: Some(receipt_date(submitted_ms / 1000)),
        done_date: Some(receipt_date(receipt.at_ms / 1000)),
        err: std::str::from_utf8(&err_text).ok(),
        text: Some(b""),
    }
    .write_to(text);
    tlvs.clear();
    if with_tlvs {
        let network = NetworkErrorCode {
            network_type: 3,
            error_code: u16::try_from(receipt.error).unwrap_or(u16::MAX),
        };
        let list = [
            Tlv::ReceiptedMessageId(id.as_bytes()),
            Tlv::MessageState(state.0),
            Tlv::NetworkErrorCode(network),
        ];
        let used = if receipt.error == 0 { 2 } else { 3 };
        if let Ok(built) = Tlvs::build(tlvs, list.get(..used).unwrap_or_default()) {
            let owned = built.as_bytes().to_vec();
            *tlvs = owned;
        } else {
            tlvs.clear();
        }
    }
}

/// The receipt deliver_sm body over what [`build_receipt`] wrote.
pub fn receipt_body<'a>(
    addresses: &'a ReceiptAddresses,
    text: &'a [u8],
    tlvs: &'a [u8],
) -> Body<'a> {
    Body::DeliverSm(SubmitSm {
        source_addr_ton: addresses.source_ton,
        source_addr_npi: addresses.source_npi,
        source_addr: addresses.source.as_slice().into(),
        dest_addr_ton: addresses.dest_ton,
        dest_addr_npi: addresses.dest_npi,
        destination_addr: addresses.dest.as_slice().into(),
        esm_class: EsmClass::TYPE_DELIVERY_RECEIPT,
        short_message: text.into(),
        tlvs: Tlvs::from_wire(tlvs).unwrap_or(Tlvs::EMPTY),
        ..SubmitSm::default()
    })
}

/// The deliver_sm body of an MO, with the fields it arrived with; its TLVs (message_payload,
/// SAR, vendor TLVs) go only to a peer that accepts TLVs.
pub fn mo_body(mo: &crate::message::MoRecord, with_tlvs: bool) -> Body<'_> {
    let tlvs = if with_tlvs {
        Tlvs::from_wire(&mo.tlvs).unwrap_or(Tlvs::EMPTY)
    } else {
        Tlvs::EMPTY
    };
    Body::DeliverSm(SubmitSm {
        service_type: mo.service_type.as_slice().into(),
        source_addr_ton: mo.source_ton,
        source_addr_npi: mo.source_npi,
        source_addr: mo.source.as_slice().into(),
        dest_addr_ton: mo.dest_ton,
        dest_addr_npi: mo.dest_npi,
        destination_addr: mo.destination.as_slice().into(),
        // The message type bits stay 0 (a plain MO); UDHI and the rest pass through.
        esm_class: mo.esm_class & !EsmClass::TYPE_MASK,
        protocol_id: mo.protocol_id,
        priority_flag: mo.priority,
        data_coding: mo.data_coding,
        short_message: mo.short_message.as_slice().into(),
        tlvs,
        ..SubmitSm::default()
    })
}

/// The query_sm_resp body for a message in `state` (None: unknown or finished).
pub fn query_resp(message_id: &[u8], state: Option<State>) -> Body<'_> {
    let message_state = match state {
        Some(State::Final(f)) => f.message_state(),
        Some(State::Accepted | State::Queued { .. }) => MessageState::ACCEPTED,
        Some(_) => MessageState::ENROUTE,
        None => MessageState::UNKNOWN,
    };
    Body::QuerySmResp(QuerySmResp {
        message_id: message_id.into(),
        message_state: message_state.0,
        ..QuerySmResp::default()
    })
}

fn message_state(state: ReceiptState) -> MessageState {
    match state {
        ReceiptState::Intermediate(s) => s,
        ReceiptState::Final(f) => f.message_state(),
    }
}

/// The Appendix B `stat:` word of a message_state.
fn stat_name(state: MessageState) -> &'static str {
    match state.0 {
        1 => "ENROUTE",
        2 => "DELIVRD",
        3 => "EXPIRED",
        4 => "DELETED",
        5 => "UNDELIV",
        6 => "ACCEPTD",
        8 => "REJECTD",
        _ => "UNKNOWN",
    }
}

/// A final state as the client sees it, for logs.
pub fn final_name(state: FinalState) -> &'static str {
    stat_name(state.message_state())
}

/// The receipt date (UTC, YYMMDDhhmm) of a Unix time in seconds. SMPP dates hold years
/// 2000–2099 only; an instant outside them (a clock gone wrong) is written as the nearest
/// end of that range rather than as a date that means something else.
fn receipt_date(unix_s: u64) -> ReceiptDate {
    const Y2000_S: i64 = 946_684_800;
    const Y2100_S: i64 = 4_102_444_800;
    let clamped = i64::try_from(unix_s)
        .unwrap_or(i64::MAX)
        .clamp(Y2000_S, Y2100_S - 1);
    // In range with a zero offset, so from_unix_s cannot refuse; 2000-01-01 if it did.
    let (year, month, day, hour, minute) = match AbsoluteTime::from_unix_s(clamped, 0) {
        Ok(t) => (t.year, t.month, t.day, t.hour, t.minute),
        Err(_) => (0, 1, 1, 0, 0),
    };
    ReceiptDate {
        year,
        month,
        day,
        hour,
        minute,
        second: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_date_of_a_known_instant_is_utc_yymmddhhmm() {
        assert_eq!(receipt_date(1_709_214_300).to_string(), "2402291345");
        assert_eq!(receipt_date(0).to_string(), "0001010000");
        assert_eq!(receipt_date(u64::MAX).to_string(), "9912312359");
    }
}
