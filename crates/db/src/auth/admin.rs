//! Queries behind the admin API: listing and searching accounts, role and status changes.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::User;
use crate::ids::UserId;

/// Newest accounts first, `limit` at a time, after the `(created_at, id)` of the last row
/// of the previous page (keyset pagination: stable and cheap at any depth). `search`
/// matches email, username or full name, case-insensitively.
pub async fn list_users(
    executor: impl PgExecutor<'_>,
    search: Option<&str>,
    after: Option<(DateTime<Utc>, UserId)>,
    limit: i64,
) -> Result<Vec<User>, sqlx::Error> {
    let pattern = search.map(|term| format!("%{}%", escape_like(term)));
    let (after_at, after_id) = match after {
        Some((at, id)) => (Some(at), Some(id)),
        None => (None, None),
    };
    sqlx::query_as!(
        User,
        r#"SELECT id AS "id: UserId", email, username, full_name, password_hash, role,
                  is_active, is_verified, github_id, avatar_url, last_login_at,
                  failed_login_attempts, locked_until, created_at, updated_at
           FROM auth.users
           WHERE ($1::text IS NULL OR email ILIKE $1 OR username ILIKE $1 OR full_name ILIKE $1)
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
           ORDER BY created_at DESC, id DESC
           LIMIT $4"#,
        pattern,
        after_at,
        after_id as Option<UserId>,
        limit,
    )
    .fetch_all(executor)
    .await
}

/// `%`, `_` and `\` in a search term match themselves.
fn escape_like(term: &str) -> String {
    term.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub async fn set_role(
    executor: impl PgExecutor<'_>,
    id: UserId,
    role: &str,
) -> Result<User, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"UPDATE auth.users SET role = $2 WHERE id = $1
           RETURNING id AS "id: UserId", email, username, full_name, password_hash, role,
                     is_active, is_verified, github_id, avatar_url, last_login_at,
                     failed_login_attempts, locked_until, created_at, updated_at"#,
        id as UserId,
        role,
    )
    .fetch_one(executor)
    .await
}

pub async fn set_active(
    executor: impl PgExecutor<'_>,
    id: UserId,
    active: bool,
) -> Result<User, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"UPDATE auth.users SET is_active = $2 WHERE id = $1
           RETURNING id AS "id: UserId", email, username, full_name, password_hash, role,
                     is_active, is_verified, github_id, avatar_url, last_login_at,
                     failed_login_attempts, locked_until, created_at, updated_at"#,
        id as UserId,
        active,
    )
    .fetch_one(executor)
    .await
}

pub async fn unlock(executor: impl PgExecutor<'_>, id: UserId) -> Result<User, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"UPDATE auth.users SET failed_login_attempts = 0, locked_until = NULL WHERE id = $1
           RETURNING id AS "id: UserId", email, username, full_name, password_hash, role,
                     is_active, is_verified, github_id, avatar_url, last_login_at,
                     failed_login_attempts, locked_until, created_at, updated_at"#,
        id as UserId,
    )
    .fetch_one(executor)
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(super::escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }
}
