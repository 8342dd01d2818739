//! Ingestion: text → chunks → vectors, stored so that nothing is lost if the index fails.
//!
//! Order matters. Embedding happens first, so an unavailable embedder stores nothing. The
//! document and its chunks then commit in one transaction (chunks pending), the vectors are
//! upserted, and the chunks are marked indexed. If the index fails after the commit, the
//! document is kept with pending chunks and the background indexer finishes the job.

pub mod batch;
mod validate;

use authn::AuthUser;
use chrono::{DateTime, Utc};
use db::memory::{Document, IndexableChunk, NewChunk, NewDocument};
use serde_json::json;
use uuid::Uuid;

use validate::{Checked, check};
pub use validate::{Format, IngestRequest, sha256_hex};

use crate::{
    chunking::{Chunker, TextFormat},
    error::ApiError,
    state::AppState,
};

/// What an ingestion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    /// Same `source` + `external_id`, new content or fields: chunks were replaced.
    Updated,
    /// Same content and fields as stored: nothing was written.
    Unchanged,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
        }
    }
}

pub async fn ingest(
    state: &AppState,
    user: &AuthUser,
    request: IngestRequest,
) -> Result<(Uuid, Outcome), ApiError> {
    if request.shared && !user.role.is_admin() {
        return Err(ApiError::Forbidden("only admins can add shared documents"));
    }
    let owner_id = (!request.shared).then_some(user.user_id);
    let Checked {
        document,
        content,
        format,
    } = check(request, owner_id, state.config.memory_max_document_bytes)?;
    if let Some(existing) = stored_version(&state.pool, &document).await?
        && is_unchanged(&existing, &document)
    {
        return Ok((existing.id, Outcome::Unchanged));
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

    let (document_id, created_at, outcome, replaced) = write(state, &document, &chunks).await?;
    if outcome == Outcome::Unchanged {
        return Ok((document_id, outcome));
    }
    let indexable: Vec<IndexableChunk> = chunks
        .iter()
        .map(|chunk| IndexableChunk {
            id: chunk.id,
            document_id,
            chunk_index: chunk.chunk_index,
            content: chunk.content.clone(),
            owner_id,
            source: document.source.clone(),
            kind: document.kind.clone(),
            tags: document.tags.clone(),
            created_at,
        })
        .collect();
    if let Err(error) = state.indexer.store(&indexable, vectors).await {
        tracing::warn!(%error, %document_id, "vectors not stored yet; the indexer will retry");
        state.indexer_wakeup.notify_one();
    }
    if let Err(error) = state.indexer.remove(&replaced).await {
        // Orphans are skipped by searches (they join PostgreSQL) and cost only space.
        tracing::warn!(%error, %document_id, "old vectors of a replaced document not deleted");
    }
    Ok((document_id, outcome))
}

/// The stored document with the same re-ingestion key, if any.
async fn stored_version(
    pool: &db::PgPool,
    document: &NewDocument,
) -> Result<Option<Document>, ApiError> {
    let Some(external_id) = &document.external_id else {
        return Ok(None);
    };
    Ok(db::memory::documents::find_by_external_id(
        pool,
        document.owner_id,
        &document.source,
        external_id,
    )
    .await?)
}

fn is_unchanged(stored: &Document, new: &NewDocument) -> bool {
    stored.content_hash.as_deref() == Some(new.content_hash.as_str())
        && stored.kind == new.kind
        && stored.path == new.path
        && stored.title == new.title
        && stored.tags == new.tags
        && stored.metadata == new.metadata
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

/// Writes the document and its chunks in one transaction. Returns the document's id and
/// creation time, what happened, and the chunk ids (= vectors) that were replaced.
async fn write(
    state: &AppState,
    document: &NewDocument,
    chunks: &[NewChunk],
) -> Result<(Uuid, DateTime<Utc>, Outcome, Vec<Uuid>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let existing = match &document.external_id {
        // Locked: concurrent re-ingestions of one document take turns.
        Some(external_id) => {
            db::memory::documents::find_by_external_id(
                &mut *tx,
                document.owner_id,
                &document.source,
                external_id,
            )
            .await?
        }
        None => None,
    };
    let result = match existing {
        // Another request stored this very version while we were embedding.
        Some(stored) if is_unchanged(&stored, document) => {
            (stored.id, stored.created_at, Outcome::Unchanged, Vec::new())
        }
        Some(stored) => {
            db::memory::documents::replace(&mut *tx, stored.id, document).await?;
            let replaced = db::memory::chunks::delete_of_document(&mut *tx, stored.id).await?;
            db::memory::chunks::insert_all(&mut *tx, stored.id, chunks).await?;
            (stored.id, stored.created_at, Outcome::Updated, replaced)
        }
        None => {
            let (id, created_at) = db::memory::documents::insert(&mut *tx, document).await?;
            db::memory::chunks::insert_all(&mut *tx, id, chunks).await?;
            (id, created_at, Outcome::Created, Vec::new())
        }
    };
    tx.commit().await?;
    Ok(result)
}
