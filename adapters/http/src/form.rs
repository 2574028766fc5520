//! URL percent-encoding and `application/x-www-form-urlencoded` parameters.
//!
//! Hand-written because the rules are a page long and every input here is
//! peer-controlled: decoding never fails (a stray `%` stays literal, as browsers and
//! Kannel's `octstr_url_decode` leniency expect) and never panics.

/// Decoded `name=value` pairs of a query string or form body, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, Vec<u8>)>,
}

/// Most parameters one request may carry; the rest are ignored (a bound on work per request).
pub const MAX_PARAMS: usize = 256;

impl Params {
    /// Parses `a=1&b=2` (`+` is a space); names are decoded lossily to UTF-8, values kept as
    /// octets because Kannel's `text` may be in any charset.
    pub fn parse(input: &[u8]) -> Params {
        let pairs = input
            .split(|&b| b == b'&')
            .filter(|p| !p.is_empty())
            .take(MAX_PARAMS)
            .map(|pair| {
                let (name, value) = match pair.iter().position(|&b| b == b'=') {
                    Some(i) => (&pair[..i], &pair[i + 1..]),
                    None => (pair, &[][..]),
                };
                (
                    String::from_utf8_lossy(&decode(name)).into_owned(),
                    decode(value),
                )
            })
            .collect();
        Params { pairs }
    }

    /// Appends the pairs of `other` after these.
    pub fn extend(&mut self, other: Params) {
        let room = MAX_PARAMS.saturating_sub(self.pairs.len());
        self.pairs.extend(other.pairs.into_iter().take(room));
    }

    /// Adds one pair.
    pub fn push(&mut self, name: &str, value: &[u8]) {
        if self.pairs.len() < MAX_PARAMS {
            self.pairs.push((name.to_owned(), value.to_vec()));
        }
    }

    /// The first value of `name`, as octets.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of `name` as text (invalid UTF-8 replaced).
    pub fn text(&self, name: &str) -> Option<String> {
        self.bytes(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// The first of `names` present.
    pub fn text_any(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.text(n))
    }

    /// Names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(n, _)| n.as_str())
    }

    /// Whether no pair was given.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// Percent-decodes `input` (`+` as space); a `%` not followed by two hex digits stays.
pub fn decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = input.get(i + 1).and_then(|&h| hex_value(h));
                let lo = input.get(i + 2).and_then(|&l| hex_value(l));
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

/// Appends `input` percent-encoded (RFC 3986 unreserved characters kept) to `out`.
pub fn encode_into(input: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in input {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0F)]));
        }
    }
}

/// `input` percent-encoded.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len());
    encode_into(input, &mut out);
    out
}

/// Builds `a=1&b=2` from pairs, each part percent-encoded.
pub fn serialize<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        encode_into(name.as_bytes(), &mut out);
        out.push('=');
        encode_into(value.as_bytes(), &mut out);
    }
    out
}

/// Value of one hex digit.
pub fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Decodes a hex string (even length, any case); `None` on anything else.
pub fn hex_decode(input: &str) -> Option<Vec<u8>> {
    let bytes = input.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?))
        .collect()
}

/// Lower-case hex of `bytes`.
pub fn hex_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0F)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_pairs_decode_plus_and_percent_and_keep_stray_percent() {
        let p = Params::parse(b"to=%2B4912+34&text=100%&x");
        assert_eq!(p.text("to").as_deref(), Some("+4912 34"));
        assert_eq!(p.text("text").as_deref(), Some("100%"));
        assert_eq!(p.bytes("x"), Some(&b""[..]));
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let raw = "a b&c=d/é%".as_bytes();
        assert_eq!(decode(encode(raw).as_bytes()), raw);
    }

    #[test]
    fn hex_round_trips_and_rejects_odd_or_bad_digits() {
        assert_eq!(hex_decode("0aFF").as_deref(), Some(&[0x0a, 0xff][..]));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
        assert_eq!(hex_encode(&[0, 0xab]), "00ab");
    }
}
