//! Writing documents that are checked, chunked and embedded, for the batch route and the
//! group commit of single ingestions alike: one transaction writes every document and chunk
//! with multi-row statements (chunks pending), then one index upsert (one flush) stores the
//! vectors and one statement marks their chunks indexed. If the index fails, the rows stay
//! pending for the background indexer.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use db::memory::{
    Document, DocumentKey, IndexableChunk, NewChunk, NewDocument, documents::ContentKey,
};
use uuid::Uuid;

use super::{Outcome, batch::ItemResult, content_key, is_unchanged};
use crate::{error::ApiError, state::AppState};

/// A document ready to write: its chunks and their vectors (`vectors[i]` is `chunks[i]`'s).
/// `index` is its place in the answer: its result goes to `results[index]`.
pub(super) struct Prepared {
    pub(super) index: usize,
    pub(super) document: NewDocument,
    pub(super) chunks: Vec<NewChunk>,
    pub(super) vectors: Vec<Vec<f32>>,
}

/// The re-ingestion key of a document that has one.
pub(super) fn key_of(document: &NewDocument) -> Option<DocumentKey> {
    Some(DocumentKey {
        owner_id: document.owner_id,
        source: document.fields.source.clone(),
        external_id: document.fields.external_id.clone()?,
    })
}

/// The stored versions of the documents that have a re-ingestion key, locked inside a
/// transaction until it ends.
pub(super) async fn stored_versions(
    executor: impl sqlx::PgExecutor<'_>,
    documents: &[&NewDocument],
) -> Result<HashMap<DocumentKey, Document>, sqlx::Error> {
    let mut keys: Vec<DocumentKey> = documents.iter().filter_map(|d| key_of(d)).collect();
    // A stable order: concurrent writers lock shared rows in the same sequence.
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

/// What a transaction wrote: the chunks to index with their vectors, and the chunk ids
/// (= vectors) of replaced versions.
#[derive(Default)]
pub(super) struct Written {
    indexable: Vec<IndexableChunk>,
    vectors: Vec<Vec<f32>>,
    replaced: Vec<Uuid>,
}

impl Written {
    /// Chunks written (each to be indexed).
    pub(super) fn chunks(&self) -> usize {
        self.indexable.len()
    }

    /// Adds what another transaction wrote, to be stored with one upsert.
    pub(super) fn append(&mut self, mut other: Written) {
        self.indexable.append(&mut other.indexable);
        self.vectors.append(&mut other.vectors);
        self.replaced.append(&mut other.replaced);
    }
}

/// Writes the documents in one transaction: stored versions are locked (in key order), then
/// replaced; new documents are inserted in key order; then all chunks in one statement,
/// pending. A new document whose text its owner holds already (stored meanwhile, or earlier
/// in `prepared`) is answered with that copy, unchanged. Each document's result goes to
/// `results` once the transaction has committed; on an error nothing was written and
/// `results` and `prepared` keep what they held (the documents can be written again). No
/// two documents may share a re-ingestion key.
pub(super) async fn write(
    state: &AppState,
    prepared: &mut [Prepared],
    results: &mut [Option<ItemResult>],
) -> Result<Written, sqlx::Error> {
    prepared.sort_by_cached_key(|item| key_of(&item.document));
    let mut tx = state.pool.begin().await?;
    let documents: Vec<&NewDocument> = prepared.iter().map(|item| &item.document).collect();
    let stored = stored_versions(&mut *tx, &documents).await?;

    let mut targets: Vec<(Uuid, Option<DateTime<Utc>>, Outcome)> =
        Vec::with_capacity(prepared.len());
    let (mut updates, mut inserts) = (Vec::new(), Vec::new());
    for item in prepared.iter() {
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
    let mut replaced = Vec::new();
    if !updates.is_empty() {
        db::memory::documents::replace_many(&mut *tx, &updates).await?;
        let updated: Vec<Uuid> = updates.iter().map(|(id, _)| *id).collect();
        replaced = db::memory::chunks::delete_of_documents(&mut *tx, &updated).await?;
    }
    let created: HashMap<Uuid, DateTime<Utc>> = if inserts.is_empty() {
        HashMap::new()
    } else {
        db::memory::documents::insert_many(&mut *tx, &inserts)
            .await?
            .into_iter()
            .collect()
    };
    // The insert waited for any transaction holding a copy of a skipped text to end: a
    // copy still there is committed (or this transaction's own, earlier in `inserts`).
    let skipped: Vec<ContentKey> = inserts
        .iter()
        .filter(|(id, _)| !created.contains_key(id))
        .filter_map(|(_, document)| content_key(document))
        .collect();
    let copies = stored_copies(&mut *tx, &skipped).await?;

    let mut written = Written {
        replaced,
        ..Written::default()
    };
    let mut answers: Vec<(usize, ItemResult)> = Vec::with_capacity(prepared.len());
    let mut rows: Vec<(Uuid, &NewChunk)> = Vec::new();
    let mut accepted = HashSet::new();
    for (item, (id, created_at, outcome)) in prepared.iter().zip(targets) {
        let created_at = match (outcome, created_at) {
            (Outcome::Unchanged, _) => {
                answers.push((item.index, Ok((id, outcome))));
                continue;
            }
            (_, Some(created_at)) => created_at,
            (_, None) => match created.get(&id) {
                Some(created_at) => *created_at,
                None => {
                    let copy = content_key(&item.document).and_then(|key| copies.get(&key));
                    let answer = match copy {
                        // Its text is stored already: that copy is the answer.
                        Some(copy) => Ok((*copy, Outcome::Unchanged)),
                        // Stored by a concurrent request since we looked (and, for a copy
                        // of a text, deleted again): like the single path's 409.
                        None => Err(ApiError::Conflict {
                            code: "ingest_conflict",
                            message: "this document is being ingested by another request: retry",
                        }),
                    };
                    answers.push((item.index, answer));
                    continue;
                }
            },
        };
        accepted.insert(item.index);
        answers.push((item.index, Ok((id, outcome))));
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
                source: item.document.fields.source.clone(),
                kind: item.document.fields.kind.clone(),
                tags: item.document.fields.tags.clone(),
                created_at,
                project_id: item.document.project_id,
            }));
    }
    if !rows.is_empty() {
        db::memory::chunks::insert_many(&mut *tx, &rows, &state.config.memory_search_language)
            .await?;
    }
    tx.commit().await?;
    for (index, answer) in answers {
        results[index] = Some(answer);
    }
    // In the order of `indexable`: both follow `prepared`.
    for item in prepared.iter_mut() {
        if accepted.contains(&item.index) {
            written.vectors.append(&mut item.vectors);
        }
    }
    Ok(written)
}

