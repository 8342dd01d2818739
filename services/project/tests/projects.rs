//! Projects: ownership, slugs, optimistic concurrency, soft delete, pagination.

mod common;

use authn::Role;
use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn requests_without_a_valid_token_are_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let reply = app.get("/api/projects").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "missing_token");
    let reply = app.get_as("/api/projects", "not.a.token").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "invalid_token");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn slugs_are_derived_and_unique_per_owner(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    assert_eq!(app.project("My App!", &alice).await["slug"], "my-app");
    assert_eq!(app.project("my app", &alice).await["slug"], "my-app-2");
    assert_eq!(app.project("My App", &bob).await["slug"], "my-app");

    let reply = app
        .post_as(
            "/api/projects",
            json!({ "name": "Other", "slug": "my-app" }),
            &alice,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "slug_taken");

    let reply = app
        .post_as(
            "/api/projects",
            json!({ "name": "Other", "slug": "Bad Slug" }),
            &alice,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.code(), "invalid_slug");

    let reply = app
        .post_as("/api/projects", json!({ "name": "   " }), &alice)
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.code(), "invalid_name");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn other_users_projects_do_not_exist_for_them(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let path = app.project_path("Secret", &alice).await;

    for reply in [
        app.get_as(&path, &mallory).await,
        app.patch_as(&path, json!({ "version": 1, "name": "pwned" }), &mallory)
            .await,
        app.delete_as(&path, &mallory).await,
        app.get_as(&format!("{path}/tasks"), &mallory).await,
        app.get_as(&format!("{path}/activity"), &mallory).await,
    ] {
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
        assert_eq!(reply.code(), "not_found");
    }
    let listed = app.get_as("/api/projects", &mallory).await;
    assert_eq!(listed.body["items"], json!([]));
    assert_eq!(app.get_as(&path, &alice).await.body["name"], "Secret");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn admins_read_any_project_but_cannot_change_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let admin = app.user_with_role("root", Role::Admin).await;
    let path = app.project_path("Audited", &alice).await;

    let reply = app.get_as(&path, &admin).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        app.get_as(&format!("{path}/activity"), &admin).await.status,
        StatusCode::OK
    );
    let reply = app
        .patch_as(&path, json!({ "version": 1, "name": "x" }), &admin)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.code(), "forbidden");
    assert_eq!(
        app.delete_as(&path, &admin).await.status,
        StatusCode::FORBIDDEN
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn stale_versions_conflict_instead_of_overwriting(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let path = app.project_path("Draft", &alice).await;

    let first = app
        .patch_as(
            &path,
            json!({ "version": 1, "name": "Final", "status": "archived" }),
            &alice,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["version"], 2);
    assert_eq!(first.body["status"], "archived");
    assert_eq!(first.body["slug"], "draft", "renaming keeps the slug");

    let stale = app
        .patch_as(
            &path,
            json!({ "version": 1, "description": "lost update" }),
            &alice,
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.code(), "version_conflict");
    let current = app.get_as(&path, &alice).await;
    assert_eq!(current.body["description"], "");
    assert_eq!(current.body["version"], 2);

    let reply = app
        .patch_as(&path, json!({ "version": 2, "status": "gone" }), &alice)
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn deleting_a_project_hides_it_and_frees_its_slug(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Temp", &alice).await;
    let path = format!("/api/projects/{id}");

    assert_eq!(
        app.delete_as(&path, &alice).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_as(&path, &alice).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete_as(&path, &alice).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.project("Temp", &alice).await["slug"], "temp");

    let deleted_at: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT deleted_at FROM projects.projects WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .expect("row kept");
    assert!(deleted_at.is_some(), "soft delete keeps the row");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn project_list_pages_by_cursor_and_filters_by_status(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(app.project(&format!("P{n}"), &alice).await["id"].clone());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            Some(c) => format!("/api/projects?limit=2&cursor={c}"),
            None => "/api/projects?limit=2".to_owned(),
        };
        let reply = app.get_as(&url, &alice).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        pages += 1;
        seen.extend(
            reply.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].clone()),
        );
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    created.reverse();
    assert_eq!(seen, created, "newest first, each exactly once");

    let archived = created[1].as_str().unwrap();
    let reply = app
        .patch_as(
            &format!("/api/projects/{archived}"),
            json!({ "version": 1, "status": "archived" }),
            &alice,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app.get_as("/api/projects?status=archived", &alice).await;
    let items = reply.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], archived);

    let reply = app.get_as("/api/projects?cursor=garbage", &alice).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "invalid_cursor");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn openapi_describes_every_route(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    let paths = reply.body["paths"].as_object().expect("paths");
    for path in [
        "/api/projects",
        "/api/projects/{project_id}",
        "/api/projects/{project_id}/activity",
        "/api/projects/{project_id}/epics/{epic_id}",
        "/api/projects/{project_id}/tasks/{number}",
        "/api/projects/{project_id}/files",
        "/api/projects/{project_id}/files/{path}",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    let file_methods = &reply.body["paths"]["/api/projects/{project_id}/files/{path}"];
    for method in ["get", "put", "delete"] {
        assert!(
            file_methods.get(method).is_some(),
            "{method} files/{{path}}"
        );
    }
}

/// docs/api.md: every list answers `{items, next_cursor}`, and a cursor this API did not make
/// is a 400 wherever a list pages.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn every_list_answers_one_page_shape(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = app.project_path("Shapes", &alice).await;
    // Files come whole unless a page is asked for, so a made-up cursor is refused there too.
    let paged = [
        "/api/projects".to_owned(),
        format!("{base}/tasks"),
        format!("{base}/activity"),
        format!("{base}/files"),
    ];
    let whole = [format!("{base}/epics")];
    for list in paged.iter().chain(&whole) {
        let reply = app.get_as(list, &alice).await;
        assert_eq!(reply.status, StatusCode::OK, "{list}");
        let keys: Vec<&String> = reply.body.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["items", "next_cursor"], "{list}");
        assert!(reply.body["items"].is_array(), "{list}");
    }
    for list in &paged {
        let reply = app.get_as(&format!("{list}?cursor=made-up"), &alice).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_cursor"),
            "{list}"
        );
    }
}
