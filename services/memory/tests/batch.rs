//! Bulk ingestion, `POST /api/memory/documents/batch`: one answer per item (a bad item sinks
//! nothing), re-ingestion as on the single path, the limits, vectors under the chunk ids,
//! pending chunks when the index is down, and statistics refreshed after a large batch.

mod common;

use std::{collections::HashSet, time::Duration};

use authn::Role;
use axum::http::StatusCode;
use common::{TOPICS, TestApp, flaky::app_with_flaky_index, gate::Gate, hit_documents, replies};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{Reply, User, locks::wait_for_lock_waiters};
use uuid::Uuid;
use vector::ScrollRequest;

const BATCH: &str = "/api/memory/documents/batch";

async fn batch(app: &TestApp, user: &User, documents: Value) -> Reply {
    app.post_as(BATCH, json!({ "documents": documents }), user)
        .await
}

/// The `(status, error code)` of each item of an answered batch.
fn statuses(reply: &Reply) -> Vec<(String, Option<String>)> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .enumerate()
        .map(|(index, item)| {
            assert_eq!(item["index"], index);
            let code = item["error"]["code"].as_str().map(str::to_owned);
            (item["status"].as_str().expect("status").to_owned(), code)
        })
        .collect()
}

fn ok(status: &str) -> (String, Option<String>) {
    (status.to_owned(), None)
}

fn failed(code: &str) -> (String, Option<String>) {
    ("error".to_owned(), Some(code.to_owned()))
}

