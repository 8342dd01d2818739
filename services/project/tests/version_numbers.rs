//! Versions a client names start at 1 (the OpenAPI says `minimum: 1`): 0 or less is the
//! client's mistake, answered 422 `invalid_version`. For the version a PATCH is based on,
//! never 409 `version_conflict` (which tells a client to reload and retry, and a retry with
//! the same bad number would meet it again); for a file version, never 404 (as if a version
//! 0 might yet appear). A restore's version: `file_restore.rs`.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;
use sqlx::PgPool;
use testkit::{User, assert_error};

/// alice's project "Versions" with an epic "e" and a task "t", all at version 1: the id, and
/// the path, field and value of each of the three, for PATCH.
async fn three_at_version_1(
    app: &TestApp,
    alice: &User,
) -> (String, [(String, &'static str, &'static str); 3]) {
    let project = app.project_id("Versions", alice).await;
    let base = format!("/api/projects/{project}");
    let task = app.create_task(&base, json!({ "title": "t" }), alice).await;
    let epic = app
        .post_as(&format!("{base}/epics"), json!({ "title": "e" }), alice)
        .await
        .body;
    let task_path = format!("{base}/tasks/{}", task["number"]);
    let epic_path = format!("{base}/epics/{}", epic["id"].as_str().expect("epic id"));
    let edited = [
        (base, "name", "Versions"),
        (epic_path, "title", "e"),
        (task_path, "title", "t"),
    ];
    (project, edited)
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn versions_below_1_are_invalid_not_a_conflict_nor_missing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let (project, edited) = three_at_version_1(&app, &alice).await;
    let activity = format!("/api/projects/{project}/activity");
    let activity_before = app.get_as(&activity, &alice).await.body;

    for version in [0, -1, i32::MIN] {
        for (path, field, _) in &edited {
            let body = json!({ "version": version, *field: "renamed" });
            let reply = app.patch_as(path, body, &alice).await;
            assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_version");
            assert_eq!(reply.body["error"]["message"], "version must be 1 or more");
        }
    }
    for (path, field, unchanged) in &edited {
        let now = app.get_as(path, &alice).await.body;
        assert_eq!(
            (&now[field], &now["version"]),
            (&json!(unchanged), &json!(1))
        );
    }
    let activity_after = app.get_as(&activity, &alice).await.body;
    assert_eq!(activity_after, activity_before, "no activity recorded");
    // A real version that is merely stale is still a conflict.
    let stale = json!({ "version": 2, "title": "late" });
    let stale = app.patch_as(&edited[2].0, stale, &alice).await;
    assert_error(&stale, StatusCode::CONFLICT, "version_conflict");

    // A file's versions: the latest when none is named, else 1 or more.
    let stored = app
        .upload(&project, "notes.txt", "text/plain", "one", &alice)
        .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
    let download = |version: &str| {
        let path = format!("notes.txt?version={version}");
        let (app, project, alice) = (&app, &project, &alice);
        async move { app.download(project, &path, &[], alice).await }
    };
    for version in ["0", "-1"] {
        let reply = download(version).await;
        assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_version");
    }
    assert_eq!(&download("1").await.bytes[..], b"one");
    assert_error(&download("2").await, StatusCode::NOT_FOUND, "not_found");
}
