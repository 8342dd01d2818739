//! What only the embedded backend has to get right: durability without WAL replay, a
//! bounded WAL, an optimizer off the request path, one writer under contention, reopening.

mod common;

use std::time::{Duration, Instant};

use common::{
    embedded_config, open_in_child, open_with_collection, point, points, reopen,
    run_aborting_child, spec, vector,
};
use serde_json::json;
use tempfile::TempDir;
use vector::{
    Condition, EmbeddedIndex, Filter, Point, SearchRequest, VectorError, VectorIndex,
    payload_from_json,
};

const CRASH_DIR: &str = "VECTOR_CRASH_TEST_DIR";

/// Run by [`acknowledged_upserts_survive_a_crash`] in a child process: acknowledges
/// upserts, then aborts without any destructor running (like `kill -9`). Flushes before
/// acknowledging (a zero flush interval); `deferred_flush.rs` has the default's crash.
#[tokio::test]
#[ignore = "helper: the child process of acknowledged_upserts_survive_a_crash"]
async fn crash_child() {
    let Some(index) = open_in_child(CRASH_DIR, Duration::ZERO, "crash").await else {
        return;
    };
    for batch in 0..10 {
        index
            .upsert("crash", points(batch * 100..(batch + 1) * 100))
            .await
            .expect("upsert");
        println!("acknowledged {}", (batch + 1) * 100);
    }
    std::process::abort();
}

#[test]
fn acknowledged_upserts_survive_a_crash() {
    let dir = TempDir::new().expect("temp dir");
    let stdout = run_aborting_child("crash_child", CRASH_DIR, &dir);
    let acknowledged: u64 = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("acknowledged "))
        .filter_map(|n| n.trim().parse().ok())
        .max()
        .unwrap_or_else(|| panic!("child acknowledged nothing: {stdout}"));
    assert_eq!(acknowledged, 1000);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let index = reopen(dir.path()).await;
        assert_eq!(
            index.count("crash", None).await.expect("count"),
            acknowledged
        );
        let hits = index
            .search("crash", &SearchRequest::new(vector(999), 1))
            .await
            .expect("search");
        assert_eq!(hits[0].id, common::id(999));
        index.close().await;
    });
}