/// Text of about `words` words, different for each `seed`.
fn text(seed: usize, words: usize) -> String {
    (0..words)
        .map(|i| TOPICS[(seed * 7 + i * (seed % 5 + 1)) % TOPICS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn each_item_is_answered_and_a_bad_one_sinks_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let answer = batch(
        &app,
        &alice,
        json!([
            {"source": "notes", "title": "Channels", "content": "Channels move values between tasks."},
            {"source": "  ", "content": "no source"},
            {"source": "notes", "content": "a NUL \u{0000} here"},
            {"source": "notes", "title": "t".repeat(301), "content": "title too long"},
            {"source": "notes", "content": "shared by a user", "shared": true},
            {"source": "notes", "content": "an unknown field", "owner_id": "x"},
            {"source": ["notes"], "content": "a source of the wrong type"},
            {"source": "notes", "tags": ["rust"], "content": "Futures are polled by an executor."}
        ]),
    )
    .await;
    assert_eq!(
        statuses(&answer),
        [
            ok("created"),
            failed("missing_field"),
            failed("invalid_text"),
            failed("field_too_long"),
            failed("forbidden"),
            failed("invalid_document"),
            failed("invalid_document"),
            ok("created"),
        ]
    );
    let items = &answer.body["items"];
    assert_eq!(
        items[2]["error"]["message"],
        r"content cannot contain NUL (\u0000) characters"
    );
    let document = &items[7]["document"];
    assert_eq!(document["owner_id"], alice.id.to_string());
    assert_eq!(document["tags"], json!(["rust"]));
    assert_eq!(document["pending_chunks"], 0, "indexed before answering");
    assert!(items[1].get("document").is_none());
    assert_eq!(app.documents().await, 2);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn re_ingesting_a_batch_answers_unchanged_and_updated_as_the_single_path(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let first = batch(
        &app,
        &alice,
        json!([
            {"source": "wiki", "external_id": "a", "content": text(1, 120)},
            {"source": "wiki", "external_id": "b", "content": text(2, 120)},
            {"source": "wiki", "external_id": "b", "content": "the same key twice"}
        ]),
    )
    .await;
    assert_eq!(
        statuses(&first),
        [ok("created"), ok("created"), failed("duplicate_in_batch")]
    );
    let b_id = first.body["items"][1]["document"]["id"].clone();
    app.assert_a_vector_per_chunk().await;

    // The single path sees the batch's documents as its own.
    let single = app
        .ingest(
            &alice,
            json!({"source": "wiki", "external_id": "a", "content": text(1, 120)}),
        )
        .await;
    assert_eq!(single.body["status"], "unchanged", "{}", single.body);

    let again = batch(
        &app,
        &alice,
        json!([
            {"source": "wiki", "external_id": "a", "content": text(1, 120)},
            {"source": "wiki", "external_id": "b", "content": "Short now."},
            {"source": "wiki", "external_id": "c", "content": text(3, 20)}
        ]),
    )
    .await;
    assert_eq!(
        statuses(&again),
        [ok("unchanged"), ok("updated"), ok("created")]
    );
    let updated = &again.body["items"][1]["document"];
    assert_eq!(updated["id"], b_id, "updated in place");
    assert_eq!(updated["chunk_count"], 1);
    // The replaced chunks' vectors are gone.
    app.assert_a_vector_per_chunk().await;
    assert_eq!(app.documents().await, 3);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn batches_over_the_limits_are_refused_whole(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"source": "s", "content": format!("note {i}")}))
        .collect();
    let refused = batch(&app, &alice, json!(many)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.code(), "invalid_batch_size");
    let refused = batch(&app, &alice, json!([])).await;
    assert_eq!(refused.code(), "invalid_batch_size");
    // Found by schemathesis: an item that is not even an object makes the request malformed.
    let refused = batch(
        &app,
        &alice,
        json!([{"source": "s", "content": "c"}, [null, null]]),
    )
    .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
    );

    let big = "word ".repeat(9 * 1024 * 1024 / 5);
    let refused = batch(&app, &alice, json!([{"source": "s", "content": big}])).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(refused.code(), "payload_too_large");
    let refused = app
        .post_as(BATCH, json!({"documents": [], "x": 1}), &alice)
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.documents().await, 0);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn batch_vectors_are_stored_under_their_chunk_ids_and_found(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let mut documents: Vec<Value> = (0..40)
        .map(|i| json!({"source": "bulk", "external_id": i.to_string(), "content": text(i, 90)}))
        .collect();
    documents.push(json!({"source": "bulk", "title": "Tokio",
        "content": "Tokio tasks are cheap green threads scheduled by the runtime."}));
    let answer = batch(&app, &alice, json!(documents)).await;
    assert!(
        statuses(&answer)
            .iter()
            .all(|(status, _)| status == "created")
    );
    let tokio_id = answer.body["items"][40]["document"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let chunk_ids: HashSet<Uuid> =
        sqlx::query_scalar("SELECT id FROM memory.chunks WHERE qdrant_point_id = id")
            .fetch_all(&app.pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let pending = app
        .count("SELECT count(*) FROM memory.chunks WHERE qdrant_point_id IS NULL")
        .await;
    assert_eq!(pending, 0);
    let indexer = &app.state.indexer;
    let page = indexer
        .index
        .scroll_ids(
            &indexer.collection,
            &ScrollRequest {
                filter: None,
                offset: None,
                limit: 1000,
            },
        )
        .await
        .unwrap();
    let point_ids: HashSet<Uuid> = page.ids.into_iter().collect();
    assert_eq!(point_ids, chunk_ids, "one point per chunk, under its id");

    let found = app
        .search(&alice, json!({"query": "tokio green threads"}))
        .await;
    assert_eq!(hit_documents(&found.body)[0], tokio_id);
    let hit_chunk: Uuid = found.body["results"][0]["chunk"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(chunk_ids.contains(&hit_chunk));
    let nothing = app
        .search(&bob, json!({"query": "tokio green threads"}))
        .await;
    assert!(
        hit_documents(&nothing.body).is_empty(),
        "Alice's documents are hers"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_unavailable_index_leaves_the_batch_stored_and_pending(pool: PgPool) {
    let (app, flaky) = app_with_flaky_index(pool).await;
    let alice = app.user(Role::User).await;
    flaky.set_down(true);
    let answer = batch(
        &app,
        &alice,
        json!([
            {"source": "notes", "content": "Tokio tasks are cheap green threads."},
            {"source": "notes", "content": "Channels move values between tasks."}
        ]),
    )
    .await;
    assert_eq!(statuses(&answer), [ok("created"), ok("created")]);
    for item in answer.body["items"].as_array().unwrap() {
        assert_eq!(item["document"]["pending_chunks"], 1, "{item}");
    }
    assert_eq!(app.vectors().await, 0);

    flaky.set_down(false);
    assert_eq!(app.state.indexer.drain_pending(|_| {}).await.unwrap(), 2);
    let found = app.search(&alice, json!({"query": "green threads"})).await;
    assert_eq!(
        hit_documents(&found.body)[0],
        answer.body["items"][0]["document"]["id"].as_str().unwrap()
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_large_batch_leaves_fresh_statistics_behind(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    // About 700 characters each: 3 chunks of at most 300 characters; numbered, since
    // `text` repeats itself every 40 seeds and a repeated text is stored once.
    let documents: Vec<Value> = (0..200)
        .map(|i| json!({"source": "bulk", "content": format!("{i}: {}", text(i, 80))}))
        .collect();
    let answer = batch(&app, &alice, json!(documents)).await;
    assert!(
        statuses(&answer)
            .iter()
            .all(|(status, _)| status == "created")
    );
    let chunks = app.count("SELECT count(*) FROM memory.chunks").await;
    assert!(chunks >= 500, "{chunks} chunks");

    let analyzed = "SELECT count(*) FROM pg_stat_user_tables
                    WHERE schemaname = 'memory' AND last_analyze IS NOT NULL";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while app.count(analyzed).await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the memory tables were never analyzed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A batch writing a re-ingestion key that a concurrent batch has just written (uncommitted
/// when it looked) waits for that commit, then takes the committed row as the stored
/// version: `unchanged` when it sends the same version, `updated` when another, instead of
/// asking the client to retry.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_key_a_concurrent_batch_stored_meanwhile_is_unchanged_or_updated(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let item = |key: &str, seed: usize| json!({ "documents": [{ "source": "notes", "external_id": key, "content": text(seed, 300) }] });
    for (key, again, outcome) in [("same", 1, "unchanged"), ("other", 2, "updated")] {
        let gate = Gate::close(&app.pool).await;
        let first = app.spawn_post(BATCH, item(key, 1), &alice);
        wait_for_lock_waiters(&app.pool, 1).await; // its document written, its chunks at the gate
        let second = app.spawn_post(BATCH, item(key, again), &alice);
        wait_for_lock_waiters(&app.pool, 2).await; // its insert waits for the first's commit
        gate.open().await;

        let [first, second]: [Reply; 2] = replies(vec![first, second]).await.try_into().unwrap();
        assert_eq!(statuses(&first), [ok("created")]);
        assert_eq!(statuses(&second), [ok(outcome)], "{key}");
        let document = &second.body["items"][0]["document"];
        assert_eq!(document["id"], first.body["items"][0]["document"]["id"]);
        let chunks: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM memory.chunks c JOIN memory.documents d ON d.id = c.document_id
             WHERE d.external_id = $1 AND c.content_hash IS NOT NULL",
        )
        .bind(key)
        .fetch_one(&app.pool)
        .await
        .expect("chunks");
        assert_eq!(
            document["chunk_count"], chunks,
            "one version's chunks, not both"
        );
        assert_eq!(document["pending_chunks"], 0);
    }
    let chunks: i64 = sqlx::query_scalar("SELECT count(*) FROM memory.chunks")
        .fetch_one(&app.pool)
        .await
        .expect("chunks");
    assert_eq!(
        app.vectors().await,
        chunks as u64,
        "replaced vectors deleted"
    );
}
