//! Editing a document's description (`PATCH /api/memory/documents/{id}`): each field under
//! ingestion's rules, only by its owner, based on the version the client last saw, and seen
//! by the very next search on both of its sides.

mod common;

use authn::Role;
use axum::http::StatusCode;
use common::{TestApp, flaky::app_with_flaky_index, hit_documents, project, wait_until_indexed};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{Reply, User};
use uuid::Uuid;

const BORROWING: &str = "Borrowing lets code use a value without taking ownership, through \
    shared references or one mutable reference at a time. The borrow checker enforces these \
    rules at compile time, so there are no data races and no use-after-free in safe code.";

/// Ingests a note of `user` tagged `rust`; returns its id.
async fn note(app: &TestApp, user: &User) -> String {
    let reply = app
        .ingest(
            user,
            json!({"source": "notes", "external_id": "borrowing", "title": "Borrowing",
                   "tags": ["rust"], "content": BORROWING}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["document"]["version"], 1, "{}", reply.body);
    reply.body["document"]["id"].as_str().unwrap().to_owned()
}

/// The app over `pool`, a user, and that user's note.
async fn with_note(pool: PgPool) -> (TestApp, User, String) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let id = note(&app, &alice).await;
    (app, alice, id)
}

async fn edit(app: &TestApp, user: &User, id: &str, body: Value) -> Reply {
    app.patch_as(&format!("/api/memory/documents/{id}"), body, user)
        .await
}

