//! The embedded index answers writes once applied and flushes them shortly after
//! (`VECTOR_FLUSH_INTERVAL_MS`). A memory service killed with SIGKILL inside that interval
//! loses vectors of chunks PostgreSQL already marks indexed; started again, it sees the
//! unclean stop, puts those chunks back to pending before it answers, and its indexer
//! brings every vector back. A one-hour interval makes the loss certain, not a race.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{
    process::{self, start, vector_ids},
    wait_until_indexed,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use tempfile::TempDir;
use testkit::{ServiceProcess, SigningKeyFile};
use uuid::Uuid;
use vector::{EmbeddedConfig, EmbeddedIndex};

const COLLECTION: &str = "reconcile_chunks";
const DOCUMENTS: usize = 30;

/// The embedded index in `data`, flushing only once an hour.
fn service_env(key: &SigningKeyFile, data: &TempDir) -> Vec<(&'static str, String)> {
    let index = [
        ("VECTOR_BACKEND", "embedded".to_owned()),
        ("VECTOR_DATA_DIR", data.path().display().to_string()),
        ("VECTOR_FLUSH_INTERVAL_MS", "3600000".to_owned()),
    ];
    process::service_env(key, COLLECTION, &index)
}

/// Ingests the documents one after another; each is answered with all its chunks indexed.
async fn ingest(service: &ServiceProcess, token: &str) {
    let client = testkit::http_client();
    let url = format!("{}/api/memory/documents", service.base_url);
    for index in 0..DOCUMENTS {
        let body = json!({
            "source": "reconcile-test",
            "external_id": format!("note-{index}"),
            "content": format!(
                "Note {index}: a value has exactly one owner at a time. Borrowing lends it \
                 without moving it. Lifetimes keep references from outliving their values."
            ),
        });
        let reply = client
            .post(&url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("sent");
        assert_eq!(reply.status(), StatusCode::CREATED);
        let answer: Value = reply.json().await.expect("json");
        assert_eq!(
            answer["document"]["pending_chunks"], 0,
            "indexed when answered: {answer}"
        );
    }
}

async fn chunk_ids(pool: &PgPool, indexed: bool) -> BTreeSet<Uuid> {
    sqlx::query_scalar("SELECT id FROM memory.chunks WHERE (qdrant_point_id IS NOT NULL) = $1")
        .bind(indexed)
        .fetch_all(pool)
        .await
        .expect("chunk ids")
        .into_iter()
        .collect()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn vectors_lost_by_a_kill_inside_the_flush_interval_are_restored_at_restart(pool: PgPool) {
    let key = SigningKeyFile::new();
    let token = key.token_for_new_user(&pool).await;
    let data = TempDir::new().expect("data dir");
    let env = service_env(&key, &data);

    let mut service = start(&pool, &env).await;
    ingest(&service, &token).await;
    let indexed = chunk_ids(&pool, true).await;
    assert!(indexed.len() > DOCUMENTS, "several chunks per document");
    assert!(chunk_ids(&pool, false).await.is_empty());
    service.child.start_kill().expect("SIGKILL");
    service.child.wait().await.expect("reaped");

    // The bad case: PostgreSQL says indexed, the index lost the vectors.
    let engine = EmbeddedIndex::open(EmbeddedConfig::new(data.path()))
        .await
        .expect("open the index the service left");
    assert!(engine.may_have_lost_writes());
    let lost = indexed
        .difference(&vector_ids(&engine, COLLECTION).await)
        .count();
    assert!(lost > 0, "the kill lost acknowledged vectors");
    // Opening and closing it without reconciling leaves the report for the service.
    engine.close().await;

    let service = start(&pool, &env).await;
    wait_until_indexed(&pool).await;
    testkit::stop_gracefully(service.child).await;

    let engine = EmbeddedIndex::open(EmbeddedConfig::new(data.path()))
        .await
        .expect("reopen");
    assert!(
        !engine.may_have_lost_writes(),
        "reconciled, then closed cleanly"
    );
    let vectors = vector_ids(&engine, COLLECTION).await;
    engine.close().await;
    assert_eq!(
        vectors, indexed,
        "every chunk has its vector again and no vector lacks its chunk"
    );
    assert_eq!(chunk_ids(&pool, true).await, indexed);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_graceful_stop_inside_the_flush_interval_loses_nothing(pool: PgPool) {
    let key = SigningKeyFile::new();
    let token = key.token_for_new_user(&pool).await;
    let data = TempDir::new().expect("data dir");
    let env = service_env(&key, &data);

    let service = start(&pool, &env).await;
    ingest(&service, &token).await;
    testkit::stop_gracefully(service.child).await;

    let engine = EmbeddedIndex::open(EmbeddedConfig::new(data.path()))
        .await
        .expect("reopen");
    assert!(!engine.may_have_lost_writes(), "a clean stop");
    let vectors = vector_ids(&engine, COLLECTION).await;
    engine.close().await;
    assert_eq!(vectors, chunk_ids(&pool, true).await);
}
