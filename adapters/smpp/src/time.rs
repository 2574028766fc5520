//! SMPP time strings (§7.1.1): `"YYMMDDhhmmsstnnp"`, absolute or relative.
//!
//! - absolute: `p` is `+` or `-`, `nn` the offset of local time from UTC in quarter hours
//!   (00–48), `t` tenths of a second;
//! - relative (`p` = `R`): YY years, MM months, … from now; `tnn` should be `000`.
//!
//! Parsing is lenient where peers are sloppy and the meaning stays clear: `r` is read as
//! `R`, and a relative time's `tnn` is ignored whatever it holds. Relative fields may
//! exceed calendar ranges (`"000000009000000R"` is 90 minutes). Absolute fields are
//! range-checked (month 1–12, day 1–31, hour ≤ 23, minute and second ≤ 59, offset ≤ 48),
//! and two-digit years are 2000–2099.

/// Seconds in a day.
const DAY_S: i64 = 86_400;
/// Seconds in one quarter hour, the unit of the UTC offset.
const QUARTER_HOUR_S: i64 = 900;
/// The largest UTC offset, in quarter hours (12 hours).
const OFFSET_QUARTERS_MAX: i8 = 48;

/// Why a time string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not 16 characters (and not empty).
    #[error("SMPP time has {len} characters, not 16")]
    Length {
        /// Characters present.
        len: usize,
    },
    /// A character that should be a digit is not.
    #[error("SMPP time has a non-digit at position {at}")]
    NotDigit {
        /// Its position.
        at: usize,
    },
    /// The last character is not `+`, `-` or `R`.
    #[error("SMPP time ends in {sign:#04x}, not '+', '-' or 'R'")]
    Sign {
        /// The octet found.
        sign: u8,
    },
    /// A field is out of its range.
    #[error("SMPP time field {field} out of range")]
    Range {
        /// The field's name.
        field: &'static str,
    },
}

/// A point in time with its UTC offset, as SMPP writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AbsoluteTime {
    /// Year within 2000–2099, as 0–99.
    pub year: u8,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59.
    pub second: u8,
    /// Tenths of a second, 0–9.
    pub tenths: u8,
    /// Offset of the local time above from UTC, in quarter hours, −48–48.
    pub utc_offset_quarters: i8,
}

/// A duration from "now" as SMPP writes it; each field 0–99.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct RelativeTime {
    /// Years.
    pub years: u8,
    /// Months.
    pub months: u8,
    /// Days.
    pub days: u8,
    /// Hours.
    pub hours: u8,
    /// Minutes.
    pub minutes: u8,
    /// Seconds.
    pub seconds: u8,
}

/// A schedule_delivery_time, validity_period or final_date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SmppTime {
    /// An absolute time.
    Absolute(AbsoluteTime),
    /// A time relative to when the SMSC receives the PDU.
    Relative(RelativeTime),
}

/// Reads the decimal digit at `at`.
fn digit(s: &[u8; 16], at: usize) -> Result<u8, TimeError> {
    match s.get(at) {
        Some(c @ b'0'..=b'9') => Ok(c - b'0'),
        _ => Err(TimeError::NotDigit { at }),
    }
}

/// Reads two decimal digits at `at`.
fn two_digits(s: &[u8; 16], at: usize) -> Result<u8, TimeError> {
    Ok(digit(s, at)? * 10 + digit(s, at + 1)?)
}

fn check(
    value: u8,
    range: core::ops::RangeInclusive<u8>,
    field: &'static str,
) -> Result<u8, TimeError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(TimeError::Range { field })
    }
}

