//! When the writer runs the optimizer and how it answers those waiting for it. The optimizer
//! runs on the writer thread: `flush()` cannot meet it (the engine `expect`s its locks free),
//! so writes queue behind a run.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::WriterThread;
use crate::VectorError;
use crate::embedded::shard::{engine_error, guarded};

impl WriterThread {
    pub(super) fn answer_optimize_waiters(&mut self, result: &Result<bool, VectorError>) {
        for reply in std::mem::take(&mut self.optimize_waiters) {
            let _ = reply.send(match result {
                Ok(changed) => Ok(*changed),
                Err(error) => Err(VectorError::Backend(error.to_string())),
            });
        }
    }

    pub(super) fn optimize(&mut self) -> Result<bool, VectorError> {
        let changed = self.with_shard(|shard| {
            guarded(|| shard.optimize())?.map_err(|error| engine_error("optimize failed", error))
        })?;
        // A run that changed nothing leaves pending writes to the flush interval.
        if changed {
            self.flush()?;
        }
        self.dirty = false;
        self.unoptimized_points = 0;
        self.stats.optimizations.fetch_add(1, Ordering::Relaxed);
        Ok(changed)
    }

    pub(super) fn optimize_logged(&mut self) {
        let started = Instant::now();
        match self.optimize() {
            Ok(changed) => tracing::debug!(
                collection = %self.collection,
                changed,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "vector optimizer ran"
            ),
            Err(error) => {
                // Searches still work on unoptimized segments; try again after more writes.
                self.dirty = false;
                tracing::error!(collection = %self.collection, %error, "vector optimizer failed");
            }
        }
    }
}
