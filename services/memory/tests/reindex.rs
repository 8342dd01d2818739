//! Changing the embedding model or dimension: the service refuses the old collection, and
//! a rebuild from PostgreSQL re-embeds every chunk with the new model.

mod common;

use std::sync::Arc;

use authn::Role;
use common::TestApp;
use memory::AppState;
use serde_json::json;
use sqlx::PgPool;
use tempfile::TempDir;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_rebuild_re_embeds_every_chunk_with_the_configured_model(pool: PgPool) {
    let dir = Arc::new(TempDir::new().unwrap());
    let chunks = {
        let app =
            TestApp::with_settings(pool.clone(), common::settings(&dir, 64), dir.clone()).await;
        let alice = app.user(Role::User).await;
        for content in [
            "Traits define shared behaviour.",
            "Generics are monomorphised.",
        ] {
            app.ingest(&alice, json!({"source": "notes", "content": content}))
                .await;
        }
        app.vectors().await
    };
    assert_eq!(chunks, 2);

    let wider = common::settings(&dir, 96);
    let refused = AppState::open(
        pool.clone(),
        &wider,
        testkit::Tokens::new().verifier(),
        Default::default(),
    )
    .await
    .err()
    .expect("a 64-dimension collection is refused for a 96-dimension embedder");
    let message = refused.to_string();
    assert!(message.contains("just reindex"), "{message}");
    assert!(message.contains("64 dimensions"), "{message}");

    let indexer = memory::state::connect_indexer(pool.clone(), &wider)
        .await
        .expect("connects without checking the collection");
    let report = memory::reindex::rebuild(&indexer, |_| {})
        .await
        .expect("rebuilds");
    assert_eq!(report.chunks, 2);
    assert_eq!(report.dimension, 96);
    drop(indexer);

    let dims: Vec<Option<i32>> = sqlx::query_scalar("SELECT embedding_dim FROM memory.chunks")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(dims, [Some(96), Some(96)]);
    let app = TestApp::with_settings(pool, wider, dir).await;
    assert_eq!(app.vectors().await, 2);
    let alice = app.user(Role::User).await;
    let found = app.search(&alice, json!({"query": "traits"})).await;
    assert_eq!(found.status, axum::http::StatusCode::OK, "{}", found.body);
}
