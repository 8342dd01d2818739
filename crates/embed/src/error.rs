//! The one error type of the embeddings crate.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("invalid embedding configuration: {0}")]
    Config(String),

    /// The input cannot be embedded (e.g. a text with no words for the hashing embedder).
    #[error("cannot embed: {0}")]
    InvalidInput(String),

    /// The provider's vectors do not have the configured size. Never retried: the model or
    /// `EMBEDDING_DIM` is wrong, and mixing sizes would corrupt the index.
    #[error(
        "embedding model `{model}` returned {got}-dimensional vectors but EMBEDDING_DIM is \
         {expected}: set EMBEDDING_DIM={got} (and reindex) or use a model of dimension {expected}"
    )]
    DimensionMismatch {
        model: String,
        expected: usize,
        got: usize,
    },

    /// Still rate limited after the retries; `retry_after` is the provider's last hint.
    #[error("embedding provider rate limit: retry after {retry_after:?}")]
    RateLimited { retry_after: Option<Duration> },

    /// 5xx, timeouts or connection failures, after the retries.
    #[error("embedding provider unavailable: {0}")]
    Unavailable(String),

    /// Too many recent failures: calls fail fast until the cool-down ends.
    #[error("embedding provider circuit open after repeated failures; next try in {retry_in:?}")]
    CircuitOpen { retry_in: Duration },

    /// The provider refused the request (4xx other than 429): not retried.
    #[error("embedding provider refused the request ({status}): {message}")]
    Rejected { status: u16, message: String },

    /// The provider answered something we cannot use.
    #[error("invalid embedding response: {0}")]
    InvalidResponse(String),
}

impl EmbedError {
    /// Failures a caller may retry later (e.g. an ingest worker putting a job back).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            EmbedError::RateLimited { .. }
                | EmbedError::Unavailable(_)
                | EmbedError::CircuitOpen { .. }
        )
    }
}
