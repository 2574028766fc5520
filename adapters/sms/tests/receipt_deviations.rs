//! One test per receipt deviation found in the field, each a row of the same table:
//! input text → the fields expected.

use tern_sms::message_id::{self, HexCase};
use tern_sms::receipt::{Source, err_code, scan_receipt};
use tern_sms::{MessageState, ReceiptDate, ReceiptError, Stat, merge_receipt, parse_receipt};

/// The fields a row expects; `None` means "absent".
#[derive(Default)]
struct Expect {
    id: &'static str,
    stat: Option<Stat<'static>>,
    sub: Option<u32>,
    dlvrd: Option<u32>,
    submit: Option<&'static str>,
    done: Option<&'static str>,
    err: Option<&'static str>,
    text: Option<&'static [u8]>,
}

fn check(input: &[u8], expect: Expect) {
    let r = parse_receipt(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    assert_eq!(r.id, expect.id, "id");
    assert_eq!(Some(r.stat), expect.stat, "stat");
    assert_eq!(r.submitted, expect.sub, "sub");
    assert_eq!(r.delivered, expect.dlvrd, "dlvrd");
    assert_eq!(
        r.submit_date.map(|d| d.to_string()).as_deref(),
        expect.submit,
        "submit date"
    );
    assert_eq!(
        r.done_date.map(|d| d.to_string()).as_deref(),
        expect.done,
        "done date"
    );
    assert_eq!(r.err, expect.err, "err");
    assert_eq!(r.text, expect.text, "text");
}

macro_rules! deviation {
    ($name:ident, $input:expr, $expect:expr) => {
        #[test]
        fn $name() {
            check($input, $expect);
        }
    };
}

deviation!(
    standard_format_per_smpp_appendix_b,
    b"id:0123456789 sub:001 dlvrd:001 submit date:2401311159 done date:2401311200 stat:DELIVRD err:000 text:Hello",
    Expect {
        id: "0123456789",
        stat: Some(Stat::Delivered),
        sub: Some(1),
        dlvrd: Some(1),
        submit: Some("2401311159"),
        done: Some("2401311200"),
        err: Some("000"),
        text: Some(b"Hello"),
    }
);

deviation!(
    hex_id_is_returned_as_found,
    b"id:7F3A9C01 stat:DELIVRD",
    Expect {
        id: "7F3A9C01",
        stat: Some(Stat::Delivered),
        ..Expect::default()
    }
);

deviation!(
    twelve_digit_dates_keep_seconds,
    b"id:1 sub:001 dlvrd:001 submit date:240131115930 done date:240131120001 stat:DELIVRD err:000 text:",
    Expect {
        id: "1",
        stat: Some(Stat::Delivered),
        sub: Some(1),
        dlvrd: Some(1),
        submit: Some("240131115930"),
        done: Some("240131120001"),
        err: Some("000"),
        text: Some(b""),
    }
);

deviation!(
    ten_digit_dates_have_no_seconds,
    b"id:1 submit date:2401311159 done date:2401311200 stat:UNDELIV",
    Expect {
        id: "1",
        stat: Some(Stat::Undeliverable),
        submit: Some("2401311159"),
        done: Some("2401311200"),
        ..Expect::default()
    }
);

deviation!(
    capitalised_text_field_is_found,
    b"id:42 stat:DELIVRD err:000 Text:Hi there",
    Expect {
        id: "42",
        stat: Some(Stat::Delivered),
        err: Some("000"),
        text: Some(b"Hi there"),
        ..Expect::default()
    }
);

deviation!(
    capitalised_field_names_are_read,
    b"ID:42 SUB:001 DLVRD:001 Submit Date:2401311159 DONE DATE:2401311200 Stat:DELIVRD ERR:000 TEXT:x",
    Expect {
        id: "42",
        stat: Some(Stat::Delivered),
        sub: Some(1),
        dlvrd: Some(1),
        submit: Some("2401311159"),
        done: Some("2401311200"),
        err: Some("000"),
        text: Some(b"x"),
    }
);

deviation!(
    lowercase_stat_value_is_read,
    b"id:42 stat:delivrd",
    Expect {
        id: "42",
        stat: Some(Stat::Delivered),
        ..Expect::default()
    }
);

deviation!(
    missing_sub_and_dlvrd,
    b"id:42 submit date:2401311159 done date:2401311200 stat:EXPIRED err:000 text:x",
    Expect {
        id: "42",
        stat: Some(Stat::Expired),
        submit: Some("2401311159"),
        done: Some("2401311200"),
        err: Some("000"),
        text: Some(b"x"),
        ..Expect::default()
    }
);

deviation!(
    missing_dates,
    b"id:42 sub:001 dlvrd:000 stat:REJECTD err:045 text:x",
    Expect {
        id: "42",
        stat: Some(Stat::Rejected),
        sub: Some(1),
        dlvrd: Some(0),
        err: Some("045"),
        text: Some(b"x"),
        ..Expect::default()
    }
);

deviation!(
    missing_err,
    b"id:42 sub:001 dlvrd:001 stat:DELIVRD text:x",
    Expect {
        id: "42",
        stat: Some(Stat::Delivered),
        sub: Some(1),
        dlvrd: Some(1),
        text: Some(b"x"),
        ..Expect::default()
    }
);

deviation!(
    missing_text,
    b"id:42 sub:001 dlvrd:001 submit date:2401311159 done date:2401311200 stat:DELIVRD err:000",
    Expect {
        id: "42",
        stat: Some(Stat::Delivered),
        sub: Some(1),
        dlvrd: Some(1),
        submit: Some("2401311159"),
        done: Some("2401311200"),
        err: Some("000"),
        ..Expect::default()
    }
);

deviation!(
    only_id_and_stat,
    b"id:42 stat:DELIVRD",
    Expect {
        id: "42",
        stat: Some(Stat::Delivered),
        ..Expect::default()
    }
);

deviation!(
    id_of_64_characters_with_dashes_and_underscores,
    b"id:0123456789abcdef-0123456789ABCDEF_0123456789abcdef-0123456789ab stat:ENROUTE",
    Expect {
        id: "0123456789abcdef-0123456789ABCDEF_0123456789abcdef-0123456789ab",
        stat: Some(Stat::Enroute),
        ..Expect::default()
    }
);

deviation!(
    unknown_extra_fields_are_ignored,
    b"id:42 smsc:acme sub:001 dlvrd:001 mccmnc:20801 stat:DELIVRD err:000 price:0.01 text:x",
    Expect {
        id: "42",
        stat: Some(Stat::Delivered),
        sub: Some(1),
        dlvrd: Some(1),
        err: Some("000"),
        text: Some(b"x"),
        ..Expect::default()
    }
);

deviation!(
    extra_spaces_between_fields_and_after_colons,
    b"  id: 42   sub: 001  dlvrd:001 submit date: 2401311159  done  date:2401311200 \t stat: DELIVRD err: 000 text:  x",
    Expect {
        id: "42",
        stat: Some(Stat::Delivered),
        sub: Some(1),
        dlvrd: Some(1),
        submit: Some("2401311159"),
        done: Some("2401311200"),
        err: Some("000"),
        text: Some(b"  x"),
    }
);

deviation!(
    underscore_date_keys,
    b"id:42 submit_date:2401311159 done_date:2401311200 stat:DELIVRD",
    Expect {
        id: "42",
        stat: Some(Stat::Delivered),
        submit: Some("2401311159"),
        done: Some("2401311200"),
        ..Expect::default()
    }
);

deviation!(
    fields_in_another_order,
    b"stat:DELIVRD err:000 id:42 dlvrd:001 sub:001 text:x",
    Expect {
        id: "42",
        stat: Some(Stat::Delivered),
        sub: Some(1),
        dlvrd: Some(1),
        err: Some("000"),
        text: Some(b"x"),
        ..Expect::default()
    }
);

deviation!(
    err_as_text,
    b"id:42 stat:UNDELIV err:ABSENT_SUBSCRIBER text:x",
    Expect {
        id: "42",
        stat: Some(Stat::Undeliverable),
        err: Some("ABSENT_SUBSCRIBER"),
        text: Some(b"x"),
        ..Expect::default()
    }
);

deviation!(
    unknown_stat_value_is_kept_raw,
    b"id:42 stat:FAILED",
    Expect {
        id: "42",
        stat: Some(Stat::Other("FAILED")),
        ..Expect::default()
    }
);

deviation!(
    trailing_nul_octets_are_ignored,
    b"id:42 stat:DELIVRD text:x\0\0",
    Expect {
        id: "42",
        stat: Some(Stat::Delivered),
        text: Some(b"x"),
        ..Expect::default()
    }
);

deviation!(
    text_in_another_alphabet_is_kept_as_bytes,
    b"id:42 stat:DELIVRD text:\x00\x1b\x65\xff",
    Expect {
        id: "42",
        stat: Some(Stat::Delivered),
        text: Some(b"\x00\x1b\x65\xff"),
        ..Expect::default()
    }
);

#[test]
fn non_standard_stat_values_map_to_message_states() {
    let table: [(&str, Stat<'_>, MessageState, bool); 13] = [
        ("DELIVRD", Stat::Delivered, MessageState::Delivered, true),
        ("EXPIRED", Stat::Expired, MessageState::Expired, true),
        ("DELETED", Stat::Deleted, MessageState::Deleted, true),
        (
            "UNDELIV",
            Stat::Undeliverable,
            MessageState::Undeliverable,
            true,
        ),
        ("ACCEPTD", Stat::Accepted, MessageState::Accepted, true),
        ("UNKNOWN", Stat::Unknown, MessageState::Unknown, true),
        ("REJECTD", Stat::Rejected, MessageState::Rejected, true),
        ("ENROUTE", Stat::Enroute, MessageState::Enroute, false),
        ("SKIPPED", Stat::Skipped, MessageState::Skipped, true),
        ("ACKED", Stat::Acked, MessageState::Enroute, false),
        ("BUFFRED", Stat::Buffered, MessageState::Enroute, false),
        ("DELIVERED", Stat::Delivered, MessageState::Delivered, true),
        (
            "UNDELIVERABLE",
            Stat::Undeliverable,
            MessageState::Undeliverable,
            true,
        ),
    ];
    for (raw, stat, state, is_final) in table {
        let input = format!("id:1 stat:{raw}");
        let r = parse_receipt(input.as_bytes()).unwrap();
        assert_eq!(r.stat, stat, "{raw}");
        assert_eq!(r.stat.message_state(), Some(state), "{raw}");
        assert_eq!(r.stat.is_final(), Some(is_final), "{raw}");
    }
    assert_eq!(Stat::Other("FAILED").message_state(), None);
}

#[test]
fn err_as_number() {
    let r = parse_receipt(b"id:1 stat:UNDELIV err:045").unwrap();
    assert_eq!(r.err.and_then(err_code), Some(45));
    let r = parse_receipt(b"id:1 stat:UNDELIV err:ABSENT").unwrap();
    assert_eq!(r.err.and_then(err_code), None);
}

#[test]
fn hex_id_normalises_to_decimal_and_back() {
    let r = parse_receipt(b"id:7F3A9C01 stat:DELIVRD").unwrap();
    let decimal = message_id::hex_to_decimal(r.id).unwrap();
    assert_eq!(&*decimal, "2134547457");
    assert_eq!(
        &*message_id::decimal_to_hex(&decimal, HexCase::Upper).unwrap(),
        "7F3A9C01"
    );
}

#[test]
fn decimal_id_normalises_to_hex() {
    let r = parse_receipt(b"id:2134547457 stat:DELIVRD").unwrap();
    assert_eq!(
        &*message_id::decimal_to_hex(r.id, HexCase::Lower).unwrap(),
        "7f3a9c01"
    );
}

#[test]
fn id_longer_than_64_characters_is_refused() {
    let input = format!("id:{} stat:DELIVRD", "9".repeat(65));
    assert_eq!(
        parse_receipt(input.as_bytes()),
        Err(ReceiptError::IdTooLong { len: 65 })
    );
}

#[test]
fn missing_id_or_stat_is_a_typed_error() {
    assert_eq!(parse_receipt(b"stat:DELIVRD"), Err(ReceiptError::MissingId));
    assert_eq!(
        parse_receipt(b"id:1 err:000"),
        Err(ReceiptError::MissingStat)
    );
    assert_eq!(parse_receipt(b""), Err(ReceiptError::MissingId));
}

#[test]
fn invalid_date_is_dropped_not_fatal() {
    let r = parse_receipt(b"id:1 submit date:2413311159 done date:24013112 stat:DELIVRD").unwrap();
    assert_eq!((r.submit_date, r.done_date), (None, None));
    assert_eq!(
        ReceiptDate::parse(b"2402291230").map(|d| d.day),
        Some(29),
        "dates are range-checked, not calendar-checked"
    );
}

#[test]
fn tlvs_win_over_text() {
    let merged = merge_receipt(
        Some(b"ABC123\0"),
        Some(MessageState::Undeliverable.value()),
        b"id:999 stat:DELIVRD err:000",
    )
    .unwrap();
    assert_eq!(merged.id, "ABC123");
    assert_eq!(merged.id_source, Source::Tlv);
    assert_eq!(merged.state, Some(MessageState::Undeliverable));
    assert_eq!(merged.state_source, Some(Source::Tlv));
    assert_eq!(merged.fields.err, Some("000"));
}

#[test]
fn invalid_tlv_values_fall_back_to_text() {
    let merged = merge_receipt(Some(b"\0"), Some(42), b"id:999 stat:EXPIRED").unwrap();
    assert_eq!((merged.id, merged.id_source), ("999", Source::Text));
    assert_eq!(merged.state, Some(MessageState::Expired));
    assert_eq!(merged.state_source, Some(Source::Text));
}

#[test]
fn tlvs_alone_suffice_when_text_is_garbage() {
    let id = [b'7'; 64];
    let text = format!("id:{} garbage", "x".repeat(80));
    let merged = merge_receipt(Some(&id), Some(2), text.as_bytes()).unwrap();
    assert_eq!(merged.id.len(), 64);
    assert_eq!(merged.state, Some(MessageState::Delivered));
    assert_eq!(merged.fields, Default::default());
}

#[test]
fn receipt_in_message_payload_is_read_from_the_same_bytes() {
    let payload: Vec<u8> =
        b"id:5 stat:DELIVRD text:long receipt text carried in message_payload".to_vec();
    let merged = merge_receipt(None, None, &payload).unwrap();
    assert_eq!(merged.id, "5");
    assert_eq!(merged.state, Some(MessageState::Delivered));
    assert_eq!(
        scan_receipt(&payload).unwrap().text.map(<[u8]>::len),
        Some(44)
    );
}
