//! Bulk ingestion: up to [`MAX_DOCUMENTS`] documents in one request, each one answered on
//! its own (a bad item does not sink the others), with the single path's guarantees.
//!
//! The stages do once for the whole batch what [`super::ingest`] does per document: every
//! item is checked, those stored unchanged are answered without work, the rest are chunked
//! on the blocking pool (one task per core) and embedded together. Then one transaction
//! writes every document and chunk with multi-row statements (chunks pending), the vectors
//! go to the index in one upsert (one flush), and one statement marks them indexed. If the
//! index fails, the rows stay pending for the background indexer, as on the single path.

use std::collections::{HashMap, HashSet};

use authn::AuthUser;
use chrono::{DateTime, Utc};
use db::memory::{Document, DocumentKey, IndexableChunk, NewChunk, NewDocument};
use embed::EmbedError;
use serde_json::Value;
use uuid::Uuid;

use super::{
    Outcome, chunks_of, is_unchanged,
    validate::{Checked, IngestRequest, check},
};
use crate::{chunking::TextFormat, error::ApiError, state::AppState};

/// Most documents in one batch.
pub const MAX_DOCUMENTS: usize = 1000;
/// Largest batch body, in bytes.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// A batch that wrote at least this many chunks refreshes the planner's statistics.
pub const ANALYZE_AFTER_CHUNKS: usize = 500;

/// What happened to one item of a batch: the document's id and outcome, or its error.
pub type ItemResult = Result<(Uuid, Outcome), ApiError>;

/// An item that passed its checks, on its way through the stages.
struct Item {
    index: usize,
    document: NewDocument,
    content: String,
    format: TextFormat,
}

/// An item with its chunks and their vectors, ready to write.
struct Prepared {
    index: usize,
    document: NewDocument,
    chunks: Vec<NewChunk>,
    vectors: Vec<Vec<f32>>,
}

/// Ingests `items` (the raw JSON of each document) for `user`; the answer has one result
/// per item, in order. Fails as a whole only when the embedder, the database or the
/// blocking pool does: then nothing was stored.
pub async fn ingest_batch(
    state: &AppState,
    user: &AuthUser,
    items: Vec<Value>,
) -> Result<Vec<ItemResult>, ApiError> {
    let mut results: Vec<Option<ItemResult>> = items.iter().map(|_| None).collect();
    let max_bytes = state.config.memory_max_document_bytes;
    let mut valid = Vec::new();
    for (index, value) in items.into_iter().enumerate() {
        match parse(value, user, max_bytes) {
            Ok(checked) => valid.push(Item {
                index,
                document: checked.document,
                content: checked.content,
                format: checked.format,
            }),
            Err(error) => results[index] = Some(Err(error)),
        }
    }
    let valid = without_repeated_keys(valid, &mut results);
    let valid = without_unchanged(state, valid, &mut results).await?;
    let prepared = embed(state, chunk(state, valid).await?, &mut results).await?;
    let written = write(state, prepared, &mut results).await?;
    let chunks_written = written.indexable.len();
    store_vectors(state, written).await;
    if chunks_written >= ANALYZE_AFTER_CHUNKS {
        state.statistics.start(state.pool.clone());
    }
    Ok(results
        .into_iter()
        .map(|result| result.unwrap_or_else(|| Err(ApiError::Internal("item not handled".into()))))
        .collect())
}

/// One item's JSON as a checked document: NUL-free, well-shaped, allowed, valid.
fn parse(value: Value, user: &AuthUser, max_bytes: usize) -> Result<Checked, ApiError> {
    if let Some(field) = platform::text::find_nul(&value) {
        return Err(ApiError::validation(
            platform::text::INVALID_TEXT,
            platform::text::nul_message(&field),
        ));
    }
    let request: IngestRequest = serde_json::from_value(value)
        .map_err(|error| ApiError::validation("invalid_document", error.to_string()))?;
    if request.shared && !user.role.is_admin() {
        return Err(ApiError::Forbidden("only admins can add shared documents"));
    }
    let owner_id = (!request.shared).then_some(user.user_id);
    check(request, owner_id, max_bytes)
}

fn key_of(document: &NewDocument) -> Option<DocumentKey> {
    Some(DocumentKey {
        owner_id: document.owner_id,
        source: document.source.clone(),
        external_id: document.external_id.clone()?,
    })
}

