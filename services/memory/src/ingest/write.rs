//! Writing documents that are checked, chunked and embedded, for the batch route and the
//! group commit of single ingestions alike: one transaction writes every document with
//! multi-row statements, stores the vectors with one index upsert (one flush), then writes
//! every chunk in one statement, marked indexed, and commits. If the index fails, the chunks
//! are written pending, for the background indexer. A write that stores vectors and then
//! does not commit leaves orphan vectors, which searches skip (they join PostgreSQL) and the
//! orphan sweep deletes (it never looks while a write is between the two).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use chrono::{DateTime, Utc};
use db::{
    PgPool, Postgres, Transaction,
    memory::{
        Document, DocumentKey, IndexableChunk, IndexedWith, NewChunk, NewDocument,
        documents::ContentKey,
    },
};
use tokio::sync::Notify;
use uuid::Uuid;

use super::existing::{content_key, is_unchanged, key_of, stored_copies, stored_versions};
use crate::{error::ApiError, indexing::Indexer};

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

/// What happened to one document: its id and outcome, or its error.
pub type ItemResult = Result<(Uuid, Outcome), ApiError>;

/// What writing documents needs: the database, the index, the text-search configuration
/// their chunks are derived with, and the background indexer's wake-up for chunks left
/// pending. Cheap to clone (the group commit's writing task takes its own).
#[derive(Clone)]
pub struct DocumentWriter {
    pool: PgPool,
    indexer: Indexer,
    search_language: Arc<str>,
    indexer_wakeup: Arc<Notify>,
}

/// A document ready to write: its chunks and their vectors (`vectors[i]` is `chunks[i]`'s).
/// `index` is its place in the answer: its result goes to `results[index]`.
pub(super) struct Prepared {
    pub(super) index: usize,
    pub(super) document: NewDocument,
    pub(super) chunks: Vec<NewChunk>,
    pub(super) vectors: Vec<Vec<f32>>,
}

/// What a transaction wrote: its chunks (with the vectors' payload fields), whether they
/// were left pending, and the chunk ids (= vectors) of replaced versions.
#[derive(Default)]
pub(super) struct Written {
    indexable: Vec<IndexableChunk>,
    pending: bool,
    replaced: Vec<Uuid>,
}

impl Written {
    /// Chunks written.
    pub(super) fn chunks(&self) -> usize {
        self.indexable.len()
    }

    /// Adds what another transaction wrote (the group's documents written one by one).
    pub(super) fn append(&mut self, mut other: Written) {
        self.indexable.append(&mut other.indexable);
        self.pending |= other.pending;
        self.replaced.append(&mut other.replaced);
    }
}

impl DocumentWriter {
    pub fn new(indexer: Indexer, search_language: &str, indexer_wakeup: Arc<Notify>) -> Self {
        Self {
            pool: indexer.pool.clone(),
            indexer,
            search_language: search_language.into(),
            indexer_wakeup,
        }
    }

