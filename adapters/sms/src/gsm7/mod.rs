//! GSM 7-bit alphabet (3GPP TS 23.038): the default alphabet, its extension table and the
//! 13 national language locking and single shift tables; septet encoding and decoding.
//!
//! A text is held as *septets*, one per byte (values 0..=0x7F); [`pack`] turns them into the
//! packed air-interface form and back. A character found in the locking shift table costs
//! one septet, one found only in the single shift table costs two (escape 0x1B + code).
//!
//! The reverse (character → septet) tables are built at compile time from the forward
//! tables in `tables.rs`, so each table has exactly one source; a lookup is an ASCII array
//! index for the default alphabet or a binary search over at most 128 entries otherwise.

pub mod pack;
mod tables;

use tables::{LOCKING, SINGLE_SHIFT, TABLE_COUNT, UNDEF};

/// The escape septet that selects the single shift table for the next septet.
pub const ESCAPE: u8 = 0x1B;

/// Replacement for a septet that maps to no character (documented decoding behaviour).
pub const REPLACEMENT: char = '\u{FFFD}';

/// A National Language Identifier of TS 23.038 6.2.1.2.4 (0 = the default alphabet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Language {
    /// The GSM 7-bit default alphabet and its extension table.
    Default = 0,
    /// Turkish (locking A.3.1, single shift A.2.1).
    Turkish = 1,
    /// Spanish (single shift A.2.2 only; no locking shift table is defined).
    Spanish = 2,
    /// Portuguese (locking A.3.3, single shift A.2.3).
    Portuguese = 3,
    /// Bengali and Assamese (A.3.4, A.2.4).
    Bengali = 4,
    /// Gujarati (A.3.5, A.2.5).
    Gujarati = 5,
    /// Hindi (A.3.6, A.2.6).
    Hindi = 6,
    /// Kannada (A.3.7, A.2.7).
    Kannada = 7,
    /// Malayalam (A.3.8, A.2.8).
    Malayalam = 8,
    /// Oriya (A.3.9, A.2.9).
    Oriya = 9,
    /// Punjabi (A.3.10, A.2.10).
    Punjabi = 10,
    /// Tamil (A.3.11, A.2.11).
    Tamil = 11,
    /// Telugu (A.3.12, A.2.12).
    Telugu = 12,
    /// Urdu (A.3.13, A.2.13).
    Urdu = 13,
}

impl Language {
    /// Every language, default first, in identifier order.
    pub const ALL: [Language; TABLE_COUNT] = [
        Language::Default,
        Language::Turkish,
        Language::Spanish,
        Language::Portuguese,
        Language::Bengali,
        Language::Gujarati,
        Language::Hindi,
        Language::Kannada,
        Language::Malayalam,
        Language::Oriya,
        Language::Punjabi,
        Language::Tamil,
        Language::Telugu,
        Language::Urdu,
    ];

    /// The language with this National Language Identifier, if TS 23.038 defines one.
    pub fn from_id(id: u8) -> Option<Language> {
        Language::ALL.get(usize::from(id)).copied()
    }

    /// The National Language Identifier carried in UDH IEs 0x24/0x25.
    pub fn id(self) -> u8 {
        self as u8
    }

    /// Whether TS 23.038 defines a locking shift table for it (all but Spanish).
    pub fn has_locking_table(self) -> bool {
        self != Language::Spanish
    }

    fn index(self) -> usize {
        usize::from(self.id())
    }
}

/// The pair of tables a GSM 7-bit text is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gsm7Tables {
    locking: Language,
    single_shift: Language,
}

impl Default for Gsm7Tables {
    fn default() -> Self {
        Gsm7Tables::DEFAULT
    }
}

impl Gsm7Tables {
    /// The default alphabet with the default extension table.
    pub const DEFAULT: Gsm7Tables = Gsm7Tables {
        locking: Language::Default,
        single_shift: Language::Default,
    };

    /// A table pair; a locking language without a locking table (Spanish) means the default
    /// alphabet, as TS 23.038 tells a receiver to do.
    pub fn new(locking: Language, single_shift: Language) -> Gsm7Tables {
        let locking = if locking.has_locking_table() {
            locking
        } else {
            Language::Default
        };
        Gsm7Tables {
            locking,
            single_shift,
        }
    }

    /// The locking shift language (Default when none is in force).
    pub fn locking(self) -> Language {
        self.locking
    }

    /// The single shift language (Default when none is in force).
    pub fn single_shift(self) -> Language {
        self.single_shift
    }

