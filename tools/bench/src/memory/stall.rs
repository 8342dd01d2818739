//! Single-document ingest latency while the embedded index's optimizer runs (issue 16:
//! "writes never stall behind the embedded index's optimizer"): an optimize of everything
//! ingested so far is started, then documents are ingested at the same concurrency as the
//! single-document figure; the figure is their rate and latencies, beside how long the
//! optimizer ran.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vector::EmbeddedIndex;

use super::ingest_singly;
use crate::report::{figure, line, ms};
use crate::scratch::Served;

/// Documents ingested while the optimizer runs.
const DOCUMENTS: usize = 1_000;

pub async fn ingest_during_optimize(
    client: &reqwest::Client,
    served: &Served,
    token: &Arc<String>,
    engine: &EmbeddedIndex,
    collection: &str,
    documents: &[String],
    concurrency: usize,
) -> anyhow::Result<()> {
    let optimizer = {
        let (engine, collection) = (engine.clone(), collection.to_owned());
        tokio::spawn(async move {
            let started = Instant::now();
            let changed = engine.optimize(&collection).await;
            (started.elapsed(), changed)
        })
    };
    // The optimize command reaches the writer before the first ingest does.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let items: Vec<(String, String)> = documents
        .iter()
        .rev()
        .take(DOCUMENTS)
        .enumerate()
        .map(|(n, content)| (format!("during-optimize-{n}"), content.clone()))
        .collect();
    let count = items.len();
    let ingested = ingest_singly(client, served, token, concurrency, items).await?;
    let (optimized_in, changed) = optimizer.await?;
    let changed = changed?;
    line(
        "optimize started with the ingest below (HNSW build of everything so far)",
        format!("{}  (changed anything: {changed})", ms(optimized_in)),
    );
    figure(
        &format!("ingest_single_during_optimize_c{concurrency}"),
        &format!("ingest {count} single documents, c={concurrency}, while the optimizer runs"),
        ingested.per_second(),
        "docs/s",
        None,
        Some(ingested.latencies.percentiles()),
    );
    Ok(())
}
