//! Queries of the memory service: documents, their chunks, and the bookkeeping that keeps
//! PostgreSQL and the vector index in step (a chunk's id is its vector's point id).

pub mod chunks;
pub mod documents;
pub mod legacy;
pub mod search;
pub mod transfer;

pub use chunks::{Chunk, ChunkHit, IndexableChunk, NewChunk};
pub use documents::{Document, DocumentFilter, DocumentKey, NewDocument, Scope};

/// `owner_id` of shared documents, as the unique key spells it (see migration 0010).
pub const SHARED_OWNER_KEY: uuid::Uuid = uuid::Uuid::nil();

/// Plans the rest of the transaction's statements for any values (`SET LOCAL
/// plan_cache_mode`, ended with the transaction). The writes of an ingestion are driven by
/// arrays (`unnest`, `= ANY`), and their best plan is the same whatever the arrays hold, yet
/// PostgreSQL planned each run anew for its values: about a tenth of its CPU during
/// concurrent single ingestions. Their generic plans stay on the indexes (a test pins it).
pub async fn plan_generically(executor: impl sqlx::PgExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT set_config('plan_cache_mode', 'force_generic_plan', true) AS "mode!""#
    )
    .fetch_one(executor)
    .await?;
    Ok(())
}
