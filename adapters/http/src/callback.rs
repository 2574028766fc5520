//! Callbacks: the stored form of a [`CallbackSpec`], rendering receipts and MOs into
//! [`CallbackRequest`]s in each client's convention, and their HMAC signature.
//!
//! # Stored form (version 1)
//! `[1, method, style, style_param, receipts, url_len_hi, url_len_lo, url…]`: method 0 GET
//! / 1 POST; style 0 JSON, 1 form, 2 Kannel (param = dlr-mask), 3 Jasmin (param =
//! dlr-level); receipts bits 1 success, 2 failure, 4 intermediate; url UTF-8, at most
//! [`MAX_URL_OCTETS`]. A decoder refuses any other version, so a later layout gets a new
//! version byte.
//!
//! # Conventions
//! - Tern JSON (`POST`, `application/json`): `{"event":"receipt","id","reference","to",
//!   "from","state","error","smsc_id","connector","parts","submitted_at","done_at",
//!   "receipt"}`; `state` is one of `delivered undeliverable expired rejected deleted
//!   unknown submit_failed accepted enroute buffered`. MO: `{"event":"mo","id","from","to",
//!   "text","hex","coding","connector","received_at"}`. With GET (or form style) the same
//!   fields are form parameters.
//! - Kannel: the dlr-url's `%`-placeholders substituted, each value percent-encoded:
//!   `%d` dlr type (1 delivered, 2 failed, 4 buffered, 8 SMSC ack, 16 SMSC nack), `%A` the
//!   SMSC's receipt text, `%i` connector, `%I` our id, `%p` the handset (the original
//!   receiver, as Kannel swaps them in a receipt), `%P` the original sender, `%q`/`%Q` the
//!   same with a leading `00` written `+`, `%t` time `YYYY-MM-DD HH:MM:SS`, `%T` Unix time,
//!   `%k` first word of the text, `%s` second word, `%a` all words, `%b` the text, `%F`
//!   the SMSC's message id, `%c` coding (0 receipts; MO: 0 7-bit, 1 8-bit, 2 UCS-2), `%%`
//!   a percent. Sent with the spec's method, nothing in the body.
//! - Jasmin: level 1 (SMSC) `id, message_status, level, connector`; level 2 (terminal)
//!   adds `id_smsc, subdate, donedate, sub, dlvrd, err, text`; acknowledged only by a body
//!   starting `ACK/Jasmin`. MO: `id, from, to, origin-connector, priority, coding,
//!   validity, content, binary`.
//!
//! # Signature
//! With a signing key set (see [`crate::dispatch::DispatcherConfig`]), each attempt carries
//! `X-Tern-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over the octets
//! `t + "." + METHOD + "." + url + "." + body` ([`signature`]). A receiver recomputes it
//! with its key and compares in constant time, and refuses a `t` too far from its clock.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::api::{
    CallbackMethod, CallbackSpec, CallbackStyle, MoNotice, ReceiptNotice, ReceiptRequest,
    ReceiptState,
};
use crate::form;
use crate::time;

/// Longest callback URL accepted, in octets.
pub const MAX_URL_OCTETS: usize = 2048;
/// Version byte of the stored form.
pub const SPEC_VERSION: u8 = 1;
const HEADER_OCTETS: usize = 7;

/// Why stored callback bytes could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackSpecError {
    /// Fewer octets than the header or the URL length says.
    #[error("callback spec truncated")]
    Truncated,
    /// Octets after the URL.
    #[error("{0} trailing octets after the callback spec")]
    TrailingOctets(usize),
    /// A version this build does not know.
    #[error("unknown callback spec version {0}")]
    UnknownVersion(u8),
    /// A method, style or receipts value out of range.
    #[error("invalid callback spec field {0}")]
    InvalidField(&'static str),
    /// URL longer than [`MAX_URL_OCTETS`].
    #[error("callback url of {0} octets is too long")]
    UrlTooLong(usize),
    /// URL not UTF-8.
    #[error("callback url is not UTF-8")]
    UrlNotUtf8,
}

