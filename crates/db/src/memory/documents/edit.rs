//! Editing a stored document's description (`PATCH /api/memory/documents/{id}`): its text,
//! owner, source and re-ingestion key stay; every edit is a new version.

use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::Document;

/// The editable fields of a document, as they are to be stored (checked, the unchanged ones
/// copied from the stored document).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentEdit {
    pub kind: String,
    pub path: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Value,
    pub project_id: Option<Uuid>,
}

/// The document (without chunk counts), locked until the transaction ends: the edit that
/// holds it decides against the version it read, and a concurrent edit, re-ingestion or
/// delete waits for it.
pub async fn lock(executor: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Document>> {
    query_documents!(
        r#"0::bigint AS "chunk_count!", 0::bigint AS "pending_chunks!"
           FROM memory.documents d
           WHERE d.id = $1
           FOR UPDATE"#,
        id,
    )
    .fetch_optional(executor)
    .await
}

/// Stores the edited fields as the next version (`updated_at` follows by trigger); returns
/// that version.
pub async fn apply(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    edit: &DocumentEdit,
) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        r#"UPDATE memory.documents
           SET type = $2, path = $3, title = $4, tags = $5, metadata = $6, project_id = $7,
               version = version + 1
           WHERE id = $1
           RETURNING version"#,
        id,
        edit.kind,
        edit.path,
        edit.title,
        &edit.tags,
        edit.metadata,
        edit.project_id,
    )
    .fetch_one(executor)
    .await
}
