//! `auth.users`: accounts, credentials and lockout state.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::ids::UserId;

/// A full account row. `password_hash` never leaves the auth service.
#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub username: String,
    pub full_name: String,
    pub password_hash: String,
    pub role: String,
    pub is_active: bool,
    pub is_verified: bool,
    pub github_id: Option<String>,
    pub avatar_url: Option<String>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub failed_login_attempts: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// Locked now (a lock in the past has lapsed).
    pub fn locked_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| *until > now)
    }
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub full_name: &'a str,
    pub password_hash: &'a str,
}

/// Inserts an account; unique violations surface by constraint name
/// (`users_email_lower_key`, `users_username_lower_key`, ...).
pub async fn insert(
    executor: impl PgExecutor<'_>,
    user: &NewUser<'_>,
) -> Result<User, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"INSERT INTO auth.users (email, username, full_name, password_hash)
           VALUES ($1, $2, $3, $4)
           RETURNING id AS "id: UserId", email, username, full_name, password_hash, role,
                     is_active, is_verified, github_id, avatar_url, last_login_at,
                     failed_login_attempts, locked_until, created_at, updated_at"#,
        user.email,
        user.username,
        user.full_name,
        user.password_hash,
    )
    .fetch_one(executor)
    .await
}

pub async fn find(executor: impl PgExecutor<'_>, id: UserId) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"SELECT id AS "id: UserId", email, username, full_name, password_hash, role,
                  is_active, is_verified, github_id, avatar_url, last_login_at,
                  failed_login_attempts, locked_until, created_at, updated_at
           FROM auth.users WHERE id = $1"#,
        id as UserId,
    )
    .fetch_optional(executor)
    .await
}

/// Finds the account whose email or username matches `login`, ignoring case.
pub async fn find_by_login(
    executor: impl PgExecutor<'_>,
    login: &str,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"SELECT id AS "id: UserId", email, username, full_name, password_hash, role,
                  is_active, is_verified, github_id, avatar_url, last_login_at,
                  failed_login_attempts, locked_until, created_at, updated_at
           FROM auth.users
           WHERE lower(email) = lower($1) OR lower(username) = lower($1)
           LIMIT 1"#,
        login,
    )
    .fetch_optional(executor)
    .await
}

/// The lockout state after a failed attempt.
#[derive(Debug, Clone, Copy)]
pub struct FailedLogin {
    pub attempts: i32,
    pub locked_until: Option<DateTime<Utc>>,
    /// This failure is the one that locked the account (true once per lock), so whatever
    /// must happen once per lock (telling the owner) happens exactly once.
    pub newly_locked: bool,
}

/// Counts a failed password, as Keycloak's brute-force detection does:
///
/// - the `max_attempts`-th counted failure locks the account for `window_seconds`;
/// - failures while the lock holds are not counted and do not extend it (the lock already
///   stops password guessing; extending it would only lengthen the owner's wait);
/// - the count restarts at 1 when the previous lock has lapsed, so one wrong password after
///   a lock is attempt 1 again, not a fresh lock;
/// - the count also restarts when the last failure is older than `window_seconds`
///   (Keycloak's "failure reset time"), so a few typos a week never add up to a lock.
///   `auth.users` keeps no time of the last failure; `updated_at`, which the trigger sets on
///   every write to the row, is never earlier than it, so old failures never expire early
///   (an unrelated write such as a profile edit can only postpone the restart).
///
/// One statement that locks the row first: concurrent failures are counted one after the
/// other, none is lost and only one of them locks.
pub async fn record_failed_login(
    executor: impl PgExecutor<'_>,
    id: UserId,
    max_attempts: i32,
    window_seconds: f64,
) -> Result<FailedLogin, sqlx::Error> {
    let row = sqlx::query!(
        r#"WITH prior AS (
               SELECT id, failed_login_attempts, locked_until, updated_at
               FROM auth.users WHERE id = $1
               FOR UPDATE
           ), next AS (
               SELECT id,
                      CASE WHEN locked_until <= now()
                             OR (locked_until IS NULL
                                 AND updated_at < now() - make_interval(secs => $3))
                           THEN 1
                           ELSE failed_login_attempts + 1 END AS attempts
               FROM prior
               WHERE locked_until IS NULL OR locked_until <= now()
           ), counted AS (
               UPDATE auth.users AS users
               SET failed_login_attempts = next.attempts,
                   locked_until = CASE WHEN next.attempts >= $2
                                       THEN now() + make_interval(secs => $3) END
               FROM next
               WHERE users.id = next.id
               RETURNING users.id, users.failed_login_attempts, users.locked_until
           )
           SELECT coalesce(counted.failed_login_attempts, prior.failed_login_attempts)
                      AS "attempts!",
                  CASE WHEN counted.id IS NULL THEN prior.locked_until
                       ELSE counted.locked_until END AS locked_until,
                  counted.locked_until IS NOT NULL AS "newly_locked!"
           FROM prior LEFT JOIN counted ON counted.id = prior.id"#,
        id as UserId,
        max_attempts,
        window_seconds,
    )
    .fetch_one(executor)
    .await?;
    Ok(FailedLogin {
        attempts: row.attempts,
        locked_until: row.locked_until,
        newly_locked: row.newly_locked,
    })
}

