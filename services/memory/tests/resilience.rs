//! When a part is down: an unavailable vector index never loses an ingested document (its
//! chunks wait, pending, until the indexer catches up); an unavailable embedder stores
//! nothing and says so.

mod common;

use std::sync::Arc;

use authn::Role;
use axum::http::{Method, StatusCode};
use common::{TestApp, flaky::FlakyIndex, hit_documents};
use serde_json::json;
use sqlx::PgPool;
use tempfile::TempDir;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn documents_ingested_while_the_index_is_down_are_indexed_later(pool: PgPool) {
    let mut app = TestApp::new(pool).await;
    let flaky = FlakyIndex::wrap(app.state.indexer.index.clone());
    app.state.indexer.index = flaky.clone();
    app.rebuild();
    let alice = app.user(Role::User).await;

    flaky.set_down(true);
    let (status, body) = app
        .ingest(
            &alice,
            json!({"source": "notes", "content": "Tokio tasks are cheap green threads."}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "stored although not indexed: {body}"
    );
    assert_eq!(body["document"]["pending_chunks"], 1);
    let (status, answer) = app.search(&alice, json!({"query": "tokio tasks"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer["error"]["code"], "vector_index_unavailable");
    let (status, listed) = app
        .call(
            Method::GET,
            "/api/memory/documents",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "reading documents needs no index");
    assert_eq!(listed["documents"][0]["pending_chunks"], 1);

    // The indexer fails while the index is down, and leaves the chunk pending...
    assert!(app.state.indexer.drain_pending(|_| {}).await.is_err());
    flaky.set_down(false);
    // ...and completes it once the index is back.
    assert_eq!(app.state.indexer.drain_pending(|_| {}).await.unwrap(), 1);
    let (_, answer) = app.search(&alice, json!({"query": "tokio tasks"})).await;
    assert_eq!(
        hit_documents(&answer),
        [body["document"]["id"].as_str().unwrap()]
    );
    let (_, status_view) = app
        .call(Method::GET, "/api/memory/status", Some(&alice.token), None)
        .await;
    assert_eq!(status_view["pending_chunks"], 0, "{status_view}");
    assert_eq!(status_view["vectors"], 1);
    assert_eq!(status_view["backend"], "embedded");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_background_indexer_picks_up_pending_chunks_when_woken(pool: PgPool) {
    let mut app = TestApp::new(pool).await;
    let flaky = FlakyIndex::wrap(app.state.indexer.index.clone());
    app.state.indexer.index = flaky.clone();
    app.rebuild();
    let alice = app.user(Role::User).await;
    flaky.set_down(true);
    let (_, body) = app
        .ingest(
            &alice,
            json!({"source": "notes", "content": "Channels move values between tasks."}),
        )
        .await;
    assert_eq!(body["document"]["pending_chunks"], 1);
    flaky.set_down(false);

    let worker = tokio::spawn(app.state.indexer.clone().run(
        app.state.indexer_wakeup.clone(),
        std::time::Duration::from_millis(50),
    ));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (pending,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM memory.chunks WHERE qdrant_point_id IS NULL")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "indexer never caught up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    worker.abort();
    assert_eq!(app.vectors().await, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_unavailable_embedder_stores_nothing_and_says_so(pool: PgPool) {
    let dir = TempDir::new().unwrap();
    let mut settings = common::settings(&dir, 8);
    // A provider on a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    settings.embedding = embed::EmbeddingConfig {
        embedding_provider: Some(embed::Provider::Openai),
        embedding_model: Some("text-embedding-test".into()),
        embedding_url: Some(format!("http://127.0.0.1:{port}/v1")),
        embedding_dim: Some(8),
        embedding_max_retries: Some(0),
        embedding_timeout_secs: Some(2),
        ..Default::default()
    };
    let app = TestApp::with_settings(pool, settings, Arc::new(dir)).await;
    let alice = app.user(Role::User).await;
    let (status, body) = app
        .ingest(
            &alice,
            json!({"source": "notes", "content": "Never stored."}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "embedding_unavailable");
    let documents: i64 = sqlx::query_scalar("SELECT count(*) FROM memory.documents")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(documents, 0);
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
    let (_, answer) = app
        .search(
            &bob,
            json!({"query": "what happens when the owner goes out of scope"}),
        )
        .await;
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
