//! Restoring a file version (`POST .../restore-file`): a new latest version with the old
//! version's bytes, sharing them on disk, and deletes that never remove bytes a remaining
//! version still uses.

mod common;

use authn::Role;
use axum::http::StatusCode;
use common::TestApp;
use db::{
    ids::{FileId, ProjectId, UserId},
    projects::NewFileVersion,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{Reply, User};
use uuid::Uuid;

/// A project with `notes.txt` uploaded twice: "first draft" (text/plain), then "second"
/// (text/markdown). Returns its id and owner.
async fn two_versions(app: &TestApp) -> (String, User) {
    let alice = app.user("alice").await;
    let id = app.project_id("Restores", &alice).await;
    let first = app
        .upload(&id, "notes.txt", "text/plain", "first draft", &alice)
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    app.upload(&id, "notes.txt", "text/markdown", "second", &alice)
        .await;
    (id, alice)
}

async fn restore(app: &TestApp, id: &str, body: Value, user: &User) -> Reply {
    app.post_as(&format!("/api/projects/{id}/restore-file"), body, user)
        .await
}

/// Restores version `version` of `notes.txt`.
async fn restore_notes(app: &TestApp, id: &str, version: i32, user: &User) -> Reply {
    let body = json!({ "path": "notes.txt", "version": version });
    restore(app, id, body, user).await
}

async fn version(app: &TestApp, id: &str, version: i32, user: &User) -> Value {
    let listed = app
        .get_as(&format!("/api/projects/{id}/files?path=notes.txt"), user)
        .await;
    listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["version"] == version)
        .cloned()
        .unwrap_or_else(|| panic!("no version {version} in {}", listed.body))
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn restoring_a_version_adds_a_latest_one_with_its_bytes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice) = two_versions(&app).await;
    let old = version(&app, &id, 1, &alice).await;

    let reply = restore_notes(&app, &id, 1, &alice).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["path"], "notes.txt");
    assert_eq!(reply.body["version"], 3);
    assert_eq!(reply.body["is_latest"], true);
    for field in ["sha256", "size_bytes", "mime_type"] {
        assert_eq!(reply.body[field], old[field], "{field}");
    }
    assert_ne!(reply.body["id"], old["id"]);

    let latest = app
        .get_as(&format!("/api/projects/{id}/files/notes.txt"), &alice)
        .await;
    assert_eq!(&latest.bytes[..], b"first draft");
    assert_eq!(latest.headers["x-file-version"], "3");
    assert_eq!(latest.headers["content-type"], "text/plain");
    let first = app
        .get_as(
            &format!("/api/projects/{id}/files/notes.txt?version=1"),
            &alice,
        )
        .await;
    assert_eq!(
        latest.headers["etag"], first.headers["etag"],
        "the same bytes and type: the same representation"
    );
    // History is kept: every version is still there, and 2 still downloads.
    let numbers: Vec<Value> = app
        .get_as(&format!("/api/projects/{id}/files?path=notes.txt"), &alice)
        .await
        .body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["version"].clone())
        .collect();
    assert_eq!(numbers, [json!(3), json!(2), json!(1)]);
    let second = app
        .get_as(
            &format!("/api/projects/{id}/files/notes.txt?version=2"),
            &alice,
        )
        .await;
    assert_eq!(&second.bytes[..], b"second");

    assert_eq!(app.stored_files().len(), 2, "the restore shares the bytes");
    let activity = app
        .get_as(&format!("/api/projects/{id}/activity?limit=1"), &alice)
        .await;
    let entry = &activity.body["items"][0];
    assert_eq!(entry["action"], "file.restored");
    assert_eq!(entry["entity_id"], reply.body["id"]);
    assert_eq!(entry["details"]["restored_version"], 1);
    assert_eq!(entry["details"]["version"], 3);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn restoring_the_latest_version_still_adds_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice) = two_versions(&app).await;
    let latest = version(&app, &id, 2, &alice).await;
    let reply = restore_notes(&app, &id, 2, &alice).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["version"], 3);
    assert_eq!(reply.body["sha256"], latest["sha256"]);
    assert_eq!(version(&app, &id, 2, &alice).await["is_latest"], false);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn unknown_paths_and_versions_are_404_and_bad_input_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice) = two_versions(&app).await;
    for body in [
        json!({ "path": "other.txt", "version": 1 }),
        json!({ "path": "notes.txt", "version": 3 }),
    ] {
        let reply = restore(&app, &id, body.clone(), &alice).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(reply.code(), "not_found", "{body}");
    }
    for (body, code) in [
        (
            json!({ "path": "notes.txt", "version": 0 }),
            "invalid_version",
        ),
        (
            json!({ "path": "../notes.txt", "version": 1 }),
            "invalid_file_path",
        ),
        (json!({ "path": "notes.txt" }), "invalid_body"),
        (
            json!({ "path": "notes.txt", "version": 1.5 }),
            "invalid_body",
        ),
        (
            json!({ "path": "notes.txt", "version": 1, "extra": true }),
            "invalid_body",
        ),
    ] {
        let reply = restore(&app, &id, body.clone(), &alice).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.code(), code, "{body}");
    }
    let unknown_project = restore(
        &app,
        &Uuid::new_v4().to_string(),
        json!({ "path": "notes.txt", "version": 1 }),
        &alice,
    )
    .await;
    assert_eq!(unknown_project.status, StatusCode::NOT_FOUND);
    assert_eq!(version(&app, &id, 2, &alice).await["is_latest"], true);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn only_those_who_may_write_restore(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice) = two_versions(&app).await;
    let mallory = app.user("mallory").await;
    let admin = app.user_with_role("root", Role::Admin).await;
    let body = json!({ "path": "notes.txt", "version": 1 });
    assert_eq!(
        restore(&app, &id, body.clone(), &mallory).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        restore(&app, &id, body.clone(), &admin).await.status,
        StatusCode::FORBIDDEN
    );
    let anonymous = app
        .post(&format!("/api/projects/{id}/restore-file"), body)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(version(&app, &id, 2, &alice).await["is_latest"], true);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn deleting_a_restored_file_removes_its_shared_bytes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice) = two_versions(&app).await;
    restore_notes(&app, &id, 1, &alice).await;
    restore_notes(&app, &id, 1, &alice).await;
    assert_eq!(app.stored_files().len(), 2);
    let reply = app
        .delete_as(&format!("/api/projects/{id}/files/notes.txt"), &alice)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    let activity = app
        .get_as(&format!("/api/projects/{id}/activity?limit=1"), &alice)
        .await;
    assert_eq!(activity.body["items"][0]["details"]["versions_removed"], 4);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn bytes_another_path_still_uses_survive_a_delete(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice) = two_versions(&app).await;
    let project_id = ProjectId(id.parse().expect("uuid"));
    let first = version(&app, &id, 1, &alice).await;
    let storage_key = format!("{id}/{}", first["id"].as_str().expect("id"));
    // Nothing in the API shares bytes across paths yet; the delete must not assume so.
    let mut connection = app.pool.acquire().await.expect("connection");
    db::projects::files::insert_version(
        &mut connection,
        &NewFileVersion {
            id: FileId::new(),
            project_id,
            path: "copy.txt",
            size_bytes: first["size_bytes"].as_i64().expect("size"),
            sha256: first["sha256"].as_str().expect("sha"),
            mime_type: "text/plain",
            storage_key: &storage_key,
            uploaded_by: UserId(alice.id),
        },
    )
    .await
    .expect("a second row on the same bytes");

    let reply = app
        .delete_as(&format!("/api/projects/{id}/files/notes.txt"), &alice)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(app.stored_files(), [storage_key]);
    let copy = app
        .get_as(&format!("/api/projects/{id}/files/copy.txt"), &alice)
        .await;
    assert_eq!(copy.status, StatusCode::OK);
    assert_eq!(&copy.bytes[..], b"first draft");

    let reply = app
        .delete_as(&format!("/api/projects/{id}/files/copy.txt"), &alice)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
}
