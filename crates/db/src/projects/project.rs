//! `projects.projects`: a user's projects, their per-owner slugs and the task counter.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::Keyset;
use crate::ids::{ProjectId, UserId};

/// `sqlx::query_as!` for [`Project`]s read from `projects.projects`: the columns and their
/// typed ids, written once for every such SELECT. The query goes on with `$rest` (its
/// `WHERE`, which keeps deleted projects out, and what follows it).
macro_rules! query_projects {
    ($rest:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            Project,
            r#"SELECT id AS "id: ProjectId", owner_id AS "owner_id: UserId", name, slug,
                  description, status, task_counter, version, created_at, updated_at
           FROM projects.projects
           "# + $rest
            $(, $arg)*
        )
    };
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: ProjectId,
    pub owner_id: UserId,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub status: String,
    pub task_counter: i32,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewProject<'a> {
    pub id: ProjectId,
    pub owner_id: UserId,
    pub name: &'a str,
    pub slug: &'a str,
    pub description: &'a str,
}

/// Inserts a project; a taken slug fails on `projects_owner_id_slug_key`.
pub async fn insert(
    executor: impl PgExecutor<'_>,
    project: &NewProject<'_>,
) -> sqlx::Result<Project> {
    sqlx::query_as!(
        Project,
        r#"INSERT INTO projects.projects (id, owner_id, name, slug, description)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id AS "id: ProjectId", owner_id AS "owner_id: UserId", name, slug,
                     description, status, task_counter, version, created_at, updated_at"#,
        project.id as ProjectId,
        project.owner_id as UserId,
        project.name,
        project.slug,
        project.description,
    )
    .fetch_one(executor)
    .await
}

/// The owner's live slugs equal to `base` or of the form `base-<suffix>`, to pick a free one.
pub async fn slugs_like(
    executor: impl PgExecutor<'_>,
    owner_id: UserId,
    base: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"SELECT slug FROM projects.projects
           WHERE owner_id = $1 AND deleted_at IS NULL
             AND (slug = $2 OR starts_with(slug, $2 || '-'))"#,
        owner_id as UserId,
        base,
    )
    .fetch_all(executor)
    .await
}

/// A project that is not deleted.
pub async fn find_live(
    executor: impl PgExecutor<'_>,
    id: ProjectId,
) -> sqlx::Result<Option<Project>> {
    // Its own statement, not `select_live` with an id: that one's optional filters give a
    // generic plan that scans live projects instead of looking up one key, on the hottest read.
    query_projects!(r#"WHERE id = $1 AND deleted_at IS NULL"#, id as ProjectId,)
        .fetch_optional(executor)
        .await
}

/// Like [`find_live`], and locks the row until the transaction ends. Every write in a
/// project takes this lock first, so writes cannot race the project's deletion, file
/// versions of one path are numbered one after another, and all writers lock in one order.
pub async fn lock_live(
    connection: &mut PgConnection,
    id: ProjectId,
) -> sqlx::Result<Option<Project>> {
    query_projects!(
        r#"WHERE id = $1 AND deleted_at IS NULL
           FOR UPDATE"#,
        id as ProjectId,
    )
    .fetch_optional(connection)
    .await
}

/// One page of the live projects `user_id` owns or is a member of, newest first,
/// optionally of one status.
pub async fn list_visible(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    status: Option<&str>,
    before: Option<Keyset>,
    limit: i64,
) -> sqlx::Result<Vec<Project>> {
    // The two id sources are unioned first, so each is read through its own index
    // (`projects_owner_id_created_at_id_idx`, `project_members_user_id_project_id_idx`)
    // instead of an OR that scans every live project.
    query_projects!(
        r#"WHERE id IN (SELECT id FROM projects.projects WHERE owner_id = $1
                        UNION ALL
                        SELECT project_id FROM projects.project_members WHERE user_id = $1)
             AND deleted_at IS NULL
             AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
           ORDER BY created_at DESC, id DESC
           LIMIT $5"#,
        user_id as UserId,
        status,
        before.map(|k| k.created_at),
        before.map(|k| k.id),
        limit,
    )
    .fetch_all(executor)
    .await
}

/// Hands the project to `new_owner`, bumping its version; a slug the new owner already
/// uses fails on `projects_owner_id_slug_key`. Call it holding the project lock
/// ([`lock_live`]): the project is live and no other write comes in between.
pub async fn set_owner(
    connection: &mut PgConnection,
    id: ProjectId,
    new_owner: UserId,
) -> sqlx::Result<Project> {
    let nothing_else = ProjectChanges::default();
    update_live(connection, id, None, Some(new_owner), &nothing_else)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// Fields a PATCH may change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct ProjectChanges<'a> {
    pub name: Option<&'a str>,
    pub slug: Option<&'a str>,
    pub description: Option<&'a str>,
    pub status: Option<&'a str>,
}

/// Applies `changes` if the row is still at `expected_version`, bumping it; `None` when the
/// project is gone or was changed in between.
pub async fn update(
    executor: impl PgExecutor<'_>,
    id: ProjectId,
    expected_version: i32,
    changes: &ProjectChanges<'_>,
) -> sqlx::Result<Option<Project>> {
    update_live(executor, id, Some(expected_version), None, changes).await
}

/// The one UPDATE of a live project's fields: at `expected_version` unless that is `None`,
/// and handed to `new_owner` when given. `None` when no such row is live.
async fn update_live(
    executor: impl PgExecutor<'_>,
    id: ProjectId,
    expected_version: Option<i32>,
    new_owner: Option<UserId>,
    changes: &ProjectChanges<'_>,
) -> sqlx::Result<Option<Project>> {
    sqlx::query_as!(
        Project,
        r#"UPDATE projects.projects
           SET name = coalesce($3, name),
               slug = coalesce($4, slug),
               description = coalesce($5, description),
               status = coalesce($6, status),
               owner_id = coalesce($7, owner_id),
               version = version + 1
           WHERE id = $1 AND ($2::int IS NULL OR version = $2) AND deleted_at IS NULL
           RETURNING id AS "id: ProjectId", owner_id AS "owner_id: UserId", name, slug,
                     description, status, task_counter, version, created_at, updated_at"#,
        id as ProjectId,
        expected_version,
        changes.name,
        changes.slug,
        changes.description,
        changes.status,
        new_owner as Option<UserId>,
    )
    .fetch_optional(executor)
    .await
}

/// Hands out the project's next task number. The row lock it takes is held to commit, so
/// numbers are unique and gap-free among committed tasks.
pub async fn next_task_number(connection: &mut PgConnection, id: ProjectId) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        r#"UPDATE projects.projects SET task_counter = task_counter + 1
           WHERE id = $1 RETURNING task_counter"#,
        id as ProjectId,
    )
    .fetch_one(connection)
    .await
}

/// Marks the project deleted, which also frees its slug. Epics, tasks and activity stay
/// (hidden with the project); file rows are removed separately with their bytes.
pub async fn soft_delete(executor: impl PgExecutor<'_>, id: ProjectId) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        r#"UPDATE projects.projects SET deleted_at = now(), version = version + 1
           WHERE id = $1 AND deleted_at IS NULL"#,
        id as ProjectId,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}
