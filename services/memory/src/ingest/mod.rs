//! Ingestion: text → chunks → vectors, stored so that nothing is lost if the index fails.
//!
//! Order matters. Embedding happens first, so an unavailable embedder stores nothing. Then
//! one transaction writes the document, stores the vectors in the index, and writes the
//! chunks marked indexed. If the index fails, the document is kept with its chunks pending
//! and the background indexer finishes the job. Single
//! documents are written together with those of concurrent requests ([`group`]), batches on
//! their own ([`batch`]); both through [`write`].
//!
//! One copy of a text: a document sent without `external_id` whose text its owner has
//! stored already (same SHA-256, also without `external_id`) is not stored again; the
//! answer is the stored document, `unchanged`. The unique index
//! `documents_owner_content_hash_key` decides between concurrent writers ([`write`]).

pub mod batch;
mod existing;
pub mod group;
pub mod project;
mod validate;
pub mod write;

use authn::AuthUser;
use db::memory::{Document, NewChunk};
use serde_json::json;
use uuid::Uuid;

pub(crate) use existing::stored_copies;
use existing::{is_unchanged, stored_version};
use validate::{Checked, check};
pub use validate::{
    CheckedFields, Fields, Format, IngestRequest, check_fields, check_kind, check_metadata,
    check_path, check_tags, check_title, sha256_hex,
};
pub use write::Outcome;

use crate::{
    chunking::{Chunker, TextFormat},
    error::ApiError,
    state::AppState,
};

/// Ingests one document for `user`; answers with the document as stored (and its chunk
/// counts) and what happened.
pub async fn ingest(
    state: &AppState,
    user: &AuthUser,
    request: IngestRequest,
) -> Result<(Document, Outcome), ApiError> {
    if request.shared {
        if !user.role.is_admin() {
            return Err(ApiError::Forbidden("only admins can add shared documents"));
        }
        // Managing shared knowledge is an admin action: aal2 for an admin with a factor.
        user.require_aal2()?;
    }
    let owner_id = (!request.shared).then_some(user.user_id);
    let Checked {
        document,
        content,
        format,
    } = check(request, owner_id, state.config.memory_max_document_bytes)?;
    if let Some(project_id) = document.project_id
        && !project::visible(&state.pool, user, [project_id])
            .await?
            .contains(&project_id)
    {
        return Err(project::unknown_project());
    }
    if let Some(existing) = stored_version(&state.pool, &document).await?
        && is_unchanged(&existing, &document)
    {
        let stored = db::memory::documents::get_visible(&state.pool, existing.id, user.user_id)
            .await?
            // Deleted by a concurrent request since we looked.
            .ok_or(ApiError::NotFound("the document was deleted meanwhile"))?;
        return Ok((stored, Outcome::Unchanged));
    }

    let chunks = split(state, content, format).await?;
    if chunks.is_empty() {
        return Err(ApiError::validation(
            "empty_content",
            "content has no text to index",
        ));
    }
    let texts: Vec<String> = chunks.iter().map(|chunk| chunk.content.clone()).collect();
    let vectors = state.indexer.embedder.embed(&texts).await?;
    state.ingest_groups.submit(document, chunks, vectors).await
}

/// Chunking is CPU work proportional to the document (up to `MEMORY_MAX_DOCUMENT_BYTES`):
/// it runs on the blocking pool so a large document cannot stall this worker's other requests.
async fn split(
    state: &AppState,
    content: String,
    format: TextFormat,
) -> Result<Vec<NewChunk>, ApiError> {
    let chunker = state.chunker.clone();
    tokio::task::spawn_blocking(move || chunks_of(&chunker, &content, format))
        .await
        .map_err(|error| ApiError::Internal(format!("chunking failed: {error}")))
}

/// The chunk rows of a text, each with a new id (CPU work: call it off the runtime).
pub fn chunks_of(chunker: &Chunker, content: &str, format: TextFormat) -> Vec<NewChunk> {
    chunker
        .split(content, format)
        .into_iter()
        .zip(0..)
        .map(|(piece, chunk_index)| NewChunk {
            // Time-ordered ids keep a document's points close together in the index.
            id: Uuid::now_v7(),
            chunk_index,
            content_hash: sha256_hex(&piece.content),
            metadata: json!({ "byte_offset": piece.start, "byte_length": piece.content.len() }),
            content: piece.content,
        })
        .collect()
}
