//! Moving documents between databases: the export reads one owner's documents with their
//! chunks as one consistent snapshot, a row at a time; the import writes documents under
//! the ids they had (or, for copies of other owners' documents, the ids the caller derives),
//! with multi-row statements.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::Deserialize;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, Transaction, types::Json};
use uuid::Uuid;

use super::documents::{DocumentColumns, DocumentFields, Kept, insert_columns};

/// A document with everything needed to recreate it elsewhere (its text is its chunks).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedDocument {
    pub id: Uuid,
    pub source: String,
    pub external_id: Option<String>,
    pub kind: String,
    pub path: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Value,
    pub project_id: Option<Uuid>,
    pub content_hash: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// In order of `index`.
    pub chunks: Json<Vec<ExportedChunk>>,
}

/// A chunk as exported: built by PostgreSQL as JSON, read back with these names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ExportedChunk {
    pub id: Uuid,
    pub index: i32,
    pub content: String,
    pub metadata: Value,
    pub embedding_model: Option<String>,
}

/// A read-only transaction whose every statement sees the database as it was when it
/// began: an export of any length is one consistent picture.
pub async fn begin_snapshot(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await
}

/// The documents of `owner_id` (`None`: the shared ones), oldest first, each with its
/// chunks, streamed as PostgreSQL sends them: one document at a time is held in memory.
pub fn export(
    connection: &mut PgConnection,
    owner_id: Option<Uuid>,
) -> BoxStream<'_, sqlx::Result<ExportedDocument>> {
    sqlx::query_as!(
        ExportedDocument,
        r#"SELECT d.id, d.source, d.external_id,
                  COALESCE(d.type, 'document') AS "kind!", d.path, d.title,
                  COALESCE(d.tags, '{}') AS "tags!", COALESCE(d.metadata, '{}') AS "metadata!",
                  d.project_id, d.content_hash, d.version,
                  COALESCE(d.created_at, 'epoch') AS "created_at!",
                  COALESCE(d.updated_at, 'epoch') AS "updated_at!",
                  COALESCE((
                      SELECT json_agg(json_build_object(
                                 'id', c.id, 'index', c.chunk_index, 'content', c.content,
                                 'metadata', COALESCE(c.metadata, '{}'),
                                 'embedding_model', c.embedding_model)
                             ORDER BY c.chunk_index)
                      FROM memory.chunks c WHERE c.document_id = d.id
                  ), '[]') AS "chunks!: Json<Vec<ExportedChunk>>"
           FROM memory.documents d
           WHERE d.owner_id = $1 OR ($1::uuid IS NULL AND d.owner_id IS NULL)
           ORDER BY COALESCE(d.created_at, 'epoch'), d.id"#,
        owner_id,
    )
    .fetch(connection)
}

/// A document to import, under the id it had where it was exported.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedDocument {
    pub id: Uuid,
    /// `None`: shared.
    pub owner_id: Option<Uuid>,
    pub fields: DocumentFields,
    pub project_id: Option<Uuid>,
    pub content_hash: Option<String>,
    /// The version it had (an edit based on it then applies here too).
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who owns each of the documents among `ids` that exist (`None`: shared).
pub async fn owners(
    executor: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, Option<Uuid>)>> {
    let rows = sqlx::query!(
        "SELECT id, owner_id FROM memory.documents WHERE id = ANY($1)",
        ids
    )
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.owner_id)).collect())
}

/// Who owns the document of each of the chunks among `ids` that exist (`None`: shared).
pub async fn chunk_owners(
    executor: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, Option<Uuid>)>> {
    let rows = sqlx::query!(
        r#"SELECT c.id AS "id!", d.owner_id AS "owner_id?"
           FROM memory.chunks c JOIN memory.documents d ON d.id = c.document_id
           WHERE c.id = ANY($1)"#,
        ids
    )
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.owner_id)).collect())
}

/// Inserts the documents with their own ids and timestamps, in order; one whose id, whose
/// re-ingestion key or (without one) whose content is stored already is skipped. Returns
/// the ids inserted.
pub async fn insert_documents(
    executor: impl PgExecutor<'_>,
    documents: &[ImportedDocument],
) -> sqlx::Result<Vec<Uuid>> {
    let mut columns = DocumentColumns::default();
    for d in documents {
        let kept = Kept {
            created_at: d.created_at,
            updated_at: d.updated_at,
            version: d.version,
        };
        columns.push(
            d.id,
            d.owner_id,
            d.fields.clone(),
            d.project_id,
            d.content_hash.clone(),
            Some(kept),
        );
    }
    let inserted = insert_columns(executor, &columns).await?;
    Ok(inserted.into_iter().map(|(id, _)| id).collect())
}
