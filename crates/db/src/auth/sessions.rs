//! `auth.user_sessions` and `auth.refresh_tokens`: one session per login, its refresh token
//! rotated on every use, every issued token remembered (hashed) so a replay is recognised.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::ids::{SessionId, UserId};

pub struct NewSession<'a> {
    pub user_id: UserId,
    /// SHA-256 (hex) of a random per-session handle (the guide's `session_token` column).
    pub session_token_hash: &'a str,
    /// SHA-256 (hex) of the first refresh token.
    pub refresh_token_hash: &'a str,
    pub ip: Option<String>,
    pub user_agent: Option<&'a str>,
    pub expires_at: DateTime<Utc>,
}

/// Creates the session and records its first refresh token. Run inside a transaction.
pub async fn create(
    conn: &mut PgConnection,
    session: &NewSession<'_>,
) -> Result<SessionId, sqlx::Error> {
    let id = sqlx::query_scalar!(
        r#"INSERT INTO auth.user_sessions
               (user_id, session_token, refresh_token, ip_address, user_agent, expires_at)
           VALUES ($1, $2, $3, $4::text::inet, $5, $6)
           RETURNING id AS "id: SessionId""#,
        session.user_id as UserId,
        session.session_token_hash,
        session.refresh_token_hash,
        session.ip,
        session.user_agent,
        session.expires_at,
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO auth.refresh_tokens (session_id, token_hash) VALUES ($1, $2)",
        id as SessionId,
        session.refresh_token_hash,
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// A presented refresh token with the state of its session.
#[derive(Debug, Clone)]
pub struct RefreshTokenRecord {
    pub token_id: uuid::Uuid,
    /// Set when the token was already exchanged: presenting it again is reuse.
    pub rotated_at: Option<DateTime<Utc>>,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub revoked_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

/// Looks up a refresh token by hash and locks its session row, so two refreshes with the
/// same token are serialised: the second sees the first's rotation and counts as reuse.
pub async fn find_refresh_token_for_update(
    conn: &mut PgConnection,
    token_hash: &str,
) -> Result<Option<RefreshTokenRecord>, sqlx::Error> {
    sqlx::query_as!(
        RefreshTokenRecord,
        r#"SELECT rt.id AS token_id, rt.rotated_at, s.id AS "session_id: SessionId",
                  s.user_id AS "user_id: UserId", s.revoked_at, s.expires_at
           FROM auth.refresh_tokens rt
           JOIN auth.user_sessions s ON s.id = rt.session_id
           WHERE rt.token_hash = $1
           FOR UPDATE OF s"#,
        token_hash,
    )
    .fetch_optional(conn)
    .await
}

/// Marks the presented token used and makes `new_hash` the session's current token.
pub async fn rotate_refresh_token(
    conn: &mut PgConnection,
    record: &RefreshTokenRecord,
    new_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE auth.refresh_tokens SET rotated_at = now() WHERE id = $1",
        record.token_id,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO auth.refresh_tokens (session_id, token_hash) VALUES ($1, $2)",
        record.session_id as SessionId,
        new_hash,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"UPDATE auth.user_sessions
           SET refresh_token = $2, last_used_at = now(), expires_at = $3
           WHERE id = $1"#,
        record.session_id as SessionId,
        new_hash,
        expires_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends one session; false if it was already ended.
pub async fn revoke(
    executor: impl PgExecutor<'_>,
    id: SessionId,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        r#"UPDATE auth.user_sessions SET revoked_at = now(), revoked_reason = $2
           WHERE id = $1 AND revoked_at IS NULL"#,
        id as SessionId,
        reason,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Ends one of `user_id`'s sessions; false if it is not theirs or already ended.
pub async fn revoke_owned(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    id: SessionId,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        r#"UPDATE auth.user_sessions SET revoked_at = now(), revoked_reason = $3
           WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL"#,
        id as SessionId,
        user_id as UserId,
        reason,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Ends every live session of a user except `keep`; returns how many ended.
pub async fn revoke_all_for_user(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    reason: &str,
    keep: Option<SessionId>,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        r#"UPDATE auth.user_sessions SET revoked_at = now(), revoked_reason = $2
           WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $3"#,
        user_id as UserId,
        reason,
        keep as Option<SessionId>,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Whether the session is neither revoked nor expired.
pub async fn is_active(executor: impl PgExecutor<'_>, id: SessionId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM auth.user_sessions
               WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()
           ) AS "active!""#,
        id as SessionId,
    )
    .fetch_one(executor)
    .await
}

/// A live session, as `GET me/sessions` lists it.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    pub id: SessionId,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

pub async fn list_active(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Vec<SessionSummary>, sqlx::Error> {
    sqlx::query_as!(
        SessionSummary,
        r#"SELECT id AS "id: SessionId", host(ip_address) AS ip, user_agent, created_at,
                  last_used_at, expires_at
           FROM auth.user_sessions
           WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
           ORDER BY created_at DESC, id DESC"#,
        user_id as UserId,
    )
    .fetch_all(executor)
    .await
}
