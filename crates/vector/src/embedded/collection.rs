//! One embedded collection on disk: `collection.json` (vector size, distance, metadata) and
//! the engine's shard directory, opened once and shared by readers and its single writer.
//!
//! ```text
//! <data_dir>/collections/<name>/collection.json   written last: a directory without it is an
//! <data_dir>/collections/<name>/shard/            interrupted create and is ignored/replaced
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use qdrant_edge::{EdgeShard, OperationError};
use serde::{Deserialize, Serialize};

use super::shard::{ShardPaths, ShardSlot, engine_error, guarded, guarded_close, io_error};
use super::writer::Writer;
use crate::{CollectionParams, Distance, EmbeddedConfig, Payload, VectorError};

const META_FILE: &str = "collection.json";

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
    wal_dir: PathBuf,
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
        let paths = ShardPaths::new(&dir, params, config);
        // Flushed on creation: its files are durable before collection.json makes it visible.
        let shard = paths.create()?;
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
        let paths = ShardPaths::new(&dir, &params, config);
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
        let wal_dir = paths.wal.clone();
        let writer = Writer::spawn(name, Arc::clone(&slot), paths, config.clone())?;
        Ok(Self {
            name: name.to_owned(),
            params,
            dir,
            wal_dir,
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

    /// Stops the writer, then closes the shard (which flushes it); `false` when that flush
    /// failed, or when the writer left an optimizer run holding the shard (the shard is then
    /// left unflushed: a flush cannot meet the run). Blocking; closing again is a no-op.
    pub(crate) fn close(&self) -> bool {
        self.writer.stop();
        if self.writer.left_a_run_behind() {
            return false;
        }
        let shard = self
            .slot
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(shard) = shard
            && guarded_close(shard).is_err()
        {
            tracing::error!(collection = %self.name, "closing the shard failed");
            return false;
        }
        true
    }

    /// Closes the collection and deletes its files. Blocking.
    pub(crate) fn destroy(&self) -> Result<(), VectorError> {
        // Its files go either way.
        let _ = self.close();
        fs::remove_dir_all(&self.dir).map_err(io_error(&self.dir))
    }

    pub(crate) fn wal_dir(&self) -> &Path {
        &self.wal_dir
    }
}

impl Drop for Collection {
    fn drop(&mut self) {
        let _ = self.close();
    }
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
