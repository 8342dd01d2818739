//! The import: records made sense of, blank and repeated ones skipped, the rest ingested in
//! batches by [`ingest_batch`] (the batch route's own code: checks, chunking, embedding, one
//! transaction, indexing), then each new document given its legacy time and its first chunk
//! the legacy point id, in one more transaction ([`db::memory::legacy`]). Those change what
//! the chunks' vectors carry, so the chunks are marked pending in that transaction and then
//! stored again, with the vectors remembered from the batch; a crash in between leaves them
//! pending for the service's indexer, never lost.

use std::{
    collections::{HashMap, hash_map::Entry},
    sync::Arc,
};

use authn::{Aal, AuthUser, Role};
use chrono::{DateTime, Utc};
use db::PgPool;
use indicatif::ProgressBar;
use platform::ServiceError;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    ImportError, Location, RawRecord, SOURCE,
    embedders::{DRY_RUN, Declining, Remembering},
    record::{self, LegacyId, LegacyRecord, Skip},
    report::{MappingRow, Rekeyed, Summary},
};
use crate::{
    error::ApiError,
    ingest::{Outcome, batch::ingest_batch},
    state::AppState,
};

/// Records per ingestion batch (one transaction, one embedding request, one upsert).
const BATCH: usize = 100;

/// Whose documents the records become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Account {
        id: Uuid,
        email: String,
    },
    /// Shared knowledge, visible to every user (owner NULL).
    Shared,
}

impl Owner {
    /// `shared`, or the account with this email (ignoring case).
    pub async fn resolve(pool: &PgPool, given: &str) -> Result<Self, ImportError> {
        let given = given.trim();
        if given.eq_ignore_ascii_case("shared") {
            return Ok(Owner::Shared);
        }
        if !given.contains('@') {
            return Err(ImportError::Owner(format!(
                "--owner must be an account's email or `shared`, not `{given}`"
            )));
        }
        match db::auth::users::find_by_email(pool, given).await? {
            Some(user) => Ok(Owner::Account {
                id: user.id.0,
                email: user.email,
            }),
            None => Err(ImportError::Owner(format!(
                "no account has the email {given}: create it first, or import with --owner shared"
            ))),
        }
    }

    pub fn describe(&self) -> &str {
        match self {
            Owner::Account { email, .. } => email,
            Owner::Shared => "shared",
        }
    }

