//! The project lists' side of `platform::pagination` (`?limit=&cursor=` in, `{ "items",
//! "next_cursor" }` out): which `(created_at, id)` each listed row sits at, and the page
//! position as `db` takes it.

use db::projects::{Activity, Keyset, Project, Task};
pub use platform::pagination::Page;

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
