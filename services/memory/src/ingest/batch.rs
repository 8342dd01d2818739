//! Bulk ingestion: up to [`MAX_DOCUMENTS`] documents in one request, each one answered on
//! its own (a bad item does not sink the others), with the single path's guarantees.
//!
//! The stages do once for the whole batch what [`super::ingest`] does per document: every
//! item is checked (its project in one query for all), those stored unchanged (or whose
//! text is stored already) are answered without work, the rest are chunked
//! on the blocking pool (one task per core) and embedded together. Then one transaction
//! writes every document with multi-row statements, stores the vectors with one index upsert
//! (one flush) and writes every chunk in one statement, marked indexed ([`super::write`],
//! which the single path's group commit shares). If the index fails, the chunks are written
//! pending for the background indexer, as on the single path.

use std::collections::HashMap;

use authn::AuthUser;
use db::memory::{DocumentKey, NewChunk, NewDocument, documents::ContentKey};
use embed::EmbedError;
use serde_json::Value;

pub use super::write::ItemResult;
use super::{
    chunks_of,
    existing::{content_key, is_unchanged, key_of, stored_copies, stored_versions},
    project,
    validate::{Checked, IngestRequest, check},
    write::{Outcome, Prepared},
};
use crate::{chunking::TextFormat, error::ApiError, state::AppState};

/// Most documents in one batch.
pub const MAX_DOCUMENTS: usize = 1000;
/// Largest batch body, in bytes.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// A batch that wrote at least this many chunks refreshes the planner's statistics.
pub const ANALYZE_AFTER_CHUNKS: usize = 500;

/// An item that passed its checks, on its way through the stages.
struct Item {
    index: usize,
    document: NewDocument,
    content: String,
    format: TextFormat,
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
    let valid = in_visible_projects(state, user, valid, &mut results).await?;
    let valid = without_repeated_keys(valid, &mut results);
    let valid = without_unchanged(state, valid, &mut results).await?;
    let mut prepared = embed(state, chunk(state, valid).await?, &mut results).await?;
    let written = state.writer.write(&mut prepared, &mut results).await?;
    let chunks_written = written.chunks();
    state.writer.finish(written).await;
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
    if request.shared {
        if !user.role.is_admin() {
            return Err(ApiError::Forbidden("only admins can add shared documents"));
        }
        // Managing shared knowledge is an admin action: aal2 for an admin with a factor.
        user.require_aal2()?;
    }
    let owner_id = (!request.shared).then_some(user.user_id);
    check(request, owner_id, max_bytes)
}

/// Refuses the items filed under a project the user cannot see (one query for all).
async fn in_visible_projects(
    state: &AppState,
    user: &AuthUser,
    items: Vec<Item>,
    results: &mut [Option<ItemResult>],
) -> Result<Vec<Item>, ApiError> {
    let wanted = items.iter().filter_map(|item| item.document.project_id);
    let visible = project::visible(&state.pool, user, wanted).await?;
    Ok(items
        .into_iter()
        .filter(|item| match item.document.project_id {
            Some(project_id) if !visible.contains(&project_id) => {
                results[item.index] = Some(Err(project::unknown_project()));
                false
            }
            _ => true,
        })
        .collect())
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

/// Answers the items stored unchanged (same content and fields), and the texts without a
/// re-ingestion key stored already, before any work. Copies of one text within the batch
/// are left to [`write`], which stores the first and answers the others with it.
async fn without_unchanged(
    state: &AppState,
    items: Vec<Item>,
    results: &mut [Option<ItemResult>],
) -> Result<Vec<Item>, ApiError> {
    let documents: Vec<&NewDocument> = items.iter().map(|item| &item.document).collect();
    let stored = stored_versions(&state.pool, &documents).await?;
    let content_keys: Vec<ContentKey> = documents.iter().filter_map(|d| content_key(d)).collect();
    let copies = stored_copies(&state.pool, &content_keys).await?;
    Ok(items
        .into_iter()
        .filter(|item| {
            let unchanged = match key_of(&item.document) {
                Some(key) => stored
                    .get(&key)
                    .filter(|stored| is_unchanged(stored, &item.document))
                    .map(|stored| stored.id),
                None => content_key(&item.document).and_then(|key| copies.get(&key).copied()),
            };
            match unchanged {
                Some(id) => {
                    results[item.index] = Some(Ok((id, Outcome::Unchanged)));
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
