//! Mapping an SMPP `data_coding` value to the alphabet of the user data.
//!
//! Values 0x00..=0x0F are SMPP's own (SMPP 3.4 5.2.19); the rest follow the GSM data coding
//! scheme groups of TS 23.038 chapter 4. What 0 ("SMSC default alphabet") means differs by
//! SMSC, so the connector says ([`DefaultAlphabet`]).

/// The alphabet of user data, without GSM table details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// GSM 7-bit.
    Gsm7,
    /// IA5 / ASCII.
    Ascii,
    /// ISO-8859-1.
    Latin1,
    /// UCS-2.
    Ucs2,
    /// 8-bit data.
    Binary,
}

/// What `data_coding` 0 means on a link (a per-connector setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DefaultAlphabet {
    /// GSM 7-bit (the common case).
    #[default]
    Gsm7,
    /// ISO-8859-1.
    Latin1,
    /// IA5 / ASCII.
    Ascii,
}

/// The alphabet `data_coding` announces, or `None` for one this crate does not decode
/// (JIS, Cyrillic, Hebrew, pictogram, Kanji, KS C 5601, compressed, reserved groups).
pub fn alphabet(data_coding: u8, default: DefaultAlphabet) -> Option<Alphabet> {
    match data_coding {
        0x00 => Some(match default {
            DefaultAlphabet::Gsm7 => Alphabet::Gsm7,
            DefaultAlphabet::Latin1 => Alphabet::Latin1,
            DefaultAlphabet::Ascii => Alphabet::Ascii,
        }),
        0x01 => Some(Alphabet::Ascii),
        0x02 | 0x04 => Some(Alphabet::Binary),
        0x03 => Some(Alphabet::Latin1),
        0x08 => Some(Alphabet::Ucs2),
        0x05..=0x07 | 0x09..=0x0F => None,
        // General data coding groups 00xx / 01xx: bit 5 = compressed, bits 3..2 = alphabet.
        0x10..=0x7F => general_group(data_coding),
        // Message waiting groups: discard / store (GSM 7-bit), store (UCS-2).
        0xC0..=0xDF => Some(Alphabet::Gsm7),
        0xE0..=0xEF => Some(Alphabet::Ucs2),
        // Data coding / message class group: bit 2 selects 8-bit data.
        0xF0..=0xFF => Some(if data_coding & 0x04 != 0 {
            Alphabet::Binary
        } else {
            Alphabet::Gsm7
        }),
        0x80..=0xBF => None,
    }
}

fn general_group(data_coding: u8) -> Option<Alphabet> {
    if data_coding & 0x20 != 0 {
        return None;
    }
    match (data_coding >> 2) & 0x03 {
        0 => Some(Alphabet::Gsm7),
        1 => Some(Alphabet::Binary),
        2 => Some(Alphabet::Ucs2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_what_the_connector_says() {
        assert_eq!(alphabet(0, DefaultAlphabet::Gsm7), Some(Alphabet::Gsm7));
        assert_eq!(alphabet(0, DefaultAlphabet::Latin1), Some(Alphabet::Latin1));
    }

    #[test]
    fn smpp_and_gsm_groups_map_to_their_alphabets() {
        let d = DefaultAlphabet::Gsm7;
        assert_eq!(alphabet(0x03, d), Some(Alphabet::Latin1));
        assert_eq!(alphabet(0x08, d), Some(Alphabet::Ucs2));
        assert_eq!(alphabet(0x04, d), Some(Alphabet::Binary));
        assert_eq!(alphabet(0x18, d), Some(Alphabet::Ucs2));
        assert_eq!(alphabet(0x11, d), Some(Alphabet::Gsm7));
        assert_eq!(alphabet(0xF4, d), Some(Alphabet::Binary));
        assert_eq!(alphabet(0xF0, d), Some(Alphabet::Gsm7));
        assert_eq!(alphabet(0x06, d), None);
        assert_eq!(alphabet(0x28, d), None);
    }
}
