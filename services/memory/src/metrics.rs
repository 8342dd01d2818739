//! The memory service's own Prometheus series: the indexer's backlog, the embedder's
//! latency and how searches fared. Requests and the database pool are recorded for every service by
//! `platform::metrics`. (`::metrics` below is the crate.)

use std::{sync::Arc, time::Instant};

use async_trait::async_trait;
use embed::{EmbedError, Embedder};

/// Gauge: chunks waiting for their vector (the indexer retries them).
pub const PENDING_CHUNKS: &str = "memory_pending_chunks";
/// Gauge: how long the oldest pending chunk has waited, in seconds (0 when none waits): the
/// indexer's lag.
pub const OLDEST_PENDING_AGE: &str = "memory_oldest_pending_chunk_age_seconds";
/// Histogram, by `model`: one call to the embedder (a batch of texts or one query).
pub const EMBED_DURATION: &str = "memory_embed_duration_seconds";

/// Counter, by `reason` (`vector_index` or `embedder`): searches that asked for vector or
/// hybrid ranking and were answered lexically because that part was unavailable.
pub const SEARCH_DEGRADED: &str = "memory_search_degraded_total";
/// Counter: vectors a search skipped because no chunk row matched them (orphans of deleted
/// chunks, or payloads older than the record); the search asked the index for more instead.
pub const SEARCH_SKIPPED_VECTORS: &str = "memory_search_skipped_vectors_total";

/// Gives the series their `# HELP` lines; needs the recorder, so installs it first.
pub fn describe() {
    platform::metrics::install();
    ::metrics::describe_gauge!(PENDING_CHUNKS, "Chunks waiting for their vector");
    ::metrics::describe_gauge!(
        OLDEST_PENDING_AGE,
        ::metrics::Unit::Seconds,
        "How long the oldest pending chunk has waited"
    );
    ::metrics::describe_histogram!(
        EMBED_DURATION,
        ::metrics::Unit::Seconds,
        "Duration of one embedder call"
    );
    ::metrics::describe_counter!(
        SEARCH_DEGRADED,
        "Searches answered lexically because the vector index or the embedder was unavailable"
    );
    ::metrics::describe_counter!(
        SEARCH_SKIPPED_VECTORS,
        "Vectors a search skipped because no matching chunk row exists"
    );
}

/// Reads the backlog from PostgreSQL into the two gauges; the indexer calls it after each
/// pass, so the figures are at most one indexer interval old.
pub async fn record_backlog(pool: &db::PgPool) -> Result<(), sqlx::Error> {
    let (pending, oldest_age) = db::memory::chunks::backlog(pool).await?;
    ::metrics::gauge!(PENDING_CHUNKS).set(pending as f64);
    ::metrics::gauge!(OLDEST_PENDING_AGE).set(oldest_age.unwrap_or(0.0));
    Ok(())
}

/// An embedder whose every call is timed into [`EMBED_DURATION`].
#[derive(Debug)]
pub struct TimedEmbedder(pub Arc<dyn Embedder>);

#[async_trait]
impl Embedder for TimedEmbedder {
    fn model(&self) -> &str {
        self.0.model()
    }

    fn dimension(&self) -> usize {
        self.0.dimension()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let started = Instant::now();
        let vectors = self.0.embed(texts).await;
        ::metrics::histogram!(EMBED_DURATION, "model" => self.0.model().to_owned())
            .record(started.elapsed());
        vectors
    }
}
