//! `auth.passkeys` and `auth.passkey_ceremonies`: a user's WebAuthn credentials and the
//! ceremonies in flight between a `start` and its `finish`. The credential arrives here as
//! webauthn-rs's serialised `Passkey` (JSON); this module never interprets it.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::ids::UserId;

/// A stored passkey: what the owner sees, and the credential the service checks.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub user_id: UserId,
    pub credential_id: Vec<u8>,
    pub passkey: Value,
    pub name: String,
    pub sign_count: i64,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub struct NewPasskey<'a> {
    pub user_id: UserId,
    pub credential_id: &'a [u8],
    pub passkey: &'a Value,
    pub name: &'a str,
    pub sign_count: i64,
}

/// Stores a registered passkey; `None` when its credential id is already registered (to this
/// account or any other: a credential belongs to one account).
pub async fn insert(
    executor: impl PgExecutor<'_>,
    new: &NewPasskey<'_>,
) -> sqlx::Result<Option<StoredPasskey>> {
    sqlx::query_as!(
        StoredPasskey,
        r#"INSERT INTO auth.passkeys (user_id, credential_id, passkey, name, sign_count)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (credential_id) DO NOTHING
           RETURNING id, user_id AS "user_id: UserId", credential_id, passkey, name, sign_count,
                     created_at, last_used_at"#,
        new.user_id as UserId,
        new.credential_id,
        new.passkey,
        new.name,
        new.sign_count,
    )
    .fetch_optional(executor)
    .await
}

/// The user's passkeys, oldest first.
pub async fn list(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
) -> sqlx::Result<Vec<StoredPasskey>> {
    sqlx::query_as!(
        StoredPasskey,
        r#"SELECT id, user_id AS "user_id: UserId", credential_id, passkey, name, sign_count,
                  created_at, last_used_at
           FROM auth.passkeys WHERE user_id = $1
           ORDER BY created_at, id"#,
        user_id as UserId,
    )
    .fetch_all(executor)
    .await
}

/// The passkey with this credential id, whoever owns it.
pub async fn find_by_credential(
    executor: impl PgExecutor<'_>,
    credential_id: &[u8],
) -> sqlx::Result<Option<StoredPasskey>> {
    sqlx::query_as!(
        StoredPasskey,
        r#"SELECT id, user_id AS "user_id: UserId", credential_id, passkey, name, sign_count,
                  created_at, last_used_at
           FROM auth.passkeys WHERE credential_id = $1"#,
        credential_id,
    )
    .fetch_optional(executor)
    .await
}

/// Renames the user's passkey `id`; `None` when the user has no such passkey.
pub async fn rename(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    id: Uuid,
    name: &str,
) -> sqlx::Result<Option<StoredPasskey>> {
    sqlx::query_as!(
        StoredPasskey,
        r#"UPDATE auth.passkeys SET name = $3
           WHERE id = $2 AND user_id = $1
           RETURNING id, user_id AS "user_id: UserId", credential_id, passkey, name, sign_count,
                     created_at, last_used_at"#,
        user_id as UserId,
        id,
        name,
    )
    .fetch_optional(executor)
    .await
}

/// Deletes the user's passkey `id` and returns its name; `None` when the user has no such
/// passkey.
pub async fn delete(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
    id: Uuid,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "DELETE FROM auth.passkeys WHERE id = $2 AND user_id = $1 RETURNING name",
        user_id as UserId,
        id,
    )
    .fetch_optional(executor)
    .await
}

/// Deletes every passkey of the user (an admin's factor reset); returns how many there were.
pub async fn delete_all(executor: impl PgExecutor<'_>, user_id: UserId) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "DELETE FROM auth.passkeys WHERE user_id = $1",
        user_id as UserId,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Records a verified assertion: the credential as updated by it and its signature counter.
/// One conditional statement, so of two assertions carrying the same counter (a cloned
/// authenticator racing the original) only one is recorded. An authenticator that keeps no
/// counter always sends 0, which can prove nothing either way. False when the counter did not
/// move forward or the passkey is gone.
pub async fn record_use(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    passkey: &Value,
    sign_count: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        r#"UPDATE auth.passkeys
           SET passkey = $2, sign_count = $3, last_used_at = now()
           WHERE id = $1 AND (sign_count < $3 OR ($3 = 0 AND sign_count = 0))"#,
        id,
        passkey,
        sign_count,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// What a ceremony is for; each `finish` takes only its own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Registration,
    PasswordlessLogin,
    SecondFactor,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::PasswordlessLogin => "passwordless_login",
            CeremonyKind::SecondFactor => "second_factor",
        }
    }
}

/// Stores a ceremony's server state until `expires_at` and returns its id. `user_id` is
/// `None` exactly for a passwordless login. Expired ceremonies are swept on the way.
pub async fn start_ceremony(
    conn: &mut sqlx::PgConnection,
    user_id: Option<UserId>,
    kind: CeremonyKind,
    state: &Value,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<Uuid> {
    sqlx::query!("DELETE FROM auth.passkey_ceremonies WHERE expires_at <= now()")
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar!(
        r#"INSERT INTO auth.passkey_ceremonies (user_id, kind, state, expires_at)
           VALUES ($1, $2, $3, $4) RETURNING id"#,
        user_id as Option<UserId>,
        kind.as_str(),
        state,
        expires_at,
    )
    .fetch_one(&mut *conn)
    .await
}

/// Deletes the ceremonies the user started and has not finished (registrations, second-factor
/// proofs); returns how many there were.
pub async fn delete_ceremonies(
    executor: impl PgExecutor<'_>,
    user_id: UserId,
) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "DELETE FROM auth.passkey_ceremonies WHERE user_id = $1",
        user_id as UserId,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Takes (deletes and returns) the state of ceremony `id` when it is of `kind`, belongs to
/// `user_id` and has not expired: a ceremony is finished once, by the user who started it. An
/// expired one is deleted too, and answers `None`.
pub async fn take_ceremony(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Option<UserId>,
    kind: CeremonyKind,
) -> sqlx::Result<Option<Value>> {
    let taken = sqlx::query!(
        r#"DELETE FROM auth.passkey_ceremonies
           WHERE id = $1 AND user_id IS NOT DISTINCT FROM $2 AND kind = $3
           RETURNING state, expires_at > now() AS "live!""#,
        id,
        user_id as Option<UserId>,
        kind.as_str(),
    )
    .fetch_optional(executor)
    .await?;
    Ok(taken.filter(|row| row.live).map(|row| row.state))
}
