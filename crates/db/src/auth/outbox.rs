//! `auth.mail_outbox`: mails queued inside the transaction that needs them, sent by a worker.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

pub struct NewMail<'a> {
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub kind: &'a str,
}

pub async fn enqueue(executor: impl PgExecutor<'_>, mail: &NewMail<'_>) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        r#"INSERT INTO auth.mail_outbox (recipient, subject, body_text, kind)
           VALUES ($1, $2, $3, $4) RETURNING id"#,
        mail.recipient,
        mail.subject,
        mail.body_text,
        mail.kind,
    )
    .fetch_one(executor)
    .await
}

/// A mail the worker has claimed.
#[derive(Debug, Clone)]
pub struct PendingMail {
    pub id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub body_text: Option<String>,
    pub kind: String,
    pub attempts: i32,
}

/// Locks up to `limit` due mails for this transaction; other workers skip them, so each
/// mail is handled by one replica at a time.
pub async fn claim_due(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<PendingMail>> {
    sqlx::query_as!(
        PendingMail,
        r#"SELECT id, recipient, subject, body_text, kind, attempts
           FROM auth.mail_outbox
           WHERE sent_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= now()
           ORDER BY next_attempt_at, id
           LIMIT $1
           FOR UPDATE SKIP LOCKED"#,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Sent: the body (which may carry a live token) is dropped.
pub async fn mark_sent(executor: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE auth.mail_outbox
           SET sent_at = now(), body_text = NULL, attempts = attempts + 1, last_error = NULL
           WHERE id = $1"#,
        id,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Failed: try again at `retry_at`, or give up for good when `retry_at` is `None`.
pub async fn mark_failed(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE auth.mail_outbox
           SET attempts = attempts + 1, last_error = $2,
               next_attempt_at = coalesce($3, next_attempt_at),
               abandoned_at = CASE WHEN $3::timestamptz IS NULL THEN now() END,
               body_text = CASE WHEN $3::timestamptz IS NULL THEN NULL ELSE body_text END
           WHERE id = $1"#,
        id,
        error,
        retry_at,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Delivery state of one mail, for tests and operators.
#[derive(Debug, Clone)]
pub struct MailState {
    pub id: Uuid,
    pub recipient: String,
    pub kind: String,
    pub attempts: i32,
    pub sent_at: Option<DateTime<Utc>>,
    pub abandoned_at: Option<DateTime<Utc>>,
    pub has_body: bool,
}

pub async fn list_for_recipient(
    executor: impl PgExecutor<'_>,
    recipient: &str,
) -> sqlx::Result<Vec<MailState>> {
    sqlx::query_as!(
        MailState,
        r#"SELECT id, recipient, kind, attempts, sent_at, abandoned_at,
                  body_text IS NOT NULL AS "has_body!"
           FROM auth.mail_outbox WHERE recipient = $1 ORDER BY created_at, id"#,
        recipient,
    )
    .fetch_all(executor)
    .await
}
