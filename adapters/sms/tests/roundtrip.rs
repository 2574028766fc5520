//! Property tests: text → encoding → parts → (shuffled) reassembly → text, and the other
//! round trips and robustness properties of the crate.

use proptest::prelude::*;
use tern_sms::gsm7::{self, pack};
use tern_sms::receipt::{ReceiptDate, Stat};
use tern_sms::segment::MAX_USER_DATA_OCTETS;
use tern_sms::{
    Alphabet, Concatenation, EncodedText, Encoding, EncodingPolicy, InsertStatus, LanguageSet,
    NationalPolicy, ParsedUserData, Part, Reassembler, ReassemblyConfig, Receipt, SegmentConfig,
    SeptetForm, parse_receipt, segment,
};

const EXTENSION: &str = "€[]{}^~\\|\u{c}";
const LATIN_NATIONAL: &str = "çğışöüÇĞİŞÖÜáéíóúñÁÉÍÓÚÑãõâêôàÃÕÂÊÔÀ¿¡§ªº∞";
const HINDI: &str = "अआइईउऊकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह।०१२";
const TAMIL: &str = "அஆஇஈஉஊஎஏஐஒஓஔகஙசஞடணதநபமயரலவழளறன௦௧";
const URDU: &str = "ابپتٹثجچحخدڈذرڑزژسشصضطظعفقکگلمنںوہھءیے۰۱";
const ASTRAL: &str = "😀👍🚀𝄞🇫🀄";

fn pick(chars: &'static str) -> impl Strategy<Value = char> {
    prop::sample::select(chars.chars().collect::<Vec<_>>())
}

fn text_of(ch: impl Strategy<Value = char>) -> impl Strategy<Value = String> {
    prop::collection::vec(ch, 0..420).prop_map(String::from_iter)
}

/// Texts of several flavours, so that every encoding and table pair gets exercised.
fn text() -> impl Strategy<Value = String> {
    // '`' is the one printable ASCII character outside the GSM 7-bit tables.
    let ascii = || prop::char::range(' ', '~').prop_map(|c| if c == '`' { '\'' } else { c });
    prop_oneof![
        text_of(prop_oneof![8 => ascii(), 1 => pick(EXTENSION)]),
        text_of(prop_oneof![6 => ascii(), 1 => pick(EXTENSION), 2 => pick(LATIN_NATIONAL)]),
        text_of(prop_oneof![2 => ascii(), 3 => pick(HINDI)]),
        text_of(prop_oneof![2 => ascii(), 3 => pick(TAMIL)]),
        text_of(prop_oneof![2 => ascii(), 3 => pick(URDU)]),
        text_of(prop_oneof![
            8 => ascii(),
            2 => pick(EXTENSION),
            2 => pick(LATIN_NATIONAL),
            1 => pick(ASTRAL),
            1 => any::<char>(),
        ]),
    ]
}

fn policy() -> impl Strategy<Value = EncodingPolicy> {
    let all = NationalPolicy {
        locking: LanguageSet::ALL_NATIONAL,
        single_shift: LanguageSet::ALL_NATIONAL,
    };
    let random = (any::<bool>(), any::<u16>(), any::<u16>()).prop_map(|(latin1, l, s)| {
        let set = |bits: u16| {
            LanguageSet::of(
                &tern_sms::Language::ALL
                    .into_iter()
                    .filter(|l| bits & (1 << l.id()) != 0)
                    .collect::<Vec<_>>(),
            )
        };
        EncodingPolicy {
            gsm7: true,
            latin1,
            national: NationalPolicy {
                locking: set(l),
                single_shift: set(s),
            },
        }
    });
    prop_oneof![
        Just(EncodingPolicy::default()),
        Just(EncodingPolicy {
            national: all,
            ..EncodingPolicy::default()
        }),
        Just(EncodingPolicy {
            gsm7: false,
            latin1: true,
            national: NationalPolicy::NONE,
        }),
        random,
    ]
}

fn concatenation() -> impl Strategy<Value = Concatenation> {
    prop_oneof![
        any::<u8>().prop_map(|reference| Concatenation::Udh8 { reference }),
        any::<u16>().prop_map(|reference| Concatenation::Udh16 { reference }),
        any::<u16>().prop_map(|reference| Concatenation::Sar { reference }),
        Just(Concatenation::Payload),
    ]
}

fn alphabet(encoding: Encoding) -> Alphabet {
    match encoding {
        Encoding::Gsm7(_) => Alphabet::Gsm7,
        Encoding::Ascii => Alphabet::Ascii,
        Encoding::Latin1 => Alphabet::Latin1,
        Encoding::Ucs2 => Alphabet::Ucs2,
        Encoding::Binary => Alphabet::Binary,
    }
}

