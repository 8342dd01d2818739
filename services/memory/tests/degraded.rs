//! Graceful degradation: while the vector index or the embedding provider is unavailable,
//! `vector` and `hybrid` searches answer lexically (`degraded: true`) instead of failing;
//! ingestion keeps accepting (chunks pending) and the indexer catches up once the index is
//! back, after which searches are whole again.

mod common;

use std::time::Duration;

use authn::Role;
use axum::http::StatusCode;
use common::{
    TestApp,
    flaky::{app_with_flaky_embedder, app_with_flaky_index},
    hit_documents,
    qdrant::{self, app_on_qdrant_server},
    wait_until_indexed,
};
use qdrant_edge_server::RunningServer;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{User, metrics::sample};

async fn ingest(app: &TestApp, user: &User, content: &str) -> Value {
    let reply = app
        .ingest(user, json!({"source": "notes", "content": content}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["document"].clone()
}

/// The answer of a search that must succeed.
async fn search(app: &TestApp, user: &User, body: Value) -> Value {
    let reply = app.search(user, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn degraded_searches(app: &TestApp, reason: &str) -> f64 {
    let reply = app.get("/metrics").await;
    let text = String::from_utf8(reply.bytes.to_vec()).expect("utf-8");
    sample(&text, "memory_search_degraded_total", &[("reason", reason)])
}

/// Asserts that `vector` and `hybrid` searches for `query` answer lexically with `expected`,
/// and that `lexical` ones are not called degraded.
async fn assert_degraded(app: &TestApp, user: &User, query: &str, expected: &[&str]) {
    for mode in ["vector", "hybrid"] {
        let answer = search(app, user, json!({"query": query, "mode": mode})).await;
        assert_eq!(answer["degraded"], true, "{mode}: {answer}");
        assert_eq!(answer["mode"], "lexical", "{mode}");
        assert_eq!(answer["model"], Value::Null, "{mode}");
        assert_eq!(hit_documents(&answer), expected, "{mode}");
    }
    let lexical = search(app, user, json!({"query": query, "mode": "lexical"})).await;
    assert_eq!(lexical["degraded"], false);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn searches_answer_lexically_while_the_index_is_down(pool: PgPool) {
    let (app, flaky) = app_with_flaky_index(pool).await;
    let alice = app.user(Role::User).await;
    let document = ingest(&app, &alice, "Tokio tasks are cheap green threads.").await;
    let id = document["id"].as_str().unwrap();
    let before = degraded_searches(&app, "vector_index").await;

    flaky.set_down(true);
    assert_degraded(&app, &alice, "tokio tasks", &[id]).await;
    assert_eq!(
        degraded_searches(&app, "vector_index").await - before,
        2.0,
        "one count per degraded search"
    );

    flaky.set_down(false);
    let whole = search(&app, &alice, json!({"query": "tokio tasks"})).await;
    assert_eq!(
        (&whole["mode"], &whole["degraded"]),
        (&json!("hybrid"), &json!(false))
    );
    assert_eq!(whole["model"], "devmentor-hash-v1");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn searches_answer_lexically_while_the_embedder_is_down(pool: PgPool) {
    let (app, flaky) = app_with_flaky_embedder(pool).await;
    let alice = app.user(Role::User).await;
    let document = ingest(&app, &alice, "Channels move values between tasks.").await;
    let before = degraded_searches(&app, "embedder").await;

    flaky.set_down(true);
    assert_degraded(
        &app,
        &alice,
        "channels",
        &[document["id"].as_str().unwrap()],
    )
    .await;
    assert_eq!(degraded_searches(&app, "embedder").await - before, 2.0);
    // A query the embedder itself refuses (no words) is the caller's mistake, not an outage.
    flaky.set_down(false);
    let refused = app.search(&alice, json!({"query": "!!!"})).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_embeddable")
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn ingestion_goes_on_while_the_index_is_down_and_the_indexer_catches_up(pool: PgPool) {
    let (app, flaky) = app_with_flaky_index(pool).await;
    let alice = app.user(Role::User).await;
    flaky.set_down(true);
    let document = ingest(&app, &alice, "Backpressure keeps the queue bounded.").await;
    assert_eq!(document["pending_chunks"], 1);
    let id = document["id"].as_str().unwrap();
    // Not in the index yet, and still found: PostgreSQL has every chunk.
    assert_degraded(&app, &alice, "backpressure queue", &[id]).await;

    let worker = app.spawn_indexer(Duration::from_millis(50));
    flaky.set_down(false);
    app.state.indexer_wakeup.notify_one();
    wait_until_indexed(&app.pool).await;
    worker.abort();
    let whole = search(
        &app,
        &alice,
        json!({"query": "backpressure queue", "mode": "vector"}),
    )
    .await;
    assert_eq!(
        (&whole["mode"], &whole["degraded"]),
        (&json!("vector"), &json!(false))
    );
    assert_eq!(hit_documents(&whole), [id]);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_stopped_qdrant_server_degrades_search_until_it_is_back(pool: PgPool) {
    // The test's handle on the engine goes at once: the server holds the only one.
    let (app, mut server, _) = app_on_qdrant_server(pool).await;
    let addr = server.addr;
    let alice = app.user(Role::User).await;
    let first = ingest(&app, &alice, "Raft elects a leader by majority vote.").await;
    assert_eq!(first["pending_chunks"], 0);
    let first = first["id"].as_str().unwrap().to_owned();

    server.stop().await.expect("stops");
    assert_degraded(&app, &alice, "leader vote", &[&first]).await;
    let second = ingest(&app, &alice, "A leader lease avoids a vote per read.").await;
    assert_eq!(second["pending_chunks"], 1, "stored, waiting for the index");
    let second = second["id"].as_str().unwrap().to_owned();
    let status = app.get_as("/api/memory/status", &alice).await;
    assert_eq!(
        status.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        status.body
    );

    // The same data directory behind the same address, as after a restart.
    server = RunningServer::start_on(addr, qdrant::engine(app.dir.path()).await, None)
        .await
        .expect("serves again");
    let worker = app.spawn_indexer(Duration::from_millis(50));
    wait_until_indexed(&app.pool).await;
    worker.abort();
    let whole = search(
        &app,
        &alice,
        json!({"query": "leader vote", "mode": "vector"}),
    )
    .await;
    assert_eq!(whole["degraded"], false, "{whole}");
    let mut found = hit_documents(&whole);
    found.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(found, expected);
    let status = app.get_as("/api/memory/status", &alice).await.body;
    assert_eq!(
        (&status["pending_chunks"], &status["vectors"]),
        (&json!(0), &json!(2))
    );
    drop(app);
    server.stop().await.expect("stops");
}
