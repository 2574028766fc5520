//! Kannel's `/cgi-bin/sendsms`: its parameters into [`Submission`]s and its answers.
//!
//! Parameters come from the query string, an `application/x-www-form-urlencoded` body,
//! or (POST with any other body, as Kannel's user guide shows) the body is the text and
//! the parameters are in the query or in `X-Kannel-*` headers (`X-Kannel-From`,
//! `X-Kannel-To`, `X-Kannel-Username`, …; a `Content-Type` charset names the text's).
//! Answers and texts are smsbox's: 202 `0: Accepted for delivery`, 403 `Authorization
//! failed for sendsms`, 400 with its `… misformed, rejected` texts, 503 `Temporal failure,
//! try again later.`. Numbers outside Kannel's default `sendsms-chars` (`0123456789 +-`)
//! are dropped as smsbox does; when none is left the request is refused with its
//! white/black-list text. Integers are read like C's `sscanf("%d")`: junk leaves a field
//! unset. `binfo`, `account`, `smsc`, `pid`, `rpi`, `mwi`, `alt-dcs`, `compress` and
//! `meta-data` are accepted and ignored (the engine's router picks the connector).

use std::cell::Cell;

use tern_sms::{EncodedText, Encoding};

use crate::api::{
    CallbackMethod, CallbackSpec, CallbackStyle, Credentials, ReceiptRequest, Submission,
};
use crate::callback::{MAX_URL_OCTETS, receipts_from_kannel_mask};
use crate::encode::{self, Coding};
use crate::form::Params;
use crate::v1::{MAX_ADDRESS_CHARS, parse_from};

/// Answer to an accepted request.
pub const ACCEPTED: &str = "0: Accepted for delivery";
/// Answer to bad credentials (403).
pub const AUTH_FAILED: &str = "Authorization failed for sendsms";
/// Answer to overload or a busy backend (503).
pub const TEMPORAL_FAILURE: &str = "Temporal failure, try again later.";

/// A refusal in Kannel's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KannelReject {
    /// HTTP status.
    pub status: u16,
    /// Body text.
    pub text: &'static str,
}

fn bad(text: &'static str) -> KannelReject {
    KannelReject { status: 400, text }
}

/// Collects the parameters of a request: query, then form body or text body with
/// `X-Kannel-*` headers.
pub fn gather<'h>(
    query: &[u8],
    content_type: Option<&str>,
    headers: impl Iterator<Item = (&'h str, &'h [u8])>,
    body: &[u8],
) -> Params {
    let mut params = Params::parse(query);
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.starts_with("application/x-www-form-urlencoded") {
        params.extend(Params::parse(body));
        return params;
    }
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if let Some(param) = lower.strip_prefix("x-kannel-") {
            params.push(param, value);
        }
    }
    if !body.is_empty() {
        params.push("text", body);
        if let Some(charset) = ct
            .split(';')
            .find_map(|p| p.trim().strip_prefix("charset="))
        {
            let charset = charset.trim_matches('"').to_owned();
            params.push("charset", charset.as_bytes());
        }
        if ct.starts_with("application/octet-stream") && params.bytes("coding").is_none() {
            params.push("coding", b"1");
        }
    }
    params
}

/// The user's credentials (`username`/`user`, `password`/`pass`), if both are present.
pub fn credentials(params: &Params) -> Option<Credentials> {
    Some(Credentials::Password {
        name: params.text_any(&["username", "user"])?,
        password: params.text_any(&["password", "pass"])?,
    })
}

/// C's `sscanf("%d")`: optional spaces and sign, then digits; `None` when none.
fn scan_int(params: &Params, names: &[&str]) -> Option<i64> {
    let raw = names.iter().find_map(|n| params.text(n))?;
    let s = raw.trim_start();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let n: String = digits
        .chars()
        .take_while(char::is_ascii_digit)
        .take(12)
        .collect();
    let v: i64 = n.parse().ok()?;
    Some(if neg { -v } else { v })
}

