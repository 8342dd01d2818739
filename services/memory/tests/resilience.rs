//! When a part is down: an unavailable vector index never loses an ingested document (its
//! chunks wait, pending, until the indexer catches up); an unavailable embedder stores
//! nothing and says so.

mod common;

use std::sync::Arc;

use authn::Role;
use axum::http::StatusCode;
use common::{
    TestApp,
    flaky::{FlakyIndex, app_with_flaky_index},
    hit_documents, wait_until_indexed,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use tempfile::TempDir;
use testkit::User;

/// Takes the index down, then a new user ingests `content`: the document is stored with its
/// one chunk pending. Returns the user and the document; the index stays down.
async fn ingest_while_the_index_is_down(
    app: &TestApp,
    flaky: &FlakyIndex,
    content: &str,
) -> (User, Value) {
    let alice = app.user(Role::User).await;
    flaky.set_down(true);
    let note = json!({"source": "notes", "content": content});
    let ingested = app.ingest(&alice, note).await;
    assert_eq!(
        ingested.status,
        StatusCode::CREATED,
        "stored although not indexed: {}",
        ingested.body
    );
    let document = ingested.body["document"].clone();
    assert_eq!(document["pending_chunks"], 1);
    (alice, document)
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn documents_ingested_while_the_index_is_down_are_indexed_later(pool: PgPool) {
    let (app, flaky) = app_with_flaky_index(pool).await;
    let (alice, document) =
        ingest_while_the_index_is_down(&app, &flaky, "Tokio tasks are cheap green threads.").await;
    // Vector-only search degrades to a lexical answer (see tests/degraded.rs).
    let degraded = app
        .search(&alice, json!({"query": "tokio tasks", "mode": "vector"}))
        .await;
    assert_eq!(degraded.status, StatusCode::OK, "{}", degraded.body);
    assert_eq!(degraded.body["degraded"], true);
    let listed = app.get_as("/api/memory/documents", &alice).await;
    assert_eq!(
        listed.status,
        StatusCode::OK,
        "reading documents needs no index"
    );
    assert_eq!(listed.body["items"][0]["pending_chunks"], 1);

    // The indexer fails while the index is down, and leaves the chunk pending...
    assert!(app.state.indexer.drain_pending(|_| {}).await.is_err());
    flaky.set_down(false);
    // ...and completes it once the index is back.
    assert_eq!(app.state.indexer.drain_pending(|_| {}).await.unwrap(), 1);
    let found = app.search(&alice, json!({"query": "tokio tasks"})).await;
    assert_eq!(
        hit_documents(&found.body),
        [document["id"].as_str().unwrap()]
    );
    let status = app.get_as("/api/memory/status", &alice).await.body;
    assert_eq!(status["pending_chunks"], 0, "{status}");
    assert_eq!(status["vectors"], 1);
    assert_eq!(status["backend"], "embedded");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_background_indexer_picks_up_pending_chunks_when_woken(pool: PgPool) {
    let (app, flaky) = app_with_flaky_index(pool).await;
    ingest_while_the_index_is_down(&app, &flaky, "Channels move values between tasks.").await;
    flaky.set_down(false);

    let worker = app.spawn_indexer(std::time::Duration::from_millis(50));
    wait_until_indexed(&app.pool).await;
    worker.abort();
    assert_eq!(app.vectors().await, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_unavailable_embedder_stores_nothing_and_says_so(pool: PgPool) {
    let dir = TempDir::new().unwrap();
    // A provider on a port nothing listens on.
    let url = format!("http://127.0.0.1:{}/v1", testkit::free_port());
    let settings = common::settings_with_provider(&dir, &url);
    let app = TestApp::with_settings(pool, settings, Arc::new(dir)).await;
    let alice = app.user(Role::User).await;
    let refused = app
        .ingest(
            &alice,
            json!({"source": "notes", "content": "Never stored."}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.body
    );
    assert_eq!(refused.code(), "embedding_unavailable");
    assert_eq!(app.documents().await, 0);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn seeded_chunks_without_vectors_are_indexed_and_found(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    db::seeds::load_development(&mut conn).await.unwrap();
    drop(conn);
    let app = TestApp::new(pool).await;
    assert_eq!(app.vectors().await, 0, "seeds write PostgreSQL only");
    assert_eq!(app.state.indexer.drain_pending(|_| {}).await.unwrap(), 5);

    let bob = app.user(Role::User).await;
    let answer = app
        .search(
            &bob,
            json!({"query": "what happens when the owner goes out of scope"}),
        )
        .await
        .body;
    // Bob sees the shared ownership document, never Alice's private axum note.
    assert_eq!(
        hit_documents(&answer)[0],
        "60000000-0000-4000-8000-000000000001"
    );
    assert!(!hit_documents(&answer).contains(&"60000000-0000-4000-8000-000000000002".to_owned()));
    let model: Option<String> =
        sqlx::query_scalar("SELECT DISTINCT embedding_model FROM memory.chunks")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(model.as_deref(), Some("devmentor-hash-v1"));
}
