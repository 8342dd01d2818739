//! `projects.project_files`: versioned metadata of the bytes kept under `PROJECTS_DIR`.
//!
//! Deleting a file removes its rows outright (every version) rather than setting
//! `deleted_at`: the caller removes the bytes too, and a row pointing at nothing is useless.
//!
//! A restored version shares the `storage_key` of the version it restores (stored bytes are
//! never changed in place), so bytes may be referenced by several rows: deletes hand back
//! only the keys no remaining row references.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::ids::{FileId, ProjectId, UserId};

/// `sqlx::query_as!` for [`FileVersion`]s read from `projects.project_files`: the columns
/// and their typed ids, written once for every such SELECT. The query goes on with `$rest`
/// (its `WHERE` and `ORDER BY`).
macro_rules! query_file_versions {
    ($rest:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            FileVersion,
            r#"SELECT id AS "id: FileId", project_id AS "project_id: ProjectId", path, version,
                  size_bytes, sha256, mime_type, storage_key,
                  uploaded_by AS "uploaded_by: UserId", is_latest, created_at
           FROM projects.project_files
           "# + $rest
            $(, $arg)*
        )
    };
}

#[derive(Debug, Clone)]
pub struct FileVersion {
    pub id: FileId,
    pub project_id: ProjectId,
    pub path: String,
    pub version: i32,
    pub size_bytes: i64,
    pub sha256: String,
    pub mime_type: String,
    pub storage_key: String,
    pub uploaded_by: Option<UserId>,
    pub is_latest: bool,
    pub created_at: DateTime<Utc>,
}

pub struct NewFileVersion<'a> {
    pub id: FileId,
    pub project_id: ProjectId,
    pub path: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub mime_type: &'a str,
    pub storage_key: &'a str,
    pub uploaded_by: UserId,
}

/// Adds the next version of `path` and makes it the latest. Run it in a transaction that
/// holds the project's row lock, so two uploads of one path cannot pick the same number
/// (if one did, `project_files_project_id_path_version_key` would refuse it).
pub async fn insert_version(
    connection: &mut PgConnection,
    file: &NewFileVersion<'_>,
) -> sqlx::Result<FileVersion> {
    sqlx::query!(
        r#"UPDATE projects.project_files SET is_latest = false
           WHERE project_id = $1 AND path = $2 AND is_latest"#,
        file.project_id as ProjectId,
        file.path,
    )
    .execute(&mut *connection)
    .await?;
    sqlx::query_as!(
        FileVersion,
        r#"INSERT INTO projects.project_files
               (id, project_id, path, version, size_bytes, sha256, mime_type, storage_key,
                uploaded_by, is_latest)
           VALUES ($1, $2, $3,
                   (SELECT coalesce(max(version), 0) + 1 FROM projects.project_files
                    WHERE project_id = $2 AND path = $3),
                   $4, $5, $6, $7, $8, true)
           RETURNING id AS "id: FileId", project_id AS "project_id: ProjectId", path, version,
                     size_bytes, sha256, mime_type, storage_key,
                     uploaded_by AS "uploaded_by: UserId", is_latest, created_at"#,
        file.id as FileId,
        file.project_id as ProjectId,
        file.path,
        file.size_bytes,
        file.sha256,
        file.mime_type,
        file.storage_key,
        file.uploaded_by as UserId,
    )
    .fetch_one(connection)
    .await
}

/// The bytes the project's files keep stored: every version's, bytes several rows share (a
/// restore's) counted once. Read it in the transaction holding the project's row lock before
/// inserting a version, so two uploads cannot both take the last of the room.
pub async fn stored_bytes(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT coalesce(sum(size_bytes), 0)::bigint AS "stored_bytes!"
           FROM (SELECT DISTINCT ON (storage_key) size_bytes
                 FROM projects.project_files
                 WHERE project_id = $1
                 ORDER BY storage_key) AS stored"#,
        project_id as ProjectId,
    )
    .fetch_one(executor)
    .await
}

/// The latest version of `path`, or version `version` when given.
pub async fn find(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    path: &str,
    version: Option<i32>,
) -> sqlx::Result<Option<FileVersion>> {
    let latest_only = version.is_none();
    let mut found = select(executor, project_id, Some(path), latest_only, version).await?;
    Ok(found.pop())
}

/// The latest version of every file in the project, by path, all at once ([`page`] pages
/// through the same rows).
pub async fn list_latest(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
) -> sqlx::Result<Vec<FileVersion>> {
    select(executor, project_id, None, true, None).await
}

/// Every version of `path`, newest first.
pub async fn versions(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    path: &str,
) -> sqlx::Result<Vec<FileVersion>> {
    select(executor, project_id, Some(path), false, None).await
}

