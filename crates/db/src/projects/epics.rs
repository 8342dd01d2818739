//! `projects.epics`: groups of tasks within a project, manually ordered.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::{Patch, patch_parts};
use crate::ids::{EpicId, ProjectId};

#[derive(Debug, Clone)]
pub struct Epic {
    pub id: EpicId,
    pub project_id: ProjectId,
    pub title: String,
    pub description: String,
    pub status: String,
    pub position: f64,
    pub start_date: Option<NaiveDate>,
    pub target_date: Option<NaiveDate>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewEpic<'a> {
    pub id: EpicId,
    pub project_id: ProjectId,
    pub title: &'a str,
    pub description: &'a str,
    pub status: &'a str,
    pub position: f64,
    pub start_date: Option<NaiveDate>,
    pub target_date: Option<NaiveDate>,
}

pub async fn insert(executor: impl PgExecutor<'_>, epic: &NewEpic<'_>) -> sqlx::Result<Epic> {
    sqlx::query_as!(
        Epic,
        r#"INSERT INTO projects.epics
               (id, project_id, title, description, status, position, start_date, target_date)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           RETURNING id AS "id: EpicId", project_id AS "project_id: ProjectId", title,
                     description, status, position, start_date, target_date, version,
                     created_at, updated_at"#,
        epic.id as EpicId,
        epic.project_id as ProjectId,
        epic.title,
        epic.description,
        epic.status,
        epic.position,
        epic.start_date,
        epic.target_date,
    )
    .fetch_one(executor)
    .await
}

/// A live epic of this project (an id from another project is not found).
pub async fn find_live(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    id: EpicId,
) -> sqlx::Result<Option<Epic>> {
    Ok(select_live(executor, project_id, Some(id)).await?.pop())
}

/// Every live epic of the project in board order. Unpaginated: a project has few epics.
pub async fn list(executor: impl PgExecutor<'_>, project_id: ProjectId) -> sqlx::Result<Vec<Epic>> {
    select_live(executor, project_id, None).await
}

/// The project's live epics in board order: all of them, or the one with `id`.
async fn select_live(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    id: Option<EpicId>,
) -> sqlx::Result<Vec<Epic>> {
    sqlx::query_as!(
        Epic,
        r#"SELECT id AS "id: EpicId", project_id AS "project_id: ProjectId", title,
                  description, status, position, start_date, target_date, version,
                  created_at, updated_at
           FROM projects.epics
           WHERE project_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR id = $2)
           ORDER BY position, created_at, id"#,
        project_id as ProjectId,
        id as Option<EpicId>,
    )
    .fetch_all(executor)
    .await
}

/// Fields a PATCH may change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct EpicChanges<'a> {
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
    pub status: Option<&'a str>,
    pub position: Option<f64>,
    pub start_date: Patch<NaiveDate>,
    pub target_date: Patch<NaiveDate>,
}

/// Applies `changes` if the epic is live and at `expected_version`; `None` otherwise.
pub async fn update(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    id: EpicId,
    expected_version: i32,
    changes: &EpicChanges<'_>,
) -> sqlx::Result<Option<Epic>> {
    let (set_start, start_date) = patch_parts(&changes.start_date);
    let (set_target, target_date) = patch_parts(&changes.target_date);
    sqlx::query_as!(
        Epic,
        r#"UPDATE projects.epics
           SET title = coalesce($4, title),
               description = coalesce($5, description),
               status = coalesce($6, status),
               position = coalesce($7, position),
               start_date = CASE WHEN $8 THEN $9 ELSE start_date END,
               target_date = CASE WHEN $10 THEN $11 ELSE target_date END,
               version = version + 1
           WHERE project_id = $1 AND id = $2 AND version = $3 AND deleted_at IS NULL
           RETURNING id AS "id: EpicId", project_id AS "project_id: ProjectId", title,
                     description, status, position, start_date, target_date, version,
                     created_at, updated_at"#,
        project_id as ProjectId,
        id as EpicId,
        expected_version,
        changes.title,
        changes.description,
        changes.status,
        changes.position,
        set_start,
        start_date,
        set_target,
        target_date,
    )
    .fetch_optional(executor)
    .await
}

/// Soft-deletes the epic and detaches its tasks (they stay in the project, epic-less).
/// Returns how many tasks were detached, or `None` when the epic was not live.
pub async fn soft_delete(
    connection: &mut PgConnection,
    project_id: ProjectId,
    id: EpicId,
) -> sqlx::Result<Option<u64>> {
    let deleted = sqlx::query!(
        r#"UPDATE projects.epics SET deleted_at = now(), version = version + 1
           WHERE project_id = $1 AND id = $2 AND deleted_at IS NULL"#,
        project_id as ProjectId,
        id as EpicId,
    )
    .execute(&mut *connection)
    .await?;
    if deleted.rows_affected() == 0 {
        return Ok(None);
    }
    let detached = sqlx::query!(
        r#"UPDATE projects.tasks SET epic_id = NULL, version = version + 1
           WHERE project_id = $1 AND epic_id = $2"#,
        project_id as ProjectId,
        id as EpicId,
    )
    .execute(connection)
    .await?;
    Ok(Some(detached.rows_affected()))
}
