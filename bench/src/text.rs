//! Message texts the tools send: short texts, 3-part concatenated ones, receipt dates.

use std::time::{SystemTime, UNIX_EPOCH};

use tern_sms::ReceiptDate;

/// Characters per part of a concatenated GSM 7-bit message (160 minus the 6-octet UDH
/// in septets, rounded down).
pub const LONG_PART_CHARS: usize = 153;
/// Parts of a long message.
pub const LONG_PARTS: u8 = 3;
/// Octets of the 8-bit-reference concatenation UDH.
pub const CONCAT_UDH_LEN: usize = 6;

/// Writes part `seq` (1-based) of a 3-part message with `reference` into `out`
/// (cleared first): the UDH, then [`LONG_PART_CHARS`] ASCII characters.
pub fn long_part(reference: u8, seq: u8, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[5, 0, 3, reference, LONG_PARTS, seq]);
    let filler = b"Tern bench long message part ";
    out.extend(filler.iter().cycle().take(LONG_PART_CHARS - 2));
    out.push(b'0' + seq % 10);
    out.push(b'.');
}

/// Seconds since the Unix epoch, 0 if the clock is before it.
pub fn unix_now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The UTC date of `unix_s` as a receipt date (YYMMDDhhmm).
pub fn receipt_date(unix_s: u64) -> ReceiptDate {
    let days = (unix_s / 86_400) as i64;
    let seconds = unix_s % 86_400;
    let (year, month, day) = civil_from_days(days);
    ReceiptDate {
        year: (year.rem_euclid(100)) as u8,
        month,
        day,
        hour: (seconds / 3600) as u8,
        minute: (seconds % 3600 / 60) as u8,
        second: None,
    }
}

/// Gregorian (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// well-known algorithm).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Fills the `#` characters of `pattern` with the low digits of `n`, last `#` lowest.
pub fn fill_pattern(pattern: &str, n: u64, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(pattern.as_bytes());
    let mut rest = n;
    for byte in out.iter_mut().rev().filter(|b| **b == b'#') {
        *byte = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_date_of_a_known_instant() {
        // 2024-02-29 13:45 UTC.
        let date = receipt_date(1_709_214_300);
        assert_eq!(date.to_string(), "2402291345");
        assert_eq!(receipt_date(0).to_string(), "7001010000");
    }

    #[test]
    fn long_part_is_udh_plus_153_characters() {
        let mut out = Vec::new();
        long_part(9, 2, &mut out);
        assert_eq!(out.len(), CONCAT_UDH_LEN + LONG_PART_CHARS);
        assert_eq!(&out[..6], &[5, 0, 3, 9, 3, 2]);
    }

    #[test]
    fn pattern_digits_fill_from_the_right() {
        let mut out = Vec::new();
        fill_pattern("4477####", 42, &mut out);
        assert_eq!(out, b"44770042");
        fill_pattern("1234", 42, &mut out);
        assert_eq!(out, b"1234");
    }
}
