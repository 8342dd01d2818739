//! Serde `deserialize_with` helpers for dates (`YYYY-MM-DD`) and timestamps (RFC 3339) in
//! request bodies, kept to the four-digit years those formats write: 0001 to 9999.
//!
//! chrono alone also reads signed years of any length (`-5000-01-01`, `+200000-01-01`).
//! PostgreSQL stores nothing before 4714 BC and refuses such a value when it is bound, which
//! answered a plain mistake in the request with a 500; a gRPC vector index takes timestamps
//! only within 0001 to 9999. Refused here, the mistake is a 422 like any other bad field.

use std::ops::RangeInclusive;

use chrono::Datelike;
use serde::{Deserialize, Deserializer, de::Error};

/// The years a date or timestamp may fall in (a timestamp's year in UTC).
pub const YEARS: RangeInclusive<i32> = 1..=9999;

fn in_range<T: Datelike, E: Error>(value: T) -> Result<T, E> {
    if YEARS.contains(&value.year()) {
        Ok(value)
    } else {
        Err(E::custom(format!(
            "invalid value: year {}, expected a year from {:04} to {}",
            value.year(),
            YEARS.start(),
            YEARS.end()
        )))
    }
}

/// An optional date or timestamp (`null` or absent: `None`; pair with `#[serde(default)]`).
pub fn optional<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Datelike + Deserialize<'de>,
{
    Option::<T>::deserialize(d)?.map(in_range).transpose()
}

/// A nullable PATCH field: absent `None` (with `#[serde(default)]`), `null` `Some(None)`.
pub fn patch<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Datelike + Deserialize<'de>,
{
    optional(d).map(Some)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate, Utc};
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Edit {
        #[serde(default, deserialize_with = "super::optional")]
        due: Option<NaiveDate>,
        #[serde(default, deserialize_with = "super::optional")]
        after: Option<DateTime<Utc>>,
        #[serde(default, deserialize_with = "super::patch")]
        start: Option<Option<NaiveDate>>,
    }

    fn parse(json: &str) -> Result<Edit, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn four_digit_years_are_read_as_chrono_reads_them() {
        let edit = parse(
            r#"{"due": "0001-01-01", "after": "9999-12-31T23:59:59Z", "start": "2026-12-01"}"#,
        )
        .unwrap();
        assert_eq!(edit.due, NaiveDate::from_ymd_opt(1, 1, 1));
        assert_eq!(
            edit.after.map(|at| at.to_rfc3339()).as_deref(),
            Some("9999-12-31T23:59:59+00:00")
        );
        assert_eq!(edit.start, Some(NaiveDate::from_ymd_opt(2026, 12, 1)));
        let edit = parse(r#"{"due": null, "start": null}"#).unwrap();
        assert_eq!((edit.due, edit.after, edit.start), (None, None, Some(None)));
        assert_eq!(parse("{}").unwrap().start, None);
    }

    #[test]
    fn signed_and_long_years_are_refused() {
        for bad in [
            r#"{"due": "-5000-01-01"}"#,
            r#"{"due": "0000-12-31"}"#,
            r#"{"due": "+10000-01-01"}"#,
            r#"{"start": "-0001-01-01"}"#,
            r#"{"after": "-5000-01-01T00:00:00Z"}"#,
            r#"{"after": "+10000-01-01T00:00:00Z"}"#,
            // 0001 where it was written, 0000 in UTC.
            r#"{"after": "0001-01-01T00:00:00+01:00"}"#,
        ] {
            let error = parse(bad).expect_err(bad).to_string();
            assert!(
                error.contains("expected a year from 0001 to 9999"),
                "{bad}: {error}"
            );
        }
    }
}