    /// Whether both tables are the default ones, so no national language IE is needed.
    pub fn is_default(self) -> bool {
        self == Gsm7Tables::DEFAULT
    }
}

/// How one character is written in septets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Septets {
    /// One septet of the locking shift table.
    Locking(u8),
    /// The escape followed by this septet of the single shift table.
    Shifted(u8),
}

impl Septets {
    /// Number of septets the character costs (1 or 2).
    pub fn len(self) -> usize {
        match self {
            Septets::Locking(_) => 1,
            Septets::Shifted(_) => 2,
        }
    }

    /// Always false: a character costs at least one septet (for clippy's `len` rule).
    pub fn is_empty(self) -> bool {
        false
    }
}

/// A character → septet table sorted by character, built at compile time.
struct Reverse {
    entries: [(u16, u8); 128],
    len: usize,
}

impl Reverse {
    fn find(&self, unit: u16) -> Option<u8> {
        let entries = self.entries.get(..self.len)?;
        entries
            .binary_search_by_key(&unit, |&(c, _)| c)
            .ok()
            .and_then(|i| entries.get(i))
            .map(|&(_, code)| code)
    }
}

/// Inverts one forward table; for a character present twice the lower code wins.
const fn build_reverse(table: &[u16; 128]) -> Reverse {
    let mut entries = [(0u16, 0u8); 128];
    let mut len = 0;
    let mut code = 0;
    while code < 128 {
        let unit = table[code];
        if unit != UNDEF {
            // Insertion sort keeps `entries[..len]` ordered; skip a later duplicate.
            let mut pos = len;
            let mut duplicate = false;
            while pos > 0 && entries[pos - 1].0 >= unit {
                if entries[pos - 1].0 == unit {
                    duplicate = true;
                    break;
                }
                pos -= 1;
            }
            if !duplicate {
                let mut shift = len;
                while shift > pos {
                    entries[shift] = entries[shift - 1];
                    shift -= 1;
                }
                entries[pos] = (unit, code as u8);
                len += 1;
            }
        }
        code += 1;
    }
    Reverse { entries, len }
}

const fn build_all(tables: &[[u16; 128]; TABLE_COUNT]) -> [Reverse; TABLE_COUNT] {
    let mut out = [const {
        Reverse {
            entries: [(0, 0); 128],
            len: 0,
        }
    }; TABLE_COUNT];
    let mut i = 0;
    while i < TABLE_COUNT {
        out[i] = build_reverse(&tables[i]);
        i += 1;
    }
    out
}

static LOCKING_REVERSE: [Reverse; TABLE_COUNT] = build_all(&LOCKING);
static SHIFT_REVERSE: [Reverse; TABLE_COUNT] = build_all(&SINGLE_SHIFT);

/// Marks an ASCII character absent from both default tables in [`DEFAULT_ASCII`].
const ASCII_NONE: u8 = 0xFF;
/// Flags an ASCII character found only in the default extension table.
const ASCII_SHIFTED: u8 = 0x80;

/// ASCII → septet for the default tables: the hot path of almost all traffic.
static DEFAULT_ASCII: [u8; 128] = build_default_ascii();

const fn build_default_ascii() -> [u8; 128] {
    let mut out = [ASCII_NONE; 128];
    let mut code = 0;
    // Walk codes from high to low so that, like `build_reverse`, the lower code wins.
    while code < 128 {
        let rev = 127 - code;
        let unit = SINGLE_SHIFT[0][rev];
        if unit != UNDEF && unit < 128 {
            out[unit as usize] = ASCII_SHIFTED | rev as u8;
        }
        code += 1;
    }
    code = 0;
    while code < 128 {
        let rev = 127 - code;
        let unit = LOCKING[0][rev];
        if unit != UNDEF && unit < 128 {
            out[unit as usize] = rev as u8;
        }
        code += 1;
    }
    out
}

/// The septets for `ch` under `tables`, or `None` when neither table holds it.
pub fn encode_char(ch: char, tables: Gsm7Tables) -> Option<Septets> {
    if tables.is_default() && ch.is_ascii() {
        let entry = DEFAULT_ASCII
            .get(ch as usize)
            .copied()
            .unwrap_or(ASCII_NONE);
        return match entry {
            ASCII_NONE => None,
            e if e & ASCII_SHIFTED != 0 => Some(Septets::Shifted(e & 0x7F)),
            e => Some(Septets::Locking(e)),
        };
    }
    let unit = u16::try_from(u32::from(ch)).ok()?;
    if let Some(code) = locking_code(unit, tables.locking) {
        return Some(Septets::Locking(code));
    }
    shift_code(unit, tables.single_shift).map(Septets::Shifted)
}

