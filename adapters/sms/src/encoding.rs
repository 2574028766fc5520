//! Text encodings of a short message, encoding and decoding them, and choosing the cheapest
//! one that represents a text exactly under a connector's policy.

use crate::gsm7::{self, Gsm7Tables, Language};
use crate::segment;
use crate::udh::RefWidth;

/// An alphabet a short message's user data is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GSM 7-bit with the given locking and single shift tables.
    Gsm7(Gsm7Tables),
    /// IA5 / ASCII, one octet per character (SMPP data_coding 1).
    Ascii,
    /// ISO-8859-1, one octet per character (SMPP data_coding 3).
    Latin1,
    /// UCS-2 / UTF-16BE, two octets per code unit, surrogate pairs for astral characters.
    Ucs2,
    /// 8-bit binary data, not text.
    Binary,
}

/// The unit a segment's capacity is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// A GSM 7-bit septet (an extension character costs two).
    Septet,
    /// An octet (ASCII, Latin-1, binary).
    Octet,
    /// A UTF-16 code unit (an astral character such as an emoji costs two).
    Ucs2CodeUnit,
}

impl Encoding {
    /// The GSM 7-bit default alphabet with its extension table.
    pub const GSM7: Encoding = Encoding::Gsm7(Gsm7Tables::DEFAULT);

    /// The unit capacities are counted in.
    pub fn unit(self) -> Unit {
        match self {
            Encoding::Gsm7(_) => Unit::Septet,
            Encoding::Ascii | Encoding::Latin1 | Encoding::Binary => Unit::Octet,
            Encoding::Ucs2 => Unit::Ucs2CodeUnit,
        }
    }

    /// Stored bytes per capacity unit: 1, except 2 for UCS-2.
    pub fn bytes_per_unit(self) -> usize {
        match self {
            Encoding::Ucs2 => 2,
            _ => 1,
        }
    }

    /// The standard SMPP `data_coding` value (GSM-7 as 0, "SMSC default alphabet").
    ///
    /// A connector whose SMSC reads 0 as something else maps this itself (see
    /// [`crate::data_coding`]).
    pub fn data_coding(self) -> u8 {
        match self {
            Encoding::Gsm7(_) => 0x00,
            Encoding::Ascii => 0x01,
            Encoding::Latin1 => 0x03,
            Encoding::Binary => 0x04,
            Encoding::Ucs2 => 0x08,
        }
    }

    /// The GSM tables in use, if this is GSM 7-bit.
    pub fn gsm7_tables(self) -> Option<Gsm7Tables> {
        match self {
            Encoding::Gsm7(tables) => Some(tables),
            _ => None,
        }
    }
}

/// A character the requested encoding cannot represent, or a request to encode text as binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The character has no representation in the encoding.
    #[error("character {ch:?} at byte {byte_offset} cannot be written in {encoding:?}")]
    Unencodable {
        /// The character.
        ch: char,
        /// Its byte offset in the UTF-8 input.
        byte_offset: usize,
        /// The encoding that was asked for.
        encoding: Encoding,
    },
    /// Binary is not a text encoding; use [`EncodedText::binary`].
    #[error("binary is not a text encoding")]
    BinaryIsNotText,
}

/// Appends the units of `text` in `encoding` to `out`: septets (one per byte) for GSM
/// 7-bit, octets otherwise (UTF-16BE for UCS-2). Reuses `out`'s allocation.
pub fn encode_into(text: &str, encoding: Encoding, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let unencodable = |ch, byte_offset| EncodeError::Unencodable {
        ch,
        byte_offset,
        encoding,
    };
    match encoding {
        Encoding::Gsm7(tables) => {
            gsm7::encode_into(text, tables, out).map_err(|e| unencodable(e.ch, e.byte_offset))
        }
        Encoding::Ascii => encode_octets(text, 0x7F, out).map_err(|(c, i)| unencodable(c, i)),
        Encoding::Latin1 => encode_octets(text, 0xFF, out).map_err(|(c, i)| unencodable(c, i)),
        Encoding::Ucs2 => {
            out.reserve(text.len() * 2);
            for unit in text.encode_utf16() {
                out.extend_from_slice(&unit.to_be_bytes());
            }
            Ok(())
        }
        Encoding::Binary => Err(EncodeError::BinaryIsNotText),
    }
}

fn encode_octets(text: &str, max: u32, out: &mut Vec<u8>) -> Result<(), (char, usize)> {
    out.reserve(text.len());
    for (i, ch) in text.char_indices() {
        match u8::try_from(u32::from(ch)) {
            Ok(octet) if u32::from(octet) <= max => out.push(octet),
            _ => return Err((ch, i)),
        }
    }
    Ok(())
}