    /// The database the documents are written to.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Writes the documents in one transaction: stored versions are locked (in key order),
    /// then replaced; new documents are inserted in key order; the vectors are stored; then
    /// all chunks are written in one statement, indexed (pending if the index failed). A new
    /// document whose text its owner holds already (stored meanwhile, or earlier in
    /// `prepared`) is answered with that copy, unchanged; one whose re-ingestion key a
    /// concurrent transaction stored since the lookup replaces (or is unchanged against)
    /// that version once it has committed. Each document's result goes to
    /// `results` once the transaction has committed; on an error nothing was written and
    /// `results` and `prepared` keep what they held (the documents can be written again). No
    /// two documents may share a re-ingestion key.
    pub(super) async fn write(
        &self,
        prepared: &mut [Prepared],
        results: &mut [Option<ItemResult>],
    ) -> Result<Written, sqlx::Error> {
        prepared.sort_by_cached_key(|item| key_of(&item.document));
        let mut tx = self.pool.begin().await?;
        db::memory::start_ingest_write(&mut *tx).await?;
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
        let replaced = replace(&mut tx, &updates).await?;
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
        // Likewise a document whose re-ingestion key another transaction stored since we
        // looked: its row is committed now, so it is the stored version after all.
        let raced: Vec<&NewDocument> = inserts
            .iter()
            .filter(|(id, document)| !created.contains_key(id) && key_of(document).is_some())
            .map(|(_, document)| *document)
            .collect();
        let raced = stored_versions(&mut *tx, &raced).await?;
        let mut late_updates = Vec::new();

        let mut written = Written {
            replaced,
            ..Written::default()
        };
        let mut answers: Vec<(usize, ItemResult)> = Vec::with_capacity(prepared.len());
        let mut rows: Vec<(Uuid, &NewChunk)> = Vec::new();
        let mut accepted = HashSet::new();
        for (item, (id, created_at, outcome)) in prepared.iter().zip(targets) {
            let (id, created_at, outcome) = match (outcome, created_at) {
                (Outcome::Unchanged, _) => {
                    answers.push((item.index, Ok((id, outcome))));
                    continue;
                }
                (_, Some(created_at)) => (id, created_at, outcome),
                (_, None) => match created.get(&id) {
                    Some(created_at) => (id, *created_at, outcome),
                    None => match skipped_insert(&item.document, &copies, &raced) {
                        Ok(stored) => {
                            late_updates.push((stored.id, &item.document));
                            (stored.id, stored.created_at, Outcome::Updated)
                        }
                        Err(answer) => {
                            answers.push((item.index, answer));
                            continue;
                        }
                    },
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
        written
            .replaced
            .extend(replace(&mut tx, &late_updates).await?);
        // In the order of `indexable`: both follow `prepared`. Copied: after an error the
        // documents are written again (one by one), vectors included.
        let vectors: Vec<Vec<f32>> = prepared
            .iter()
            .filter(|item| accepted.contains(&item.index))
            .flat_map(|item| item.vectors.iter().cloned())
            .collect();
        if !rows.is_empty() {
            let indexed = self.store_vectors(&written.indexable, vectors).await;
            written.pending = indexed.is_none();
            let inserted =
                db::memory::chunks::insert_many(&mut *tx, &rows, &self.search_language, indexed)
                    .await;
            if let Err(error) = inserted {
                // Certainly not committed: the vectors just stored would only be orphans.
                // (After a failed commit they stay for the sweep: the commit may have
                // happened all the same, and its chunks are marked indexed.)
                if indexed.is_some() {
                    let ids: Vec<Uuid> = rows.iter().map(|(_, chunk)| chunk.id).collect();
                    if let Err(error) = self.indexer.remove(&ids).await {
                        tracing::warn!(%error, "vectors of a refused write left for the sweep");
                    }
                }
                return Err(error);
            }
        }
        tx.commit().await?;
        for (index, answer) in answers {
            results[index] = Some(answer);
        }
        Ok(written)
    }

    /// Upserts the vectors (one call: one flush) before their rows are written, so that the
    /// rows are written indexed, with no second statement. When the index fails, returns
    /// `None`: the rows are written pending, for the background indexer (woken after this
    /// transaction, see [`Self::finish`]).
    async fn store_vectors(
        &self,
        chunks: &[IndexableChunk],
        vectors: Vec<Vec<f32>>,
    ) -> Option<IndexedWith<'_>> {
        match self.indexer.upsert(chunks, vectors).await {
            Ok(()) => Some(self.indexer.indexed_with()),
            Err(error) => {
                tracing::warn!(%error, chunks = chunks.len(),
                    "vectors not stored yet; the indexer will retry");
                None
            }
        }
    }

    /// After the commit: wakes the background indexer for chunks written pending, and deletes
    /// the vectors of replaced versions.
    pub(super) async fn finish(&self, written: Written) {
        if written.pending {
            self.indexer_wakeup.notify_one();
        }
        if let Err(error) = self.indexer.remove(&written.replaced).await {
            // Orphans are skipped by searches (they join PostgreSQL) and cost only space.
            tracing::warn!(%error, "old vectors of replaced documents not deleted");
        }
    }
}

/// Replaces the stored documents `updates` (id, new version) and deletes their chunks;
/// returns the deleted chunks' ids (their vectors go after the commit).
async fn replace(
    tx: &mut Transaction<'_, Postgres>,
    updates: &[(Uuid, &NewDocument)],
) -> Result<Vec<Uuid>, sqlx::Error> {
    if updates.is_empty() {
        return Ok(Vec::new());
    }
    db::memory::documents::replace_many(&mut **tx, updates).await?;
    let ids: Vec<Uuid> = updates.iter().map(|(id, _)| *id).collect();
    db::memory::chunks::delete_of_documents(&mut **tx, &ids).await
}

/// A new document whose insert was skipped because another transaction stored its text or
/// its re-ingestion key since we looked (the insert waited for it to commit): the stored
/// version it updates, or else its answer.
fn skipped_insert<'a>(
    document: &NewDocument,
    copies: &HashMap<ContentKey, Uuid>,
    raced: &'a HashMap<DocumentKey, Document>,
) -> Result<&'a Document, ItemResult> {
    if let Some(copy) = content_key(document).and_then(|key| copies.get(&key)) {
        // Its text is stored already: that copy is the answer.
        return Err(Ok((*copy, Outcome::Unchanged)));
    }
    match key_of(document).and_then(|key| raced.get(&key)) {
        Some(stored) if is_unchanged(stored, document) => Err(Ok((stored.id, Outcome::Unchanged))),
        Some(stored) => Ok(stored),
        // Stored since we looked and deleted again: like the single path's 409.
        None => Err(Err(ApiError::Conflict {
            code: "ingest_conflict",
            message: "this document is being ingested by another request: retry",
        })),
    }
}
