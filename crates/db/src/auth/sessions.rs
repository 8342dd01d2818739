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
pub async fn create(conn: &mut PgConnection, session: &NewSession<'_>) -> sqlx::Result<SessionId> {
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
    /// The session's last second-factor proof: how long its tokens may carry `aal2`.
    pub second_factor_at: Option<DateTime<Utc>>,
}

/// Looks up a refresh token by hash and locks it and its session. Both rows are locked so a
/// second refresh of the same token waits, then sees the first one's `rotated_at` (PostgreSQL
/// re-reads only the rows it locks) and counts as reuse.
pub async fn find_refresh_token_for_update(
    conn: &mut PgConnection,
    token_hash: &str,
) -> sqlx::Result<Option<RefreshTokenRecord>> {
    sqlx::query_as!(
        RefreshTokenRecord,
        r#"SELECT rt.id AS token_id, rt.rotated_at, s.id AS "session_id: SessionId",
                  s.user_id AS "user_id: UserId", s.revoked_at, s.expires_at,
                  s.second_factor_at
           FROM auth.refresh_tokens rt
           JOIN auth.user_sessions s ON s.id = rt.session_id
           WHERE rt.token_hash = $1
           FOR UPDATE OF rt, s"#,
        token_hash,
    )
    .fetch_optional(conn)
    .await
}

/// The outcome of [`rotate_refresh_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token is spent and the new one is current until `expires_at`.
    Rotated { expires_at: DateTime<Utc> },
    /// Someone exchanged the presented token first: this is a replay.
    AlreadyUsed,
}

/// Spends the presented token and makes `new_hash` the session's current token. The spend is
/// conditional (`rotated_at IS NULL`), so of any number of concurrent exchanges exactly one
/// rotates, whatever the isolation level. The session's new expiry is `idle` from now but never
/// past `created_at + max_lifetime`: refreshing cannot keep a session alive forever.
pub async fn rotate_refresh_token(
    conn: &mut PgConnection,
    record: &RefreshTokenRecord,
    new_hash: &str,
    idle: chrono::Duration,
    max_lifetime: chrono::Duration,
) -> sqlx::Result<Rotation> {
    let spent = sqlx::query!(
        "UPDATE auth.refresh_tokens SET rotated_at = now() WHERE id = $1 AND rotated_at IS NULL",
        record.token_id,
    )
    .execute(&mut *conn)
    .await?;
    if spent.rows_affected() != 1 {
        return Ok(Rotation::AlreadyUsed);
    }
    sqlx::query!(
        "INSERT INTO auth.refresh_tokens (session_id, token_hash) VALUES ($1, $2)",
        record.session_id as SessionId,
        new_hash,
    )
    .execute(&mut *conn)
    .await?;
    let expires_at = sqlx::query_scalar!(
        r#"UPDATE auth.user_sessions
           SET refresh_token = $2, last_used_at = now(),
               expires_at = LEAST(now() + make_interval(secs => $3),
                                  created_at + make_interval(secs => $4))
           WHERE id = $1
           RETURNING expires_at"#,
        record.session_id as SessionId,
        new_hash,
        idle.num_seconds() as f64,
        max_lifetime.num_seconds() as f64,
    )
    .fetch_one(conn)
    .await?;
    Ok(Rotation::Rotated { expires_at })
}