fn locking_code(unit: u16, language: Language) -> Option<u8> {
    LOCKING_REVERSE.get(language.index())?.find(unit)
}

fn shift_code(unit: u16, language: Language) -> Option<u8> {
    SHIFT_REVERSE.get(language.index())?.find(unit)
}

/// A character that the chosen tables cannot represent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("character {ch:?} at byte {byte_offset} is not in the GSM 7-bit tables {tables:?}")]
pub struct Unencodable {
    /// The character.
    pub ch: char,
    /// Its byte offset in the UTF-8 input.
    pub byte_offset: usize,
    /// The tables that were tried.
    pub tables: Gsm7Tables,
}

/// Appends the septets of `text` (one per byte) to `out`.
pub fn encode_into(text: &str, tables: Gsm7Tables, out: &mut Vec<u8>) -> Result<(), Unencodable> {
    out.reserve(text.len());
    if tables.is_default() && text.is_ascii() {
        return encode_default_ascii(text, out);
    }
    for (byte_offset, ch) in text.char_indices() {
        match encode_char(ch, tables) {
            Some(Septets::Locking(code)) => out.push(code),
            Some(Septets::Shifted(code)) => out.extend_from_slice(&[ESCAPE, code]),
            None => {
                return Err(Unencodable {
                    ch,
                    byte_offset,
                    tables,
                });
            }
        }
    }
    Ok(())
}

/// The hot path: ASCII text under the default tables, one array index per byte.
///
/// Chunks of 32 bytes are mapped into a stack buffer (a loop the compiler unrolls) while
/// noting whether any byte was an extension character or unencodable; only such a chunk
/// takes the exact byte-by-byte path.
fn encode_default_ascii(text: &str, out: &mut Vec<u8>) -> Result<(), Unencodable> {
    const CHUNK: usize = 32;
    let bytes = text.as_bytes();
    let mut chunks = bytes.chunks_exact(CHUNK);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let mut mapped = [0u8; CHUNK];
        let mut flags = 0u8;
        for (dst, &byte) in mapped.iter_mut().zip(chunk) {
            // `byte` is ASCII, so masking keeps the index in 0..128 and changes nothing.
            *dst = DEFAULT_ASCII[usize::from(byte & 0x7F)];
            flags |= *dst;
        }
        if flags & ASCII_SHIFTED == 0 {
            out.extend_from_slice(&mapped);
        } else {
            encode_ascii_exact(chunk, offset, out)?;
        }
        offset += CHUNK;
    }
    encode_ascii_exact(chunks.remainder(), offset, out)
}

/// Byte by byte, escaping extension characters; `offset` locates `bytes` in the text.
fn encode_ascii_exact(bytes: &[u8], offset: usize, out: &mut Vec<u8>) -> Result<(), Unencodable> {
    for (i, &byte) in bytes.iter().enumerate() {
        match DEFAULT_ASCII[usize::from(byte & 0x7F)] {
            ASCII_NONE => {
                return Err(Unencodable {
                    ch: char::from(byte),
                    byte_offset: offset + i,
                    tables: Gsm7Tables::DEFAULT,
                });
            }
            e if e & ASCII_SHIFTED != 0 => out.extend_from_slice(&[ESCAPE, e & 0x7F]),
            e => out.push(e),
        }
    }
    Ok(())
}

/// Number of septets `text` costs under `tables`, or `None` if a character is missing.
pub fn septet_count(text: &str, tables: Gsm7Tables) -> Option<usize> {
    if tables.is_default() && text.is_ascii() {
        return text.bytes().try_fold(0usize, |n, byte| {
            match DEFAULT_ASCII[usize::from(byte & 0x7F)] {
                ASCII_NONE => None,
                e if e & ASCII_SHIFTED != 0 => Some(n + 2),
                _ => Some(n + 1),
            }
        });
    }
    text.chars()
        .try_fold(0usize, |n, ch| Some(n + encode_char(ch, tables)?.len()))
}

/// Which tables hold a character, as bit masks indexed by language identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableMasks {
    /// Bit `id` set when the locking shift table of language `id` holds the character.
    pub locking: u16,
    /// Bit `id` set when the single shift table of language `id` holds the character.
    pub single_shift: u16,
}

