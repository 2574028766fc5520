//! Delivery receipts in the text format of SMPP 3.4 Appendix B, parsed leniently and built
//! in the standard form.
//!
//! ```text
//! id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...
//! ```
//!
//! Field deviations accepted (each has a test named after it): any field order before
//! `text:`; any capitalisation of keys and stat values; `submit_date`/`done_date` spellings;
//! extra spaces between fields and after a colon; unknown extra fields (ignored); dates of
//! 10 (YYMMDDhhmm) or 12 (YYMMDDhhmmss) digits; ids of up to 64 printable characters
//! (hex or decimal, `-`, `_`); every field but `id` and `stat` missing; stat values beyond
//! the seven standard ones (kept raw when unknown); `err` as a number or as text; trailing
//! NUL octets.
//!
//! `text:` is taken as the last field: everything after it, to the end, is the text, kept
//! as raw bytes (it may be in any alphabet). Parsing borrows from the input and allocates
//! nothing. Prefer [`merge_receipt`] when the PDU carries the `receipted_message_id` and
//! `message_state` TLVs: they win over the text.

use std::fmt;

/// Longest message id accepted.
pub const MAX_ID_LEN: usize = 64;
/// Characters of the original message a standard receipt repeats in `text:`.
pub const RECEIPT_TEXT_CHARS: usize = 20;

/// An SMPP `message_state` value (SMPP 3.4 5.2.28, SKIPPED from SMPP 5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageState {
    /// In transit.
    Enroute = 1,
    /// Delivered to the destination.
    Delivered = 2,
    /// Validity period expired.
    Expired = 3,
    /// Deleted.
    Deleted = 4,
    /// Undeliverable.
    Undeliverable = 5,
    /// Accepted (read on the subscriber's behalf, per the specification; see
    /// [`MessageState::is_final`]).
    Accepted = 6,
    /// In an invalid state.
    Unknown = 7,
    /// Rejected.
    Rejected = 8,
    /// Skipped (SMPP 5.0).
    Skipped = 9,
}

impl MessageState {
    /// The state for a `message_state` TLV value, if it is one of 1..=9.
    pub fn from_u8(value: u8) -> Option<MessageState> {
        use MessageState::*;
        [
            Enroute,
            Delivered,
            Expired,
            Deleted,
            Undeliverable,
            Accepted,
            Unknown,
            Rejected,
            Skipped,
        ]
        .get(usize::from(value).checked_sub(1)?)
        .copied()
    }

    /// The `message_state` TLV value.
    pub fn value(self) -> u8 {
        self as u8
    }

    /// Whether no further receipt follows. Per SMPP every state but ENROUTE is final,
    /// ACCEPTED included; some SMSCs send ACCEPTD as an intermediate "accepted by the SMSC"
    /// receipt, which a connector setting in the engine must map.
    pub fn is_final(self) -> bool {
        self != MessageState::Enroute
    }
}

/// The `stat:` field of a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stat<'a> {
    /// DELIVRD.
    Delivered,
    /// EXPIRED.
    Expired,
    /// DELETED.
    Deleted,
    /// UNDELIV.
    Undeliverable,
    /// ACCEPTD.
    Accepted,
    /// UNKNOWN.
    Unknown,
    /// REJECTD.
    Rejected,
    /// ENROUTE.
    Enroute,
    /// SKIPPED.
    Skipped,
    /// ACKED: acknowledged by the SMSC (non-standard, intermediate).
    Acked,
    /// BUFFRED: buffered for a later attempt (non-standard, intermediate).
    Buffered,
    /// Any other value, as found.
    Other(&'a str),
}

