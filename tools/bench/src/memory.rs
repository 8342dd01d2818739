//! Memory service figures over real HTTP (guide, phase 7: "ingest 10,000 documents",
//! "100 concurrent RAG queries"), each next to a floor measured in the same run:
//!
//! - ingestion vs. chunking + embedding the same texts in-process, with the service's chunk
//!   settings and embedder (work every ingestion must do, without HTTP, PostgreSQL or the
//!   index);
//! - search vs. the vector index alone answering the same (pre-embedded) queries at the same
//!   concurrency (no HTTP, no query embedding, no PostgreSQL join).
//!
//! The service is built as `build` builds it, from its settings, and reaches the index the way
//! it does in compose: over Qdrant's gRPC API, here served by `qdrant-edge-server` from an
//! engine this benchmark holds, so that it can run the optimizer between ingest and search.

use std::sync::Arc;
use std::time::Instant;

use memory::{AppState, config::Settings};
use qdrant_edge_server::RunningServer;
use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;
use text_splitter::{ChunkConfig, TextSplitter};
use vector::{BackendKind, EmbeddedConfig, EmbeddedIndex, VectorConfig};

use crate::MemoryArgs;
use crate::embed::text;
use crate::load::{post_json, timed};
use crate::report::{heading, line, ms, rate};
use crate::scratch::{ScratchDatabase, Served, Tokens, common_config, peak_rss_mib};

pub async fn run(args: &MemoryArgs) -> anyhow::Result<()> {
    let database = ScratchDatabase::create("memory").await?;
    let dir = TempDir::new()?;
    let engine = EmbeddedIndex::open(EmbeddedConfig::new(dir.path())).await?;
    let server = RunningServer::start(engine.clone(), None).await?;
    let outcome = measure(&database.pool, args, &engine, &server).await;
    let stopped = server.stop().await;
    engine.close().await;
    database.drop_now().await?;
    outcome?;
    Ok(stopped?)
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
        "memory: {} documents of {} words, embedded engine over gRPC, {} ({} dims)",
        args.documents,
        args.words,
        embedder.model(),
        args.dim
    ));

    let splitter = TextSplitter::new(
        ChunkConfig::new(settings.memory.memory_chunk_size)
            .with_overlap(settings.memory.memory_chunk_overlap)?,
    );
    let started = Instant::now();
    let chunks: Vec<String> = documents
        .iter()
        .flat_map(|document| splitter.chunks(document))
        .filter(|chunk| !chunk.trim().is_empty())
        .map(str::to_owned)
        .collect();
    embedder.embed(&chunks).await?;
    let floor = started.elapsed();
    line(
        "floor: chunk + embed in-process (all cores)",
        format!(
            "{} documents  ({} chunks)",
            rate(documents.len(), floor),
            chunks.len()
        ),
    );

    let url = Arc::new(served.url("/api/memory/documents"));
    let ingested = timed(args.ingest_concurrency, documents, |n, content| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            let body = json!({"source": "bench", "external_id": n.to_string(), "content": content});
            post_json(
                &client,
                &url,
                Some(token.as_str()),
                &body,
                StatusCode::CREATED,
            )
            .await?;
            Ok(())
        }
    })
    .await?;
    line(
        &format!("ingest over HTTP, c={}", args.ingest_concurrency),
        ingested.summary("documents"),
    );

    // Searches are measured on the optimized index (HNSW built), as the service runs once
    // writes pause; right after a bulk ingest they scan unindexed segments instead.
    let started = Instant::now();
    engine.optimize(&collection).await?;
    line(
        "optimize after ingest (off the request path)",
        ms(started.elapsed()),
    );

    let queries: Vec<String> = (0..args.queries).map(|_| text(&mut rng, 8)).collect();
    let vectors = embedder.embed(&queries).await?;
    let collection = Arc::new(collection);
    let alone = timed(args.concurrency, vectors, |_, vector| {
        let (index, collection) = (index.clone(), collection.clone());
        async move {
            // The filter every search of the service carries: the user's and shared documents.
            let mut request = vector::SearchRequest::new(vector, 10);
            request.filter = Some(vector::Filter::must(vector::Condition::keyword_any(
                "owner",
                [user_id.to_string(), "shared".to_owned()],
            )));
            request.with_payload = false;
            index.search(&collection, &request).await?;
            Ok(())
        }
    })
    .await?;
    line(
        &format!(
            "floor: index search alone (owner filter), c={}",
            args.concurrency
        ),
        alone.summary("queries"),
    );

    let url = Arc::new(served.url("/api/memory/search"));
    let searched = timed(args.concurrency, queries, |_, query| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            let body = json!({"query": query, "limit": 10});
            let response =
                post_json(&client, &url, Some(token.as_str()), &body, StatusCode::OK).await?;
            let answer: serde_json::Value = response.json().await?;
            anyhow::ensure!(
                answer["results"]
                    .as_array()
                    .is_some_and(|hits| !hits.is_empty()),
                "no hits"
            );
            Ok(())
        }
    })
    .await?;
    line(
        &format!(
            "search over HTTP (embed + index + join), c={}",
            args.concurrency
        ),
        searched.summary("queries"),
    );
    line("peak RSS", format!("{} MiB", peak_rss_mib()));
    served.stop().await
}