/// Two items with one re-ingestion key would race each other inside one transaction: the
/// first stands, each later one is refused.
fn without_repeated_keys(items: Vec<Item>, results: &mut [Option<ItemResult>]) -> Vec<Item> {
    let mut first: HashMap<DocumentKey, usize> = HashMap::new();
    items
        .into_iter()
        .filter(|item| {
            let Some(key) = key_of(&item.document) else {
                return true;
            };
            match first.get(&key) {
                Some(earlier) => {
                    results[item.index] = Some(Err(ApiError::validation(
                        "duplicate_in_batch",
                        format!("item {earlier} of this batch has the same source and external_id"),
                    )));
                    false
                }
                None => {
                    first.insert(key, item.index);
                    true
                }
            }
        })
        .collect()
}

/// The stored versions of the items that have a re-ingestion key.
async fn stored_versions(
    executor: impl sqlx::PgExecutor<'_>,
    items: &[&NewDocument],
) -> Result<HashMap<DocumentKey, Document>, sqlx::Error> {
    let mut keys: Vec<DocumentKey> = items.iter().filter_map(|d| key_of(d)).collect();
    // A stable order: concurrent batches lock shared rows in the same sequence.
    keys.sort_unstable();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let stored = db::memory::documents::find_by_keys(executor, &keys).await?;
    Ok(stored
        .into_iter()
        .filter_map(|document| {
            let key = DocumentKey {
                owner_id: document.owner_id,
                source: document.source.clone(),
                external_id: document.external_id.clone()?,
            };
            Some((key, document))
        })
        .collect())
}

/// Answers the items stored unchanged (same content and fields) before any work.
async fn without_unchanged(
    state: &AppState,
    items: Vec<Item>,
    results: &mut [Option<ItemResult>],
) -> Result<Vec<Item>, ApiError> {
    let documents: Vec<&NewDocument> = items.iter().map(|item| &item.document).collect();
    let stored = stored_versions(&state.pool, &documents).await?;
    Ok(items
        .into_iter()
        .filter(|item| {
            let unchanged = key_of(&item.document)
                .and_then(|key| stored.get(&key))
                .filter(|stored| is_unchanged(stored, &item.document));
            match unchanged {
                Some(stored) => {
                    results[item.index] = Some(Ok((stored.id, Outcome::Unchanged)));
                    false
                }
                None => true,
            }
        })
        .collect())
}

