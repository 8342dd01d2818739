//! `memory.chunks`: the text pieces of a document. A chunk's id is the point id of its
//! vector; `qdrant_point_id` is NULL until that vector is in the index.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

/// A chunk to store; its id is chosen by the caller so the vector can use it too.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChunk {
    pub id: Uuid,
    pub chunk_index: i32,
    pub content: String,
    pub content_hash: String,
    pub metadata: Value,
}

/// A stored chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub id: Uuid,
    pub document_id: Uuid,
    pub chunk_index: i32,
    pub content: String,
    pub embedding_model: Option<String>,
    pub embedding_dim: Option<i32>,
    pub indexed: bool,
    pub metadata: Value,
}

/// A chunk with the document fields its vector's payload carries (for filtering).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexableChunk {
    pub id: Uuid,
    pub document_id: Uuid,
    pub chunk_index: i32,
    pub content: String,
    pub owner_id: Option<Uuid>,
    pub source: String,
    pub kind: String,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// The document's project, if any (a filter field of the vector's payload).
    pub project_id: Option<Uuid>,
}

/// A search hit's chunk joined with its document.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkHit {
    pub id: Uuid,
    pub chunk_index: i32,
    pub content: String,
    pub embedding_model: Option<String>,
    pub chunk_metadata: Value,
    pub document_id: Uuid,
    pub owner_id: Option<Uuid>,
    pub source: String,
    pub external_id: Option<String>,
    pub kind: String,
    pub path: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub document_metadata: Value,
    pub created_at: DateTime<Utc>,
}

/// What a chunk's vector was stored with, when it was stored before its row is written.
#[derive(Debug, Clone, Copy)]
pub struct IndexedWith<'a> {
    pub model: &'a str,
    pub dimension: i32,
}

/// Inserts chunks of several documents in one statement, with the text-search configuration
/// their `search_vector` is derived with: indexed (`qdrant_point_id` = `id`) when their
/// vectors are stored already (`indexed`), otherwise pending for the background indexer.
pub async fn insert_many(
    executor: impl PgExecutor<'_>,
    chunks: &[(Uuid, &NewChunk)],
    search_language: &str,
    indexed: Option<IndexedWith<'_>>,
) -> sqlx::Result<()> {
    let documents: Vec<Uuid> = chunks.iter().map(|(document, _)| *document).collect();
    let ids: Vec<Uuid> = chunks.iter().map(|(_, c)| c.id).collect();
    let indexes: Vec<i32> = chunks.iter().map(|(_, c)| c.chunk_index).collect();
    let contents: Vec<String> = chunks.iter().map(|(_, c)| c.content.clone()).collect();
    let hashes: Vec<String> = chunks.iter().map(|(_, c)| c.content_hash.clone()).collect();
    let metadata: Vec<Value> = chunks.iter().map(|(_, c)| c.metadata.clone()).collect();
    sqlx::query!(
        r#"INSERT INTO memory.chunks (id, document_id, chunk_index, content, content_hash, metadata,
                                     search_language, qdrant_point_id, embedding_model,
                                     embedding_dim)
           SELECT u.*, $7::text::regconfig, CASE WHEN $8::text IS NOT NULL THEN u.id END, $8, $9
           FROM UNNEST($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::jsonb[])
                AS u(id, document_id, chunk_index, content, content_hash, metadata)"#,
        &ids,
        &documents,
        &indexes,
        &contents,
        &hashes,
        &metadata,
        search_language,
        indexed.map(|with| with.model),
        indexed.map(|with| with.dimension),
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Deletes the chunks of these documents, returning their ids (= the point ids to remove).
pub async fn delete_of_documents(
    executor: impl PgExecutor<'_>,
    document_ids: &[Uuid],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "DELETE FROM memory.chunks WHERE document_id = ANY($1) RETURNING id",
        document_ids
    )
    .fetch_all(executor)
    .await
}

/// A document's chunks in order.
pub async fn of_document(
    executor: impl PgExecutor<'_>,
    document_id: Uuid,
) -> sqlx::Result<Vec<Chunk>> {
    sqlx::query_as!(
        Chunk,
        r#"SELECT id, document_id AS "document_id!", chunk_index, content, embedding_model,
                  embedding_dim, qdrant_point_id IS NOT NULL AS "indexed!",
                  COALESCE(metadata, '{}') AS "metadata!"
           FROM memory.chunks WHERE document_id = $1
           ORDER BY chunk_index"#,
        document_id,
    )
    .fetch_all(executor)
    .await
}

/// Up to `limit` chunks still waiting for their vector, oldest first.
pub async fn pending(
    executor: impl PgExecutor<'_>,
    limit: i64,
) -> sqlx::Result<Vec<IndexableChunk>> {
    select_indexable(executor, None, Some(limit)).await
}