/// Ends one session; false if it was already ended.
pub async fn revoke(
    executor: impl PgExecutor<'_>,
    id: SessionId,
    reason: &str,
) -> sqlx::Result<bool> {
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
) -> sqlx::Result<bool> {
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
) -> sqlx::Result<u64> {
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

/// Records that the live session `id` of `user_id` just proved a second factor; returns the
/// time recorded, or `None` when the session is not (or no longer) live or not theirs.
pub async fn record_second_factor(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    id: SessionId,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!(
        r#"UPDATE auth.user_sessions SET second_factor_at = now()
           WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
           RETURNING second_factor_at AS "second_factor_at!""#,
        id as SessionId,
        user_id as UserId,
    )
    .fetch_optional(executor)
    .await
}

/// Forgets every second-factor proof of the user's sessions (their factor is gone): a proof
/// made with a removed factor must not lift a session to `aal2` once a new factor exists.
pub async fn forget_second_factor(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        r#"UPDATE auth.user_sessions SET second_factor_at = NULL
           WHERE user_id = $1 AND second_factor_at IS NOT NULL"#,
        user_id as UserId,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Whether the session is neither revoked nor expired.
pub async fn is_active(executor: impl PgExecutor<'_>, id: SessionId) -> sqlx::Result<bool> {
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

/// Whether the session is live and signed in within the last `window_secs`: its start, which
/// refreshing does not move. Compared on the database's clock, which stamped the start.
pub async fn signed_in_within(
    executor: impl PgExecutor<'_>,
    id: SessionId,
    window_secs: i64,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM auth.user_sessions
               WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()
                 AND created_at > now() - make_interval(secs => $2)
           ) AS "recent!""#,
        id as SessionId,
        window_secs as f64,
    )
    .fetch_one(executor)
    .await
}

/// What a resource service needs to know about a token's session, read fresh: the session is
/// live (not revoked, not expired), its user is active, and this is the user's current role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub user_id: UserId,
    pub role: String,
}

/// The session's owner and their current role, if the session is live and the user active.
pub async fn live(
    executor: impl PgExecutor<'_>,
    id: SessionId,
) -> sqlx::Result<Option<LiveSession>> {
    Ok(live_access(executor, id).await?.map(|access| LiveSession {
        user_id: access.user_id,
        role: access.role,
    }))
}

/// [`LiveSession`] plus what sensitive actions need: whether the user has a confirmed second
/// factor right now (so a factor enrolled a moment ago counts at once, in every service), and
/// whether the session still holds a second-factor proof (forgotten when a factor is removed,
/// so an `aal2` token signed before the removal stops counting as `aal2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAccess {
    pub user_id: UserId,
    pub role: String,
    pub has_second_factor: bool,
    pub session_proved_second_factor: bool,
}

/// [`live`], the user's second factor and the session's proof, in one primary-key lookup each.
pub async fn live_access(
    executor: impl PgExecutor<'_>,
    id: SessionId,
) -> sqlx::Result<Option<LiveAccess>> {
    sqlx::query_as!(
        LiveAccess,
        r#"SELECT u.id AS "user_id: UserId", u.role,
                  (EXISTS (SELECT 1 FROM auth.totp_factors f
                           WHERE f.user_id = u.id AND f.confirmed_at IS NOT NULL)
                   OR EXISTS (SELECT 1 FROM auth.passkeys p WHERE p.user_id = u.id))
                      AS "has_second_factor!",
                  s.second_factor_at IS NOT NULL AS "session_proved_second_factor!"
           FROM auth.user_sessions s
           JOIN auth.users u ON u.id = s.user_id
           WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
             AND u.is_active"#,
        id as SessionId,
    )
    .fetch_optional(executor)
    .await
}

/// Whether the email of the live session's (active) user is verified; `None` once the
/// session is not live. One statement, so one snapshot: an unverified account taken over
/// by the address's owner (verified, and the registrant's sessions ended, in one
/// transaction) reads either as unverified or as no longer live, never as verified under
/// the registrant's session.
pub async fn holder_is_verified(
    executor: impl PgExecutor<'_>,
    id: SessionId,
) -> sqlx::Result<Option<bool>> {
    sqlx::query_scalar!(
        r#"SELECT u.is_verified
           FROM auth.user_sessions s
           JOIN auth.users u ON u.id = s.user_id
           WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
             AND u.is_active"#,
        id as SessionId,
    )
    .fetch_optional(executor)
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
) -> sqlx::Result<Vec<SessionSummary>> {
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
