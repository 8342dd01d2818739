//! Text PostgreSQL cannot store (NUL) is refused with 422 `invalid_text` in every field,
//! whatever the field's own rules, before any password is hashed or row written.

mod common;

use axum::http::StatusCode;
use common::{PASSWORD, TestApp};
use serde_json::json;
use sqlx::PgPool;
use testkit::assert_invalid_text;

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM auth.{table}"))
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn registering_with_nul_in_any_field_is_refused_alike(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let valid = json!({
        "email": "alice@example.com",
        "username": "alice",
        "full_name": "Alice Liddell",
        "password": PASSWORD,
    });
    for field in ["email", "username", "full_name", "password"] {
        let mut body = valid.clone();
        body[field] = json!(format!("{}\0", valid[field].as_str().expect("text")));
        let reply = app.post("/api/auth/register", body).await;
        assert_invalid_text(&reply, field);
    }
    assert_eq!(count(&app, "users").await, 0);
    assert_eq!(count(&app, "user_sessions").await, 0);
    assert_eq!(count(&app, "audit_log").await, 0);

    let reply = app.post("/api/auth/register", valid).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn signing_in_and_editing_the_profile_with_nul_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let registered = app.register("alice").await;
    let token = registered["access_token"].as_str().expect("token");
    let audit_before = count(&app, "audit_log").await;

    let reply = app
        .post(
            "/api/auth/login",
            json!({ "login": "alice\0", "password": PASSWORD }),
        )
        .await;
    assert_invalid_text(&reply, "login");
    assert_eq!(count(&app, "audit_log").await, audit_before);

    let reply = app
        .patch_as("/api/auth/me", json!({ "full_name": "Mallory\0" }), token)
        .await;
    assert_invalid_text(&reply, "full_name");
    let me = app.get_as("/api/auth/me", token).await;
    assert_eq!(me.body["full_name"], "Test User");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_oauth_callback_refuses_nul_in_its_query(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let reply = app
        .get("/api/auth/oauth/github/callback?code=c%00&state=s")
        .await;
    assert_invalid_text(&reply, "query parameter `code`");
}
