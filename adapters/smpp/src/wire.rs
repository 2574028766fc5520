//! Field-level reading and writing shared by every body.
//!
//! The reader never indexes past what it has checked; every failure is a typed
//! [`FieldError`]. The two leniencies of mandatory fields live here:
//! - a C-octet string that runs to the end of the body without its NUL is accepted (peers
//!   drop the NUL of the last string of a body: message_id of a submit_sm_resp,
//!   address_range of a bind). A string in the middle of a body that does so leaves the
//!   following mandatory field missing, which is still an error;
//! - in a response (`lenient_eof`), a body that stops at a field boundary yields the
//!   remaining fields as zero/empty: error responses usually come with no body at all.

use std::borrow::Cow;

use crate::command::CommandStatus;
use crate::error::{EncodeError, FieldError};

/// Index of the first NUL in `bytes`. Eight octets at a time: `w - 0x01…01` borrows
/// through a byte only where it was zero, so the lowest flagged byte is the first NUL.
/// Used on decode (C-octet strings) and encode (refusing inner NULs).
#[inline]
pub(crate) fn find_nul(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let (words, tail) = bytes.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let w = u64::from_le_bytes(*word);
        let zeros = w.wrapping_sub(ONES) & !w & HIGHS;
        if zeros != 0 {
            return Some(i * 8 + (zeros.trailing_zeros() / 8) as usize);
        }
    }
    tail.iter()
        .position(|&b| b == 0)
        .map(|i| words.len() * 8 + i)
}

/// A cursor over one PDU body: the octets not yet read.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    body_len: usize,
    lenient_eof: bool,
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn new(body: &'a [u8], lenient_eof: bool) -> Self {
        Reader {
            rest: body,
            body_len: body.len(),
            lenient_eof,
        }
    }

    #[inline]
    pub(crate) fn is_lenient(&self) -> bool {
        self.lenient_eof
    }

    /// Octets not yet read.
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Offset of the cursor from the start of the body.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.body_len - self.rest.len()
    }

    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.rest.is_empty()
    }

    /// Moves the cursor forward by `n` octets (at most to the end).
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.rest = self.rest.get(n..).unwrap_or_default();
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, FieldError> {
        match self.rest.split_first() {
            Some((&value, rest)) => {
                self.rest = rest;
                Ok(value)
            }
            None if self.lenient_eof => Ok(0),
            None => Err(FieldError::truncated(field)),
        }
    }

    #[inline]
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, FieldError> {
        match self.rest.split_first_chunk::<4>() {
            Some((four, rest)) => {
                self.rest = rest;
                Ok(u32::from_be_bytes(*four))
            }
            None if self.lenient_eof && self.at_end() => Ok(0),
            None => Err(FieldError::truncated(field)),
        }
    }

    /// A C-octet string of at most `max_len` octets plus its NUL; the NUL is not returned.
    #[inline]
    pub(crate) fn cstr(
        &mut self,
        field: &'static str,
        max_len: usize,
        status: CommandStatus,
    ) -> Result<&'a [u8], FieldError> {
        self.cstr_with(field, max_len, status, true)
    }

    /// Like [`Reader::cstr`] but the NUL is required (strings inside lists, which are
    /// always followed by more fields).
    #[inline]
    pub(crate) fn cstr_terminated(
        &mut self,
        field: &'static str,
        max_len: usize,
        status: CommandStatus,
    ) -> Result<&'a [u8], FieldError> {
        self.cstr_with(field, max_len, status, false)
    }

    #[inline]
    fn cstr_with(
        &mut self,
        field: &'static str,
        max_len: usize,
        status: CommandStatus,
        allow_unterminated: bool,
    ) -> Result<&'a [u8], FieldError> {
        let rest = self.rest;
        let window = rest.get(..max_len.saturating_add(1)).unwrap_or(rest);
        if let Some(len) = find_nul(window)
            && let Some((value, after)) = rest.split_at_checked(len)
        {
            self.rest = after.get(1..).unwrap_or_default();
            return Ok(value);
        }
        if rest.len() <= max_len && (allow_unterminated || (self.lenient_eof && rest.is_empty())) {
            self.rest = &[];
            return Ok(rest);
        }
        if rest.len() <= max_len {
            return Err(FieldError::truncated(field));
        }
        Err(FieldError::too_long(field, max_len, status))
    }

    /// An octet string preceded by its one-octet length (sm_length + short_message).
    #[inline]
    pub(crate) fn octets_u8_len(&mut self, field: &'static str) -> Result<&'a [u8], FieldError> {
        let len = usize::from(self.u8(field)?);
        match self.rest.split_at_checked(len) {
            Some((value, rest)) => {
                self.rest = rest;
                Ok(value)
            }
            None => Err(FieldError::truncated(field)),
        }
    }
}

