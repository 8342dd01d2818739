//! Keyset pagination: `?limit=&cursor=`, answered with `{ "items": [...], "next_cursor" }`.
//!
//! The cursor is the opaque, URL-safe encoding of the last row's `(created_at, id)`, so a
//! page is stable under concurrent inserts and costs an index seek, unlike `OFFSET`.

use db::projects::{Activity, Keyset, Project, Task};
use serde::Serialize;

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
    /// Builds a page from up to `fetch_limit()` rows.
    pub fn from_rows<R: Keyed>(
        mut rows: Vec<R>,
        request: &PageRequest,
        view: impl FnMut(R) -> T,
    ) -> Self {
        let more = rows.len() as i64 > request.limit;
        rows.truncate(request.limit as usize);
        let next_cursor = more
            .then(|| rows.last().map(|row| encode(row.keyset())))
            .flatten();
        Self {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

/// A row of a paginated list: where it sits in `(created_at, id)` order.
pub trait Keyed {
    fn keyset(&self) -> Keyset;
}

/// `Keyed` for row types with `created_at` and an id, given how to read the id as a `Uuid`.
macro_rules! keyed {
    ($($row:ty => |$it:ident| $id:expr),+ $(,)?) => {$(
        impl Keyed for $row {
            fn keyset(&self) -> Keyset {
                let $it = self;
                Keyset { created_at: $it.created_at, id: $id }
            }
        }
    )+};
}

keyed!(
    Project => |row| row.id.0,
    Task => |row| row.id.0,
    Activity => |row| row.id,
);

fn encode(keyset: Keyset) -> String {
    platform::pagination::encode_cursor(keyset.created_at, keyset.id)
}

fn decode(cursor: &str) -> Result<Keyset, ApiError> {
    platform::pagination::decode_cursor(cursor)
        .map(|(created_at, id)| Keyset { created_at, id })
        .ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", platform::pagination::INVALID_CURSOR)
        })
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use uuid::Uuid;

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
