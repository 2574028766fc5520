//! Turning a client's text or octets into [`Encoded`] parts with `tern-sms`.
//!
//! Text gets the cheapest exact encoding (GSM 7-bit default alphabet, else UCS-2; Latin-1
//! only when asked, because many SMSCs read data_coding 3 wrongly) unless the client
//! names one. A long message is cut into at most [`MAX_PARTS`] parts with an 8-bit
//! concatenation reference taken from the server's counter; `tern-sms` never cuts an
//! escape sequence or a surrogate pair. GSM 7-bit parts are unpacked (one septet per
//! octet), as SMSCs expect over SMPP with data_coding 0.

use std::cell::Cell;

use tern_sms::segment::{self, Concatenation, SegmentConfig, SeptetForm};
use tern_sms::{EncodedText, Encoding, EncodingPolicy};

use crate::api::Encoded;

/// Most parts one message may take (the most an 8-bit concatenation IE can number).
pub const MAX_PARTS: u8 = 255;

/// The encoding a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// Cheapest exact (GSM 7-bit, else UCS-2).
    Auto,
    /// GSM 7-bit default alphabet.
    Gsm7,
    /// UCS-2.
    Ucs2,
    /// ISO-8859-1.
    Latin1,
    /// 8-bit binary (only with octets).
    Binary,
}

/// Why content could not be encoded (the caller names the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeProblem {
    /// A character the chosen encoding lacks.
    #[error("character {0:?} cannot be written in the requested coding")]
    Unencodable(char),
    /// Text with coding binary.
    #[error("binary coding needs hex content")]
    BinaryText,
    /// UCS-2 octets of odd length, or GSM septets above 0x7F.
    #[error("octets do not fit the requested coding")]
    BadOctets,
    /// More than [`MAX_PARTS`] parts.
    #[error("message needs {0} parts, more than {MAX_PARTS}")]
    TooLong(usize),
    /// A UDH whose length octet disagrees with its size.
    #[error("udh length octet does not match its size")]
    BadUdh,
    /// Content and UDH do not fit one short message (a client UDH is never split).
    #[error("content with its udh exceeds one short message")]
    UdhTooLong,
}

/// Encodes `text` as `coding` asks.
pub fn encode_text(text: &str, coding: Coding) -> Result<EncodedText, EncodeProblem> {
    let encoding = match coding {
        Coding::Auto => return Ok(EncodedText::encode_best(text, &EncodingPolicy::default())),
        Coding::Gsm7 => Encoding::GSM7,
        Coding::Ucs2 => Encoding::Ucs2,
        Coding::Latin1 => Encoding::Latin1,
        Coding::Binary => return Err(EncodeProblem::BinaryText),
    };
    EncodedText::encode(text, encoding).map_err(|e| match e {
        tern_sms::EncodeError::Unencodable { ch, .. } => EncodeProblem::Unencodable(ch),
        tern_sms::EncodeError::BinaryIsNotText => EncodeProblem::BinaryText,
    })
}

/// Encodes `text` in `encoding`, writing `?` for what it lacks (Jasmin's and Kannel's
/// lossy conversion).
pub fn encode_lossy(text: &str, encoding: Encoding) -> EncodedText {
    if let Ok(e) = EncodedText::encode(text, encoding) {
        return e;
    }
    let mut buf = [0u8; 4];
    let replaced: String = text
        .chars()
        .map(|c| {
            if EncodedText::encode(c.encode_utf8(&mut buf), encoding).is_ok() {
                c
            } else {
                '?'
            }
        })
        .collect();
    EncodedText::encode(&replaced, encoding)
        .unwrap_or_else(|_| EncodedText::from_units(encoding, Vec::new()))
}

