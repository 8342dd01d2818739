//! A legacy record's time: RFC 3339 or a few looser date forms, or a Unix time in seconds
//! (number or numeric string), or in milliseconds, microseconds or nanoseconds when its size
//! says so (no time in seconds reaches 10^11: that is the year 5138).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

/// How a time was read, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reading {
    Rfc3339,
    /// A date and time without zone, taken as UTC.
    NoZone,
    /// A date alone, taken as midnight UTC.
    DateOnly,
    UnixSeconds,
    UnixMillis,
    UnixMicros,
    UnixNanos,
}

impl Reading {
    pub fn describe(self) -> &'static str {
        match self {
            Reading::Rfc3339 => "RFC 3339",
            Reading::NoZone => "without zone (taken as UTC)",
            Reading::DateOnly => "date only (midnight UTC)",
            Reading::UnixSeconds => "Unix seconds",
            Reading::UnixMillis => "Unix milliseconds",
            Reading::UnixMicros => "Unix microseconds",
            Reading::UnixNanos => "Unix nanoseconds",
        }
    }
}

/// A record's time, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    At(DateTime<Utc>, Reading),
    /// Present but not a time we can read (or outside the years 1-9999).
    Unreadable,
}

impl Time {
    pub fn at(self) -> Option<DateTime<Utc>> {
        match self {
            Time::At(at, _) => Some(at),
            Time::Unreadable => None,
        }
    }
}

/// Reads a time from a JSON string or number.
pub fn read(value: &Value) -> Time {
    let read = match value {
        Value::Number(number) => number.as_f64().and_then(unix),
        Value::String(text) => text_time(text.trim()),
        _ => None,
    };
    match read {
        Some((at, reading)) if plausible(at) => Time::At(at, reading),
        _ => Time::Unreadable,
    }
}

fn text_time(text: &str) -> Option<(DateTime<Utc>, Reading)> {
    if let Ok(number) = text.parse::<f64>() {
        return unix(number);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some((at.with_timezone(&Utc), Reading::Rfc3339));
    }
    // RFC 3339 with a space for the `T`, as PostgreSQL and many loggers print it.
    if let Some((date, rest)) = text.split_once(' ')
        && let Ok(at) = DateTime::parse_from_rfc3339(&format!("{date}T{rest}"))
    {
        return Some((at.with_timezone(&Utc), Reading::Rfc3339));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some((Utc.from_utc_datetime(&at), Reading::NoZone));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0)?;
        return Some((Utc.from_utc_datetime(&midnight), Reading::DateOnly));
    }
    None
}

/// A Unix time, its unit chosen by its size.
fn unix(number: f64) -> Option<(DateTime<Utc>, Reading)> {
    if !number.is_finite() {
        return None;
    }
    let (per_second, reading) = match number.abs() {
        n if n < 1e11 => (1.0, Reading::UnixSeconds),
        n if n < 1e14 => (1e3, Reading::UnixMillis),
        n if n < 1e17 => (1e6, Reading::UnixMicros),
        _ => (1e9, Reading::UnixNanos),
    };
    let micros = (number / per_second * 1e6).round();
    if micros.abs() > 9.0e18 {
        return None;
    }
    // In range: checked just above.
    #[allow(clippy::cast_possible_truncation)]
    let micros = micros as i64;
    DateTime::from_timestamp_micros(micros).map(|at| (at, reading))
}

/// Years 1-9999: what RFC 3339 can write and PostgreSQL can store.
fn plausible(at: DateTime<Utc>) -> bool {
    use chrono::Datelike;
    (1..=9999).contains(&at.year())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(value: Value) -> (String, Reading) {
        match read(&value) {
            Time::At(at, reading) => (at.to_rfc3339(), reading),
            Time::Unreadable => panic!("{value} unreadable"),
        }
    }

    #[test]
    fn each_form_is_read_with_its_unit() {
        let expected = "2023-11-14T22:13:20+00:00".to_owned();
        assert_eq!(
            at(json!(1_700_000_000)),
            (expected.clone(), Reading::UnixSeconds)
        );
        assert_eq!(
            at(json!("1700000000")),
            (expected.clone(), Reading::UnixSeconds)
        );
        assert_eq!(
            at(json!(1_700_000_000_000u64)),
            (expected.clone(), Reading::UnixMillis)
        );
        assert_eq!(
            at(json!("1700000000000")),
            (expected.clone(), Reading::UnixMillis)
        );
        assert_eq!(
            at(json!(1_700_000_000_000_000u64)),
            (expected.clone(), Reading::UnixMicros)
        );
        assert_eq!(at(json!(1.7e18)), (expected.clone(), Reading::UnixNanos));
        assert_eq!(
            at(json!("2023-11-14T23:13:20+01:00")),
            (expected.clone(), Reading::Rfc3339)
        );
        assert_eq!(
            at(json!("2023-11-14 22:13:20Z")),
            (expected.clone(), Reading::Rfc3339)
        );
        assert_eq!(
            at(json!("2023-11-14T22:13:20")),
            (expected, Reading::NoZone)
        );
        assert_eq!(
            at(json!("2023-11-14")),
            ("2023-11-14T00:00:00+00:00".into(), Reading::DateOnly)
        );
        assert_eq!(
            at(json!(1_700_000_000.5)),
            ("2023-11-14T22:13:20.500+00:00".into(), Reading::UnixSeconds)
        );
    }

    #[test]
    fn nonsense_and_out_of_range_times_are_unreadable() {
        for value in [
            json!("yesterday"),
            json!(""),
            json!(true),
            json!({"t": 1}),
            json!(-1e20),
            json!(1e30),
            json!("9999999999999999999999"),
            json!("0000-01-01T00:00:00Z"),
        ] {
            assert_eq!(read(&value), Time::Unreadable, "{value}");
        }
    }
}
