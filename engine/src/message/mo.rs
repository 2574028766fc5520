//! The MO record (WAL kind [`super::kind::MO`]): one mobile-originated message, or one
//! part of a concatenated one, as an upstream delivered it, with the user the MO router
//! chose. It is the only MO record: it lives in the WAL of the shard that received it
//! until its user took it (deliver_sm_resp OK or callback acknowledged), and is then
//! marked done; recovery replays the live ones.
//!
//! Layout, little-endian: format version (1), id (u64), user (u32), connector (u16),
//! received_at_ms (u64), source TON, NPI, digits (u8 length, ≤ 64), destination likewise,
//! service_type (u8 length, ≤ 32), esm_class, protocol_id, priority, data_coding,
//! short_message (u8 length, ≤ 255), TLVs as received (u16 length, ≤ [`MO_TLVS_MAX_LEN`]).

use super::wire::{
    Reader, check_len, put_bytes_u8, put_bytes_u16, put_u8, put_u16, put_u32, put_u64,
};
use super::{ConnectorId, MessageId, RecordError, SHORT_MESSAGE_MAX_LEN, UserId};

/// Version octet of the MO record layout.
pub const MO_FORMAT_VERSION: u8 = 1;
/// Longest TLV block kept with an MO: a full message_payload (64 KiB) and its header.
pub const MO_TLVS_MAX_LEN: usize = u16::MAX as usize;
/// Set in the sequence of every MO id, so an MO id never equals an MT id of the same
/// shard (MT sequences count from 0 and would need 2^47 messages to get there).
pub const MO_SEQUENCE_BIT: u64 = 1 << 47;
const ADDRESS_MAX_LEN: usize = 64;
const SERVICE_TYPE_MAX_LEN: usize = 32;

/// A mobile-originated message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoRecord {
    /// Our id of the MO (its sequence carries [`MO_SEQUENCE_BIT`]).
    pub id: MessageId,
    /// The user it is routed to.
    pub user: UserId,
    /// The connector it arrived on.
    pub connector: ConnectorId,
    /// When it arrived (Unix ms).
    pub received_at_ms: u64,
    /// TON of the handset.
    pub source_ton: u8,
    /// NPI of the handset.
    pub source_npi: u8,
    /// The handset's number.
    pub source: Vec<u8>,
    /// TON of the number it was sent to.
    pub dest_ton: u8,
    /// NPI of the number it was sent to.
    pub dest_npi: u8,
    /// The number it was sent to.
    pub destination: Vec<u8>,
    /// service_type as received.
    pub service_type: Vec<u8>,
    /// esm_class as received (UDHI kept: parts pass through to SMPP clients).
    pub esm_class: u8,
    /// protocol_id as received.
    pub protocol_id: u8,
    /// priority_flag as received.
    pub priority: u8,
    /// data_coding as received.
    pub data_coding: u8,
    /// short_message as received (UDH included).
    pub short_message: Vec<u8>,
    /// The TLVs as received (message_payload, SAR and vendor TLVs pass through).
    pub tlvs: Vec<u8>,
}

