//! Entry points for fuzz targets (`fuzz/fuzz_targets/http_*.rs` call these with the raw
//! input); each feeds the bytes to a parser a peer reaches and must never panic. The
//! proptests in `tests/no_panic.rs` drive the same functions.

use std::cell::Cell;

use crate::api::CallbackSpec;
use crate::form::Params;
use crate::v1::ParseContext;
use crate::{jasmin, kannel, time, v1};

fn context() -> ParseContext {
    ParseContext {
        max_messages: 1000,
        next_ref: Cell::new(0),
        now_ms: 1_700_000_000_000,
    }
}

/// A `/v1/messages` or `/v1/messages/batch` body.
pub fn v1_body(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = v1::parse_message(&value, "", None, &context());
        let _ = v1::parse_batch(&value, &context());
    }
}

/// A Kannel sendsms request: the first octet picks the body's content type, the rest is
/// split at the first NUL into query and body.
pub fn kannel_request(data: &[u8]) {
    let (selector, rest) = data.split_first().unwrap_or((&0, &[]));
    let content_type = match selector % 3 {
        0 => "application/x-www-form-urlencoded",
        1 => "text/plain; charset=UTF-16BE",
        _ => "application/octet-stream",
    };
    let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    let (query, body) = rest.split_at(split);
    let headers = [("X-Kannel-To", query)];
    let params = kannel::gather(query, Some(content_type), headers.into_iter(), body);
    let _ = kannel::credentials(&params);
    let _ = kannel::parse(&params, Some("Tern"), 0, &Cell::new(0));
}

/// A Jasmin `/send` request as a query string or a JSON body.
pub fn jasmin_request(data: &[u8]) {
    let params = Params::parse(data);
    let _ = jasmin::validate(&params);
    let _ = jasmin::parse(&params, 0, &Cell::new(0));
    if let Ok(json) = jasmin::params_from_json(data) {
        let _ = jasmin::parse(&json, 0, &Cell::new(0));
    }
    let _ = jasmin::parse_sdt(&String::from_utf8_lossy(data), 0);
}

/// Stored callback spec bytes, and the text parsers of times and forms.
pub fn stored_and_text(data: &[u8]) {
    let _ = CallbackSpec::decode(data);
    let text = String::from_utf8_lossy(data);
    let _ = time::parse_rfc3339_ms(&text);
    let _ = crate::form::hex_decode(&text);
    let _ = crate::form::decode(data);
}
