//! Failures inside a group: a refused document fails alone, and an unavailable index leaves
//! the group stored and pending.

use std::time::Duration;

use authn::Role;
use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use testkit::Reply;
use tokio::task::JoinHandle;

use crate::{
    common::{TestApp, flaky::app_with_flaky_index, hit_documents, replies},
    support::{AtTheGate, GATED, Gate, note, send, until},
};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_document_refused_inside_a_group_fails_alone(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let mut gate = Gate::close(&app.pool).await;
    let gated = AtTheGate::fill(&app, &alice).await;
    let mut requests: Vec<JoinHandle<Reply>> = (0..3)
        .map(|i| send(&app, &alice, json!({"source": "notes", "content": note(i)})))
        .collect();
    requests.push(send(
        &app,
        &bob,
        json!({"source": "notes", "content": note(9)}),
    ));
    until(&app, GATED, 4).await;
    // Invalid: refused before it could join a group.
    let invalid = app
        .ingest(&alice, json!({"source": "notes", "content": "   "}))
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Bob's account goes while his document waits: the group's insert breaks its key.
    sqlx::query("DELETE FROM auth.users WHERE id = $1")
        .bind(bob.id)
        .execute(&mut *gate.0)
        .await
        .unwrap();
    gate.open().await;
    gated.created().await;

    let replies = replies(requests).await;
    for reply in &replies[..3] {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["document"]["pending_chunks"], 0);
    }
    assert_eq!(replies[3].status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(replies[3].code(), "internal");
    assert_eq!(
        app.documents().await as u64,
        GATED + 3,
        "those at the gate and Alice's three"
    );
    app.assert_a_vector_per_chunk().await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_unavailable_index_leaves_a_group_stored_and_pending(pool: PgPool) {
    let (app, flaky) = app_with_flaky_index(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    let gated = AtTheGate::fill(&app, &alice).await;
    let queued: Vec<JoinHandle<Reply>> = (0..6)
        .map(|i| send(&app, &alice, json!({"source": "notes", "content": note(i)})))
        .collect();
    until(&app, GATED, 6).await;
    flaky.set_down(true);
    gate.open().await;

    // The groups at the gate stored their vectors before the index went down.
    for reply in replies(gated.0).await {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["document"]["pending_chunks"], 0);
    }
    for reply in replies(queued).await {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["document"]["chunk_count"], 1);
        assert_eq!(
            reply.body["document"]["pending_chunks"], 1,
            "kept, to be indexed later"
        );
    }
    assert_eq!(app.vectors().await, GATED);

    flaky.set_down(false);
    assert_eq!(app.state.indexer.drain_pending(|_| {}).await.unwrap(), 6);
    let found = app
        .search(&alice, json!({"query": note(4), "limit": 1}))
        .await;
    assert_eq!(hit_documents(&found.body).len(), 1);
}

/// A group stores its vectors before its rows commit. The orphan sweep, which deletes
/// vectors without a row, waits until the groups have committed instead of taking its vectors
/// for orphans (which would leave its chunks marked indexed with no vector).
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_orphan_sweep_waits_for_a_group_between_its_vectors_and_its_commit(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    let gated = AtTheGate::fill(&app, &alice).await;
    // At the gate, the groups have stored their vectors: their chunk rows wait to be written.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.vectors().await < GATED {
        assert!(tokio::time::Instant::now() < deadline, "vectors not stored");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let indexer = app.state.indexer.clone();
    let sweep = tokio::spawn(async move { indexer.sweep_orphans().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!sweep.is_finished(), "the sweep went ahead of the group");
    gate.open().await;

    gated.created().await;
    assert_eq!(sweep.await.unwrap().unwrap(), 0, "nothing was an orphan");
    app.assert_a_vector_per_chunk().await;
    let indexed = "SELECT count(*) FROM memory.chunks WHERE qdrant_point_id = id";
    assert_eq!(app.count(indexed).await as u64, GATED);
}

/// A write stores its vectors before its chunk rows. When the database refuses the rows, the
/// transaction is rolled back and those vectors are deleted with it: nothing of the document
/// is left, in PostgreSQL or in the index.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_refused_chunk_insert_leaves_no_vectors_behind(pool: PgPool) {
    sqlx::raw_sql(
        "CREATE FUNCTION memory.refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.content LIKE '%refuse me%' THEN RAISE EXCEPTION 'refused by the test'; END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_marked BEFORE INSERT ON memory.chunks
             FOR EACH ROW EXECUTE FUNCTION memory.refuse_marked();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;

    let refused = app
        .ingest(
            &alice,
            json!({"source": "notes", "content": "Please refuse me."}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        refused.body
    );
    assert_eq!(app.documents().await, 0);
    assert_eq!(
        app.vectors().await,
        0,
        "the refused write's vectors were deleted"
    );

    let stored = app
        .ingest(&alice, json!({"source": "notes", "content": note(1)}))
        .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
    app.assert_a_vector_per_chunk().await;
}
