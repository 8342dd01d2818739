//! Vector index figures: upsert throughput (c=1 and c=100), optimizer time, query latency
//! (c=1, c=100, filtered) and recall@10, for the embedded backend and for the remote
//! backend through `qdrant-edge-server`. Floors from the same run: the raw engine
//! (`EdgeShard` calls with no async, channel or gRPC layer) and an exact brute-force scan.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use qdrant_edge_server::RunningServer;
use uuid::Uuid;
use vector::{
    CollectionSpec, Condition, Distance, EmbeddedConfig, EmbeddedIndex, FieldKind, Filter,
    PayloadField, RemoteConfig, RemoteIndex, SearchRequest, VectorIndex,
};

use crate::dataset::{Dataset, RECALL_QUERIES, TOP_K};
use crate::floors::{brute_force, raw_engine, recall};
use crate::report::{Latencies, heading, line, ms, rate};
use crate::{Backends, VectorArgs};

const COLLECTION: &str = "bench";
const CONCURRENCY: usize = 100;

pub async fn run(args: &VectorArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.points >= 2 * args.batch,
        "--points must be at least twice --batch"
    );
    let data = Arc::new(Dataset::generate(args));
    heading(&format!(
        "vector index: {} points x {} dims (clustered), cosine, upserts of {} points, {} queries per run, top-{TOP_K}",
        args.points, args.dim, args.batch, args.queries
    ));

    heading("floor: exact brute-force scan (one thread, dot products over every vector)");
    let exact = {
        let data = Arc::clone(&data);
        tokio::task::spawn_blocking(move || brute_force(&data)).await?
    };
    line("query c=1", exact.latencies.summary());

    heading("floor: raw engine (EdgeShard calls, no async/channel/gRPC layer)");
    let raw = {
        let (data, batch) = (Arc::clone(&data), args.batch);
        tokio::task::spawn_blocking(move || raw_engine(&data, batch)).await??
    };
    line(
        "upsert, update() only (not durable)",
        rate(args.points, raw.update),
    );
    line(
        "upsert, update() + flush() per batch",
        rate(args.points, raw.durable),
    );
    line("optimize (HNSW build)", ms(raw.optimize));
    line("query c=1", raw.queries.summary());
    line(
        "recall@10 vs exact",
        format!("{:.3}", recall(&raw.top, &exact.top)),
    );

    if args.backend != Backends::Remote {
        let dir = tempfile::tempdir()?;
        let engine = EmbeddedIndex::open(EmbeddedConfig::new(dir.path())).await?;
        heading("embedded backend (EmbeddedIndex)");
        bench_index(Arc::new(engine.clone()), &engine, &data, args, &exact.top).await?;
        engine.close().await;
    }
    if args.backend != Backends::Embedded {
        let dir = tempfile::tempdir()?;
        let engine = EmbeddedIndex::open(EmbeddedConfig::new(dir.path())).await?;
        let server = RunningServer::start(engine.clone(), None).await?;
        let mut config = RemoteConfig::new(server.url());
        config.batch_size = args.batch;
        heading("remote backend (RemoteIndex -> gRPC -> qdrant-edge-server, same process)");
        bench_index(
            Arc::new(RemoteIndex::connect(config)?),
            &engine,
            &data,
            args,
            &exact.top,
        )
        .await?;
        server.stop().await?;
        engine.close().await;
    }
    Ok(())
}

