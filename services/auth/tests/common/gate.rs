//! A gate for races: a test transaction holds accounts' rows while requests queue behind it in
//! a known order, then lets them go. Plain reads take no row locks, so each request has made
//! its checks (read the account, verified a password) by the time it waits to write.

use std::time::Duration;

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

pub struct Gate {
    tx: Transaction<'static, Postgres>,
}

impl Gate {
    /// Holds the rows of `user_ids` as an update does (rows referring to them may still be
    /// added) until [`Gate::open`].
    pub async fn lock(pool: &PgPool, user_ids: &[&str]) -> Self {
        let ids: Vec<uuid::Uuid> = user_ids
            .iter()
            .map(|id| id.parse().expect("uuid"))
            .collect();
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("SELECT 1 FROM auth.users WHERE id = ANY($1) FOR NO KEY UPDATE")
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .expect("lock");
        Self { tx }
    }

    /// The gate's transaction: what it writes commits when the gate opens.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Commits, letting the waiting requests through in the order they queued.
    pub async fn open(self) {
        self.tx.commit().await.expect("commit");
    }
}

/// Waits until `n` statements of this test's database wait for a lock.
pub async fn until_waiting(pool: &PgPool, n: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
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
