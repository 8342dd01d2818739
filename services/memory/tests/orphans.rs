//! Orphaned vectors (their chunk row is gone: deleted while the index was unreachable, or a
//! crash) never take a result slot: a search asks the index for more until it has `limit`
//! real hits. And the indexer sweeps them periodically, not only at start.

mod common;

use std::time::Duration;

use authn::Role;
use axum::http::StatusCode;
use common::{TestApp, hit_documents};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::metrics::sample;

/// Twelve of alice's notes that all match "harbour crane", and alice.
async fn harbour_notes(app: &TestApp) -> (testkit::User, Vec<String>) {
    let alice = app.user(Role::User).await;
    let mut ids = Vec::new();
    for n in 0..12 {
        let reply = app
            .ingest(
                &alice,
                json!({"source": "log", "content":
                    format!("Harbour crane {n} lifted {} containers today.", n * 7)}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        ids.push(reply.body["document"]["id"].as_str().unwrap().to_owned());
    }
    (alice, ids)
}

/// Deletes the rows of these documents (and their chunks) but not their vectors, as a
/// delete that could not reach the index leaves them.
async fn orphan(app: &TestApp, documents: &[String]) {
    let deleted = sqlx::query("DELETE FROM memory.documents WHERE id::text = ANY($1)")
        .bind(documents)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected(), documents.len() as u64);
}

async fn skipped_vectors(app: &TestApp) -> f64 {
    let reply = app.get("/metrics").await;
    let text = String::from_utf8(reply.bytes.to_vec()).expect("utf-8");
    sample(&text, "memory_search_skipped_vectors_total", &[])
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn orphaned_vectors_never_take_result_slots(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, _) = harbour_notes(&app).await;
    let query = |mode: &str| json!({"query": "harbour crane", "mode": mode, "limit": 4});
    // The eight best by vector: more orphans than the first asks of the index can hold.
    let ranked = app
        .search(
            &alice,
            json!({"query": "harbour crane", "mode": "vector", "limit": 8}),
        )
        .await
        .body;
    let best = hit_documents(&ranked);
    assert_eq!(best.len(), 8);
    orphan(&app, &best).await;
    assert_eq!(app.vectors().await, 12, "the vectors are still there");
    let before = skipped_vectors(&app).await;

    for mode in ["vector", "hybrid"] {
        let answer: Value = app.search(&alice, query(mode)).await.body;
        let found = hit_documents(&answer);
        assert_eq!(found.len(), 4, "{mode}: {answer}");
        assert!(
            found.iter().all(|id| !best.contains(id)),
            "{mode}: {found:?}"
        );
    }
    assert!(
        skipped_vectors(&app).await - before >= 16.0,
        "both searches skipped all 8"
    );

    // With fewer real matches than asked for, the search returns what there is.
    let everything = app
        .search(
            &alice,
            json!({"query": "harbour crane", "mode": "vector", "limit": 50}),
        )
        .await
        .body;
    assert_eq!(hit_documents(&everything).len(), 4);
}

/// Polls until the collection holds `count` vectors.
async fn wait_for_vectors(app: &TestApp, count: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while app.vectors().await != count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no sweep brought the vectors to {count}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_indexer_sweeps_orphans_periodically(pool: PgPool) {
    let mut app = TestApp::new(pool).await;
    let (_, ids) = harbour_notes(&app).await;
    app.state.indexer.orphan_sweep_interval = Some(Duration::from_millis(200));
    // The sweep at start deletes the first orphans; only a later sweep can find the next.
    orphan(&app, &ids[..3]).await;
    let worker = app.spawn_indexer(Duration::from_secs(60));
    wait_for_vectors(&app, 9).await;
    orphan(&app, &ids[3..5]).await;
    wait_for_vectors(&app, 7).await;
    worker.abort();
    assert_eq!(app.state.indexer.sweep_orphans().await.unwrap(), 0);
}

#[test]
fn the_sweep_interval_is_a_setting_and_zero_means_only_at_start() {
    let mut config = memory::config::MemoryConfig::default();
    assert_eq!(config.memory_orphan_sweep_interval_secs, 3600);
    assert_eq!(
        config.orphan_sweep_interval(),
        Some(Duration::from_secs(3600))
    );
    config.memory_orphan_sweep_interval_secs = 0;
    assert_eq!(config.orphan_sweep_interval(), None);
}
