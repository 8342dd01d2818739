//! `auth.users`: accounts, credentials and lockout state.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::ids::UserId;
use crate::projects::{Patch, patch_parts};

/// `sqlx::query_as!` for [`User`]s: `$head` (`SELECT`, or a write up to its `RETURNING`),
/// then the account's columns and typed id, written once for every query that answers a
/// whole account, then `$tail`.
macro_rules! query_users {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            User,
            $head
                + r#" id AS "id: UserId", email, username, full_name, password_hash, role,
                      is_active, is_verified, github_id, avatar_url, last_login_at,
                      failed_login_attempts, locked_until, created_at, updated_at "#
                + $tail
            $(, $arg)*
        )
    };
}

mod sign_in;

pub use sign_in::{lock_for_sign_in, record_passwordless_login, record_successful_login};

pub use super::lockout::{FailedLogin, record_failed_login};

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
pub async fn insert(executor: impl PgExecutor<'_>, user: &NewUser<'_>) -> sqlx::Result<User> {
    insert_with(executor, user, &ProviderIdentity::default()).await
}

/// What an account made from a provider identity has beyond [`NewUser`]. The default is an
/// account registered with a password: no provider, no avatar, email unverified.
#[derive(Debug, Default)]
pub(crate) struct ProviderIdentity<'a> {
    pub github_id: Option<&'a str>,
    pub avatar_url: Option<&'a str>,
    /// The provider verified the email address.
    pub verified: bool,
}

/// The one INSERT into `auth.users`, for registrations and provider sign-ups alike.
pub(crate) async fn insert_with(
    executor: impl PgExecutor<'_>,
    user: &NewUser<'_>,
    identity: &ProviderIdentity<'_>,
) -> sqlx::Result<User> {
    query_users!(
        r#"INSERT INTO auth.users
               (email, username, full_name, password_hash, github_id, avatar_url, is_verified)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING"#,
        "",
        user.email,
        user.username,
        user.full_name,
        user.password_hash,
        identity.github_id,
        identity.avatar_url,
        identity.verified,
    )
    .fetch_one(executor)
    .await
}

pub async fn find(executor: impl PgExecutor<'_>, id: UserId) -> sqlx::Result<Option<User>> {
    find_one(executor, Key::Id(id)).await
}

/// Finds the account whose email or username matches `login`, ignoring case.
pub async fn find_by_login(
    executor: impl PgExecutor<'_>,
    login: &str,
) -> sqlx::Result<Option<User>> {
    find_one(executor, Key::Login(login)).await
}

pub async fn find_by_email(
    executor: impl PgExecutor<'_>,
    email: &str,
) -> sqlx::Result<Option<User>> {
    find_one(executor, Key::Email(email)).await
}

/// A unique key of `auth.users`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key<'a> {
    Id(UserId),
    /// Email or username, ignoring case (the two never collide: only emails hold an `@`).
    Login(&'a str),
    /// Email, ignoring case.
    Email(&'a str),
    GitHub(&'a str),
}

/// The account with this key.
pub(crate) async fn find_one(
    executor: impl PgExecutor<'_>,
    key: Key<'_>,
) -> sqlx::Result<Option<User>> {
    let selection = Selection {
        key: Some(key),
        ..Selection::default()
    };
    Ok(select(executor, &selection, 1).await?.pop())
}

/// Which accounts [`select`] returns: every `Some` narrows the result.
#[derive(Debug, Default)]
pub(crate) struct Selection<'a> {
    pub key: Option<Key<'a>>,
    /// An ILIKE pattern for email, username or full name.
    pub pattern: Option<&'a str>,
    /// Keyset position: only accounts older than this `(created_at, id)`.
    pub before: Option<(DateTime<Utc>, UserId)>,
}

/// The one SELECT of whole accounts: newest first, at most `limit`. A lookup by a unique
/// key is the same query narrowed to one row, so every reader sees the same columns.
pub(crate) async fn select(
    executor: impl PgExecutor<'_>,
    selection: &Selection<'_>,
    limit: i64,
) -> sqlx::Result<Vec<User>> {
    let (mut id, mut login, mut email, mut github_id) = (None, None, None, None);
    match selection.key {
        Some(Key::Id(key)) => id = Some(key),
        Some(Key::Login(key)) => login = Some(key),
        Some(Key::Email(key)) => email = Some(key),
        Some(Key::GitHub(key)) => github_id = Some(key),
        None => {}
    }
    let (before_at, before_id) = selection.before.unzip();
    query_users!(
        "SELECT",
        r#"FROM auth.users
           WHERE ($1::uuid IS NULL OR id = $1)
             AND ($2::text IS NULL OR lower(email) = lower($2) OR lower(username) = lower($2))
             AND ($3::text IS NULL OR lower(email) = lower($3))
             AND ($4::text IS NULL OR github_id = $4)
             AND ($5::text IS NULL OR email ILIKE $5 OR username ILIKE $5 OR full_name ILIKE $5)
             AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7))
           ORDER BY created_at DESC, id DESC
           LIMIT $8"#,
        id as Option<UserId>,
        login,
        email,
        github_id,
        selection.pattern,
        before_at,
        before_id as Option<UserId>,
        limit,
    )
    .fetch_all(executor)
    .await
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
) -> sqlx::Result<User> {
    let changes = AccountChanges {
        username: changes.username,
        full_name: changes.full_name,
        avatar_url: changes.avatar_url,
        ..AccountChanges::default()
    };
    update_existing(executor, id, &changes).await
}