impl SmppTime {
    /// Parses a time field; an empty field (meaning "now" or "SMSC default") is `None`.
    pub fn parse(field: &[u8]) -> Result<Option<SmppTime>, TimeError> {
        if field.is_empty() {
            return Ok(None);
        }
        let s: &[u8; 16] = field
            .try_into()
            .map_err(|_| TimeError::Length { len: field.len() })?;
        let [y, mo, d, h, mi, sec] = [0, 2, 4, 6, 8, 10].map(|at| two_digits(s, at));
        match s[15] {
            b'R' | b'r' => Ok(Some(SmppTime::Relative(RelativeTime {
                years: y?,
                months: mo?,
                days: d?,
                hours: h?,
                minutes: mi?,
                seconds: sec?,
            }))),
            sign @ (b'+' | b'-') => {
                let tenths = digit(s, 12)?;
                let quarters = check(two_digits(s, 13)?, 0..=48, "utc_offset")? as i8;
                Ok(Some(SmppTime::Absolute(AbsoluteTime {
                    year: y?,
                    month: check(mo?, 1..=12, "month")?,
                    day: check(d?, 1..=31, "day")?,
                    hour: check(h?, 0..=23, "hour")?,
                    minute: check(mi?, 0..=59, "minute")?,
                    second: check(sec?, 0..=59, "second")?,
                    tenths,
                    utc_offset_quarters: if sign == b'-' { -quarters } else { quarters },
                })))
            }
            sign => Err(TimeError::Sign { sign }),
        }
    }

    /// The 16 characters of this time.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut out = [b'0'; 16];
        let mut put = |at: usize, value: u8| {
            if let Some(slot) = out.get_mut(at..at + 2) {
                slot.copy_from_slice(&[b'0' + value / 10 % 10, b'0' + value % 10]);
            }
        };
        match self {
            SmppTime::Absolute(t) => {
                for (at, v) in [
                    (0, t.year),
                    (2, t.month),
                    (4, t.day),
                    (6, t.hour),
                    (8, t.minute),
                    (10, t.second),
                ] {
                    put(at, v);
                }
                put(13, t.utc_offset_quarters.unsigned_abs());
                out[12] = b'0' + t.tenths % 10;
                out[15] = if t.utc_offset_quarters < 0 {
                    b'-'
                } else {
                    b'+'
                };
            }
            SmppTime::Relative(t) => {
                for (at, v) in [
                    (0, t.years),
                    (2, t.months),
                    (4, t.days),
                    (6, t.hours),
                    (8, t.minutes),
                    (10, t.seconds),
                ] {
                    put(at, v);
                }
                out[15] = b'R';
            }
        }
        out
    }

    /// The Unix time (seconds) this designates, relative times counted from `now_unix_s`.
    pub fn to_unix_s(&self, now_unix_s: i64) -> i64 {
        match self {
            SmppTime::Absolute(t) => t.to_unix_s(),
            SmppTime::Relative(t) => t.add_to_unix_s(now_unix_s),
        }
    }
}

impl AbsoluteTime {
    /// The Unix time (seconds, tenths dropped).
    pub fn to_unix_s(&self) -> i64 {
        let days = days_from_civil(2000 + i64::from(self.year), self.month, self.day);
        let local_s = days * DAY_S
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        local_s - i64::from(self.utc_offset_quarters) * QUARTER_HOUR_S
    }

    /// The absolute time of `unix_s` written in local time `utc_offset_quarters` from UTC.
    pub fn from_unix_s(unix_s: i64, utc_offset_quarters: i8) -> Result<AbsoluteTime, TimeError> {
        if utc_offset_quarters.unsigned_abs() > OFFSET_QUARTERS_MAX as u8 {
            return Err(TimeError::Range {
                field: "utc_offset",
            });
        }
        let local_s = unix_s + i64::from(utc_offset_quarters) * QUARTER_HOUR_S;
        let (year, month, day) = civil_from_days(local_s.div_euclid(DAY_S));
        let of_day = local_s.rem_euclid(DAY_S);
        let year = u8::try_from(year - 2000)
            .ok()
            .filter(|y| *y <= 99)
            .ok_or(TimeError::Range { field: "year" })?;
        Ok(AbsoluteTime {
            year,
            month,
            day,
            hour: (of_day / 3600) as u8,
            minute: (of_day / 60 % 60) as u8,
            second: (of_day % 60) as u8,
            tenths: 0,
            utc_offset_quarters,
        })
    }
}

