//! The project lists' side of `platform::pagination` (`?limit=&cursor=` in, `{ "items",
//! "next_cursor" }` out): which `(created_at, id)` each listed row sits at, and the page
//! position as `db` takes it; and the cursors of the orders that are not creation order
//! (board order, ranked search, files by path).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use db::projects::{Activity, BoardKeyset, FileKeyset, Keyset, Project, RankKeyset, Task};
pub use platform::pagination::Page;
use platform::pagination::PageError;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A checked page request, its position in the form `db`'s list queries take.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub page: platform::pagination::PageRequest,
    pub after: Option<Keyset>,
}

impl PageRequest {
    /// A bad `limit` or `cursor` is a 400 (`invalid_limit`, `invalid_cursor`).
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let page = platform::pagination::PageRequest::parse(limit, cursor)?;
        let after = page.after.map(|(created_at, id)| Keyset { created_at, id });
        Ok(Self { page, after })
    }

    /// One more than the page size, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.page.fetch_limit()
    }
}

/// The page from up to `fetch_limit()` rows, each shown through `view`.
pub fn page<R: Keyed, T>(rows: Vec<R>, request: &PageRequest, view: impl FnMut(R) -> T) -> Page<T> {
    Page::from_rows(rows, &request.page, Keyed::keyset, view)
}

/// A row of a paginated list: where it sits in `(created_at, id)` order.
pub trait Keyed {
    fn keyset(&self) -> platform::pagination::Keyset;
}

/// `Keyed` for row types with `created_at` and an id, given how to read the id as a `Uuid`.
macro_rules! keyed {
    ($($row:ty => |$it:ident| $id:expr),+ $(,)?) => {$(
        impl Keyed for $row {
            fn keyset(&self) -> platform::pagination::Keyset {
                let $it = self;
                ($it.created_at, $id)
            }
        }
    )+};
}

keyed!(
    Project => |row| row.id.0,
    Task => |row| row.id.0,
    Activity => |row| row.id,
);

/// A page request for a list order with its own cursor (board order, ranked search): `limit`
/// checked as everywhere, `cursor` read only as that order writes it.
#[derive(Debug, Clone, Copy)]
pub struct KeyedPageRequest<K> {
    pub page: platform::pagination::PageRequest,
    pub after: Option<K>,
}

impl<K> KeyedPageRequest<K> {
    /// A bad `limit` is 400 `invalid_limit`; a cursor `decode` does not accept is 400
    /// `invalid_cursor`, like a made-up one.
    pub fn parse(
        limit: Option<i64>,
        cursor: Option<&str>,
        decode: impl FnOnce(&str) -> Option<K>,
    ) -> Result<Self, ApiError> {
        let page = platform::pagination::PageRequest::parse(limit, None)?;
        let after = match cursor.filter(|cursor| !cursor.is_empty()) {
            Some(cursor) => Some(decode(cursor).ok_or(PageError::Cursor)?),
            None => None,
        };
        Ok(Self { page, after })
    }

    pub fn fetch_limit(&self) -> i64 {
        self.page.fetch_limit()
    }
}

/// The page from up to `fetch_limit()` rows in list order: `cursor` writes the cursor that
/// continues after a row, `view` what the client sees of it.
pub fn keyed_page<R, K, T>(
    mut rows: Vec<R>,
    request: &KeyedPageRequest<K>,
    cursor: impl Fn(&R) -> String,
    view: impl FnMut(R) -> T,
) -> Page<T> {
    let limit = request.page.limit.max(0) as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Page {
        next_cursor: rows.last().filter(|_| more).map(cursor),
        items: rows.into_iter().map(view).collect(),
    }
}

// Cursors of the orders other than creation order. Each names its order in a tag, so a cursor
// of one order is refused by another (and creation-order cursors, base64 of a timestamp, by
// both) instead of being read as a position in it. A ranked search's cursor also carries a
// fingerprint of the search text: ranks of one search are meaningless in another. Board
// positions do not depend on the search, so a board cursor stays valid when filters change,
// as creation-order cursors do. Only canonical text decodes (decode, encode again, compare),
// so the format leaves no second spelling to guess.

const BOARD_TAG: &str = "b1";
const RANK_TAG: &str = "r1";
const FILE_TAG: &str = "f1";

/// The cursor continuing board order after the task at `key`.
pub fn board_cursor(key: BoardKeyset) -> String {
    format!("{BOARD_TAG}.{:016x}.{}", key.position.to_bits(), key.number)
}

/// `None` unless [`board_cursor`] wrote `cursor`.
pub fn decode_board_cursor(cursor: &str) -> Option<BoardKeyset> {
    let [tag, position, number] = fields(cursor)?;
    let position = f64::from_bits(u64::from_str_radix(position, 16).ok()?);
    let key = BoardKeyset {
        position,
        number: number.parse().ok()?,
    };
    (tag == BOARD_TAG && position.is_finite() && board_cursor(key) == cursor).then_some(key)
}

