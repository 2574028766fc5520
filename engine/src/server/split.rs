//! A client's message_payload (submit_sm's TLV, or a data_sm) shaped for the upstream
//! that the route's first connector reaches.
//!
//! Most SMSCs take short_message only, so by default (`message_payload = "split"`) a
//! payload longer than one part is split here with tern-sms segmentation into
//! [`Content::Split`] parts tied by the connector's `split_udh` (a concatenation element
//! with an 8- or 16-bit reference in each part's UDH, or the sar_* TLVs), and one that
//! fits goes as a plain short_message. The alphabet comes from data_coding as the
//! connector reads it (`quirks.dcs0`); GSM 7-bit is one septet per octet, unpacked, as
//! everywhere in the engine. A cut never separates a GSM escape from its character nor
//! the halves of a UCS-2 surrogate pair. The lifecycle then tracks the parts together
//! (one receipt per part upstream, one status for the client).
//!
//! Left whole in message_payload: `message_payload = "pass"`, a payload whose esm_class
//! says it carries the client's own UDH (its parts cannot be re-tied without parsing
//! it), and a data_coding whose alphabet is not known (a cut could split a character).

use std::borrow::Cow;

use tern_sms::data_coding::{Alphabet, DefaultAlphabet, alphabet};
use tern_sms::segment::{Concatenation, SegmentConfig, SeptetForm, segment};
use tern_sms::{EncodedText, Encoding};

use crate::config::{ConnectorConfig, Dcs0, PayloadHandling, SplitConcat};
use crate::message::{Content, PARTS_MAX, SplitParts};

/// esm_class bit saying the user data starts with a UDH.
pub const ESM_UDHI: u8 = 0x40;

/// Why a payload could not be shaped for its upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// It needs more parts than a concatenation can number.
    #[error("payload needs {needed} parts, more than {PARTS_MAX}")]
    TooManyParts {
        /// Parts it would need.
        needed: usize,
    },
    /// The parts did not make a valid record (a bug: segmentation bounds them).
    #[error("split parts: {0}")]
    Parts(String),
}

/// A payload as it goes upstream, and whether its parts carry a UDH (esm_class UDHI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shaped {
    /// What the record holds.
    pub content: Content<'static>,
    /// True when every part starts with a UDH.
    pub udhi: bool,
}

/// Shapes `payload` (data_coding `data_coding`, the client's `esm_class`) for
/// `connector`; `reference` ties the parts of this one message (its low 8 bits for
/// `udh8`).
pub fn shape_payload(
    payload: Vec<u8>,
    data_coding: u8,
    esm_class: u8,
    connector: &ConnectorConfig,
    reference: u16,
) -> Result<Shaped, SplitError> {
    let whole = |payload| Shaped {
        content: Content::MessagePayload(Cow::Owned(payload)),
        udhi: false,
    };
    if connector.message_payload == PayloadHandling::Pass || esm_class & ESM_UDHI != 0 {
        return Ok(whole(payload));
    }
    let Some(encoding) = encoding_of(data_coding, connector.quirks.dcs0) else {
        return Ok(whole(payload));
    };
    let concatenation = match connector.split_udh {
        SplitConcat::Udh8 => Concatenation::Udh8 {
            reference: reference.to_be_bytes()[1],
        },
        SplitConcat::Udh16 => Concatenation::Udh16 { reference },
        SplitConcat::Sar => Concatenation::Sar { reference },
    };
    let config = SegmentConfig {
        concatenation,
        max_parts: u8::try_from(PARTS_MAX).unwrap_or(u8::MAX),
    };
    let encoded = EncodedText::from_units(encoding, payload);
    let segments = match segment(&encoded, &config) {
        Ok(segments) => segments,
        Err(tern_sms::segment::SegmentError::TooManyParts { needed, .. }) => {
            return Err(SplitError::TooManyParts { needed });
        }
        Err(e) => return Err(SplitError::Parts(e.to_string())),
    };
    let parts: Vec<Vec<u8>> = segments
        .iter()
        .map(|part| part.user_data(SeptetForm::Unpacked))
        .collect();
    let udhi = segments.udhi();
    if let [one] = parts.as_slice() {
        // Fits one part: no header was added, it goes as a plain short_message.
        return Ok(Shaped {
            content: Content::ShortMessage(Cow::Owned(one.clone())),
            udhi,
        });
    }
    let sar_reference = matches!(concatenation, Concatenation::Sar { .. }).then_some(reference);
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let split =
        SplitParts::new(sar_reference, &refs).map_err(|e| SplitError::Parts(e.to_string()))?;
    Ok(Shaped {
        content: Content::Split(split),
        udhi,
    })
}