/// Characters below this code point have their table membership in [`DENSE_MASKS`]: every
/// table character but a handful (€, ∞ and a few more) lies below it.
const DENSE_LIMIT: usize = 0x0E00;

/// Table membership of every character below [`DENSE_LIMIT`], built at compile time
/// (14 KiB), so costing a text under every table pair is one index per character.
static DENSE_MASKS: [TableMasks; DENSE_LIMIT] = build_dense_masks();

const fn build_dense_masks() -> [TableMasks; DENSE_LIMIT] {
    let mut out = [TableMasks {
        locking: 0,
        single_shift: 0,
    }; DENSE_LIMIT];
    let mut table = 0;
    while table < TABLE_COUNT {
        let mut code = 0;
        while code < 128 {
            let unit = LOCKING[table][code] as usize;
            if unit < DENSE_LIMIT {
                out[unit].locking |= 1 << table;
            }
            let unit = SINGLE_SHIFT[table][code] as usize;
            if unit < DENSE_LIMIT {
                out[unit].single_shift |= 1 << table;
            }
            code += 1;
        }
        table += 1;
    }
    out
}

/// The locking and single shift tables that hold `ch` (used to cost every table pair in
/// one pass over a text).
pub fn table_masks(ch: char) -> TableMasks {
    if let Some(&masks) = DENSE_MASKS.get(ch as usize) {
        return masks;
    }
    let Ok(unit) = u16::try_from(u32::from(ch)) else {
        return TableMasks::default();
    };
    let mut masks = TableMasks::default();
    for (id, (locking, shift)) in LOCKING_REVERSE.iter().zip(&SHIFT_REVERSE).enumerate() {
        if locking.find(unit).is_some() {
            masks.locking |= 1 << id;
        }
        if shift.find(unit).is_some() {
            masks.single_shift |= 1 << id;
        }
    }
    masks
}

/// Appends the text of `septets` (one per byte) to `out`.
///
/// Decoding never fails; it follows TS 23.038 where the specification says what a receiver
/// shows, and otherwise replaces:
/// - a byte above 0x7F, or a septet the locking table leaves undefined → U+FFFD;
/// - escape + escape → a space (6.2.1.1 NOTE 1);
/// - escape + a code the single shift table leaves undefined → the locking table's
///   character for that code (6.2.1.1), or U+FFFD if that is undefined too;
/// - a lone escape at the end → nothing.
pub fn decode_into(septets: &[u8], tables: Gsm7Tables, out: &mut String) {
    out.reserve(septets.len());
    let locking = LOCKING.get(tables.locking.index()).unwrap_or(&LOCKING[0]);
    let shift = SINGLE_SHIFT
        .get(tables.single_shift.index())
        .unwrap_or(&SINGLE_SHIFT[0]);
    let mut iter = septets.iter().copied();
    while let Some(septet) = iter.next() {
        let ch = if septet == ESCAPE {
            match iter.next() {
                None => break,
                Some(ESCAPE) => ' ',
                Some(code) => shifted_char(code, shift, locking),
            }
        } else {
            table_char(locking, septet)
        };
        out.push(ch);
    }
}

/// Decodes `septets` (one per byte) into a new string; see [`decode_into`].
pub fn decode(septets: &[u8], tables: Gsm7Tables) -> String {
    let mut out = String::new();
    decode_into(septets, tables, &mut out);
    out
}

fn shifted_char(code: u8, shift: &[u16; 128], locking: &[u16; 128]) -> char {
    match shift.get(usize::from(code)) {
        Some(&unit) if unit != UNDEF => unit_char(unit),
        _ => table_char(locking, code),
    }
}

fn table_char(table: &[u16; 128], septet: u8) -> char {
    match table.get(usize::from(septet)) {
        Some(&unit) if unit != UNDEF => unit_char(unit),
        _ => REPLACEMENT,
    }
}

fn unit_char(unit: u16) -> char {
    char::from_u32(u32::from(unit)).unwrap_or(REPLACEMENT)
}

/// The character at `septet` of a locking table, if defined (for tests and tools).
pub fn locking_char(language: Language, septet: u8) -> Option<char> {
    let unit = *LOCKING.get(language.index())?.get(usize::from(septet))?;
    (unit != UNDEF).then(|| unit_char(unit))
}