fn decode_charset(octets: &[u8], charset: Option<&str>) -> Option<String> {
    let cs = charset.unwrap_or("UTF-8").to_ascii_uppercase();
    match cs.as_str() {
        "UTF-8" | "UTF8" => String::from_utf8(octets.to_vec()).ok(),
        "ISO-8859-1" | "LATIN1" | "ISO8859-1" | "WINDOWS-1252" | "CP1252" => {
            Some(octets.iter().map(|&b| char::from(b)).collect())
        }
        "UTF-16BE" | "UCS-2" | "UCS-2BE" | "UTF-16" => {
            if !octets.len().is_multiple_of(2) {
                return None;
            }
            let units = octets
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

/// Applies a message class (mclass 0–3) to a data_coding (TS 23.038 general/class groups).
fn with_class(data_coding: u8, mclass: Option<i64>) -> u8 {
    match (mclass.and_then(|c| u8::try_from(c).ok()), data_coding) {
        (Some(c @ 0..=3), 0x00) => 0xF0 | c,
        (Some(c @ 0..=3), 0x04) => 0xF4 | c,
        (Some(c @ 0..=3), 0x08) => 0x18 | c,
        _ => data_coding,
    }
}

fn range_checked(
    v: Option<i64>,
    min: i64,
    max: i64,
    text: &'static str,
) -> Result<Option<i64>, KannelReject> {
    match v {
        Some(v) if v < min || v > max => Err(bad(text)),
        Some(-1) => Ok(None),
        other => Ok(other),
    }
}

/// Destinations after smsbox's checks.
fn receivers(params: &Params) -> Result<Vec<String>, KannelReject> {
    let to = params
        .text("to")
        .ok_or(bad("Missing receiver number, rejected"))?;
    if to.is_empty() {
        return Err(bad("Empty receiver number not allowed, rejected"));
    }
    let mut allowed: Vec<String> = Vec::new();
    for number in to.split_whitespace() {
        let legal = number.chars().all(|c| "0123456789+-".contains(c))
            && number.len() <= MAX_ADDRESS_CHARS + 1;
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        if legal && !digits.is_empty() && !allowed.contains(&digits) {
            allowed.push(digits);
        }
    }
    if allowed.is_empty() {
        return Err(bad(
            "Number(s) has/have been denied by white- and/or black-lists.",
        ));
    }
    Ok(allowed)
}

fn content(
    params: &Params,
    coding: Option<i64>,
    next_ref: &Cell<u8>,
) -> Result<crate::api::Encoded, KannelReject> {
    let udh = params.bytes("udh");
    if let Some(u) = udh {
        if u.first().map(|&l| usize::from(l) + 1) != Some(u.len()) {
            return Err(bad("UDH field misformed, rejected"));
        }
        if u.len() > 140 {
            return Err(bad("UDH field is too long, rejected"));
        }
    }
    let octets = params.bytes("text").unwrap_or_default();
    let charset = params.text("charset");
    let misformed = bad("Charset or body misformed, rejected");
    // Kannel's compatibility mode: no coding means 8-bit with a UDH, 7-bit otherwise; we
    // pick the cheapest exact for text without one (7-bit whenever it fits).
    let coding = coding.or(udh.map(|_| 1));
    let text = match coding {
        Some(1) => EncodedText::binary(octets.to_vec()),
        Some(2) => {
            let s = decode_charset(octets, charset.as_deref()).ok_or(misformed.clone())?;
            encode::encode_text(&s, Coding::Ucs2).map_err(|_| misformed.clone())?
        }
        Some(_) => {
            let s = decode_charset(octets, charset.as_deref()).ok_or(misformed.clone())?;
            encode::encode_lossy(&s, Encoding::GSM7)
        }
        None => {
            let s = decode_charset(octets, charset.as_deref()).ok_or(misformed.clone())?;
            encode::encode_text(&s, Coding::Auto).map_err(|_| misformed.clone())?
        }
    };
    encode::into_parts(&text, udh, next_ref).map_err(|p| match p {
        encode::EncodeProblem::UdhTooLong => bad("UDH field is too long, rejected"),
        _ => misformed,
    })
}

fn dlr(
    params: &Params,
    mask: Option<i64>,
) -> Result<(Option<CallbackSpec>, ReceiptRequest), KannelReject> {
    let url = params
        .text_any(&["dlr-url", "dlrurl"])
        .filter(|u| !u.is_empty());
    let mask = mask.and_then(|m| u8::try_from(m).ok()).unwrap_or(0);
    let Some(url) = url else {
        return Ok((None, ReceiptRequest::default()));
    };
    let lower = url.to_ascii_lowercase();
    if url.len() < 8 || !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(bad("DLR-URL field misformed, rejected"));
    }
    if url.len() > MAX_URL_OCTETS {
        return Err(bad("DLR-URL field misformed, rejected"));
    }
    let receipts = receipts_from_kannel_mask(mask);
    if mask == 0 {
        return Ok((None, ReceiptRequest::default()));
    }
    let spec = CallbackSpec {
        url,
        method: CallbackMethod::Get,
        style: CallbackStyle::Kannel { mask },
        receipts,
    };
    Ok((Some(spec), receipts))
}

/// Validates and encodes a sendsms request (after authentication, as smsbox orders it).
/// `default_sender` stands for Kannel's `global-sender`.
pub fn parse(
    params: &Params,
    default_sender: Option<&str>,
    now_ms: u64,
    next_ref: &Cell<u8>,
) -> Result<Vec<Submission>, KannelReject> {
    let to = receivers(params)?;
    let from_text = params
        .text("from")
        .filter(|f| !f.is_empty())
        .or(default_sender.map(str::to_owned))
        .ok_or(bad("Sender missing and no global set, rejected"))?;
    let from = parse_from(&from_text, "from")
        .map_err(|_| bad("Sender missing and no global set, rejected"))?;
    let mask = range_checked(
        scan_int(params, &["dlr-mask", "dlrmask"]),
        -1,
        63,
        "DLR-Mask field misformed, rejected",
    )?;
    let mclass = range_checked(
        scan_int(params, &["mclass"]),
        -1,
        3,
        "MClass field misformed, rejected",
    )?;
    let coding = range_checked(
        scan_int(params, &["coding"]),
        -1,
        2,
        "Coding field misformed, rejected",
    )?;
    let validity = range_checked(
        scan_int(params, &["validity"]),
        -1,
        i64::MAX,
        "Validity field misformed, rejected",
    )?;
    let deferred = range_checked(
        scan_int(params, &["deferred"]),
        -1,
        i64::MAX,
        "Deferred field misformed, rejected",
    )?;
    let priority = range_checked(
        scan_int(params, &["priority"]),
        0,
        3,
        "Priority field misformed, rejected",
    )?;
    let (callback, receipts) = dlr(params, mask)?;
    let mut encoded = content(params, coding, next_ref)?;
    encoded.data_coding = with_class(encoded.data_coding, mclass);
    let validity_s = validity.and_then(|m| u32::try_from(m.saturating_mul(60)).ok());
    let schedule_at_ms = deferred
        .and_then(|m| u64::try_from(m).ok())
        .map(|m| now_ms.saturating_add(m.saturating_mul(60_000)));
    Ok(to
        .into_iter()
        .map(|digits| Submission {
            to: crate::api::Address {
                ton: 1,
                npi: 1,
                digits,
            },
            from: from.clone(),
            encoded: encoded.clone(),
            validity_s,
            schedule_at_ms,
            priority: priority.and_then(|p| u8::try_from(p).ok()).unwrap_or(0),
            client_ref: None,
            receipts,
            callback: callback.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_query(q: &str) -> Result<Vec<Submission>, KannelReject> {
        parse(&Params::parse(q.as_bytes()), None, 0, &Cell::new(0))
    }

    #[test]
    fn smsbox_texts_for_missing_and_misformed_fields() {
        assert_eq!(
            parse_query("from=a&text=x").err().map(|e| e.text),
            Some("Missing receiver number, rejected")
        );
        assert_eq!(
            parse_query("to=&from=a").err().map(|e| e.text),
            Some("Empty receiver number not allowed, rejected")
        );
        assert_eq!(
            parse_query("to=123&text=x").err().map(|e| e.text),
            Some("Sender missing and no global set, rejected")
        );
        assert_eq!(
            parse_query("to=123&from=a&coding=5").err().map(|e| e.text),
            Some("Coding field misformed, rejected")
        );
        assert_eq!(
            parse_query("to=abc&from=a").err().map(|e| e.text),
            Some("Number(s) has/have been denied by white- and/or black-lists.")
        );
    }

    #[test]
    fn several_receivers_give_one_submission_each_with_the_dlr_url_kept() {
        let subs = parse_query(
            "to=123+456&from=a&text=hi&dlr-mask=3&dlr-url=http%3A%2F%2Fh%2Fd%3Fs%3D%25d",
        )
        .unwrap_or_default();
        assert_eq!(subs.len(), 2);
        let cb = subs.first().and_then(|s| s.callback.clone());
        assert_eq!(
            cb.map(|c| (c.url, c.style)),
            Some((
                "http://h/d?s=%d".to_owned(),
                CallbackStyle::Kannel { mask: 3 }
            ))
        );
    }
}