impl<'a> Stat<'a> {
    /// Parses a stat value, ignoring case; the seven-letter and the full spellings of each
    /// state are recognised, anything else is kept raw.
    pub fn parse(value: &'a str) -> Stat<'a> {
        const NAMES: [(&str, Stat<'static>); 21] = [
            ("DELIVRD", Stat::Delivered),
            ("DELIVERED", Stat::Delivered),
            ("EXPIRED", Stat::Expired),
            ("DELETED", Stat::Deleted),
            ("UNDELIV", Stat::Undeliverable),
            ("UNDELIVERABLE", Stat::Undeliverable),
            ("ACCEPTD", Stat::Accepted),
            ("ACCEPTED", Stat::Accepted),
            ("UNKNOWN", Stat::Unknown),
            ("REJECTD", Stat::Rejected),
            ("REJECTED", Stat::Rejected),
            ("ENROUTE", Stat::Enroute),
            ("SKIPPED", Stat::Skipped),
            ("ACKED", Stat::Acked),
            ("ACK", Stat::Acked),
            ("BUFFRED", Stat::Buffered),
            ("BUFFERED", Stat::Buffered),
            ("UNDELIVRD", Stat::Undeliverable),
            ("EXPIRD", Stat::Expired),
            ("DELETD", Stat::Deleted),
            ("UNKNWN", Stat::Unknown),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(value))
            .map_or(Stat::Other(value), |&(_, stat)| stat)
    }

    /// The standard spelling (or the raw value of [`Stat::Other`]).
    pub fn as_str(&self) -> &'a str {
        match *self {
            Stat::Delivered => "DELIVRD",
            Stat::Expired => "EXPIRED",
            Stat::Deleted => "DELETED",
            Stat::Undeliverable => "UNDELIV",
            Stat::Accepted => "ACCEPTD",
            Stat::Unknown => "UNKNOWN",
            Stat::Rejected => "REJECTD",
            Stat::Enroute => "ENROUTE",
            Stat::Skipped => "SKIPPED",
            Stat::Acked => "ACKED",
            Stat::Buffered => "BUFFRED",
            Stat::Other(raw) => raw,
        }
    }

    /// The message state it means; ACKED and BUFFRED are in transit (ENROUTE); an unknown
    /// value has none (the connector may map it).
    pub fn message_state(&self) -> Option<MessageState> {
        Some(match self {
            Stat::Delivered => MessageState::Delivered,
            Stat::Expired => MessageState::Expired,
            Stat::Deleted => MessageState::Deleted,
            Stat::Undeliverable => MessageState::Undeliverable,
            Stat::Accepted => MessageState::Accepted,
            Stat::Unknown => MessageState::Unknown,
            Stat::Rejected => MessageState::Rejected,
            Stat::Enroute | Stat::Acked | Stat::Buffered => MessageState::Enroute,
            Stat::Skipped => MessageState::Skipped,
            Stat::Other(_) => return None,
        })
    }

    /// Whether it is final (see [`MessageState::is_final`]); `None` for an unknown value.
    pub fn is_final(&self) -> Option<bool> {
        self.message_state().map(MessageState::is_final)
    }
}

impl fmt::Display for Stat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A receipt date: YYMMDDhhmm with optional seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptDate {
    /// Two-digit year.
    pub year: u8,
    /// Month, 1..=12.
    pub month: u8,
    /// Day, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59, when the date had 12 digits.
    pub second: Option<u8>,
}

impl ReceiptDate {
    /// Parses 10 or 12 digits with every field in range.
    pub fn parse(value: &[u8]) -> Option<ReceiptDate> {
        if !(value.len() == 10 || value.len() == 12) || !value.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let field = |i: usize| -> Option<u8> {
            let pair = value.get(i..i + 2)?;
            Some((pair.first()? - b'0') * 10 + (pair.get(1)? - b'0'))
        };
        let date = ReceiptDate {
            year: field(0)?,
            month: field(2)?,
            day: field(4)?,
            hour: field(6)?,
            minute: field(8)?,
            second: if value.len() == 12 { field(10) } else { None },
        };
        date.is_valid().then_some(date)
    }

    fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour <= 23
            && self.minute <= 59
            && self.second.is_none_or(|s| s <= 59)
    }
}

impl fmt::Display for ReceiptDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )?;
        match self.second {
            Some(s) => write!(f, "{s:02}"),
            None => Ok(()),
        }
    }
}

/// Why a receipt could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ReceiptError {
    /// No `id:` field with a value.
    #[error("receipt has no id")]
    MissingId,
    /// No `stat:` field with a value.
    #[error("receipt has no stat")]
    MissingStat,
    /// The id is longer than [`MAX_ID_LEN`].
    #[error("receipt id of {len} characters exceeds {MAX_ID_LEN}")]
    IdTooLong {
        /// Its length.
        len: usize,
    },
    /// The id holds a byte that is not printable ASCII.
    #[error("receipt id holds byte {byte:#04x}, not printable ASCII")]
    InvalidId {
        /// The offending byte.
        byte: u8,
    },
}

