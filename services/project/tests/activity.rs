//! The activity feed: every change is recorded in its own transaction, and only changes.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn every_mutation_writes_one_activity_row(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Feed", &alice).await;
    let base = format!("/api/projects/{id}");

    app.patch_as(&base, json!({ "version": 1, "description": "d" }), &alice)
        .await;
    let epic = app
        .post_as(&format!("{base}/epics"), json!({ "title": "E" }), &alice)
        .await;
    let epic_id = epic.body["id"].as_str().unwrap();
    app.patch_as(
        &format!("{base}/epics/{epic_id}"),
        json!({ "version": 1, "status": "in_progress" }),
        &alice,
    )
    .await;
    app.post_as(&format!("{base}/tasks"), json!({ "title": "T" }), &alice)
        .await;
    let moved = app
        .patch_as(
            &format!("{base}/tasks/1"),
            json!({ "version": 1, "status": "done", "epic_id": epic_id }),
            &alice,
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    app.upload(&id, "notes.txt", "text/plain", "hi", &alice)
        .await;
    app.delete_as(&format!("{base}/files/notes.txt"), &alice)
        .await;
    app.delete_as(&format!("{base}/tasks/1"), &alice).await;
    app.delete_as(&format!("{base}/epics/{epic_id}"), &alice)
        .await;

    assert_eq!(
        app.actions(&id, &alice).await,
        [
            "project.created",
            "project.updated",
            "epic.created",
            "epic.updated",
            "task.created",
            "task.updated",
            "file.uploaded",
            "file.deleted",
            "task.deleted",
            "epic.deleted",
        ]
    );
    let feed = app
        .get_as(&format!("{base}/activity?limit=100"), &alice)
        .await;
    let task_update = feed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["action"] == "task.updated")
        .expect("task.updated row")
        .clone();
    assert_eq!(task_update["actor_id"], alice.id.to_string());
    assert_eq!(task_update["entity_type"], "task");
    assert_eq!(
        task_update["details"]["status"],
        json!({ "from": "backlog", "to": "done" })
    );
    assert_eq!(task_update["details"]["epic_id"]["to"], epic_id);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn refused_changes_leave_no_activity(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Quiet", &alice).await;
    let base = format!("/api/projects/{id}");

    let stale = app
        .patch_as(&base, json!({ "version": 7, "name": "x" }), &alice)
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    let bad = app
        .post_as(&format!("{base}/tasks"), json!({ "title": "" }), &alice)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_type = app.upload(&id, "a.txt", "not a type", "x", &alice).await;
    assert_eq!(bad_type.status, StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(app.actions(&id, &alice).await, ["project.created"]);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_patch_of_only_the_version_changes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Still", &alice).await;
    let base = format!("/api/projects/{id}");
    let epic = app
        .post_as(&format!("{base}/epics"), json!({ "title": "E" }), &alice)
        .await;
    let epic_id = epic.body["id"].as_str().unwrap();
    app.post_as(&format!("{base}/tasks"), json!({ "title": "T" }), &alice)
        .await;

    for url in [
        base.clone(),
        format!("{base}/epics/{epic_id}"),
        format!("{base}/tasks/1"),
    ] {
        // Twice: neither makes a version 2 that the second would then conflict with.
        for _ in 0..2 {
            let same = app.patch_as(&url, json!({ "version": 1 }), &alice).await;
            assert_eq!(same.status, StatusCode::OK, "{url}: {}", same.body);
            assert_eq!(same.body["version"], 1, "{url}: {}", same.body);
        }
        // A stale version is still a conflict, as with any other edit.
        let stale = app.patch_as(&url, json!({ "version": 2 }), &alice).await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{url}: {}", stale.body);
    }
    assert_eq!(
        app.actions(&id, &alice).await,
        ["project.created", "epic.created", "task.created"]
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn activity_pages_newest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Busy", &alice).await;
    for n in 0..4 {
        let reply = app
            .post_as(
                &format!("/api/projects/{id}/tasks"),
                json!({ "title": format!("T{n}") }),
                &alice,
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let first = app
        .get_as(&format!("/api/projects/{id}/activity?limit=3"), &alice)
        .await;
    let items = first.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["details"]["number"], 4, "newest first");
    let cursor = first.body["next_cursor"].as_str().expect("more pages");
    let second = app
        .get_as(
            &format!("/api/projects/{id}/activity?limit=3&cursor={cursor}"),
            &alice,
        )
        .await;
    let items = second.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["action"], "project.created");
    assert!(second.body["next_cursor"].is_null());
}
