//! `auth.totp_factors` and `auth.recovery_codes`: a user's second factor. Secrets arrive here
//! already encrypted and codes already hashed; this module never sees either in the clear.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::one_time_tokens::Purpose;
use crate::ids::UserId;

/// A TOTP factor as stored: pending until `confirmed_at` is set.
#[derive(Debug, Clone)]
pub struct TotpFactor {
    pub secret_ciphertext: Vec<u8>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub last_used_step: Option<i64>,
}

/// What a user's second factor amounts to right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaStatus {
    pub totp: bool,
    pub recovery_codes_left: i64,
    /// How many passkeys the user has registered; each is a second factor.
    pub passkeys: i64,
}

impl MfaStatus {
    /// Whether the account has a second factor: a confirmed TOTP or a passkey.
    pub fn has_second_factor(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

/// Stores a pending factor, replacing a pending one. Returns false (and changes nothing) when a
/// confirmed factor exists: that one is only replaced by disabling it first.
pub async fn save_pending_totp(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    secret_ciphertext: &[u8],
) -> sqlx::Result<bool> {
    let saved = sqlx::query_scalar!(
        r#"INSERT INTO auth.totp_factors (user_id, secret_ciphertext)
           VALUES ($1, $2)
           ON CONFLICT (user_id) DO UPDATE
               SET secret_ciphertext = EXCLUDED.secret_ciphertext,
                   last_used_step = NULL,
                   created_at = now()
               WHERE auth.totp_factors.confirmed_at IS NULL
           RETURNING user_id AS "user_id: UserId""#,
        user_id as UserId,
        secret_ciphertext,
    )
    .fetch_optional(executor)
    .await?;
    Ok(saved.is_some())
}

pub async fn find_totp(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
) -> sqlx::Result<Option<TotpFactor>> {
    sqlx::query_as!(
        TotpFactor,
        r#"SELECT secret_ciphertext, confirmed_at, last_used_step
           FROM auth.totp_factors WHERE user_id = $1"#,
        user_id as UserId,
    )
    .fetch_optional(executor)
    .await
}

/// Activates the pending factor whose code for `step` was just checked. False when there is no
/// pending factor any more (confirmed or replaced concurrently).
pub async fn confirm_totp(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    secret_ciphertext: &[u8],
    step: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        r#"UPDATE auth.totp_factors SET confirmed_at = now(), last_used_step = $3
           WHERE user_id = $1 AND secret_ciphertext = $2 AND confirmed_at IS NULL"#,
        user_id as UserId,
        secret_ciphertext,
        step,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Spends `step` of the confirmed factor. One statement, so of two requests with the same code
/// only one gets true; a step not newer than the last one accepted gets false (a replay).
pub async fn accept_totp_step(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    step: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        r#"UPDATE auth.totp_factors SET last_used_step = $2
           WHERE user_id = $1 AND confirmed_at IS NOT NULL
             AND (last_used_step IS NULL OR last_used_step < $2)"#,
        user_id as UserId,
        step,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Removes the factor, pending or confirmed, every recovery code, and what rested on them:
/// the sessions' second-factor proofs (a proof made with this factor must not count for the
/// next one) and pending login challenges (nothing could finish them now). Returns whether a
/// factor was there.
pub async fn remove(conn: &mut PgConnection, user_id: UserId) -> sqlx::Result<bool> {
    super::sessions::forget_second_factor(&mut *conn, user_id).await?;
    super::one_time_tokens::void_outstanding(&mut *conn, user_id, Purpose::MfaLogin).await?;
    sqlx::query!(
        "DELETE FROM auth.recovery_codes WHERE user_id = $1",
        user_id as UserId,
    )
    .execute(&mut *conn)
    .await?;
    let result = sqlx::query!(
        "DELETE FROM auth.totp_factors WHERE user_id = $1",
        user_id as UserId,
    )
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Replaces every recovery code of the user (used or not) with `code_hashes`.
pub async fn replace_recovery_codes(
    conn: &mut PgConnection,
    user_id: UserId,
    code_hashes: &[String],
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM auth.recovery_codes WHERE user_id = $1",
        user_id as UserId,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"INSERT INTO auth.recovery_codes (user_id, code_hash)
           SELECT $1, code_hash FROM unnest($2::text[]) AS code_hash"#,
        user_id as UserId,
        code_hashes,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Spends an unused recovery code; false when the user has no such unused code. One
/// statement, so a code is spent once even by concurrent requests.
pub async fn use_recovery_code(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    code_hash: &str,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        r#"UPDATE auth.recovery_codes SET used_at = now()
           WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL"#,
        user_id as UserId,
        code_hash,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Whether a confirmed TOTP factor is on, how many recovery codes are unused, and how many
/// passkeys are registered.
pub async fn status(executor: impl PgExecutor<'_>, user_id: UserId) -> sqlx::Result<MfaStatus> {
    let row = sqlx::query!(
        r#"SELECT
               EXISTS (SELECT 1 FROM auth.totp_factors
                       WHERE user_id = $1 AND confirmed_at IS NOT NULL) AS "totp!",
               (SELECT count(*) FROM auth.recovery_codes
                WHERE user_id = $1 AND used_at IS NULL) AS "recovery_codes_left!",
               (SELECT count(*) FROM auth.passkeys WHERE user_id = $1) AS "passkeys!""#,
        user_id as UserId,
    )
    .fetch_one(executor)
    .await?;
    Ok(MfaStatus {
        totp: row.totp,
        recovery_codes_left: row.recovery_codes_left,
        passkeys: row.passkeys,
    })
}
