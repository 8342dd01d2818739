//! Epics and tasks: numbering, moves between epics, filters, status rules, concurrency.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{Reply, User};

async fn task(app: &TestApp, base: &str, body: Value, user: &User) -> Value {
    let reply = app.post_as(&format!("{base}/tasks"), body, user).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn tasks_are_numbered_per_project_and_numbers_are_never_reused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let one = app.project_path("One", &alice).await;
    let two = app.project_path("Two", &alice).await;

    for expected in 1..=3 {
        assert_eq!(
            task(&app, &one, json!({ "title": "t" }), &alice).await["number"],
            expected
        );
    }
    assert_eq!(
        app.delete_as(&format!("{one}/tasks/3"), &alice)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_as(&format!("{one}/tasks/3"), &alice).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        task(&app, &one, json!({ "title": "t" }), &alice).await["number"],
        4
    );
    assert_eq!(
        task(&app, &two, json!({ "title": "t" }), &alice).await["number"],
        1
    );
    assert_eq!(app.get_as(&one, &alice).await.body["task_counter"], 4);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn concurrent_creates_get_distinct_numbers(pool: PgPool) {
    let app = std::sync::Arc::new(TestApp::new(pool).await);
    let alice = app.user("alice").await;
    let base = app.project_path("Race", &alice).await;
    let mut handles = Vec::new();
    for n in 0..8 {
        let (app, alice, base) = (app.clone(), alice.clone(), base.clone());
        handles.push(tokio::spawn(async move {
            app.post_as(
                &format!("{base}/tasks"),
                json!({ "title": format!("t{n}") }),
                &alice,
            )
            .await
            .body["number"]
                .as_i64()
                .expect("number")
        }));
    }
    let mut numbers = Vec::new();
    for handle in handles {
        numbers.push(handle.await.expect("task"));
    }
    numbers.sort();
    assert_eq!(numbers, (1..=8).collect::<Vec<_>>());
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn tasks_move_only_between_epics_of_their_project(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = app.project_path("Home", &alice).await;
    let other = app.project_path("Away", &alice).await;
    let epic_a = app
        .post_as(&format!("{base}/epics"), json!({ "title": "A" }), &alice)
        .await
        .body;
    let epic_b = app
        .post_as(&format!("{base}/epics"), json!({ "title": "B" }), &alice)
        .await
        .body;
    let foreign = app
        .post_as(&format!("{other}/epics"), json!({ "title": "X" }), &alice)
        .await
        .body;

    let created = task(
        &app,
        &base,
        json!({ "title": "t", "epic_id": epic_a["id"] }),
        &alice,
    )
    .await;
    assert_eq!(created["epic_id"], epic_a["id"]);
    let moved = app
        .patch_as(
            &format!("{base}/tasks/1"),
            json!({ "version": 1, "epic_id": epic_b["id"] }),
            &alice,
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["epic_id"], epic_b["id"]);

    let refused = app
        .patch_as(
            &format!("{base}/tasks/1"),
            json!({ "version": 2, "epic_id": foreign["id"] }),
            &alice,
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.code(), "unknown_epic");
    let refused = app
        .post_as(
            &format!("{base}/tasks"),
            json!({ "title": "t", "epic_id": foreign["id"] }),
            &alice,
        )
        .await;
    assert_eq!(refused.code(), "unknown_epic");

    let cleared = app
        .patch_as(
            &format!("{base}/tasks/1"),
            json!({ "version": 2, "epic_id": null }),
            &alice,
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK);
    assert!(cleared.body["epic_id"].is_null());
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn deleting_an_epic_keeps_its_tasks_without_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = app.project_path("P", &alice).await;
    let epic = app
        .post_as(&format!("{base}/epics"), json!({ "title": "E" }), &alice)
        .await
        .body;
    let epic_path = format!("{base}/epics/{}", epic["id"].as_str().unwrap());
    task(
        &app,
        &base,
        json!({ "title": "t", "epic_id": epic["id"] }),
        &alice,
    )
    .await;

    assert_eq!(
        app.delete_as(&epic_path, &alice).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_as(&epic_path, &alice).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get_as(&format!("{base}/epics"), &alice).await.body,
        json!({ "items": [], "next_cursor": null })
    );
    let task = app.get_as(&format!("{base}/tasks/1"), &alice).await.body;
    assert!(task["epic_id"].is_null());
    assert_eq!(
        task["version"], 2,
        "detaching is a change other editors must see"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn epics_are_listed_in_position_order_and_validate_dates(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = app.project_path("P", &alice).await;
    app.post_as(
        &format!("{base}/epics"),
        json!({ "title": "second", "position": 2.0 }),
        &alice,
    )
    .await;
    app.post_as(
        &format!("{base}/epics"),
        json!({ "title": "first", "position": 1.0 }),
        &alice,
    )
    .await;
    let titles: Vec<Value> = app.get_as(&format!("{base}/epics"), &alice).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].clone())
        .collect();
    assert_eq!(titles, [json!("first"), json!("second")]);

    let reply = app
        .post_as(
            &format!("{base}/epics"),
            json!({ "title": "x", "start_date": "2025-05-02", "target_date": "2025-05-01" }),
            &alice,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.code(), "invalid_dates");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn completion_follows_status_and_stale_edits_conflict(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = app.project_path("P", &alice).await;
    task(
        &app,
        &base,
        json!({ "title": "t", "priority": "high" }),
        &alice,
    )
    .await;
    let path = format!("{base}/tasks/1");

    let done = app
        .patch_as(&path, json!({ "version": 1, "status": "done" }), &alice)
        .await;
    assert!(done.body["completed_at"].is_string(), "{}", done.body);
    let reopened = app
        .patch_as(&path, json!({ "version": 2, "status": "todo" }), &alice)
        .await;
    assert!(reopened.body["completed_at"].is_null());

    let stale = app
        .patch_as(&path, json!({ "version": 2, "title": "late" }), &alice)
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.code(), "version_conflict");

    let reply = app
        .patch_as(&path, json!({ "version": 3, "status": "blocked" }), &alice)
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = app
        .patch_as(&path, json!({ "version": 3, "estimate": -1 }), &alice)
        .await;
    assert_eq!(reply.code(), "invalid_estimate");
    let reply = app
        .patch_as(
            &path,
            json!({ "version": 3, "assignee_id": uuid::Uuid::new_v4() }),
            &alice,
        )
        .await;
    assert_eq!(reply.code(), "assignee_not_member");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn tasks_filter_by_status_epic_and_assignee_and_page(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let base = app.project_path("P", &alice).await;
    app.add_member(&base, &bob, "editor", &alice).await;
    let epic = app
        .post_as(&format!("{base}/epics"), json!({ "title": "E" }), &alice)
        .await
        .body;
    task(
        &app,
        &base,
        json!({ "title": "1", "status": "todo" }),
        &alice,
    )
    .await;
    task(
        &app,
        &base,
        json!({ "title": "2", "status": "todo", "epic_id": epic["id"] }),
        &alice,
    )
    .await;
    task(
        &app,
        &base,
        json!({ "title": "3", "assignee_id": bob.id, "epic_id": epic["id"] }),
        &alice,
    )
    .await;
    task(
        &app,
        &base,
        json!({ "title": "4", "status": "todo", "assignee_id": bob.id }),
        &alice,
    )
    .await;

    let numbers = |reply: &Reply| -> Vec<i64> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["number"].as_i64().unwrap())
            .collect()
    };
    let epic_id = epic["id"].as_str().unwrap();
    assert_eq!(
        numbers(
            &app.get_as(&format!("{base}/tasks?status=todo"), &alice)
                .await
        ),
        [1, 2, 4]
    );
    assert_eq!(
        numbers(
            &app.get_as(&format!("{base}/tasks?epic_id={epic_id}"), &alice)
                .await
        ),
        [2, 3]
    );
    assert_eq!(
        numbers(
            &app.get_as(&format!("{base}/tasks?assignee_id={}", bob.id), &alice)
                .await
        ),
        [3, 4]
    );
    assert_eq!(
        numbers(
            &app.get_as(
                &format!("{base}/tasks?status=todo&assignee_id={}", bob.id),
                &alice
            )
            .await
        ),
        [4]
    );

    let first = app.get_as(&format!("{base}/tasks?limit=3"), &alice).await;
    assert_eq!(numbers(&first), [1, 2, 3]);
    let cursor = first.body["next_cursor"].as_str().expect("next page");
    let second = app
        .get_as(&format!("{base}/tasks?limit=3&cursor={cursor}"), &alice)
        .await;
    assert_eq!(numbers(&second), [4]);
    assert!(second.body["next_cursor"].is_null());

    let reply = app
        .get_as(&format!("{base}/tasks?status=nope"), &alice)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}
