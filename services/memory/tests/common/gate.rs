//! A gate that holds every write of chunks: a table lock on `memory.chunks`, so that the
//! transactions of ingestions stop after their documents are written and before they commit,
//! while a test sends what should meet them there.

use sqlx::{PgPool, Postgres, Transaction};

/// Every write of chunks waits while this is open.
pub struct Gate(pub Transaction<'static, Postgres>);

impl Gate {
    pub async fn close(pool: &PgPool) -> Self {
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("LOCK TABLE memory.chunks IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .expect("lock");
        Self(tx)
    }

    pub async fn open(self) {
        self.0.commit().await.expect("commit");
    }
}
