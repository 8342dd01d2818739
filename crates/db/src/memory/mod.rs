//! Queries of the memory service: documents, their chunks, and the bookkeeping that keeps
//! PostgreSQL and the vector index in step (a chunk's id is its vector's point id).

pub mod chunks;
pub mod documents;
pub mod legacy;
pub mod search;
pub mod transfer;

pub use chunks::{Chunk, ChunkHit, IndexableChunk, IndexedWith, NewChunk};
pub use documents::{Document, DocumentFilter, DocumentKey, NewDocument, Scope};

/// `owner_id` of shared documents, as the unique key spells it (see migration 0010).
pub const SHARED_OWNER_KEY: uuid::Uuid = uuid::Uuid::nil();

/// Ingestion writes and the orphan sweep share this advisory lock's key: a write stores its
/// vectors before its rows commit, and the sweep must not look in between.
const INDEX_WRITES_LOCK: i64 = 0x6d65_6d6f_7279_0001;

/// Starts an ingestion's write transaction. It may store vectors before its rows commit, so
/// it holds the index-writes lock (shared) until it ends: the orphan sweep, which takes it
/// alone ([`hold_off_index_writes`]), then never takes such a vector for an orphan.
///
/// It also plans the rest of its statements for any values (`plan_cache_mode`, ended with the
/// transaction). The writes are driven by arrays (`unnest`, `= ANY`), and their best plan is
/// the same whatever the arrays hold, yet PostgreSQL planned each run anew for its values:
/// about a tenth of its CPU during concurrent single ingestions. Their generic plans stay on
/// the indexes (a test pins it).
pub async fn start_ingest_write(executor: impl sqlx::PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"SELECT set_config('plan_cache_mode', 'force_generic_plan', true) AS "mode!",
                  pg_advisory_xact_lock_shared($1) AS "locked!""#,
        INDEX_WRITES_LOCK,
    )
    .fetch_one(executor)
    .await?;
    Ok(())
}

/// Waits until no ingestion write is between storing its vectors and committing its rows,
/// and keeps new ones from starting until this transaction ends: what the orphan sweep holds
/// while it decides which vectors have no row.
pub async fn hold_off_index_writes(executor: impl sqlx::PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"SELECT pg_advisory_xact_lock($1) AS "locked!""#,
        INDEX_WRITES_LOCK
    )
    .fetch_one(executor)
    .await?;
    Ok(())
}
