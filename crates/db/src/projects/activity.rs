//! `projects.project_activity`: the append-only feed of who changed what in a project.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::Keyset;
use crate::ids::{ProjectId, UserId};

/// `sqlx::query_as!` for [`Activity`] rows read from `projects.project_activity`: the columns
/// and their typed ids, written once for every read of the feed. The query goes on with
/// `$rest` (its `WHERE`, order and limit).
macro_rules! query_project_activity {
    ($rest:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            Activity,
            r#"SELECT id, project_id AS "project_id: ProjectId", actor_id AS "actor_id: UserId",
                  action, entity_type, entity_id, details, created_at, seq
           FROM projects.project_activity
           "# + $rest
            $(, $arg)*
        )
    };
}

#[derive(Debug, Clone)]
pub struct Activity {
    pub id: Uuid,
    pub project_id: ProjectId,
    pub actor_id: Option<UserId>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub details: Value,
    pub created_at: DateTime<Utc>,
    /// Insert order; within a project also commit order (see migration 0013).
    pub seq: i64,
}

pub struct NewActivity<'a> {
    pub project_id: ProjectId,
    pub actor_id: UserId,
    /// Dotted lower-case verb, e.g. `task.created`.
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Uuid,
    pub details: Value,
}

/// Appends one row; call it in the transaction of the change it describes.
pub async fn record(executor: impl PgExecutor<'_>, activity: NewActivity<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO projects.project_activity
               (id, project_id, actor_id, action, entity_type, entity_id, details)
           VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
        Uuid::now_v7(),
        activity.project_id as ProjectId,
        activity.actor_id as UserId,
        activity.action,
        activity.entity_type,
        activity.entity_id,
        activity.details,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// One page of a project's feed, newest first.
pub async fn list(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    before: Option<Keyset>,
    limit: i64,
) -> sqlx::Result<Vec<Activity>> {
    query_project_activity!(
        r#"WHERE project_id = $1
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
           ORDER BY created_at DESC, id DESC
           LIMIT $4"#,
        project_id as ProjectId,
        before.map(|k| k.created_at),
        before.map(|k| k.id),
        limit,
    )
    .fetch_all(executor)
    .await
}

/// Up to `limit` of a project's rows committed after `after_seq`, oldest first: what a live
/// stream has not sent yet.
pub async fn since(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    after_seq: i64,
    limit: i64,
) -> sqlx::Result<Vec<Activity>> {
    query_project_activity!(
        r#"WHERE project_id = $1 AND seq > $2
           ORDER BY seq
           LIMIT $3"#,
        project_id as ProjectId,
        after_seq,
        limit,
    )
    .fetch_all(executor)
    .await
}

/// Where the project's row `id` sits in its order; `None` if it is not one of its rows.
pub async fn seq_of(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    id: Uuid,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        r#"SELECT seq FROM projects.project_activity WHERE id = $1 AND project_id = $2"#,
        id,
        project_id as ProjectId,
    )
    .fetch_optional(executor)
    .await
}

/// Where the project's newest row sits in its order (0 when it has none).
pub async fn last_seq(executor: impl PgExecutor<'_>, project_id: ProjectId) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT coalesce(max(seq), 0) AS "seq!" FROM projects.project_activity
           WHERE project_id = $1"#,
        project_id as ProjectId,
    )
    .fetch_one(executor)
    .await
}