impl ReceiptRequest {
    fn bits(self) -> u8 {
        u8::from(self.on_success)
            | u8::from(self.on_failure) << 1
            | u8::from(self.intermediate) << 2
    }

    fn from_bits(bits: u8) -> Option<ReceiptRequest> {
        (bits <= 7).then_some(ReceiptRequest {
            on_success: bits & 1 != 0,
            on_failure: bits & 2 != 0,
            intermediate: bits & 4 != 0,
        })
    }

    /// Whether a receipt in `state` is wanted.
    pub fn wants(self, state: ReceiptState) -> bool {
        (self.on_success && state.is_success())
            || (self.on_failure && state.is_failure())
            || (self.intermediate && state.is_intermediate())
    }
}

impl CallbackSpec {
    /// Appends the stored form (see the module docs). A URL over [`MAX_URL_OCTETS`] is
    /// cut there, on a character boundary; the HTTP layer refuses such URLs before.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut end = self.url.len().min(MAX_URL_OCTETS);
        while !self.url.is_char_boundary(end) {
            end -= 1;
        }
        let url = self.url.as_bytes().get(..end).unwrap_or_default();
        let (style, param) = match self.style {
            CallbackStyle::Json => (0, 0),
            CallbackStyle::Form => (1, 0),
            CallbackStyle::Kannel { mask } => (2, mask),
            CallbackStyle::Jasmin { level } => (3, level),
        };
        let method = match self.method {
            CallbackMethod::Get => 0,
            CallbackMethod::Post => 1,
        };
        let len = u16::try_from(url.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&[SPEC_VERSION, method, style, param, self.receipts.bits()]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(url);
    }

    /// Reads back what [`CallbackSpec::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<CallbackSpec, CallbackSpecError> {
        let header = bytes
            .get(..HEADER_OCTETS)
            .ok_or(CallbackSpecError::Truncated)?;
        let &[version, method, style, param, receipts, len_hi, len_lo] = header else {
            return Err(CallbackSpecError::Truncated);
        };
        if version != SPEC_VERSION {
            return Err(CallbackSpecError::UnknownVersion(version));
        }
        let method = match method {
            0 => CallbackMethod::Get,
            1 => CallbackMethod::Post,
            _ => return Err(CallbackSpecError::InvalidField("method")),
        };
        let style = match style {
            0 if param == 0 => CallbackStyle::Json,
            1 if param == 0 => CallbackStyle::Form,
            2 => CallbackStyle::Kannel { mask: param },
            3 => CallbackStyle::Jasmin { level: param },
            _ => return Err(CallbackSpecError::InvalidField("style")),
        };
        let receipts = ReceiptRequest::from_bits(receipts)
            .ok_or(CallbackSpecError::InvalidField("receipts"))?;
        let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
        if len > MAX_URL_OCTETS {
            return Err(CallbackSpecError::UrlTooLong(len));
        }
        let rest = bytes.get(HEADER_OCTETS..).unwrap_or_default();
        let url = rest.get(..len).ok_or(CallbackSpecError::Truncated)?;
        if rest.len() > len {
            return Err(CallbackSpecError::TrailingOctets(rest.len() - len));
        }
        let url = std::str::from_utf8(url).map_err(|_| CallbackSpecError::UrlNotUtf8)?;
        Ok(CallbackSpec {
            url: url.to_owned(),
            method,
            style,
            receipts,
        })
    }
}

/// What makes a callback acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledgement {
    /// Any 2xx status.
    Status2xx,
    /// A 2xx status and a body starting with `ACK/Jasmin`.
    JasminAck,
}

/// One HTTP request to send, fully rendered (the dispatcher adds Host, Content-Length and
/// the signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRequest {
    /// GET or POST.
    pub method: CallbackMethod,
    /// Absolute `http://` URL, query included.
    pub url: String,
    /// Content-Type of the body, when there is one.
    pub content_type: Option<&'static str>,
    /// The body (empty for GET).
    pub body: Vec<u8>,
    /// What counts as success.
    pub ack: Acknowledgement,
}

