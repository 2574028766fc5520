//! Random input to every parser: errors are fine, panics are not; and the stored
//! callback spec round-trips.

use std::cell::Cell;

use proptest::prelude::*;
use tern_http::form::Params;
use tern_http::v1::{ParseContext, parse_batch, parse_message};
use tern_http::{CallbackMethod, CallbackSpec, CallbackStyle, ReceiptRequest, jasmin, kannel};

fn ctx() -> ParseContext {
    ParseContext {
        max_messages: 1000,
        next_ref: Cell::new(0),
        now_ms: 1_700_000_000_000,
    }
}

/// Bytes biased towards what the parsers look for.
fn request_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"to=".to_vec()),
        Just(b"&".to_vec()),
        Just(b"%".to_vec()),
        Just(b"%2B".to_vec()),
        Just(b"text=".to_vec()),
        Just(b"udh=%05".to_vec()),
        Just(b"coding=".to_vec()),
        Just(b"username=alice&password=secret&".to_vec()),
        Just(b"hex-content=".to_vec()),
        Just(b"sdt=".to_vec()),
        Just(b"dlr-url=http://".to_vec()),
        Just(b"charset=UTF-16BE&".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(token, 0..24).prop_map(|parts| parts.concat())
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,300}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("+4915112345")),
        Just(serde_json::Value::from("2030-01-01T00:00:00+01:00")),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        let keys = prop_oneof![
            Just("to".to_owned()),
            Just("from".to_owned()),
            Just("text".to_owned()),
            Just("hex".to_owned()),
            Just("udh".to_owned()),
            Just("coding".to_owned()),
            Just("schedule_at".to_owned()),
            Just("priority".to_owned()),
            Just("callback_url".to_owned()),
            Just("receipts".to_owned()),
            Just("messages".to_owned()),
            ".{0,8}".prop_map(|s| s),
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn v1_parsers_never_panic(value in json_value(), raw in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_message(&value, "", None, &ctx());
        let _ = parse_batch(&value, &ctx());
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&raw) {
            let _ = parse_message(&v, "", None, &ctx());
        }
    }

    #[test]
    fn kannel_parsers_never_panic(query in request_bytes(), body in request_bytes(), ct in prop_oneof![Just("text/plain; charset=UTF-16BE"), Just("application/x-www-form-urlencoded"), Just("application/octet-stream"), Just("")]) {
        let headers = [("X-Kannel-To", &b"123 456"[..]), ("X-Kannel-UDH", &body[..body.len().min(3)])];
        let params = kannel::gather(&query, Some(ct), headers.into_iter(), &body);
        let _ = kannel::credentials(&params);
        let _ = kannel::parse(&params, Some("Tern"), 0, &Cell::new(0));
    }

    #[test]
    fn jasmin_parsers_never_panic(query in request_bytes(), json in proptest::collection::vec(any::<u8>(), 0..128)) {
        let params = Params::parse(&query);
        if jasmin::validate(&params).is_ok() {
            let _ = jasmin::parse(&params, 0, &Cell::new(0));
        }
        let _ = jasmin::parse(&params, 0, &Cell::new(0));
        let _ = jasmin::params_from_json(&json);
        let _ = jasmin::parse_sdt(&String::from_utf8_lossy(&query), 0);
    }

    #[test]
    fn callback_spec_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = CallbackSpec::decode(&bytes);
    }

    #[test]
    fn fuzz_entry_points_never_panic(bytes in request_bytes(), raw in proptest::collection::vec(any::<u8>(), 0..256)) {
        for data in [&bytes[..], &raw[..]] {
            tern_http::fuzz::v1_body(data);
            tern_http::fuzz::kannel_request(data);
            tern_http::fuzz::jasmin_request(data);
            tern_http::fuzz::stored_and_text(data);
        }
    }

    #[test]
    fn callback_spec_round_trips(
        url in "http://[a-z0-9.]{1,20}(:[0-9]{1,5})?/[ -~]{0,200}",
        post in any::<bool>(),
        style in 0u8..4,
        param in any::<u8>(),
        bits in 0u8..8,
    ) {
        let style = match style {
            0 => CallbackStyle::Json,
            1 => CallbackStyle::Form,
            2 => CallbackStyle::Kannel { mask: param },
            _ => CallbackStyle::Jasmin { level: param },
        };
        let spec = CallbackSpec {
            url,
            method: if post { CallbackMethod::Post } else { CallbackMethod::Get },
            style,
            receipts: ReceiptRequest { on_success: bits & 1 != 0, on_failure: bits & 2 != 0, intermediate: bits & 4 != 0 },
        };
        let mut bytes = Vec::new();
        spec.encode(&mut bytes);
        prop_assert_eq!(CallbackSpec::decode(&bytes), Ok(spec));
    }
}

mod common;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Through the live server: every random body gets an answer (no dropped connection,
    /// which is what a panicking handler would give) and never a 500.
    #[test]
    fn random_bodies_to_every_route_are_answered(body in request_bytes(), json in json_value()) {
        thread_local!(static SERVER: common::TestServer = common::TestServer::start());
        SERVER.with(|server| {
            let json_body = json.to_string();
            for (path, ct, bytes) in [
                ("/v1/messages", "application/json", json_body.as_bytes()),
                ("/v1/messages/batch", "application/json", json_body.as_bytes()),
                ("/v1/messages", "application/json", &body[..]),
                ("/cgi-bin/sendsms", "application/x-www-form-urlencoded", &body[..]),
                ("/cgi-bin/sendsms", "text/plain", &body[..]),
                ("/send", "application/x-www-form-urlencoded", &body[..]),
                ("/send", "application/json", json_body.as_bytes()),
            ] {
                let result = ureq::post(&server.url(path))
                    .set("Authorization", common::ALICE)
                    .set("Content-Type", ct)
                    .send_bytes(bytes);
                let status = match result {
                    Ok(r) => r.status(),
                    Err(ureq::Error::Status(code, _)) => code,
                    Err(e) => panic!("{path}: no answer: {e}"),
                };
                assert!(status < 500, "{path} answered {status}");
            }
        });
    }
}
