//! What a sign-in writes to its account: the login stamp, the failure count cleared, and
//! the row lock under which a password sign-in checks that the hash it verified is still
//! the account's (a reset or deactivation committing while it hashed must win).

use sqlx::PgExecutor;

use super::{AccountChanges, User, update};
use crate::ids::UserId;

/// Clears the failure count and lock, and stamps the login time. Answers with the account
/// as it stands now (`None` if it is gone), its row locked until the caller's transaction
/// ends, so a password sign-in can check that the hash it verified is still the account's.
pub async fn record_successful_login(
    executor: impl PgExecutor<'_>,
    id: UserId,
) -> sqlx::Result<Option<User>> {
    let changes = AccountChanges {
        clear_lockout: true,
        stamp_login: true,
        ..AccountChanges::default()
    };
    update(executor, id, &changes).await
}

/// [`record_successful_login`]'s answer and lock without clearing the failure count, for a
/// password sign-in that still needs a second factor.
pub async fn lock_for_sign_in(
    executor: impl PgExecutor<'_>,
    id: UserId,
) -> sqlx::Result<Option<User>> {
    // NO KEY UPDATE, as an UPDATE takes: rows that refer to the account may still be added.
    query_users!(
        "SELECT",
        r#"FROM auth.users
           WHERE id = $1
           FOR NO KEY UPDATE"#,
        id as UserId,
    )
    .fetch_optional(executor)
    .await
}

/// Stamps the login time only, for sign-ins that do not use the password (GitHub, a
/// passkey): they prove nothing about whoever is guessing it, so its failure count and lock
/// stay as they are. Answers with the account as it stands now (`None` if it is gone), its
/// row locked until the caller's transaction ends, as [`record_successful_login`] does.
pub async fn record_passwordless_login(
    executor: impl PgExecutor<'_>,
    id: UserId,
) -> sqlx::Result<Option<User>> {
    let changes = AccountChanges {
        stamp_login: true,
        ..AccountChanges::default()
    };
    update(executor, id, &changes).await
}
