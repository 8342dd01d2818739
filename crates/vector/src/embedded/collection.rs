//! One embedded collection on disk: `collection.json` (vector size, distance, metadata) and
//! the engine's shard directory, opened once and shared by readers and its single writer.
//!
//! ```text
//! <data_dir>/collections/<name>/collection.json   written last: a directory without it is an
//! <data_dir>/collections/<name>/shard/            interrupted create and is ignored/replaced
//! ```

use std::fs;
use std::io::Write;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use qdrant_edge::{
    DEFAULT_VECTOR_NAME, EdgeConfig, EdgeConfigBuilder, EdgeOptimizersConfig, EdgeShard,
    EdgeVectorParamsBuilder, OperationError, WalOptions,
};
use serde::{Deserialize, Serialize};

use super::convert;
use super::writer::Writer;
use crate::{CollectionParams, Distance, EmbeddedConfig, Payload, VectorError};

const META_FILE: &str = "collection.json";
const SHARD_DIR: &str = "shard";
const WAL_DIR: &str = "wal";

/// The open shard; `None` after close, or while a WAL compaction failed to reopen it.
/// Readers hold the read lock for the length of an engine call, so a compaction (write
/// lock) waits for them and they wait for it.
pub(crate) type ShardSlot = RwLock<Option<EdgeShard>>;

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    dimension: usize,
    distance: String,
    metadata: Payload,
}

pub(crate) struct Collection {
    pub(crate) name: String,
    pub(crate) params: CollectionParams,
    dir: PathBuf,
    slot: Arc<ShardSlot>,
    pub(crate) writer: Writer,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The shard's own paths, used by the writer for WAL compaction.
#[derive(Debug, Clone)]
pub(crate) struct ShardPaths {
    pub(crate) shard: PathBuf,
    pub(crate) wal: PathBuf,
    pub(crate) config: EdgeConfig,
}

impl ShardPaths {
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

impl Collection {
    /// Creates the collection's files and opens it.
    pub(crate) fn create(
        root: &Path,
        name: &str,
        params: &CollectionParams,
        config: &EmbeddedConfig,
    ) -> Result<Self, VectorError> {
        let dir = root.join(name);
        if dir.exists() {
            // Only reachable for an interrupted create (no collection.json): start over.
            fs::remove_dir_all(&dir).map_err(io_error(&dir))?;
        }
        fs::create_dir_all(dir.join(SHARD_DIR)).map_err(io_error(&dir))?;
        let paths = shard_paths(&dir, params, config);
        let shard = EdgeShard::new(&paths.shard, paths.config.clone())
            .map_err(|error| engine_error("cannot create the shard", error))?;
        // Make the empty shard's files durable before the collection becomes visible.
        guarded_flush(&shard)?;
        let meta = Meta {
            dimension: params.dimension,
            distance: params.distance.as_str().to_owned(),
            metadata: params.metadata.clone(),
        };
        write_atomically(
            &dir.join(META_FILE),
            &serde_json::to_vec_pretty(&meta).map_err(|error| {
                VectorError::Backend(format!("cannot encode collection metadata: {error}"))
            })?,
        )?;
        Self::start(name, dir, params.clone(), shard, paths, config)
    }

    /// Opens an existing collection; `None` when `dir` holds no complete collection.
    pub(crate) fn open(dir: PathBuf, config: &EmbeddedConfig) -> Result<Option<Self>, VectorError> {
        let meta_path = dir.join(META_FILE);
        let bytes = match fs::read(&meta_path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error(&meta_path)(error)),
        };
        let meta: Meta = serde_json::from_slice(&bytes).map_err(|error| {
            VectorError::Backend(format!("{} is not valid: {error}", meta_path.display()))
        })?;
        let distance = match meta.distance.as_str() {
            "Cosine" => Distance::Cosine,
            "Dot" => Distance::Dot,
            "Euclid" => Distance::Euclid,
            other => {
                return Err(VectorError::Backend(format!(
                    "{}: unknown distance `{other}`",
                    meta_path.display()
                )));
            }
        };
        let params = CollectionParams {
            dimension: meta.dimension,
            distance,
            metadata: meta.metadata,
        };
        let name = dir
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default()
            .to_owned();
        let paths = shard_paths(&dir, &params, config);
        let shard = paths.load()?;
        Self::start(&name, dir, params, shard, paths, config).map(Some)
    }

