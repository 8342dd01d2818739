//! The embedded backend: Qdrant's engine (`qdrant-edge`) in-process, one shard per
//! collection under `<data_dir>/collections/`, each with its own writer thread
//! ([`writer`]). Engine calls block, so they run on `spawn_blocking`.
//!
//! Writes are acknowledged before they are flushed ([`crate::EmbeddedConfig::flush_interval`]),
//! so a crash can lose the last ones. `<data_dir>/open.marker` tells: it is written (and
//! synced) at open, before any write, and removed after the final flush of a clean close, but
//! only once the index holds nothing a crash lost: a marker found at open means an unclean
//! stop, and it stays until [`crate::VectorIndex::mark_reconciled`], whoever opens the
//! directory meanwhile.

mod collection;
mod convert;
mod index;
mod shard;
mod writer;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;

use self::collection::Collection;
use self::shard::{io_error, wal_bytes};
use self::writer::WriteOp;
use crate::{EmbeddedConfig, VectorError, validate_collection_name};

/// Qdrant's engine embedded in this process. Cheap to clone; all clones share the data.
#[derive(Debug, Clone)]
pub struct EmbeddedIndex {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: EmbeddedConfig,
    root: PathBuf,
    collections: Mutex<HashMap<String, Arc<Collection>>>,
    /// Serialises creating and deleting collections (blocking sections; never held by async
    /// code), so a create cannot meet the files of a collection still being deleted.
    ddl: Mutex<()>,
    /// Bounds engine reads running on the blocking pool (searches are CPU work).
    reads: Arc<Semaphore>,
    /// Held for the life of the index: one process per data directory.
    _lock: fs::File,
    /// The open marker was there at open (an unclean stop) and nobody has reconciled since.
    unclean: AtomicBool,
}

/// Present while the index is open and after an unclean stop until reconciled.
const OPEN_MARKER: &str = "open.marker";

/// What an embedded collection's maintenance has done, for tests and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedStats {
    pub wal_bytes: u64,
    pub flushes: u64,
    pub optimizations: u64,
    pub wal_compactions: u64,
    pub segments: usize,
    /// Vectors in HNSW-indexed segments (the rest are searched by brute force).
    pub indexed_vectors: usize,
}

impl EmbeddedIndex {
    /// Opens (creating if needed) the data directory and every collection in it.
    pub async fn open(config: EmbeddedConfig) -> Result<Self, VectorError> {
        blocking(move || Self::open_blocking(config)).await
    }