/// The lower-case name of a receipt state in Tern's JSON.
pub fn state_name(state: ReceiptState) -> &'static str {
    match state {
        ReceiptState::Delivered => "delivered",
        ReceiptState::Undeliverable => "undeliverable",
        ReceiptState::Expired => "expired",
        ReceiptState::Rejected => "rejected",
        ReceiptState::Deleted => "deleted",
        ReceiptState::Unknown => "unknown",
        ReceiptState::SubmitFailed => "submit_failed",
        ReceiptState::SmscAccepted => "accepted",
        ReceiptState::Enroute => "enroute",
        ReceiptState::Buffered => "buffered",
    }
}

/// SMPP receipt `stat:` word of a state (Jasmin's level-2 `message_status`).
fn stat_word(state: ReceiptState) -> &'static str {
    match state {
        ReceiptState::Delivered => "DELIVRD",
        ReceiptState::Undeliverable | ReceiptState::SubmitFailed => "UNDELIV",
        ReceiptState::Expired => "EXPIRED",
        ReceiptState::Rejected => "REJECTD",
        ReceiptState::Deleted => "DELETED",
        ReceiptState::Unknown => "UNKNOWN",
        ReceiptState::SmscAccepted => "ACCEPTD",
        ReceiptState::Enroute | ReceiptState::Buffered => "ENROUTE",
    }
}

/// Kannel's dlr type for a state (the dlr-mask bit it answers to).
pub fn kannel_dlr_type(state: ReceiptState) -> u8 {
    match state {
        ReceiptState::Delivered => 1,
        ReceiptState::Enroute | ReceiptState::Buffered => 4,
        ReceiptState::SmscAccepted => 8,
        ReceiptState::SubmitFailed => 16,
        _ => 2,
    }
}

/// Which receipts a Kannel dlr-mask asks for.
pub fn receipts_from_kannel_mask(mask: u8) -> ReceiptRequest {
    ReceiptRequest {
        on_success: mask & 1 != 0,
        on_failure: mask & (2 | 16) != 0,
        intermediate: mask & (4 | 8) != 0,
    }
}

/// Which receipts a Jasmin dlr-level asks for.
pub fn receipts_from_jasmin_level(level: u8) -> ReceiptRequest {
    ReceiptRequest {
        on_success: level >= 2,
        on_failure: true,
        intermediate: level & 1 != 0,
    }
}

/// Renders a receipt as `spec` wants it, or `None` when the client did not ask for it.
pub fn render_receipt(spec: &CallbackSpec, notice: &ReceiptNotice) -> Option<CallbackRequest> {
    if !wants_receipt(spec, notice.state) {
        return None;
    }
    match spec.style {
        CallbackStyle::Kannel { .. } => {
            let url = substitute_kannel(&spec.url, &KannelValues::receipt(notice));
            Some(bare(spec.method, url, Acknowledgement::Status2xx))
        }
        CallbackStyle::Jasmin { .. } => {
            let smsc_level = is_smsc_level(notice.state);
            let params = jasmin_receipt_params(notice, smsc_level);
            let pairs = params.iter().map(|(k, v)| (*k, v.as_str()));
            Some(with_params(
                spec.method,
                &spec.url,
                pairs,
                Acknowledgement::JasminAck,
            ))
        }
        CallbackStyle::Json | CallbackStyle::Form => {
            Some(tern_request(spec, receipt_fields(notice)))
        }
    }
}

/// Whether `spec` asks for a callback on a receipt in `state` ([`render_receipt`] renders
/// one exactly then): callers can skip building the notice of one nobody wants.
pub fn wants_receipt(spec: &CallbackSpec, state: ReceiptState) -> bool {
    match spec.style {
        CallbackStyle::Kannel { mask } => mask & kannel_dlr_type(state) != 0,
        CallbackStyle::Jasmin { level } => {
            let bit = if is_smsc_level(state) { 1 } else { 2 };
            level & bit != 0
        }
        CallbackStyle::Json | CallbackStyle::Form => spec.receipts.wants(state),
    }
}

