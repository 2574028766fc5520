//! The little-endian primitives the record codec is written with.
//!
//! Writers append to a `Vec<u8>`; [`Reader`] walks a borrowed slice and names the field
//! that ran past the end, so a short record says where it broke.

use super::record::RecordError;

/// Appends `value` as one octet.
pub(crate) fn put_u8(out: &mut Vec<u8>, value: u8) {
    out.push(value);
}

/// Appends `value` little-endian.
pub(crate) fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends `value` little-endian.
pub(crate) fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends `value` little-endian.
pub(crate) fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends a one-octet length and the bytes; the caller has checked `bytes.len() <= max`
/// with [`check_len`], `max` being at most 255.
pub(crate) fn put_bytes_u8(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

/// Appends a two-octet length and the bytes; the caller has checked the length fits.
pub(crate) fn put_bytes_u16(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u16(out, bytes.len() as u16);
    out.extend_from_slice(bytes);
}

/// Refuses a field longer than `max`: the same bound on encode as on decode.
pub(crate) fn check_len(field: &'static str, len: usize, max: usize) -> Result<(), RecordError> {
    if len > max {
        return Err(RecordError::TooLong { field, len, max });
    }
    Ok(())
}

/// A cursor over a record's payload.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// The next `len` bytes.
    pub(crate) fn take(
        &mut self,
        field: &'static str,
        len: usize,
    ) -> Result<&'a [u8], RecordError> {
        if len > self.rest.len() {
            return Err(RecordError::Truncated { field });
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], RecordError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    /// One octet.
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, RecordError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// A little-endian u16.
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, RecordError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    /// A little-endian u32.
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, RecordError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// A little-endian u64.
    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, RecordError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// Bytes behind a one-octet length, at most `max` of them.
    pub(crate) fn bytes_u8(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<&'a [u8], RecordError> {
        let len = usize::from(self.u8(field)?);
        check_len(field, len, max)?;
        self.take(field, len)
    }

    /// Bytes behind a two-octet length, at most `max` of them.
    pub(crate) fn bytes_u16(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<&'a [u8], RecordError> {
        let len = usize::from(self.u16(field)?);
        check_len(field, len, max)?;
        self.take(field, len)
    }

    /// Succeeds only at the end: a record carries nothing after its last field.
    pub(crate) fn finish(self) -> Result<(), RecordError> {
        match self.rest.len() {
            0 => Ok(()),
            count => Err(RecordError::TrailingBytes { count }),
        }
    }
}