/// Where a page of a file list ended: its last row's path and version (file lists run by
/// path, then newest version first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKeyset {
    pub path: String,
    pub version: i32,
}

/// Up to `limit` rows of what [`list_latest`] lists (or, given `path`, [`versions`]), in the
/// same order, after `after`.
pub async fn page(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    path: Option<&str>,
    after: Option<&FileKeyset>,
    limit: i64,
) -> sqlx::Result<Vec<FileVersion>> {
    let latest_only = path.is_none();
    query_file_versions!(
        r#"WHERE project_id = $1 AND deleted_at IS NULL
             AND ($2::text IS NULL OR path = $2)
             AND (is_latest OR NOT $3)
             AND ($4::text IS NULL OR path > $4 OR (path = $4 AND version < $5))
           ORDER BY path, version DESC
           LIMIT $6"#,
        project_id as ProjectId,
        path,
        latest_only,
        after.map(|key| key.path.as_str()),
        after.map(|key| key.version),
        limit,
    )
    .fetch_all(executor)
    .await
}

/// The project's file versions by path, newest version first: of one `path` or all,
/// only the latest of each or every one, or one numbered `version`.
async fn select(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    path: Option<&str>,
    latest_only: bool,
    version: Option<i32>,
) -> sqlx::Result<Vec<FileVersion>> {
    query_file_versions!(
        r#"WHERE project_id = $1 AND deleted_at IS NULL
             AND ($2::text IS NULL OR path = $2)
             AND (is_latest OR NOT $3)
             AND ($4::int IS NULL OR version = $4)
           ORDER BY path, version DESC"#,
        project_id as ProjectId,
        path,
        latest_only,
        version,
    )
    .fetch_all(executor)
    .await
}

/// What deleting a path removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedPath {
    /// How many versions (rows) went.
    pub versions: usize,
    /// Storage keys no remaining row references: the bytes the caller removes after commit.
    /// Each key once, however many of the removed versions shared it.
    pub unreferenced_keys: Vec<String>,
}

/// Removes every version of `path`. Run it in the transaction holding the project's row
/// lock, so no restore can start sharing one of the keys before the commit.
pub async fn delete_path(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    path: &str,
) -> sqlx::Result<DeletedPath> {
    // The outer SELECT sees the table as it was before the DELETE (one snapshot for the
    // whole statement), hence `kept.id NOT IN gone` rather than a plain NOT EXISTS.
    let removed = sqlx::query!(
        r#"WITH gone AS (
               DELETE FROM projects.project_files
               WHERE project_id = $1 AND path = $2
               RETURNING id, storage_key
           )
           SELECT gone.storage_key,
                  NOT EXISTS (
                      SELECT 1 FROM projects.project_files kept
                      WHERE kept.storage_key = gone.storage_key
                        AND kept.id NOT IN (SELECT id FROM gone)
                  ) AS "unreferenced!"
           FROM gone
           ORDER BY gone.storage_key"#,
        project_id as ProjectId,
        path,
    )
    .fetch_all(executor)
    .await?;
    let versions = removed.len();
    let mut unreferenced_keys: Vec<String> = removed
        .into_iter()
        .filter(|row| row.unreferenced)
        .map(|row| row.storage_key)
        .collect();
    unreferenced_keys.dedup();
    Ok(DeletedPath {
        versions,
        unreferenced_keys,
    })
}

/// Removes every file row of the project (for project deletion, which removes the
/// project's whole storage directory); returns a storage key per removed row.
pub async fn delete_all(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"DELETE FROM projects.project_files WHERE project_id = $1 RETURNING storage_key"#,
        project_id as ProjectId,
    )
    .fetch_all(executor)
    .await
}

/// Every row (of every project), `limit` at a time, ordered by `(storage_key, id)`: pass the
/// last row of a page to get the next. Rows sharing bytes come together, so a checker reads
/// those bytes once.
pub async fn page_by_storage_key(
    executor: impl PgExecutor<'_>,
    after: Option<(&str, FileId)>,
    limit: i64,
) -> sqlx::Result<Vec<FileVersion>> {
    let (after_key, after_id) = after.unzip();
    query_file_versions!(
        r#"WHERE $1::text IS NULL OR (storage_key, id) > ($1, $2)
           ORDER BY storage_key, id
           LIMIT $3"#,
        after_key,
        after_id as Option<FileId>,
        limit,
    )
    .fetch_all(executor)
    .await
}

/// Whether any row (of any project, any version) still uses the bytes under `storage_key`.
pub async fn is_referenced(executor: impl PgExecutor<'_>, storage_key: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM projects.project_files WHERE storage_key = $1)
               AS "referenced!""#,
        storage_key,
    )
    .fetch_one(executor)
    .await
}