/// Jasmin's level 1 notices: the SMSC's answer to the submit, not a receipt.
fn is_smsc_level(state: ReceiptState) -> bool {
    state == ReceiptState::SmscAccepted || state == ReceiptState::SubmitFailed
}

/// Renders an MO for `spec`; `None` only when the spec has no URL (MOs carry no
/// receipt wish: a user with an MO spec wants them all).
pub fn render_mo(spec: &CallbackSpec, notice: &MoNotice) -> Option<CallbackRequest> {
    if spec.url.is_empty() {
        return None;
    }
    Some(match spec.style {
        CallbackStyle::Kannel { .. } => {
            let url = substitute_kannel(&spec.url, &KannelValues::mo(notice));
            bare(spec.method, url, Acknowledgement::Status2xx)
        }
        CallbackStyle::Jasmin { .. } => {
            let binary = form::hex_encode(&notice.bytes);
            let params: [(&str, String); 9] = [
                ("id", notice.id.clone()),
                ("from", notice.from.clone()),
                ("to", notice.to.clone()),
                ("origin-connector", notice.connector.clone()),
                ("priority", "0".to_owned()),
                ("coding", notice.data_coding.to_string()),
                ("validity", "None".to_owned()),
                ("content", notice.text.clone()),
                ("binary", binary),
            ];
            let pairs = params.iter().map(|(k, v)| (*k, v.as_str()));
            with_params(spec.method, &spec.url, pairs, Acknowledgement::JasminAck)
        }
        CallbackStyle::Json | CallbackStyle::Form => tern_request(spec, mo_fields(notice)),
    })
}

type Field = (&'static str, FieldValue);

enum FieldValue {
    Text(String),
    OptText(Option<String>),
    Number(u64),
}

impl FieldValue {
    fn as_form(&self) -> String {
        match self {
            FieldValue::Text(s) => s.clone(),
            FieldValue::OptText(s) => s.clone().unwrap_or_default(),
            FieldValue::Number(n) => n.to_string(),
        }
    }

    fn as_json(&self) -> serde_json::Value {
        match self {
            FieldValue::Text(s) => serde_json::Value::from(s.as_str()),
            FieldValue::OptText(s) => s.as_deref().map_or(serde_json::Value::Null, Into::into),
            FieldValue::Number(n) => serde_json::Value::from(*n),
        }
    }
}

fn receipt_fields(n: &ReceiptNotice) -> Vec<Field> {
    vec![
        ("event", FieldValue::Text("receipt".into())),
        ("id", FieldValue::Text(n.id.clone())),
        ("reference", FieldValue::OptText(n.client_ref.clone())),
        ("to", FieldValue::Text(n.to.clone())),
        ("from", FieldValue::Text(n.from.clone())),
        ("state", FieldValue::Text(state_name(n.state).into())),
        ("error", FieldValue::Number(u64::from(n.error))),
        ("smsc_id", FieldValue::OptText(n.smsc_id.clone())),
        ("connector", FieldValue::Text(n.connector.clone())),
        ("parts", FieldValue::Number(u64::from(n.parts))),
        (
            "submitted_at",
            FieldValue::Text(time::format_rfc3339_ms(n.submitted_at_ms)),
        ),
        (
            "done_at",
            FieldValue::Text(time::format_rfc3339_ms(n.done_at_ms)),
        ),
        ("receipt", FieldValue::Text(n.receipt_text.clone())),
    ]
}

fn mo_fields(n: &MoNotice) -> Vec<Field> {
    vec![
        ("event", FieldValue::Text("mo".into())),
        ("id", FieldValue::Text(n.id.clone())),
        ("from", FieldValue::Text(n.from.clone())),
        ("to", FieldValue::Text(n.to.clone())),
        ("text", FieldValue::Text(n.text.clone())),
        ("hex", FieldValue::Text(form::hex_encode(&n.bytes))),
        ("coding", FieldValue::Number(u64::from(n.data_coding))),
        ("connector", FieldValue::Text(n.connector.clone())),
        (
            "received_at",
            FieldValue::Text(time::format_rfc3339_ms(n.received_at_ms)),
        ),
    ]
}

fn tern_request(spec: &CallbackSpec, fields: Vec<Field>) -> CallbackRequest {
    let as_json = spec.style == CallbackStyle::Json && spec.method == CallbackMethod::Post;
    if as_json {
        let map: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_json()))
            .collect();
        return CallbackRequest {
            method: CallbackMethod::Post,
            url: spec.url.clone(),
            content_type: Some("application/json"),
            body: serde_json::Value::Object(map).to_string().into_bytes(),
            ack: Acknowledgement::Status2xx,
        };
    }
    let values: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, v.as_form())).collect();
    let pairs = values.iter().map(|(k, v)| (*k, v.as_str()));
    with_params(spec.method, &spec.url, pairs, Acknowledgement::Status2xx)
}