    fn open_blocking(config: EmbeddedConfig) -> Result<Self, VectorError> {
        let root = config.data_dir.join("collections");
        let io = |error: std::io::Error| {
            VectorError::Config(format!(
                "vector data directory {}: {error}",
                config.data_dir.display()
            ))
        };
        fs::create_dir_all(&root).map_err(io)?;
        let lock = fs::File::create(config.data_dir.join(".lock")).map_err(io)?;
        lock.try_lock().map_err(|_| {
            VectorError::Config(format!(
                "vector data directory {} is in use by another process",
                config.data_dir.display()
            ))
        })?;
        let unclean = open_marker(&config.data_dir)?;
        if unclean {
            tracing::warn!(
                data_dir = %config.data_dir.display(),
                "the vector index was not closed cleanly: its last writes may be lost"
            );
        }
        let mut collections = HashMap::new();
        for entry in fs::read_dir(&root).map_err(io)? {
            let dir = entry.map_err(io)?.path();
            if !dir.is_dir() {
                continue;
            }
            if let Some(collection) = Collection::open(dir, &config)? {
                collections.insert(collection.name.clone(), Arc::new(collection));
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                root,
                collections: Mutex::new(collections),
                ddl: Mutex::new(()),
                reads: Arc::new(Semaphore::new(
                    2 * std::thread::available_parallelism().map_or(1, usize::from),
                )),
                _lock: lock,
                unclean: AtomicBool::new(unclean),
            }),
        })
    }

    fn collection(&self, name: &str) -> Result<Arc<Collection>, VectorError> {
        validate_collection_name(name)?;
        self.inner
            .collections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or_else(|| VectorError::UnknownCollection(name.to_owned()))
    }

    /// Names of the collections, sorted.
    pub fn collection_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .collections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        names.sort_unstable();
        names
    }

    /// Whether the last stop was unclean and [`EmbeddedIndex::mark_reconciled`] has not been
    /// called since: acknowledged writes may be missing.
    pub fn may_have_lost_writes(&self) -> bool {
        self.inner.unclean.load(Ordering::SeqCst)
    }

    /// The index was compared with the record and what it lacked was restored (or queued):
    /// a clean close may now remove the open marker.
    pub fn mark_reconciled(&self) {
        self.inner.unclean.store(false, Ordering::SeqCst);
    }

    /// Runs the optimizer on `collection` now and waits for it (it otherwise runs when
    /// writes pause); `true` when it changed anything.
    pub async fn optimize(&self, collection: &str) -> Result<bool, VectorError> {
        self.collection(collection)?.writer.optimize().await
    }

    /// Maintenance counters and the engine's segment figures for `collection`.
    pub async fn stats(&self, collection: &str) -> Result<EmbeddedStats, VectorError> {
        let collection = self.collection(collection)?;
        blocking(move || {
            let info = collection.read(|shard| Ok(shard.info()))?;
            let counters = &collection.writer.stats;
            Ok(EmbeddedStats {
                wal_bytes: wal_bytes(collection.wal_dir()),
                flushes: counters.flushes.load(Ordering::Relaxed),
                optimizations: counters.optimizations.load(Ordering::Relaxed),
                wal_compactions: counters.wal_compactions.load(Ordering::Relaxed),
                segments: info.segments_count,
                indexed_vectors: info.indexed_vectors_count,
            })
        })
        .await
    }

    /// Stops the writers and closes every shard (flushing it), then releases the directory.
    pub async fn close(self) {
        let inner = self.inner;
        // Other clones keep the collections open; the last one closes them on drop.
        let _ = tokio::task::spawn_blocking(move || drop(inner)).await;
    }

    async fn write(&self, collection: &str, op: WriteOp) -> Result<(), VectorError> {
        self.collection(collection)?.writer.write(op).await
    }

    async fn read<T: Send + 'static>(
        &self,
        collection: &str,
        call: impl FnOnce(&Collection) -> Result<T, VectorError> + Send + 'static,
    ) -> Result<T, VectorError> {
        let collection = self.collection(collection)?;
        let _permit = self
            .inner
            .reads
            .acquire()
            .await
            .map_err(|_| VectorError::Unavailable("the index is closing".into()))?;
        blocking(move || call(&collection)).await
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let collections = std::mem::take(
            &mut *self
                .collections
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let mut clean = true;
        for collection in collections.into_values() {
            clean &= collection.close();
        }
        if clean && !self.unclean.load(Ordering::SeqCst) {
            let marker = self.config.data_dir.join(OPEN_MARKER);
            if let Err(error) =
                fs::remove_file(&marker).and_then(|()| sync_dir(&self.config.data_dir))
            {
                tracing::error!(%error, "removing {} failed", marker.display());
            }
        }
    }
}

/// Writes the open marker, durably, before anything can be written; `true` when it was
/// there already (the last stop was unclean).
fn open_marker(data_dir: &Path) -> Result<bool, VectorError> {
    let marker = data_dir.join(OPEN_MARKER);
    let found = marker.try_exists().map_err(io_error(&marker))?;
    if !found {
        fs::File::create(&marker)
            .and_then(|file| file.sync_all())
            .map_err(io_error(&marker))?;
        sync_dir(data_dir).map_err(io_error(data_dir))?;
    }
    Ok(found)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, VectorError> + Send + 'static,
) -> Result<T, VectorError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|error| VectorError::Backend(format!("embedded engine task failed: {error}")))?
}