/// The character at `septet` of a single shift table, if defined (for tests and tools).
pub fn shift_char(language: Language, septet: u8) -> Option<char> {
    let unit = *SINGLE_SHIFT
        .get(language.index())?
        .get(usize::from(septet))?;
    (unit != UNDEF).then(|| unit_char(unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_alphabet_round_trips_every_defined_septet() {
        for code in 0u8..128 {
            let Some(ch) = locking_char(Language::Default, code) else {
                continue;
            };
            assert_eq!(
                encode_char(ch, Gsm7Tables::DEFAULT),
                Some(Septets::Locking(code))
            );
        }
    }

    #[test]
    fn extension_characters_cost_two_septets() {
        for ch in "€[]{}^~\\|\u{c}".chars() {
            let septets = encode_char(ch, Gsm7Tables::DEFAULT);
            assert!(matches!(septets, Some(Septets::Shifted(_))), "{ch:?}");
        }
        assert_eq!(septet_count("a€", Gsm7Tables::DEFAULT), Some(3));
    }

    #[test]
    fn every_table_decodes_what_it_encodes() {
        for locking in Language::ALL {
            for shift in Language::ALL {
                let tables = Gsm7Tables::new(locking, shift);
                for code in 0u8..128 {
                    for ch in [
                        locking_char(tables.locking(), code),
                        shift_char(shift, code),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        let mut septets = Vec::new();
                        encode_into(ch.encode_utf8(&mut [0; 4]), tables, &mut septets)
                            .expect("a table character encodes");
                        assert_eq!(decode(&septets, tables), ch.to_string());
                    }
                }
            }
        }
    }

    #[test]
    fn duplicate_shift_entries_encode_to_the_lower_code() {
        let tables = Gsm7Tables::new(Language::Urdu, Language::Hindi);
        assert_eq!(encode_char('¡', tables), Some(Septets::Shifted(0x13)));
        assert_eq!(encode_char('*', tables), Some(Septets::Shifted(0x0B)));
    }

    #[test]
    fn spanish_locking_means_default_alphabet() {
        let tables = Gsm7Tables::new(Language::Spanish, Language::Spanish);
        assert_eq!(tables.locking(), Language::Default);
        assert_eq!(encode_char('á', tables), Some(Septets::Shifted(0x61)));
    }

    #[test]
    fn decoding_undefined_and_escape_sequences_uses_documented_replacements() {
        let t = Gsm7Tables::DEFAULT;
        assert_eq!(decode(&[ESCAPE, ESCAPE, 0x41], t), " A");
        assert_eq!(decode(&[ESCAPE, 0x41], t), "A");
        assert_eq!(decode(&[0x41, ESCAPE], t), "A");
        assert_eq!(decode(&[0x80, 0xFF], t), "\u{FFFD}\u{FFFD}");
        let kannada = Gsm7Tables::new(Language::Kannada, Language::Kannada);
        assert_eq!(decode(&[0x00], kannada), "\u{FFFD}");
    }

    #[test]
    fn table_masks_agree_with_the_reverse_tables_for_every_table_character() {
        let table_chars = Language::ALL.into_iter().flat_map(|l| {
            (0u8..128)
                .flat_map(move |c| [locking_char(l, c), shift_char(l, c)].into_iter().flatten())
        });
        for ch in table_chars.chain("`\u{0E00}😀\u{FFFD}".chars()) {
            let masks = table_masks(ch);
            let unit = u16::try_from(u32::from(ch)).ok();
            for language in Language::ALL {
                let bit = 1 << language.id();
                let locking = unit.and_then(|u| locking_code(u, language)).is_some();
                let shift = unit.and_then(|u| shift_code(u, language)).is_some();
                assert_eq!(masks.locking & bit != 0, locking, "{ch:?} {language:?}");
                assert_eq!(masks.single_shift & bit != 0, shift, "{ch:?} {language:?}");
            }
        }
    }

    #[test]
    fn ascii_fast_path_reports_the_unencodable_backtick() {
        let mut out = Vec::new();
        let err = encode_into("ab`c", Gsm7Tables::DEFAULT, &mut out).unwrap_err();
        assert_eq!((err.ch, err.byte_offset), ('`', 2));
        assert_eq!(septet_count("a{b", Gsm7Tables::DEFAULT), Some(4));
        assert_eq!(septet_count("a`", Gsm7Tables::DEFAULT), None);
    }

    #[test]
    fn characters_outside_the_bmp_are_unencodable() {
        let err = {
            let mut out = Vec::new();
            encode_into("a😀", Gsm7Tables::DEFAULT, &mut out).unwrap_err()
        };
        assert_eq!(err.ch, '😀');
        assert_eq!(err.byte_offset, 1);
    }
}