/// Every field a receipt text may carry, each optional: what [`scan_receipt`] finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReceiptFields<'a> {
    /// `id:`.
    pub id: Option<&'a str>,
    /// `sub:` (parts submitted).
    pub submitted: Option<u32>,
    /// `dlvrd:` (parts delivered).
    pub delivered: Option<u32>,
    /// `submit date:`.
    pub submit_date: Option<ReceiptDate>,
    /// `done date:`.
    pub done_date: Option<ReceiptDate>,
    /// `stat:`.
    pub stat: Option<Stat<'a>>,
    /// `err:` as found (a number such as `000`, or vendor text).
    pub err: Option<&'a str>,
    /// `text:` raw, to the end of the input.
    pub text: Option<&'a [u8]>,
}

/// A receipt with the fields every receipt must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Receipt<'a> {
    /// The message id.
    pub id: &'a str,
    /// The state.
    pub stat: Stat<'a>,
    /// `sub:`.
    pub submitted: Option<u32>,
    /// `dlvrd:`.
    pub delivered: Option<u32>,
    /// `submit date:`.
    pub submit_date: Option<ReceiptDate>,
    /// `done date:`.
    pub done_date: Option<ReceiptDate>,
    /// `err:` as found.
    pub err: Option<&'a str>,
    /// `text:` raw.
    pub text: Option<&'a [u8]>,
}

/// The numeric value of an `err:` field, if it is a number (decimal).
pub fn err_code(err: &str) -> Option<u32> {
    err.parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Sub,
    Dlvrd,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
    Unknown,
}

impl Key {
    fn parse(key: &[u8]) -> Key {
        const KEYS: [(&str, Key); 13] = [
            ("id", Key::Id),
            ("sub", Key::Sub),
            ("dlvrd", Key::Dlvrd),
            ("submit_date", Key::SubmitDate),
            ("submitdate", Key::SubmitDate),
            ("submit-date", Key::SubmitDate),
            ("done_date", Key::DoneDate),
            ("donedate", Key::DoneDate),
            ("done-date", Key::DoneDate),
            ("stat", Key::Stat),
            ("status", Key::Stat),
            ("err", Key::Err),
            ("error", Key::Err),
        ];
        KEYS.iter()
            .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(key))
            .map_or(Key::Unknown, |&(_, k)| k)
    }
}

/// Finds every field of a receipt text; fails only on an id that cannot be one.
pub fn scan_receipt(input: &[u8]) -> Result<ReceiptFields<'_>, ReceiptError> {
    let input = trim_trailing_nul(input);
    let (head, text) = match find_text_field(input) {
        Some((head_end, text_start)) => (
            input.get(..head_end).unwrap_or_default(),
            input.get(text_start..),
        ),
        None => (input, None),
    };
    let mut fields = ReceiptFields {
        text,
        ..ReceiptFields::default()
    };
    let mut tokens = head
        .split(u8::is_ascii_whitespace)
        .filter(|t| !t.is_empty())
        .peekable();
    while let Some(token) = tokens.next() {
        let Some((key, mut value)) = key_value(token, &mut tokens) else {
            continue;
        };
        if value.is_empty()
            && let Some(next) = tokens.next_if(|t| !t.contains(&b':'))
        {
            value = next;
        }
        fields.set(key, value)?;
    }
    Ok(fields)
}

/// Splits one field token (with a look at the next for `submit date:` and `done date:`).
fn key_value<'a>(
    token: &'a [u8],
    tokens: &mut std::iter::Peekable<impl Iterator<Item = &'a [u8]>>,
) -> Option<(Key, &'a [u8])> {
    let dated = if token.eq_ignore_ascii_case(b"submit") {
        Some(Key::SubmitDate)
    } else if token.eq_ignore_ascii_case(b"done") {
        Some(Key::DoneDate)
    } else {
        None
    };
    if let Some(key) = dated {
        let next = tokens.next_if(|t| starts_with_ignore_case(t, b"date:"))?;
        return Some((key, next.get(5..).unwrap_or_default()));
    }
    let colon = token.iter().position(|&b| b == b':')?;
    let key = Key::parse(token.get(..colon)?);
    Some((key, token.get(colon + 1..).unwrap_or_default()))
}

