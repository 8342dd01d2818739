//! `memory.documents`: what was ingested, by whom, in which project, and under which
//! re-ingestion key.

/// `sqlx::query_as!` for [`Document`]s read from `memory.documents d`: every query that
/// returns documents reads the same columns with the same defaults for the guide's nullable
/// ones, so they are written here once. The query goes on with `$rest`: the two chunk counts
/// (`chunk_count`, `pending_chunks`), then the `FROM` that binds `d`. `id` and `source` are
/// marked NOT NULL because `d` is often a lateral subquery, whose columns sqlx cannot infer.
macro_rules! query_documents {
    ($rest:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            $crate::memory::Document,
            r#"SELECT d.id AS "id!", d.owner_id, d.source AS "source!", d.external_id,
                  COALESCE(d.type, 'document') AS "kind!", d.path, d.title,
                  COALESCE(d.tags, '{}') AS "tags!", COALESCE(d.metadata, '{}') AS "metadata!",
                  d.project_id, d.content_hash, d.version AS "version!",
                  COALESCE(d.created_at, 'epoch') AS "created_at!",
                  COALESCE(d.updated_at, 'epoch') AS "updated_at!",
                  "# + $rest
            $(, $arg)*
        )
    };
}

mod columns;
pub mod edit;
mod lookup;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, PgTransaction};
use uuid::Uuid;

pub(crate) use columns::{DocumentColumns, Kept};
pub use lookup::{
    ContentKey, DocumentKey, find_by_contents, find_by_external_id, find_by_keys, visible_projects,
};

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
    /// The project it belongs to, if any.
    pub project_id: Option<Uuid>,
    pub content_hash: Option<String>,
    /// 1 when stored; +1 on every edit and every re-ingestion that changed it.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub chunk_count: i64,
    /// Chunks whose vector is not in the index yet.
    pub pending_chunks: i64,
}

/// What an ingestion writes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument {
    pub owner_id: Option<Uuid>,
    pub fields: DocumentFields,
    pub project_id: Option<Uuid>,
    pub content_hash: String,
}

/// What describes a document besides its owner, project and text: the fields an ingestion
/// or an import sends, once checked (trimmed, defaults applied).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentFields {
    pub source: String,
    pub external_id: Option<String>,
    pub kind: String,
    pub path: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Value,
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

impl Scope {
    /// `(own documents, shared documents)`: the two switches the listing and search queries
    /// take for a scope.
    pub(crate) fn owners(self) -> (bool, bool) {
        match self {
            Scope::All => (true, true),
            Scope::Mine => (true, false),
            Scope::Shared => (false, true),
        }
    }
}

/// Optional narrowing of a listing.
#[derive(Debug, Clone, Default)]
pub struct DocumentFilter {
    pub scope: Scope,
    pub source: Option<String>,
    pub kind: Option<String>,
    pub tag: Option<String>,
    /// Documents in any of these projects.
    pub project_ids: Option<Vec<Uuid>>,
}

/// Inserts documents with the ids the caller chose, in the given order; a document that
/// another one holds the place of is skipped: the same re-ingestion key, or the same content
/// without one (stored by another transaction meanwhile, or earlier in `documents`).
/// Returns the ids and creation times of those inserted.
pub async fn insert_many(
    executor: impl PgExecutor<'_>,
    documents: &[(Uuid, &NewDocument)],
) -> sqlx::Result<Vec<(Uuid, DateTime<Utc>)>> {
    insert_columns(executor, &columns_of(documents)).await
}

