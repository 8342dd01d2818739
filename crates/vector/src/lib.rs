//! The vector index seam: one trait, [`VectorIndex`], with two backends that behave the same
//! for every operation it offers —
//!
//! - [`RemoteIndex`]: a Qdrant server over gRPC (`qdrant-client`), for compose and production;
//! - [`EmbeddedIndex`]: Qdrant's engine in-process (`qdrant-edge`), persisting under a data
//!   directory, the default when no Qdrant is configured.
//!
//! [`connect`] picks one from [`VectorConfig`]. Collections remember the embedding model and
//! dimension that filled them ([`guard`]); [`VectorIndex::ensure_collection`] refuses to open
//! one with another.

mod config;
mod embedded;
mod error;
mod filter;
pub mod guard;
mod remote;
mod types;

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

pub use config::{Backend, BackendKind, EmbeddedConfig, RemoteConfig, VectorConfig};
pub use embedded::{EmbeddedIndex, EmbeddedStats};
pub use error::VectorError;
pub use filter::{Condition, DatetimeRange, Filter, NumberRange};
pub use remote::RemoteIndex;
/// Our types as Qdrant gRPC messages and back; shared with the test server.
pub use remote::convert as grpc;
pub use types::{
    CollectionInfo, CollectionParams, CollectionSpec, Distance, FieldKind, MAX_LIMIT, Payload,
    PayloadField, Point, ScoredPoint, ScrollPage, ScrollRequest, SearchRequest, payload_from_json,
    validate_collection_name,
};

/// A vector index holding collections of points (id, vector, JSON payload).
///
/// Writes return once the data is visible to searches and durable (Qdrant: `wait=true`),
/// except that the embedded backend flushes to disk shortly after answering (see
/// [`VectorIndex::may_have_lost_writes`]). Deleting ids that do not exist succeeds. Every operation on a
/// missing collection fails with [`VectorError::UnknownCollection`].
#[async_trait]
pub trait VectorIndex: Send + Sync + std::fmt::Debug {
    /// `"qdrant"` or `"embedded"`, for logs and readiness output.
    fn backend(&self) -> &'static str;

    /// Ok when the index answers (server reachable / engine writable).
    async fn health(&self) -> Result<(), VectorError>;

    /// After an unclean stop, acknowledged writes may be missing (the embedded backend
    /// acknowledges before it flushes): the caller should compare the index with its record
    /// and then call [`VectorIndex::mark_reconciled`]. Until then this stays true, across
    /// clean restarts too.
    fn may_have_lost_writes(&self) -> bool {
        false
    }

    /// The index was compared with the record after an unclean stop.
    fn mark_reconciled(&self) {}

    /// The collection's vector size, distance and metadata; `None` when it does not exist.
    async fn collection_info(&self, name: &str) -> Result<Option<CollectionInfo>, VectorError>;

    /// Creates an empty collection; [`VectorError::CollectionExists`] when it exists.
    /// Prefer [`VectorIndex::ensure_collection`], which also runs the model guard.
    async fn create_collection(
        &self,
        name: &str,
        params: &CollectionParams,
    ) -> Result<(), VectorError>;

    /// Indexes a payload field for filtering; a no-op when that index exists.
    async fn create_payload_index(
        &self,
        collection: &str,
        field: &PayloadField,
    ) -> Result<(), VectorError>;

    /// Drops a collection and its data; `false` when there was none.
    async fn delete_collection(&self, name: &str) -> Result<bool, VectorError>;

    /// Inserts or replaces points (by id), in batches; all vectors must have the
    /// collection's dimension.
    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<(), VectorError>;

    async fn delete_points(&self, collection: &str, ids: &[Uuid]) -> Result<(), VectorError>;

    /// Deletes every point matching `filter`, e.g. all chunks of one `document_id`.
    async fn delete_by_filter(&self, collection: &str, filter: &Filter) -> Result<(), VectorError>;

    /// Nearest points first.
    async fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
    ) -> Result<Vec<ScoredPoint>, VectorError>;

    /// Exact number of points (matching `filter`, when given).
    async fn count(&self, collection: &str, filter: Option<&Filter>) -> Result<u64, VectorError>;

    /// Point ids in id order, a page at a time, e.g. to reconcile with PostgreSQL.
    async fn scroll_ids(
        &self,
        collection: &str,
        request: &ScrollRequest,
    ) -> Result<ScrollPage, VectorError>;

    /// Creates the collection if missing, otherwise verifies it was built with the same
    /// embedding model, dimension and distance ([`guard`]); then creates the payload indexes.
    async fn ensure_collection(&self, spec: &CollectionSpec) -> Result<(), VectorError> {
        guard::ensure_collection(self, spec).await
    }
}

/// Opens the backend the configuration selects.
pub async fn connect(config: &VectorConfig) -> Result<Arc<dyn VectorIndex>, VectorError> {
    match config.backend()? {
        Backend::Qdrant(remote) => Ok(Arc::new(RemoteIndex::connect(remote)?)),
        Backend::Embedded(embedded) => Ok(Arc::new(EmbeddedIndex::open(embedded).await?)),
    }
}
