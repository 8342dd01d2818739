//! Memory service figures over real HTTP (guide, phase 7: "ingest 10,000 documents",
//! "100 concurrent RAG queries"), each next to a floor measured in the same run:
//!
//! - bulk ingestion (`/documents/batch`) vs. the sum of its stages done alone on the same
//!   documents: chunk + embed in-process, a multi-row insert of the same rows into a scratch
//!   database, and an index upsert (+ flush) of the same vectors;
//! - single-document ingestion vs. chunking + embedding alone (work every ingestion must do,
//!   without HTTP, PostgreSQL or the index), with how many groups wrote those documents
//!   (group commit) and how many index flushes made them durable;
//! - search right after the bulk ingest (no manual ANALYZE, index not optimized), and search
//!   on the optimized index vs. the vector index alone answering the same (pre-embedded)
//!   queries at the same concurrency (no HTTP, no query embedding, no PostgreSQL join).
//!   The floor, the direct figure and the gateway's take turns for a few rounds and each
//!   keeps its best, so that a slow stretch of the machine does not fall on one of them only.
//!
//! The service is built as `build` builds it, from its settings, and reaches the index the way
//! it does in compose: over Qdrant's gRPC API, here served by `qdrant-edge-server` from an
//! engine this benchmark holds, so that it can run the optimizer between ingest and search.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use memory::{AppState, config::Settings};
use qdrant_edge_server::RunningServer;
use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;
use vector::{BackendKind, EmbeddedConfig, EmbeddedIndex, VectorConfig};

use self::floors::stage_floors;
use self::search::{IndexAlone, SearchLoad};
use crate::MemoryArgs;
use crate::embed::text;
use crate::http_load::Load;
use crate::load::{Run, post_json, timed};
use crate::report::{figure, heading, line, ms};
use crate::scratch::{ScratchDatabase, Served, Tokens, common_config, peak_rss_mib};

mod floors;
mod gateway;
mod search;
mod stall;

/// Documents per `/documents/batch` request (and per transaction of the insert floor).
const BATCH_DOCUMENTS: usize = 500;
/// Batch requests in flight.
const BATCH_CONCURRENCY: usize = 2;
/// Rounds of the search figures (each `--search-seconds` long, floor and figures in turn).
const SEARCH_ROUNDS: usize = 3;
/// The single-document figure ingests this fraction (1/n) of the documents.
const SINGLE_SHARE: usize = 5;

pub async fn run(args: &MemoryArgs) -> anyhow::Result<()> {
    let database = ScratchDatabase::create("memory").await?;
    let dir = TempDir::new()?;
    let engine = EmbeddedIndex::open(engine_config(dir.path())?).await?;
    let server = RunningServer::start(engine.clone(), None).await?;
    let outcome = measure(&database.pool, args, &engine, &server).await;
    let stopped = server.stop().await;
    engine.close().await;
    database.drop_now().await?;
    outcome?;
    Ok(stopped?)
}

/// The engine as the service opens it, with `VECTOR_FLUSH_INTERVAL_MS` (0: every write is
/// flushed before it is answered, the acknowledgement before issue 16), except that its
/// optimizer runs only when this benchmark asks: a pause between phases must not start one
/// at random under a figure.
fn engine_config(dir: &std::path::Path) -> anyhow::Result<EmbeddedConfig> {
    let mut config = EmbeddedConfig::new(dir);
    if let Some(ms) = std::env::var("VECTOR_FLUSH_INTERVAL_MS")
        .ok()
        .filter(|ms| !ms.trim().is_empty())
    {
        config.flush_interval = Duration::from_millis(ms.trim().parse()?);
    }
    config.optimize_idle = Duration::from_secs(24 * 3600);
    Ok(config)
}

