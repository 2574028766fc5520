//! Splitting an encoded text into short message parts, and the segment calculator.
//!
//! Capacity of one part is 140 octets of user data (TS 23.040 9.2.3.24) less its header:
//!
//! | header                      | GSM 7-bit | 8-bit | UCS-2 |
//! |-----------------------------|-----------|-------|-------|
//! | none                        | 160       | 140   | 70    |
//! | concat 8-bit ref            | 153       | 134   | 67    |
//! | concat 16-bit ref           | 152       | 133   | 66    |
//! | concat 8 + one language IE  | 149       |       |       |
//! | concat 8 + both language IEs| 146       |       |       |
//!
//! (GSM 7-bit in septets, a header rounded up to whole septets; UCS-2 in code units.)
//! A cut never falls between an escape and its character, nor inside a surrogate pair, so a
//! part may hold one unit less than its capacity.
//!
//! SAR parts carry no concatenation IE; the SMSC adds one when it delivers them. Their
//! sar_msg_ref_num is 16 bits wide, so they are sized as if that IE were the 16-bit one
//! (152 / 133 / 66): the safe assumption whatever the SMSC chooses. A single
//! `message_payload` is not split, but it is refused when the SMSC would have to split it
//! into more than `max_parts` parts of that same size.

use std::ops::Range;

use crate::encoding::{EncodedText, Encoding, EncodingPolicy, Unit};
use crate::gsm7::{self, pack};
use crate::udh::{self, InformationElement, RefWidth};

/// User data octets of one short message on the air interface.
pub const MAX_USER_DATA_OCTETS: usize = 140;
/// Most octets a `message_payload` TLV can hold.
pub const MAX_PAYLOAD_OCTETS: usize = 65_535;
/// Default bound on the number of parts: the most a concatenation IE can number.
pub const DEFAULT_MAX_PARTS: u8 = 255;
/// Longest header a part built here carries: length octet, 16-bit concat IE, both
/// language IEs.
pub const MAX_PART_UDH_OCTETS: usize = 1 + 6 + 3 + 3;

/// How the parts of a long message are tied together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Concatenation {
    /// A concatenation IE 0x00 in each part's header.
    Udh8 {
        /// Reference number shared by the parts.
        reference: u8,
    },
    /// A concatenation IE 0x08 in each part's header.
    Udh16 {
        /// Reference number shared by the parts.
        reference: u16,
    },
    /// No concatenation IE; the caller sends sar_* TLVs with each part's [`Sar`] values.
    Sar {
        /// Value for sar_msg_ref_num.
        reference: u16,
    },
    /// One part carried whole in `message_payload`; the SMSC splits it.
    Payload,
}

impl Concatenation {
    /// Width of the concatenation IE that sizes each part.
    pub fn sizing_width(self) -> RefWidth {
        match self {
            Concatenation::Udh8 { .. } => RefWidth::Eight,
            _ => RefWidth::Sixteen,
        }
    }
}

/// Segmentation settings; the engine passes one per connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentConfig {
    /// How parts are tied together.
    pub concatenation: Concatenation,
    /// Most parts a message may take (1..=255).
    pub max_parts: u8,
}

impl SegmentConfig {
    /// Settings with the default bound on parts.
    pub fn new(concatenation: Concatenation) -> SegmentConfig {
        SegmentConfig {
            concatenation,
            max_parts: DEFAULT_MAX_PARTS,
        }
    }
}

/// Why a text could not be segmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// The text needs more parts than allowed.
    #[error("text needs {needed} parts, more than the {max} allowed")]
    TooManyParts {
        /// Parts the text needs.
        needed: usize,
        /// The configured bound.
        max: u8,
    },
    /// `max_parts` is 0.
    #[error("max_parts must be at least 1")]
    ZeroMaxParts,
    /// A `message_payload` would exceed 65,535 octets.
    #[error("message_payload of {octets} octets exceeds {MAX_PAYLOAD_OCTETS}")]
    PayloadTooLong {
        /// Octets it would take.
        octets: usize,
    },
}

