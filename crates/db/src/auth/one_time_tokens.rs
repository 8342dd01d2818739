//! `auth.one_time_tokens`: hashed, expiring, single-use tokens: links sent by mail, and the
//! challenge between a login's password and its second factor.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::ids::UserId;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    /// Finishes a login whose password was right, with a second-factor code.
    MfaLogin,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
            Purpose::MfaLogin => "mfa_login",
        }
    }
}

pub async fn create(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    purpose: Purpose,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO auth.one_time_tokens (user_id, purpose, token_hash, expires_at)
           VALUES ($1, $2, $3, $4)"#,
        user_id as UserId,
        purpose.as_str(),
        token_hash,
        expires_at,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// The user of a token that `consume` would accept right now, without spending it: lets a
/// caller refuse a bogus token before doing expensive work (hashing a new password).
pub async fn find_usable(
    executor: impl PgExecutor<'_>,
    purpose: Purpose,
    token_hash: &str,
) -> sqlx::Result<Option<UserId>> {
    sqlx::query_scalar!(
        r#"SELECT user_id AS "user_id: UserId" FROM auth.one_time_tokens
           WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()"#,
        token_hash,
        purpose.as_str(),
    )
    .fetch_optional(executor)
    .await
}

/// Marks the token used and returns its user, if it exists, has this purpose, is unused and
/// unexpired. One statement, so two concurrent uses cannot both succeed.
pub async fn consume(
    executor: impl PgExecutor<'_>,
    purpose: Purpose,
    token_hash: &str,
) -> sqlx::Result<Option<UserId>> {
    sqlx::query_scalar!(
        r#"UPDATE auth.one_time_tokens SET used_at = now()
           WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
           RETURNING user_id AS "user_id: UserId""#,
        token_hash,
        purpose.as_str(),
    )
    .fetch_optional(executor)
    .await
}

/// Voids a user's outstanding tokens of one purpose (e.g. every other reset link once one is used).
pub async fn void_outstanding(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    purpose: Purpose,
) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        r#"UPDATE auth.one_time_tokens SET used_at = now()
           WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL"#,
        user_id as UserId,
        purpose.as_str(),
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Voids every outstanding token of a user, whatever its purpose: for when the account
/// changes hands and nothing issued before may act on it. Returns how many there were.
pub async fn void_all_outstanding(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        r#"UPDATE auth.one_time_tokens SET used_at = now()
           WHERE user_id = $1 AND used_at IS NULL"#,
        user_id as UserId,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}
