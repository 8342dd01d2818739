//! The memory service's own series on `/metrics`: the embedder's latency and the indexer's
//! backlog. The recorder is shared by every test in this binary, so each test compares a
//! scrape before with one after.

mod common;

use authn::Role;
use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;
use sqlx::PgPool;
use testkit::metrics::sample;

async fn scrape(app: &TestApp) -> String {
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    String::from_utf8(reply.bytes.to_vec()).expect("utf-8")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn embedder_calls_are_timed_and_the_backlog_is_reported(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let model = app.state.indexer.embedder.model().to_owned();
    let calls = |text: &str| {
        sample(
            text,
            "memory_embed_duration_seconds_count",
            &[("model", &model)],
        )
    };
    let before = calls(&scrape(&app).await);
    let reply = app
        .ingest(
            &alice,
            json!({"source": "notes", "content": "Channels move values between tasks."}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert!(calls(&scrape(&app).await) - before >= 1.0);

    // The vectors are forgotten: the backlog is every chunk, waiting since before now.
    let pending = sqlx::query("UPDATE memory.chunks SET qdrant_point_id = NULL")
        .execute(&app.pool)
        .await
        .expect("mark pending")
        .rows_affected();
    memory::metrics::record_backlog(&app.pool)
        .await
        .expect("backlog");
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "memory_pending_chunks", &[]), pending as f64);
    assert!(sample(&text, "memory_oldest_pending_chunk_age_seconds", &[]) > 0.0);

    app.state
        .indexer
        .drain_pending(|_| {})
        .await
        .expect("drain");
    memory::metrics::record_backlog(&app.pool)
        .await
        .expect("backlog");
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "memory_pending_chunks", &[]), 0.0);
    assert_eq!(
        sample(&text, "memory_oldest_pending_chunk_age_seconds", &[]),
        0.0
    );
}