/// SAR TLV values for one part (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sar {
    /// sar_msg_ref_num.
    pub reference: u16,
    /// sar_total_segments.
    pub total: u8,
    /// sar_segment_seqnum (1-based).
    pub seq: u8,
}

/// How GSM 7-bit septets are laid out in user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeptetForm {
    /// Packed 7 bits per septet after fill bits (the air interface form).
    Packed,
    /// One septet per octet (what most SMSCs expect over SMPP with data_coding 0).
    Unpacked,
}

/// A header of at most [`MAX_PART_UDH_OCTETS`] octets held inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    bytes: [u8; MAX_PART_UDH_OCTETS],
    len: u8,
}

impl Header {
    const EMPTY: Header = Header {
        bytes: [0; MAX_PART_UDH_OCTETS],
        len: 0,
    };

    /// The header for an optional concatenation IE and the national IEs of `encoding`.
    fn build(concat: Option<InformationElement<'_>>, encoding: Encoding) -> Header {
        let national = encoding
            .gsm7_tables()
            .into_iter()
            .flat_map(udh::national_language_elements);
        let mut header = Header {
            bytes: [0; MAX_PART_UDH_OCTETS],
            len: 1,
        };
        for ie in concat.into_iter().chain(national) {
            // Only fixed-size known IEs reach here, and at most three of them fit
            // MAX_PART_UDH_OCTETS by construction; `push` ignores anything that would not.
            ie.write_with(&mut |bytes| header.push(bytes));
        }
        if header.len == 1 {
            return Header::EMPTY;
        }
        header.bytes[0] = header.len - 1;
        header
    }

    fn push(&mut self, bytes: &[u8]) {
        let start = usize::from(self.len);
        if let Some(dst) = self.bytes.get_mut(start..start + bytes.len()) {
            dst.copy_from_slice(bytes);
            // The slice fitted in MAX_PART_UDH_OCTETS (13), so the length fits a u8.
            self.len += bytes.len() as u8;
        }
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// Header octets for the national IEs of `encoding` plus an optional concatenation IE.
fn header_octets(encoding: Encoding, concat: Option<RefWidth>) -> usize {
    let national: usize = encoding
        .gsm7_tables()
        .into_iter()
        .flat_map(udh::national_language_elements)
        .map(|ie| ie.encoded_len())
        .sum();
    let ies = national + concat.map_or(0, RefWidth::ie_octets);
    if ies == 0 { 0 } else { 1 + ies }
}

/// Stored units (septets or octets) one part holds after a header of `header` octets.
fn capacity(encoding: Encoding, header: usize) -> usize {
    let octets = MAX_USER_DATA_OCTETS.saturating_sub(header);
    match encoding.unit() {
        Unit::Septet => {
            pack::max_septets(MAX_USER_DATA_OCTETS, 0).saturating_sub(pack::udh_septets(header))
        }
        Unit::Octet => octets,
        Unit::Ucs2CodeUnit => octets & !1,
    }
}

/// Stored units of a single unsplit part and of each part of a split message.
fn capacities(encoding: Encoding, width: RefWidth) -> (usize, usize) {
    (
        capacity(encoding, header_octets(encoding, None)),
        capacity(encoding, header_octets(encoding, Some(width))),
    )
}

/// Parts a text of `stored_units` units (septets or octets) needs, ignoring where
/// characters fall (used to compare encodings).
pub fn parts_needed(encoding: Encoding, stored_units: usize, width: RefWidth) -> usize {
    let (single, multi) = capacities(encoding, width);
    if stored_units <= single {
        1
    } else {
        stored_units.div_ceil(multi.max(1))
    }
}

/// Moves a cut at `cut` back so that it does not split a character: an escape sequence of
/// GSM 7-bit or a surrogate pair of UCS-2. `start` is the part's first unit, a character
/// boundary.
fn align_cut(units: &[u8], start: usize, cut: usize, encoding: Encoding) -> usize {
    match encoding {
        Encoding::Gsm7(_) => {
            // A run of escapes starts on a character boundary and pairs up from its start
            // (escape + escape is a character too), so an odd run splits its last pair.
            let run = units
                .get(start..cut)
                .unwrap_or_default()
                .iter()
                .rev()
                .take_while(|&&u| u == gsm7::ESCAPE)
                .count();
            if run % 2 == 1 { cut - 1 } else { cut }
        }
        Encoding::Ucs2 => {
            let high_before = matches!(units.get(cut.wrapping_sub(2)), Some(0xD8..=0xDB));
            let low_after = matches!(units.get(cut), Some(0xDC..=0xDF));
            if high_before && low_after && cut >= start + 4 {
                cut - 2
            } else {
                cut
            }
        }
        _ => cut,
    }
}

/// Cuts `units` into ranges of at most `cap` units without splitting a character.
struct Cuts<'u> {
    units: &'u [u8],
    encoding: Encoding,
    cap: usize,
    start: usize,
    done: bool,
}

impl Iterator for Cuts<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        if self.done {
            return None;
        }
        let len = self.units.len();
        let end = if len - self.start <= self.cap {
            len
        } else {
            align_cut(self.units, self.start, self.start + self.cap, self.encoding)
        };
        let range = self.start..end;
        self.start = end;
        self.done = end >= len;
        Some(range)
    }
}