/// Asserts the part starts and ends on character boundaries.
fn assert_whole_characters(part: &Part<'_>) {
    let units = part.units();
    match part.encoding() {
        Encoding::Gsm7(_) => {
            let mut i = 0;
            while i < units.len() {
                i += if units[i] == gsm7::ESCAPE { 2 } else { 1 };
            }
            assert_eq!(i, units.len(), "a part ends inside an escape sequence");
        }
        Encoding::Ucs2 => {
            assert_eq!(units.len() % 2, 0);
            let high = |u: &[u8]| matches!(u.first(), Some(0xD8..=0xDB));
            let low = |u: &[u8]| matches!(u.first(), Some(0xDC..=0xDF));
            assert!(
                !units.chunks(2).last().is_some_and(high),
                "part ends in a high surrogate"
            );
            assert!(
                !units.chunks(2).next().is_some_and(low),
                "part starts with a low surrogate"
            );
        }
        _ => {}
    }
}

/// Octets the part takes on the air interface: for SAR the SMSC adds a 16-bit
/// concatenation IE (and a header length octet when the part had no header).
fn air_octets(part: &Part<'_>, concatenation: Concatenation) -> usize {
    let udh = part.udh().len();
    let header = match (concatenation, part.sar()) {
        (Concatenation::Sar { .. }, Some(_)) => udh.max(1) + 6,
        _ => udh,
    };
    match part.encoding() {
        Encoding::Gsm7(_) => {
            let fill = if header == 0 {
                0
            } else {
                pack::fill_bits_after_udh(header)
            };
            header + pack::packed_len(part.units().len(), fill)
        }
        _ => header + part.units().len(),
    }
}

