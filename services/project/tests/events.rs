//! Live updates: `GET /api/projects/{id}/events` streams each committed change to members,
//! resumes after `Last-Event-ID`, and stops for someone who loses access. (Two replicas
//! seeing each other's changes, through gateways: `gateway/tests/replicas.rs`.)

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::TestApp;
use project::AppState;
use serde_json::json;
use sqlx::PgPool;
use testkit::{SseReader, User};

const SOON: Duration = Duration::from_secs(10);

/// The app served on loopback (streams need a real connection); its base URL.
async fn serve(app: &TestApp) -> String {
    let state = AppState::new(
        app.pool.clone(),
        app.tokens.verifier(),
        &app.files_dir,
        Default::default(),
    );
    let address = testkit::serve_on_loopback(project::app(state)).await;
    format!("http://{address}")
}

async fn subscribe(
    base: &str,
    project: &str,
    who: &User,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let mut request = testkit::http_client()
        .get(format!("{base}/api/projects/{project}/events"))
        .bearer_auth(&who.token);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    request.send().await.expect("connect")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_member_receives_each_committed_change_once_in_order(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let base = serve(&app).await;
    let owner = app.user("owner").await;
    let viewer = app.user("viewer").await;
    let project = app.project_id("Live", &owner).await;
    app.add_member(&project, &viewer, "viewer", &owner).await;

    let mut events = SseReader::new(subscribe(&base, &project, &viewer, None).await);
    let tasks = format!("/api/projects/{project}/tasks");
    for title in ["First", "Second"] {
        let reply = app.post_as(&tasks, json!({ "title": title }), &owner).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let refused = app.post_as(&tasks, json!({ "title": "" }), &owner).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rolled-back change"
    );
    app.patch_as(
        &format!("{tasks}/1"),
        json!({ "version": 1, "status": "done" }),
        &owner,
    )
    .await;

    let mut seen = Vec::new();
    for _ in 0..3 {
        let event = events.next_within(SOON).await.expect("an event");
        assert_eq!(event.data["id"].as_str(), Some(event.id.as_str()));
        assert_eq!(event.data["action"].as_str(), Some(event.event.as_str()));
        seen.push((event.event, event.data["details"]["number"].clone()));
    }
    assert_eq!(
        seen,
        [
            ("task.created".to_owned(), json!(1)),
            ("task.created".to_owned(), json!(2)),
            ("task.updated".to_owned(), json!(1)),
        ],
        "only what was there before the stream opened is left out"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn last_event_id_resumes_right_after_that_event(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let base = serve(&app).await;
    let owner = app.user("owner").await;
    let project = app.project_id("Resume", &owner).await;
    let tasks = format!("/api/projects/{project}/tasks");
    for title in ["a", "b", "c"] {
        app.post_as(&tasks, json!({ "title": title }), &owner).await;
    }
    let feed = app
        .get_as(&format!("/api/projects/{project}/activity"), &owner)
        .await;
    // Newest first: c, b, a, project.created.
    let after_a = feed.body["items"][2]["id"].as_str().expect("id").to_owned();

    let mut events = SseReader::new(subscribe(&base, &project, &owner, Some(&after_a)).await);
    for title in ["b", "c"] {
        let event = events.next_within(SOON).await.expect("a missed event");
        assert_eq!(event.data["details"]["title"], title);
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn strangers_and_foreign_event_ids_are_refused_before_streaming(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let base = serve(&app).await;
    let owner = app.user("owner").await;
    let stranger = app.user("stranger").await;
    let project = app.project_id("Closed", &owner).await;
    let other = app.project_id("Other", &owner).await;
    let feed = app
        .get_as(&format!("/api/projects/{other}/activity"), &owner)
        .await;
    let foreign = feed.body["items"][0]["id"].as_str().expect("id").to_owned();

    let hidden = subscribe(&base, &project, &stranger, None).await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    let anonymous = testkit::http_client()
        .get(format!("{base}/api/projects/{project}/events"))
        .send()
        .await
        .expect("connect");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let admin = app.user_with_role("admin", authn::Role::Admin).await;
    SseReader::new(subscribe(&base, &project, &admin, None).await);
    for bad in [foreign.as_str(), "not-a-uuid"] {
        let refused = subscribe(&base, &project, &owner, Some(bad)).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: serde_json::Value = refused.json().await.expect("json");
        assert_eq!(body["error"]["code"], "invalid_last_event_id");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_removed_member_stops_receiving(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let base = serve(&app).await;
    let owner = app.user("owner").await;
    let former = app.user("former").await;
    let project = app.project_id("Revoked", &owner).await;
    app.add_member(&project, &former, "editor", &owner).await;
    let mut events = SseReader::new(subscribe(&base, &project, &former, None).await);

    let path = format!("/api/projects/{project}/members/{}", former.id);
    assert_eq!(
        app.delete_as(&path, &owner).await.status,
        StatusCode::NO_CONTENT
    );
    app.post_as(
        &format!("/api/projects/{project}/tasks"),
        json!({ "title": "Secret" }),
        &owner,
    )
    .await;
    assert!(
        events.next_within(SOON).await.is_none(),
        "the stream ends without sending anything after the removal"
    );
}