/// Appends the text held by `units` in `encoding` to `out`. Never fails:
/// - GSM 7-bit follows [`gsm7::decode_into`];
/// - ASCII octets above 0x7F become U+FFFD;
/// - UCS-2 lone surrogates and an odd trailing octet become U+FFFD;
/// - binary maps each octet to the character of the same value (lossless, like Latin-1).
pub fn decode_into(encoding: Encoding, units: &[u8], out: &mut String) {
    match encoding {
        Encoding::Gsm7(tables) => gsm7::decode_into(units, tables, out),
        Encoding::Ascii => out.extend(units.iter().map(|&b| {
            if b.is_ascii() {
                char::from(b)
            } else {
                gsm7::REPLACEMENT
            }
        })),
        Encoding::Latin1 | Encoding::Binary => out.extend(units.iter().map(|&b| char::from(b))),
        Encoding::Ucs2 => decode_ucs2_into(units, out),
    }
}

/// Decodes `units` into a new string; see [`decode_into`].
pub fn decode(encoding: Encoding, units: &[u8]) -> String {
    let mut out = String::new();
    decode_into(encoding, units, &mut out);
    out
}

fn decode_ucs2_into(octets: &[u8], out: &mut String) {
    let pairs = octets.chunks_exact(2);
    let odd_tail = !pairs.remainder().is_empty();
    let code_units = pairs.map(|p| u16::from_be_bytes([p[0], p[1]]));
    out.extend(char::decode_utf16(code_units).map(|r| r.unwrap_or(gsm7::REPLACEMENT)));
    if odd_tail {
        out.push(gsm7::REPLACEMENT);
    }
}

/// A text in a chosen encoding, as units ready to segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedText {
    encoding: Encoding,
    units: Vec<u8>,
}

impl EncodedText {
    /// Encodes `text` in `encoding`.
    pub fn encode(text: &str, encoding: Encoding) -> Result<EncodedText, EncodeError> {
        let mut units = Vec::new();
        encode_into(text, encoding, &mut units)?;
        Ok(EncodedText { encoding, units })
    }

    /// Encodes `text` in the cheapest encoding `policy` allows; see [`choose_encoding`].
    pub fn encode_best(text: &str, policy: &EncodingPolicy) -> EncodedText {
        let encoding = choose_encoding(text, policy);
        let mut units = Vec::new();
        if encode_into(text, encoding, &mut units).is_ok() {
            return EncodedText { encoding, units };
        }
        // Unreachable by construction (the chooser checked every character); UCS-2 holds any
        // text, so fall back to it rather than fail.
        units.clear();
        let _ = encode_into(text, Encoding::Ucs2, &mut units);
        EncodedText {
            encoding: Encoding::Ucs2,
            units,
        }
    }

    /// Wraps 8-bit binary data.
    pub fn binary(data: Vec<u8>) -> EncodedText {
        EncodedText {
            encoding: Encoding::Binary,
            units: data,
        }
    }

    /// Wraps units already in `encoding` (septets one per byte for GSM 7-bit).
    pub fn from_units(encoding: Encoding, units: Vec<u8>) -> EncodedText {
        EncodedText { encoding, units }
    }

    /// The encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The stored units: septets (one per byte) for GSM 7-bit, octets otherwise.
    pub fn units(&self) -> &[u8] {
        &self.units
    }

    /// Length in capacity units (septets, octets or UTF-16 code units).
    pub fn unit_count(&self) -> usize {
        self.units.len().div_ceil(self.encoding.bytes_per_unit())
    }

    /// The text back; see [`decode_into`].
    pub fn decode(&self) -> String {
        decode(self.encoding, &self.units)
    }
}

/// A set of national languages (the default is never a member: it is always allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LanguageSet(u16);

impl LanguageSet {
    /// No national language.
    pub const EMPTY: LanguageSet = LanguageSet(0);
    /// All 13 national languages.
    pub const ALL_NATIONAL: LanguageSet = LanguageSet(0x3FFE);

    /// The set holding `languages` (Default is ignored).
    pub fn of(languages: &[Language]) -> LanguageSet {
        languages
            .iter()
            .fold(LanguageSet::EMPTY, |set, &l| set.with(l))
    }

    /// This set with `language` added (Default is ignored).
    pub fn with(self, language: Language) -> LanguageSet {
        match language {
            Language::Default => self,
            l => LanguageSet(self.0 | 1 << l.id()),
        }
    }

