//! Writing a batch of imported documents in one transaction: documents under their own
//! ids with one multi-row insert, then their chunks with another, pending for the
//! background indexer (woken once the batch commits).
//!
//! A document is `unchanged` when its id is stored for the same owner, or (without
//! `external_id`) when its owner holds the same text under another id; it fails when its
//! id, a chunk's id or its re-ingestion key belongs to another document. When the database
//! refuses the batch, its documents are written one by one, so only the one at fault fails.

use std::collections::{HashMap, HashSet};

use authn::AuthUser;
use db::memory::documents::ContentKey;
use uuid::Uuid;

use super::{check::Checked, report::ImportReport};
use crate::{
    error::ApiError,
    ingest::{batch::ANALYZE_AFTER_CHUNKS, project, stored_copies},
    state::AppState,
};

/// Documents read but not written yet, each with its line number.
#[derive(Default)]
pub(super) struct Batch {
    items: Vec<Item>,
    ids: HashSet<Uuid>,
    chunk_ids: HashSet<Uuid>,
    text_bytes: usize,
}

struct Item {
    line: u64,
    checked: Checked,
    /// Its `project_id` was dropped (not a project the importer can see).
    project_dropped: bool,
}

impl Batch {
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    pub(super) fn text_bytes(&self) -> usize {
        self.text_bytes
    }

    pub(super) fn chunks(&self) -> usize {
        self.chunk_ids.len()
    }

    /// Whether `checked` repeats the id of a document, or of a chunk, in the batch.
    pub(super) fn overlaps(&self, checked: &Checked) -> bool {
        self.ids.contains(&checked.document.id)
            || checked
                .chunks
                .iter()
                .any(|chunk| self.chunk_ids.contains(&chunk.id))
    }

    pub(super) fn push(&mut self, line: u64, checked: Checked) {
        self.ids.insert(checked.document.id);
        self.chunk_ids
            .extend(checked.chunks.iter().map(|chunk| chunk.id));
        self.text_bytes += checked
            .chunks
            .iter()
            .map(|chunk| chunk.content.len())
            .sum::<usize>();
        self.items.push(Item {
            line,
            checked,
            project_dropped: false,
        });
    }
}

/// What became of one document.
enum Outcome {
    Imported,
    /// Stored already; `copy_of`: the same text under another id.
    Unchanged {
        copy_of: Option<Uuid>,
    },
    Failed(ApiError),
}

/// Writes `batch` and adds what became of each document to `report`. Fails only when the
/// database cannot be used at all.
pub(super) async fn write_batch(
    state: &AppState,
    user: &AuthUser,
    mut batch: Batch,
    report: &mut ImportReport,
) -> Result<(), ApiError> {
    if batch.items.is_empty() {
        return Ok(());
    }
    let wanted = batch
        .items
        .iter()
        .filter_map(|item| item.checked.document.project_id);
    let visible = project::visible(&state.pool, user, wanted).await?;
    for item in &mut batch.items {
        let document = &mut item.checked.document;
        if document.project_id.is_some_and(|id| !visible.contains(&id)) {
            document.project_id = None;
            item.project_dropped = true;
        }
    }
    let outcomes = match write(state, &batch.items).await {
        Ok(outcomes) => outcomes,
        Err(error @ sqlx::Error::Database(_)) if batch.items.len() > 1 => {
            tracing::warn!(%error, documents = batch.items.len(),
                "an import batch was refused; writing its documents one by one");
            let mut outcomes = Vec::with_capacity(batch.items.len());
            for item in batch.items.chunks(1) {
                match write(state, item).await {
                    Ok(mut outcome) => outcomes.append(&mut outcome),
                    Err(error) => outcomes.push(Outcome::Failed(error.into())),
                }
            }
            outcomes
        }
        Err(error @ sqlx::Error::Database(_)) => vec![Outcome::Failed(error.into())],
        Err(error) => return Err(error.into()),
    };
    let mut chunks_imported = 0;
    for (item, outcome) in batch.items.iter().zip(outcomes) {
        let (line, id) = (item.line, item.checked.document.id);
        match outcome {
            Outcome::Imported => {
                report.imported += 1;
                chunks_imported += item.checked.chunks.len();
                if item.project_dropped {
                    report.projects_dropped += 1;
                    report.notice(
                        line,
                        id,
                        "project_dropped",
                        "imported without its project_id: not a project you can see".into(),
                    );
                }
            }
            Outcome::Unchanged { copy_of } => {
                report.unchanged += 1;
                if let Some(copy) = copy_of {
                    report.notice(
                        line,
                        id,
                        "duplicate_content",
                        format!("not imported: the same text is stored as document {copy}"),
                    );
                }
            }
            Outcome::Failed(error) => report.fail(line, Some(id), &error),
        }
    }
    if chunks_imported > 0 {
        state.indexer_wakeup.notify_one();
    }
    if chunks_imported >= ANALYZE_AFTER_CHUNKS {
        state.statistics.start(state.pool.clone());
    }
    Ok(())
}

