//! `memory.documents`: what was ingested, by whom, and under which re-ingestion key.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, PgTransaction};
use uuid::Uuid;

/// A document as the API shows it. The guide's nullable columns (`type`, `tags`,
/// `metadata`, timestamps) read as their defaults when NULL.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: Uuid,
    /// `None`: shared knowledge, visible to every user.
    pub owner_id: Option<Uuid>,
    pub source: String,
    pub external_id: Option<String>,
    pub kind: String,
    pub path: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Value,
    pub content_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub chunk_count: i64,
    /// Chunks whose vector is not in the index yet.
    pub pending_chunks: i64,
}

/// The fields an ingestion writes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument {
    pub owner_id: Option<Uuid>,
    pub source: String,
    pub external_id: Option<String>,
    pub kind: String,
    pub path: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Value,
    pub content_hash: String,
}

/// Whose documents a listing or search covers, always within what the viewer may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// The viewer's own and the shared documents.
    #[default]
    All,
    Mine,
    Shared,
}

/// Optional narrowing of a listing.
#[derive(Debug, Clone, Default)]
pub struct DocumentFilter {
    pub scope: Scope,
    pub source: Option<String>,
    pub kind: Option<String>,
    pub tag: Option<String>,
}

/// The document with this re-ingestion key. Inside a transaction the row stays locked
/// until it ends, so concurrent re-ingestions of one document take turns.
pub async fn find_by_external_id(
    executor: impl PgExecutor<'_>,
    owner_id: Option<Uuid>,
    source: &str,
    external_id: &str,
) -> Result<Option<Document>, sqlx::Error> {
    sqlx::query_as!(
        Document,
        r#"SELECT d.id, d.owner_id, d.source, d.external_id,
                  COALESCE(d.type, 'document') AS "kind!", d.path, d.title,
                  COALESCE(d.tags, '{}') AS "tags!", COALESCE(d.metadata, '{}') AS "metadata!",
                  d.content_hash,
                  COALESCE(d.created_at, 'epoch') AS "created_at!",
                  COALESCE(d.updated_at, 'epoch') AS "updated_at!",
                  0::bigint AS "chunk_count!", 0::bigint AS "pending_chunks!"
           FROM memory.documents d
           WHERE COALESCE(d.owner_id, '00000000-0000-0000-0000-000000000000'::uuid)
                 = COALESCE($1, '00000000-0000-0000-0000-000000000000'::uuid)
             AND d.source = $2 AND d.external_id = $3
           FOR UPDATE"#,
        owner_id,
        source,
        external_id,
    )
    .fetch_optional(executor)
    .await
}

/// Returns the new document's id and creation time.
pub async fn insert(
    executor: impl PgExecutor<'_>,
    document: &NewDocument,
) -> Result<(Uuid, DateTime<Utc>), sqlx::Error> {
    let row = sqlx::query!(
        r#"INSERT INTO memory.documents
               (owner_id, source, external_id, type, path, title, tags, metadata, content_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           RETURNING id, COALESCE(created_at, 'epoch') AS "created_at!""#,
        document.owner_id,
        document.source,
        document.external_id,
        document.kind,
        document.path,
        document.title,
        &document.tags,
        document.metadata,
        document.content_hash,
    )
    .fetch_one(executor)
    .await?;
    Ok((row.id, row.created_at))
}

/// Replaces every ingested field of an existing document (re-ingestion).
pub async fn replace(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    document: &NewDocument,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE memory.documents
           SET type = $2, path = $3, title = $4, tags = $5, metadata = $6, content_hash = $7
           WHERE id = $1"#,
        id,
        document.kind,
        document.path,
        document.title,
        &document.tags,
        document.metadata,
        document.content_hash,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// The document if `viewer` may read it (their own, or shared).
pub async fn get_visible(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    viewer: Uuid,
) -> Result<Option<Document>, sqlx::Error> {
    let any = DocumentFilter::default();
    let mut found = select_visible(executor, viewer, Some(id), &any, None, 1).await?;
    Ok(found.pop())
}

/// Newest first, `limit` at a time, after the `(created_at, id)` of the previous page's
/// last row.
pub async fn list_visible(
    executor: impl PgExecutor<'_>,
    viewer: Uuid,
    filter: &DocumentFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Document>, sqlx::Error> {
    select_visible(executor, viewer, None, filter, after, limit).await
}

/// The documents `viewer` may read, with their chunk counts, newest first, at most `limit`:
/// a page of a listing, or the one document `id`.
async fn select_visible(
    executor: impl PgExecutor<'_>,
    viewer: Uuid,
    id: Option<Uuid>,
    filter: &DocumentFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Document>, sqlx::Error> {
    let (after_at, after_id) = after.unzip();
    let (mine, shared) = match filter.scope {
        Scope::All => (true, true),
        Scope::Mine => (true, false),
        Scope::Shared => (false, true),
    };
    sqlx::query_as!(
        Document,
        r#"SELECT d.id, d.owner_id, d.source, d.external_id,
                  COALESCE(d.type, 'document') AS "kind!", d.path, d.title,
                  COALESCE(d.tags, '{}') AS "tags!", COALESCE(d.metadata, '{}') AS "metadata!",
                  d.content_hash,
                  COALESCE(d.created_at, 'epoch') AS "created_at!",
                  COALESCE(d.updated_at, 'epoch') AS "updated_at!",
                  c.chunk_count AS "chunk_count!", c.pending_chunks AS "pending_chunks!"
           FROM memory.documents d
           CROSS JOIN LATERAL (
               SELECT count(*) AS chunk_count,
                      count(*) FILTER (WHERE qdrant_point_id IS NULL) AS pending_chunks
               FROM memory.chunks WHERE document_id = d.id
           ) c
           WHERE ((d.owner_id = $1 AND $2) OR (d.owner_id IS NULL AND $3))
             AND ($4::uuid IS NULL OR d.id = $4)
             AND ($5::text IS NULL OR d.source = $5)
             AND ($6::text IS NULL OR COALESCE(d.type, 'document') = $6)
             AND ($7::text IS NULL OR d.tags @> ARRAY[$7])
             AND ($8::timestamptz IS NULL
                  OR (COALESCE(d.created_at, 'epoch'), d.id) < ($8, $9))
           ORDER BY COALESCE(d.created_at, 'epoch') DESC, d.id DESC
           LIMIT $10"#,
        viewer,
        mine,
        shared,
        id,
        filter.source,
        filter.kind,
        filter.tag,
        after_at,
        after_id,
        limit,
    )
    .fetch_all(executor)
    .await
}

/// Who owns the document (`Some(None)`: shared); `None` when it does not exist.
pub async fn owner_of(
    executor: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar!("SELECT owner_id FROM memory.documents WHERE id = $1", id)
        .fetch_optional(executor)
        .await
}

/// Deletes the document and (by cascade) its chunks; returns the chunk ids, whose vectors
/// the caller then removes from the index.
pub async fn delete(tx: &mut PgTransaction<'_>, id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    let chunk_ids = super::chunks::delete_of_document(&mut **tx, id).await?;
    sqlx::query!("DELETE FROM memory.documents WHERE id = $1", id)
        .execute(&mut **tx)
        .await?;
    Ok(chunk_ids)
}
