//! The `/v1` JSON API: a message (or a batch) into [`Submission`]s, field by field, so a
//! 400 names the exact field (`messages[3].to[1]`).
//!
//! Parsed from `serde_json::Value` by hand rather than derived: unknown fields are refused
//! by name (a typo such as `callback_ulr` must not silently drop receipts), `to` is a
//! string or an array, `schedule_at` a string or a number.

use std::cell::Cell;

use serde_json::{Map, Value};

use crate::api::{
    Address, CallbackMethod, CallbackSpec, CallbackStyle, ReceiptRequest, Submission,
};
use crate::callback::MAX_URL_OCTETS;
use crate::encode::{self, Coding, EncodeProblem};
use crate::form;
use crate::time;

/// A field a client got wrong: the 400's `field` and `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct FieldError {
    /// JSON path of the field, e.g. `messages[3].to`.
    pub field: String,
    /// What is wrong with it.
    pub detail: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// Limits and state the parsers share (one per server).
#[derive(Debug)]
pub struct ParseContext {
    /// Most submissions (recipients counted) one request may make.
    pub max_messages: usize,
    /// Next concatenation reference.
    pub next_ref: Cell<u8>,
    /// Current Unix time in ms (for relative times; the caller sets it per request).
    pub now_ms: u64,
}

/// Longest client reference, in octets.
pub const MAX_REFERENCE_OCTETS: usize = 64;
/// Longest address, in characters.
pub const MAX_ADDRESS_CHARS: usize = 21;

const MESSAGE_FIELDS: &[&str] = &[
    "to",
    "from",
    "text",
    "hex",
    "coding",
    "udh",
    "validity_s",
    "schedule_at",
    "priority",
    "reference",
    "callback_url",
    "callback_method",
    "callback_format",
    "receipts",
];

/// The fields a `/v1` message object may carry (the OpenAPI test checks them).
pub fn message_fields() -> &'static [&'static str] {
    MESSAGE_FIELDS
}

/// A destination: digits with an optional leading `+` (international).
pub fn parse_to(raw: &str, field: &str) -> Result<Address, FieldError> {
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    let ok = !digits.is_empty()
        && digits.len() <= MAX_ADDRESS_CHARS
        && digits.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(FieldError::new(
            field,
            "must be a phone number: digits with an optional leading +",
        ));
    }
    Ok(Address {
        ton: 1,
        npi: 1,
        digits: digits.to_owned(),
    })
}

/// A source: `+digits` or a long number (international), a short code (unknown TON), or
/// an alphanumeric sender of at most 11 characters.
pub fn parse_from(raw: &str, field: &str) -> Result<Address, FieldError> {
    let plus = raw.starts_with('+');
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    if !digits.is_empty()
        && digits.len() <= MAX_ADDRESS_CHARS
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        let international = plus || digits.len() > 8;
        return Ok(Address {
            ton: if international { 1 } else { 0 },
            npi: 1,
            digits: digits.to_owned(),
        });
    }
    let alnum = !raw.is_empty()
        && raw.chars().count() <= 11
        && raw.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    if !alnum {
        return Err(FieldError::new(
            field,
            "must be a phone number or an alphanumeric sender of at most 11 characters",
        ));
    }
    Ok(Address {
        ton: 5,
        npi: 0,
        digits: raw.to_owned(),
    })
}

fn problem_detail(p: &EncodeProblem) -> String {
    p.to_string()
}

fn get_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, FieldError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FieldError::new(format!("{path}{key}"), "must be a string")),
    }
}

fn get_u64(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    max: u64,
) -> Result<Option<u64>, FieldError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n <= max => Ok(Some(n)),
            _ => Err(FieldError::new(
                format!("{path}{key}"),
                format!("must be an integer from 0 to {max}"),
            )),
        },
    }
}

/// `schedule_at`: RFC 3339 text or Unix seconds.
fn schedule_at(v: Option<&Value>, field: &str) -> Result<Option<u64>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => time::parse_rfc3339_ms(s)
            .map(Some)
            .ok_or_else(|| FieldError::new(field, "must be an RFC 3339 time or Unix seconds")),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|s| s.checked_mul(1000))
            .map(Some)
            .ok_or_else(|| FieldError::new(field, "must be an RFC 3339 time or Unix seconds")),
        Some(_) => Err(FieldError::new(
            field,
            "must be an RFC 3339 time or Unix seconds",
        )),
    }
}

