//! The 16-octet PDU header (SMPP 3.4 §3.2): read it cheaply, write header-only PDUs.

use crate::command::{CommandId, CommandStatus};

/// Length of the PDU header: command_length, command_id, command_status, sequence_number.
pub const HEADER_LEN: usize = 16;

/// The four header fields of a PDU, as read from the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Length of the whole PDU, header included, in octets.
    pub command_length: u32,
    /// Which PDU this is.
    pub command_id: CommandId,
    /// `ESME_ROK` for requests; the outcome for responses.
    pub command_status: CommandStatus,
    /// Correlates a response with its request.
    pub sequence_number: u32,
}

impl Header {
    /// Reads the header from the first 16 octets of `buf`; `None` if fewer are present.
    /// Nothing is validated: any values are returned as they are.
    #[inline]
    pub fn peek(buf: &[u8]) -> Option<Header> {
        let (words, _) = buf.first_chunk::<HEADER_LEN>()?.as_chunks::<4>();
        let [length, id, status, sequence] = words else {
            return None;
        };
        Some(Header {
            command_length: u32::from_be_bytes(*length),
            command_id: CommandId(u32::from_be_bytes(*id)),
            command_status: CommandStatus(u32::from_be_bytes(*status)),
            sequence_number: u32::from_be_bytes(*sequence),
        })
    }

    /// Appends the 16 header octets to `out` exactly as the fields say.
    #[inline]
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.command_length.to_be_bytes());
        out.extend_from_slice(&self.command_id.0.to_be_bytes());
        out.extend_from_slice(&self.command_status.0.to_be_bytes());
        out.extend_from_slice(&self.sequence_number.to_be_bytes());
    }
}

/// Reads the header of the PDU at the start of `buf` without validating it; `None` if
/// fewer than 16 octets are present.
#[inline]
pub fn peek_header(buf: &[u8]) -> Option<Header> {
    Header::peek(buf)
}

/// Appends a complete PDU that has no body (enquire_link, unbind, generic_nack, their
/// responses, or an error response) to `out`.
#[inline]
pub fn encode_header_only(
    command_id: CommandId,
    command_status: CommandStatus,
    sequence_number: u32,
    out: &mut Vec<u8>,
) {
    Header {
        command_length: HEADER_LEN as u32,
        command_id,
        command_status,
        sequence_number,
    }
    .encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_only_pdu_reads_back_through_peek() {
        let mut out = vec![0xAA];
        encode_header_only(
            CommandId::ENQUIRE_LINK,
            CommandStatus::ESME_ROK,
            7,
            &mut out,
        );
        assert_eq!(out.len(), 1 + HEADER_LEN);
        let header = peek_header(&out[1..]).expect("16 octets present");
        assert_eq!(header.command_length, 16);
        assert_eq!(header.command_id, CommandId::ENQUIRE_LINK);
        assert_eq!(header.sequence_number, 7);
    }

    #[test]
    fn peek_needs_sixteen_octets() {
        assert_eq!(peek_header(&[0; 15]), None);
    }
}