/// Splits every item into chunks on the blocking pool, one task per core.
async fn chunk(state: &AppState, items: Vec<Item>) -> Result<Vec<(Item, Vec<NewChunk>)>, ApiError> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let per_task = items.len().div_ceil(cores).max(1);
    let mut tasks = Vec::new();
    let mut items = items.into_iter();
    loop {
        let group: Vec<Item> = items.by_ref().take(per_task).collect();
        if group.is_empty() {
            break;
        }
        let chunker = state.chunker.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            group
                .into_iter()
                .map(|item| {
                    let chunks = chunks_of(&chunker, &item.content, item.format);
                    (item, chunks)
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut chunked = Vec::new();
    for task in tasks {
        chunked.extend(
            task.await
                .map_err(|error| ApiError::Internal(format!("chunking failed: {error}")))?,
        );
    }
    Ok(chunked)
}

/// Embeds every chunk of the batch in one call. When the embedder refuses some text (an
/// item's own fault), the items are embedded one by one so that only those are refused.
async fn embed(
    state: &AppState,
    chunked: Vec<(Item, Vec<NewChunk>)>,
    results: &mut [Option<ItemResult>],
) -> Result<Vec<Prepared>, ApiError> {
    let mut ready = Vec::with_capacity(chunked.len());
    for (item, chunks) in chunked {
        if chunks.is_empty() {
            results[item.index] = Some(Err(ApiError::validation(
                "empty_content",
                "content has no text to index",
            )));
        } else {
            ready.push((item, chunks));
        }
    }
    let texts: Vec<String> = ready
        .iter()
        .flat_map(|(_, chunks)| chunks.iter().map(|chunk| chunk.content.clone()))
        .collect();
    let embedder = &state.indexer.embedder;
    let mut vectors = match embedder.embed(&texts).await {
        Ok(vectors) => Some(vectors.into_iter()),
        Err(EmbedError::InvalidInput(_)) => None,
        Err(error) => return Err(error.into()),
    };
    let mut prepared = Vec::with_capacity(ready.len());
    for (item, chunks) in ready {
        let item_vectors = match vectors.as_mut() {
            Some(all) => all.by_ref().take(chunks.len()).collect(),
            None => {
                let texts: Vec<String> = chunks.iter().map(|c| c.content.clone()).collect();
                match embedder.embed(&texts).await {
                    Ok(vectors) => vectors,
                    Err(error @ EmbedError::InvalidInput(_)) => {
                        results[item.index] = Some(Err(error.into()));
                        continue;
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        };
        prepared.push(Prepared {
            index: item.index,
            document: item.document,
            chunks,
            vectors: item_vectors,
        });
    }
    Ok(prepared)
}

/// What the transaction wrote: the chunks to index with their vectors, and the chunk ids
/// (= vectors) of replaced versions.
struct Written {
    indexable: Vec<IndexableChunk>,
    vectors: Vec<Vec<f32>>,
    replaced: Vec<Uuid>,
}

/// Writes every prepared document and its chunks in one transaction: stored versions are
/// locked (in key order), then replaced; new documents are inserted in key order; then all
/// chunks in one statement, pending.
async fn write(
    state: &AppState,
    mut prepared: Vec<Prepared>,
    results: &mut [Option<ItemResult>],
) -> Result<Written, ApiError> {
    prepared.sort_by_cached_key(|item| key_of(&item.document));
    let mut tx = state.pool.begin().await?;
    let documents: Vec<&NewDocument> = prepared.iter().map(|item| &item.document).collect();
    let stored = stored_versions(&mut *tx, &documents).await?;

    let mut targets: Vec<(Uuid, Option<DateTime<Utc>>, Outcome)> =
        Vec::with_capacity(prepared.len());
    let (mut updates, mut inserts) = (Vec::new(), Vec::new());
    for item in &prepared {
        let existing = key_of(&item.document).and_then(|key| stored.get(&key));
        let target = match existing {
            // Another request stored this very version while we were embedding.
            Some(stored) if is_unchanged(stored, &item.document) => {
                (stored.id, Some(stored.created_at), Outcome::Unchanged)
            }
            Some(stored) => {
                updates.push((stored.id, &item.document));
                (stored.id, Some(stored.created_at), Outcome::Updated)
            }
            None => {
                let id = Uuid::now_v7();
                inserts.push((id, &item.document));
                (id, None, Outcome::Created)
            }
        };
        targets.push(target);
    }
    db::memory::documents::replace_many(&mut *tx, &updates).await?;
    let updated: Vec<Uuid> = updates.iter().map(|(id, _)| *id).collect();
    let replaced = db::memory::chunks::delete_of_documents(&mut *tx, &updated).await?;
    let created: HashMap<Uuid, DateTime<Utc>> =
        db::memory::documents::insert_many(&mut *tx, &inserts)
            .await?
            .into_iter()
            .collect();

    let mut written = Written {
        indexable: Vec::new(),
        vectors: Vec::new(),
        replaced,
    };
    let mut rows: Vec<(Uuid, &NewChunk)> = Vec::new();
    let mut accepted = HashSet::new();
    for (item, (id, created_at, outcome)) in prepared.iter().zip(targets) {
        let created_at = match (outcome, created_at) {
            (Outcome::Unchanged, _) => {
                results[item.index] = Some(Ok((id, outcome)));
                continue;
            }
            (_, Some(created_at)) => created_at,
            (_, None) => match created.get(&id) {
                Some(created_at) => *created_at,
                None => {
                    // Stored by a concurrent request since we looked: like the single path's 409.
                    results[item.index] = Some(Err(ApiError::Conflict {
                        code: "ingest_conflict",
                        message: "this document is being ingested by another request: retry",
                    }));
                    continue;
                }
            },
        };
        accepted.insert(item.index);
        results[item.index] = Some(Ok((id, outcome)));
        rows.extend(item.chunks.iter().map(|chunk| (id, chunk)));
        written
            .indexable
            .extend(item.chunks.iter().map(|chunk| IndexableChunk {
                id: chunk.id,
                document_id: id,
                chunk_index: chunk.chunk_index,
                // Not part of the vector's payload; the text is in `rows` already.
                content: String::new(),
                owner_id: item.document.owner_id,
                source: item.document.source.clone(),
                kind: item.document.kind.clone(),
                tags: item.document.tags.clone(),
                created_at,
            }));
    }
    db::memory::chunks::insert_many(&mut *tx, &rows).await?;
    tx.commit().await?;
    for item in prepared {
        if accepted.contains(&item.index) {
            written.vectors.extend(item.vectors);
        }
    }
    Ok(written)
}

/// Upserts the vectors (one call: one flush) and marks the chunks indexed. A failure leaves
/// them pending for the background indexer, which it wakes; the answer shows them pending.
async fn store_vectors(state: &AppState, written: Written) {
    if !written.indexable.is_empty()
        && let Err(error) = state
            .indexer
            .store(&written.indexable, written.vectors)
            .await
    {
        tracing::warn!(%error, chunks = written.indexable.len(),
            "batch vectors not stored yet; the indexer will retry");
        state.indexer_wakeup.notify_one();
    }
    if let Err(error) = state.indexer.remove(&written.replaced).await {
        // Orphans are skipped by searches (they join PostgreSQL) and cost only space.
        tracing::warn!(%error, "old vectors of replaced documents not deleted");
    }
}
