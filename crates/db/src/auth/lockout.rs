//! Counting failed passwords on `auth.users`: when an account locks, and for how long.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::ids::UserId;

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
) -> sqlx::Result<FailedLogin> {
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
