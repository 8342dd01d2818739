//! The embedded backend acknowledges writes once applied and flushes them on its own
//! cadence: writes are searchable at once, flushes are fewer than writes, a clean close
//! flushes what is left, and a crash inside the flush interval is reported at the next open
//! (until someone reconciles), whoever opens the directory meanwhile.

mod common;

use std::time::{Duration, Instant};

use common::{
    embedded_config, open_in_child, open_with_collection, points, reopen, run_aborting_child,
    vector,
};
use tempfile::TempDir;
use vector::{EmbeddedIndex, SearchRequest, VectorIndex};

const CRASH_DIR: &str = "VECTOR_DEFERRED_CRASH_DIR";

/// Run by [`a_crash_inside_the_flush_interval_is_reported_until_reconciled`] in a child
/// process: acknowledges upserts under a one-hour flush interval, then aborts (like `kill -9`).
#[tokio::test]
#[ignore = "helper: the child process of a_crash_inside_the_flush_interval_is_reported_until_reconciled"]
async fn deferred_crash_child() {
    let hour = Duration::from_secs(3600);
    let Some(index) = open_in_child(CRASH_DIR, hour, "crash").await else {
        return;
    };
    index.upsert("crash", points(0..500)).await.expect("upsert");
    println!("acknowledged 500");
    std::process::abort();
}

#[test]
fn a_crash_inside_the_flush_interval_is_reported_until_reconciled() {
    let dir = TempDir::new().expect("temp dir");
    let stdout = run_aborting_child("deferred_crash_child", CRASH_DIR, &dir);
    assert!(stdout.contains("acknowledged 500"), "{stdout}");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let index = reopen(dir.path()).await;
        assert!(index.may_have_lost_writes(), "the crash is reported");
        // The bad case this reporting exists for: acknowledged, yet gone.
        assert!(
            index.count("crash", None).await.expect("count") < 500,
            "the writes were lost (nothing flushed them)"
        );
        // A clean close without reconciling keeps the report for the next owner.
        index.close().await;
        let index = reopen(dir.path()).await;
        assert!(index.may_have_lost_writes(), "still reported");
        index.mark_reconciled();
        assert!(!index.may_have_lost_writes());
        index.close().await;
        let index = reopen(dir.path()).await;
        assert!(
            !index.may_have_lost_writes(),
            "reconciled and closed cleanly"
        );
        index.close().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_searchable_at_once_and_flushed_within_the_interval() {
    let dir = TempDir::new().expect("temp dir");
    let mut config = embedded_config(&dir);
    config.flush_interval = Duration::from_millis(300);
    let index = open_with_collection(config.clone(), "soon").await;
    let before = index.stats("soon").await.expect("stats").flushes;

    for batch in 0..20 {
        index
            .upsert("soon", points(batch * 10..(batch + 1) * 10))
            .await
            .expect("upsert");
    }
    // Applied: visible to searches before any flush.
    let hits = index
        .search("soon", &SearchRequest::new(vector(123), 1))
        .await
        .expect("search");
    assert_eq!(hits[0].id, common::id(123));
    let after_writes = index.stats("soon").await.expect("stats").flushes;
    assert!(
        after_writes - before <= 1,
        "20 writes did not each wait for a flush: {} flushes",
        after_writes - before
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    while index.stats("soon").await.expect("stats").flushes == after_writes {
        assert!(Instant::now() < deadline, "no flush after the interval");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    index.close().await;
    let index = EmbeddedIndex::open(config).await.expect("reopens");
    assert!(!index.may_have_lost_writes(), "a clean close");
    assert_eq!(index.count("soon", None).await.expect("count"), 200);
    index.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_close_flushes_what_the_interval_had_not() {
    let dir = TempDir::new().expect("temp dir");
    let mut config = embedded_config(&dir);
    config.flush_interval = Duration::from_secs(3600);
    let index = open_with_collection(config.clone(), "late").await;
    index.upsert("late", points(0..300)).await.expect("upsert");
    index.close().await;

    let index = EmbeddedIndex::open(config).await.expect("reopens");
    assert!(!index.may_have_lost_writes());
    assert_eq!(index.count("late", None).await.expect("count"), 300);
    index.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_interval_flushes_every_write_before_answering() {
    let dir = TempDir::new().expect("temp dir");
    let mut config = embedded_config(&dir);
    config.flush_interval = Duration::ZERO;
    let index = open_with_collection(config, "now").await;
    let before = index.stats("now").await.expect("stats").flushes;
    for batch in 0..5 {
        index
            .upsert("now", points(batch * 10..(batch + 1) * 10))
            .await
            .expect("upsert");
    }
    let flushes = index.stats("now").await.expect("stats").flushes - before;
    assert_eq!(flushes, 5, "one flush per sequential write");
    index.close().await;
}
