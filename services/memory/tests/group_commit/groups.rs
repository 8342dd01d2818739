//! How requests form groups: many at once, those queued behind a group, one that goes away.

use std::collections::HashSet;

use authn::Role;
use axum::http::StatusCode;
use memory::ingest::group::GroupStats;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::Reply;
use tokio::task::JoinHandle;

use crate::{
    common::{TestApp, hit_documents, replies},
    support::{AtTheGate, GATED, Gate, note, send, until},
};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn concurrent_single_ingestions_are_each_stored_indexed_and_found(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let admin = app.user(Role::Admin).await;
    let requests: Vec<JoinHandle<Reply>> = (0..64)
        .map(|i| {
            let body = json!({"source": "notes", "external_id": format!("n{i}"),
                              "shared": i % 8 == 0, "content": note(i)});
            send(&app, if i % 8 == 0 { &admin } else { &alice }, body)
        })
        .collect();
    let replies = replies(requests).await;

    let mut ids = HashSet::new();
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(reply.status, StatusCode::CREATED, "{i}: {}", reply.body);
        let document = &reply.body["document"];
        assert_eq!(document["external_id"], format!("n{i}"));
        assert_eq!(document["pending_chunks"], 0, "indexed before answering");
        assert!(document["chunk_count"].as_i64().unwrap() >= 1);
        let owner = if i % 8 == 0 {
            Value::Null
        } else {
            json!(alice.id)
        };
        assert_eq!(document["owner_id"], owner);
        ids.insert(document["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 64);
    let chunks = app.count("SELECT count(*) FROM memory.chunks").await;
    let indexed = "SELECT count(*) FROM memory.chunks WHERE qdrant_point_id = id";
    assert_eq!(app.count(indexed).await, chunks);
    app.assert_a_vector_per_chunk().await;
    let stats = app.state.ingest_groups.stats();
    assert_eq!(stats.documents, 64);

    for i in [3, 8, 63] {
        let found = app
            .search(&alice, json!({"query": note(i), "limit": 1}))
            .await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        assert_eq!(
            hit_documents(&found.body),
            [replies[i].body["document"]["id"].as_str().unwrap()]
        );
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn requests_queued_behind_a_group_are_written_as_the_next_group(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    let gated = AtTheGate::fill(&app, &alice).await;
    let queued: Vec<JoinHandle<Reply>> = (0..8)
        .map(|i| send(&app, &alice, json!({"source": "notes", "content": note(i)})))
        .collect();
    until(&app, GATED, 8).await;
    gate.open().await;

    gated.created().await;
    for reply in replies(queued).await {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["document"]["pending_chunks"], 0);
    }
    assert_eq!(
        app.state.ingest_groups.stats(),
        GroupStats {
            groups: GATED + 1,
            documents: GATED + 8
        },
        "eight requests, one group"
    );
    assert_eq!(app.documents().await as u64, GATED + 8);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_request_that_goes_away_while_queued_stores_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    let gated = AtTheGate::fill(&app, &alice).await;
    let abandoned = send(
        &app,
        &alice,
        json!({"source": "notes", "content": "Nobody waits for this one."}),
    );
    until(&app, GATED, 1).await;
    abandoned.abort();
    assert!(abandoned.await.unwrap_err().is_cancelled());
    assert_eq!(app.state.ingest_groups.queued(), 0);
    gate.open().await;

    gated.created().await;
    assert_eq!(app.documents().await as u64, GATED);
    assert_eq!(app.state.ingest_groups.stats().groups, GATED);
}
