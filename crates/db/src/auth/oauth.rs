//! `auth.oauth_states` and the OAuth side of `auth.users`: sign-ins in flight (hashed state,
//! PKCE verifier), and finding, linking and creating accounts by provider identity.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::users::{self, AccountChanges, Key, NewUser, ProviderIdentity, User};
use crate::ids::UserId;

/// An identity provider we accept sign-ins from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHub,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
        }
    }
}

/// A sign-in about to be sent to the provider.
pub struct NewState<'a> {
    pub provider: Provider,
    /// SHA-256 (hex) of the `state` parameter.
    pub state_hash: &'a str,
    pub pkce_verifier: &'a str,
    pub redirect_to: Option<&'a str>,
    pub expires_at: DateTime<Utc>,
}

/// What the callback needs from the sign-in it completes.
#[derive(Debug, Clone)]
pub struct ConsumedState {
    pub pkce_verifier: String,
    pub redirect_to: Option<String>,
}

pub async fn create_state(executor: impl PgExecutor<'_>, state: &NewState<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO auth.oauth_states (state_hash, provider, pkce_verifier, redirect_to, expires_at)
           VALUES ($1, $2, $3, $4, $5)"#,
        state.state_hash,
        state.provider.as_str(),
        state.pkce_verifier,
        state.redirect_to,
        state.expires_at,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Marks the state used and returns what it remembered, if it exists for this provider, is
/// unused and unexpired. One statement, so two concurrent callbacks cannot both succeed.
pub async fn consume_state(
    executor: impl PgExecutor<'_>,
    provider: Provider,
    state_hash: &str,
) -> sqlx::Result<Option<ConsumedState>> {
    sqlx::query_as!(
        ConsumedState,
        r#"UPDATE auth.oauth_states SET used_at = now()
           WHERE state_hash = $1 AND provider = $2 AND used_at IS NULL AND expires_at > now()
           RETURNING pkce_verifier, redirect_to"#,
        state_hash,
        provider.as_str(),
    )
    .fetch_optional(executor)
    .await
}

/// Deletes states past their expiry (used or not); returns how many.
pub async fn purge_expired_states(executor: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let result = sqlx::query!("DELETE FROM auth.oauth_states WHERE expires_at <= now()")
        .execute(executor)
        .await?;
    Ok(result.rows_affected())
}

pub async fn find_user_by_github_id(
    executor: impl PgExecutor<'_>,
    github_id: &str,
) -> sqlx::Result<Option<User>> {
    users::find_one(executor, Key::GitHub(github_id)).await
}

/// Links a GitHub account to an account that has none yet, and marks its email verified
/// (GitHub verified the same address). `avatar_url` only fills an empty avatar. `None` when
/// the account is gone or already linked (to any GitHub account) in the meantime.
pub async fn link_github(
    executor: impl PgExecutor<'_>,
    id: UserId,
    github_id: &str,
    avatar_url: Option<&str>,
) -> sqlx::Result<Option<User>> {
    let changes = AccountChanges {
        link_github: Some(github_id),
        github_avatar: avatar_url,
        verify: true,
        ..AccountChanges::default()
    };
    users::update(executor, id, &changes).await
}

/// An account made from a provider identity: verified, with a password hash nobody knows.
pub struct NewOAuthUser<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub full_name: &'a str,
    pub password_hash: &'a str,
    pub github_id: &'a str,
    pub avatar_url: Option<&'a str>,
}

/// Inserts the account; unique violations surface by constraint name like
/// [`super::users::insert`] (plus `users_github_id_key`).
pub async fn create_user(
    executor: impl PgExecutor<'_>,
    user: &NewOAuthUser<'_>,
) -> sqlx::Result<User> {
    let account = NewUser {
        email: user.email,
        username: user.username,
        full_name: user.full_name,
        password_hash: user.password_hash,
    };
    let identity = ProviderIdentity {
        github_id: Some(user.github_id),
        avatar_url: user.avatar_url,
        verified: true,
    };
    users::insert_with(executor, &account, &identity).await
}

/// Which of `candidates` are taken as usernames, lower-cased (usernames are unique
/// regardless of case).
pub async fn usernames_taken(
    executor: impl PgExecutor<'_>,
    candidates: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"SELECT lower(username) AS "username!" FROM auth.users
           WHERE lower(username) = ANY (SELECT lower(candidate) FROM unnest($1::text[]) AS candidate)"#,
        candidates,
    )
    .fetch_all(executor)
    .await
}
