//! The embedded backend: Qdrant's engine (`qdrant-edge`) in-process, one shard per
//! collection under `<data_dir>/collections/`, each with its own writer thread
//! ([`writer`]). Engine calls block, so they run on `spawn_blocking`.

mod collection;
mod convert;
mod writer;

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    CountRequest, NamedQuery, QueryEnum, QueryRequest, ScoringQuery, ScrollRequest as EdgeScroll,
    WithPayloadInterface, WithVector,
};
use tokio::sync::Semaphore;
use uuid::Uuid;

use self::collection::{Collection, wal_bytes};
use self::writer::WriteOp;
use crate::types::{validate_limit, validate_vector};
use crate::{
    CollectionInfo, CollectionParams, EmbeddedConfig, Filter, PayloadField, Point, ScoredPoint,
    ScrollPage, ScrollRequest, SearchRequest, VectorError, VectorIndex, validate_collection_name,
};

/// Largest vector size accepted (Qdrant's own limit is 65536).
const MAX_DIMENSION: usize = 65_536;

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
}

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
                wal_bytes: wal_bytes(&collection.wal_dir()),
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
        for collection in collections.into_values() {
            collection.close();
        }
    }
}

async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, VectorError> + Send + 'static,
) -> Result<T, VectorError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|error| VectorError::Backend(format!("embedded engine task failed: {error}")))?
}

#[async_trait]
impl VectorIndex for EmbeddedIndex {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn health(&self) -> Result<(), VectorError> {
        let collections: Vec<_> = self
            .inner
            .collections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        if let Some(stopped) = collections.iter().find(|c| !c.writer.is_running()) {
            return Err(VectorError::Unavailable(format!(
                "the writer of collection `{}` has stopped",
                stopped.name
            )));
        }
        if !self.inner.root.is_dir() {
            return Err(VectorError::Unavailable(format!(
                "{} is gone",
                self.inner.root.display()
            )));
        }
        Ok(())
    }

    async fn collection_info(&self, name: &str) -> Result<Option<CollectionInfo>, VectorError> {
        let collection = match self.collection(name) {
            Ok(collection) => collection,
            Err(VectorError::UnknownCollection(_)) => return Ok(None),
            Err(error) => return Err(error),
        };
        let params = collection.params.clone();
        let points =
            blocking(move || collection.read(|shard| Ok(shard.info().points_count))).await?;
        Ok(Some(CollectionInfo {
            params,
            points: points as u64,
        }))
    }