fn assert_refused(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_edit_changes_the_fields_sent_and_is_a_new_version(pool: PgPool) {
    let (app, alice, id) = with_note(pool).await;

    let edited = edit(
        &app,
        &alice,
        &id,
        json!({"version": 1, "title": "  Borrowing, revised ", "tags": ["rust", " borrowck "],
               "type": "guide", "metadata": {"lang": "en"}, "path": "guide/borrowing.md"}),
    )
    .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    let document = &edited.body;
    assert_eq!(document["version"], 2);
    assert_eq!(document["title"], "Borrowing, revised");
    assert_eq!(document["tags"], json!(["rust", "borrowck"]));
    assert_eq!(document["type"], "guide");
    assert_eq!(document["metadata"], json!({"lang": "en"}));
    assert_eq!(document["path"], "guide/borrowing.md");
    // What an edit cannot change stays.
    assert_eq!(document["source"], "notes");
    assert_eq!(document["external_id"], "borrowing");
    assert_eq!(document["owner_id"], alice.id.to_string());
    assert_eq!(document["pending_chunks"], 0, "{document}");

    // `null` clears, absent keeps.
    let cleared = edit(&app, &alice, &id, json!({"version": 2, "title": null})).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(cleared.body["title"], Value::Null);
    assert_eq!(cleared.body["path"], "guide/borrowing.md");
    assert_eq!(cleared.body["version"], 3);

    let shown = app
        .get_as(&format!("/api/memory/documents/{id}"), &alice)
        .await;
    assert_eq!(shown.body["version"], 3, "{}", shown.body);
    let listed = app.get_as("/api/memory/documents", &alice).await;
    assert_eq!(listed.body["items"][0]["version"], 3, "{}", listed.body);

    // Re-ingesting new text is a new version too; the edit based on the old one is refused.
    let reingested = app
        .ingest(
            &alice,
            json!({"source": "notes", "external_id": "borrowing", "content": "New text."}),
        )
        .await;
    assert_eq!(reingested.body["status"], "updated", "{}", reingested.body);
    assert_eq!(reingested.body["document"]["version"], 4);
    let stale = edit(&app, &alice, &id, json!({"version": 3, "tags": []})).await;
    assert_refused(&stale, StatusCode::CONFLICT, "version_conflict");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_edit_based_on_a_stale_version_is_refused(pool: PgPool) {
    let (app, alice, id) = with_note(pool).await;
    let first = edit(&app, &alice, &id, json!({"version": 1, "title": "A"})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let second = edit(&app, &alice, &id, json!({"version": 1, "title": "B"})).await;
    assert_refused(&second, StatusCode::CONFLICT, "version_conflict");
    for version in [json!(0), json!(-1)] {
        let reply = edit(&app, &alice, &id, json!({"version": version, "title": "C"})).await;
        assert_refused(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_version");
    }
    let missing = edit(&app, &alice, &id, json!({"title": "C"})).await;
    assert_refused(&missing, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let shown = app
        .get_as(&format!("/api/memory/documents/{id}"), &alice)
        .await;
    assert_eq!(shown.body["title"], "A");
    assert_eq!(shown.body["version"], 2);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn only_the_owner_edits_and_others_learn_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let id = note(&app, &alice).await;
    let theirs = edit(&app, &bob, &id, json!({"version": 1, "title": "Mine now"})).await;
    let nowhere = edit(
        &app,
        &bob,
        &Uuid::now_v7().to_string(),
        json!({"version": 1, "title": "x"}),
    )
    .await;
    assert_refused(&theirs, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        theirs.body, nowhere.body,
        "the same answer as for no document"
    );

    // Shared documents: as delete, admins only.
    let admin = app.user(Role::Admin).await;
    let shared = app
        .ingest(
            &admin,
            json!({"source": "docs", "shared": true, "content": BORROWING}),
        )
        .await;
    let shared_id = shared.body["document"]["id"].as_str().unwrap().to_owned();
    let by_user = edit(
        &app,
        &alice,
        &shared_id,
        json!({"version": 1, "tags": ["x"]}),
    )
    .await;
    assert_refused(&by_user, StatusCode::FORBIDDEN, "forbidden");
    let by_admin = edit(
        &app,
        &admin,
        &shared_id,
        json!({"version": 1, "tags": ["x"]}),
    )
    .await;
    assert_eq!(by_admin.status, StatusCode::OK, "{}", by_admin.body);
    assert_eq!(by_admin.body["shared"], true);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn each_field_obeys_the_rule_ingestion_applies(pool: PgPool) {
    let (app, alice, id) = with_note(pool).await;
    let many: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
    let big_metadata = json!({"text": "m".repeat(17 * 1024)});
    for (body, code) in [
        (json!({"tags": many}), "too_many_tags"),
        (json!({"tags": ["t".repeat(65)]}), "field_too_long"),
        (json!({"tags": "rust"}), "invalid_body"),
        (json!({"type": "Guide!"}), "invalid_type"),
        (json!({"title": "t".repeat(301)}), "field_too_long"),
        (json!({"path": "p".repeat(1025)}), "field_too_long"),
        (json!({"metadata": [1]}), "invalid_metadata"),
        (
            json!({"metadata": {"n": -1.7976931348623157e308}}),
            "invalid_metadata",
        ),
        (json!({"metadata": big_metadata}), "metadata_too_large"),
        (json!({"title": "a\u{0}b"}), "invalid_text"),
        (json!({"project_id": Uuid::now_v7()}), "unknown_project"),
        // Not editable: the text is re-ingested; owner, source and key stay.
        (json!({"content": "new"}), "invalid_body"),
        (json!({"source": "web"}), "invalid_body"),
        (json!({"external_id": "other"}), "invalid_body"),
        (json!({"owner_id": Uuid::now_v7()}), "invalid_body"),
    ] {
        let mut body = body;
        body["version"] = json!(1);
        let reply = edit(&app, &alice, &id, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.body
        );
        assert_eq!(reply.body["error"]["code"], code, "{body}: {}", reply.body);
    }
    let shown = app
        .get_as(&format!("/api/memory/documents/{id}"), &alice)
        .await;
    assert_eq!(shown.body["version"], 1, "nothing refused was written");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_document_moves_only_into_a_project_its_owner_can_see(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let (hers, his) = (Uuid::now_v7(), Uuid::now_v7());
    project(&app.pool, hers, &alice).await;
    project(&app.pool, his, &bob).await;
    let id = note(&app, &alice).await;
    let refused = edit(&app, &alice, &id, json!({"version": 1, "project_id": his})).await;
    assert_refused(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_project",
    );
    let moved = edit(&app, &alice, &id, json!({"version": 1, "project_id": hers})).await;
    assert_eq!(moved.body["project_id"], hers.to_string(), "{}", moved.body);
    let found = app
        .search(
            &alice,
            json!({"query": "borrow checker", "mode": "vector", "project_ids": [hers]}),
        )
        .await;
    assert!(hit_documents(&found.body).contains(&id), "{}", found.body);
    let out = edit(&app, &alice, &id, json!({"version": 2, "project_id": null})).await;
    assert_eq!(out.body["project_id"], Value::Null, "{}", out.body);
}

/// The index filters on the payload before PostgreSQL confirms: a stale payload would hide
/// the document from a vector search for its new tag.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_next_search_sees_edited_tags_and_type_in_every_mode(pool: PgPool) {
    let (app, alice, id) = with_note(pool).await;
    let edited = edit(
        &app,
        &alice,
        &id,
        json!({"version": 1, "tags": ["ownership"], "type": "guide"}),
    )
    .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    for mode in ["vector", "lexical", "hybrid"] {
        let search = |filter: Value| {
            let mut body = json!({"query": "borrow checker references", "mode": mode});
            body.as_object_mut()
                .unwrap()
                .extend(filter.as_object().unwrap().clone());
            app.search(&alice, body)
        };
        let new_tag = search(json!({"tags": ["ownership"]})).await;
        assert_eq!(new_tag.status, StatusCode::OK, "{}", new_tag.body);
        assert_eq!(new_tag.body["degraded"], false, "{mode}: {}", new_tag.body);
        assert!(
            hit_documents(&new_tag.body).contains(&id),
            "{mode} new tag: {}",
            new_tag.body
        );
        let new_type = search(json!({"types": ["guide"]})).await;
        assert!(
            hit_documents(&new_type.body).contains(&id),
            "{mode} new type: {}",
            new_type.body
        );
        for old in [json!({"tags": ["rust"]}), json!({"types": ["document"]})] {
            let found = search(old.clone()).await;
            assert_eq!(
                hit_documents(&found.body),
                Vec::<String>::new(),
                "{mode} {old}"
            );
        }
    }
    app.assert_a_vector_per_chunk().await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn of_concurrent_edits_based_on_one_version_exactly_one_wins(pool: PgPool) {
    let (app, alice, id) = with_note(pool).await;
    let path = format!("/api/memory/documents/{id}");
    let edits: Vec<_> = (0..8)
        .map(|n| {
            let (client, path, alice) = ((*app).clone(), path.clone(), alice.clone());
            tokio::spawn(async move {
                let body = json!({"version": 1, "tags": [format!("edit-{n}")]});
                client.patch_as(&path, body, &alice).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for handle in edits {
        let reply = handle.await.expect("edit task");
        statuses.push(reply.status);
        if reply.status == StatusCode::CONFLICT {
            assert_eq!(reply.body["error"]["code"], "version_conflict");
        }
    }
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let lost = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((won, lost), (1, 7), "{statuses:?}");
    let shown = app.get_as(&path, &alice).await;
    assert_eq!(shown.body["version"], 2, "{}", shown.body);
}

/// An index that is down does not refuse the edit: the document's chunks go back to pending,
/// and the background indexer upserts them with the fields stored by then.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_edit_while_the_index_is_down_leaves_the_vectors_to_the_indexer(pool: PgPool) {
    let (app, index) = app_with_flaky_index(pool).await;
    let alice = app.user(Role::User).await;
    let id = note(&app, &alice).await;
    index.set_down(true);
    let edited = edit(
        &app,
        &alice,
        &id,
        json!({"version": 1, "tags": ["ownership"]}),
    )
    .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.body["tags"], json!(["ownership"]));
    assert_eq!(
        edited.body["pending_chunks"], edited.body["chunk_count"],
        "{}",
        edited.body
    );

    index.set_down(false);
    let indexer = app.spawn_indexer(std::time::Duration::from_millis(50));
    wait_until_indexed(&app.pool).await;
    indexer.abort();
    let body = json!({"query": "borrow checker", "mode": "vector", "tags": ["ownership"]});
    let found = app.search(&alice, body).await;
    assert!(hit_documents(&found.body).contains(&id), "{}", found.body);
    app.assert_a_vector_per_chunk().await;
}
