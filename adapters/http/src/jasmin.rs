//! Jasmin's HTTP API `/send`: its parameters into a [`Submission`] and its answers.
//!
//! Validation follows Jasmin's `UrlArgsValidator` in order: no arguments, an unknown
//! argument, each known argument's pattern, a missing mandatory one, then content vs
//! hex-content. Answers are `text/plain`: 200 `Success "<id>"`, 400 `Error "<reason>"`,
//! 403 `Error "Authentication failure for username:<u>"` (and `Error "User throughput
//! exceeded"`, with Retry-After), 412 `Error "No route found"`. Like Jasmin, a JSON body
//! (`Content-Type: application/json`) is read as the same arguments.
//!
//! Content with coding 0 is converted to GSM 7-bit with `?` for what it lacks (Jasmin's
//! `gsm0338` with `replace`); coding 3 to Latin-1 the same way; coding 8 to UCS-2; other
//! codings send the content's octets as they are. `hex-content` is always sent as is.

use std::cell::Cell;

use tern_sms::{EncodedText, Encoding};

use crate::api::{
    Address, CallbackMethod, CallbackSpec, CallbackStyle, Credentials, Encoded, ReceiptRequest,
    Submission,
};
use crate::callback::{MAX_URL_OCTETS, receipts_from_jasmin_level};
use crate::encode;
use crate::form::{self, Params};
use crate::v1::parse_from;

/// A refusal in Jasmin's words (the body is `Error "<reason>"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JasminReject {
    /// HTTP status.
    pub status: u16,
    /// The reason inside `Error "…"`.
    pub reason: String,
}

impl JasminReject {
    /// The answer body.
    pub fn body(&self) -> String {
        format!("Error \"{}\"", self.reason)
    }
}

fn bad(reason: impl Into<String>) -> JasminReject {
    JasminReject {
        status: 400,
        reason: reason.into(),
    }
}

const FIELDS: &[&str] = &[
    "to",
    "from",
    "coding",
    "username",
    "password",
    "priority",
    "sdt",
    "validity-period",
    "dlr",
    "dlr-url",
    "dlr-level",
    "dlr-method",
    "tags",
    "content",
    "hex-content",
    "custom_tlvs",
];

/// The arguments `/send` knows (the OpenAPI test checks them).
pub fn fields() -> &'static [&'static str] {
    FIELDS
}

/// Reads a JSON object body as arguments (strings and numbers; other values are kept as
/// their JSON text, as Jasmin keeps them unparsed).
pub fn params_from_json(body: &[u8]) -> Result<Params, JasminReject> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        bad("Mandatory arguments not found, please refer to the HTTPAPI specifications.")
    })?;
    let serde_json::Value::Object(obj) = value else {
        return Err(bad(
            "Mandatory arguments not found, please refer to the HTTPAPI specifications.",
        ));
    };
    let mut params = Params::default();
    for (k, v) in obj.iter().take(form::MAX_PARAMS) {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        params.push(k, text.as_bytes());
    }
    Ok(params)
}

fn matches(field: &str, value: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match field {
        // Jasmin's pattern is unbounded; a longer number than E.164 allows is refused here.
        "to" => {
            let number = value.strip_prefix('+').unwrap_or(value);
            digits(number) && number.len() <= crate::v1::MAX_ADDRESS_CHARS
        }
        "coding" => matches!(
            value,
            "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "10" | "13" | "14"
        ),
        "username" | "password" => (1..=16).contains(&value.chars().count()),
        "priority" => matches!(value, "0" | "1" | "2" | "3"),
        "sdt" => parse_sdt_shape(value),
        "validity-period" => digits(value),
        "dlr" => matches!(value, "yes" | "no"),
        "dlr-url" => value.starts_with("http://") || value.starts_with("https://"),
        "dlr-level" => matches!(value, "1" | "2" | "3"),
        "dlr-method" => value.eq_ignore_ascii_case("get") || value.eq_ignore_ascii_case("post"),
        "tags" => value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b','),
        _ => true,
    }
}

