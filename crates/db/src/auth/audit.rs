//! `auth.audit_log`: append-only security events.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::ids::UserId;

/// One security event. `ip` is text so callers need no network types; PostgreSQL checks it.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub user_id: Option<UserId>,
    pub action: &'a str,
    pub ip: Option<String>,
    pub user_agent: Option<&'a str>,
    pub success: bool,
    pub details: serde_json::Value,
}

pub async fn record(executor: impl PgExecutor<'_>, event: &AuditEvent<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        // clock_timestamp, not now(): events written in one transaction keep their order.
        r#"INSERT INTO auth.audit_log (user_id, action, ip_address, user_agent, success, details, created_at)
           VALUES ($1, $2, $3::text::inet, $4, $5, $6, clock_timestamp())"#,
        event.user_id as Option<UserId>,
        event.action,
        event.ip,
        event.user_agent,
        event.success,
        event.details,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// A stored event, as admins and tests read it back.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub user_id: Option<UserId>,
    pub action: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub success: bool,
    pub details: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

/// The newest `limit` events about a user, newest first.
pub async fn for_user(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    limit: i64,
) -> sqlx::Result<Vec<AuditEntry>> {
    sqlx::query_as!(
        AuditEntry,
        r#"SELECT user_id AS "user_id: UserId", action, host(ip_address) AS ip, user_agent,
                  success, details, created_at
           FROM auth.audit_log WHERE user_id = $1
           ORDER BY created_at DESC, id DESC LIMIT $2"#,
        user_id as UserId,
        limit,
    )
    .fetch_all(executor)
    .await
}