impl MoRecord {
    /// Appends the record's payload; refuses a field over its bound.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), RecordError> {
        check_len("source", self.source.len(), ADDRESS_MAX_LEN)?;
        check_len("destination", self.destination.len(), ADDRESS_MAX_LEN)?;
        check_len(
            "service_type",
            self.service_type.len(),
            SERVICE_TYPE_MAX_LEN,
        )?;
        check_len(
            "short_message",
            self.short_message.len(),
            SHORT_MESSAGE_MAX_LEN,
        )?;
        check_len("tlvs", self.tlvs.len(), MO_TLVS_MAX_LEN)?;
        put_u8(out, MO_FORMAT_VERSION);
        put_u64(out, self.id.get());
        put_u32(out, self.user.0);
        put_u16(out, self.connector.0);
        put_u64(out, self.received_at_ms);
        put_u8(out, self.source_ton);
        put_u8(out, self.source_npi);
        put_bytes_u8(out, &self.source);
        put_u8(out, self.dest_ton);
        put_u8(out, self.dest_npi);
        put_bytes_u8(out, &self.destination);
        put_bytes_u8(out, &self.service_type);
        put_u8(out, self.esm_class);
        put_u8(out, self.protocol_id);
        put_u8(out, self.priority);
        put_u8(out, self.data_coding);
        put_bytes_u8(out, &self.short_message);
        put_bytes_u16(out, &self.tlvs);
        Ok(())
    }

    /// Reads back what [`MoRecord::encode`] wrote. Never panics: every failure is typed.
    pub fn decode(payload: &[u8]) -> Result<MoRecord, RecordError> {
        let mut r = Reader::new(payload);
        let version = r.u8("version")?;
        if version != MO_FORMAT_VERSION {
            return Err(RecordError::UnsupportedVersion { version });
        }
        let id = MessageId::from_u64(r.u64("id")?).map_err(RecordError::Id)?;
        let record = MoRecord {
            id,
            user: UserId(r.u32("user")?),
            connector: ConnectorId(r.u16("connector")?),
            received_at_ms: r.u64("received_at_ms")?,
            source_ton: r.u8("source_ton")?,
            source_npi: r.u8("source_npi")?,
            source: r.bytes_u8("source", ADDRESS_MAX_LEN)?.to_vec(),
            dest_ton: r.u8("dest_ton")?,
            dest_npi: r.u8("dest_npi")?,
            destination: r.bytes_u8("destination", ADDRESS_MAX_LEN)?.to_vec(),
            service_type: r.bytes_u8("service_type", SERVICE_TYPE_MAX_LEN)?.to_vec(),
            esm_class: r.u8("esm_class")?,
            protocol_id: r.u8("protocol_id")?,
            priority: r.u8("priority")?,
            data_coding: r.u8("data_coding")?,
            short_message: r.bytes_u8("short_message", SHORT_MESSAGE_MAX_LEN)?.to_vec(),
            tlvs: r.bytes_u16("tlvs", MO_TLVS_MAX_LEN)?.to_vec(),
        };
        r.finish()?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MoRecord {
        MoRecord {
            id: MessageId::new(1, MO_SEQUENCE_BIT | 7).expect("id"),
            user: UserId(2),
            connector: ConnectorId(3),
            received_at_ms: 1_700_000_000_000,
            source_ton: 1,
            source_npi: 1,
            source: b"447911000001".to_vec(),
            dest_ton: 0,
            dest_npi: 0,
            destination: b"1234".to_vec(),
            service_type: Vec::new(),
            esm_class: 0x40,
            protocol_id: 0,
            priority: 0,
            data_coding: 8,
            short_message: vec![5, 0, 3, 9, 2, 1, 0, 0x41],
            tlvs: vec![0x02, 0x0C, 0, 2, 0, 9],
        }
    }

    #[test]
    fn an_mo_record_reads_back_as_written() {
        let mut out = Vec::new();
        sample().encode(&mut out).expect("encode");
        assert_eq!(MoRecord::decode(&out).expect("decode"), sample());
    }

    #[test]
    fn every_truncation_of_an_mo_record_is_refused_without_panic() {
        let mut out = Vec::new();
        sample().encode(&mut out).expect("encode");
        for len in 0..out.len() {
            assert!(MoRecord::decode(out.get(..len).unwrap_or_default()).is_err());
        }
        out.push(0);
        assert!(matches!(
            MoRecord::decode(&out),
            Err(RecordError::TrailingBytes { count: 1 })
        ));
    }

    #[test]
    fn an_mo_field_over_its_bound_is_refused_at_encode() {
        let mut record = sample();
        record.short_message = vec![0; SHORT_MESSAGE_MAX_LEN + 1];
        assert!(record.encode(&mut Vec::new()).is_err());
    }
}