/// The encoding whose units the payload holds, as the connector reads `data_coding`.
fn encoding_of(data_coding: u8, dcs0: Dcs0) -> Option<Encoding> {
    let default = match dcs0 {
        Dcs0::Gsm7 => DefaultAlphabet::Gsm7,
        Dcs0::Latin1 => DefaultAlphabet::Latin1,
        Dcs0::Ascii => DefaultAlphabet::Ascii,
    };
    Some(match alphabet(data_coding, default)? {
        Alphabet::Gsm7 => Encoding::GSM7,
        Alphabet::Ascii => Encoding::Ascii,
        Alphabet::Latin1 => Encoding::Latin1,
        Alphabet::Ucs2 => Encoding::Ucs2,
        Alphabet::Binary => Encoding::Binary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(split_udh: SplitConcat) -> ConnectorConfig {
        ConnectorConfig {
            split_udh,
            ..ConnectorConfig::default()
        }
    }

    fn parts(shaped: &Shaped) -> Vec<Vec<u8>> {
        match &shaped.content {
            Content::Split(parts) => parts.iter().map(<[u8]>::to_vec).collect(),
            other => panic!("not split: {other:?}"),
        }
    }

    #[test]
    fn a_long_gsm_payload_becomes_udh8_parts_that_join_back() {
        let text: Vec<u8> = (0..400u32).map(|i| b'a' + (i % 26) as u8).collect();
        let shaped = shape_payload(text.clone(), 0, 0, &connector(SplitConcat::Udh8), 0x1234)
            .expect("split");
        let parts = parts(&shaped);
        assert!(shaped.udhi);
        assert_eq!(parts.len(), 3);
        let mut joined = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let seq = u8::try_from(i + 1).expect("seq");
            assert_eq!(part[..6], [5, 0x00, 3, 0x34, 3, seq]);
            assert!(
                part.len() - 6 <= 153,
                "153 septets after an 8-bit concat UDH"
            );
            joined.extend_from_slice(&part[6..]);
        }
        assert_eq!(joined, text);
    }

    #[test]
    fn a_gsm_escape_is_never_cut_from_its_character() {
        // 152 plain septets then escapes: the 153rd septet would be an ESC alone.
        let mut text = vec![b'a'; 152];
        text.extend([0x1B, 0x65].repeat(20));
        let shaped = shape_payload(text, 0, 0, &connector(SplitConcat::Udh8), 1).expect("split");
        for part in parts(&shaped) {
            let body = &part[6..];
            let trailing_escapes = body.iter().rev().take_while(|&&u| u == 0x1B).count();
            assert_eq!(trailing_escapes % 2, 0, "a part ends inside an escape");
        }
    }

    #[test]
    fn a_ucs2_surrogate_pair_is_never_cut() {
        // 66 BMP characters then emoji: the 67th code unit is a high surrogate.
        let mut units = [0x00, 0x41].repeat(66);
        units.extend([0xD8, 0x3D, 0xDE, 0x00].repeat(40));
        let shaped = shape_payload(units, 8, 0, &connector(SplitConcat::Udh8), 1).expect("split");
        for part in parts(&shaped) {
            let body = &part[6..];
            assert!(!matches!(body.get(body.len() - 2), Some(0xD8..=0xDB)));
        }
    }

    #[test]
    fn sar_parts_carry_no_udh_and_the_reference() {
        let shaped =
            shape_payload(vec![b'x'; 400], 0, 0, &connector(SplitConcat::Sar), 77).expect("split");
        assert!(!shaped.udhi);
        let Content::Split(split) = &shaped.content else {
            panic!("not split");
        };
        assert_eq!(split.sar_reference(), Some(77));
        assert!(split.iter().all(|p| p.len() <= 152));
    }

    #[test]
    fn a_payload_that_fits_one_part_goes_as_short_message() {
        let shaped = shape_payload(vec![b'x'; 160], 0, 0, &connector(SplitConcat::Udh16), 1)
            .expect("shaped");
        assert_eq!(
            shaped.content,
            Content::ShortMessage(Cow::Owned(vec![b'x'; 160]))
        );
        assert!(!shaped.udhi);
    }

    #[test]
    fn pass_a_client_udh_or_an_unknown_alphabet_keeps_the_payload_whole() {
        let mut pass = connector(SplitConcat::Udh8);
        pass.message_payload = PayloadHandling::Pass;
        let udh8 = connector(SplitConcat::Udh8);
        for (connector, data_coding, esm_class) in
            [(&pass, 0, 0), (&udh8, 0, ESM_UDHI), (&udh8, 0x06, 0)]
        {
            let shaped =
                shape_payload(vec![b'x'; 400], data_coding, esm_class, connector, 1).expect("ok");
            assert!(matches!(shaped.content, Content::MessagePayload(_)));
        }
    }

    #[test]
    fn a_payload_beyond_255_parts_is_refused() {
        let refused = shape_payload(vec![b'x'; 40_000], 4, 0, &connector(SplitConcat::Udh8), 1);
        assert!(matches!(refused, Err(SplitError::TooManyParts { .. })));
    }
}