fn parse_sdt_shape(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 16
        && b.get(..15)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && matches!(b.get(15), Some(b'+' | b'-' | b'R'))
}

/// Jasmin's argument validation; on success the credentials.
pub fn validate(params: &Params) -> Result<Credentials, JasminReject> {
    if params.is_empty() {
        return Err(bad(
            "Mandatory arguments not found, please refer to the HTTPAPI specifications.",
        ));
    }
    if let Some(unknown) = params.names().find(|n| !FIELDS.contains(n)) {
        return Err(bad(format!("Argument [{unknown}] is unknown.")));
    }
    for field in FIELDS {
        if let Some(value) = params.text(field)
            && !matches(field, &value)
        {
            return Err(bad(format!(
                "Argument [{field}] has an invalid value: [{value}]."
            )));
        }
    }
    for mandatory in ["to", "username", "password"] {
        if params.bytes(mandatory).is_none() {
            return Err(bad(format!(
                "Mandatory argument [{mandatory}] is not found."
            )));
        }
    }
    match (
        params.bytes("content").is_some(),
        params.bytes("hex-content").is_some(),
    ) {
        (false, false) => return Err(bad("content or hex-content not present.")),
        (true, true) => {
            return Err(bad(
                "content and hex-content cannot be used both in same request.",
            ));
        }
        _ => {}
    }
    Ok(Credentials::Password {
        name: params.text("username").unwrap_or_default(),
        password: params.text("password").unwrap_or_default(),
    })
}

/// SMPP time `YYMMDDhhmmsstnnp` (absolute with offset in quarter hours, or `R` relative)
/// into Unix ms.
pub fn parse_sdt(v: &str, now_ms: u64) -> Option<u64> {
    if !parse_sdt_shape(v) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| v.get(r).and_then(|s| s.parse::<u64>().ok());
    let (yy, mo, dd, hh, mi, ss) = (
        n(0..2)?,
        n(2..4)?,
        n(4..6)?,
        n(6..8)?,
        n(8..10)?,
        n(10..12)?,
    );
    let tenths = n(12..13)?;
    let quarters = n(13..15)?;
    match v.as_bytes().get(15) {
        Some(b'R') => {
            let secs = ((yy * 365 + mo * 30 + dd) * 86_400) + hh * 3600 + mi * 60 + ss;
            Some(now_ms.saturating_add(secs.saturating_mul(1000)))
        }
        Some(sign) => {
            let civil = crate::time::Civil {
                // Two-digit years: 70–99 are 19xx, the rest 20xx.
                year: u32::try_from(if yy >= 70 { 1900 + yy } else { 2000 + yy }).ok()?,
                month: u32::try_from(mo).ok()?,
                day: u32::try_from(dd).ok()?,
                hour: u32::try_from(hh).ok()?,
                minute: u32::try_from(mi).ok()?,
                second: u32::try_from(ss).ok()?,
            };
            let local_ms = crate::time::unix_s_from_civil(civil)? * 1000 + tenths * 100;
            let offset_ms = quarters * 15 * 60_000;
            if *sign == b'+' {
                local_ms.checked_sub(offset_ms)
            } else {
                local_ms.checked_add(offset_ms)
            }
        }
        None => None,
    }
}

fn content(params: &Params, coding: u8, next_ref: &Cell<u8>) -> Result<Encoded, JasminReject> {
    let text = if let Some(hex) = params.text("hex-content") {
        let octets = form::hex_decode(&hex)
            .ok_or_else(|| bad(format!("Invalid hex-content data: '{hex}'")))?;
        if coding == 8 && octets.len().is_multiple_of(2) {
            EncodedText::from_units(Encoding::Ucs2, octets)
        } else {
            EncodedText::binary(octets)
        }
    } else {
        let raw = params.bytes("content").unwrap_or_default();
        let s = String::from_utf8_lossy(raw);
        match coding {
            0 => encode::encode_lossy(&s, Encoding::GSM7),
            1 => encode::encode_lossy(&s, Encoding::Ascii),
            3 => encode::encode_lossy(&s, Encoding::Latin1),
            8 => encode::encode_lossy(&s, Encoding::Ucs2),
            _ => EncodedText::binary(raw.to_vec()),
        }
    };
    let mut encoded = encode::into_parts(&text, None, next_ref).map_err(|e| bad(e.to_string()))?;
    encoded.data_coding = coding;
    Ok(encoded)
}

