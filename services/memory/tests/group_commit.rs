//! Group commit of single ingestions (`POST /api/memory/documents`): concurrent requests are
//! written together, each answered as if alone. Requests are held in a group deterministically
//! by a gate: a table lock on `memory.chunks` that stops the first group's transaction while
//! the requests behind it queue up.

mod common;

use std::{collections::HashSet, time::Duration};

use authn::Role;
use axum::http::StatusCode;
use common::{TestApp, flaky::app_with_flaky_index, hit_documents};
use memory::ingest::group::GroupStats;
use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Transaction};
use testkit::{AppClient, Reply, User};
use tokio::task::JoinHandle;

const DOCUMENTS: &str = "/api/memory/documents";

/// Sends an ingestion on its own task, as a concurrent client would.
fn send(app: &TestApp, user: &User, body: Value) -> JoinHandle<Reply> {
    let (client, user) = (AppClient::clone(app), user.clone());
    tokio::spawn(async move { client.post_as(DOCUMENTS, body, &user).await })
}

async fn answers(requests: Vec<JoinHandle<Reply>>) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(requests.len());
    for request in requests {
        replies.push(request.await.expect("request task"));
    }
    replies
}

/// Every write of chunks waits while this is open.
struct Gate(Transaction<'static, Postgres>);

impl Gate {
    async fn close(pool: &PgPool) -> Self {
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("LOCK TABLE memory.chunks IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .expect("lock");
        Self(tx)
    }

    async fn open(self) {
        self.0.commit().await.expect("commit");
    }
}

/// Waits until the group commit has taken `groups` groups and `queued` documents wait.
async fn until(app: &TestApp, groups: u64, queued: usize) {
    let commit = &app.state.ingest_groups;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while commit.stats().groups != groups || commit.queued() != queued {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?} and {} queued, not {groups} groups and {queued} queued",
            commit.stats(),
            commit.queued()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A request written alone in the first group, which then waits at the closed gate.
async fn first_group_at_the_gate(app: &TestApp, user: &User) -> JoinHandle<Reply> {
    let first = send(
        app,
        user,
        json!({"source": "notes", "content": "The first group waits at the gate."}),
    );
    until(app, 1, 0).await;
    first
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// A short text of its own for each `n` (one chunk): searching for it finds that document.
fn note(n: usize) -> String {
    const TOPICS: [&str; 8] = [
        "ownership",
        "borrowing",
        "lifetimes",
        "traits",
        "closures",
        "iterators",
        "channels",
        "futures",
    ];
    format!("Note {n} on {} and {}.", TOPICS[n % 8], TOPICS[(n / 8) % 8])
}

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
    let replies = answers(requests).await;

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
    let chunks = count(&app.pool, "SELECT count(*) FROM memory.chunks").await;
    let indexed = "SELECT count(*) FROM memory.chunks WHERE qdrant_point_id = id";
    assert_eq!(count(&app.pool, indexed).await, chunks);
    assert_eq!(app.vectors().await, chunks as u64);
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
    let first = first_group_at_the_gate(&app, &alice).await;
    let queued: Vec<JoinHandle<Reply>> = (0..8)
        .map(|i| send(&app, &alice, json!({"source": "notes", "content": note(i)})))
        .collect();
    until(&app, 1, 8).await;
    gate.open().await;

    assert_eq!(first.await.unwrap().status, StatusCode::CREATED);
    for reply in answers(queued).await {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["document"]["pending_chunks"], 0);
    }
    assert_eq!(
        app.state.ingest_groups.stats(),
        GroupStats {
            groups: 2,
            documents: 9
        },
        "eight requests, one group"
    );
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM memory.documents").await,
        9
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn copies_of_a_document_in_one_group_are_written_in_turn(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    let first = first_group_at_the_gate(&app, &alice).await;
    let same = json!({"source": "notes", "external_id": "same", "content": note(1)});
    let changed =
        |n: usize| json!({"source": "notes", "external_id": "changed", "content": note(n)});
    let copies = vec![
        send(&app, &alice, same.clone()),
        send(&app, &alice, same),
        send(&app, &alice, changed(2)),
        send(&app, &alice, changed(3)),
    ];
    until(&app, 1, 4).await;
    gate.open().await;
    assert_eq!(first.await.unwrap().status, StatusCode::CREATED);

    let replies = answers(copies).await;
    let outcome = |reply: &Reply| (reply.status, reply.body["status"].clone());
    let mut same_outcomes = vec![outcome(&replies[0]), outcome(&replies[1])];
    same_outcomes.sort_by_key(|(status, _)| status.as_u16());
    assert_eq!(
        same_outcomes,
        [
            (StatusCode::OK, json!("unchanged")),
            (StatusCode::CREATED, json!("created"))
        ]
    );
    assert_eq!(
        replies[0].body["document"]["id"],
        replies[1].body["document"]["id"]
    );
    let (created, updated, later) = match replies[2].body["status"].as_str() {
        Some("created") => (&replies[2], &replies[3], note(3)),
        _ => (&replies[3], &replies[2], note(2)),
    };
    assert_eq!(outcome(created), (StatusCode::CREATED, json!("created")));
    assert_eq!(outcome(updated), (StatusCode::OK, json!("updated")));
    assert_eq!(
        created.body["document"]["id"],
        updated.body["document"]["id"]
    );
    // The later copy's content is what stays, with only its chunks' vectors.
    let id = updated.body["document"]["id"].as_str().unwrap();
    let shown = app.get_as(&format!("{DOCUMENTS}/{id}"), &alice).await;
    assert_eq!(shown.body["chunks"][0]["content"], later);
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM memory.documents").await,
        3
    );
    let chunks = count(&app.pool, "SELECT count(*) FROM memory.chunks").await;
    assert_eq!(
        app.vectors().await,
        chunks as u64,
        "no vectors of the first copy left"
    );
    assert_eq!(
        app.state.ingest_groups.stats().groups,
        3,
        "the copies took turns"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_document_refused_inside_a_group_fails_alone(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let mut gate = Gate::close(&app.pool).await;
    let first = first_group_at_the_gate(&app, &alice).await;
    let mut requests: Vec<JoinHandle<Reply>> = (0..3)
        .map(|i| send(&app, &alice, json!({"source": "notes", "content": note(i)})))
        .collect();
    requests.push(send(
        &app,
        &bob,
        json!({"source": "notes", "content": note(9)}),
    ));
    until(&app, 1, 4).await;
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
    assert_eq!(first.await.unwrap().status, StatusCode::CREATED);

    let replies = answers(requests).await;
    for reply in &replies[..3] {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["document"]["pending_chunks"], 0);
    }
    assert_eq!(replies[3].status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(replies[3].code(), "internal");
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM memory.documents").await,
        4,
        "the first and Alice's three"
    );
    let chunks = count(&app.pool, "SELECT count(*) FROM memory.chunks").await;
    assert_eq!(app.vectors().await, chunks as u64);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_unavailable_index_leaves_a_group_stored_and_pending(pool: PgPool) {
    let (app, flaky) = app_with_flaky_index(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    let first = first_group_at_the_gate(&app, &alice).await;
    let queued: Vec<JoinHandle<Reply>> = (0..6)
        .map(|i| send(&app, &alice, json!({"source": "notes", "content": note(i)})))
        .collect();
    until(&app, 1, 6).await;
    flaky.set_down(true);
    gate.open().await;

    let mut replies = answers(vec![first]).await;
    replies.extend(answers(queued).await);
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["document"]["chunk_count"], 1);
        assert_eq!(
            reply.body["document"]["pending_chunks"], 1,
            "kept, to be indexed later"
        );
    }
    assert_eq!(app.vectors().await, 0);

    flaky.set_down(false);
    assert_eq!(app.state.indexer.drain_pending(|_| {}).await.unwrap(), 7);
    let found = app
        .search(&alice, json!({"query": note(4), "limit": 1}))
        .await;
    assert_eq!(hit_documents(&found.body).len(), 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_request_that_goes_away_while_queued_stores_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    let first = first_group_at_the_gate(&app, &alice).await;
    let abandoned = send(
        &app,
        &alice,
        json!({"source": "notes", "content": "Nobody waits for this one."}),
    );
    until(&app, 1, 1).await;
    abandoned.abort();
    assert!(abandoned.await.unwrap_err().is_cancelled());
    assert_eq!(app.state.ingest_groups.queued(), 0);
    gate.open().await;

    assert_eq!(first.await.unwrap().status, StatusCode::CREATED);
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM memory.documents").await,
        1
    );
    assert_eq!(app.state.ingest_groups.stats().groups, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn copies_of_a_text_in_one_group_are_stored_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    let first = first_group_at_the_gate(&app, &alice).await;
    let copies: Vec<JoinHandle<Reply>> = (0..8)
        .map(|i| {
            let body = json!({"source": format!("s{i}"), "content": note(5)});
            send(&app, &alice, body)
        })
        .collect();
    until(&app, 1, 8).await;
    gate.open().await;
    assert_eq!(first.await.unwrap().status, StatusCode::CREATED);

    let replies = answers(copies).await;
    assert_eq!(
        app.state.ingest_groups.stats(),
        GroupStats {
            groups: 2,
            documents: 9
        },
        "the eight copies in one group"
    );
    let created: Vec<&Reply> = replies
        .iter()
        .filter(|reply| reply.status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 1, "one copy written");
    let id = &created[0].body["document"]["id"];
    for reply in &replies {
        assert_eq!(&reply.body["document"]["id"], id, "{}", reply.body);
        assert_eq!(reply.body["document"]["pending_chunks"], 0);
        if reply.status != StatusCode::CREATED {
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.body["status"], "unchanged");
        }
    }
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM memory.documents").await,
        2
    );
    let chunks = count(&app.pool, "SELECT count(*) FROM memory.chunks").await;
    assert_eq!(app.vectors().await, chunks as u64);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_batch_meeting_a_copy_being_written_answers_it_unchanged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    // The group's transaction holds the text's key, uncommitted, at the gate.
    let single = first_group_at_the_gate(&app, &alice).await;
    let batch = {
        let (client, alice) = (AppClient::clone(&app), alice.clone());
        let body = json!({"documents": [
            {"source": "batch", "content": "The first group waits at the gate."}
        ]});
        tokio::spawn(async move {
            client
                .post_as(&format!("{DOCUMENTS}/batch"), body, &alice)
                .await
        })
    };
    // Two waits on locks: the group at the gate, the batch's insert behind the group's key.
    let waiting = "SELECT count(*) FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count(&app.pool, waiting).await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the batch never waited"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gate.open().await;

    let single = single.await.unwrap();
    assert_eq!(single.status, StatusCode::CREATED, "{}", single.body);
    let batch = batch.await.unwrap();
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.body);
    let item = &batch.body["items"][0];
    assert_eq!(item["status"], "unchanged", "{item}");
    assert_eq!(item["document"]["id"], single.body["document"]["id"]);
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM memory.documents").await,
        1
    );
    let chunks = count(&app.pool, "SELECT count(*) FROM memory.chunks").await;
    assert_eq!(app.vectors().await, chunks as u64);
}
