//! `projects.project_activity`: the append-only feed of who changed what in a project.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::Keyset;
use crate::ids::{ProjectId, UserId};

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
pub async fn record(
    executor: impl PgExecutor<'_>,
    activity: NewActivity<'_>,
) -> Result<(), sqlx::Error> {
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
) -> Result<Vec<Activity>, sqlx::Error> {
    sqlx::query_as!(
        Activity,
        r#"SELECT id, project_id AS "project_id: ProjectId", actor_id AS "actor_id: UserId",
                  action, entity_type, entity_id, details, created_at
           FROM projects.project_activity
           WHERE project_id = $1
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
