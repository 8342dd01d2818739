//! The one way every list endpoint pages (see `docs/api.md`): `?limit=&cursor=` in, `{
//! "items": [...], "next_cursor": string|null }` out, `limit` 1..=100 (default 50), and a
//! bad `limit` or `cursor` is a 400.
//!
//! Keyset pagination: the cursor is the opaque (URL-safe base64) encoding of the page's last
//! row `(created_at, id)`, so pages stay stable under concurrent inserts and cost an index
//! seek at any depth, unlike `OFFSET`.

use axum::http::StatusCode;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Rows per page when the request names no `limit`.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest `limit` a list accepts.
pub const MAX_LIMIT: i64 = 100;
/// What a bad `limit` or `cursor` is answered with, like any other bad query parameter
/// (`platform::extract::Query` answers 400 `invalid_query`).
pub const BAD_PAGE_STATUS: StatusCode = StatusCode::BAD_REQUEST;

/// One page of a list, whatever it lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A position in a list: the `(created_at, id)` of the last row a page returned.
pub type Keyset = (DateTime<Utc>, Uuid);

/// A checked `?limit=&cursor=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    /// Rows strictly after this position; `None` for the first page.
    pub after: Option<Keyset>,
}

/// Why a page request was refused; each service maps it to its own error with
/// [`BAD_PAGE_STATUS`] and [`PageError::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("limit must be between 1 and 100")]
    Limit,
    #[error("{INVALID_CURSOR}")]
    Cursor,
}

impl PageError {
    /// `invalid_limit` or `invalid_cursor`.
    pub fn code(self) -> &'static str {
        match self {
            PageError::Limit => "invalid_limit",
            PageError::Cursor => "invalid_cursor",
        }
    }
}

impl PageRequest {
    /// `limit` absent means [`DEFAULT_LIMIT`]; `cursor` absent or empty means the first page.
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, PageError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(PageError::Limit);
        }
        let after = match cursor.filter(|cursor| !cursor.is_empty()) {
            Some(cursor) => Some(decode_cursor(cursor).ok_or(PageError::Cursor)?),
            None => None,
        };
        Ok(Self { limit, after })
    }

    /// Rows to fetch: one more than the page holds, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }
}

impl<T> Page<T> {
    /// A list bounded by nature (a project's epics, a file's versions, one's sessions), sent
    /// whole: one page, `next_cursor` null. Same shape as every other list, so a client
    /// reads every list one way.
    pub fn whole(items: impl IntoIterator<Item = T>) -> Self {
        Self {
            items: items.into_iter().collect(),
            next_cursor: None,
        }
    }

    /// The page from up to [`PageRequest::fetch_limit`] rows in list order: `keyset` says
    /// where a row sits, `view` what the client sees of it.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        request: &PageRequest,
        keyset: impl Fn(&R) -> Keyset,
        view: impl FnMut(R) -> T,
    ) -> Self {
        let more = rows.len() as i64 > request.limit;
        rows.truncate(request.limit.max(0) as usize);
        let next_cursor = rows.last().filter(|_| more).map(|last| {
            let (created_at, id) = keyset(last);
            encode_cursor(created_at, id)
        });
        Self {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

/// The cursor a client passes back to get the page after the row `(created_at, id)`.
pub fn encode_cursor(created_at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", created_at.to_rfc3339()))
}

/// `None` when the text is not a cursor [`encode_cursor`] made.
pub fn decode_cursor(cursor: &str) -> Option<Keyset> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (at, id) = text.split_once('|')?;
    let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
    Some((at, id.parse().ok()?))
}

/// Message for a cursor [`decode_cursor`] refused.
pub const INVALID_CURSOR: &str = "cursor is not one this API returned";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_to_the_microsecond() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T18:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(at, id)), Some((at, id)));
    }

    #[test]
    fn foreign_text_is_not_a_cursor() {
        for bad in [
            "",
            "not base64!",
            "aGVsbG8",
            &URL_SAFE_NO_PAD.encode("2026|x"),
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn limits_outside_one_to_a_hundred_and_foreign_cursors_are_refused() {
        assert_eq!(PageRequest::parse(Some(0), None), Err(PageError::Limit));
        assert_eq!(PageRequest::parse(Some(101), None), Err(PageError::Limit));
        assert_eq!(
            PageRequest::parse(None, Some("nope")),
            Err(PageError::Cursor)
        );
        let first = PageRequest::parse(None, Some("")).expect("an empty cursor is the start");
        assert_eq!((first.limit, first.after), (DEFAULT_LIMIT, None));
        assert_eq!(PageRequest::parse(Some(100), None).unwrap().limit, 100);
    }

    #[test]
    fn a_page_has_a_cursor_only_when_more_rows_follow() {
        let at = Utc::now();
        let rows: Vec<Keyset> = (0..3).map(|_| (at, Uuid::new_v4())).collect();
        let request = PageRequest::parse(Some(2), None).unwrap();
        let page = Page::from_rows(rows.clone(), &request, |row| *row, |row| row.1);
        assert_eq!(page.items, vec![rows[0].1, rows[1].1]);
        let cursor = page.next_cursor.expect("a third row follows");
        assert_eq!(decode_cursor(&cursor), Some(rows[1]));

        let request = PageRequest::parse(Some(3), None).unwrap();
        let last = Page::from_rows(rows, &request, |row| *row, |row| row.1);
        assert_eq!((last.items.len(), last.next_cursor), (3, None));
    }
}
