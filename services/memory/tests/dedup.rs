//! One copy of a text per owner: a document sent without `external_id` whose text its owner
//! has stored already is answered with the stored one (`unchanged`), from the single route,
//! from a batch (within it too), and however many of them arrive at once.

mod common;

use std::collections::HashSet;

use authn::Role;
use axum::http::StatusCode;
use common::{TestApp, replies};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::Reply;

const DOCUMENTS: &str = "/api/memory/documents";
const TEXT: &str = "A borrowed reference must not outlive the value it points to.";

fn outcome(reply: &Reply) -> (StatusCode, Value, Value) {
    (
        reply.status,
        reply.body["status"].clone(),
        reply.body["document"]["id"].clone(),
    )
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_same_text_again_answers_the_stored_document_unchanged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let first = app
        .ingest(
            &alice,
            json!({"source": "notes", "title": "First", "content": TEXT}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let id = first.body["document"]["id"].clone();

    // Other fields do not make it another document: the text is what is stored once.
    let again = app
        .ingest(
            &alice,
            json!({"source": "web", "title": "Second", "tags": ["x"], "content": TEXT}),
        )
        .await;
    assert_eq!(outcome(&again), (StatusCode::OK, json!("unchanged"), id));
    assert_eq!(again.body["document"]["title"], "First");
    assert_eq!(again.body["document"]["pending_chunks"], 0);
    assert_eq!(app.documents().await, 1);
    app.assert_a_vector_per_chunk().await;

    // A trailing space is another text.
    let other = app
        .ingest(
            &alice,
            json!({"source": "notes", "content": format!("{TEXT} ")}),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn each_owner_and_each_external_id_keeps_its_own_copy(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let admin = app.user(Role::Admin).await;
    let plain = json!({"source": "notes", "content": TEXT});
    for (user, body) in [
        (&alice, plain.clone()),
        (&bob, plain.clone()),
        (
            &admin,
            json!({"source": "notes", "content": TEXT, "shared": true}),
        ),
        (
            &alice,
            json!({"source": "notes", "external_id": "a", "content": TEXT}),
        ),
        (
            &alice,
            json!({"source": "notes", "external_id": "b", "content": TEXT}),
        ),
    ] {
        let reply = app.ingest(user, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    // The shared copy is the admins' namespace, not the admin's own.
    let own = app.ingest(&admin, plain).await;
    assert_eq!(own.status, StatusCode::CREATED);
    let shared_again = app
        .ingest(
            &admin,
            json!({"source": "docs", "content": TEXT, "shared": true}),
        )
        .await;
    assert_eq!(shared_again.body["status"], "unchanged");
    assert_eq!(shared_again.body["document"]["shared"], true);
    assert_eq!(app.documents().await, 6);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn eight_identical_requests_at_once_store_one_document(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let requests = (0..8)
        .map(|_| {
            app.spawn_post(
                DOCUMENTS,
                json!({"source": "notes", "content": TEXT}),
                &alice,
            )
        })
        .collect();
    let replies = replies(requests).await;
    let ids: HashSet<String> = replies
        .iter()
        .map(|reply| reply.body["document"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "one document for all");
    let mut outcomes: Vec<(StatusCode, Value)> = replies
        .iter()
        .map(|reply| (reply.status, reply.body["status"].clone()))
        .collect();
    outcomes.sort_by_key(|(status, _)| status.as_u16());
    let mut expected = vec![(StatusCode::OK, json!("unchanged")); 7];
    expected.push((StatusCode::CREATED, json!("created")));
    assert_eq!(outcomes, expected);
    // The copy that was written answers once its vectors are stored (the others may have
    // looked while they were being stored).
    let created = replies
        .iter()
        .find(|reply| reply.status == StatusCode::CREATED);
    assert_eq!(created.unwrap().body["document"]["pending_chunks"], 0);
    assert_eq!(app.documents().await, 1);
    // No vectors of lost copies.
    app.assert_a_vector_per_chunk().await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_batch_stores_a_text_once_within_itself_and_against_what_is_stored(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let stored = app
        .ingest(
            &alice,
            json!({"source": "notes", "content": "Stored before the batch."}),
        )
        .await;
    let reply = app
        .post_as(
            &format!("{DOCUMENTS}/batch"),
            json!({"documents": [
                {"source": "notes", "content": TEXT},
                {"source": "notes", "content": "Stored before the batch."},
                {"source": "web", "content": TEXT},
                {"source": "notes", "external_id": "keyed", "content": TEXT},
            ]}),
            &alice,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let items = reply.body["items"].as_array().unwrap();
    let statuses: Vec<&str> = items
        .iter()
        .map(|item| item["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["created", "unchanged", "unchanged", "created"]);
    assert_eq!(items[1]["document"]["id"], stored.body["document"]["id"]);
    assert_eq!(items[2]["document"]["id"], items[0]["document"]["id"]);
    assert_eq!(items[2]["document"]["source"], "notes", "the first copy's");
    assert_ne!(items[3]["document"]["id"], items[0]["document"]["id"]);
    assert_eq!(app.documents().await, 3);
    app.assert_a_vector_per_chunk().await;

    // Sent again, every item is answered without work.
    let again = app
        .post_as(
            &format!("{DOCUMENTS}/batch"),
            json!({"documents": [{"source": "x", "content": TEXT}]}),
            &alice,
        )
        .await;
    assert_eq!(again.body["items"][0]["status"], "unchanged");
    assert_eq!(
        again.body["items"][0]["document"]["id"],
        items[0]["document"]["id"]
    );
}