fn cuts(units: &[u8], encoding: Encoding, cap: usize) -> Cuts<'_> {
    Cuts {
        units,
        encoding,
        // Every capacity is at least 126 units, so a cut always makes progress; the floor
        // keeps that true even for a capacity this module never computes.
        cap: cap.max(4),
        start: 0,
        done: false,
    }
}

/// An encoded text cut into parts.
#[derive(Debug, Clone)]
pub struct Segments<'e> {
    encoded: &'e EncodedText,
    ranges: Vec<Range<usize>>,
    concatenation: Concatenation,
}

/// One part of a segmented text, borrowing its units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part<'e> {
    encoding: Encoding,
    header: Header,
    units: &'e [u8],
    sar: Option<Sar>,
    seq: u8,
    total: u8,
}

/// Splits `encoded` as `config` says.
///
/// A text that fits one part is never given a concatenation IE or SAR values.
pub fn segment<'e>(
    encoded: &'e EncodedText,
    config: &SegmentConfig,
) -> Result<Segments<'e>, SegmentError> {
    if config.max_parts == 0 {
        return Err(SegmentError::ZeroMaxParts);
    }
    let encoding = encoded.encoding();
    let units = encoded.units();
    let width = config.concatenation.sizing_width();
    let (single, multi) = capacities(encoding, width);
    let ranges = if config.concatenation == Concatenation::Payload {
        payload_range(encoded, config, multi)?
    } else if units.len() <= single {
        one_part(units.len())
    } else {
        let mut all = cuts(units, encoding, multi);
        let ranges: Vec<Range<usize>> = all.by_ref().take(usize::from(config.max_parts)).collect();
        let extra = all.count();
        if extra > 0 {
            return Err(SegmentError::TooManyParts {
                needed: ranges.len() + extra,
                max: config.max_parts,
            });
        }
        ranges
    };
    Ok(Segments {
        encoded,
        ranges,
        concatenation: config.concatenation,
    })
}

/// The ranges of a message left whole: one part of `len` units.
fn one_part(len: usize) -> Vec<Range<usize>> {
    std::iter::once(0..len).collect()
}

fn payload_range(
    encoded: &EncodedText,
    config: &SegmentConfig,
    multi: usize,
) -> Result<Vec<Range<usize>>, SegmentError> {
    let units = encoded.units();
    let encoding = encoded.encoding();
    let needed = cuts(units, encoding, multi).count();
    if needed > usize::from(config.max_parts) {
        return Err(SegmentError::TooManyParts {
            needed,
            max: config.max_parts,
        });
    }
    let octets = header_octets(encoding, None) + units.len();
    if octets > MAX_PAYLOAD_OCTETS {
        return Err(SegmentError::PayloadTooLong { octets });
    }
    Ok(one_part(units.len()))
}