pub async fn update_password_hash(
    executor: impl PgExecutor<'_>,
    id: UserId,
    password_hash: &str,
) -> sqlx::Result<()> {
    let changes = AccountChanges {
        password_hash: Some(password_hash),
        ..AccountChanges::default()
    };
    update(executor, id, &changes).await.map(drop)
}

/// Replaces the password hash only while `verified` (the hash the current password was just
/// checked against) is still the account's: a reset or another change that committed while
/// this one was hashing must win, not be undone by a password its author no longer holds.
/// A sign-in's rehash (same password, current parameters) goes through here too. False when
/// the hash has changed since (or the account is gone).
pub async fn change_password_hash(
    executor: impl PgExecutor<'_>,
    id: UserId,
    verified: &str,
    password_hash: &str,
) -> sqlx::Result<bool> {
    let changes = AccountChanges {
        password_hash: Some(password_hash),
        only_if_password_hash: Some(verified),
        ..AccountChanges::default()
    };
    Ok(update(executor, id, &changes).await?.is_some())
}

pub async fn mark_verified(executor: impl PgExecutor<'_>, id: UserId) -> sqlx::Result<()> {
    let changes = AccountChanges {
        verify: true,
        ..AccountChanges::default()
    };
    update(executor, id, &changes).await.map(drop)
}

/// Moves the account to a new email address, unverified until a link mailed there is used,
/// only while `verified` (the hash the password was just checked against) is still the
/// account's: `None` when a reset or change replaced it meanwhile (or the account is gone).
/// A taken address fails on `users_email_lower_key` (or `users_email_key`).
pub async fn change_email(
    executor: impl PgExecutor<'_>,
    id: UserId,
    email: &str,
    verified: &str,
) -> sqlx::Result<Option<User>> {
    let changes = AccountChanges {
        email: Some(email),
        only_if_password_hash: Some(verified),
        ..AccountChanges::default()
    };
    update(executor, id, &changes).await
}

/// Sets a new password hash after a reset, and lifts any lockout: proving control of the
/// mailbox is enough to get back in.
pub async fn reset_password(
    executor: impl PgExecutor<'_>,
    id: UserId,
    password_hash: &str,
) -> sqlx::Result<()> {
    let changes = AccountChanges {
        password_hash: Some(password_hash),
        clear_lockout: true,
        ..AccountChanges::default()
    };
    update(executor, id, &changes).await.map(drop)
}

/// What [`update`] changes; the default changes nothing.
#[derive(Debug, Default)]
pub(crate) struct AccountChanges<'a> {
    /// A new address, which is unverified (`verify` does not apply to it).
    pub email: Option<&'a str>,
    pub username: Option<&'a str>,
    pub full_name: Option<&'a str>,
    pub avatar_url: Patch<&'a str>,
    /// Links this GitHub account, and only if the account has none yet.
    pub link_github: Option<&'a str>,
    /// With `link_github`: the GitHub avatar, which only fills an empty one.
    pub github_avatar: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub role: Option<&'a str>,
    pub is_active: Option<bool>,
    /// Marks the email verified (never unverifies).
    pub verify: bool,
    /// Resets the failure count and lifts the lock.
    pub clear_lockout: bool,
    /// Sets `last_login_at` to now.
    pub stamp_login: bool,
    /// Changes nothing unless this is the account's password hash.
    pub only_if_password_hash: Option<&'a str>,
}

/// The one UPDATE of `auth.users` outside the failed-login count. `None` when the account
/// does not exist, `link_github` is set and the account is already linked, or
/// `only_if_password_hash` is set and is not the account's hash.
pub(crate) async fn update(
    executor: impl PgExecutor<'_>,
    id: UserId,
    changes: &AccountChanges<'_>,
) -> sqlx::Result<Option<User>> {
    let (set_avatar, avatar_url) = patch_parts(&changes.avatar_url);
    query_users!(
        r#"UPDATE auth.users
           SET username = coalesce($2, username),
               full_name = coalesce($3, full_name),
               avatar_url = CASE WHEN $4 THEN $5
                                 WHEN $6::text IS NOT NULL
                                 THEN coalesce(nullif(avatar_url, ''), $7)
                                 ELSE avatar_url END,
               github_id = coalesce($6, github_id),
               password_hash = coalesce($8, password_hash),
               role = coalesce($9, role),
               is_active = coalesce($10, is_active),
               email = coalesce($14, email),
               is_verified = CASE WHEN $14::text IS NOT NULL THEN false
                                  ELSE is_verified OR $11 END,
               failed_login_attempts = CASE WHEN $12 THEN 0 ELSE failed_login_attempts END,
               locked_until = CASE WHEN $12 THEN NULL ELSE locked_until END,
               last_login_at = CASE WHEN $13 THEN now() ELSE last_login_at END
           WHERE id = $1 AND ($6::text IS NULL OR github_id IS NULL)
             AND ($15::text IS NULL OR password_hash = $15)
           RETURNING"#,
        "",
        id as UserId,
        changes.username,
        changes.full_name,
        set_avatar,
        avatar_url,
        changes.link_github,
        changes.github_avatar,
        changes.password_hash,
        changes.role,
        changes.is_active,
        changes.verify,
        changes.clear_lockout,
        changes.stamp_login,
        changes.email,
        changes.only_if_password_hash,
    )
    .fetch_optional(executor)
    .await
}

/// [`update`] of an account that must exist: a missing one is `RowNotFound`.
pub(crate) async fn update_existing(
    executor: impl PgExecutor<'_>,
    id: UserId,
    changes: &AccountChanges<'_>,
) -> sqlx::Result<User> {
    update(executor, id, changes)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}