async fn measure(
    pool: &sqlx::PgPool,
    args: &MemoryArgs,
    engine: &EmbeddedIndex,
    server: &RunningServer,
) -> anyhow::Result<()> {
    let settings = Settings {
        vector: VectorConfig {
            vector_backend: Some(BackendKind::Qdrant),
            qdrant_url: Some(server.url()),
            ..VectorConfig::default()
        },
        embedding: embed::EmbeddingConfig {
            embedding_dim: Some(args.dim),
            ..Default::default()
        },
        memory: Default::default(),
    };
    let collection = settings.memory.memory_collection.clone();
    let tokens = Tokens::new()?;
    let state = AppState::open(
        pool.clone(),
        &settings,
        tokens.verifier.clone(),
        common_config(),
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    let (user_id, token) = tokens.user(pool, "bench").await?;
    let token = Arc::new(token);
    let groups = state.ingest_groups.clone();
    let served = Served::start(memory::app(state)).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(args.ingest_concurrency))
        .build()?;
    // The floors' own embedder and index client, configured as the service's are.
    let embedder = embed::from_config(&settings.embedding)?;
    let index = vector::connect(&settings.vector).await?;

    let mut rng = fastrand::Rng::with_seed(11);
    let documents: Vec<String> = (0..args.documents)
        .map(|_| text(&mut rng, args.words))
        .collect();
    heading(&format!(
        "memory: {} documents of {} words, embedded engine over gRPC (flushed within {} ms of \
         a write), {} ({} dims)",
        args.documents,
        args.words,
        engine_config(std::path::Path::new("."))?
            .flush_interval
            .as_millis(),
        embedder.model(),
        args.dim
    ));

    let stages = stage_floors(&documents, &settings, &embedder, &index, user_id).await?;
    let floor_seconds = stages.total().as_secs_f64();
    line(
        "floor stage: chunk + embed in-process (all cores)",
        format!("{}  ({} chunks)", ms(stages.chunk_embed), stages.chunks),
    );
    line(
        &format!("floor stage: multi-row insert, {BATCH_DOCUMENTS} documents/tx"),
        ms(stages.insert),
    );
    line(
        "floor stage: index upsert + flush, same vectors",
        ms(stages.upsert),
    );
    let floor_rate = documents.len() as f64 / floor_seconds;

    let batches: Vec<Vec<serde_json::Value>> = documents
        .chunks(BATCH_DOCUMENTS)
        .enumerate()
        .map(|(b, batch)| {
            batch
                .iter()
                .enumerate()
                .map(|(i, content)| {
                    let external_id = format!("batch-{}", b * BATCH_DOCUMENTS + i);
                    json!({"source": "bench", "external_id": external_id, "content": content})
                })
                .collect()
        })
        .collect();
    let url = Arc::new(served.url("/api/memory/documents/batch"));
    let batched = timed(BATCH_CONCURRENCY, batches, |_, batch| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            let body = json!({ "documents": batch });
            let response =
                post_json(&client, &url, Some(token.as_str()), &body, StatusCode::OK).await?;
            let answer: serde_json::Value = response.json().await?;
            let items = answer["items"].as_array().cloned().unwrap_or_default();
            anyhow::ensure!(
                items.len() == batch.len() && items.iter().all(|item| item["status"] == "created"),
                "batch not fully created: {answer}"
            );
            Ok(())
        }
    })
    .await?;
    let seconds = batched.elapsed.as_secs_f64();
    figure(
        "ingest_batch",
        &format!(
            "ingest via /documents/batch ({BATCH_DOCUMENTS}/request, c={BATCH_CONCURRENCY}) \
             vs sum of stages; {seconds:.2} s for all"
        ),
        documents.len() as f64 / seconds,
        "docs/s",
        Some(floor_rate),
        Some(batched.latencies.percentiles()),
    );

    // Right after the bulk ingest: PostgreSQL has not been analyzed by hand (the service
    // starts its own ANALYZE in the background) and the index has not been optimized.
    let queries: Vec<String> = (0..args.queries).map(|_| text(&mut rng, 8)).collect();
    let searches = SearchLoad::new(args, token.clone(), &queries);
    if !args.ingest_only {
        line(
            "search: load generator",
            format!(
                "{}, {} connections, {} s a round, best of {SEARCH_ROUNDS} rounds (the fresh \
                 search: one)",
                searches.client.name(),
                searches.concurrency,
                searches.duration.as_secs()
            ),
        );
        let fresh = searches.run(&served).await?;
        figure(
            "search_fresh_c100",
            &format!("search right after the bulk ingest, c={}", args.concurrency),
            fresh.per_second(),
            "queries/s",
            None,
            Some(fresh.latencies),
        );
    }

    let singles: Vec<(String, String)> = documents
        .iter()
        .take(documents.len() / SINGLE_SHARE)
        .enumerate()
        .map(|(n, content)| (format!("single-{n}"), content.clone()))
        .collect();
    let single_count = singles.len();
    let (groups_before, index_before) = (groups.stats(), engine.stats(&collection).await?);
    let ingested =
        ingest_singly(&client, &served, &token, args.ingest_concurrency, singles).await?;
    let chunk_embed_rate = documents.len() as f64 / stages.chunk_embed.as_secs_f64();
    figure(
        &format!("ingest_single_c{}", args.ingest_concurrency),
        &format!(
            "ingest {single_count} single documents, c={} vs chunk + embed",
            args.ingest_concurrency
        ),
        ingested.per_second(),
        "docs/s",
        Some(chunk_embed_rate),
        Some(ingested.latencies.percentiles()),
    );
    let (groups_after, index_after) = (groups.stats(), engine.stats(&collection).await?);
    let written = groups_after.groups - groups_before.groups;
    let flushes = index_after.flushes - index_before.flushes;
    line(
        "single ingest: groups written, index flushes",
        format!(
            "{written} groups ({:.1} docs each), {flushes} flushes ({:.1} docs each), \
             {} segments",
            (groups_after.documents - groups_before.documents) as f64 / written.max(1) as f64,
            single_count as f64 / flushes.max(1) as f64,
            index_after.segments
        ),
    );
    stall::ingest_during_optimize(
        &client,
        &served,
        &token,
        engine,
        &collection,
        &documents,
        args.ingest_concurrency,
    )
    .await?;
    if args.ingest_only {
        line("peak RSS", format!("{} MiB", peak_rss_mib()));
        return served.stop().await;
    }

    // Searches are measured on the optimized index (HNSW built), as the service runs once
    // writes pause; right after a bulk ingest they scan unindexed segments instead.
    let started = Instant::now();
    engine.optimize(&collection).await?;
    line(
        "optimize after ingest (off the request path)",
        ms(started.elapsed()),
    );

    let vectors = embedder.embed(&queries).await?;
    let alone = IndexAlone::new(index, collection, user_id, vectors);
    let gateway = gateway::start(&served).await?;
    // Rounds alternate the floor, the direct figure and the gateway's, and each keeps its
    // best round: this machine's speed drifts (its neighbours take cores away for seconds at
    // a time), and a floor measured in a fast stretch beside a figure measured in a slow one
    // would say more about the neighbours than about the service.
    let (mut floors, mut direct, mut through) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..SEARCH_ROUNDS {
        floors.push(alone.run(searches.concurrency, searches.duration).await?);
        direct.push(searches.run(&served).await?);
        through.push(searches.run(&gateway).await?);
    }
    let floor = Run::best_of(floors).context("a round of the floor")?;
    let direct = Load::best_of(direct).context("a round of searches")?;
    let through = Load::best_of(through).context("a round of searches through the gateway")?;
    line(
        &format!(
            "floor: index search alone (owner filter), c={}",
            args.concurrency
        ),
        floor.summary("queries"),
    );
    figure(
        "search_c100",
        &format!(
            "search over HTTP (embed + index + join), c={}",
            args.concurrency
        ),
        direct.per_second(),
        "queries/s",
        Some(floor.per_second()),
        Some(direct.latencies),
    );
    gateway::figure(&through, &direct, args.concurrency);
    gateway.stop().await?;
    line("peak RSS", format!("{} MiB", peak_rss_mib()));
    served.stop().await
}

/// `documents` (external id, content) ingested one per request at `concurrency`.
async fn ingest_singly(
    client: &reqwest::Client,
    served: &Served,
    token: &Arc<String>,
    concurrency: usize,
    documents: Vec<(String, String)>,
) -> anyhow::Result<Run> {
    let url = Arc::new(served.url("/api/memory/documents"));
    timed(concurrency, documents, |_, (external_id, content)| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            let body = json!({"source": "bench", "external_id": external_id, "content": content});
            let created = StatusCode::CREATED;
            post_json(&client, &url, Some(token.as_str()), &body, created).await?;
            Ok(())
        }
    })
    .await
}
