//! Copies of a document or of a text within a group, and a batch meeting a copy being written.

use std::time::Duration;

use authn::Role;
use axum::http::StatusCode;
use memory::ingest::group::GroupStats;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::Reply;
use tokio::task::JoinHandle;

use crate::{
    common::{TestApp, replies},
    support::{AtTheGate, DOCUMENTS, GATED, Gate, gated_text, note, send, until},
};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn copies_of_a_document_in_one_group_are_written_in_turn(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    let gated = AtTheGate::fill(&app, &alice).await;
    let same = json!({"source": "notes", "external_id": "same", "content": note(1)});
    let changed =
        |n: usize| json!({"source": "notes", "external_id": "changed", "content": note(n)});
    let copies = vec![
        send(&app, &alice, same.clone()),
        send(&app, &alice, same),
        send(&app, &alice, changed(2)),
        send(&app, &alice, changed(3)),
    ];
    until(&app, GATED, 4).await;
    gate.open().await;
    gated.created().await;

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
    assert_eq!(app.documents().await as u64, GATED + 2);
    // No vectors of the first copy left.
    app.assert_a_vector_per_chunk().await;
    assert_eq!(
        app.state.ingest_groups.stats().groups,
        GATED + 2,
        "the copies took turns"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn copies_of_a_text_in_one_group_are_stored_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    let gated = AtTheGate::fill(&app, &alice).await;
    let copies: Vec<JoinHandle<Reply>> = (0..8)
        .map(|i| {
            let body = json!({"source": format!("s{i}"), "content": note(5)});
            send(&app, &alice, body)
        })
        .collect();
    until(&app, GATED, 8).await;
    gate.open().await;
    gated.created().await;

    let replies = replies(copies).await;
    assert_eq!(
        app.state.ingest_groups.stats(),
        GroupStats {
            groups: GATED + 1,
            documents: GATED + 8
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
    assert_eq!(app.documents().await as u64, GATED + 1);
    app.assert_a_vector_per_chunk().await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_batch_meeting_a_copy_being_written_answers_it_unchanged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    // The first group's transaction holds the text's key, uncommitted, at the gate.
    let gated = AtTheGate::fill(&app, &alice).await;
    let batch = app.spawn_post(
        &format!("{DOCUMENTS}/batch"),
        json!({"documents": [{"source": "batch", "content": gated_text(0)}]}),
        &alice,
    );
    // Waits on locks: the groups at the gate, the batch's insert behind the first's key.
    let waiting = "SELECT count(*) FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.count(waiting).await as u64 <= GATED {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the batch never waited"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gate.open().await;

    let gated = replies(gated.0).await;
    let single = &gated[0];
    assert_eq!(single.status, StatusCode::CREATED, "{}", single.body);
    let batch = batch.await.unwrap();
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.body);
    let item = &batch.body["items"][0];
    assert_eq!(item["status"], "unchanged", "{item}");
    assert_eq!(item["document"]["id"], single.body["document"]["id"]);
    assert_eq!(app.documents().await as u64, GATED);
    app.assert_a_vector_per_chunk().await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_copy_of_a_document_in_flight_waits_for_its_commit_with_a_turn_free(pool: PgPool) {
    let keyed = |n: usize| json!({"source": "notes", "external_id": "held", "content": note(n)});
    let copy = held_back_behind_the_original(pool, keyed(1), keyed(2)).await;
    assert_eq!(copy.status, StatusCode::OK, "{}", copy.body);
    assert_eq!(copy.body["status"], "updated");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_copy_of_a_text_in_flight_waits_for_its_commit_with_a_turn_free(pool: PgPool) {
    let text = |source: &str| json!({"source": source, "content": note(5)});
    let copy = held_back_behind_the_original(pool, text("notes"), text("mail")).await;
    assert_eq!(copy.status, StatusCode::OK, "{}", copy.body);
    assert_eq!(copy.body["status"], "unchanged");
}

/// `copy` arrives while the group writing `original` waits at the gate and a turn is free:
/// it stays queued (two transactions never write one key at once) while the next document
/// takes that turn, and once the original has committed it is written in a group of its
/// own that sees it. Returns the copy's answer.
async fn held_back_behind_the_original(pool: PgPool, original: Value, copy: Value) -> Reply {
    const { assert!(GATED >= 2, "needs a turn free while one group waits") };
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let gate = Gate::close(&app.pool).await;
    let original = send(&app, &alice, original);
    until(&app, 1, 0).await;
    let copy = send(&app, &alice, copy);
    until(&app, 1, 1).await;
    let other = send(&app, &alice, json!({"source": "notes", "content": note(3)}));
    until(&app, 2, 1).await;
    gate.open().await;

    let mut answers = replies(vec![original, copy, other]).await;
    let (copy, original) = (answers.remove(1), answers.remove(0));
    for reply in [&original, &answers[0]] {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    assert_eq!(copy.body["document"]["id"], original.body["document"]["id"]);
    // The copy's answer may come before the original's vectors are stored (a turn ends at
    // commit); the original's own answer comes after.
    assert_eq!(original.body["document"]["pending_chunks"], 0);
    assert_eq!(app.state.ingest_groups.stats().groups, 3, "the copy alone");
    app.assert_a_vector_per_chunk().await;
    copy
}