/// The one INSERT into `memory.documents`, for ingestions and imports alike: the rows of
/// `columns` in order, each skipped when its id, its re-ingestion key or (without one) its
/// content is stored already. Returns the ids and creation times of those inserted.
pub(crate) async fn insert_columns(
    executor: impl PgExecutor<'_>,
    columns: &DocumentColumns,
) -> sqlx::Result<Vec<(Uuid, DateTime<Utc>)>> {
    // No conflict target: both keys (`documents_owner_source_external_id_key`,
    // `documents_owner_content_hash_key`) are arbiters; the caller tells them apart.
    let rows = sqlx::query!(
        r#"INSERT INTO memory.documents
               (id, owner_id, source, external_id, type, path, title, tags, metadata,
                project_id, content_hash, created_at, updated_at, version)
           SELECT id, owner_id, source, external_id, type, path, title,
                  ARRAY(SELECT jsonb_array_elements_text(tags)), metadata, project_id,
                  content_hash, COALESCE(created_at, now()), COALESCE(updated_at, now()),
                  COALESCE(version, 1)
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::text[], $8::jsonb[], $9::jsonb[], $10::uuid[], $11::text[],
                       $12::timestamptz[], $13::timestamptz[], $14::int4[])
                WITH ORDINALITY
                AS t(id, owner_id, source, external_id, type, path, title, tags, metadata,
                     project_id, content_hash, created_at, updated_at, version, rank)
           ORDER BY rank
           ON CONFLICT DO NOTHING
           RETURNING id, COALESCE(created_at, 'epoch') AS "created_at!""#,
        &columns.ids,
        &columns.owners as &[Option<Uuid>],
        &columns.sources,
        &columns.external_ids as &[Option<String>],
        &columns.kinds,
        &columns.paths as &[Option<String>],
        &columns.titles as &[Option<String>],
        &columns.tags,
        &columns.metadata,
        &columns.projects as &[Option<Uuid>],
        &columns.hashes as &[Option<String>],
        &columns.created as &[Option<DateTime<Utc>>],
        &columns.updated as &[Option<DateTime<Utc>>],
        &columns.versions as &[Option<i32>],
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.id, row.created_at))
        .collect())
}

/// Replaces every ingested field of existing documents (re-ingestion), in one statement; each
/// is a new version, as an edit is.
pub async fn replace_many(
    executor: impl PgExecutor<'_>,
    documents: &[(Uuid, &NewDocument)],
) -> sqlx::Result<()> {
    let columns = columns_of(documents);
    sqlx::query!(
        r#"UPDATE memory.documents d
           SET type = u.type, path = u.path, title = u.title,
               tags = ARRAY(SELECT jsonb_array_elements_text(u.tags)),
               metadata = u.metadata, content_hash = u.content_hash, project_id = u.project_id,
               version = d.version + 1
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[],
                       $6::jsonb[], $7::text[], $8::uuid[])
                AS u(id, type, path, title, tags, metadata, content_hash, project_id)
           WHERE d.id = u.id"#,
        &columns.ids,
        &columns.kinds,
        &columns.paths as &[Option<String>],
        &columns.titles as &[Option<String>],
        &columns.tags,
        &columns.metadata,
        &columns.hashes as &[Option<String>],
        &columns.projects as &[Option<Uuid>],
    )
    .execute(executor)
    .await?;
    Ok(())
}

fn columns_of(documents: &[(Uuid, &NewDocument)]) -> DocumentColumns {
    let mut columns = DocumentColumns::default();
    for (id, document) in documents {
        let hash = Some(document.content_hash.clone());
        columns.push(
            *id,
            document.owner_id,
            document.fields.clone(),
            document.project_id,
            hash,
            None,
        );
    }
    columns
}

/// The documents `viewer` may read among `ids`, with their chunk counts, in the order of
/// `ids` (one primary-key lookup each).
pub async fn visible_by_ids(
    executor: impl PgExecutor<'_>,
    ids: &[Uuid],
    viewer: Uuid,
) -> sqlx::Result<Vec<Document>> {
    select_by_ids(executor, ids, Some(viewer)).await
}

/// The documents among `ids`, whoever owns them, with their chunk counts, in the order of
/// `ids`: for answering each ingestion of a group with its own document.
pub async fn by_ids(executor: impl PgExecutor<'_>, ids: &[Uuid]) -> sqlx::Result<Vec<Document>> {
    select_by_ids(executor, ids, None).await
}

