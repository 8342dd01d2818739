//! Copies of a document or of a text within a group, and a batch meeting a copy being written.

use std::time::Duration;

use authn::Role;
use axum::http::StatusCode;
use memory::ingest::group::GroupStats;
use serde_json::json;
use sqlx::PgPool;
use testkit::Reply;
use tokio::task::JoinHandle;

use crate::{
    common::{TestApp, replies},
    support::{DOCUMENTS, Gate, first_group_at_the_gate, note, send, until},
};

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

    let replies = replies(copies).await;
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
    assert_eq!(app.documents().await, 3);
    // No vectors of the first copy left.
    app.assert_a_vector_per_chunk().await;
    assert_eq!(
        app.state.ingest_groups.stats().groups,
        3,
        "the copies took turns"
    );
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

    let replies = replies(copies).await;
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
    assert_eq!(app.documents().await, 2);
    app.assert_a_vector_per_chunk().await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_batch_meeting_a_copy_being_written_answers_it_unchanged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    // The group's transaction holds the text's key, uncommitted, at the gate.
    let single = first_group_at_the_gate(&app, &alice).await;
    let batch = app.spawn_post(
        &format!("{DOCUMENTS}/batch"),
        json!({"documents": [
            {"source": "batch", "content": "The first group waits at the gate."}
        ]}),
        &alice,
    );
    // Two waits on locks: the group at the gate, the batch's insert behind the group's key.
    let waiting = "SELECT count(*) FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.count(waiting).await < 2 {
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
    assert_eq!(app.documents().await, 1);
    app.assert_a_vector_per_chunk().await;
}
