//! The legacy user import: reads the old Node auth service's `public.users` and records which
//! `auth.users` account each of its rows became (`auth.legacy_user_map`).
//!
//! Every function takes the caller's connection; `migrator legacy import-users` runs them all
//! in one transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::ids::UserId;

/// One row of the legacy `public.users` table, as the old Node service created it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LegacyUser {
    pub id: i32,
    pub email: String,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub full_name: Option<String>,
    pub password_hash: String,
    pub role: Option<String>,
    /// `TIMESTAMP` (no zone) in the legacy table, read in the zone given to [`legacy_users`].
    pub created_at: Option<DateTime<Utc>>,
}

/// Whether the legacy table exists in this database.
pub async fn legacy_table_exists(conn: &mut PgConnection) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT to_regclass('public.users') IS NOT NULL AS "exists!""#)
        .fetch_one(conn)
        .await
}

/// Makes concurrent imports queue: the second one starts after the first commits and then
/// sees its rows as already imported. Registrations and logins are not blocked.
pub async fn lock_for_import(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("LOCK TABLE auth.legacy_user_map IN SHARE ROW EXCLUSIVE MODE")
        .execute(conn)
        .await?;
    Ok(())
}

/// The only query here the `query!` macros cannot check: `public.users` belongs to the old
/// service, not to our migrations, so it exists in no database the macros compile against.
/// It is a constant (nothing is built at run time) and read into [`LegacyUser`] by name, so a
/// legacy table with a missing or differently typed column fails with a clear decode error.
const LEGACY_USERS: &str = "
    SELECT id, email, username, first_name, last_name, full_name, password_hash, role,
           created_at AT TIME ZONE $1::text AS created_at
    FROM public.users
    ORDER BY id";

/// Every legacy row, oldest id first. `time_zone` is the zone the old service wrote its
/// zone-less timestamps in (an IANA name such as `UTC` or `Europe/Berlin`).
pub async fn legacy_users(
    conn: &mut PgConnection,
    time_zone: &str,
) -> sqlx::Result<Vec<LegacyUser>> {
    sqlx::query_as::<_, LegacyUser>(LEGACY_USERS)
        .bind(time_zone)
        .fetch_all(conn)
        .await
}

/// A legacy row already imported by an earlier run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportedLegacyUser {
    pub legacy_id: i32,
    pub user_id: UserId,
}

pub async fn imported(conn: &mut PgConnection) -> sqlx::Result<Vec<ImportedLegacyUser>> {
    sqlx::query_as!(
        ImportedLegacyUser,
        r#"SELECT legacy_id, user_id AS "user_id: UserId"
           FROM auth.legacy_user_map ORDER BY legacy_id"#
    )
    .fetch_all(conn)
    .await
}

/// An account's identity as the unique indexes see it: lower-cased email and username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountKeys {
    pub id: UserId,
    pub email_lower: String,
    pub username_lower: String,
}

/// Every account's keys, to find legacy rows that would collide before inserting any.
pub async fn account_keys(conn: &mut PgConnection) -> sqlx::Result<Vec<AccountKeys>> {
    sqlx::query_as!(
        AccountKeys,
        r#"SELECT id AS "id: UserId", lower(email) AS "email_lower!",
                  lower(username) AS "username_lower!"
           FROM auth.users"#
    )
    .fetch_all(conn)
    .await
}

/// An account to create from a legacy row, already checked and normalised.
#[derive(Debug, Clone)]
pub struct ImportedUser<'a> {
    pub legacy_id: i32,
    pub email: &'a str,
    pub username: &'a str,
    pub full_name: &'a str,
    /// Kept as the legacy bcrypt hash; auth verifies it and rehashes to argon2id at login.
    pub password_hash: &'a str,
    pub role: &'a str,
    /// `None` (the legacy row had none) means the time of the import.
    pub created_at: Option<DateTime<Utc>>,
}

/// Creates the account and its map row in one statement; returns the new account's id.
pub async fn insert_imported(
    conn: &mut PgConnection,
    user: &ImportedUser<'_>,
) -> sqlx::Result<UserId> {
    sqlx::query_scalar!(
        r#"WITH account AS (
               INSERT INTO auth.users (email, username, full_name, password_hash, role, created_at)
               VALUES ($2, $3, $4, $5, $6, coalesce($7, now()))
               RETURNING id
           )
           INSERT INTO auth.legacy_user_map (legacy_id, user_id)
           SELECT $1, id FROM account
           RETURNING user_id AS "user_id: UserId""#,
        user.legacy_id,
        user.email,
        user.username,
        user.full_name,
        user.password_hash,
        user.role,
        user.created_at,
    )
    .fetch_one(conn)
    .await
}
