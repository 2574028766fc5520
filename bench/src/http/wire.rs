//! HTTP/1.1 on the wire, sans-IO: request heads and JSON bodies out, responses and
//! requests in (head by `httparse`, body by `Content-Length` or chunked).
//!
//! Parsers take what has been read so far and answer `Ok(None)` until a whole message
//! is there; every length is bounded ([`HEAD_LEN_MAX`], [`BODY_LEN_MAX`]) so that a peer
//! cannot make a connection's buffer grow without limit.

use std::ops::Range;

/// Headers read per message; more is an error.
pub const HEADERS_MAX: usize = 32;
/// Longest head (start line and headers) accepted, octets.
pub const HEAD_LEN_MAX: usize = 16 * 1024;
/// Longest body accepted, octets (a batch answer of 1,000 ids is about 60 KiB).
pub const BODY_LEN_MAX: usize = 1024 * 1024;

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The start line or a header is malformed.
    #[error("malformed head: {0}")]
    Head(String),
    /// The head is longer than [`HEAD_LEN_MAX`].
    #[error("head longer than {HEAD_LEN_MAX} octets")]
    HeadTooLong,
    /// The body is longer than [`BODY_LEN_MAX`].
    #[error("body longer than {BODY_LEN_MAX} octets")]
    BodyTooLong,
    /// `Content-Length` is not a number, or appears twice with different values.
    #[error("bad Content-Length")]
    ContentLength,
    /// The chunked encoding is broken.
    #[error("bad chunked encoding")]
    Chunked,
    /// A response with a body but neither a length nor chunks (read-to-close), which a
    /// pipelined keep-alive connection cannot frame.
    #[error("response body without a length")]
    Unframed,
}

/// Where a parsed message's body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyAt {
    /// In the input buffer, at this range.
    Input(Range<usize>),
    /// Decoded (from chunks) into the scratch buffer the parser was given.
    Scratch,
}

impl BodyAt {
    /// The body's octets.
    pub fn slice<'a>(&self, input: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        match self {
            BodyAt::Input(range) => input.get(range.clone()).unwrap_or_default(),
            BodyAt::Scratch => scratch,
        }
    }
}

/// A whole response at the start of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// The server closes the connection after it (`Connection: close` or HTTP/1.0).
    pub close: bool,
    /// Octets of input it took, head and body.
    pub consumed: usize,
    /// Its body.
    pub body: BodyAt,
}

/// A whole request at the start of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// True for POST.
    pub is_post: bool,
    /// The client closes after it (`Connection: close`, or HTTP/1.0 without keep-alive).
    pub close: bool,
    /// Octets of input it took, head and body.
    pub consumed: usize,
    /// Its body.
    pub body: BodyAt,
}

struct Framing {
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
    keep_alive: bool,
}

fn framing(headers: &[httparse::Header<'_>]) -> Result<Framing, WireError> {
    let mut f = Framing {
        content_length: None,
        chunked: false,
        close: false,
        keep_alive: false,
    };
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(WireError::ContentLength)?;
            if f.content_length.is_some_and(|old| old != n) {
                return Err(WireError::ContentLength);
            }
            f.content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            f.chunked = has_token(h.value, b"chunked");
        } else if h.name.eq_ignore_ascii_case("connection") {
            f.close |= has_token(h.value, b"close");
            f.keep_alive |= has_token(h.value, b"keep-alive");
        }
    }
    Ok(f)
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// The body after a head of `head_len` octets: `Ok(None)` while incomplete, else where
/// it is and the octets taken in all.
fn body(
    buf: &[u8],
    head_len: usize,
    f: &Framing,
    scratch: &mut Vec<u8>,
) -> Result<Option<(BodyAt, usize)>, WireError> {
    if f.chunked {
        return dechunk(buf.get(head_len..).unwrap_or_default(), scratch)
            .map(|done| done.map(|n| (BodyAt::Scratch, head_len + n)));
    }
    let len = f.content_length.unwrap_or(0);
    if len > BODY_LEN_MAX {
        return Err(WireError::BodyTooLong);
    }
    let end = head_len + len;
    Ok((buf.len() >= end).then_some((BodyAt::Input(head_len..end), end)))
}

/// Decodes a chunked body into `out` (cleared first); the octets it took once complete.
fn dechunk(buf: &[u8], out: &mut Vec<u8>) -> Result<Option<usize>, WireError> {
    out.clear();
    let mut at = 0;
    loop {
        let rest = buf.get(at..).unwrap_or_default();
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return if rest.len() > 1024 {
                Err(WireError::Chunked)
            } else {
                Ok(None)
            };
        };
        let line = rest.get(..eol).unwrap_or_default();
        let hex = line.split(|&b| b == b';').next().unwrap_or_default();
        let size = std::str::from_utf8(hex)
            .ok()
            .and_then(|h| usize::from_str_radix(h.trim(), 16).ok())
            .ok_or(WireError::Chunked)?;
        at += eol + 2;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            loop {
                let rest = buf.get(at..).unwrap_or_default();
                let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some(at));
                }
            }
        }
        if out.len() + size > BODY_LEN_MAX {
            return Err(WireError::BodyTooLong);
        }
        let Some(data) = buf.get(at..at + size) else {
            return Ok(None);
        };
        match buf.get(at + size..at + size + 2) {
            None => return Ok(None),
            Some(b"\r\n") => {}
            Some(_) => return Err(WireError::Chunked),
        }
        out.extend_from_slice(data);
        at += size + 2;
    }
}