    /// Whether `language` is a member.
    pub fn contains(self, language: Language) -> bool {
        language != Language::Default && self.0 & (1 << language.id()) != 0
    }

    /// Whether no language is a member.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members in identifier order.
    pub fn iter(self) -> impl Iterator<Item = Language> {
        Language::ALL.into_iter().filter(move |&l| self.contains(l))
    }
}

/// Which national shift tables a route permits (many handsets and SMSCs support none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NationalPolicy {
    /// Languages whose locking shift table may be used.
    pub locking: LanguageSet,
    /// Languages whose single shift table may be used.
    pub single_shift: LanguageSet,
}

impl NationalPolicy {
    /// No national tables: the safe default.
    pub const NONE: NationalPolicy = NationalPolicy {
        locking: LanguageSet::EMPTY,
        single_shift: LanguageSet::EMPTY,
    };

    /// Whether any national table is permitted.
    pub fn is_empty(self) -> bool {
        self.locking.is_empty() && self.single_shift.is_empty()
    }
}

/// What a connector lets the chooser use; the engine passes one per connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodingPolicy {
    /// GSM 7-bit may be used (false on a link where data_coding 0 is not GSM 7-bit).
    pub gsm7: bool,
    /// Latin-1 may be used (a link where data_coding 3, or 0, means ISO-8859-1).
    pub latin1: bool,
    /// National shift tables the route permits (only with `gsm7`).
    pub national: NationalPolicy,
}

impl Default for EncodingPolicy {
    fn default() -> Self {
        EncodingPolicy {
            gsm7: true,
            latin1: false,
            national: NationalPolicy::NONE,
        }
    }
}

/// The cheapest encoding `policy` allows that represents `text` exactly.
///
/// Cost is the number of concatenated parts (with 8-bit reference concatenation headers and
/// national language IEs counted). Ties go to the earlier of: GSM 7-bit default, Latin-1,
/// GSM 7-bit with national tables (single shift only, then locking only, then both; lower
/// language identifier first), UCS-2. UCS-2 represents every text, so there is always an
/// answer.
pub fn choose_encoding(text: &str, policy: &EncodingPolicy) -> Encoding {
    let mut best: Option<(usize, Encoding)> = None;
    let mut consider = |encoding: Encoding, units: usize| {
        let parts = segment::parts_needed(encoding, units, RefWidth::Eight);
        if best.is_none_or(|(p, _)| parts < p) {
            best = Some((parts, encoding));
        }
    };
    if policy.gsm7
        && let Some(septets) = gsm7::septet_count(text, Gsm7Tables::DEFAULT)
    {
        if segment::parts_needed(Encoding::GSM7, septets, RefWidth::Eight) == 1 {
            return Encoding::GSM7;
        }
        consider(Encoding::GSM7, septets);
    }
    if policy.latin1 && text.chars().all(|c| u32::from(c) <= 0xFF) {
        consider(Encoding::Latin1, text.chars().count());
    }
    if policy.gsm7 && !policy.national.is_empty() {
        for (tables, septets) in national_costs(text, policy.national) {
            consider(Encoding::Gsm7(tables), septets);
        }
    }
    consider(Encoding::Ucs2, text.encode_utf16().count() * 2);
    best.map_or(Encoding::Ucs2, |(_, e)| e)
}

