//! Finding the stored copy of a document about to be written: by its re-ingestion key
//! (`source` + `external_id`), or by its content when it has no such key; and the projects
//! a writer may file documents under.

use sqlx::PgExecutor;
use uuid::Uuid;

use super::Document;
use crate::memory::SHARED_OWNER_KEY;

/// The document with this re-ingestion key, as last committed (not locked: writers lock
/// with [`find_by_keys`]).
pub async fn find_by_external_id(
    executor: impl PgExecutor<'_>,
    owner_id: Option<Uuid>,
    source: &str,
    external_id: &str,
) -> sqlx::Result<Option<Document>> {
    query_documents!(
        r#"0::bigint AS "chunk_count!", 0::bigint AS "pending_chunks!"
           FROM memory.documents d
           WHERE COALESCE(d.owner_id, '00000000-0000-0000-0000-000000000000'::uuid)
                 = COALESCE($1, '00000000-0000-0000-0000-000000000000'::uuid)
             AND d.source = $2 AND d.external_id = $3"#,
        owner_id,
        source,
        external_id,
    )
    .fetch_optional(executor)
    .await
}

/// A re-ingestion key: whose (`None`: shared), from which source, under which id there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocumentKey {
    pub owner_id: Option<Uuid>,
    pub source: String,
    pub external_id: String,
}

/// The stored documents with these re-ingestion keys, locked inside a transaction until it
/// ends. Rows are locked in the order of `keys`: callers pass them sorted, so that two
/// concurrent batches wait for each other instead of deadlocking. Each key is one lookup in
/// the unique index, whatever the statistics (the lateral `LIMIT 1` cannot be flattened).
pub async fn find_by_keys(
    executor: impl PgExecutor<'_>,
    keys: &[DocumentKey],
) -> sqlx::Result<Vec<Document>> {
    let owners = owner_keys(keys.iter().map(|key| key.owner_id));
    let sources: Vec<String> = keys.iter().map(|key| key.source.clone()).collect();
    let external_ids: Vec<String> = keys.iter().map(|key| key.external_id.clone()).collect();
    query_documents!(
        r#"0::bigint AS "chunk_count!", 0::bigint AS "pending_chunks!"
           FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY
                AS k(owner_key, source, external_id, rank)
           CROSS JOIN LATERAL (
               SELECT * FROM memory.documents d
               WHERE COALESCE(d.owner_id, '00000000-0000-0000-0000-000000000000'::uuid)
                     = k.owner_key
                 AND d.source = k.source AND d.external_id = k.external_id
               LIMIT 1
               FOR UPDATE
           ) d
           ORDER BY k.rank"#,
        &owners,
        &sources,
        &external_ids,
    )
    .fetch_all(executor)
    .await
}

/// One copy of a content per owner: whose (`None`: shared) and the content's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentKey {
    pub owner_id: Option<Uuid>,
    pub content_hash: String,
}

/// The stored documents without a re-ingestion key that hold these contents (the unique
/// index `documents_owner_content_hash_key` allows one each), as last committed or written
/// by this transaction. Each key is one lookup in that index.
pub async fn find_by_contents(
    executor: impl PgExecutor<'_>,
    keys: &[ContentKey],
) -> sqlx::Result<Vec<Document>> {
    let owners = owner_keys(keys.iter().map(|key| key.owner_id));
    let hashes: Vec<String> = keys.iter().map(|key| key.content_hash.clone()).collect();
    query_documents!(
        r#"0::bigint AS "chunk_count!", 0::bigint AS "pending_chunks!"
           FROM unnest($1::uuid[], $2::text[]) AS k(owner_key, content_hash)
           CROSS JOIN LATERAL (
               SELECT * FROM memory.documents d
               WHERE COALESCE(d.owner_id, '00000000-0000-0000-0000-000000000000'::uuid)
                     = k.owner_key
                 AND d.content_hash = k.content_hash AND d.external_id IS NULL
               LIMIT 1
           ) d"#,
        &owners,
        &hashes,
    )
    .fetch_all(executor)
    .await
}

/// Owners as the unique keys spell them: shared documents under [`SHARED_OWNER_KEY`].
fn owner_keys(owners: impl Iterator<Item = Option<Uuid>>) -> Vec<Uuid> {
    owners
        .map(|owner| owner.unwrap_or(SHARED_OWNER_KEY))
        .collect()
}

/// Which of `project_ids` `viewer` may file documents under: live projects they own or are
/// a member of, or any live project for an admin. The others (deleted, someone else's,
/// never existing) are simply absent, all alike.
pub async fn visible_projects(
    executor: impl PgExecutor<'_>,
    viewer: Uuid,
    viewer_is_admin: bool,
    project_ids: &[Uuid],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        r#"SELECT p.id FROM projects.projects p
           WHERE p.id = ANY($1) AND p.deleted_at IS NULL
             AND ($3
                  OR p.owner_id = $2
                  OR EXISTS (SELECT 1 FROM projects.project_members m
                             WHERE m.project_id = p.id AND m.user_id = $2))"#,
        project_ids,
        viewer,
        viewer_is_admin,
    )
    .fetch_all(executor)
    .await
}