fn bare(method: CallbackMethod, url: String, ack: Acknowledgement) -> CallbackRequest {
    CallbackRequest {
        method,
        url,
        content_type: None,
        body: Vec::new(),
        ack,
    }
}

fn with_params<'a>(
    method: CallbackMethod,
    url: &str,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ack: Acknowledgement,
) -> CallbackRequest {
    let encoded = form::serialize(pairs);
    match method {
        CallbackMethod::Get => {
            let sep = if url.contains('?') { '&' } else { '?' };
            bare(method, format!("{url}{sep}{encoded}"), ack)
        }
        CallbackMethod::Post => CallbackRequest {
            method,
            url: url.to_owned(),
            content_type: Some("application/x-www-form-urlencoded"),
            body: encoded.into_bytes(),
            ack,
        },
    }
}

fn jasmin_receipt_params(n: &ReceiptNotice, smsc_level: bool) -> Vec<(&'static str, String)> {
    let mut params = vec![("id", n.id.clone())];
    if smsc_level {
        let status = if n.state == ReceiptState::SmscAccepted {
            "ESME_ROK".to_owned()
        } else {
            format!("ESME_ERROR_{}", n.error)
        };
        params.push(("message_status", status));
        params.push(("level", "1".to_owned()));
        params.push(("connector", n.connector.clone()));
        return params;
    }
    let delivered = u8::from(n.state == ReceiptState::Delivered);
    params.extend([
        ("id_smsc", n.smsc_id.clone().unwrap_or_default()),
        ("message_status", stat_word(n.state).to_owned()),
        ("level", "2".to_owned()),
        ("connector", n.connector.clone()),
        ("subdate", time::format_receipt(n.submitted_at_ms / 1000)),
        ("donedate", time::format_receipt(n.done_at_ms / 1000)),
        ("sub", "1".to_owned()),
        ("dlvrd", delivered.to_string()),
        ("err", format!("{:03}", n.error)),
        ("text", n.receipt_text.chars().take(20).collect()),
    ]);
    params
}

/// The values Kannel's placeholders stand for.
struct KannelValues {
    dlr_type: u8,
    reply: String,
    connector: String,
    id: String,
    sender: String,
    receiver: String,
    unix_s: u64,
    text: String,
    foreign_id: String,
    coding: u8,
}

impl KannelValues {
    fn receipt(n: &ReceiptNotice) -> KannelValues {
        KannelValues {
            dlr_type: kannel_dlr_type(n.state),
            reply: n.receipt_text.clone(),
            connector: n.connector.clone(),
            id: n.id.clone(),
            // Kannel swaps the addresses in a receipt: its sender is the handset.
            sender: n.to.clone(),
            receiver: n.from.clone(),
            unix_s: n.done_at_ms / 1000,
            text: n.receipt_text.clone(),
            foreign_id: n.smsc_id.clone().unwrap_or_default(),
            coding: 0,
        }
    }