fn dlr(params: &Params) -> Option<(CallbackSpec, ReceiptRequest)> {
    let wanted = params.text("dlr").as_deref() == Some("yes")
        || params.bytes("dlr-url").is_some()
        || params.bytes("dlr-level").is_some();
    let url = params.text("dlr-url")?;
    if !wanted || url.len() > MAX_URL_OCTETS {
        return None;
    }
    let level = params
        .text("dlr-level")
        .and_then(|l| l.parse::<u8>().ok())
        .unwrap_or(1);
    let method = match params.text("dlr-method") {
        Some(m) if m.eq_ignore_ascii_case("get") => CallbackMethod::Get,
        _ => CallbackMethod::Post,
    };
    let receipts = receipts_from_jasmin_level(level);
    Some((
        CallbackSpec {
            url,
            method,
            style: CallbackStyle::Jasmin { level },
            receipts,
        },
        receipts,
    ))
}

/// Builds the submission of a validated request.
pub fn parse(
    params: &Params,
    now_ms: u64,
    next_ref: &Cell<u8>,
) -> Result<Submission, JasminReject> {
    let to_raw = params.text("to").unwrap_or_default();
    let to = Address {
        ton: 1,
        npi: 1,
        digits: to_raw.trim_start_matches('+').to_owned(),
    };
    let from = match params.text("from") {
        Some(f) => parse_from(&f, "from")
            .map_err(|_| bad(format!("Argument [from] has an invalid value: [{f}].")))?,
        None => Address {
            ton: 0,
            npi: 0,
            digits: String::new(),
        },
    };
    let coding = params
        .text("coding")
        .and_then(|c| c.parse::<u8>().ok())
        .unwrap_or(0);
    let encoded = content(params, coding, next_ref)?;
    let validity_s = params
        .text("validity-period")
        .and_then(|m| m.parse::<u32>().ok())
        .and_then(|m| m.checked_mul(60));
    let schedule_at_ms = match params.text("sdt") {
        Some(sdt) => Some(
            parse_sdt(&sdt, now_ms)
                .ok_or_else(|| bad(format!("Argument [sdt] has an invalid value: [{sdt}].")))?,
        ),
        None => None,
    };
    let (callback, receipts) = match dlr(params) {
        Some((spec, receipts)) => (Some(spec), receipts),
        None => (None, ReceiptRequest::default()),
    };
    Ok(Submission {
        to,
        from,
        encoded,
        validity_s,
        schedule_at_ms,
        priority: params
            .text("priority")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
        client_ref: None,
        receipts,
        callback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_texts_follow_jasmin() {
        let v = |q: &str| {
            validate(&Params::parse(q.as_bytes()))
                .err()
                .map(|e| e.body())
        };
        assert_eq!(
            v("foo=1").as_deref(),
            Some("Error \"Argument [foo] is unknown.\"")
        );
        assert_eq!(
            v("username=a&password=b&to=x1&content=c").as_deref(),
            Some("Error \"Argument [to] has an invalid value: [x1].\"")
        );
        assert_eq!(
            v("username=a&password=b&content=c").as_deref(),
            Some("Error \"Mandatory argument [to] is not found.\"")
        );
        assert_eq!(
            v("username=a&password=b&to=1").as_deref(),
            Some("Error \"content or hex-content not present.\"")
        );
    }

    #[test]
    fn relative_and_absolute_sdt() {
        assert_eq!(parse_sdt("000000000100000R", 1000), Some(61_000));
        assert_eq!(parse_sdt("700101010000004+", 0), Some(0));
    }
}