/// Clears the failure count and lock, and stamps the login time.
pub async fn record_successful_login(
    executor: impl PgExecutor<'_>,
    id: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE auth.users
           SET failed_login_attempts = 0, locked_until = NULL, last_login_at = now()
           WHERE id = $1"#,
        id as UserId,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Stamps the login time only, for sign-ins that do not use the password (GitHub): they
/// prove nothing about whoever is guessing it, so its failure count and lock stay as they are.
pub async fn record_passwordless_login(
    executor: impl PgExecutor<'_>,
    id: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE auth.users SET last_login_at = now() WHERE id = $1",
        id as UserId,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Fields a user may change on their own profile; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct ProfileChanges<'a> {
    pub username: Option<&'a str>,
    pub full_name: Option<&'a str>,
    pub avatar_url: Option<Option<&'a str>>,
}

pub async fn update_profile(
    executor: impl PgExecutor<'_>,
    id: UserId,
    changes: &ProfileChanges<'_>,
) -> Result<User, sqlx::Error> {
    let (set_avatar, avatar) = match changes.avatar_url {
        Some(value) => (true, value),
        None => (false, None),
    };
    sqlx::query_as!(
        User,
        r#"UPDATE auth.users
           SET username = coalesce($2, username),
               full_name = coalesce($3, full_name),
               avatar_url = CASE WHEN $4 THEN $5 ELSE avatar_url END
           WHERE id = $1
           RETURNING id AS "id: UserId", email, username, full_name, password_hash, role,
                     is_active, is_verified, github_id, avatar_url, last_login_at,
                     failed_login_attempts, locked_until, created_at, updated_at"#,
        id as UserId,
        changes.username,
        changes.full_name,
        set_avatar,
        avatar,
    )
    .fetch_one(executor)
    .await
}

pub async fn update_password_hash(
    executor: impl PgExecutor<'_>,
    id: UserId,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE auth.users SET password_hash = $2 WHERE id = $1",
        id as UserId,
        password_hash,
    )
    .execute(executor)
    .await?;
    Ok(())
}

pub async fn find_by_email(
    executor: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"SELECT id AS "id: UserId", email, username, full_name, password_hash, role,
                  is_active, is_verified, github_id, avatar_url, last_login_at,
                  failed_login_attempts, locked_until, created_at, updated_at
           FROM auth.users WHERE lower(email) = lower($1)"#,
        email,
    )
    .fetch_optional(executor)
    .await
}

pub async fn mark_verified(executor: impl PgExecutor<'_>, id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE auth.users SET is_verified = true WHERE id = $1",
        id as UserId
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Sets a new password hash after a reset, and lifts any lockout: proving control of the
/// mailbox is enough to get back in.
pub async fn reset_password(
    executor: impl PgExecutor<'_>,
    id: UserId,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE auth.users
           SET password_hash = $2, failed_login_attempts = 0, locked_until = NULL
           WHERE id = $1"#,
        id as UserId,
        password_hash,
    )
    .execute(executor)
    .await?;
    Ok(())
}
