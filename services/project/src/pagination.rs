//! Keyset pagination: `?limit=&cursor=`, answered with `{ "items": [...], "next_cursor" }`.
//!
//! The cursor is the opaque, URL-safe encoding of the last row's `(created_at, id)`, so a
//! page is stable under concurrent inserts and costs an index seek, unlike `OFFSET`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::DateTime;
use db::projects::Keyset;
use serde::Serialize;
use uuid::Uuid;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// A validated page request.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<Keyset>,
}

impl PageRequest {
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = cursor.filter(|c| !c.is_empty()).map(decode).transpose()?;
        Ok(Self { limit, after })
    }

    /// One more than the page size, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `fetch_limit()` rows; `keyset` says where a row sits.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        request: &PageRequest,
        keyset: impl Fn(&R) -> Keyset,
        view: impl FnMut(R) -> T,
    ) -> Self {
        let more = rows.len() as i64 > request.limit;
        rows.truncate(request.limit as usize);
        let next_cursor = more
            .then(|| rows.last().map(|row| encode(keyset(row))))
            .flatten();
        Self {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

fn encode(keyset: Keyset) -> String {
    let micros = keyset.created_at.timestamp_micros();
    URL_SAFE_NO_PAD.encode(format!("{micros}.{}", keyset.id))
}

fn decode(cursor: &str) -> Result<Keyset, ApiError> {
    let invalid =
        || ApiError::bad_request("invalid_cursor", "the cursor is not one this API gave out");
    let text = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(text).map_err(|_| invalid())?;
    let (micros, id) = text.split_once('.').ok_or_else(invalid)?;
    let created_at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(invalid)?;
    let id = Uuid::parse_str(id).map_err(|_| invalid())?;
    Ok(Keyset { created_at, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_at_microsecond_precision() {
        let keyset = Keyset {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("time"),
            id: Uuid::now_v7(),
        };
        assert_eq!(decode(&encode(keyset)).expect("decodes"), keyset);
    }

    #[test]
    fn foreign_cursors_and_limits_are_rejected() {
        assert!(PageRequest::parse(None, Some("not-a-cursor")).is_err());
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(MAX_LIMIT + 1), None).is_err());
        assert_eq!(
            PageRequest::parse(None, None).expect("defaults").limit,
            DEFAULT_LIMIT
        );
    }
}