impl<'e> Segments<'e> {
    /// Number of parts (at least 1).
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Always false: even an empty text makes one (empty) part.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The encoding of every part.
    pub fn encoding(&self) -> Encoding {
        self.encoded.encoding()
    }

    /// Whether the parts carry a header, so esm_class must have the UDHI flag (0x40).
    pub fn udhi(&self) -> bool {
        self.iter().any(|p| p.has_udh())
    }

    /// The parts in order.
    pub fn iter(&self) -> impl Iterator<Item = Part<'e>> + '_ {
        (0..self.ranges.len()).filter_map(move |i| self.get(i))
    }

    /// The part at `index` (0-based).
    pub fn get(&self, index: usize) -> Option<Part<'e>> {
        let range = self.ranges.get(index)?.clone();
        let units = self.encoded.units().get(range)?;
        let total = u8::try_from(self.ranges.len()).ok()?;
        let seq = u8::try_from(index + 1).ok()?;
        let encoding = self.encoding();
        let split = total > 1;
        let concat = match self.concatenation {
            Concatenation::Udh8 { reference } if split => Some(InformationElement::Concat8 {
                reference,
                total,
                seq,
            }),
            Concatenation::Udh16 { reference } if split => Some(InformationElement::Concat16 {
                reference,
                total,
                seq,
            }),
            _ => None,
        };
        let sar = match self.concatenation {
            Concatenation::Sar { reference } if split => Some(Sar {
                reference,
                total,
                seq,
            }),
            _ => None,
        };
        Some(Part {
            encoding,
            header: Header::build(concat, encoding),
            units,
            sar,
            seq,
            total,
        })
    }
}

impl<'e> Part<'e> {
    /// The header with its length octet, empty when the part has none.
    pub fn udh(&self) -> &[u8] {
        self.header.as_slice()
    }

    /// Whether the part starts with a header (esm_class UDHI).
    pub fn has_udh(&self) -> bool {
        self.header.len > 0
    }

    /// The part's units: septets (one per byte) or octets, without the header.
    pub fn units(&self) -> &'e [u8] {
        self.units
    }

    /// SAR TLV values, for a split message under [`Concatenation::Sar`].
    pub fn sar(&self) -> Option<Sar> {
        self.sar
    }

    /// 1-based sequence number.
    pub fn seq(&self) -> u8 {
        self.seq
    }

    /// Number of parts of the message.
    pub fn total(&self) -> u8 {
        self.total
    }

    /// The encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Appends the part's user data (header, then text) to `out`; `form` matters only for
    /// GSM 7-bit, where packed text starts after the fill bits that align it.
    pub fn write_user_data(&self, form: SeptetForm, out: &mut Vec<u8>) {
        let udh = self.udh();
        out.extend_from_slice(udh);
        match (self.encoding, form) {
            (Encoding::Gsm7(_), SeptetForm::Packed) => {
                let fill = if udh.is_empty() {
                    0
                } else {
                    pack::fill_bits_after_udh(udh.len())
                };
                pack::pack_into(self.units, fill, out);
            }
            _ => out.extend_from_slice(self.units),
        }
    }

    /// The part's user data in a new buffer; see [`Part::write_user_data`].
    pub fn user_data(&self, form: SeptetForm) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_user_data(form, &mut out);
        out
    }

    /// The user data length field: septets (header included) for packed GSM 7-bit,
    /// octets otherwise.
    pub fn user_data_len(&self, form: SeptetForm) -> usize {
        let udh = self.udh().len();
        match (self.encoding, form) {
            (Encoding::Gsm7(_), SeptetForm::Packed) => pack::udh_septets(udh) + self.units.len(),
            _ => udh + self.units.len(),
        }
    }
}