impl<'a> ReceiptFields<'a> {
    /// Records a field's value; the first occurrence of a key wins.
    fn set(&mut self, key: Key, value: &'a [u8]) -> Result<(), ReceiptError> {
        if value.is_empty() {
            return Ok(());
        }
        match key {
            Key::Id if self.id.is_none() => self.id = Some(validate_id(value)?),
            Key::Sub if self.submitted.is_none() => self.submitted = parse_count(value),
            Key::Dlvrd if self.delivered.is_none() => self.delivered = parse_count(value),
            Key::SubmitDate if self.submit_date.is_none() => {
                self.submit_date = ReceiptDate::parse(value);
            }
            Key::DoneDate if self.done_date.is_none() => self.done_date = ReceiptDate::parse(value),
            Key::Stat if self.stat.is_none() => self.stat = printable(value).map(Stat::parse),
            Key::Err if self.err.is_none() => self.err = printable(value),
            _ => {}
        }
        Ok(())
    }
}

/// Reads a receipt text that has at least `id:` and `stat:`.
pub fn parse_receipt(input: &[u8]) -> Result<Receipt<'_>, ReceiptError> {
    let fields = scan_receipt(input)?;
    Ok(Receipt {
        id: fields.id.ok_or(ReceiptError::MissingId)?,
        stat: fields.stat.ok_or(ReceiptError::MissingStat)?,
        submitted: fields.submitted,
        delivered: fields.delivered,
        submit_date: fields.submit_date,
        done_date: fields.done_date,
        err: fields.err,
        text: fields.text,
    })
}

fn trim_trailing_nul(input: &[u8]) -> &[u8] {
    let end = input.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    input.get(..end).unwrap_or_default()
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack
        .get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// Where the `text:` field starts: (end of the fields before it, start of its value).
fn find_text_field(input: &[u8]) -> Option<(usize, usize)> {
    (0..input.len()).find_map(|i| {
        let at_field_start = i == 0 || input.get(i - 1).is_some_and(u8::is_ascii_whitespace);
        let rest = input.get(i..)?;
        (at_field_start && starts_with_ignore_case(rest, b"text:")).then_some((i, i + 5))
    })
}

/// Checks a message id: 1..=64 printable ASCII characters.
pub fn validate_id(id: &[u8]) -> Result<&str, ReceiptError> {
    if id.is_empty() {
        return Err(ReceiptError::MissingId);
    }
    if id.len() > MAX_ID_LEN {
        return Err(ReceiptError::IdTooLong { len: id.len() });
    }
    if let Some(&byte) = id.iter().find(|b| !b.is_ascii_graphic()) {
        return Err(ReceiptError::InvalidId { byte });
    }
    std::str::from_utf8(id).map_err(|_| ReceiptError::InvalidId { byte: 0 })
}

/// `value` as text when it is UTF-8 without control characters (NUL included).
fn printable(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(value)
        .ok()
        .filter(|v| !v.chars().any(char::is_control))
}

fn parse_count(value: &[u8]) -> Option<u32> {
    if value.len() > 9 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

impl Receipt<'_> {
    /// Appends the receipt in the standard format to `out`; absent optional fields are
    /// left out, counts are written with at least three digits.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail.
        let _ = self.write_fields(out);
        if let Some(text) = self.text {
            out.extend_from_slice(b" text:");
            out.extend_from_slice(text);
        }
    }

    fn write_fields(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        use std::io::Write;
        write!(out, "id:{}", self.id)?;
        if let Some(n) = self.submitted {
            write!(out, " sub:{n:03}")?;
        }
        if let Some(n) = self.delivered {
            write!(out, " dlvrd:{n:03}")?;
        }
        if let Some(d) = self.submit_date {
            write!(out, " submit date:{d}")?;
        }
        if let Some(d) = self.done_date {
            write!(out, " done date:{d}")?;
        }
        write!(out, " stat:{}", self.stat)?;
        if let Some(err) = self.err {
            write!(out, " err:{err}")?;
        }
        Ok(())
    }

    /// The receipt in the standard format; see [`Receipt::write_to`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        self.write_to(&mut out);
        out
    }
}

