//! Queries behind the admin API: listing and searching accounts, role and status changes.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::User;
use super::users::{self, AccountChanges, Selection};
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
    let selection = Selection {
        pattern: pattern.as_deref(),
        before: after,
        ..Selection::default()
    };
    users::select(executor, &selection, limit).await
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
    let changes = AccountChanges {
        role: Some(role),
        ..AccountChanges::default()
    };
    users::update_existing(executor, id, &changes).await
}

pub async fn set_active(
    executor: impl PgExecutor<'_>,
    id: UserId,
    active: bool,
) -> Result<User, sqlx::Error> {
    let changes = AccountChanges {
        is_active: Some(active),
        ..AccountChanges::default()
    };
    users::update_existing(executor, id, &changes).await
}

pub async fn unlock(executor: impl PgExecutor<'_>, id: UserId) -> Result<User, sqlx::Error> {
    let changes = AccountChanges {
        clear_lockout: true,
        ..AccountChanges::default()
    };
    users::update_existing(executor, id, &changes).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(super::escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }
}