/// What a text costs: the segment calculator's answer for applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentInfo {
    /// The encoding chosen.
    pub encoding: Encoding,
    /// The unit the other fields count.
    pub unit: Unit,
    /// Number of parts.
    pub parts: usize,
    /// Units the whole text takes.
    pub units_used: usize,
    /// Capacity of each part (single-part capacity when `parts` is 1).
    pub units_per_part: usize,
    /// Units still free in the last part.
    pub units_left_in_last_part: usize,
}

/// The segment calculator: encoding, parts and room left for `text` under `policy`, with
/// parts sized for a concatenation IE of `width`. Unbounded in parts (it only counts).
pub fn calculate(text: &str, policy: &EncodingPolicy, width: RefWidth) -> SegmentInfo {
    calculate_encoded(&EncodedText::encode_best(text, policy), width)
}

/// The segment calculator for a text already encoded.
pub fn calculate_encoded(encoded: &EncodedText, width: RefWidth) -> SegmentInfo {
    let encoding = encoded.encoding();
    let units = encoded.units();
    let (single, multi) = capacities(encoding, width);
    let (parts, cap, last) = if units.len() <= single {
        (1, single, units.len())
    } else {
        cuts(units, encoding, multi).fold((0, multi, 0), |(n, c, _), r| (n + 1, c, r.len()))
    };
    let per_unit = encoding.bytes_per_unit();
    SegmentInfo {
        encoding,
        unit: encoding.unit(),
        parts,
        units_used: units.len().div_ceil(per_unit),
        units_per_part: cap / per_unit,
        units_left_in_last_part: cap.saturating_sub(last) / per_unit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsm7::{Gsm7Tables, Language};
    use crate::udh::split_user_data;

    fn gsm(text: &str) -> EncodedText {
        EncodedText::encode(text, Encoding::GSM7).unwrap()
    }

    #[test]
    fn capacities_match_the_specification_table() {
        let g = Encoding::GSM7;
        assert_eq!(capacities(g, RefWidth::Eight), (160, 153));
        assert_eq!(capacities(g, RefWidth::Sixteen), (160, 152));
        assert_eq!(capacities(Encoding::Latin1, RefWidth::Eight), (140, 134));
        assert_eq!(capacities(Encoding::Binary, RefWidth::Sixteen), (140, 133));
        assert_eq!(capacities(Encoding::Ucs2, RefWidth::Eight), (140, 134));
        assert_eq!(capacities(Encoding::Ucs2, RefWidth::Sixteen), (140, 132));
        let one = Encoding::Gsm7(Gsm7Tables::new(Language::Default, Language::Turkish));
        assert_eq!(capacities(one, RefWidth::Eight), (155, 149));
        let both = Encoding::Gsm7(Gsm7Tables::new(Language::Turkish, Language::Turkish));
        assert_eq!(capacities(both, RefWidth::Eight), (152, 146));
    }

    #[test]
    fn text_of_160_septets_is_one_part_and_161_is_two() {
        let config = SegmentConfig::new(Concatenation::Udh8 { reference: 7 });
        let t160 = gsm(&"a".repeat(160));
        let one = segment(&t160, &config).unwrap();
        assert_eq!(one.len(), 1);
        assert!(!one.udhi());
        let t161 = gsm(&"a".repeat(161));
        let two = segment(&t161, &config).unwrap();
        assert_eq!(two.len(), 2);
        let first = two.get(0).unwrap();
        assert_eq!(first.units().len(), 153);
        assert_eq!(first.udh(), [5, 0, 3, 7, 2, 1]);
        assert_eq!(first.user_data(SeptetForm::Packed).len(), 140);
    }

    #[test]
    fn escape_sequence_is_never_split_across_parts() {
        // 152 plain septets then '€' (2 septets) would straddle the 153 boundary.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let encoded = gsm(&text);
        let config = SegmentConfig::new(Concatenation::Udh8 { reference: 1 });
        let parts = segment(&encoded, &config).unwrap();
        let first = parts.get(0).unwrap();
        assert_eq!(first.units().len(), 152);
        assert_eq!(
            parts.get(1).unwrap().units()[..3],
            [gsm7::ESCAPE, 0x65, b'b']
        );
    }

    #[test]
    fn surrogate_pair_is_never_split_across_parts() {
        let text = format!("{}😀{}", "x".repeat(66), "y".repeat(4));
        let encoded = EncodedText::encode(&text, Encoding::Ucs2).unwrap();
        let config = SegmentConfig::new(Concatenation::Udh8 { reference: 1 });
        let parts = segment(&encoded, &config).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts.get(0).unwrap().units().len(), 132);
        assert_eq!(parts.get(1).unwrap().units()[..4], [0xD8, 0x3D, 0xDE, 0x00]);
    }

    #[test]
    fn sar_parts_carry_values_and_no_concatenation_header() {
        let encoded = gsm(&"z".repeat(400));
        let config = SegmentConfig::new(Concatenation::Sar { reference: 0x1234 });
        let parts = segment(&encoded, &config).unwrap();
        assert_eq!(parts.len(), 3);
        let second = parts.get(1).unwrap();
        assert!(!second.has_udh());
        assert_eq!(second.units().len(), 152);
        assert_eq!(
            second.sar(),
            Some(Sar {
                reference: 0x1234,
                total: 3,
                seq: 2
            })
        );
    }

    #[test]
    fn payload_is_one_part_bounded_by_max_parts() {
        let encoded = gsm(&"z".repeat(400));
        let mut config = SegmentConfig::new(Concatenation::Payload);
        let parts = segment(&encoded, &config).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts.get(0).unwrap().units().len(), 400);
        config.max_parts = 2;
        assert_eq!(
            segment(&encoded, &config).unwrap_err(),
            SegmentError::TooManyParts { needed: 3, max: 2 }
        );
    }

    #[test]
    fn too_many_parts_is_refused_with_the_count_needed() {
        let encoded = gsm(&"q".repeat(153 * 3 + 1));
        let config = SegmentConfig {
            concatenation: Concatenation::Udh16 { reference: 9 },
            max_parts: 3,
        };
        assert_eq!(
            segment(&encoded, &config).unwrap_err(),
            SegmentError::TooManyParts { needed: 4, max: 3 }
        );
    }

    #[test]
    fn national_parts_carry_language_elements_and_fit_140_octets() {
        let tables = Gsm7Tables::new(Language::Turkish, Language::Turkish);
        let text = "ğüşıöç".repeat(40);
        let encoded = EncodedText::encode(&text, Encoding::Gsm7(tables)).unwrap();
        let config = SegmentConfig::new(Concatenation::Udh8 { reference: 3 });
        let parts = segment(&encoded, &config).unwrap();
        for part in parts.iter() {
            let data = part.user_data(SeptetForm::Packed);
            assert!(data.len() <= MAX_USER_DATA_OCTETS);
            let (udh, _) = split_user_data(&data).unwrap();
            assert_eq!(udh.gsm7_tables(), tables);
        }
    }

    #[test]
    fn calculator_reports_parts_and_room_left() {
        let info = calculate(
            &"a".repeat(200),
            &EncodingPolicy::default(),
            RefWidth::Eight,
        );
        assert_eq!(info.encoding, Encoding::GSM7);
        assert_eq!(info.parts, 2);
        assert_eq!(info.units_per_part, 153);
        assert_eq!(info.units_left_in_last_part, 153 - 47);
        let info = calculate("hi 😀", &EncodingPolicy::default(), RefWidth::Eight);
        assert_eq!(info.encoding, Encoding::Ucs2);
        assert_eq!((info.parts, info.units_used), (1, 5));
        assert_eq!(info.units_left_in_last_part, 65);
        let empty = calculate("", &EncodingPolicy::default(), RefWidth::Eight);
        assert_eq!((empty.parts, empty.units_left_in_last_part), (1, 160));
    }
}