    /// Who the ingestion runs as: the owner, or an administrator for shared documents (the
    /// operator running the import holds the database, so may add shared knowledge).
    fn actor(&self) -> AuthUser {
        let (user_id, role) = match self {
            Owner::Account { id, .. } => (*id, Role::User),
            Owner::Shared => (Uuid::nil(), Role::Admin),
        };
        AuthUser {
            user_id,
            session_id: Uuid::nil(),
            role,
            aal: Aal::Aal1,
            has_second_factor: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub owner: Owner,
    /// Check and report only: nothing is written, the model is not asked.
    pub dry_run: bool,
}

/// Imports `records` for `options.owner` with the service's `state`; `progress` advances by
/// one per record. A failure midway ends the import with [`Summary::failure`] set (what was
/// imported before it stays, and a rerun continues: those records are unchanged).
pub async fn import(
    state: &AppState,
    records: Vec<RawRecord>,
    options: &Options,
    progress: &ProgressBar,
) -> Summary {
    let mut summary = Summary {
        dry_run: options.dry_run,
        owner: options.owner.describe().to_owned(),
        records: records.len(),
        ..Summary::default()
    };
    let mut state = state.clone();
    let remembering = Arc::new(Remembering::new(state.indexer.embedder.clone()));
    state.indexer.embedder = if options.dry_run {
        Arc::new(Declining::like(state.indexer.embedder.as_ref()))
    } else {
        remembering.clone()
    };

    // The first record with a key is imported; later ones are repeats.
    let mut first_of: HashMap<String, Location> = HashMap::new();
    let mut ready = Vec::new();
    for raw in records {
        let at = raw.at;
        let skip = match record::interpret(raw) {
            Err(skip) => skip,
            Ok(record) => match first_of.entry(record.external_id()) {
                Entry::Occupied(first) => Skip::Duplicate {
                    first: *first.get(),
                    same_text: record.id.is_none(),
                },
                Entry::Vacant(key) => {
                    key.insert(at);
                    summary.note(&record);
                    ready.push(record);
                    continue;
                }
            },
        };
        summary.skipped.push((at, skip));
        progress.inc(1);
    }

    let actor = options.owner.actor();
    for batch in ready.chunks(BATCH) {
        let done = import_batch(&state, &actor, options, batch, &mut summary).await;
        remembering.forget();
        if let Err(failure) = done {
            summary.failure = Some(failure);
            break;
        }
        progress.inc(batch.len() as u64);
    }
    if !options.dry_run {
        match pending_chunks(&state.pool, &summary.mapping).await {
            Ok(pending) => summary.pending_chunks = pending,
            Err(error) => {
                summary.failure.get_or_insert(format!("database: {error}"));
            }
        }
        if summary.failure.is_none()
            && (summary.pending_chunks > 0 || summary.index_error.is_some())
        {
            let why = summary.index_error.as_ref().map_or_else(
                || " (see the log)".to_owned(),
                |error| format!(" ({error})"),
            );
            summary.failure = Some(format!(
                "the vector index did not take every vector{why}: {} chunks of the imported \
                 documents wait for theirs; the memory service's indexer adds them when it runs",
                summary.pending_chunks
            ));
        }
    }
    summary
}

/// One batch through the service's ingestion, then the legacy times and point ids.
async fn import_batch(
    state: &AppState,
    actor: &AuthUser,
    options: &Options,
    batch: &[LegacyRecord],
    summary: &mut Summary,
) -> Result<(), String> {
    let shared = options.owner == Owner::Shared;
    let items = batch.iter().map(|record| item(record, shared)).collect();
    let results = ingest_batch(state, actor, items).await.map_err(|error| {
        format!(
            "{}; {} records were imported before it, and a rerun continues from there",
            explain(&error),
            summary.imported()
        )
    })?;
    let mut stored: Vec<(&LegacyRecord, Uuid, Outcome)> = Vec::new();
    for (record, result) in batch.iter().zip(results) {
        match result {
            Ok((id, outcome)) => {
                match outcome {
                    Outcome::Created => summary.created += 1,
                    Outcome::Updated => summary.updated += 1,
                    Outcome::Unchanged => summary.unchanged += 1,
                }
                stored.push((record, id, outcome));
            }
            Err(ApiError::Validation { message, .. }) if options.dry_run && message == DRY_RUN => {
                summary.would_import += 1;
            }
            Err(error) => {
                let code = error.status_and_code().1;
                let message = explain(&error);
                summary
                    .skipped
                    .push((record.at, Skip::Refused { code, message }));
            }
        }
    }
    if options.dry_run {
        return Ok(());
    }
    let written: Vec<(&LegacyRecord, Uuid)> = stored
        .iter()
        .filter(|(_, _, outcome)| *outcome != Outcome::Unchanged)
        .map(|(record, id, _)| (*record, *id))
        .collect();
    if let Err(error) = settle(state, &written).await {
        match error {
            Settle::Database(error) => return Err(format!("database: {error}")),
            Settle::Index(error) => {
                summary.index_error.get_or_insert(error);
            }
        }
    }
    map(&state.pool, &stored, summary)
        .await
        .map_err(|error| format!("database: {error}"))
}

/// The batch route's item for a record.
fn item(record: &LegacyRecord, shared: bool) -> Value {
    let mut item = json!({
        "source": SOURCE,
        "external_id": record.external_id(),
        "content": record.text,
        "tags": record.tags,
        "metadata": record.metadata,
        "shared": shared,
    });
    for (field, value) in [
        ("type", &record.kind),
        ("path", &record.path),
        ("title", &record.title),
    ] {
        if let Some(value) = value {
            item[field] = Value::String(value.clone());
        }
    }
    item
}

/// An ingestion error as the report says it: the detail an operator needs, not the HTTP
/// answer's guarded wording.
fn explain(error: &ApiError) -> String {
    match error.detail() {
        Some(detail) => detail.to_owned(),
        None => error.to_string(),
    }
}

enum Settle {
    Database(sqlx::Error),
    Index(String),
}

impl From<sqlx::Error> for Settle {
    fn from(error: sqlx::Error) -> Self {
        Settle::Database(error)
    }
}

/// Gives new documents their legacy time and first chunks their legacy point id, then
/// stores those chunks' vectors again (with the new id and time in their payload).
async fn settle(state: &AppState, written: &[(&LegacyRecord, Uuid)]) -> Result<(), Settle> {
    let times: Vec<(Uuid, DateTime<Utc>)> = written
        .iter()
        .filter_map(|(record, id)| Some((*id, record.time?.at()?)))
        .collect();
    let wanted: Vec<(Uuid, Uuid)> = written
        .iter()
        .filter_map(|(record, id)| match record.id {
            Some(LegacyId::Uuid(point)) => Some((*id, point)),
            _ => None,
        })
        .collect();
    if times.is_empty() && wanted.is_empty() {
        return Ok(());
    }
    let mut tx = state.pool.begin().await?;
    db::memory::legacy::set_created_at(&mut *tx, &times).await?;
    let moved = db::memory::legacy::move_first_chunks(&mut *tx, &wanted).await?;
    let timed: Vec<Uuid> = times.iter().map(|(id, _)| *id).collect();
    let mut pending = db::memory::legacy::mark_pending(&mut *tx, &timed).await?;
    pending.extend(moved.iter().map(|chunk| chunk.new_id));
    pending.sort_unstable();
    pending.dedup();
    tx.commit().await?;

    let old: Vec<Uuid> = moved.iter().map(|chunk| chunk.old_id).collect();
    let indexer = &state.indexer;
    let removed = indexer.remove(&old).await;
    let chunks = db::memory::chunks::indexable(&state.pool, &pending).await?;
    indexer
        .index(&chunks)
        .await
        .map_err(|error| Settle::Index(error.to_string()))?;
    // Old vectors left behind are orphans: searches skip them, the service sweeps them.
    removed.map_err(|error| Settle::Index(error.to_string()))
}

/// Adds the batch's documents to the mapping, and the points whose id their chunk could not
/// keep to the re-keyed.
async fn map(
    pool: &PgPool,
    stored: &[(&LegacyRecord, Uuid, Outcome)],
    summary: &mut Summary,
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = stored.iter().map(|(_, id, _)| *id).collect();
    let first: HashMap<Uuid, Uuid> = db::memory::legacy::first_chunks(pool, &ids)
        .await?
        .into_iter()
        .collect();
    for (record, document_id, outcome) in stored {
        let chunk_id = first.get(document_id).copied();
        let why = match (&record.id, outcome) {
            (_, Outcome::Unchanged) => None,
            (Some(LegacyId::Point(_)), _) => Some("numeric point ids cannot be chunk ids"),
            (Some(LegacyId::Uuid(point)), _) if chunk_id != Some(*point) => {
                Some("another chunk has this id")
            }
            _ => None,
        };
        if let (Some(why), Some(chunk_id)) = (why, chunk_id) {
            summary.rekeyed.push(Rekeyed {
                at: record.at,
                chunk_id,
                document_id: *document_id,
                why,
            });
        }
        summary.mapping.push(MappingRow {
            legacy_id: record.id.as_ref().map_or(Value::Null, LegacyId::to_json),
            external_id: record.external_id(),
            document_id: *document_id,
            chunk_id,
            outcome: outcome.as_str(),
            rekeyed: why.is_some(),
        });
    }
    Ok(())
}

/// Chunks of the mapped documents still without their vector.
async fn pending_chunks(pool: &PgPool, mapping: &[MappingRow]) -> Result<i64, sqlx::Error> {
    let mut pending = 0;
    for rows in mapping.chunks(1000) {
        let ids: Vec<Uuid> = rows.iter().map(|row| row.document_id).collect();
        pending += db::memory::documents::by_ids(pool, &ids)
            .await?
            .iter()
            .map(|document| document.pending_chunks)
            .sum::<i64>();
    }
    Ok(pending)
}