/// The given chunks (those that still exist) with their payload fields.
pub async fn indexable(
    executor: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> sqlx::Result<Vec<IndexableChunk>> {
    select_indexable(executor, Some(ids), None).await
}

/// Chunks with their payload fields, oldest first: the given `ids` (whether indexed or
/// not), or without ids the pending ones, at most `limit`.
async fn select_indexable(
    executor: impl PgExecutor<'_>,
    ids: Option<&[Uuid]>,
    limit: Option<i64>,
) -> sqlx::Result<Vec<IndexableChunk>> {
    sqlx::query_as!(
        IndexableChunk,
        r#"SELECT c.id, c.document_id AS "document_id!", c.chunk_index, c.content,
                  d.owner_id, d.source, COALESCE(d.type, 'document') AS "kind!",
                  COALESCE(d.tags, '{}') AS "tags!",
                  COALESCE(d.created_at, 'epoch') AS "created_at!", d.project_id
           FROM memory.chunks c
           JOIN memory.documents d ON d.id = c.document_id
           WHERE CASE WHEN $1::uuid[] IS NULL THEN c.qdrant_point_id IS NULL
                      ELSE c.id = ANY($1) END
           ORDER BY c.created_at, c.id
           LIMIT $2"#,
        ids,
        limit,
    )
    .fetch_all(executor)
    .await
}

/// Records that these chunks' vectors (from `model`, `dimension`) are in the index.
/// Returns the ids that still exist: a vector whose chunk was deleted meanwhile is an
/// orphan the caller removes.
///
/// Commits without waiting for the WAL to reach the disk (`synchronous_commit` off for this
/// statement's own transaction): the mark only records work already done, so a crash that
/// loses it (such commits of the last few hundred milliseconds) leaves the chunks pending,
/// and the indexer upserts the same vectors under the same ids again. Not waiting spares every ingestion a
/// second disk flush after its transaction's. It takes the pool, not a transaction: inside
/// one, the setting would govern that whole transaction's commit.
pub async fn mark_indexed(
    pool: &sqlx::PgPool,
    ids: &[Uuid],
    model: &str,
    dimension: i32,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        r#"WITH no_wait AS (SELECT set_config('synchronous_commit', 'off', true))
           UPDATE memory.chunks
           SET qdrant_point_id = id, embedding_model = $2, embedding_dim = $3
           FROM no_wait
           WHERE id = ANY($1)
           RETURNING id"#,
        ids,
        model,
        dimension,
    )
    .fetch_all(pool)
    .await
}

/// Marks every chunk pending, before the index is rebuilt from scratch; returns how many.
pub async fn mark_all_pending(executor: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "UPDATE memory.chunks SET qdrant_point_id = NULL WHERE qdrant_point_id IS NOT NULL"
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// How many chunks exist, and how many of them still wait for their vector.
pub async fn counts(executor: impl PgExecutor<'_>) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "total!",
                  count(*) FILTER (WHERE qdrant_point_id IS NULL) AS "pending!"
           FROM memory.chunks"#
    )
    .fetch_one(executor)
    .await?;
    Ok((row.total, row.pending))
}

/// How many chunks of `owner`'s documents exist, and how many of them still wait for their
/// vector (shared documents are nobody's).
pub async fn counts_of_owner(
    executor: impl PgExecutor<'_>,
    owner: Uuid,
) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "total!",
                  count(*) FILTER (WHERE c.qdrant_point_id IS NULL) AS "pending!"
           FROM memory.documents d
           JOIN memory.chunks c ON c.document_id = d.id
           WHERE d.owner_id = $1"#,
        owner,
    )
    .fetch_one(executor)
    .await?;
    Ok((row.total, row.pending))
}

/// The indexer's backlog: chunks waiting for their vector, and how long the oldest of them
/// has waited (seconds; `None` when none waits). Reads the partial index of pending chunks.
pub async fn backlog(executor: impl PgExecutor<'_>) -> sqlx::Result<(i64, Option<f64>)> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "pending!",
                  EXTRACT(EPOCH FROM now() - min(created_at))::float8 AS "oldest_age_secs"
           FROM memory.chunks WHERE qdrant_point_id IS NULL"#
    )
    .fetch_one(executor)
    .await?;
    Ok((row.pending, row.oldest_age_secs))
}

/// Which of `ids` still have a chunk row (the rest are orphaned vectors).
pub async fn existing_ids(executor: impl PgExecutor<'_>, ids: &[Uuid]) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!("SELECT id FROM memory.chunks WHERE id = ANY($1)", ids)
        .fetch_all(executor)
        .await
}

/// Ids of the chunks marked indexed in `(after, upto]` (unbounded where `None`), in id order,
/// at most `limit`: to compare with the point ids of the index, page by page.
pub async fn indexed_ids_between(
    executor: impl PgExecutor<'_>,
    after: Option<Uuid>,
    upto: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        r#"SELECT id FROM memory.chunks
           WHERE qdrant_point_id IS NOT NULL
             AND id > coalesce($1, '00000000-0000-0000-0000-000000000000'::uuid)
             AND id <= coalesce($2, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
           ORDER BY id
           LIMIT $3"#,
        after,
        upto,
        limit,
    )
    .fetch_all(executor)
    .await
}

/// Puts indexed chunks back to pending (their vectors are missing from the index), for the
/// indexer to embed and upsert again; returns how many changed.
pub async fn mark_pending(executor: impl PgExecutor<'_>, ids: &[Uuid]) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "UPDATE memory.chunks SET qdrant_point_id = NULL
          WHERE id = ANY($1) AND qdrant_point_id IS NOT NULL",
        ids,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}
