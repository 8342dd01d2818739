//! Waiting for lock waits: a race test holds rows (or an uncommitted key) in one transaction,
//! sends requests that must queue behind it, and goes on only once they do.

use std::time::Duration;

use sqlx::PgPool;

/// How long the statements have to reach their locks, however loaded the machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// Waits until exactly `n` statements of `pool`'s database wait for a lock (transactions
/// stopped at a gate, inserts waiting for another transaction's uncommitted row); fails the
/// test after 30 seconds.
pub async fn wait_for_lock_waiters(pool: &PgPool, n: i64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .expect("waiting");
        if waiting == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{waiting} waiting, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
