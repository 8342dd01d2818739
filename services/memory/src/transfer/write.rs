//! Writing a batch of imported documents in one transaction: documents under their own
//! ids with one multi-row insert, then their chunks with another, pending for the
//! background indexer (woken once the batch commits).
//!
//! A document is `unchanged` when its id (or its copy's, see [`super::copies`]) is stored
//! for the same owner, or (without `external_id`) when its owner holds the same text under
//! another id. One whose id or a chunk's belongs to another owner's document is written as
//! a copy; it fails when a chunk's id is another of the owner's documents', or its
//! re-ingestion key is. When the database refuses the batch, its documents are written one
//! by one, so only the one at fault fails.

use std::collections::{HashMap, HashSet};

use authn::AuthUser;
use db::memory::documents::ContentKey;
use uuid::Uuid;

use super::{
    check::Checked,
    copies::{self, Holders, Placement},
    report::ImportReport,
};
use crate::{
    error::ApiError,
    ingest::{batch::ANALYZE_AFTER_CHUNKS, project, stored_copies},
    state::AppState,
};

/// Documents read but not written yet, each with its line number.
#[derive(Default)]
pub(super) struct Batch {
    items: Vec<Item>,
    /// The ids its documents may take: their own and their copies'.
    ids: HashSet<Uuid>,
    /// The same for their chunks.
    chunk_ids: HashSet<Uuid>,
    chunks: usize,
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
        self.chunks
    }

    /// Whether `checked` may take the id of a document, or of a chunk, that another line of
    /// the batch may take (its own or its copy's).
    pub(super) fn overlaps(&self, checked: &Checked) -> bool {
        copies::document_ids(checked)
            .iter()
            .any(|id| self.ids.contains(id))
            || copies::chunk_ids(checked).any(|id| self.chunk_ids.contains(&id))
    }

    pub(super) fn push(&mut self, line: u64, checked: Checked) {
        self.ids.extend(copies::document_ids(&checked));
        self.chunk_ids.extend(copies::chunk_ids(&checked));
        self.chunks += checked.chunks.len();
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

/// What became of one document, and the id of its copy when it is stored as one.
struct Written {
    outcome: Outcome,
    copy: Option<Uuid>,
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
                    Err(error) => outcomes.push(failed(error.into())),
                }
            }
            outcomes
        }
        Err(error @ sqlx::Error::Database(_)) => vec![failed(error.into())],
        Err(error) => return Err(error.into()),
    };
    let mut chunks_imported = 0;
    for (item, Written { outcome, copy }) in batch.items.iter().zip(outcomes) {
        let (line, id) = (item.line, item.checked.document.id);
        // A copy whose text the importer holds under another id is not stored at all.
        let stored = matches!(
            outcome,
            Outcome::Imported | Outcome::Unchanged { copy_of: None }
        );
        if let (Some(new_id), true) = (copy, stored) {
            report.stored_under_new_id(line, id, new_id);
        }
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
async fn write(state: &AppState, items: &[Item]) -> Result<Vec<Written>, sqlx::Error> {
    let mut tx = state.pool.begin().await?;
    let holders = Holders::read(&mut tx, items.iter().map(|item| &item.checked)).await?;
    let mut outcomes: Vec<Option<Outcome>> = items.iter().map(|_| None).collect();
    let mut copies: Vec<Option<Uuid>> = vec![None; items.len()];
    // What each line is stored as: itself, or its copy (kept in `as_copies`).
    let mut as_copies: HashMap<usize, Checked> = HashMap::new();
    let mut candidates = Vec::new();
    for (at, item) in items.iter().enumerate() {
        outcomes[at] = match holders.place(&item.checked) {
            Placement::Held { copy } => {
                copies[at] = copy;
                Some(Outcome::Unchanged { copy_of: None })
            }
            Placement::IdTaken => Some(id_taken()),
            Placement::ChunkTaken => Some(Outcome::Failed(ApiError::Conflict {
                code: "chunk_id_taken",
                message: "a chunk id of this document belongs to another document",
            })),
            Placement::AsIs => {
                candidates.push(at);
                None
            }
            Placement::Copy(copy) => {
                copies[at] = Some(copy.document.id);
                as_copies.insert(at, *copy);
                candidates.push(at);
                None
            }
        };
    }
    let stored: Vec<&Checked> = items
        .iter()
        .enumerate()
        .map(|(at, item)| as_copies.get(&at).unwrap_or(&item.checked))
        .collect();
    let documents: Vec<_> = candidates
        .iter()
        .map(|&at| stored[at].document.clone())
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
        .filter(|&at| !inserted.contains(&stored[at].document.id))
        .collect();
    for (at, outcome) in explain_skipped(&mut tx, &stored, &skipped).await? {
        outcomes[at] = Some(outcome);
    }
    let rows: Vec<(Uuid, &db::memory::NewChunk)> = stored
        .iter()
        .filter(|checked| inserted.contains(&checked.document.id))
        .flat_map(|checked| {
            let id = checked.document.id;
            checked.chunks.iter().map(move |chunk| (id, chunk))
        })
        .collect();
    if !rows.is_empty() {
        let language = &state.config.memory_search_language;
        db::memory::chunks::insert_many(&mut *tx, &rows, language, None).await?;
    }
    tx.commit().await?;
    Ok(outcomes
        .into_iter()
        .zip(copies)
        .map(|(outcome, copy)| Written {
            outcome: outcome.unwrap_or(Outcome::Imported),
            copy,
        })
        .collect())
}

fn failed(error: ApiError) -> Written {
    Written {
        outcome: Outcome::Failed(error),
        copy: None,
    }
}

/// Said alike whether the id is another owner's or its copy's is: nothing more is told.
fn id_taken() -> Outcome {
    Outcome::Failed(ApiError::Conflict {
        code: "document_id_taken",
        message: "this id belongs to another document: it cannot be imported",
    })
}

/// A document whose id is stored: the importer's own (unchanged) or someone else's, which
/// the answer does not describe.
fn stored_under_id(stored_owner: Option<Uuid>, importer: Option<Uuid>) -> Outcome {
    if stored_owner == importer {
        Outcome::Unchanged { copy_of: None }
    } else {
        id_taken()
    }
}

/// Why the insert skipped each of `skipped` (indexes into `items`): its id was stored
/// meanwhile, or its re-ingestion key or text is held by another of the owner's documents.
/// The insert waited for the transactions holding those keys to end, so what it met is
/// committed (or this transaction's own).
async fn explain_skipped(
    tx: &mut sqlx::PgTransaction<'_>,
    items: &[&Checked],
    skipped: &[usize],
) -> Result<Vec<(usize, Outcome)>, sqlx::Error> {
    if skipped.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = skipped.iter().map(|&at| items[at].document.id).collect();
    let owners: HashMap<Uuid, Option<Uuid>> = db::memory::transfer::owners(&mut **tx, &ids)
        .await?
        .into_iter()
        .collect();
    let content_keys: Vec<ContentKey> = skipped
        .iter()
        .map(|&at| &items[at].document)
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
        let document = &items[at].document;
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
