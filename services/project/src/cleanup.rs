//! Keeping the file store (`PROJECTS_DIR` or the bucket) and `projects.project_files` in step
//! after crashes: a crash between writing bytes and committing their row, or between a
//! delete's commit and removing the bytes, leaves objects no row points at (orphans); a disk
//! fault can leave rows whose bytes are gone or changed. [`verify`] reports both (and can
//! remove orphans); [`sweep`] removes orphans in the background of every replica. Both read
//! the store's listing ([`FileStore::list`]).
//!
//! Only orphans are ever removed: never a row, never bytes a row references.

pub mod sweep;
pub mod verify;

use std::time::{Duration, SystemTime};

use db::PgPool;

use crate::storage::{FileStore, FoundFile, StoredName};

/// How old an unreferenced file the service itself names (stored bytes, an upload's
/// temporary) must be before it counts as an orphan rather than an upload in flight.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(60 * 60);

/// What an object in the store is to the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A row uses these bytes.
    Referenced,
    /// Unreferenced but younger than the grace period: maybe an upload still in flight.
    Young,
    /// Nothing uses it and nothing will: safe to remove.
    Orphan,
}

/// Judges `file` against the rows as they are now. An `Orphan` verdict holds for as long as
/// removing the file takes, which is what makes removing it right after safe, even with
/// other replicas uploading, deleting and sweeping at the same time:
///
/// - Stored bytes get a row only from the upload that wrote them, right after writing them
///   (one request, bounded by the request timeout), or from a restore, which only shares
///   bytes some row references at that moment, under the project's lock. So bytes that no
///   row references and that were last written more than `grace` ago (far longer than any
///   request) can never gain a row: the upload that could have committed one after our
///   check has long failed, and its own clean-up removes them too (a second removal is
///   harmless). On S3 an object's `LastModified` is when its upload started, earlier than
///   when it became visible, but by no more than that one request's duration. The same holds
///   for an upload's local staging file, which no row ever names and which a live upload
///   keeps writing (so its modification time stays fresh).
/// - Files of names this service never makes (strays) are orphans at any age.
pub async fn judge(
    pool: &PgPool,
    file: &FoundFile,
    grace: Duration,
    now: SystemTime,
) -> Result<Verdict, sqlx::Error> {
    // A modification time in the future (a clock step) counts as brand new.
    let young = now
        .duration_since(file.modified)
        .map_or(true, |age| age < grace);
    match &file.name {
        StoredName::Stray => Ok(Verdict::Orphan),
        StoredName::Partial { .. } if young => Ok(Verdict::Young),
        StoredName::Partial { .. } => Ok(Verdict::Orphan),
        StoredName::Blob { key } => {
            if db::projects::files::is_referenced(pool, key).await? {
                Ok(Verdict::Referenced)
            } else if young {
                Ok(Verdict::Young)
            } else {
                Ok(Verdict::Orphan)
            }
        }
    }
}

/// Removes an orphan; one already gone (another replica's sweep, the upload's own clean-up)
/// is fine.
pub async fn remove(store: &FileStore, file: &FoundFile) -> std::io::Result<()> {
    store.remove_listed(file).await
}