/// One transaction for `items`; an outcome for each, in order.
async fn write(state: &AppState, items: &[Item]) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut tx = state.pool.begin().await?;
    // Chunks first, documents second: each statement sees what has committed by then, so a
    // concurrent import of the same lines that commits in between shows its documents
    // (unchanged) rather than only its chunks (which would read as another document's).
    let chunk_ids: Vec<Uuid> = items
        .iter()
        .flat_map(|item| item.checked.chunks.iter().map(|chunk| chunk.id))
        .collect();
    let taken_chunks: HashSet<Uuid> = db::memory::chunks::existing_ids(&mut *tx, &chunk_ids)
        .await?
        .into_iter()
        .collect();
    let ids: Vec<Uuid> = items.iter().map(|item| item.checked.document.id).collect();
    let owners: HashMap<Uuid, Option<Uuid>> = db::memory::transfer::owners(&mut *tx, &ids)
        .await?
        .into_iter()
        .collect();
    let mut outcomes: Vec<Option<Outcome>> = items.iter().map(|_| None).collect();
    let mut candidates = Vec::new();
    for (at, item) in items.iter().enumerate() {
        let document = &item.checked.document;
        outcomes[at] = match owners.get(&document.id) {
            Some(owner) => Some(stored_under_id(*owner, document.owner_id)),
            None if item
                .checked
                .chunks
                .iter()
                .any(|c| taken_chunks.contains(&c.id)) =>
            {
                Some(Outcome::Failed(ApiError::Conflict {
                    code: "chunk_id_taken",
                    message: "a chunk id of this document belongs to another document",
                }))
            }
            None => {
                candidates.push(at);
                None
            }
        };
    }
    let documents: Vec<_> = candidates
        .iter()
        .map(|&at| items[at].checked.document.clone())
        .collect();
    let inserted: HashSet<Uuid> = if documents.is_empty() {
        HashSet::new()
    } else {
        db::memory::transfer::insert_documents(&mut *tx, &documents)
            .await?
            .into_iter()
            .collect()
    };
    let skipped: Vec<usize> = candidates
        .into_iter()
        .filter(|&at| !inserted.contains(&ids[at]))
        .collect();
    for (at, outcome) in explain_skipped(&mut tx, items, &skipped).await? {
        outcomes[at] = Some(outcome);
    }
    let rows: Vec<(Uuid, &db::memory::NewChunk)> = items
        .iter()
        .filter(|item| inserted.contains(&item.checked.document.id))
        .flat_map(|item| {
            let id = item.checked.document.id;
            item.checked.chunks.iter().map(move |chunk| (id, chunk))
        })
        .collect();
    if !rows.is_empty() {
        let language = &state.config.memory_search_language;
        db::memory::chunks::insert_many(&mut *tx, &rows, language, None).await?;
    }
    tx.commit().await?;
    Ok(outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap_or(Outcome::Imported))
        .collect())
}

/// A document whose id is stored: the importer's own (unchanged) or someone else's, which
/// the answer does not describe.
fn stored_under_id(stored_owner: Option<Uuid>, importer: Option<Uuid>) -> Outcome {
    if stored_owner == importer {
        Outcome::Unchanged { copy_of: None }
    } else {
        Outcome::Failed(ApiError::Conflict {
            code: "document_id_taken",
            message: "this id belongs to another document: it cannot be imported",
        })
    }
}

/// Why the insert skipped each of `skipped` (indexes into `items`): its id was stored
/// meanwhile, or its re-ingestion key or text is held by another of the owner's documents.
/// The insert waited for the transactions holding those keys to end, so what it met is
/// committed (or this transaction's own).
async fn explain_skipped(
    tx: &mut sqlx::PgTransaction<'_>,
    items: &[Item],
    skipped: &[usize],
) -> Result<Vec<(usize, Outcome)>, sqlx::Error> {
    if skipped.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = skipped
        .iter()
        .map(|&at| items[at].checked.document.id)
        .collect();
    let owners: HashMap<Uuid, Option<Uuid>> = db::memory::transfer::owners(&mut **tx, &ids)
        .await?
        .into_iter()
        .collect();
    let content_keys: Vec<ContentKey> = skipped
        .iter()
        .map(|&at| &items[at].checked.document)
        .filter(|document| document.fields.external_id.is_none())
        .filter_map(|document| {
            Some(ContentKey {
                owner_id: document.owner_id,
                content_hash: document.content_hash.clone()?,
            })
        })
        .collect();
    let copies = stored_copies(&mut **tx, &content_keys).await?;
    let mut explained = Vec::with_capacity(skipped.len());
    for &at in skipped {
        let document = &items[at].checked.document;
        let outcome = if let Some(owner) = owners.get(&document.id) {
            stored_under_id(*owner, document.owner_id)
        } else if let Some(external_id) = &document.fields.external_id {
            let holder = db::memory::documents::find_by_external_id(
                &mut **tx,
                document.owner_id,
                &document.fields.source,
                external_id,
            )
            .await?;
            match holder {
                Some(holder) => Outcome::Failed(ApiError::validation(
                    "external_id_taken",
                    format!(
                        "document {} has this source and external_id already",
                        holder.id
                    ),
                )),
                None => retry(),
            }
        } else {
            let key = document
                .content_hash
                .clone()
                .map(|content_hash| ContentKey {
                    owner_id: document.owner_id,
                    content_hash,
                });
            match key.and_then(|key| copies.get(&key)) {
                Some(copy) => Outcome::Unchanged {
                    copy_of: Some(*copy),
                },
                None => retry(),
            }
        };
        explained.push((at, outcome));
    }
    Ok(explained)
}

/// A key was held by a document deleted again since: nothing is wrong with the line.
fn retry() -> Outcome {
    Outcome::Failed(ApiError::Conflict {
        code: "ingest_conflict",
        message: "this document is being written by another request: import it again",
    })
}
