//! `project verify-files [--fix]`: every row checked against its bytes (`missing`, `corrupt`)
//! and every object in the store (under `PROJECTS_DIR`, or the bucket's prefix) against the
//! rows (`orphan`), one line per problem on stdout. `--fix` removes orphans and nothing else.

use std::time::{Duration, SystemTime};

use db::{PgPool, ids::FileId, projects::FileVersion};
use futures::TryStreamExt;

use super::{Verdict, judge};
use crate::storage::{FileStore, StoredBlob};

/// Rows read per query.
const PAGE_ROWS: i64 = 500;

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Remove the orphans found.
    pub fix: bool,
    /// How old stored bytes and temporaries without a row must be to count as orphans.
    pub grace: Duration,
}

/// What a whole run looked at and found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub rows: u64,
    pub files: u64,
    pub problems: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Checks rows, then files, printing each problem as it is found.
pub async fn run(
    pool: &PgPool,
    store: &FileStore,
    options: Options,
) -> Result<Summary, VerifyError> {
    let mut summary = Summary::default();
    check_rows(pool, store, &mut summary).await?;
    check_files(pool, store, options, &mut summary).await?;
    Ok(summary)
}

async fn check_rows(
    pool: &PgPool,
    store: &FileStore,
    summary: &mut Summary,
) -> Result<(), VerifyError> {
    let mut after: Option<(String, FileId)> = None;
    // Rows come ordered by key, so bytes shared by several rows are read once.
    let mut last_read: Option<(String, Option<StoredBlob>)> = None;
    loop {
        let cursor = after.as_ref().map(|(key, id)| (key.as_str(), *id));
        let page = db::projects::files::page_by_storage_key(pool, cursor, PAGE_ROWS).await?;
        for row in &page {
            summary.rows += 1;
            let on_disk = match &last_read {
                Some((key, blob)) if *key == row.storage_key => blob.clone(),
                _ => {
                    let blob = read(store, &row.storage_key).await?;
                    last_read = Some((row.storage_key.clone(), blob.clone()));
                    blob
                }
            };
            let Some(problem) = row_problem(row, on_disk.as_ref()) else {
                continue;
            };
            // Deleted since this page was read (a delete commits, then removes the bytes):
            // not a problem. Bytes are never changed in place, so `corrupt` has no such race.
            if problem == "missing"
                && !db::projects::files::is_referenced(pool, &row.storage_key).await?
            {
                continue;
            }
            summary.problems += 1;
            println!(
                "{problem} {} {} v{} {}",
                row.project_id, row.path, row.version, row.storage_key
            );
        }
        match page.last() {
            Some(row) if page.len() as i64 == PAGE_ROWS => {
                after = Some((row.storage_key.clone(), row.id));
            }
            _ => return Ok(()),
        }
    }
}

/// The bytes under `key`, or `None` when absent (a key that cannot name a file counts as
/// absent: no bytes can be found for it).
async fn read(store: &FileStore, key: &str) -> std::io::Result<Option<StoredBlob>> {
    match store.hash(key).await {
        Err(error) if error.kind() == std::io::ErrorKind::InvalidInput => Ok(None),
        Err(error) => Err(std::io::Error::new(
            error.kind(),
            format!("reading {key}: {error}"),
        )),
        found => found,
    }
}

fn row_problem(row: &FileVersion, on_disk: Option<&StoredBlob>) -> Option<&'static str> {
    match on_disk {
        None => Some("missing"),
        Some(blob)
            if i64::try_from(blob.size_bytes).ok() != Some(row.size_bytes)
                || blob.sha256 != row.sha256 =>
        {
            Some("corrupt")
        }
        Some(_) => None,
    }
}

async fn check_files(
    pool: &PgPool,
    store: &FileStore,
    options: Options,
    summary: &mut Summary,
) -> Result<(), VerifyError> {
    let now = SystemTime::now();
    let mut files = store.list();
    while let Some(file) = files.try_next().await? {
        summary.files += 1;
        // Judged right before removing: see `judge` for why that is safe beside a live service.
        if judge(pool, &file, options.grace, now).await? != Verdict::Orphan {
            continue;
        }
        summary.problems += 1;
        if !options.fix {
            println!("orphan {}", file.relative);
            continue;
        }
        match super::remove(store, &file).await {
            Ok(()) => println!("orphan {} (removed)", file.relative),
            Err(error) => println!("orphan {} (not removed: {error})", file.relative),
        }
    }
    Ok(())
}