/// The owners' stored copies of these texts (documents without a re-ingestion key): each
/// content key with its document's id.
pub(crate) async fn stored_copies(
    executor: impl sqlx::PgExecutor<'_>,
    keys: &[ContentKey],
) -> Result<HashMap<ContentKey, Uuid>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let stored = db::memory::documents::find_by_contents(executor, keys).await?;
    Ok(stored
        .into_iter()
        .filter_map(|document| {
            let key = ContentKey {
                owner_id: document.owner_id,
                content_hash: document.content_hash?,
            };
            Some((key, document.id))
        })
        .collect())
}

/// Upserts the vectors (one call: one flush) and marks the chunks indexed, then deletes the
/// vectors of replaced versions. A failure leaves the chunks pending for the background
/// indexer, which it wakes; the answer shows them pending.
pub(super) async fn store_vectors(state: &AppState, written: Written) {
    if !written.indexable.is_empty()
        && let Err(error) = state
            .indexer
            .store(&written.indexable, written.vectors)
            .await
    {
        tracing::warn!(%error, chunks = written.indexable.len(),
            "vectors not stored yet; the indexer will retry");
        state.indexer_wakeup.notify_one();
    }
    if let Err(error) = state.indexer.remove(&written.replaced).await {
        // Orphans are skipped by searches (they join PostgreSQL) and cost only space.
        tracing::warn!(%error, "old vectors of replaced documents not deleted");
    }
}