    fn mo(n: &MoNotice) -> KannelValues {
        let coding = match n.data_coding & 0x0C {
            0x08 => 2,
            0x04 => 1,
            _ => 0,
        };
        KannelValues {
            dlr_type: 0,
            reply: String::new(),
            connector: n.connector.clone(),
            id: n.id.clone(),
            sender: n.from.clone(),
            receiver: n.to.clone(),
            unix_s: n.received_at_ms / 1000,
            text: n.text.clone(),
            foreign_id: String::new(),
            coding,
        }
    }
}

fn plus_for_00(number: &str) -> String {
    match number.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => number.to_owned(),
    }
}

/// Substitutes Kannel's `%`-placeholders in `template` (unknown ones are kept as written).
fn substitute_kannel(template: &str, v: &KannelValues) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(code) = chars.next() else {
            out.push('%');
            break;
        };
        let mut words = v.text.split_whitespace();
        let value: String = match code {
            'd' => v.dlr_type.to_string(),
            'A' => v.reply.clone(),
            'i' => v.connector.clone(),
            'I' => v.id.clone(),
            'p' => v.sender.clone(),
            'P' => v.receiver.clone(),
            'q' => plus_for_00(&v.sender),
            'Q' => plus_for_00(&v.receiver),
            't' => time::format_kannel(v.unix_s),
            'T' => v.unix_s.to_string(),
            'k' => words.next().unwrap_or_default().to_owned(),
            's' => words.nth(1).unwrap_or_default().to_owned(),
            'a' => words.collect::<Vec<_>>().join(" "),
            'b' => v.text.clone(),
            'F' => v.foreign_id.clone(),
            'c' => v.coding.to_string(),
            '%' => "%".to_owned(),
            other => {
                out.push('%');
                out.push(other);
                continue;
            }
        };
        form::encode_into(value.as_bytes(), &mut out);
    }
    out
}

