//! What `memory import-legacy` adds to an ingestion: a document keeps the time its legacy
//! record was made, and its first chunk keeps the legacy vector's point id (a chunk's id is
//! its vector's point id). Both change what the chunks' vectors carry, so every chunk
//! touched here is left pending for the caller (or the service's indexer) to index again.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// Sets the creation time of documents (`(document id, time)`); returns how many exist.
pub async fn set_created_at(
    executor: impl PgExecutor<'_>,
    times: &[(Uuid, DateTime<Utc>)],
) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = times.iter().map(|(id, _)| *id).collect();
    let at: Vec<DateTime<Utc>> = times.iter().map(|(_, at)| *at).collect();
    let result = sqlx::query!(
        r#"UPDATE memory.documents d
           SET created_at = t.created_at
           FROM unnest($1::uuid[], $2::timestamptz[]) AS t(id, created_at)
           WHERE d.id = t.id"#,
        &ids,
        &at,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// A first chunk given the id it was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MovedChunk {
    pub document_id: Uuid,
    /// Its id before: the point id of a vector that must go.
    pub old_id: Uuid,
    pub new_id: Uuid,
}

/// Gives the first chunk (`chunk_index` 0) of each document the id asked for
/// (`(document id, wanted chunk id)`), pending. A wanted id that another chunk already has
/// is left alone, so that document keeps its chunk's id; the answer lists only the chunks
/// that moved.
pub async fn move_first_chunks(
    executor: impl PgExecutor<'_>,
    wanted: &[(Uuid, Uuid)],
) -> sqlx::Result<Vec<MovedChunk>> {
    let documents: Vec<Uuid> = wanted.iter().map(|(document, _)| *document).collect();
    let ids: Vec<Uuid> = wanted.iter().map(|(_, id)| *id).collect();
    let rows = sqlx::query!(
        r#"WITH first AS (
               SELECT c.id AS old_id, w.new_id, w.document_id
               FROM unnest($1::uuid[], $2::uuid[]) AS w(document_id, new_id)
               JOIN memory.chunks c ON c.document_id = w.document_id AND c.chunk_index = 0
               WHERE c.id <> w.new_id
                 AND NOT EXISTS (SELECT 1 FROM memory.chunks taken WHERE taken.id = w.new_id)
           )
           UPDATE memory.chunks c
           SET id = first.new_id, qdrant_point_id = NULL
           FROM first
           WHERE c.id = first.old_id
           RETURNING first.document_id AS "document_id!", first.old_id AS "old_id!",
                     c.id AS "new_id!""#,
        &documents,
        &ids,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| MovedChunk {
            document_id: row.document_id,
            old_id: row.old_id,
            new_id: row.new_id,
        })
        .collect())
}

/// Marks every chunk of these documents pending; returns their ids.
pub async fn mark_pending(
    executor: impl PgExecutor<'_>,
    document_ids: &[Uuid],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        r#"UPDATE memory.chunks SET qdrant_point_id = NULL
           WHERE document_id = ANY($1)
           RETURNING id"#,
        document_ids,
    )
    .fetch_all(executor)
    .await
}

/// The id of each document's first chunk (`(document id, chunk id)`), for those that have one.
pub async fn first_chunks(
    executor: impl PgExecutor<'_>,
    document_ids: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    let rows = sqlx::query!(
        r#"SELECT document_id AS "document_id!", id
           FROM memory.chunks
           WHERE document_id = ANY($1) AND chunk_index = 0"#,
        document_ids,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.document_id, row.id))
        .collect())
}