    fn start(
        name: &str,
        dir: PathBuf,
        params: CollectionParams,
        shard: EdgeShard,
        paths: ShardPaths,
        config: &EmbeddedConfig,
    ) -> Result<Self, VectorError> {
        let slot = Arc::new(RwLock::new(Some(shard)));
        let writer = Writer::spawn(name, Arc::clone(&slot), paths, config.clone())?;
        Ok(Self {
            name: name.to_owned(),
            params,
            dir,
            slot,
            writer,
        })
    }

    /// Runs a read-only engine call. Blocking: call from `spawn_blocking`.
    pub(crate) fn read<T>(
        &self,
        call: impl FnOnce(&EdgeShard) -> Result<T, OperationError>,
    ) -> Result<T, VectorError> {
        let guard = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        let shard = guard.as_ref().ok_or_else(|| {
            VectorError::Unavailable(format!("collection `{}` is closed", self.name))
        })?;
        guarded(|| call(shard))?.map_err(|error| engine_error("query failed", error))
    }

    /// Stops the writer, then closes the shard (which flushes it). Blocking.
    pub(crate) fn close(&self) {
        self.writer.stop();
        let shard = self
            .slot
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(shard) = shard
            && guarded(move || drop(shard)).is_err()
        {
            tracing::error!(collection = %self.name, "closing the shard failed");
        }
    }

    /// Closes the collection and deletes its files. Blocking.
    pub(crate) fn destroy(&self) -> Result<(), VectorError> {
        self.close();
        fs::remove_dir_all(&self.dir).map_err(io_error(&self.dir))
    }

    pub(crate) fn wal_dir(&self) -> PathBuf {
        self.dir.join(SHARD_DIR).join(WAL_DIR)
    }
}

impl Drop for Collection {
    fn drop(&mut self) {
        self.close();
    }
}

fn shard_paths(dir: &Path, params: &CollectionParams, config: &EmbeddedConfig) -> ShardPaths {
    let vector =
        EdgeVectorParamsBuilder::new(params.dimension, convert::distance(params.distance)).build();
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
    ShardPaths {
        wal: shard.join(WAL_DIR),
        shard,
        config: edge_config,
    }
}

/// Bounds the WAL while the shard is closed. qdrant-edge 0.7.2 appends to its WAL but never
/// replays or truncates it; durability comes from `flush()` of the segments. Deleting
/// `closed-*` segments is what Qdrant's own `prefix_truncate` does. The newest closed
/// segment and the open ones stay, so operation numbers keep rising after the reopen (points
/// remember the number of their last write and ignore older ones).
pub(crate) fn prune_wal(wal_dir: &Path) -> Result<(), VectorError> {
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

pub(crate) fn engine_error(context: &str, error: OperationError) -> VectorError {
    VectorError::Backend(format!("{context}: {error}"))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> VectorError + '_ {
    move |error| VectorError::Backend(format!("{}: {error}", path.display()))
}

/// Write to a temporary file, fsync, rename over the target, fsync the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), VectorError> {
    let temporary = path.with_extension("json.tmp");
    let mut file = fs::File::create(&temporary).map_err(io_error(&temporary))?;
    file.write_all(bytes).map_err(io_error(&temporary))?;
    file.sync_all().map_err(io_error(&temporary))?;
    fs::rename(&temporary, path).map_err(io_error(path))?;
    if let Some(parent) = path.parent() {
        fs::File::open(parent)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error(parent))?;
    }
    Ok(())
}
