//! Rebuilding the vector collection from the chunks in PostgreSQL with the configured
//! embedder: the way out when the embedding model or dimension changes (the service
//! refuses to start on a collection built by another model) or the index was lost.

use crate::indexing::{IndexError, Indexer, collection_spec};

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub chunks: usize,
    pub model: String,
    pub dimension: usize,
}

/// Marks every chunk pending, drops and re-creates the collection for the configured
/// embedder, then embeds every chunk again. Safe to interrupt: the chunks left pending are
/// finished by a rerun or by the running service's indexer.
pub async fn rebuild(indexer: &Indexer, progress: impl Fn(usize)) -> Result<Report, IndexError> {
    // Pending first: if we stop after dropping the collection, PostgreSQL still says which
    // chunks lack a vector.
    db::memory::chunks::mark_all_pending(&indexer.pool).await?;
    indexer.index.delete_collection(&indexer.collection).await?;
    let spec = collection_spec(&indexer.collection, indexer.embedder.as_ref());
    indexer.index.ensure_collection(&spec).await?;
    let chunks = indexer.drain_pending(progress).await?;
    Ok(Report {
        chunks,
        model: spec.embedding_model,
        dimension: spec.dimension,
    })
}