/// The cursor continuing the ranked results for `search` after the task at `key`.
pub fn rank_cursor(key: RankKeyset, search: &str) -> String {
    format!(
        "{RANK_TAG}.{}.{:08x}.{}",
        fingerprint(search),
        key.rank.to_bits(),
        key.number
    )
}

/// `None` unless [`rank_cursor`] wrote `cursor` for this same `search`.
pub fn decode_rank_cursor(cursor: &str, search: &str) -> Option<RankKeyset> {
    let [tag, _fingerprint, rank, number] = fields(cursor)?;
    let rank = f32::from_bits(u32::from_str_radix(rank, 16).ok()?);
    let key = RankKeyset {
        rank,
        number: number.parse().ok()?,
    };
    (tag == RANK_TAG && rank.is_finite() && rank_cursor(key, search) == cursor).then_some(key)
}

/// The cursor continuing a file list (the latest of each file, or one path's versions)
/// after the row at `key`. The path is base64: it may hold any character but NUL.
pub fn file_cursor(key: &FileKeyset) -> String {
    let path = URL_SAFE_NO_PAD.encode(&key.path);
    format!("{FILE_TAG}.{path}.{}", key.version)
}

/// `None` unless [`file_cursor`] wrote `cursor`.
pub fn decode_file_cursor(cursor: &str) -> Option<FileKeyset> {
    let [tag, path, version] = fields(cursor)?;
    let path = String::from_utf8(URL_SAFE_NO_PAD.decode(path).ok()?).ok()?;
    let key = FileKeyset {
        // No file has an empty path, and PostgreSQL text cannot hold NUL (such a path
        // would fail the query rather than match nothing).
        path: Some(path).filter(|path| !path.is_empty() && !path.contains('\0'))?,
        version: version.parse().ok()?,
    };
    (tag == FILE_TAG && key.version >= 1 && file_cursor(&key) == cursor).then_some(key)
}

fn fields<const N: usize>(cursor: &str) -> Option<[&str; N]> {
    cursor.split('.').collect::<Vec<_>>().try_into().ok()
}

/// 64 bits of the search text's SHA-256: enough to tell one user's searches apart, the same
/// on every replica and release (unlike `std`'s hasher).
fn fingerprint(search: &str) -> String {
    let digest = Sha256::digest(search.as_bytes());
    format!(
        "{:016x}",
        u64::from_be_bytes(digest[..8].try_into().expect("8 of 32 bytes"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn board_cursors_round_trip_exactly() {
        for position in [0.0, -1024.0, 1536.000000001, f64::MAX, 5e-324] {
            let key = BoardKeyset {
                position,
                number: 7,
            };
            assert_eq!(decode_board_cursor(&board_cursor(key)), Some(key));
        }
    }

    #[test]
    fn rank_cursors_only_decode_for_their_own_search() {
        let key = RankKeyset {
            rank: 0.6079271,
            number: 3,
        };
        let cursor = rank_cursor(key, "login crash");
        assert_eq!(decode_rank_cursor(&cursor, "login crash"), Some(key));
        assert_eq!(decode_rank_cursor(&cursor, "login"), None);
        assert_eq!(decode_board_cursor(&cursor), None);
    }

    #[test]
    fn file_cursors_round_trip_any_path_and_refuse_other_spellings() {
        for path in ["a.txt", "docs/v1.2/read me.md", "ü/日本.txt", "a+b/c=d"] {
            let key = FileKeyset {
                path: path.to_owned(),
                version: 12,
            };
            let cursor = file_cursor(&key);
            assert_eq!(decode_file_cursor(&cursor), Some(key), "{cursor}");
            assert_eq!(decode_board_cursor(&cursor), None);
        }
        let nul = URL_SAFE_NO_PAD.encode("a\0b");
        for bad in [
            "f1.YS50eHQ.01".to_owned(),
            "f1.YS50eHQ.0".to_owned(),
            "f1.YS50eHQ=.1".to_owned(),
            "f1..1".to_owned(),
            "f2.YS50eHQ.1".to_owned(),
            format!("f1.{nul}.1"),
            board_cursor(BoardKeyset {
                position: 1024.0,
                number: 1,
            }),
        ] {
            assert_eq!(decode_file_cursor(&bad), None, "{bad}");
        }
    }

    #[test]
    fn made_up_and_foreign_cursors_are_refused() {
        let board = board_cursor(BoardKeyset {
            position: 1024.0,
            number: 1,
        });
        let legacy = platform::pagination::encode_cursor(chrono::Utc::now(), uuid::Uuid::nil());
        for bad in [
            "",
            "nope",
            "b1",
            "b1.zz.1",
            "b1.4090000000000000.x",
            "b1.+090000000000000.1",
            "b1.4090000000000000.01",
            "B1.4090000000000000.1",
            "b1.7ff0000000000000.1",
            "b1.7ff8000000000000.1",
            legacy.as_str(),
        ] {
            assert_eq!(decode_board_cursor(bad), None, "{bad}");
            assert_eq!(decode_rank_cursor(bad, "x"), None, "{bad}");
        }
        assert_eq!(platform::pagination::decode_cursor(&board), None);
        assert_eq!(decode_rank_cursor(&board, ""), None);
    }
}
