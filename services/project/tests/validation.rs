//! Text PostgreSQL cannot store (NUL) is refused at the edge with 422 `invalid_text`, before
//! any row, activity entry or file is written; file bytes stay binary and may hold NUL.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::assert_invalid_text;

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM projects.{table}"))
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_project_with_nul_in_any_text_is_refused_and_not_created(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;

    for (body, field) in [
        (json!({ "name": "Ali\0ce" }), "name"),
        (
            json!({ "name": "Fine", "description": "a\0b" }),
            "description",
        ),
        (json!({ "name": "Fine", "slug": "fine\0" }), "slug"),
    ] {
        let reply = app.post_as("/api/projects", body, &alice).await;
        assert_invalid_text(&reply, field);
    }
    assert_eq!(count(&app, "projects").await, 0);
    assert_eq!(count(&app, "project_activity").await, 0);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn epics_and_tasks_with_nul_are_refused_and_nothing_is_written(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = app.project_path("Edge", &alice).await;
    let activity_before = count(&app, "project_activity").await;

    let cases: [(&str, Value, &str); 5] = [
        ("epics", json!({ "title": "Launch\0" }), "title"),
        (
            "epics",
            json!({ "title": "Launch", "description": "\0" }),
            "description",
        ),
        ("tasks", json!({ "title": "Write\0 docs" }), "title"),
        (
            "tasks",
            json!({ "title": "Write docs", "description": "x\0" }),
            "description",
        ),
        (
            "tasks",
            json!({ "title": "Write docs", "labels": ["ok", "bad\0"] }),
            "labels[1]",
        ),
    ];
    for (resource, body, field) in cases {
        let reply = app
            .post_as(&format!("{base}/{resource}"), body, &alice)
            .await;
        assert_invalid_text(&reply, field);
    }
    assert_eq!(count(&app, "epics").await, 0);
    assert_eq!(count(&app, "tasks").await, 0);
    assert_eq!(count(&app, "project_activity").await, activity_before);
    // No task number was consumed either.
    assert_eq!(app.get_as(&base, &alice).await.body["task_counter"], 0);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn updates_with_nul_leave_the_row_unchanged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = app.project_path("Edge", &alice).await;
    let task = app
        .post_as(&format!("{base}/tasks"), json!({ "title": "Kept" }), &alice)
        .await;
    assert_eq!(task.status, StatusCode::CREATED, "{}", task.body);

    let reply = app
        .patch_as(
            &format!("{base}/tasks/1"),
            json!({ "version": task.body["version"], "title": "Lost\0" }),
            &alice,
        )
        .await;
    assert_invalid_text(&reply, "title");
    let version = app.get_as(&base, &alice).await.body["version"].clone();
    let reply = app
        .patch_as(&base, json!({ "version": version, "name": "\0" }), &alice)
        .await;
    assert_invalid_text(&reply, "name");

    let after = app.get_as(&format!("{base}/tasks/1"), &alice).await;
    assert_eq!(after.body["title"], "Kept");
    assert_eq!(after.body["version"], task.body["version"]);
    assert_eq!(app.get_as(&base, &alice).await.body["name"], "Edge");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn nul_in_a_path_or_query_parameter_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = app.project_path("Edge", &alice).await;
    let id = base.trim_start_matches("/api/projects/");

    let upload = app
        .upload(id, "docs/a%00b.md", "text/plain", "x", &alice)
        .await;
    assert_invalid_text(&upload, "path parameter `path`");
    assert!(app.stored_files().is_empty());
    assert_eq!(count(&app, "project_files").await, 0);

    let listed = app
        .get_as(&format!("{base}/files?path=a%00b"), &alice)
        .await;
    assert_invalid_text(&listed, "query parameter `path`");
    let tasks = app
        .get_as(&format!("{base}/tasks?cursor=%00"), &alice)
        .await;
    assert_invalid_text(&tasks, "query parameter `cursor`");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn file_bytes_may_hold_nul_and_literal_escapes_are_text(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = app.project_path("Edge", &alice).await;
    let id = base.trim_start_matches("/api/projects/");

    let bytes: &'static [u8] = b"\x00\x01binary\x00";
    let upload = app
        .upload(
            id,
            "bin/blob.dat",
            "application/octet-stream",
            bytes,
            &alice,
        )
        .await;
    assert_eq!(upload.status, StatusCode::CREATED, "{}", upload.body);
    let download = app
        .get_as(&format!("{base}/files/bin/blob.dat"), &alice)
        .await;
    assert_eq!(download.bytes.as_ref(), bytes);

    // A backslash followed by `u0000` is ordinary text, not a NUL.
    let epic = app
        .post_as(
            &format!("{base}/epics"),
            json!({ "title": r"C:\u0000 is fine" }),
            &alice,
        )
        .await;
    assert_eq!(epic.status, StatusCode::CREATED, "{}", epic.body);
    assert_eq!(epic.body["title"], r"C:\u0000 is fine");
}