/// The first [`RECEIPT_TEXT_CHARS`] characters of a message, for a receipt's `text:`.
pub fn receipt_text(message: &str) -> &str {
    let end = message
        .char_indices()
        .nth(RECEIPT_TEXT_CHARS)
        .map_or(message.len(), |(i, _)| i);
    message.get(..end).unwrap_or(message)
}

/// Where a merged value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The `receipted_message_id` / `message_state` TLV.
    Tlv,
    /// The receipt text.
    Text,
}

/// A receipt read from TLVs and text together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MergedReceipt<'a> {
    /// The message id (TLV when valid, else text).
    pub id: &'a str,
    /// Where the id came from.
    pub id_source: Source,
    /// The state (TLV when valid, else the text's stat), if either gives one.
    pub state: Option<MessageState>,
    /// Where the state came from.
    pub state_source: Option<Source>,
    /// The text's fields (empty when the text could not be read and the TLVs sufficed).
    pub fields: ReceiptFields<'a>,
}

/// Reads a receipt from the optional `receipted_message_id` and `message_state` TLV values
/// and the receipt text (from short_message or message_payload); the TLVs win.
///
/// A TLV id is a C-octet string: trailing NULs are dropped. An invalid TLV (empty or overlong
/// id, state outside 1..=9) is ignored in favour of the text. The text may then be anything
/// when the TLVs carry a valid id.
pub fn merge_receipt<'a>(
    receipted_message_id: Option<&'a [u8]>,
    message_state: Option<u8>,
    text: &'a [u8],
) -> Result<MergedReceipt<'a>, ReceiptError> {
    let tlv_id = receipted_message_id.and_then(|raw| validate_id(trim_trailing_nul(raw)).ok());
    let (fields, text_error) = match scan_receipt(text) {
        Ok(fields) => (fields, None),
        Err(e) => (ReceiptFields::default(), Some(e)),
    };
    let (id, id_source) = match (tlv_id, fields.id) {
        (Some(id), _) => (id, Source::Tlv),
        (None, Some(id)) => (id, Source::Text),
        (None, None) => return Err(text_error.unwrap_or(ReceiptError::MissingId)),
    };
    let text_state = fields.stat.and_then(|s| s.message_state());
    let (state, state_source) = match (message_state.and_then(MessageState::from_u8), text_state) {
        (Some(s), _) => (Some(s), Some(Source::Tlv)),
        (None, Some(s)) => (Some(s), Some(Source::Text)),
        (None, None) => (None, None),
    };
    Ok(MergedReceipt {
        id,
        id_source,
        state,
        state_source,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: &[u8] = b"id:1234567890 sub:001 dlvrd:001 submit date:2401011200 \
        done date:2401011201 stat:DELIVRD err:000 text:Hello world";

    #[test]
    fn standard_receipt_parses_every_field() {
        let r = parse_receipt(STANDARD).unwrap();
        assert_eq!(r.id, "1234567890");
        assert_eq!(r.stat, Stat::Delivered);
        assert_eq!((r.submitted, r.delivered), (Some(1), Some(1)));
        assert_eq!(r.submit_date.unwrap().to_string(), "2401011200");
        assert_eq!(r.done_date.unwrap().minute, 1);
        assert_eq!(r.err, Some("000"));
        assert_eq!(err_code(r.err.unwrap()), Some(0));
        assert_eq!(r.text, Some(&b"Hello world"[..]));
    }

    #[test]
    fn standard_receipt_builds_back_byte_for_byte() {
        let r = parse_receipt(STANDARD).unwrap();
        assert_eq!(r.to_bytes(), STANDARD);
    }

    #[test]
    fn message_state_values_map_both_ways() {
        for v in 1..=9 {
            assert_eq!(MessageState::from_u8(v).unwrap().value(), v);
        }
        assert_eq!(MessageState::from_u8(0), None);
        assert_eq!(MessageState::from_u8(10), None);
        assert!(!MessageState::Enroute.is_final());
        assert!(MessageState::Skipped.is_final());
    }

    #[test]
    fn receipt_text_keeps_the_first_twenty_characters() {
        assert_eq!(receipt_text("ab"), "ab");
        assert_eq!(receipt_text(&"é".repeat(30)), "é".repeat(20));
    }
}