fn recipients(
    obj: &Map<String, Value>,
    path: &str,
    max: usize,
) -> Result<Vec<Address>, FieldError> {
    let field = format!("{path}to");
    match obj.get("to") {
        Some(Value::String(s)) => Ok(vec![parse_to(s, &field)?]),
        Some(Value::Array(items)) => {
            if items.is_empty() || items.len() > max {
                return Err(FieldError::new(
                    field,
                    format!("must hold 1 to {max} recipients"),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let f = format!("{field}[{i}]");
                    match item {
                        Value::String(s) => parse_to(s, &f),
                        _ => Err(FieldError::new(f, "must be a string")),
                    }
                })
                .collect()
        }
        None | Some(Value::Null) => Err(FieldError::new(field, "is required")),
        Some(_) => Err(FieldError::new(
            field,
            "must be a string or an array of strings",
        )),
    }
}

fn coding(obj: &Map<String, Value>, path: &str) -> Result<Coding, FieldError> {
    Ok(match get_str(obj, "coding", path)? {
        None | Some("auto") => Coding::Auto,
        Some("gsm7") => Coding::Gsm7,
        Some("ucs2") => Coding::Ucs2,
        Some("latin1") => Coding::Latin1,
        Some("binary") => Coding::Binary,
        Some(_) => {
            return Err(FieldError::new(
                format!("{path}coding"),
                "must be one of auto, gsm7, ucs2, latin1, binary",
            ));
        }
    })
}

fn content(
    obj: &Map<String, Value>,
    path: &str,
    ctx: &ParseContext,
) -> Result<crate::api::Encoded, FieldError> {
    let coding = coding(obj, path)?;
    let text = get_str(obj, "text", path)?;
    let hex = get_str(obj, "hex", path)?;
    let udh = get_str(obj, "udh", path)?;
    let encoded_text = match (text, hex) {
        (Some(t), None) => {
            if udh.is_some() {
                return Err(FieldError::new(
                    format!("{path}udh"),
                    "is allowed only with hex",
                ));
            }
            encode::encode_text(t, coding)
                .map_err(|p| FieldError::new(format!("{path}text"), problem_detail(&p)))?
        }
        (None, Some(h)) => {
            let octets = form::hex_decode(h)
                .ok_or_else(|| FieldError::new(format!("{path}hex"), "must be hex digits"))?;
            encode::encode_octets(octets, coding)
                .map_err(|p| FieldError::new(format!("{path}hex"), problem_detail(&p)))?
        }
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                format!("{path}hex"),
                "text and hex exclude each other",
            ));
        }
        (None, None) => {
            return Err(FieldError::new(
                format!("{path}text"),
                "text or hex is required",
            ));
        }
    };
    let udh = match udh {
        Some(u) => Some(
            form::hex_decode(u)
                .ok_or_else(|| FieldError::new(format!("{path}udh"), "must be hex digits"))?,
        ),
        None => None,
    };
    encode::into_parts(&encoded_text, udh.as_deref(), &ctx.next_ref).map_err(|p| {
        let field = match p {
            EncodeProblem::BadUdh | EncodeProblem::UdhTooLong => "udh",
            _ if hex.is_some() => "hex",
            _ => "text",
        };
        FieldError::new(format!("{path}{field}"), problem_detail(&p))
    })
}

fn callback(
    obj: &Map<String, Value>,
    path: &str,
) -> Result<(Option<CallbackSpec>, ReceiptRequest), FieldError> {
    let url = get_str(obj, "callback_url", path)?;
    let method = match get_str(obj, "callback_method", path)? {
        None | Some("POST") | Some("post") => CallbackMethod::Post,
        Some("GET") | Some("get") => CallbackMethod::Get,
        Some(_) => {
            return Err(FieldError::new(
                format!("{path}callback_method"),
                "must be POST or GET",
            ));
        }
    };
    let style = match get_str(obj, "callback_format", path)? {
        None | Some("json") => CallbackStyle::Json,
        Some("form") => CallbackStyle::Form,
        Some(_) => {
            return Err(FieldError::new(
                format!("{path}callback_format"),
                "must be json or form",
            ));
        }
    };
    let receipts_field = get_str(obj, "receipts", path)?;
    let default = if url.is_some() { "final" } else { "none" };
    let receipts = match receipts_field.unwrap_or(default) {
        "final" => ReceiptRequest {
            on_success: true,
            on_failure: true,
            intermediate: false,
        },
        "failure" => ReceiptRequest {
            on_success: false,
            on_failure: true,
            intermediate: false,
        },
        "success" => ReceiptRequest {
            on_success: true,
            on_failure: false,
            intermediate: false,
        },
        "all" => ReceiptRequest {
            on_success: true,
            on_failure: true,
            intermediate: true,
        },
        "none" => ReceiptRequest::default(),
        _ => {
            return Err(FieldError::new(
                format!("{path}receipts"),
                "must be one of final, failure, success, all, none",
            ));
        }
    };
    let Some(url) = url else {
        if receipts != ReceiptRequest::default() {
            return Err(FieldError::new(
                format!("{path}callback_url"),
                "is required when receipts are asked",
            ));
        }
        return Ok((None, receipts));
    };
    check_callback_url(url).map_err(|d| FieldError::new(format!("{path}callback_url"), d))?;
    let spec = CallbackSpec {
        url: url.to_owned(),
        method,
        style,
        receipts,
    };
    Ok((Some(spec), receipts))
}

