//! Memory service figures over real HTTP (guide, phase 7: "ingest 10,000 documents",
//! "100 concurrent RAG queries"), each next to a floor measured in the same run:
//!
//! - ingestion vs. chunking + embedding the same texts in-process (work every ingestion
//!   must do, without HTTP, PostgreSQL or the index);
//! - search vs. the vector index alone answering the same (pre-embedded) queries at the same
//!   concurrency (no HTTP, no query embedding, no PostgreSQL join).

use std::{sync::Arc, time::Instant};

use memory::{
    AppState,
    chunking::TextFormat,
    config::Settings,
    indexing::{Indexer, collection_spec},
};
use serde_json::json;
use tempfile::TempDir;
use vector::{BackendKind, EmbeddedIndex, VectorConfig};

use crate::MemoryArgs;
use crate::embed::text;
use crate::report::{Latencies, heading, line, rate};
use crate::scratch::{ScratchDatabase, Served, Tokens, common_config, concurrently, peak_rss_mib};

pub async fn run(args: &MemoryArgs) -> anyhow::Result<()> {
    let database = ScratchDatabase::create("memory").await?;
    let outcome = measure(&database.pool, args).await;
    database.drop_now().await?;
    outcome
}

async fn measure(pool: &sqlx::PgPool, args: &MemoryArgs) -> anyhow::Result<()> {
    let dir = TempDir::new()?;
    let settings = Settings {
        vector: VectorConfig {
            vector_backend: Some(BackendKind::Embedded),
            vector_data_dir: Some(dir.path().to_path_buf()),
            ..VectorConfig::default()
        },
        embedding: embed::EmbeddingConfig {
            embedding_dim: Some(args.dim),
            ..Default::default()
        },
        memory: Default::default(),
    };
    // The engine itself (not only the trait), to run its optimizer between ingest and search.
    let vector::Backend::Embedded(embedded) = settings.vector.backend()? else {
        anyhow::bail!("the memory benchmark runs on the embedded index");
    };
    let engine = EmbeddedIndex::open(embedded).await?;
    let indexer = Indexer {
        pool: pool.clone(),
        index: Arc::new(engine.clone()),
        embedder: embed::from_config(&settings.embedding)?,
        collection: settings.memory.memory_collection.clone(),
        batch: settings.memory.memory_index_batch,
    };
    let spec = collection_spec(&indexer.collection, indexer.embedder.as_ref());
    indexer.index.ensure_collection(&spec).await?;
    let tokens = Tokens::new()?;
    let state = AppState::with_indexer(
        indexer,
        &settings.memory,
        tokens.verifier.clone(),
        common_config(),
    )
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    let (user_id, token) = tokens.user(pool, "bench").await?;
    let served = Served::start(memory::app(state.clone())).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(args.ingest_concurrency))
        .build()?;

    let mut rng = fastrand::Rng::with_seed(11);
    let documents: Vec<String> = (0..args.documents)
        .map(|_| text(&mut rng, args.words))
        .collect();
    heading(&format!(
        "memory: {} documents of {} words, embedded index, {} ({} dims)",
        args.documents,
        args.words,
        state.indexer.embedder.model(),
        args.dim
    ));

    let started = Instant::now();
    let chunks: Vec<String> = documents
        .iter()
        .flat_map(|document| state.chunker.split(document, TextFormat::Plain))
        .map(|chunk| chunk.content)
        .collect();
    state.indexer.embedder.embed(&chunks).await?;
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
    let token = Arc::new(token);
    let started = Instant::now();
    let latencies = concurrently(args.ingest_concurrency, documents, |n, content| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            let body = json!({"source": "bench", "external_id": n.to_string(), "content": content});
            let response = client
                .post(url.as_str())
                .bearer_auth(token.as_str())
                .json(&body)
                .send()
                .await?;
            anyhow::ensure!(
                response.status() == 201,
                "ingest answered {}",
                response.status()
            );
            Ok(())
        }
    })
    .await?;
    let elapsed = started.elapsed();
    line(
        &format!("ingest over HTTP, c={}", args.ingest_concurrency),
        format!(
            "{} documents  {}",
            rate(latencies.len(), elapsed),
            Latencies::new(latencies).summary()
        ),
    );

    // Searches are measured on the optimized index (HNSW built), as the service runs once
    // writes pause; right after a bulk ingest they scan unindexed segments instead.
    let started = Instant::now();
    engine.optimize(&state.indexer.collection).await?;
    line(
        "optimize after ingest (off the request path)",
        crate::report::ms(started.elapsed()),
    );

    let queries: Vec<String> = (0..args.queries).map(|_| text(&mut rng, 8)).collect();
    let vectors = state.indexer.embedder.embed(&queries).await?;
    let index = state.indexer.index.clone();
    let collection = Arc::new(state.indexer.collection.clone());
    let started = Instant::now();
    let floor_latencies = concurrently(args.concurrency, vectors, |_, vector| {
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
    let floor = started.elapsed();
    line(
        &format!(
            "floor: index search alone (owner filter), c={}",
            args.concurrency
        ),
        format!(
            "{} queries  {}",
            rate(floor_latencies.len(), floor),
            Latencies::new(floor_latencies).summary()
        ),
    );

    let url = Arc::new(served.url("/api/memory/search"));
    let started = Instant::now();
    let latencies = concurrently(args.concurrency, queries, |_, query| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            let body = json!({"query": query, "limit": 10});
            let response = client
                .post(url.as_str())
                .bearer_auth(token.as_str())
                .json(&body)
                .send()
                .await?;
            anyhow::ensure!(
                response.status() == 200,
                "search answered {}",
                response.status()
            );
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
    let elapsed = started.elapsed();
    line(
        &format!(
            "search over HTTP (embed + index + join), c={}",
            args.concurrency
        ),
        format!(
            "{} queries  {}",
            rate(latencies.len(), elapsed),
            Latencies::new(latencies).summary()
        ),
    );
    line("peak RSS", format!("{} MiB", peak_rss_mib()));
    served.stop().await?;
    drop(state);
    engine.close().await;
    Ok(())
}
