//! A gate for races: a test transaction holds accounts' rows while requests queue behind it in
//! a known order, then lets them go. Plain reads take no row locks, so each request has made
//! its checks (read the account, verified a password) by the time it waits to write.

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

/// Waits until `n` statements of this test's database wait for a lock (the gate's callers
/// name it by this name).
// Like the rest of `common`, unused by some test binaries (`dead_code` does not cover imports).
#[allow(unused_imports)]
pub use testkit::locks::wait_for_lock_waiters as until_waiting;
