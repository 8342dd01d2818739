//! The engine's shard of one collection at its lowest level: where its files live, how it is
//! configured and reopened, the size of its WAL, and the guards every engine call runs under.
//! Both the collection (reads, open, close) and its writer (writes, flushes, WAL compaction)
//! build on this module; it uses neither.
//!
//! ```text
//! <collection dir>/shard/       the engine's segments
//! <collection dir>/shard/wal/   its write-ahead log, pruned on reopen (see [`prune_wal`])
//! ```

use std::fs;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use qdrant_edge::{
    DEFAULT_VECTOR_NAME, EdgeConfig, EdgeConfigBuilder, EdgeOptimizersConfig, EdgeShard,
    EdgeVectorParamsBuilder, OperationError, WalOptions,
};

use super::convert;
use crate::{CollectionParams, EmbeddedConfig, VectorError};

const SHARD_DIR: &str = "shard";
const WAL_DIR: &str = "wal";

/// The open shard; `None` after close, or while a WAL compaction failed to reopen it.
/// Readers hold the read lock for the length of an engine call, so a compaction (write
/// lock) waits for them and they wait for it.
pub(crate) type ShardSlot = RwLock<Option<EdgeShard>>;

/// Where a collection's shard lives and the configuration it is opened with.
#[derive(Debug, Clone)]
pub(crate) struct ShardPaths {
    pub(crate) shard: PathBuf,
    pub(crate) wal: PathBuf,
    pub(crate) config: EdgeConfig,
}

impl ShardPaths {
    /// The shard under the collection directory `dir`, configured for `params`, with WAL
    /// segments of an eighth of [`EmbeddedConfig::wal_max_bytes`] each.
    pub(crate) fn new(dir: &Path, params: &CollectionParams, config: &EmbeddedConfig) -> Self {
        let vector =
            EdgeVectorParamsBuilder::new(params.dimension, convert::distance(params.distance))
                .build();
        let optimizers = EdgeOptimizersConfig {
            indexing_threshold: config.indexing_threshold_kb,
            ..EdgeOptimizersConfig::default()
        };
        let segment_capacity = usize::try_from(config.wal_max_bytes / 8).unwrap_or(usize::MAX);
        let edge_config = EdgeConfigBuilder::new()
            .vector(DEFAULT_VECTOR_NAME, vector)
            .optimizers(optimizers)
            .wal_options(WalOptions {
                segment_capacity,
                segment_queue_len: 0,
                retain_closed: NonZeroUsize::MIN,
            })
            .build();
        let shard = dir.join(SHARD_DIR);
        Self {
            wal: shard.join(WAL_DIR),
            shard,
            config: edge_config,
        }
    }

    /// Creates an empty shard (the directory must hold no segments) and flushes it, so its
    /// files are durable before anything refers to them.
    pub(crate) fn create(&self) -> Result<EdgeShard, VectorError> {
        fs::create_dir_all(&self.shard).map_err(io_error(&self.shard))?;
        let shard = EdgeShard::new(&self.shard, self.config.clone())
            .map_err(|error| engine_error("cannot create the shard", error))?;
        guarded_flush(&shard)?;
        Ok(shard)
    }

    /// Reopens the shard after pruning the WAL (see [`prune_wal`]).
    pub(crate) fn load(&self) -> Result<EdgeShard, VectorError> {
        prune_wal(&self.wal)?;
        EdgeShard::load(&self.shard, Some(self.config.clone())).map_err(|error| {
            engine_error(
                &format!("cannot open the shard at {}", self.shard.display()),
                error,
            )
        })
    }
}

/// Bounds the WAL while the shard is closed. qdrant-edge 0.7.2 appends to its WAL but never
/// replays or truncates it; durability comes from `flush()` of the segments. Deleting
/// `closed-*` segments is what Qdrant's own `prefix_truncate` does. The newest closed
/// segment and the open ones stay, so operation numbers keep rising after the reopen (points
/// remember the number of their last write and ignore older ones).
fn prune_wal(wal_dir: &Path) -> Result<(), VectorError> {
    let entries = match fs::read_dir(wal_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(io_error(wal_dir)(error)),
    };
    let mut closed: Vec<(u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let start = name.strip_prefix("closed-")?.parse::<u64>().ok()?;
            Some((start, entry.path()))
        })
        .collect();
    closed.sort_unstable_by_key(|(start, _)| *start);
    closed.pop();
    for (_, path) in closed {
        fs::remove_file(&path).map_err(io_error(&path))?;
    }
    Ok(())
}

/// Bytes the WAL files take (segments are preallocated, so this counts capacity).
pub(crate) fn wal_bytes(wal_dir: &Path) -> u64 {
    fs::read_dir(wal_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.metadata().ok())
                .filter(fs::Metadata::is_file)
                .map(|metadata| metadata.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Runs an engine call, turning a panic (the engine `expect`s in places) into an error.
pub(crate) fn guarded<T>(call: impl FnOnce() -> T) -> Result<T, VectorError> {
    catch_unwind(AssertUnwindSafe(call)).map_err(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        VectorError::Backend(format!("embedded engine failed: {message}"))
    })
}

/// `EdgeShard::flush` panics if another thread holds its locks; callers guarantee there is
/// none (only the writer thread writes and flushes), and an I/O failure becomes an error.
pub(crate) fn guarded_flush(shard: &EdgeShard) -> Result<(), VectorError> {
    guarded(|| shard.flush())
}

/// Closes a shard taken out of its slot. Dropping it flushes it, and the flush cannot meet
/// contention: taking it out needed the slot's write lock, so no other call is inside it.
pub(crate) fn guarded_close(shard: EdgeShard) -> Result<(), VectorError> {
    guarded(move || drop(shard))
}

pub(crate) fn engine_error(context: &str, error: OperationError) -> VectorError {
    VectorError::Backend(format!("{context}: {error}"))
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> VectorError + '_ {
    move |error| VectorError::Backend(format!("{}: {error}", path.display()))
}
