//! The embedded optimizer runs beside writes (issue 16: "writes never stall behind the
//! embedded index's optimizer"): while an HNSW build runs, upserts are applied and answered,
//! searches see them, and everything written meanwhile is flushed once the run ends.

mod common;

use std::time::{Duration, Instant};

use common::{embedded_config, open_with_collection, point, points, reopen, vector};
use tempfile::TempDir;
use vector::{EmbeddedConfig, SearchRequest, VectorIndex};

const COLLECTION: &str = "beside";
/// Enough points that the HNSW build takes seconds (debug build), the writes below milliseconds.
const INDEXED: u64 = 3_000;
const WRITES_DURING_RUN: u64 = 20;

fn config(dir: &TempDir) -> EmbeddedConfig {
    let mut config = embedded_config(dir);
    config.write_batch = 4_096;
    // Only the explicit optimize below runs.
    config.optimize_idle = Duration::from_secs(3_600);
    config.indexing_threshold_kb = Some(1);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_are_answered_while_the_optimizer_runs() {
    let dir = TempDir::new().expect("temp dir");
    let index = open_with_collection(config(&dir), COLLECTION).await;
    for start in (0..INDEXED).step_by(1_000) {
        index
            .upsert(COLLECTION, points(start..start + 1_000))
            .await
            .expect("bulk upsert");
    }

    let optimizer = {
        let index = index.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let changed = index.optimize(COLLECTION).await.expect("optimize");
            (changed, started.elapsed())
        })
    };
    // The optimize command is queued before the first write below.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let mut answered_during_run = 0;
    let writes_started = Instant::now();
    for i in INDEXED..INDEXED + WRITES_DURING_RUN {
        index
            .upsert(COLLECTION, vec![point(i)])
            .await
            .expect("upsert during the run");
        if !optimizer.is_finished() {
            answered_during_run += 1;
        }
    }
    let writes_took = writes_started.elapsed();
    let (changed, optimize_took) = optimizer.await.expect("optimizer task");
    assert!(changed, "the run built an index");
    assert_eq!(
        answered_during_run, WRITES_DURING_RUN,
        "every write was answered while the optimizer ran ({optimize_took:?}); \
         the writes took {writes_took:?} in all"
    );

    let last = INDEXED + WRITES_DURING_RUN - 1;
    let hits = index
        .search(COLLECTION, &SearchRequest::new(vector(last), 1))
        .await
        .expect("search");
    assert_eq!(
        hits[0].id,
        common::id(last),
        "a write made during the run is found"
    );
    let stats = index.stats(COLLECTION).await.expect("stats");
    assert!(stats.indexed_vectors >= INDEXED as usize, "{stats:?}");

    // A clean close flushes what was written during the run; all of it is there on reopen.
    index.close().await;
    let reopened = reopen(dir.path()).await;
    assert!(!reopened.may_have_lost_writes(), "the close was clean");
    assert_eq!(
        reopened.count(COLLECTION, None).await.expect("count"),
        INDEXED + WRITES_DURING_RUN
    );
    reopened.close().await;
}

/// Closing does not wait out a long run: after `shutdown_wait` the run is left to the
/// exiting process and the open marker stays for the next start to reconcile (what was
/// written before and during the run was not flushed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn closing_leaves_a_long_run_behind_after_the_shutdown_wait() {
    let dir = TempDir::new().expect("temp dir");
    let mut config = config(&dir);
    config.shutdown_wait = Duration::from_millis(100);
    // The writer starts the run itself once the last batch is in: no caller holds on to it.
    config.optimize_every_points = INDEXED as usize;
    let index = open_with_collection(config, COLLECTION).await;
    for start in (0..INDEXED).step_by(1_000) {
        index
            .upsert(COLLECTION, points(start..start + 1_000))
            .await
            .expect("bulk upsert");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    index.close().await;
    let closed_in = started.elapsed();
    assert!(
        closed_in < Duration::from_secs(2),
        "close waited {closed_in:?} for the run"
    );
    assert!(
        dir.path().join("open.marker").exists(),
        "the next start must reconcile"
    );
}
