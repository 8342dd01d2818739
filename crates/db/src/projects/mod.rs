//! SQL for the `projects` schema: projects, their members, epics, tasks, versioned file
//! metadata and the activity feed.
//!
//! Writes that span tables take `&mut PgConnection` (a transaction in practice) so the caller
//! decides the transaction boundary; single reads take `impl PgExecutor`.

pub mod activity;
pub mod epics;
pub mod files;
pub mod members;
pub mod project;
pub mod task_order;
pub mod tasks;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use activity::{Activity, NewActivity};
pub use epics::{Epic, EpicChanges, NewEpic};
pub use files::{FileKeyset, FileVersion, NewFileVersion};
pub use members::Member;
pub use project::{NewProject, Project, ProjectChanges};
pub use task_order::{Placed, Side};
pub use tasks::{BoardKeyset, ListOrder, NewTask, Task, TaskChanges, TaskFilter};
pub use tasks::{RankKeyset, RankedTask, Reader};

/// A keyset pagination position: the `(created_at, id)` of the last row already returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyset {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// A nullable column in a partial update: `None` keeps it, `Some(None)` clears it.
pub type Patch<T> = Option<Option<T>>;

/// Splits a [`Patch`] into the `(set?, value)` pair the SQL `CASE WHEN $n THEN ...` expects.
pub(crate) fn patch_parts<T: Clone>(patch: &Patch<T>) -> (bool, Option<T>) {
    match patch {
        Some(value) => (true, value.clone()),
        None => (false, None),
    }
}
