//! The same service against a Qdrant gRPC server (the repo's test server over the embedded
//! engine): ingest, search and delete go through qdrant-client.

mod common;

use authn::Role;
use axum::http::StatusCode;
use common::{hit_documents, qdrant::app_on_qdrant_server};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn ingest_search_and_delete_work_through_qdrant_grpc(pool: PgPool) {
    let (app, server, engine) = app_on_qdrant_server(pool).await;
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