async fn bench_index(
    index: Arc<dyn VectorIndex>,
    engine: &EmbeddedIndex,
    data: &Arc<Dataset>,
    args: &VectorArgs,
    exact: &[Vec<Uuid>],
) -> anyhow::Result<()> {
    let spec = CollectionSpec {
        name: COLLECTION.into(),
        embedding_model: "bench-random".into(),
        dimension: args.dim,
        distance: Distance::Cosine,
        payload_indexes: vec![PayloadField::new("document_id", FieldKind::Keyword)],
    };
    index.ensure_collection(&spec).await?;
    let half = args.points / 2;

    let started = Instant::now();
    for start in (0..half).step_by(args.batch) {
        let batch = (start..(start + args.batch).min(half))
            .map(|i| data.point(i))
            .collect();
        index.upsert(COLLECTION, batch).await?;
    }
    let sequential = started.elapsed();
    let before = engine.stats(COLLECTION).await?;
    line(
        &format!("upsert c=1 ({half} points)"),
        format!(
            "{}   optimizer runs meanwhile: {}, flushes: {}, WAL compactions: {}",
            rate(half, sequential),
            before.optimizations,
            before.flushes,
            before.wal_compactions
        ),
    );

    let next = Arc::new(AtomicUsize::new(half));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (index, data, next, batch, end) = (
            Arc::clone(&index),
            Arc::clone(data),
            Arc::clone(&next),
            args.batch,
            args.points,
        );
        tasks.spawn(async move {
            loop {
                let start = next.fetch_add(batch, Ordering::Relaxed);
                if start >= end {
                    return Ok::<(), vector::VectorError>(());
                }
                let points = (start..(start + batch).min(end))
                    .map(|i| data.point(i))
                    .collect();
                index.upsert(COLLECTION, points).await?;
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    let concurrent = started.elapsed();
    let after = engine.stats(COLLECTION).await?;
    line(
        &format!("upsert c={CONCURRENCY} ({} points)", args.points - half),
        format!(
            "{}   optimizer runs meanwhile: {}, flushes: {}, WAL compactions: {}",
            rate(args.points - half, concurrent),
            after.optimizations - before.optimizations,
            after.flushes - before.flushes,
            after.wal_compactions - before.wal_compactions
        ),
    );

    let started = Instant::now();
    engine.optimize(COLLECTION).await?;
    let stats = engine.stats(COLLECTION).await?;
    line(
        "optimize after the writes (off the request path)",
        format!(
            "{}   indexed vectors: {}",
            ms(started.elapsed()),
            stats.indexed_vectors
        ),
    );
    anyhow::ensure!(
        index.count(COLLECTION, None).await? == args.points as u64,
        "lost points"
    );

    let (sequential, top) = queries(&index, data, args.queries, 1, None).await?;
    line("query c=1", sequential.summary());
    line("recall@10 vs exact", format!("{:.3}", recall(&top, exact)));
    let started = Instant::now();
    let (concurrent, _) = queries(&index, data, args.queries, CONCURRENCY, None).await?;
    line(
        &format!("query c={CONCURRENCY}"),
        format!(
            "{}   {}",
            concurrent.summary(),
            rate(args.queries, started.elapsed())
        ),
    );
    let filter = Filter::must(Condition::keyword("document_id", "doc-7"));
    let (filtered, _) = queries(&index, data, args.queries, 1, Some(filter)).await?;
    line(
        "query c=1, keyword filter (0.1% of points)",
        filtered.summary(),
    );
    index.delete_collection(COLLECTION).await?;
    Ok(())
}

/// Runs `count` queries from `concurrency` tasks; latencies, and the top ids of the first
/// [`RECALL_QUERIES`] queries (in query order).
async fn queries(
    index: &Arc<dyn VectorIndex>,
    data: &Arc<Dataset>,
    count: usize,
    concurrency: usize,
    filter: Option<Filter>,
) -> anyhow::Result<(Latencies, Vec<Vec<Uuid>>)> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (index, data, next, filter) = (
            Arc::clone(index),
            Arc::clone(data),
            Arc::clone(&next),
            filter.clone(),
        );
        tasks.spawn(async move {
            let mut results = Vec::new();
            loop {
                let q = next.fetch_add(1, Ordering::Relaxed);
                if q >= count {
                    return Ok::<_, vector::VectorError>(results);
                }
                let mut request =
                    SearchRequest::new(data.queries[q % data.queries.len()].clone(), TOP_K);
                request.with_payload = false;
                request.filter = filter.clone();
                let started = Instant::now();
                let hits = index.search(COLLECTION, &request).await?;
                results.push((
                    q,
                    started.elapsed(),
                    hits.into_iter().map(|h| h.id).collect::<Vec<Uuid>>(),
                ));
            }
        });
    }
    let mut all = Vec::with_capacity(count);
    while let Some(result) = tasks.join_next().await {
        all.extend(result??);
    }
    all.sort_by_key(|(q, _, _)| *q);
    let top = all
        .iter()
        .take(RECALL_QUERIES)
        .map(|(_, _, ids)| ids.clone())
        .collect();
    Ok((
        Latencies::new(all.into_iter().map(|(_, latency, _)| latency).collect()),
        top,
    ))
}
