//! Incremental framing: find complete PDUs in a read buffer.
//!
//! TCP delivers a stream; a read may hold half a PDU or fifty. [`Framer::frame`] looks at
//! the start of the buffer and says how long the first PDU is once all of it is present.
//! A command_length below 16 or above the configured maximum means framing is lost: the
//! server answers generic_nack with `ESME_RINVCMDLEN` and closes the session, since the
//! next PDU boundary cannot be found.

use crate::command::{CommandId, CommandStatus};
use crate::header::{HEADER_LEN, encode_header_only};

/// Default largest PDU accepted: 64 KiB, well above a submit_sm with a full
/// message_payload.
pub const DEFAULT_MAX_PDU_LEN: u32 = 64 * 1024;

/// A command_length that makes the stream unframeable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("command_length {command_length} outside 16..={max_pdu_len}: framing lost")]
pub struct FrameError {
    /// The length the peer declared.
    pub command_length: u32,
    /// The largest length accepted.
    pub max_pdu_len: u32,
    /// The peer's sequence number, if the header's 16 octets were present.
    pub sequence_number: Option<u32>,
}

impl FrameError {
    /// The status to answer with.
    pub const fn status(&self) -> CommandStatus {
        CommandStatus::ESME_RINVCMDLEN
    }

    /// Appends the answer: generic_nack, `ESME_RINVCMDLEN`, the peer's sequence number
    /// (0 if unknown). The session must close after sending it.
    pub fn encode_reply(&self, out: &mut Vec<u8>) {
        encode_header_only(
            CommandId::GENERIC_NACK,
            self.status(),
            self.sequence_number.unwrap_or(0),
            out,
        );
    }
}

/// Finds PDU boundaries, enforcing a maximum PDU length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framer {
    max_pdu_len: u32,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(DEFAULT_MAX_PDU_LEN)
    }
}

impl Framer {
    /// A framer accepting PDUs of up to `max_pdu_len` octets (at least 16).
    pub const fn new(max_pdu_len: u32) -> Self {
        let floor = HEADER_LEN as u32;
        Framer {
            max_pdu_len: if max_pdu_len < floor {
                floor
            } else {
                max_pdu_len
            },
        }
    }

    /// The largest PDU accepted.
    pub const fn max_pdu_len(&self) -> u32 {
        self.max_pdu_len
    }

    /// The length of the PDU at the start of `buf` if all of it is present, `Ok(None)` if
    /// more octets are needed, or an error if its command_length is out of bounds.
    #[inline]
    pub fn frame(&self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        let Some(length) = buf.first_chunk::<4>() else {
            return Ok(None);
        };
        let command_length = u32::from_be_bytes(*length);
        if command_length < HEADER_LEN as u32 || command_length > self.max_pdu_len {
            let sequence_number = buf
                .get(12..16)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_be_bytes);
            return Err(FrameError {
                command_length,
                max_pdu_len: self.max_pdu_len,
                sequence_number,
            });
        }
        let len = command_length as usize;
        Ok((buf.len() >= len).then_some(len))
    }

    /// Iterates over the complete PDUs at the start of `buf`; afterwards
    /// [`Frames::consumed`] says how many octets they took.
    pub fn frames<'b>(&self, buf: &'b [u8]) -> Frames<'b> {
        Frames {
            framer: *self,
            buf,
            consumed: 0,
            failed: false,
        }
    }
}

/// Finds the first PDU in `buf` with the default maximum length; see [`Framer::frame`].
#[inline]
pub fn frame(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    Framer::default().frame(buf)
}

/// Iterator over the complete PDUs in a buffer; see [`Framer::frames`].
#[derive(Clone, Debug)]
pub struct Frames<'b> {
    framer: Framer,
    buf: &'b [u8],
    consumed: usize,
    failed: bool,
}

impl<'b> Frames<'b> {
    /// Octets taken by the frames returned so far; the rest awaits more input.
    pub fn consumed(&self) -> usize {
        self.consumed
    }
}

impl<'b> Iterator for Frames<'b> {
    type Item = Result<&'b [u8], FrameError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.consumed..)?;
        match self.framer.frame(rest) {
            Ok(Some(len)) => {
                self.consumed += len;
                rest.get(..len).map(Ok)
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enquire_link(seq: u32) -> Vec<u8> {
        let mut out = Vec::new();
        encode_header_only(
            CommandId::ENQUIRE_LINK,
            CommandStatus::ESME_ROK,
            seq,
            &mut out,
        );
        out
    }

    #[test]
    fn pdu_split_across_reads_is_framed_once_complete() {
        let pdu = enquire_link(1);
        let framer = Framer::default();
        for cut in 0..pdu.len() {
            assert_eq!(framer.frame(&pdu[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(framer.frame(&pdu), Ok(Some(16)));
    }

    #[test]
    fn many_pdus_in_one_read_are_all_framed() {
        let mut buf: Vec<u8> = (1..=5).flat_map(enquire_link).collect();
        buf.extend_from_slice(&[0, 0, 0]);
        let framer = Framer::default();
        let mut frames = framer.frames(&buf);
        assert_eq!(frames.by_ref().count(), 5);
        assert_eq!(frames.consumed(), 80);
    }

    #[test]
    fn command_length_below_header_loses_framing_with_invcmdlen() {
        let mut pdu = enquire_link(42);
        pdu[3] = 15;
        let err = frame(&pdu).unwrap_err();
        assert_eq!(err.sequence_number, Some(42));
        let mut out = Vec::new();
        err.encode_reply(&mut out);
        assert_eq!(&out[4..8], &CommandId::GENERIC_NACK.0.to_be_bytes());
        assert_eq!(&out[8..12], &2u32.to_be_bytes());
        assert_eq!(&out[12..16], &42u32.to_be_bytes());
    }

    #[test]
    fn command_length_above_maximum_is_refused_before_the_body_arrives() {
        let framer = Framer::new(1024);
        let err = framer.frame(&[0, 0, 4, 1]).unwrap_err();
        assert_eq!(err.command_length, 1025);
        assert_eq!(err.sequence_number, None);
    }
}