fn head_result(
    parsed: Result<httparse::Status<usize>, httparse::Error>,
    buf_len: usize,
) -> Result<Option<usize>, WireError> {
    match parsed {
        Ok(httparse::Status::Complete(n)) => Ok(Some(n)),
        Ok(httparse::Status::Partial) if buf_len > HEAD_LEN_MAX => Err(WireError::HeadTooLong),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(WireError::Head(e.to_string())),
    }
}

/// Reads the response at the start of `buf` (a 1xx comes back as itself: skip it).
pub fn parse_response(buf: &[u8], scratch: &mut Vec<u8>) -> Result<Option<Response>, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut response = httparse::Response::new(&mut headers);
    let Some(head_len) = head_result(response.parse(buf), buf.len())? else {
        return Ok(None);
    };
    let status = response.code.unwrap_or(0);
    let f = framing(response.headers)?;
    let close = f.close || (response.version == Some(0) && !f.keep_alive);
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Some(Response {
            status,
            close,
            consumed: head_len,
            body: BodyAt::Input(head_len..head_len),
        }));
    }
    if !f.chunked && f.content_length.is_none() {
        return Err(WireError::Unframed);
    }
    Ok(
        body(buf, head_len, &f, scratch)?.map(|(body, consumed)| Response {
            status,
            close,
            consumed,
            body,
        }),
    )
}

/// Reads the request at the start of `buf`.
pub fn parse_request(buf: &[u8], scratch: &mut Vec<u8>) -> Result<Option<Request>, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut request = httparse::Request::new(&mut headers);
    let Some(head_len) = head_result(request.parse(buf), buf.len())? else {
        return Ok(None);
    };
    let is_post = request.method == Some("POST");
    let f = framing(request.headers)?;
    let close = f.close || (request.version == Some(0) && !f.keep_alive);
    Ok(
        body(buf, head_len, &f, scratch)?.map(|(body, consumed)| Request {
            is_post,
            close,
            consumed,
            body,
        }),
    )
}

/// `Basic base64(user:password)`, the value of an `Authorization` header.
pub fn basic_auth(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = (n >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Appends `s` as a JSON string, quotes included.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if u32::from(c) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes());
            }
            c => {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Appends a POST request for `path` with a JSON `body`.
pub fn push_post(out: &mut Vec<u8>, path: &str, host: &str, authorization: &str, body: &[u8]) {
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\nAuthorization: ");
    out.extend_from_slice(authorization.as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelined_responses_are_read_one_at_a_time() {
        let two = b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n";
        let mut scratch = Vec::new();
        let first = parse_response(two, &mut scratch).unwrap().unwrap();
        assert_eq!(first.status, 202);
        assert_eq!(first.body.slice(two, &scratch), b"{}");
        let rest = &two[first.consumed..];
        let second = parse_response(rest, &mut scratch).unwrap().unwrap();
        assert_eq!((second.status, second.consumed), (429, rest.len()));
    }

    #[test]
    fn incomplete_response_waits_for_more() {
        let mut scratch = Vec::new();
        let whole = b"HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\nhello";
        for cut in 0..whole.len() {
            assert_eq!(
                parse_response(&whole[..cut], &mut scratch),
                Ok(None),
                "{cut}"
            );
        }
        assert!(parse_response(whole, &mut scratch).unwrap().is_some());
    }

    #[test]
    fn chunked_body_is_decoded_and_trailers_skipped() {
        let msg = b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\nNEXT";
        let mut scratch = Vec::new();
        let r = parse_response(msg, &mut scratch).unwrap().unwrap();
        assert_eq!(r.body.slice(msg, &scratch), b"abcde");
        assert_eq!(&msg[r.consumed..], b"NEXT");
        assert_eq!(
            parse_response(&msg[..msg.len() - 8], &mut scratch),
            Ok(None)
        );
    }

    #[test]
    fn malformed_or_oversized_input_is_an_error_not_a_panic() {
        let mut scratch = Vec::new();
        let bad = [
            &b"HTTP/1.1 2x2 OK\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\n\r\nbody until close",
        ];
        for input in bad {
            assert!(parse_response(input, &mut scratch).is_err(), "{input:?}");
        }
        let mut long = b"HTTP/1.1 200 OK\r\nX-Long: ".to_vec();
        long.resize(HEAD_LEN_MAX + 1, b'a');
        assert_eq!(
            parse_response(&long, &mut scratch),
            Err(WireError::HeadTooLong)
        );
    }

    #[test]
    fn request_close_and_body_are_read() {
        let msg = b"POST /cb HTTP/1.1\r\nContent-Length: 4\r\nConnection: close\r\n\r\n{}{}";
        let mut scratch = Vec::new();
        let r = parse_request(msg, &mut scratch).unwrap().unwrap();
        assert!(r.is_post && r.close);
        assert_eq!(r.body.slice(msg, &scratch), b"{}{}");
        let old = b"POST / HTTP/1.0\r\n\r\n";
        assert!(parse_request(old, &mut scratch).unwrap().unwrap().close);
    }

    #[test]
    fn basic_auth_is_rfc4648_base64() {
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_auth("a", ""), "Basic YTo=");
        assert_eq!(basic_auth("ab", "c"), "Basic YWI6Yw==");
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        push_json_str(&mut out, "a\"b\\c\nd é");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\u000ad é""#);
    }
}
