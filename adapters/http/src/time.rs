//! Civil time in UTC: RFC 3339 parsing and the few formats clients expect.
//!
//! Hand-written (days-from-civil arithmetic, valid for years 1970–9999) so the crate does
//! not pull a calendar library for four formats.

/// UTC date and time fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year (1970–9999).
    pub year: u32,
    /// Month 1–12.
    pub month: u32,
    /// Day 1–31.
    pub day: u32,
    /// Hour 0–23.
    pub hour: u32,
    /// Minute 0–59.
    pub minute: u32,
    /// Second 0–60.
    pub second: u32,
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil fields of a Unix time in seconds.
pub fn civil_from_unix_s(unix_s: u64) -> Civil {
    let days = i64::try_from(unix_s / 86_400).unwrap_or(0);
    let rem = unix_s % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year: u32::try_from(year).unwrap_or(0),
        month: u32::try_from(month).unwrap_or(1),
        day: u32::try_from(day).unwrap_or(1),
        hour: u32::try_from(rem / 3600).unwrap_or(0),
        minute: u32::try_from(rem % 3600 / 60).unwrap_or(0),
        second: u32::try_from(rem % 60).unwrap_or(0),
    }
}

/// Unix seconds of civil fields, `None` before 1970 or on out-of-range fields.
pub fn unix_s_from_civil(c: Civil) -> Option<u64> {
    let valid = (1970..=9999).contains(&c.year)
        && (1..=12).contains(&c.month)
        && (1..=31).contains(&c.day)
        && c.hour < 24
        && c.minute < 60
        && c.second <= 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(i64::from(c.year), i64::from(c.month), i64::from(c.day));
    let secs =
        days * 86_400 + i64::from(c.hour) * 3600 + i64::from(c.minute) * 60 + i64::from(c.second);
    u64::try_from(secs).ok()
}

fn digits(s: &str, range: std::ops::Range<usize>) -> Option<u32> {
    let part = s.get(range)?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// Parses RFC 3339 (`2026-11-23T08:00:00Z`, `…+02:00`, fractional seconds ignored) into
/// Unix milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    if b.get(16) != Some(&b':') {
        return None;
    }
    let civil = Civil {
        year: digits(s, 0..4)?,
        month: digits(s, 5..7)?,
        day: digits(s, 8..10)?,
        hour: digits(s, 11..13)?,
        minute: digits(s, 14..16)?,
        second: digits(s, 17..19)?,
    };
    let mut rest = s.get(19..)?;
    let mut millis = 0u64;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let ms_digits = frac.get(..n.min(3))?;
        millis = ms_digits.parse::<u64>().ok()? * 10u64.pow(3 - u32::try_from(n.min(3)).ok()?);
        rest = frac.get(n..)?;
    }
    let base_ms = unix_s_from_civil(civil)? * 1000 + millis;
    match rest {
        "Z" | "z" => Some(base_ms),
        offset if offset.len() == 6 && offset.as_bytes().get(3) == Some(&b':') => {
            let sign = match offset.as_bytes().first() {
                Some(b'+') => 1i64,
                Some(b'-') => -1i64,
                _ => return None,
            };
            let hours = i64::from(digits(offset, 1..3)?);
            let minutes = i64::from(digits(offset, 4..6)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let shift_ms = sign * (hours * 3600 + minutes * 60) * 1000;
            u64::try_from(i64::try_from(base_ms).ok()? - shift_ms).ok()
        }
        _ => None,
    }
}

/// `YYYY-MM-DD HH:MM:SS` (Kannel's `%t`).
pub fn format_kannel(unix_s: u64) -> String {
    let c = civil_from_unix_s(unix_s);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// `YYMMDDhhmm` (SMPP receipt dates, Jasmin's `subdate`/`donedate`).
pub fn format_receipt(unix_s: u64) -> String {
    let c = civil_from_unix_s(unix_s);
    format!(
        "{:02}{:02}{:02}{:02}{:02}",
        c.year % 100,
        c.month,
        c.day,
        c.hour,
        c.minute
    )
}

/// RFC 3339 in UTC with milliseconds.
pub fn format_rfc3339_ms(unix_ms: u64) -> String {
    let c = civil_from_unix_s(unix_ms / 1000);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        unix_ms % 1000
    )
}

/// The current Unix time in milliseconds (0 if the clock is before 1970).
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `at + by`, or a year after `at` when a configured duration is too large to add (an
/// `Instant` overflow would panic).
pub fn instant_after(at: std::time::Instant, by: std::time::Duration) -> std::time::Instant {
    const YEAR: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);
    at.checked_add(by)
        .or_else(|| at.checked_add(YEAR))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_offset_and_fraction_is_utc_ms() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2026-11-23T10:00:00.5+02:00"),
            parse_rfc3339_ms("2026-11-23T08:00:00Z").map(|ms| ms + 500)
        );
        assert_eq!(parse_rfc3339_ms("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_ms("2026-11-23T08:00:00"), None);
    }

    #[test]
    fn civil_round_trips_through_unix_seconds() {
        for s in [0u64, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(unix_s_from_civil(civil_from_unix_s(s)), Some(s));
        }
        assert_eq!(format_kannel(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(format_receipt(1_700_000_000), "2311142213");
    }
}
