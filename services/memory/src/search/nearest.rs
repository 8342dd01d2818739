//! The vector side of a search: embed the query, ask the index for the nearest chunks, keep
//! those whose row PostgreSQL confirms. Vectors without a confirmed row (orphans of deleted
//! chunks, stale payloads) never take a result slot: when they crowd the answer, the index
//! is asked again for more, a bounded number of times.

use std::collections::{HashMap, HashSet};

use db::memory::ChunkHit;
use embed::EmbedError;
use uuid::Uuid;
use vector::VectorError;

use super::{Ranked, Search};
use crate::{error::ApiError, state::AppState};

/// Asks of the index per search: the first for what is wanted, each further one for twice
/// as many as the last (so up to 8 times the wanted number in the end).
const MAX_ASKS: usize = 4;

/// The nearest chunks, best first, and the model the query was embedded with.
pub(super) struct Nearest {
    pub(super) hits: Vec<Ranked>,
    pub(super) model: String,
}

/// Why the vector side gave no ranking.
pub(super) enum NearestError {
    /// The embedder or the index cannot answer now: the search may answer lexically.
    Unavailable {
        /// `embedder` or `vector_index`, the metric's label.
        reason: &'static str,
        detail: String,
    },
    /// The request itself is at fault, or a bug: answer with this error.
    Failed(ApiError),
}

impl From<EmbedError> for NearestError {
    fn from(error: EmbedError) -> Self {
        match error {
            // The caller's text cannot be embedded (e.g. no words): their mistake, a 422.
            EmbedError::InvalidInput(_) => NearestError::Failed(error.into()),
            other => NearestError::Unavailable {
                reason: "embedder",
                detail: format!("embedding provider failed: {other}"),
            },
        }
    }
}

impl From<VectorError> for NearestError {
    fn from(error: VectorError) -> Self {
        match error {
            // A request no backend accepts is our bug; lexical results would hide it.
            VectorError::InvalidRequest(_) => NearestError::Failed(error.into()),
            other => NearestError::Unavailable {
                reason: "vector_index",
                detail: format!("vector index failed: {other}"),
            },
        }
    }
}

impl From<sqlx::Error> for NearestError {
    fn from(error: sqlx::Error) -> Self {
        NearestError::Failed(error.into())
    }
}

/// Up to `want` chunks nearest to the query that pass the search's filter, best first.
pub(super) async fn nearest(
    state: &AppState,
    search: &Search<'_>,
    want: usize,
) -> Result<Nearest, NearestError> {
    let indexer = &state.indexer;
    let vector = indexer.embedder.embed_one(search.text).await?;
    let mut ask = vector::SearchRequest::new(vector, want);
    ask.filter = Some(search.payload_filter.clone());
    ask.score_threshold = search.min_score;
    ask.with_payload = false;

    let mut seen: HashSet<Uuid> = HashSet::with_capacity(want);
    let mut hits: Vec<Ranked> = Vec::with_capacity(want);
    let mut skipped = 0u64;
    for _ in 0..MAX_ASKS {
        let scored = indexer.index.search(&indexer.collection, &ask).await?;
        let exhausted = scored.len() < ask.limit;
        // An approximate index may order a larger answer a little differently: skip by id.
        let fresh: Vec<_> = scored
            .into_iter()
            .filter(|point| seen.insert(point.id))
            .collect();
        let ids: Vec<Uuid> = fresh.iter().map(|point| point.id).collect();
        let mut rows: HashMap<Uuid, ChunkHit> =
            db::memory::search::hits(&state.pool, &ids, &search.filter)
                .await?
                .into_iter()
                .map(|row| (row.id, row))
                .collect();
        for point in fresh {
            match rows.remove(&point.id) {
                Some(hit) => hits.push(Ranked {
                    score: point.score,
                    hit,
                }),
                None => skipped += 1,
            }
        }
        if hits.len() >= want || exhausted || ask.limit >= vector::MAX_LIMIT {
            break;
        }
        ask.limit = (ask.limit * 2).min(vector::MAX_LIMIT);
    }
    if skipped > 0 {
        // The periodic sweep deletes orphans; many skips between sweeps show up here.
        ::metrics::counter!(crate::metrics::SEARCH_SKIPPED_VECTORS).increment(skipped);
        tracing::debug!(
            skipped,
            "search skipped vectors without a matching chunk row"
        );
    }
    // Stable: equal scores keep the index's order.
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    hits.truncate(want);
    Ok(Nearest {
        hits,
        model: indexer.embedder.model().to_owned(),
    })
}
