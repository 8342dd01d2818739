//! The WAL bound: a WAL above `wal_max_bytes` is compacted by closing the shard, pruning
//! old WAL segments and reopening it; a shard that failed to reopen is tried again by the
//! next command that needs it.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use super::WriterThread;
use crate::VectorError;
use crate::embedded::shard::{guarded_close, wal_bytes};

impl WriterThread {
    pub(super) fn compact_wal_if_needed(&mut self) {
        if wal_bytes(&self.paths.wal) < self.config.wal_max_bytes {
            return;
        }
        let mut slot = self.slot.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(shard) = slot.take() {
            // Dropping the shard flushes it; nothing else can hold its locks now.
            if guarded_close(shard).is_ok() {
                self.flush_due = None;
            } else {
                tracing::error!(collection = %self.collection, "closing the shard for WAL compaction failed");
            }
        }
        match self.paths.load() {
            Ok(shard) => {
                *slot = Some(shard);
                self.stats.wal_compactions.fetch_add(1, Ordering::Relaxed);
            }
            // Left closed: the next command tries again and reports the error meanwhile.
            Err(error) => {
                tracing::error!(collection = %self.collection, %error, "reopening after WAL compaction failed");
            }
        }
    }

    pub(super) fn reopen(&mut self) -> Result<(), VectorError> {
        let mut slot = self.slot.write().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(self.paths.load().map_err(|error| {
                VectorError::Unavailable(format!(
                    "collection `{}` is closed and could not be reopened: {error}",
                    self.collection
                ))
            })?);
        }
        Ok(())
    }
}
