//! The embeddings seam: one trait, [`Embedder`], and its providers —
//!
//! - [`HashingEmbedder`] (default): deterministic, offline, **lexical-grade** quality;
//! - [`HttpEmbedder`]: OpenAI-compatible `/v1/embeddings` or Ollama `/api/embed`, batched,
//!   with retries, `Retry-After`, a circuit breaker and a dimension check on every answer.
//!
//! [`from_config`] picks one from [`EmbeddingConfig`]. [`Embedder::model`] and
//! [`Embedder::dimension`] identify the vector space; store them with every chunk and give
//! them to the vector index, which refuses collections built from another model.

mod breaker;
mod config;
mod error;
pub mod hashing;
mod http;
mod retry;

use std::sync::Arc;

use async_trait::async_trait;

pub use config::{EmbeddingConfig, Provider, Resolved};
pub use error::EmbedError;
pub use hashing::HashingEmbedder;
pub use http::{Api, HttpConfig, HttpEmbedder};

/// Turns texts into vectors of one fixed size.
#[async_trait]
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// The model name; with [`Embedder::dimension`], it names the vector space.
    fn model(&self) -> &str;

    fn dimension(&self) -> usize;

    /// One vector per text, in order, each of [`Embedder::dimension`] components.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// Embeds a single text, e.g. a search query.
    async fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.embed(&[text.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| EmbedError::InvalidResponse("no vector returned".into()))
    }
}

/// Builds the configured embedder.
pub fn from_config(config: &EmbeddingConfig) -> Result<Arc<dyn Embedder>, EmbedError> {
    match config.resolve()? {
        Resolved::Hash { dimension } => Ok(Arc::new(HashingEmbedder::new(dimension)?)),
        Resolved::Http(http) => Ok(Arc::new(HttpEmbedder::new(http)?)),
    }
}
