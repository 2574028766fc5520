//! Reading an MO's user data: its concatenation (UDH or SAR TLVs) and its text units.

use tern_smpp::EsmClass;
use tern_smpp::tlv::Tlvs;
use tern_sms::data_coding::{Alphabet, DefaultAlphabet, alphabet};
use tern_sms::segment::SeptetForm;
use tern_sms::{Encoding, ParsedUserData};

use crate::config::{ConnectorConfig, Dcs0};
use crate::message::MoRecord;

/// How a connector's text is read (its quirks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkText {
    /// What data_coding 0 means.
    pub dcs0: DefaultAlphabet,
    /// GSM-7 is packed, 7 bits per character.
    pub packed: bool,
}

impl LinkText {
    /// The text settings of `connector`.
    pub fn of(connector: &ConnectorConfig) -> LinkText {
        LinkText {
            dcs0: match connector.quirks.dcs0 {
                Dcs0::Gsm7 => DefaultAlphabet::Gsm7,
                Dcs0::Latin1 => DefaultAlphabet::Latin1,
                Dcs0::Ascii => DefaultAlphabet::Ascii,
            },
            packed: connector.quirks.gsm7_packed,
        }
    }
}

/// Where a part sits in its concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcatRef {
    /// The concatenation reference.
    pub reference: u16,
    /// Parts in the message.
    pub total: u8,
    /// This part's number, from 1.
    pub seq: u8,
}

/// An MO part's user data, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoContent {
    /// Its place in a concatenated message (UDH first, else SAR TLVs).
    pub concat: Option<ConcatRef>,
    /// The payload after any UDH: octets, or septets one per octet for GSM-7.
    pub units: Vec<u8>,
    /// The encoding of the units.
    pub encoding: Encoding,
}

/// Reads `record`'s user data as `link` writes text. Never fails: a header that does not
/// parse leaves the whole user data as payload.
pub fn content_of(record: &MoRecord, link: LinkText) -> MoContent {
    let tlvs = Tlvs::from_wire(&record.tlvs).unwrap_or(Tlvs::EMPTY);
    let user_data: &[u8] = match tlvs.message_payload() {
        Some(payload) if record.short_message.is_empty() => payload,
        _ => &record.short_message,
    };
    let udhi = record.esm_class & EsmClass::UDHI != 0;
    let parsed = ParsedUserData::parse(user_data, udhi).unwrap_or(ParsedUserData {
        udh: None,
        payload: user_data,
    });
    let concat = parsed
        .udh
        .and_then(|u| u.concat())
        .map(|c| ConcatRef {
            reference: c.reference,
            total: c.total,
            seq: c.seq,
        })
        .or_else(|| {
            Some(ConcatRef {
                reference: tlvs.sar_msg_ref_num()?,
                total: tlvs.sar_total_segments()?,
                seq: tlvs.sar_segment_seqnum()?,
            })
        });
    let alphabet = alphabet(record.data_coding, link.dcs0).unwrap_or(Alphabet::Binary);
    let form = if link.packed {
        SeptetForm::Packed
    } else {
        SeptetForm::Unpacked
    };
    MoContent {
        concat,
        units: parsed.units(alphabet, form, None),
        encoding: parsed.encoding(alphabet),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ConnectorId, MessageId, UserId};

    fn record(esm_class: u8, short_message: &[u8], tlvs: Vec<u8>) -> MoRecord {
        MoRecord {
            id: MessageId::new(0, crate::message::MO_SEQUENCE_BIT).expect("id"),
            user: UserId(0),
            connector: ConnectorId(0),
            received_at_ms: 0,
            source_ton: 1,
            source_npi: 1,
            source: b"4479".to_vec(),
            dest_ton: 0,
            dest_npi: 0,
            destination: b"1234".to_vec(),
            service_type: Vec::new(),
            esm_class,
            protocol_id: 0,
            priority: 0,
            data_coding: 0,
            short_message: short_message.to_vec(),
            tlvs,
        }
    }

    #[test]
    fn a_udh_part_names_its_place_and_keeps_only_the_text() {
        let sm = [5, 0, 3, 42, 3, 2, b'a', b'b'];
        let content = content_of(
            &record(EsmClass::UDHI, &sm, Vec::new()),
            LinkText::default(),
        );
        let concat = content.concat.expect("concat");
        assert_eq!((concat.reference, concat.total, concat.seq), (42, 3, 2));
        assert_eq!(content.units, b"ab");
    }

    #[test]
    fn sar_tlvs_name_the_place_when_there_is_no_udh() {
        let tlvs = Tlvs::from_list(&[
            tern_smpp::tlv::Tlv::SarMsgRefNum(7),
            tern_smpp::tlv::Tlv::SarTotalSegments(2),
            tern_smpp::tlv::Tlv::SarSegmentSeqnum(1),
        ])
        .expect("tlvs");
        let r = record(0, b"hi", tlvs.as_bytes().to_vec());
        let concat = content_of(&r, LinkText::default()).concat.expect("sar");
        assert_eq!((concat.reference, concat.total, concat.seq), (7, 2, 1));
    }

    #[test]
    fn a_header_that_does_not_parse_leaves_the_whole_user_data() {
        let sm = [9, 0, 3];
        let content = content_of(
            &record(EsmClass::UDHI, &sm, Vec::new()),
            LinkText::default(),
        );
        assert_eq!(content.concat, None);
        assert_eq!(content.units, sm);
    }
}