impl RelativeTime {
    /// `now_unix_s` moved forward by this duration: years and months on the calendar (the
    /// day clamped to the month's length, in UTC), the rest in seconds.
    pub fn add_to_unix_s(&self, now_unix_s: i64) -> i64 {
        let days = now_unix_s.div_euclid(DAY_S);
        let of_day = now_unix_s.rem_euclid(DAY_S);
        let (year, month, day) = civil_from_days(days);
        let months =
            year * 12 + i64::from(month) - 1 + i64::from(self.years) * 12 + i64::from(self.months);
        let (year, month) = (months.div_euclid(12), (months.rem_euclid(12) + 1) as u8);
        let day = day.min(days_in_month(year, month));
        days_from_civil(year, month, day) * DAY_S
            + of_day
            + i64::from(self.days) * DAY_S
            + i64::from(self.hours) * 3600
            + i64::from(self.minutes) * 60
            + i64::from(self.seconds)
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the "days from civil" method:
/// count in 400-year eras starting in March so leap days fall at the end of a year).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u8;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u8;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_time_parses_and_formats_back() {
        let s = b"250317143005432+";
        let t = SmppTime::parse(s).unwrap().unwrap();
        let SmppTime::Absolute(abs) = t else {
            panic!("absolute expected")
        };
        assert_eq!((abs.year, abs.month, abs.day), (25, 3, 17));
        assert_eq!(
            (abs.hour, abs.minute, abs.second, abs.tenths),
            (14, 30, 5, 4)
        );
        assert_eq!(abs.utc_offset_quarters, 32);
        assert_eq!(&t.to_bytes(), s);
    }

    #[test]
    fn absolute_time_converts_with_its_offset() {
        // 2025-03-17 14:30:05 at UTC+8 is 06:30:05 UTC.
        let t = SmppTime::parse(b"250317143005032+").unwrap().unwrap();
        assert_eq!(t.to_unix_s(0), 1_742_193_005);
        let back = AbsoluteTime::from_unix_s(1_742_193_005, 32).unwrap();
        assert_eq!(SmppTime::Absolute(back), t);
    }

    #[test]
    fn relative_time_adds_calendar_months_and_clamps_the_day() {
        // 2024-01-31 00:00:00 UTC + 1 month = 2024-02-29 (leap year), + 90 minutes.
        let t = SmppTime::parse(b"000100009000000R").unwrap().unwrap();
        let jan31 = days_from_civil(2024, 1, 31) * DAY_S;
        let feb29 = days_from_civil(2024, 2, 29) * DAY_S;
        assert_eq!(t.to_unix_s(jan31), feb29 + 90 * 60);
    }

    #[test]
    fn lenient_relative_forms_are_accepted() {
        let lower = SmppTime::parse(b"000000010000000r").unwrap();
        let junk_tnn = SmppTime::parse(b"000000010000123R").unwrap();
        assert_eq!(lower, junk_tnn);
        assert_eq!(SmppTime::parse(b""), Ok(None));
    }

    #[test]
    fn malformed_times_are_refused_with_a_reason() {
        assert_eq!(
            SmppTime::parse(b"2503171430"),
            Err(TimeError::Length { len: 10 })
        );
        assert_eq!(
            SmppTime::parse(b"251317143005032+"),
            Err(TimeError::Range { field: "month" })
        );
        assert_eq!(
            SmppTime::parse(b"250317143005049+"),
            Err(TimeError::Range {
                field: "utc_offset"
            })
        );
        assert_eq!(
            SmppTime::parse(b"25031714300503x+"),
            Err(TimeError::NotDigit { at: 14 })
        );
        assert_eq!(
            SmppTime::parse(b"250317143005032*"),
            Err(TimeError::Sign { sign: b'*' })
        );
    }

    #[test]
    fn civil_conversion_round_trips_over_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
