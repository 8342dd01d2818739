//! Keeping the vector index in step with the chunks in PostgreSQL.
//!
//! PostgreSQL is the record; the index is derived from it. A chunk is marked indexed
//! (`qdrant_point_id` = its id) only once its vector is stored under the chunk's own id:
//! ingestion stores the vectors inside its write transaction and writes the rows marked (or
//! pending, `qdrant_point_id` NULL, when the index failed); the background indexer
//! ([`Indexer::run`]) upserts the vectors of pending rows and marks them after. So a crash or
//! an unavailable index at any point leaves pending rows, never a lost document; and a
//! vector without a committed row is at worst an orphan that searches skip (they join
//! PostgreSQL) and that [`Indexer::sweep_orphans`] deletes.

use std::{collections::HashSet, sync::Arc, time::Duration};

use db::{
    PgPool,
    memory::{IndexableChunk, IndexedWith},
};
use embed::{EmbedError, Embedder};
use serde_json::json;
use tokio::sync::Notify;
use uuid::Uuid;
use vector::{
    CollectionSpec, Distance, FieldKind, Payload, PayloadField, Point, ScrollRequest, VectorError,
    VectorIndex,
};

/// Payload value of `owner` for shared documents (which have no owner): the nil UUID, so that
/// `owner` can be indexed as a UUID (a search's owner check, run on every candidate point,
/// then compares two integers instead of two strings). Builds before issue 16 wrote
/// `"shared"`; the collection's recorded payload layout makes them refuse each other's
/// collections until `just reindex`.
pub const SHARED_OWNER: &str = "00000000-0000-0000-0000-000000000000";

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Vector(#[from] VectorError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The collection the memory service declares: the embedder's model and dimension, cosine
/// similarity, and the payload fields searches filter on.
pub fn collection_spec(name: &str, embedder: &dyn Embedder) -> CollectionSpec {
    CollectionSpec {
        name: name.to_owned(),
        embedding_model: embedder.model().to_owned(),
        dimension: embedder.dimension(),
        distance: Distance::Cosine,
        payload_indexes: vec![
            PayloadField::new("owner", FieldKind::Uuid),
            PayloadField::new("document_id", FieldKind::Uuid),
            PayloadField::new("source", FieldKind::Keyword),
            PayloadField::new("type", FieldKind::Keyword),
            PayloadField::new("tags", FieldKind::Keyword),
            PayloadField::new("created_at", FieldKind::Datetime),
            PayloadField::new("project_id", FieldKind::Uuid),
        ],
    }
}

/// What a chunk's vector carries besides the vector: the fields searches filter on.
pub fn payload(chunk: &IndexableChunk) -> Payload {
    let owner = chunk
        .owner_id
        .map_or_else(|| SHARED_OWNER.to_owned(), |owner| owner.to_string());
    let value = json!({
        "owner": owner,
        "document_id": chunk.document_id.to_string(),
        "chunk_index": chunk.chunk_index,
        "source": chunk.source,
        "type": chunk.kind,
        "tags": chunk.tags,
        "created_at": chunk.created_at.to_rfc3339(),
    });
    let serde_json::Value::Object(mut map) = value else {
        unreachable!("json! of an object literal is an object")
    };
    // Absent rather than null: a document outside any project matches no `project_id`.
    if let Some(project) = chunk.project_id {
        map.insert("project_id".into(), project.to_string().into());
    }
    map
}

/// Embeds, upserts and marks chunks; shared by ingestion, the background loop and reindex.
#[derive(Debug, Clone)]
pub struct Indexer {
    pub pool: PgPool,
    pub index: Arc<dyn VectorIndex>,
    pub embedder: Arc<dyn Embedder>,
    pub collection: Arc<str>,
    pub batch: usize,
    /// Time between orphan sweeps after the one at start (`None`: only that one).
    pub orphan_sweep_interval: Option<Duration>,
}

impl Indexer {
    /// Upserts the vectors of chunks already embedded (`vectors[i]` belongs to `chunks[i]`)
    /// and marks them indexed. Returns how many were marked.
    pub async fn store(
        &self,
        chunks: &[IndexableChunk],
        vectors: Vec<Vec<f32>>,
    ) -> Result<usize, IndexError> {
        self.upsert(chunks, vectors).await?;
        let ids: Vec<Uuid> = chunks.iter().map(|chunk| chunk.id).collect();
        let with = self.indexed_with();
        let marked =
            db::memory::chunks::mark_indexed(&self.pool, &ids, with.model, with.dimension).await?;
        if marked.len() < ids.len() {
            // Deleted while we embedded: their vectors would be orphans.
            let orphans: Vec<Uuid> = ids.into_iter().filter(|id| !marked.contains(id)).collect();
            self.remove(&orphans).await?;
        }
        Ok(marked.len())
    }

    /// Upserts the vectors of these chunks (`vectors[i]` belongs to `chunks[i]`), without
    /// marking them: for a writer that marks them as it writes their rows.
    pub async fn upsert(
        &self,
        chunks: &[IndexableChunk],
        vectors: Vec<Vec<f32>>,
    ) -> Result<(), VectorError> {
        let points: Vec<Point> = chunks
            .iter()
            .zip(vectors)
            .map(|(chunk, vector)| Point::new(chunk.id, vector, payload(chunk)))
            .collect();
        self.index.upsert(&self.collection, points).await
    }

    /// The model and dimension a chunk indexed now is recorded with.
    pub fn indexed_with(&self) -> IndexedWith<'_> {
        IndexedWith {
            model: self.embedder.model(),
            dimension: i32::try_from(self.embedder.dimension()).unwrap_or(i32::MAX),
        }
    }

    /// Embeds and stores chunks, `batch` at a time.
    pub async fn index(&self, chunks: &[IndexableChunk]) -> Result<usize, IndexError> {
        let mut done = 0;
        for batch in chunks.chunks(self.batch) {
            let texts: Vec<String> = batch.iter().map(|chunk| chunk.content.clone()).collect();
            let vectors = self.embedder.embed(&texts).await?;
            done += self.store(batch, vectors).await?;
        }
        Ok(done)
    }

    /// Upserts these indexed chunks' vectors again, embedded anew, `batch` at a time: for
    /// an edit of the document fields their payloads carry (the index cannot change a
    /// payload alone). The chunks stay marked: their ids, text and model are unchanged.
    pub async fn refresh_payloads(&self, chunks: &[IndexableChunk]) -> Result<(), IndexError> {
        for batch in chunks.chunks(self.batch) {
            let texts: Vec<String> = batch.iter().map(|chunk| chunk.content.clone()).collect();
            let vectors = self.embedder.embed(&texts).await?;
            self.upsert(batch, vectors).await?;
        }
        Ok(())
    }

    /// Deletes vectors by chunk id (missing ones are fine).
    pub async fn remove(&self, ids: &[Uuid]) -> Result<(), VectorError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.index.delete_points(&self.collection, ids).await
    }

    /// Indexes pending chunks until none are left; `progress` hears the running total.
    pub async fn drain_pending(&self, progress: impl Fn(usize)) -> Result<usize, IndexError> {
        let mut done = 0;
        loop {
            let limit = i64::try_from(self.batch).unwrap_or(i64::MAX);
            let pending = db::memory::chunks::pending(&self.pool, limit).await?;
            if pending.is_empty() {
                return Ok(done);
            }
            let indexed = self.index(&pending).await?;
            if indexed == 0 {
                // Every chunk of the batch vanished meanwhile; the next query moves on.
                continue;
            }
            done += indexed;
            progress(done);
        }
    }

    /// Deletes vectors whose chunk row is gone (a delete that could not reach the index, or a
    /// write that stored its vectors but never committed), a page of ids at a time; returns
    /// how many. Each page is decided while no ingestion is between storing its vectors and
    /// committing its rows, so a vector without a committed row is always an orphan.
    pub async fn sweep_orphans(&self) -> Result<usize, IndexError> {
        let mut removed = 0;
        let mut request = ScrollRequest {
            filter: None,
            offset: None,
            limit: 1000,
        };
        loop {
            let page = self.index.scroll_ids(&self.collection, &request).await?;
            // No ingestion is between storing a vector and committing its row meanwhile.
            let mut tx = self.pool.begin().await?;
            db::memory::hold_off_index_writes(&mut *tx).await?;
            let existing: HashSet<Uuid> = db::memory::chunks::existing_ids(&mut *tx, &page.ids)
                .await?
                .into_iter()
                .collect();
            let orphans: Vec<Uuid> = page
                .ids
                .into_iter()
                .filter(|id| !existing.contains(id))
                .collect();
            self.remove(&orphans).await?;
            tx.commit().await?;
            removed += orphans.len();
            match page.next_offset {
                Some(next) => request.offset = Some(next),
                None => return Ok(removed),
            }
        }
    }

    /// After an unclean stop of an index that acknowledges writes before it flushes them
    /// ([`VectorIndex::may_have_lost_writes`]): every chunk marked indexed whose vector is
    /// missing goes back to pending, for the indexer to embed and upsert again. Walks the
    /// index's ids in pages (id order) beside PostgreSQL's indexed ids in the same ranges;
    /// returns how many chunks went back to pending.
    pub async fn reconcile(&self) -> Result<u64, IndexError> {
        const PAGE: usize = 5_000;
        let mut restored = 0;
        // Ids up to here are compared.
        let mut after: Option<Uuid> = None;
        let mut request = ScrollRequest {
            filter: None,
            offset: None,
            limit: PAGE,
        };
        loop {
            let page = self.index.scroll_ids(&self.collection, &request).await?;
            // The merge relies on the index's id order being PostgreSQL's (bytes, unsigned).
            let ordered = page.ids.windows(2).all(|pair| pair[0] < pair[1])
                && page.ids.first().is_none_or(|first| after < Some(*first));
            if !ordered {
                return Err(VectorError::Backend(
                    "the index listed point ids out of order; cannot reconcile".into(),
                )
                .into());
            }
            // The last page covers everything after it.
            let upto = page.next_offset.and(page.ids.last().copied());
            let present: HashSet<Uuid> = page.ids.iter().copied().collect();
            loop {
                let limit = i64::try_from(PAGE).unwrap_or(i64::MAX);
                let indexed =
                    db::memory::chunks::indexed_ids_between(&self.pool, after, upto, limit).await?;
                let missing: Vec<Uuid> = indexed
                    .iter()
                    .copied()
                    .filter(|id| !present.contains(id))
                    .collect();
                if !missing.is_empty() {
                    restored += db::memory::chunks::mark_pending(&self.pool, &missing).await?;
                }
                if indexed.len() < PAGE {
                    break;
                }
                after = indexed.last().copied();
            }
            match (upto, page.next_offset) {
                (Some(upto), Some(next)) => {
                    after = Some(upto);
                    request.offset = Some(next);
                }
                _ => return Ok(restored),
            }
        }
    }

    /// Reconciles if the index says acknowledged writes may be lost, then tells it so. Runs
    /// at start, before the service answers and before the indexer starts.
    pub async fn reconcile_if_needed(&self) -> Result<(), IndexError> {
        if !self.index.may_have_lost_writes() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let restored = self.reconcile().await?;
        self.index.mark_reconciled();
        tracing::warn!(
            restored,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "vector index reconciled after an unclean stop: chunks whose vectors were lost \
             are pending again"
        );
        Ok(())
    }

    /// The background work: sweeps orphaned vectors at start and then every
    /// `orphan_sweep_interval`, and drains pending chunks when woken or every `interval`.
    /// Both loops run in this one future, so aborting its task stops both.
    pub async fn run(self, wakeup: Arc<Notify>, interval: Duration) {
        tokio::join!(
            self.sweep_periodically(),
            self.drain_periodically(wakeup, interval)
        );
    }

    /// Sweeps now, then every `orphan_sweep_interval` (if any). Vectors orphaned by a delete
    /// that could not reach the index would otherwise stay until the next restart.
    async fn sweep_periodically(&self) {
        let mut ticks = self.orphan_sweep_interval.map(|every| {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks
        });
        loop {
            match self.sweep_orphans().await {
                Ok(0) => tracing::debug!("orphan sweep: no orphaned vectors"),
                Ok(count) => tracing::info!(count, "deleted orphaned vectors"),
                Err(error) => tracing::warn!(%error, "sweeping orphaned vectors failed"),
            }
            match ticks.as_mut() {
                Some(ticks) => {
                    ticks.tick().await;
                }
                None => return,
            }
        }
    }

    /// Drains pending chunks when woken or every `interval`, backing off (up to 5 minutes)
    /// while the embedder or the index fails.
    async fn drain_periodically(&self, wakeup: Arc<Notify>, interval: Duration) {
        let mut backoff = interval;
        loop {
            match self.drain_pending(|_| {}).await {
                Ok(0) => backoff = interval,
                Ok(count) => {
                    tracing::info!(count, "indexed pending chunks");
                    backoff = interval;
                }
                Err(error) => {
                    backoff = (backoff * 2).min(Duration::from_secs(300));
                    tracing::warn!(%error, retry_in = ?backoff, "indexing pending chunks failed");
                }
            }
            // After failures too: a growing backlog is what an operator must see.
            if let Err(error) = crate::metrics::record_backlog(&self.pool).await {
                tracing::warn!(%error, "reading the indexer's backlog failed");
            }
            tokio::select! {
                () = wakeup.notified() => {}
                () = tokio::time::sleep(backoff) => {}
            }
        }
    }
}