/// The receiver: parse each part's user data, decode it, reassemble in `order`.
fn receive(parts: &[(Vec<u8>, bool, Part<'_>)], form: SeptetForm, order: &[usize]) -> String {
    let mut reassembler: Reassembler<u32> = Reassembler::new(ReassemblyConfig::default());
    let mut message = None;
    for &i in order {
        let (user_data, udhi, part) = &parts[i];
        let parsed = ParsedUserData::parse(user_data, *udhi).expect("our header parses");
        let encoding = part.encoding();
        let text = parsed.text(alphabet(encoding), form, Some(part.units().len()));
        let (reference, total, seq) = match (parsed.udh.and_then(|u| u.concat()), part.sar()) {
            (Some(c), _) => (c.reference, c.total, c.seq),
            (None, Some(s)) => (s.reference, s.total, s.seq),
            (None, None) => (0, 1, 1),
        };
        let outcome = reassembler.insert(7, reference, total, seq, text.as_bytes(), 0);
        assert!(outcome.released.is_empty());
        if let InsertStatus::Complete(m) = outcome.status {
            assert!(message.is_none(), "completed twice");
            message = Some(String::from_utf8(m.concat()).expect("parts are whole UTF-8"));
        }
    }
    message.expect("all parts given, so the message completes")
}

/// TS 23.038 6.1.2.1.1 read literally: septet bit `b` of septet `i` goes to bit
/// `fill + 7i + b` of the octet stream, least significant bit first.
fn pack_reference(septets: &[u8], fill: u8) -> Vec<u8> {
    let bits = usize::from(fill) + 7 * septets.len();
    let mut out = vec![0u8; bits.div_ceil(8)];
    for (i, &septet) in septets.iter().enumerate() {
        for b in 0..7 {
            if septet & (1 << b) != 0 {
                let at = usize::from(fill) + 7 * i + b;
                out[at / 8] |= 1 << (at % 8);
            }
        }
    }
    out
}

fn shuffled(len: usize, mut seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    for i in (1..len).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        order.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    order
}

proptest! {

    #[test]
    fn text_survives_encoding_segmentation_and_shuffled_reassembly(
        text in text(),
        policy in policy(),
        concatenation in concatenation(),
        packed in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let encoded = EncodedText::encode_best(&text, &policy);
        prop_assert_eq!(encoded.decode(), text.clone());
        let config = SegmentConfig::new(concatenation);
        let segments = segment(&encoded, &config).expect("420 characters fit 255 parts");
        let form = if packed { SeptetForm::Packed } else { SeptetForm::Unpacked };
        let mut parts = Vec::new();
        for part in segments.iter() {
            assert_whole_characters(&part);
            if concatenation != Concatenation::Payload {
                prop_assert!(air_octets(&part, concatenation) <= MAX_USER_DATA_OCTETS);
                let octet_form = form == SeptetForm::Packed
                    || !matches!(part.encoding(), Encoding::Gsm7(_));
                if octet_form {
                    prop_assert!(part.user_data(form).len() <= MAX_USER_DATA_OCTETS);
                }
            }
            parts.push((part.user_data(form), part.has_udh(), part));
        }
        let order = shuffled(parts.len(), seed | 1);
        prop_assert_eq!(receive(&parts, form, &order), text);
    }

    #[test]
    fn packing_then_unpacking_returns_the_septets(
        septets in prop::collection::vec(0u8..128, 0..400),
        fill in 0u8..=6,
    ) {
        let packed = pack::pack(&septets, fill);
        prop_assert_eq!(packed.len(), pack::packed_len(septets.len(), fill));
        prop_assert_eq!(pack::unpack(&packed, fill, septets.len()), septets);
    }

    #[test]
    fn packing_matches_a_bit_by_bit_reference(
        septets in prop::collection::vec(0u8..128, 0..200),
        fill in 0u8..=6,
    ) {
        prop_assert_eq!(pack::pack(&septets, fill), pack_reference(&septets, fill));
    }

    #[test]
    fn built_receipt_parses_back_to_itself(receipt in receipt_parts()) {
        let (id, stat, sub, dlvrd, submit, done, err, text) = &receipt;
        let built = Receipt {
            id,
            stat: Stat::parse(stat),
            submitted: *sub,
            delivered: *dlvrd,
            submit_date: *submit,
            done_date: *done,
            err: err.as_deref(),
            text: text.as_deref(),
        };
        let bytes = built.to_bytes();
        prop_assert_eq!(parse_receipt(&bytes), Ok(built));
    }

    #[test]
    fn receipt_entry_point_never_panics_on_arbitrary_bytes(
        data in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        tern_sms::fuzz::receipt(&data);
    }

    #[test]
    fn receipt_entry_point_never_panics_on_receipt_like_text(data in receipt_like()) {
        tern_sms::fuzz::receipt(&data);
    }

    #[test]
    fn reassembly_entry_point_never_panics_on_arbitrary_bytes(
        data in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        tern_sms::fuzz::reassembly(&data);
    }

    #[test]
    fn decoding_arbitrary_units_never_panics(
        units in prop::collection::vec(any::<u8>(), 0..300),
        locking in 0u8..14,
        shift in 0u8..14,
    ) {
        let tables = tern_sms::Gsm7Tables::new(
            tern_sms::Language::from_id(locking).unwrap(),
            tern_sms::Language::from_id(shift).unwrap(),
        );
        for encoding in [Encoding::Gsm7(tables), Encoding::Ucs2, Encoding::Ascii, Encoding::Latin1] {
            let _ = tern_sms::encoding::decode(encoding, &units);
        }
        for udhi in [false, true] {
            if let Ok(parsed) = ParsedUserData::parse(&units, udhi) {
                let _ = parsed.text(Alphabet::Gsm7, SeptetForm::Packed, None);
            }
        }
    }
}

type ReceiptParts = (
    String,
    String,
    Option<u32>,
    Option<u32>,
    Option<ReceiptDate>,
    Option<ReceiptDate>,
    Option<String>,
    Option<Vec<u8>>,
);

fn date() -> impl Strategy<Value = ReceiptDate> {
    (
        0u8..100,
        1u8..=12,
        1u8..=31,
        0u8..24,
        0u8..60,
        prop::option::of(0u8..60),
    )
        .prop_map(|(year, month, day, hour, minute, second)| ReceiptDate {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
}

fn receipt_parts() -> impl Strategy<Value = ReceiptParts> {
    let stat = prop_oneof![
        prop::sample::select(vec![
            "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD", "ENROUTE",
            "SKIPPED", "ACKED", "BUFFRED",
        ])
        .prop_map(str::to_string),
        "[A-Z_]{3,12}",
    ];
    let text = prop::collection::vec(any::<u8>(), 0..40).prop_map(|mut t| {
        while t.last() == Some(&0) {
            t.pop();
        }
        t
    });
    (
        "[0-9A-Za-z_-]{1,64}",
        stat,
        prop::option::of(0u32..100_000),
        prop::option::of(0u32..1000),
        prop::option::of(date()),
        prop::option::of(date()),
        prop::option::of("[0-9]{3}|[A-Za-z_]{1,12}"),
        prop::option::of(text),
    )
}

fn receipt_like() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop::sample::select(vec![
        "id:",
        "ID:",
        "sub:",
        "dlvrd:",
        "submit",
        "date:",
        "done",
        "stat:",
        "err:",
        "text:",
        "Text:",
        " ",
        "  ",
        "\t",
        "\0",
        "0",
        "123",
        "abc",
        "DELIVRD",
        "2401011200",
        "240101120059",
        "-",
        "_",
        ":",
        "x",
    ]);
    prop::collection::vec(fragment, 0..40).prop_map(|parts| parts.concat().into_bytes())
}
