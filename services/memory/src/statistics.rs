//! Fresh planner statistics after a bulk ingestion. PostgreSQL plans from statistics that
//! autovacuum refreshes only after a delay; right after thousands of rows arrive, queries
//! would be planned for the tables as they were. A large batch therefore starts an
//! `ANALYZE` of the memory tables in the background, at most one at a time.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use db::PgPool;

#[derive(Debug, Default)]
pub struct StatisticsRefresh {
    running: AtomicBool,
}

impl StatisticsRefresh {
    /// Starts `ANALYZE` on its own task unless one is running already (then the running
    /// one will see the new rows or the next batch starts another); returns whether it
    /// started one. The caller does not wait for it.
    pub fn start(self: &Arc<Self>, pool: PgPool) -> bool {
        if self
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let running = Running(Arc::clone(self));
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match db::memory::documents::analyze(&pool).await {
                Ok(()) => tracing::debug!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "memory tables analyzed after a bulk ingest"
                ),
                Err(error) => tracing::warn!(%error, "analyzing the memory tables failed"),
            }
            drop(running);
        });
        true
    }
}

/// Clears the flag when the task ends, however it ends.
struct Running(Arc<StatisticsRefresh>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}
