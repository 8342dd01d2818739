//! The same service against a Qdrant gRPC server (the repo's test server over the embedded
//! engine): ingest, search and delete go through qdrant-client.

mod common;

use std::sync::Arc;

use authn::Role;
use axum::http::StatusCode;
use common::{TestApp, hit_documents};
use qdrant_edge_server::RunningServer;
use serde_json::json;
use sqlx::PgPool;
use tempfile::TempDir;
use vector::{EmbeddedIndex, VectorConfig};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn ingest_search_and_delete_work_through_qdrant_grpc(pool: PgPool) {
    let dir = Arc::new(TempDir::new().unwrap());
    let mut settings = common::settings(&dir, 64);
    let engine = EmbeddedIndex::open(
        settings
            .vector
            .backend()
            .ok()
            .and_then(|backend| match backend {
                vector::Backend::Embedded(config) => Some(config),
                vector::Backend::Qdrant(_) => None,
            })
            .expect("embedded config"),
    )
    .await
    .expect("engine");
    let server = RunningServer::start(engine.clone(), None)
        .await
        .expect("serves");
    settings.vector = VectorConfig {
        qdrant_url: Some(server.url()),
        ..VectorConfig::default()
    };
    let app = TestApp::with_settings(pool, settings, dir).await;
    assert_eq!(app.state.indexer.index.backend(), "qdrant");

    let alice = app.user(Role::User).await;
    let ingested = app
        .ingest(
            &alice,
            json!({"source": "notes", "content": "Pin keeps a future in place in memory."}),
        )
        .await;
    assert_eq!(ingested.status, StatusCode::CREATED, "{}", ingested.body);
    assert_eq!(ingested.body["document"]["pending_chunks"], 0);
    let id = ingested.body["document"]["id"].as_str().unwrap();
    let found = app.search(&alice, json!({"query": "pin a future"})).await;
    assert_eq!(hit_documents(&found.body), [id]);

    let deleted = app
        .delete_as(&format!("/api/memory/documents/{id}"), &alice)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(app.vectors().await, 0, "the point went with the chunk");
    drop(app);
    server.stop().await.expect("stops");
    engine.close().await;
}
