//! Queries behind the admin API: listing and searching accounts, role and status changes.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

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
) -> sqlx::Result<Vec<User>> {
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

/// The acting admin's account and the one they act on, read afresh and locked until the
/// transaction ends (as an update locks them: rows referring to them may still be added), in
/// id order: two admins acting on each other at once queue instead of deadlocking, and the
/// second reads what the first did. `None` for an account that does not exist.
pub async fn lock_actor_and_subject(
    conn: &mut PgConnection,
    actor: UserId,
    subject: UserId,
) -> sqlx::Result<(Option<User>, Option<User>)> {
    let (first, second) = match actor <= subject {
        true => (actor, subject),
        false => (subject, actor),
    };
    let first_row = users::lock_for_sign_in(&mut *conn, first).await?;
    let second_row = match second == first {
        true => first_row.clone(),
        false => users::lock_for_sign_in(&mut *conn, second).await?,
    };
    Ok(match first == actor {
        true => (first_row, second_row),
        false => (second_row, first_row),
    })
}

pub async fn set_role(executor: impl PgExecutor<'_>, id: UserId, role: &str) -> sqlx::Result<User> {
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
) -> sqlx::Result<User> {
    let changes = AccountChanges {
        is_active: Some(active),
        ..AccountChanges::default()
    };
    users::update_existing(executor, id, &changes).await
}

pub async fn unlock(executor: impl PgExecutor<'_>, id: UserId) -> sqlx::Result<User> {
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