/// Checks a callback URL: `http://` or `https://`, at most [`MAX_URL_OCTETS`], a host
/// present, no spaces.
pub fn check_callback_url(url: &str) -> Result<(), &'static str> {
    if url.len() > MAX_URL_OCTETS {
        return Err("must be at most 2048 octets");
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("must be an http:// or https:// URL")?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if rest.get(..host_end).is_none_or(str::is_empty) || url.chars().any(char::is_whitespace) {
        return Err("must name a host and hold no spaces");
    }
    Ok(())
}

/// Parses one message object; `path` prefixes field names (`""` or `"messages[3]."`).
pub fn parse_message(
    value: &Value,
    path: &str,
    default_schedule_ms: Option<u64>,
    ctx: &ParseContext,
) -> Result<Vec<Submission>, FieldError> {
    let Value::Object(obj) = value else {
        let field = path.trim_end_matches('.');
        return Err(FieldError::new(
            if field.is_empty() { "body" } else { field },
            "must be an object",
        ));
    };
    if let Some(unknown) = obj.keys().find(|k| !MESSAGE_FIELDS.contains(&k.as_str())) {
        return Err(FieldError::new(
            format!("{path}{unknown}"),
            "is not a known field",
        ));
    }
    let to = recipients(obj, path, ctx.max_messages)?;
    let from = match get_str(obj, "from", path)? {
        Some(f) => parse_from(f, &format!("{path}from"))?,
        None => return Err(FieldError::new(format!("{path}from"), "is required")),
    };
    let encoded = content(obj, path, ctx)?;
    let validity_s =
        get_u64(obj, "validity_s", path, u64::from(u32::MAX))?.and_then(|v| u32::try_from(v).ok());
    let schedule =
        schedule_at(obj.get("schedule_at"), &format!("{path}schedule_at"))?.or(default_schedule_ms);
    let priority = get_u64(obj, "priority", path, 3)?.unwrap_or(0);
    let reference = get_str(obj, "reference", path)?;
    if reference.is_some_and(|r| r.len() > MAX_REFERENCE_OCTETS) {
        return Err(FieldError::new(
            format!("{path}reference"),
            "must be at most 64 octets",
        ));
    }
    let (callback, receipts) = callback(obj, path)?;
    Ok(to
        .into_iter()
        .map(|to| Submission {
            to,
            from: from.clone(),
            encoded: encoded.clone(),
            validity_s,
            schedule_at_ms: schedule,
            priority: u8::try_from(priority).unwrap_or(0),
            client_ref: reference.map(str::to_owned),
            receipts,
            callback: callback.clone(),
        })
        .collect())
}

/// Parses a `/v1/messages/batch` body.
pub fn parse_batch(value: &Value, ctx: &ParseContext) -> Result<Vec<Submission>, FieldError> {
    let Value::Object(obj) = value else {
        return Err(FieldError::new("body", "must be an object"));
    };
    if let Some(unknown) = obj.keys().find(|k| *k != "messages" && *k != "schedule_at") {
        return Err(FieldError::new(unknown.clone(), "is not a known field"));
    }
    let default_schedule = schedule_at(obj.get("schedule_at"), "schedule_at")?;
    let Some(Value::Array(items)) = obj.get("messages") else {
        return Err(FieldError::new(
            "messages",
            "is required and must be an array",
        ));
    };
    if items.is_empty() || items.len() > ctx.max_messages {
        return Err(FieldError::new(
            "messages",
            format!("must hold 1 to {} messages", ctx.max_messages),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("messages[{i}].");
        out.extend(parse_message(item, &path, default_schedule, ctx)?);
        if out.len() > ctx.max_messages {
            return Err(FieldError::new(
                format!("messages[{i}].to"),
                format!("the batch exceeds {} recipients", ctx.max_messages),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext {
        ParseContext {
            max_messages: 3,
            next_ref: Cell::new(0),
            now_ms: 0,
        }
    }

    #[test]
    fn bad_item_in_batch_is_named_by_index() {
        let body = serde_json::json!({"messages": [
            {"to": "+491", "from": "Tern", "text": "a"},
            {"to": "x", "from": "Tern", "text": "a"}
        ]});
        let err = parse_batch(&body, &ctx()).err().map(|e| e.field);
        assert_eq!(err.as_deref(), Some("messages[1].to"));
    }

    #[test]
    fn recipients_over_the_bound_are_refused() {
        let body = serde_json::json!({"to": ["1","2","3","4"], "from": "T", "text": "a"});
        let err = parse_message(&body, "", None, &ctx())
            .err()
            .map(|e| e.field);
        assert_eq!(err.as_deref(), Some("to"));
    }

    #[test]
    fn callback_defaults_to_final_receipts_by_post_json() {
        let body =
            serde_json::json!({"to": "1", "from": "T", "text": "a", "callback_url": "http://h/x"});
        let subs = parse_message(&body, "", None, &ctx()).unwrap_or_default();
        let spec = subs.first().and_then(|s| s.callback.clone());
        assert_eq!(
            spec.map(|s| (
                s.method,
                s.style,
                s.receipts.on_success,
                s.receipts.intermediate
            )),
            Some((CallbackMethod::Post, CallbackStyle::Json, true, false))
        );
    }
}