/// Appends a C-octet string and its NUL, refusing what decode would refuse.
#[inline]
pub(crate) fn put_cstr(
    out: &mut Vec<u8>,
    value: &[u8],
    field: &'static str,
    max_len: usize,
) -> Result<(), EncodeError> {
    if value.len() > max_len || find_nul(value).is_some() {
        return Err(EncodeError::InvalidCString { field, max_len });
    }
    out.extend_from_slice(value);
    out.push(0);
    Ok(())
}

/// Appends a one-octet length and the octets.
#[inline]
pub(crate) fn put_octets_u8_len(
    out: &mut Vec<u8>,
    value: &[u8],
    field: &'static str,
) -> Result<(), EncodeError> {
    let len = u8::try_from(value.len()).map_err(|_| EncodeError::OctetsTooLong {
        field,
        len: value.len(),
    })?;
    out.push(len);
    out.extend_from_slice(value);
    Ok(())
}

/// Turns a borrowed field into one that owns its octets.
#[inline]
pub(crate) fn own(value: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
    Cow::Owned(value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ST: CommandStatus = CommandStatus::ESME_RINVSRCADR;

    #[test]
    fn find_nul_agrees_with_a_byte_scan() {
        for len in 0..40 {
            for at in 0..=len {
                let mut bytes = vec![0xFFu8; len];
                if at < len {
                    bytes[at] = 0;
                    // A 0x01 above the NUL must not confuse the word-at-a-time scan.
                    if at + 1 < len {
                        bytes[at + 1] = 1;
                    }
                }
                assert_eq!(find_nul(&bytes), bytes.iter().position(|&b| b == 0));
            }
        }
    }

    #[test]
    fn cstr_stops_at_nul_and_skips_it() {
        let mut r = Reader::new(b"abc\0d", false);
        assert_eq!(r.cstr("f", 8, ST), Ok(&b"abc"[..]));
        assert_eq!(r.rest(), b"d");
    }

    #[test]
    fn cstr_running_to_the_end_of_the_body_is_accepted() {
        let mut r = Reader::new(b"abc", false);
        assert_eq!(r.cstr("f", 8, ST), Ok(&b"abc"[..]));
        assert!(r.at_end());
    }

    #[test]
    fn overlong_cstr_gets_the_field_status() {
        let mut r = Reader::new(b"abcdef\0", false);
        let err = r.cstr("f", 5, ST).unwrap_err();
        assert_eq!(err.status, ST);
    }

    #[test]
    fn terminated_cstr_refuses_a_missing_nul() {
        let mut r = Reader::new(b"abc", false);
        assert_eq!(
            r.cstr_terminated("f", 8, ST).unwrap_err().status,
            CommandStatus::ESME_RINVMSGLEN
        );
    }

    #[test]
    fn response_body_missing_fields_read_as_zero() {
        let mut r = Reader::new(b"", true);
        assert_eq!(r.u8("f"), Ok(0));
        assert_eq!(r.u32("f"), Ok(0));
        assert_eq!(r.cstr_terminated("f", 8, ST), Ok(&b""[..]));
        assert_eq!(r.octets_u8_len("f"), Ok(&b""[..]));
    }

    #[test]
    fn request_body_missing_fields_are_truncation_errors() {
        let mut r = Reader::new(b"\x05ab", false);
        assert_eq!(
            r.octets_u8_len("short_message").unwrap_err().status,
            CommandStatus::ESME_RINVMSGLEN
        );
        let mut r = Reader::new(b"", false);
        assert!(r.u8("f").is_err());
        assert!(r.u32("f").is_err());
    }
}
