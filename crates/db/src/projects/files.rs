//! `projects.project_files`: versioned metadata of the bytes kept under `PROJECTS_DIR`.
//!
//! Deleting a file removes its rows outright (every version) rather than setting
//! `deleted_at`: the caller removes the bytes too, and a row pointing at nothing is useless.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::ids::{FileId, ProjectId, UserId};

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
) -> Result<FileVersion, sqlx::Error> {
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

/// The latest version of `path`, or version `version` when given.
pub async fn find(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    path: &str,
    version: Option<i32>,
) -> Result<Option<FileVersion>, sqlx::Error> {
    let latest_only = version.is_none();
    let mut found = select(executor, project_id, Some(path), latest_only, version).await?;
    Ok(found.pop())
}

/// The latest version of every file in the project, by path. Unpaginated: bounded by what
/// one project stores.
pub async fn list_latest(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
) -> Result<Vec<FileVersion>, sqlx::Error> {
    select(executor, project_id, None, true, None).await
}

/// Every version of `path`, newest first.
pub async fn versions(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    path: &str,
) -> Result<Vec<FileVersion>, sqlx::Error> {
    select(executor, project_id, Some(path), false, None).await
}

/// The project's file versions by path, newest version first: of one `path` or all,
/// only the latest of each or every one, or one numbered `version`.
async fn select(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    path: Option<&str>,
    latest_only: bool,
    version: Option<i32>,
) -> Result<Vec<FileVersion>, sqlx::Error> {
    sqlx::query_as!(
        FileVersion,
        r#"SELECT id AS "id: FileId", project_id AS "project_id: ProjectId", path, version,
                  size_bytes, sha256, mime_type, storage_key,
                  uploaded_by AS "uploaded_by: UserId", is_latest, created_at
           FROM projects.project_files
           WHERE project_id = $1 AND deleted_at IS NULL
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

/// Removes every version of `path`; returns their storage keys so the caller can remove
/// the bytes after commit.
pub async fn delete_path(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    path: &str,
) -> Result<Vec<String>, sqlx::Error> {
    delete(executor, project_id, Some(path)).await
}

/// Removes every file row of the project (for project deletion); returns the storage keys.
pub async fn delete_all(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
) -> Result<Vec<String>, sqlx::Error> {
    delete(executor, project_id, None).await
}

/// Removes the rows of one `path`, or of every path; returns their storage keys.
async fn delete(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    path: Option<&str>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"DELETE FROM projects.project_files
           WHERE project_id = $1 AND ($2::text IS NULL OR path = $2)
           RETURNING storage_key"#,
        project_id as ProjectId,
        path,
    )
    .fetch_all(executor)
    .await
}