    async fn create_collection(
        &self,
        name: &str,
        params: &CollectionParams,
    ) -> Result<(), VectorError> {
        validate_collection_name(name)?;
        if params.dimension == 0 || params.dimension > MAX_DIMENSION {
            return Err(VectorError::InvalidRequest(format!(
                "dimension must be between 1 and {MAX_DIMENSION}, got {}",
                params.dimension
            )));
        }
        let index = self.clone();
        let name = name.to_owned();
        let params = params.clone();
        blocking(move || {
            let inner = &index.inner;
            let _ddl = inner.ddl.lock().unwrap_or_else(PoisonError::into_inner);
            if index.collection(&name).is_ok() {
                return Err(VectorError::CollectionExists(name));
            }
            let collection = Collection::create(&inner.root, &name, &params, &inner.config)?;
            inner
                .collections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name, Arc::new(collection));
            Ok(())
        })
        .await
    }

    async fn create_payload_index(
        &self,
        collection: &str,
        field: &PayloadField,
    ) -> Result<(), VectorError> {
        let path = convert::json_path(&field.name)?;
        let schema = convert::field_schema(field.kind);
        let (key, wanted) = (path.clone(), schema.clone());
        let exists = self
            .read(collection, move |collection| {
                collection.read(move |shard| {
                    Ok(shard.info().payload_schema.get(&key).is_some_and(|info| {
                        qdrant_edge::PayloadFieldSchema::FieldType(info.data_type) == wanted
                    }))
                })
            })
            .await?;
        if exists {
            return Ok(());
        }
        self.write(collection, WriteOp::CreateIndex(path, schema))
            .await
    }

    async fn delete_collection(&self, name: &str) -> Result<bool, VectorError> {
        validate_collection_name(name)?;
        let index = self.clone();
        let name = name.to_owned();
        blocking(move || {
            let inner = &index.inner;
            let _ddl = inner.ddl.lock().unwrap_or_else(PoisonError::into_inner);
            let removed = inner
                .collections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&name);
            match removed {
                None => Ok(false),
                Some(collection) => collection.destroy().map(|()| true),
            }
        })
        .await
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<(), VectorError> {
        let target = self.collection(collection)?;
        let dimension = target.params.dimension;
        for point in &points {
            validate_vector(collection, dimension, &point.vector)?;
        }
        if points.is_empty() {
            return Ok(());
        }
        let points = points.into_iter().map(convert::point).collect();
        target.writer.write(WriteOp::Upsert(points)).await
    }

    async fn delete_points(&self, collection: &str, ids: &[Uuid]) -> Result<(), VectorError> {
        let target = self.collection(collection)?;
        if ids.is_empty() {
            return Ok(());
        }
        target
            .writer
            .write(WriteOp::DeleteIds(convert::point_ids(ids)))
            .await
    }

    async fn delete_by_filter(&self, collection: &str, filter: &Filter) -> Result<(), VectorError> {
        filter.validate_for_delete()?;
        let filter = convert::filter(filter)?;
        self.write(collection, WriteOp::DeleteFilter(filter)).await
    }

    async fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
    ) -> Result<Vec<ScoredPoint>, VectorError> {
        validate_limit(request.limit)?;
        let dimension = self.collection(collection)?.params.dimension;
        validate_vector(collection, dimension, &request.vector)?;
        let query = QueryRequest {
            prefetches: Vec::new(),
            query: Some(ScoringQuery::Vector(QueryEnum::Nearest(
                NamedQuery::default_dense(request.vector.clone()),
            ))),
            filter: request.filter.as_ref().map(convert::filter).transpose()?,
            score_threshold: request.score_threshold.map(OrderedFloat),
            limit: request.limit,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(request.with_payload),
        };
        let hits = self
            .read(collection, move |c| c.read(move |shard| shard.query(query)))
            .await?;
        hits.into_iter()
            .map(|hit| {
                Ok(ScoredPoint {
                    id: convert::uuid(hit.id)?,
                    score: hit.score,
                    payload: convert::payload(hit.payload),
                })
            })
            .collect()
    }

    async fn count(&self, collection: &str, filter: Option<&Filter>) -> Result<u64, VectorError> {
        let request = CountRequest {
            filter: filter.map(convert::filter).transpose()?,
            exact: true,
        };
        let count = self
            .read(collection, move |c| {
                c.read(move |shard| shard.count(request))
            })
            .await?;
        Ok(count as u64)
    }

    async fn scroll_ids(
        &self,
        collection: &str,
        request: &ScrollRequest,
    ) -> Result<ScrollPage, VectorError> {
        validate_limit(request.limit)?;
        let scroll = EdgeScroll {
            offset: request.offset.map(qdrant_edge::PointId::Uuid),
            limit: Some(request.limit),
            filter: request.filter.as_ref().map(convert::filter).transpose()?,
            with_payload: Some(WithPayloadInterface::Bool(false)),
            with_vector: WithVector::Bool(false),
            order_by: None,
        };
        let (records, next) = self
            .read(collection, move |c| {
                c.read(move |shard| shard.scroll(scroll))
            })
            .await?;
        Ok(ScrollPage {
            ids: records
                .into_iter()
                .map(|record| convert::uuid(record.id))
                .collect::<Result<_, _>>()?,
            next_offset: next.map(convert::uuid).transpose()?,
        })
    }
}