fn wide_point(i: u64, round: i64) -> Point {
    let payload = payload_from_json(json!({ "round": round })).expect("object");
    let vector = (0..256).map(|d| ((i * 31 + d) % 97) as f32 + 1.0).collect();
    Point::new(common::id(i), vector, payload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_stays_bounded_and_updates_survive_compaction() {
    const MAX: u64 = 4 * 1024 * 1024;
    let dir = TempDir::new().expect("temp dir");
    let mut config = embedded_config(&dir);
    config.wal_max_bytes = MAX;
    let index = EmbeddedIndex::open(config.clone()).await.expect("opens");
    let mut wide = spec("wal");
    wide.dimension = 256;
    wide.payload_indexes.clear();
    index.ensure_collection(&wide).await.expect("ensure");

    // ~10 MiB of WAL records: 20 rounds rewriting the same 400 points.
    for round in 0..20 {
        let batch = (0..400).map(|i| wide_point(i, round)).collect();
        index.upsert("wal", batch).await.expect("upsert");
        let stats = index.stats("wal").await.expect("stats");
        // Compaction runs right after the reply: allow one segment (MAX / 8) on top.
        assert!(stats.wal_bytes <= MAX + MAX / 8, "round {round}: {stats:?}");
    }
    let stats = index.stats("wal").await.expect("stats");
    assert!(
        stats.wal_compactions >= 1,
        "the WAL was compacted: {stats:?}"
    );
    // Writes after a compaction still apply (operation numbers kept rising).
    let last_round = Filter::must(Condition::integer_any("round", [19]));
    assert_eq!(
        index.count("wal", Some(&last_round)).await.expect("count"),
        400
    );
    index.close().await;

    let index = EmbeddedIndex::open(config).await.expect("reopens");
    assert_eq!(index.count("wal", None).await.expect("count"), 400);
    assert_eq!(
        index.count("wal", Some(&last_round)).await.expect("count"),
        400
    );
    // One closed and two open segments of MAX / 8 each remain.
    let reopened = index.stats("wal").await.expect("stats");
    assert!(
        reopened.wal_bytes <= MAX / 2,
        "pruned on open: {reopened:?}"
    );
    index.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimizer_builds_the_index_after_writes_pause() {
    let dir = TempDir::new().expect("temp dir");
    let mut config = embedded_config(&dir);
    config.optimize_idle = Duration::from_millis(100);
    config.indexing_threshold_kb = Some(1);
    let index = open_with_collection(config, "opt").await;
    index.upsert("opt", points(0..500)).await.expect("upsert");

    let deadline = Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let stats = index.stats("opt").await.expect("stats");
        if stats.optimizations > 0 && stats.indexed_vectors >= 500 {
            break stats;
        }
        assert!(
            Instant::now() < deadline,
            "optimizer did not run on its own: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(stats.indexed_vectors, 500, "{stats:?}");
    let hits = index
        .search("opt", &SearchRequest::new(vector(123), 3))
        .await
        .expect("search");
    assert_eq!(hits[0].id, common::id(123));
    index.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_searches_and_optimizations_do_not_panic() {
    let dir = TempDir::new().expect("temp dir");
    let mut config = embedded_config(&dir);
    config.optimize_idle = Duration::from_millis(20);
    config.indexing_threshold_kb = Some(1);
    let index = open_with_collection(config, "busy").await;
    index.upsert("busy", points(0..50)).await.expect("seed");

    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..8u64 {
        let index = index.clone();
        tasks.spawn(async move {
            for batch in 0..5u64 {
                let start = 1_000 + writer * 1_000 + batch * 40;
                index.upsert("busy", points(start..start + 40)).await?;
            }
            index
                .delete_by_filter(
                    "busy",
                    &Filter::must(Condition::integer_any("chunk_index", [writer as i64])),
                )
                .await
        });
    }
    for searcher in 0..6u64 {
        let index = index.clone();
        tasks.spawn(async move {
            for i in 0..30 {
                index
                    .search("busy", &SearchRequest::new(vector(searcher * 100 + i), 5))
                    .await?;
                index.count("busy", None).await?;
            }
            Ok(())
        });
    }
    for _ in 0..2 {
        let index = index.clone();
        tasks.spawn(async move {
            for _ in 0..3 {
                index.optimize("busy").await?;
            }
            Ok::<(), VectorError>(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result
            .expect("task did not panic")
            .expect("operation succeeded");
    }
    // 50 seeded, ids 0..8 deleted by their writers, 8 × 5 × 40 added.
    assert_eq!(index.count("busy", None).await.expect("count"), 42 + 1_600);
    index.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_reopen_with_their_data_and_identity() {
    let dir = TempDir::new().expect("temp dir");
    let index = open_with_collection(embedded_config(&dir), "keep").await;
    index.upsert("keep", points(0..120)).await.expect("upsert");
    index.close().await;

    let index = EmbeddedIndex::open(embedded_config(&dir))
        .await
        .expect("reopens");
    assert_eq!(index.collection_names(), vec!["keep".to_owned()]);
    assert_eq!(index.count("keep", None).await.expect("count"), 120);
    let doc1 = Filter::must(Condition::keyword("document_id", "doc-1"));
    assert_eq!(index.count("keep", Some(&doc1)).await.expect("count"), 24);
    index
        .ensure_collection(&spec("keep"))
        .await
        .expect("same model still fine");
    let mut other = spec("keep");
    other.embedding_model = "other".into();
    assert!(matches!(
        index.ensure_collection(&other).await,
        Err(VectorError::EmbeddingMismatch(_))
    ));
    index
        .upsert("keep", vec![point(500)])
        .await
        .expect("still writable");
    index.close().await;
}

#[tokio::test]
async fn a_data_directory_has_one_owner() {
    let dir = TempDir::new().expect("temp dir");
    let first = EmbeddedIndex::open(embedded_config(&dir))
        .await
        .expect("opens");
    let error = EmbeddedIndex::open(embedded_config(&dir))
        .await
        .expect_err("second owner");
    assert!(
        error.to_string().contains("in use by another process"),
        "{error}"
    );
    first.close().await;
    EmbeddedIndex::open(embedded_config(&dir))
        .await
        .expect("free again")
        .close()
        .await;
}

#[tokio::test]
async fn an_interrupted_create_is_ignored_and_replaced() {
    let dir = TempDir::new().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("collections/half/shard")).expect("leftover");
    let index = EmbeddedIndex::open(embedded_config(&dir))
        .await
        .expect("opens");
    assert!(index.collection_info("half").await.expect("info").is_none());
    index
        .ensure_collection(&spec("half"))
        .await
        .expect("created over the leftover");
    index.upsert("half", points(0..3)).await.expect("upsert");
    assert_eq!(index.count("half", None).await.expect("count"), 3);
    index.close().await;
}