/// Wraps octets given in hex as units of `coding`.
pub fn encode_octets(octets: Vec<u8>, coding: Coding) -> Result<EncodedText, EncodeProblem> {
    match coding {
        Coding::Auto | Coding::Binary => Ok(EncodedText::binary(octets)),
        Coding::Latin1 => Ok(EncodedText::from_units(Encoding::Latin1, octets)),
        Coding::Ucs2 if octets.len().is_multiple_of(2) => {
            Ok(EncodedText::from_units(Encoding::Ucs2, octets))
        }
        Coding::Gsm7 if octets.iter().all(|&b| b < 0x80) => {
            Ok(EncodedText::from_units(Encoding::GSM7, octets))
        }
        Coding::Ucs2 | Coding::Gsm7 => Err(EncodeProblem::BadOctets),
    }
}

/// Cuts `text` into parts (with a reference from `next_ref` when it needs more than one),
/// or sends it whole behind the client's `udh`.
pub fn into_parts(
    text: &EncodedText,
    udh: Option<&[u8]>,
    next_ref: &Cell<u8>,
) -> Result<Encoded, EncodeProblem> {
    let encoding = text.encoding();
    if let Some(udh) = udh {
        return with_client_udh(text, udh);
    }
    let reference = next_ref.get();
    let config = SegmentConfig {
        concatenation: Concatenation::Udh8 { reference },
        max_parts: MAX_PARTS,
    };
    let segments = segment::segment(text, &config).map_err(|e| match e {
        tern_sms::SegmentError::TooManyParts { needed, .. } => EncodeProblem::TooLong(needed),
        _ => EncodeProblem::TooLong(usize::from(MAX_PARTS) + 1),
    })?;
    if segments.len() > 1 {
        next_ref.set(reference.wrapping_add(1));
    }
    Ok(Encoded {
        data_coding: encoding.data_coding(),
        udhi: segments.udhi(),
        parts: segments
            .iter()
            .map(|p| p.user_data(SeptetForm::Unpacked))
            .collect(),
    })
}

fn with_client_udh(text: &EncodedText, udh: &[u8]) -> Result<Encoded, EncodeProblem> {
    let declared = udh.first().map(|&l| usize::from(l) + 1);
    if declared != Some(udh.len()) {
        return Err(EncodeProblem::BadUdh);
    }
    let encoding = text.encoding();
    let fits = match encoding {
        // The header takes whole septets: ceil(octets * 8 / 7).
        Encoding::Gsm7(_) => (udh.len() * 8).div_ceil(7) + text.units().len() <= 160,
        _ => udh.len() + text.units().len() <= 140,
    };
    if !fits {
        return Err(EncodeProblem::UdhTooLong);
    }
    let mut part = udh.to_vec();
    part.extend_from_slice(text.units());
    Ok(Encoded {
        data_coding: encoding.data_coding(),
        udhi: true,
        parts: vec![part],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_gsm_text_takes_three_parts_with_one_reference() {
        let counter = Cell::new(7);
        let text = encode_text(&"a".repeat(400), Coding::Auto).unwrap_or_else(|_| unreachable!());
        let encoded = into_parts(&text, None, &counter).unwrap_or_else(|_| unreachable!());
        assert_eq!(encoded.parts.len(), 3);
        assert!(encoded.udhi);
        for (i, part) in encoded.parts.iter().enumerate() {
            assert_eq!(part.get(..6), Some(&[5, 0, 3, 7, 3, i as u8 + 1][..]));
        }
        assert_eq!(counter.get(), 8);
    }

    #[test]
    fn non_gsm_text_is_ucs2_in_auto() {
        let text = encode_text("Привет", Coding::Auto).unwrap_or_else(|_| unreachable!());
        assert_eq!(text.encoding(), Encoding::Ucs2);
        assert_eq!(
            encode_text("Привет", Coding::Gsm7),
            Err(EncodeProblem::Unencodable('П'))
        );
    }

    #[test]
    fn client_udh_must_declare_its_length() {
        let text = EncodedText::binary(vec![1, 2]);
        let counter = Cell::new(0);
        assert_eq!(
            into_parts(&text, Some(&[5, 0, 3]), &counter),
            Err(EncodeProblem::BadUdh)
        );
        let ok = into_parts(&text, Some(&[2, 0x70, 0]), &counter);
        assert_eq!(ok.map(|e| e.parts), Ok(vec![vec![2, 0x70, 0, 1, 2]]));
    }
}