/// Septet counts of `text` under every permitted national table pair that can represent
/// it, in the chooser's preference order.
///
/// One pass over the text: a character costs one septet where the locking table holds it
/// and two otherwise, so a pair (L, S) costs `chars + missing[L]` and is possible when S
/// holds every character L lacks (`shifts_ok[L]`).
fn national_costs(text: &str, policy: NationalPolicy) -> Vec<(Gsm7Tables, usize)> {
    let lockings: Vec<Language> = std::iter::once(Language::Default)
        .chain(policy.locking.iter().filter(|l| l.has_locking_table()))
        .collect();
    let shifts: Vec<Language> = std::iter::once(Language::Default)
        .chain(policy.single_shift.iter())
        .collect();
    let all_shifts: u16 = shifts.iter().fold(0, |m, s| m | 1 << s.id());
    let mut chars = 0usize;
    let mut missing = [0usize; Language::ALL.len()];
    let mut shifts_ok = [all_shifts; Language::ALL.len()];
    for ch in text.chars() {
        chars += 1;
        let masks = gsm7::table_masks(ch);
        for &l in &lockings {
            let i = usize::from(l.id());
            if masks.locking & (1 << i) == 0 {
                missing[i] += 1;
                shifts_ok[i] &= masks.single_shift;
            }
        }
    }
    let cost = |l: Language, s: Language| {
        let i = usize::from(l.id());
        (shifts_ok[i] & (1 << s.id()) != 0).then(|| (Gsm7Tables::new(l, s), chars + missing[i]))
    };
    // Preference order: single shift only, locking only, then both.
    let single_only = shifts.iter().skip(1).map(|&s| cost(Language::Default, s));
    let locking_only = lockings.iter().skip(1).map(|&l| cost(l, Language::Default));
    let both = lockings
        .iter()
        .skip(1)
        .flat_map(|&l| shifts.iter().skip(1).map(move |&s| (l, s)))
        .map(|(l, s)| cost(l, s));
    single_only
        .chain(locking_only)
        .chain(both)
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn national_all() -> EncodingPolicy {
        EncodingPolicy {
            national: NationalPolicy {
                locking: LanguageSet::ALL_NATIONAL,
                single_shift: LanguageSet::ALL_NATIONAL,
            },
            ..EncodingPolicy::default()
        }
    }

    #[test]
    fn plain_text_chooses_gsm7_default() {
        assert_eq!(
            choose_encoding("Hello {world} €5", &EncodingPolicy::default()),
            Encoding::GSM7
        );
    }

    #[test]
    fn turkish_text_uses_ucs2_without_national_policy() {
        let text = "Çok güzel şarkı";
        assert_eq!(
            choose_encoding(text, &EncodingPolicy::default()),
            Encoding::Ucs2
        );
    }

    #[test]
    fn turkish_text_uses_a_turkish_table_when_permitted() {
        let text = "Çok güzel şarkı, ığ";
        let Encoding::Gsm7(tables) = choose_encoding(text, &national_all()) else {
            panic!("expected GSM 7-bit");
        };
        assert!(
            tables.locking() == Language::Turkish || tables.single_shift() == Language::Turkish
        );
        let encoded = EncodedText::encode(text, Encoding::Gsm7(tables)).unwrap();
        assert_eq!(encoded.decode(), text);
    }

    #[test]
    fn latin1_is_used_only_when_the_policy_allows_it() {
        let text = "crème brûlée";
        assert_eq!(
            choose_encoding(text, &EncodingPolicy::default()),
            Encoding::Ucs2
        );
        let policy = EncodingPolicy {
            latin1: true,
            ..EncodingPolicy::default()
        };
        assert_eq!(choose_encoding(text, &policy), Encoding::Latin1);
    }

    #[test]
    fn emoji_forces_ucs2_even_with_every_table_permitted() {
        assert_eq!(choose_encoding("ok 👍", &national_all()), Encoding::Ucs2);
    }

    #[test]
    fn ucs2_round_trips_surrogate_pairs() {
        let text = "a😀b";
        let encoded = EncodedText::encode(text, Encoding::Ucs2).unwrap();
        assert_eq!(encoded.units(), [0, 0x61, 0xD8, 0x3D, 0xDE, 0x00, 0, 0x62]);
        assert_eq!(encoded.unit_count(), 4);
        assert_eq!(encoded.decode(), text);
    }

    #[test]
    fn ucs2_decoding_replaces_lone_surrogates_and_odd_octets() {
        assert_eq!(
            decode(Encoding::Ucs2, &[0xD8, 0x3D, 0, 0x61, 0x62]),
            "\u{FFFD}a\u{FFFD}"
        );
    }

    #[test]
    fn ascii_and_latin1_reject_what_they_cannot_hold() {
        assert!(EncodedText::encode("é", Encoding::Ascii).is_err());
        assert!(EncodedText::encode("€", Encoding::Latin1).is_err());
        assert_eq!(decode(Encoding::Ascii, &[0x41, 0xE9]), "A\u{FFFD}");
        assert_eq!(decode(Encoding::Latin1, &[0x41, 0xE9]), "Aé");
    }

    #[test]
    fn binary_is_not_a_text_encoding() {
        assert_eq!(
            EncodedText::encode("x", Encoding::Binary),
            Err(EncodeError::BinaryIsNotText)
        );
    }

    #[test]
    fn language_set_ignores_default_and_iterates_in_order() {
        let set = LanguageSet::of(&[Language::Urdu, Language::Default, Language::Turkish]);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [Language::Turkish, Language::Urdu]
        );
        assert_eq!(LanguageSet::ALL_NATIONAL.iter().count(), 13);
    }
}
