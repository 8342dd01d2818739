//! `projects.project_members`: who besides the owner works in a project, with which role.
//!
//! The owner is implicit (`projects.owner_id`) and never has a row. Every change here is
//! made while holding the project's row lock (`project::lock_live`), which is what keeps
//! "one row per member, none for the owner" true across concurrent requests.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::ids::{ProjectId, UserId};

/// A member as others see them: the account's public name, never its email.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: UserId,
    pub username: String,
    pub full_name: String,
    pub role: String,
    pub added_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The member's role in the project (`viewer`, `editor` or `maintainer`), `None` for the
/// owner and for everyone else.
pub async fn role_of(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    user_id: UserId,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        r#"SELECT role FROM projects.project_members WHERE project_id = $1 AND user_id = $2"#,
        project_id as ProjectId,
        user_id as UserId,
    )
    .fetch_optional(executor)
    .await
}

/// The caller's role in each of `project_ids` they are a member of (owned ones are absent).
pub async fn roles_in(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    project_ids: &[ProjectId],
) -> sqlx::Result<HashMap<ProjectId, String>> {
    let ids: Vec<uuid::Uuid> = project_ids.iter().map(|id| id.0).collect();
    let rows = sqlx::query!(
        r#"SELECT project_id AS "project_id: ProjectId", role FROM projects.project_members
           WHERE user_id = $1 AND project_id = ANY($2)"#,
        user_id as UserId,
        &ids,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.project_id, row.role))
        .collect())
}

/// The project's members, longest-standing first.
pub async fn list(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
) -> sqlx::Result<Vec<Member>> {
    sqlx::query_as!(
        Member,
        r#"SELECT m.user_id AS "user_id: UserId", u.username, u.full_name, m.role,
                  m.added_by AS "added_by: UserId", m.created_at, m.updated_at
           FROM projects.project_members m JOIN auth.users u ON u.id = m.user_id
           WHERE m.project_id = $1
           ORDER BY m.created_at, m.user_id"#,
        project_id as ProjectId,
    )
    .fetch_all(executor)
    .await
}

/// Makes `user_id` a member with `role`, or changes the role of one who already is;
/// `added_by` is kept when the role does not change. Returns when the membership began and
/// who last set it.
pub async fn put(
    connection: &mut PgConnection,
    project_id: ProjectId,
    user_id: UserId,
    role: &str,
    added_by: UserId,
) -> sqlx::Result<(DateTime<Utc>, Option<UserId>)> {
    let row = sqlx::query!(
        r#"INSERT INTO projects.project_members AS m (project_id, user_id, role, added_by)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (project_id, user_id) DO UPDATE
           SET role = EXCLUDED.role,
               added_by = CASE WHEN m.role = EXCLUDED.role THEN m.added_by
                               ELSE EXCLUDED.added_by END
           RETURNING created_at, added_by AS "added_by: UserId""#,
        project_id as ProjectId,
        user_id as UserId,
        role,
        added_by as UserId,
    )
    .fetch_one(connection)
    .await?;
    Ok((row.created_at, row.added_by))
}

/// Ends a membership and, in the same transaction, unassigns the member's tasks in the
/// project (a task must not stay assigned to someone who can no longer see it). Returns
/// whether there was a membership and how many tasks were unassigned.
pub async fn remove(
    connection: &mut PgConnection,
    project_id: ProjectId,
    user_id: UserId,
) -> sqlx::Result<(bool, u64)> {
    let removed = sqlx::query!(
        r#"DELETE FROM projects.project_members WHERE project_id = $1 AND user_id = $2"#,
        project_id as ProjectId,
        user_id as UserId,
    )
    .execute(&mut *connection)
    .await?
    .rows_affected()
        == 1;
    if !removed {
        return Ok((false, 0));
    }
    let unassigned = sqlx::query!(
        r#"UPDATE projects.tasks SET assignee_id = NULL, version = version + 1
           WHERE project_id = $1 AND assignee_id = $2"#,
        project_id as ProjectId,
        user_id as UserId,
    )
    .execute(connection)
    .await?
    .rows_affected();
    Ok((true, unassigned))
}
