//! Reading the user data of a received part (deliver_sm / MO): header, payload and text.

use crate::data_coding::Alphabet;
use crate::encoding::{self, Encoding};
use crate::gsm7::pack;
use crate::segment::SeptetForm;
use crate::udh::{self, Udh, UdhError};

/// User data split into its optional header and the payload after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedUserData<'a> {
    /// The header, when the UDHI flag was set.
    pub udh: Option<Udh<'a>>,
    /// The data after the header.
    pub payload: &'a [u8],
}

impl<'a> ParsedUserData<'a> {
    /// Splits `user_data`; `udhi` is the esm_class UDHI flag (0x40) or TP-UDHI.
    pub fn parse(user_data: &'a [u8], udhi: bool) -> Result<ParsedUserData<'a>, UdhError> {
        if !udhi {
            return Ok(ParsedUserData {
                udh: None,
                payload: user_data,
            });
        }
        let (udh, payload) = udh::split_user_data(user_data)?;
        Ok(ParsedUserData {
            udh: Some(udh),
            payload,
        })
    }

    /// Octets of the header, length octet included (0 without one).
    pub fn udh_octets(&self) -> usize {
        self.udh.map_or(0, |u| u.len_octets())
    }

    /// The encoding of the payload for `alphabet`, with GSM tables from the header's
    /// national language IEs.
    pub fn encoding(&self, alphabet: Alphabet) -> Encoding {
        match alphabet {
            Alphabet::Gsm7 => Encoding::Gsm7(self.udh.map(|u| u.gsm7_tables()).unwrap_or_default()),
            Alphabet::Ascii => Encoding::Ascii,
            Alphabet::Latin1 => Encoding::Latin1,
            Alphabet::Ucs2 => Encoding::Ucs2,
            Alphabet::Binary => Encoding::Binary,
        }
    }

    /// The payload's septets (GSM 7-bit) or octets, unpacked when `form` is packed.
    ///
    /// For packed text `septet_count` is the text's septets (user data length less the
    /// header's septets). Without it every whole septet is read and a final septet that
    /// ends exactly on the last octet boundary is dropped when it is 0x00 or CR, the
    /// padding TS 23.038 6.1.2.3.1 describes; a real trailing `@` or CR there is lost.
    pub fn units(
        &self,
        alphabet: Alphabet,
        form: SeptetForm,
        septet_count: Option<usize>,
    ) -> Vec<u8> {
        if alphabet != Alphabet::Gsm7 || form == SeptetForm::Unpacked {
            return self.payload.to_vec();
        }
        let fill = if self.udh.is_some() {
            pack::fill_bits_after_udh(self.udh_octets())
        } else {
            0
        };
        let count = septet_count.unwrap_or_else(|| pack::max_septets(self.payload.len(), fill));
        let mut septets = pack::unpack(self.payload, fill, count);
        let ends_on_boundary = septets.len() * 7 + usize::from(fill) == self.payload.len() * 8;
        if septet_count.is_none() && ends_on_boundary && matches!(septets.last(), Some(0x00 | 0x0D))
        {
            septets.pop();
        }
        septets
    }

    /// The payload as text; see [`ParsedUserData::units`] and [`encoding::decode_into`].
    pub fn text(
        &self,
        alphabet: Alphabet,
        form: SeptetForm,
        septet_count: Option<usize>,
    ) -> String {
        let units = self.units(alphabet, form, septet_count);
        encoding::decode(self.encoding(alphabet), &units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::EncodedText;
    use crate::segment::{Concatenation, SegmentConfig, segment};

    #[test]
    fn packed_part_with_header_decodes_after_its_fill_bits() {
        let text = "x".repeat(200);
        let encoded = EncodedText::encode(&text, Encoding::GSM7).unwrap();
        let parts = segment(
            &encoded,
            &SegmentConfig::new(Concatenation::Udh8 { reference: 5 }),
        )
        .unwrap();
        let mut out = String::new();
        for part in parts.iter() {
            let data = part.user_data(SeptetForm::Packed);
            let parsed = ParsedUserData::parse(&data, true).unwrap();
            assert_eq!(parsed.udh.unwrap().concat().unwrap().reference, 5);
            out += &parsed.text(Alphabet::Gsm7, SeptetForm::Packed, Some(part.units().len()));
        }
        assert_eq!(out, text);
    }

    #[test]
    fn packed_text_without_count_drops_only_boundary_padding() {
        let seven = pack::pack(b"abcdefg", 0);
        let parsed = ParsedUserData::parse(&seven, false).unwrap();
        assert_eq!(
            parsed.text(Alphabet::Gsm7, SeptetForm::Packed, None),
            "abcdefg"
        );
        let eight = pack::pack(b"abcdefgh", 0);
        let parsed = ParsedUserData::parse(&eight, false).unwrap();
        assert_eq!(
            parsed.text(Alphabet::Gsm7, SeptetForm::Packed, None),
            "abcdefgh"
        );
    }

    #[test]
    fn unpacked_septets_are_taken_as_they_are() {
        let parsed = ParsedUserData::parse(b"Hi", false).unwrap();
        assert_eq!(
            parsed.text(Alphabet::Gsm7, SeptetForm::Unpacked, None),
            "Hi"
        );
    }
}
