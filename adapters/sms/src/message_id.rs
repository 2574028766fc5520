//! Normalising message ids between hex and decimal.
//!
//! Many SMSCs return the id in `submit_sm_resp` in one radix and repeat it in the receipt
//! in the other (commonly hex in the response, decimal in the receipt). The connector knows
//! which; these helpers convert without allocating, for ids up to 128 bits (32 hex or 39
//! decimal digits). Ids that are not numbers at all (UUIDs, vendor strings) are compared
//! as found.

use std::fmt;
use std::ops::Deref;

/// The radix an id is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdRadix {
    /// Base 10.
    Decimal,
    /// Base 16 (an optional `0x` prefix is accepted when reading).
    Hex,
}

/// Letter case of written hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HexCase {
    /// `a`..`f`.
    Lower,
    /// `A`..`F`.
    Upper,
}

/// Why an id could not be read as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IdError {
    /// No digits.
    #[error("message id has no digits")]
    Empty,
    /// A character that is not a digit of the radix.
    #[error("message id has {byte:#04x} at {index}, not a digit of the radix")]
    InvalidDigit {
        /// Its position.
        index: usize,
        /// The byte.
        byte: u8,
    },
    /// The number needs more than 128 bits.
    #[error("message id does not fit 128 bits")]
    TooLarge,
}

/// Most digits a 128-bit value takes (39 decimal digits).
const MAX_DIGITS: usize = 39;

/// An id written by [`format_id`], held inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdBuf {
    bytes: [u8; MAX_DIGITS],
    len: u8,
}

impl Deref for IdBuf {
    type Target = str;

    fn deref(&self) -> &str {
        let digits = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        // Only ASCII digits and letters are ever written.
        std::str::from_utf8(digits).unwrap_or_default()
    }
}

impl fmt::Display for IdBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl fmt::Debug for IdBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Reads `id` as a number in `radix`; leading zeros are allowed.
pub fn parse_id(id: &str, radix: IdRadix) -> Result<u128, IdError> {
    let (digits, offset, base) = match radix {
        IdRadix::Decimal => (id, 0, 10),
        IdRadix::Hex => match id.strip_prefix("0x").or_else(|| id.strip_prefix("0X")) {
            Some(rest) => (rest, 2, 16),
            None => (id, 0, 16),
        },
    };
    if digits.is_empty() {
        return Err(IdError::Empty);
    }
    digits
        .bytes()
        .enumerate()
        .try_fold(0u128, |acc, (i, byte)| {
            let digit = char::from(byte)
                .to_digit(base)
                .ok_or(IdError::InvalidDigit {
                    index: i + offset,
                    byte,
                })?;
            acc.checked_mul(u128::from(base))
                .and_then(|v| v.checked_add(u128::from(digit)))
                .ok_or(IdError::TooLarge)
        })
}

/// Writes `value` in `radix` without leading zeros (hex in `case`).
pub fn format_id(value: u128, radix: IdRadix, case: HexCase) -> IdBuf {
    let base: u128 = match radix {
        IdRadix::Decimal => 10,
        IdRadix::Hex => 16,
    };
    let letters: &[u8; 16] = match case {
        HexCase::Lower => b"0123456789abcdef",
        HexCase::Upper => b"0123456789ABCDEF",
    };
    let mut reversed = [0u8; MAX_DIGITS];
    let mut len = 0;
    let mut rest = value;
    loop {
        // `rest % base` is below 16, so it indexes `letters`.
        let digit = letters.get((rest % base) as usize).copied().unwrap_or(b'0');
        if let Some(slot) = reversed.get_mut(len) {
            *slot = digit;
            len += 1;
        }
        rest /= base;
        if rest == 0 {
            break;
        }
    }
    let mut bytes = [0u8; MAX_DIGITS];
    for (dst, src) in bytes
        .iter_mut()
        .zip(reversed.get(..len).unwrap_or_default().iter().rev())
    {
        *dst = *src;
    }
    IdBuf {
        bytes,
        // At most 39 digits, so the cast is exact.
        len: len as u8,
    }
}

/// The decimal form of a hex id.
pub fn hex_to_decimal(id: &str) -> Result<IdBuf, IdError> {
    parse_id(id, IdRadix::Hex).map(|v| format_id(v, IdRadix::Decimal, HexCase::Lower))
}

/// The hex form of a decimal id, in `case`.
pub fn decimal_to_hex(id: &str, case: HexCase) -> Result<IdBuf, IdError> {
    parse_id(id, IdRadix::Decimal).map(|v| format_id(v, IdRadix::Hex, case))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_id_converts_to_decimal_and_back() {
        assert_eq!(&*hex_to_decimal("1A2B3C").unwrap(), "1715004");
        assert_eq!(
            &*decimal_to_hex("1715004", HexCase::Upper).unwrap(),
            "1A2B3C"
        );
        assert_eq!(
            &*decimal_to_hex("1715004", HexCase::Lower).unwrap(),
            "1a2b3c"
        );
        assert_eq!(&*hex_to_decimal("0x00ff").unwrap(), "255");
        assert_eq!(&*hex_to_decimal("0").unwrap(), "0");
    }

    #[test]
    fn largest_ids_fit_and_larger_ones_are_refused() {
        let max = "f".repeat(32);
        assert_eq!(&*hex_to_decimal(&max).unwrap(), u128::MAX.to_string());
        assert_eq!(hex_to_decimal(&"f".repeat(33)), Err(IdError::TooLarge));
    }

    #[test]
    fn non_numeric_ids_are_typed_errors() {
        assert_eq!(hex_to_decimal(""), Err(IdError::Empty));
        assert_eq!(
            decimal_to_hex("12a", HexCase::Lower),
            Err(IdError::InvalidDigit {
                index: 2,
                byte: b'a'
            })
        );
        assert_eq!(
            hex_to_decimal("ab-cd"),
            Err(IdError::InvalidDigit {
                index: 2,
                byte: b'-'
            })
        );
    }
}