async fn select_by_ids(
    executor: impl PgExecutor<'_>,
    ids: &[Uuid],
    viewer: Option<Uuid>,
) -> sqlx::Result<Vec<Document>> {
    query_documents!(
        r#"c.chunk_count AS "chunk_count!", c.pending_chunks AS "pending_chunks!"
           FROM unnest($1::uuid[]) WITH ORDINALITY AS wanted(id, rank)
           CROSS JOIN LATERAL (
               SELECT * FROM memory.documents d
               WHERE d.id = wanted.id
                 AND ($2::uuid IS NULL OR COALESCE(d.owner_id, $2) = $2)
               LIMIT 1
           ) d
           CROSS JOIN LATERAL (
               SELECT count(*) AS chunk_count,
                      count(*) FILTER (WHERE qdrant_point_id IS NULL) AS pending_chunks
               FROM memory.chunks WHERE document_id = d.id
           ) c
           ORDER BY wanted.rank"#,
        ids,
        viewer,
    )
    .fetch_all(executor)
    .await
}

/// Refreshes the planner's statistics of the memory tables (after a bulk ingest, so that
/// the next queries are planned for the rows that are there).
pub async fn analyze(executor: impl PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::raw_sql("ANALYZE memory.chunks, memory.documents")
        .execute(executor)
        .await?;
    Ok(())
}

/// The document if `viewer` may read it (their own, or shared).
pub async fn get_visible(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    viewer: Uuid,
) -> sqlx::Result<Option<Document>> {
    Ok(visible_by_ids(executor, &[id], viewer).await?.pop())
}

/// The documents `viewer` may read, with their chunk counts, newest first, `limit` at a
/// time, after the `(created_at, id)` of the previous page's last row.
pub async fn list_visible(
    executor: impl PgExecutor<'_>,
    viewer: Uuid,
    filter: &DocumentFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Document>> {
    let (after_at, after_id) = after.unzip();
    let (mine, shared) = filter.scope.owners();
    query_documents!(
        r#"c.chunk_count AS "chunk_count!", c.pending_chunks AS "pending_chunks!"
           FROM memory.documents d
           CROSS JOIN LATERAL (
               SELECT count(*) AS chunk_count,
                      count(*) FILTER (WHERE qdrant_point_id IS NULL) AS pending_chunks
               FROM memory.chunks WHERE document_id = d.id
           ) c
           WHERE ((d.owner_id = $1 AND $2) OR (d.owner_id IS NULL AND $3))
             AND ($4::text IS NULL OR d.source = $4)
             AND ($5::text IS NULL OR COALESCE(d.type, 'document') = $5)
             AND ($6::text IS NULL OR d.tags @> ARRAY[$6])
             AND ($7::uuid[] IS NULL OR d.project_id = ANY($7))
             AND ($8::timestamptz IS NULL
                  OR (COALESCE(d.created_at, 'epoch'), d.id) < ($8, $9))
           ORDER BY COALESCE(d.created_at, 'epoch') DESC, d.id DESC
           LIMIT $10"#,
        viewer,
        mine,
        shared,
        filter.source,
        filter.kind,
        filter.tag,
        filter.project_ids.as_deref(),
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
) -> sqlx::Result<Option<Option<Uuid>>> {
    sqlx::query_scalar!("SELECT owner_id FROM memory.documents WHERE id = $1", id)
        .fetch_optional(executor)
        .await
}

/// Deletes the document and (by cascade) its chunks; returns the chunk ids, whose vectors
/// the caller then removes from the index.
pub async fn delete(tx: &mut PgTransaction<'_>, id: Uuid) -> sqlx::Result<Vec<Uuid>> {
    let chunk_ids = super::chunks::delete_of_documents(&mut **tx, &[id]).await?;
    sqlx::query!("DELETE FROM memory.documents WHERE id = $1", id)
        .execute(&mut **tx)
        .await?;
    Ok(chunk_ids)
}
