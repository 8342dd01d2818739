//! The one error type of the vector index, the same for both backends.

use crate::guard::EmbeddingMismatch;

#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("collection `{0}` does not exist")]
    UnknownCollection(String),

    #[error("collection `{0}` already exists")]
    CollectionExists(String),

    #[error("vector has {got} dimensions but collection `{collection}` holds {expected}")]
    DimensionMismatch {
        collection: String,
        expected: usize,
        got: usize,
    },

    /// The collection was built from another embedding model or dimension than configured.
    #[error(transparent)]
    EmbeddingMismatch(Box<EmbeddingMismatch>),

    /// The caller sent something no backend accepts (bad name, payload, filter, limit).
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// Worth retrying later: the server is unreachable or overloaded, or timed out.
    #[error("vector index unavailable: {0}")]
    Unavailable(String),

    #[error("invalid vector index configuration: {0}")]
    Config(String),

    /// Anything else the backend reported.
    #[error("vector index error: {0}")]
    Backend(String),
}

impl VectorError {
    /// Transient failures a caller may retry (an outbox worker, a readiness probe).
    pub fn is_transient(&self) -> bool {
        matches!(self, VectorError::Unavailable(_))
    }
}