/// The `X-Tern-Signature` value for one attempt: `t=<unix_s>,v1=<hex>` with HMAC-SHA256
/// of `key` over `"{unix_s}.{METHOD}.{url}.{body}"`.
pub fn signature(
    key: &[u8],
    unix_s: u64,
    method: CallbackMethod,
    url: &str,
    body: &[u8],
) -> String {
    // new_from_slice accepts keys of any length for HMAC; the Err arm cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    let method = match method {
        CallbackMethod::Get => "GET",
        CallbackMethod::Post => "POST",
    };
    mac.update(format!("{unix_s}.{method}.{url}.").as_bytes());
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("t={unix_s},v1={}", form::hex_encode(&tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(state: ReceiptState) -> ReceiptNotice {
        ReceiptNotice {
            id: "m1".into(),
            user: "u".into(),
            to: "0049123".into(),
            from: "Tern".into(),
            client_ref: Some("r".into()),
            state,
            error: 0,
            smsc_id: Some("abc".into()),
            connector: "smsc a".into(),
            submitted_at_ms: 1_700_000_000_000,
            done_at_ms: 1_700_000_060_000,
            parts: 1,
            receipt_text: "id:abc stat:DELIVRD".into(),
        }
    }

    #[test]
    fn kannel_mask_filters_and_placeholders_are_escaped() {
        let spec = CallbackSpec {
            url: "http://h/dlr?s=%d&id=%I&to=%p&q=%q&c=%i&t=%T&x=%Z&pct=%%".into(),
            method: CallbackMethod::Get,
            style: CallbackStyle::Kannel { mask: 1 },
            receipts: receipts_from_kannel_mask(1),
        };
        assert!(render_receipt(&spec, &notice(ReceiptState::Undeliverable)).is_none());
        let req = render_receipt(&spec, &notice(ReceiptState::Delivered));
        let url = req.map(|r| r.url).unwrap_or_default();
        assert_eq!(
            url,
            "http://h/dlr?s=1&id=m1&to=0049123&q=%2B49123&c=smsc%20a&t=1700000060&x=%Z&pct=%25"
        );
    }

    #[test]
    fn jasmin_level_one_gets_only_the_smsc_answer() {
        let spec = CallbackSpec {
            url: "http://h/j".into(),
            method: CallbackMethod::Post,
            style: CallbackStyle::Jasmin { level: 1 },
            receipts: receipts_from_jasmin_level(1),
        };
        assert!(render_receipt(&spec, &notice(ReceiptState::Delivered)).is_none());
        let req = render_receipt(&spec, &notice(ReceiptState::SmscAccepted));
        let body = req.map(|r| r.body).unwrap_or_default();
        assert_eq!(
            body,
            b"id=m1&message_status=ESME_ROK&level=1&connector=smsc%20a"
        );
    }

    #[test]
    fn json_style_follows_the_receipt_wish() {
        let spec = CallbackSpec {
            url: "http://h/cb".into(),
            method: CallbackMethod::Post,
            style: CallbackStyle::Json,
            receipts: ReceiptRequest {
                on_success: false,
                on_failure: true,
                intermediate: false,
            },
        };
        assert!(render_receipt(&spec, &notice(ReceiptState::Delivered)).is_none());
        let req = render_receipt(&spec, &notice(ReceiptState::Expired));
        let body = req.map(|r| r.body).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(v["state"], "expired");
        assert_eq!(v["reference"], "r");
    }

    #[test]
    fn mo_renders_in_each_convention() {
        let mo = MoNotice {
            id: "mo1".into(),
            from: "0049171".into(),
            to: "1234".into(),
            text: "hi there".into(),
            bytes: b"hi there".to_vec(),
            data_coding: 0,
            connector: "c".into(),
            received_at_ms: 1_700_000_000_000,
        };
        let spec = |style, method| CallbackSpec {
            url: "http://h/mo?from=%p&to=%P&kw=%k&all=%a&c=%c".into(),
            method,
            style,
            receipts: ReceiptRequest::default(),
        };
        let kannel = render_mo(
            &spec(CallbackStyle::Kannel { mask: 0 }, CallbackMethod::Get),
            &mo,
        )
        .expect("url set");
        assert_eq!(
            kannel.url,
            "http://h/mo?from=0049171&to=1234&kw=hi&all=hi%20there&c=0"
        );
        let jasmin = render_mo(
            &spec(CallbackStyle::Jasmin { level: 1 }, CallbackMethod::Post),
            &mo,
        )
        .expect("url set");
        assert_eq!(jasmin.ack, Acknowledgement::JasminAck);
        let body = String::from_utf8(jasmin.body).unwrap_or_default();
        assert!(body.starts_with("id=mo1&from=0049171&to=1234&origin-connector=c"));
        assert!(body.ends_with("content=hi%20there&binary=6869207468657265"));
        let json =
            render_mo(&spec(CallbackStyle::Json, CallbackMethod::Post), &mo).expect("url set");
        let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap_or_default();
        assert_eq!(
            (v["event"].as_str(), v["text"].as_str()),
            (Some("mo"), Some("hi there"))
        );
    }

    #[test]
    fn decode_refuses_unknown_version_truncation_and_trailing_octets() {
        let spec = CallbackSpec {
            url: "http://h/".into(),
            method: CallbackMethod::Get,
            style: CallbackStyle::Form,
            receipts: ReceiptRequest::default(),
        };
        let mut bytes = Vec::new();
        spec.encode(&mut bytes);
        assert_eq!(CallbackSpec::decode(&bytes), Ok(spec));
        let truncated = bytes.get(..bytes.len() - 1).unwrap_or_default();
        assert_eq!(
            CallbackSpec::decode(truncated),
            Err(CallbackSpecError::Truncated)
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            CallbackSpec::decode(&longer),
            Err(CallbackSpecError::TrailingOctets(1))
        );
        bytes[0] = 9;
        assert_eq!(
            CallbackSpec::decode(&bytes),
            Err(CallbackSpecError::UnknownVersion(9))
        );
    }
}
