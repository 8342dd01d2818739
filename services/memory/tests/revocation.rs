//! A logged-out session's access token stops working here within a second, although its
//! signature stays valid until it expires.

mod common;

use authn::Role;
use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_revoked_session_can_neither_ingest_nor_search(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let document =
        json!({ "source": "notes", "title": "Before", "content": "Written while signed in." });
    let before = app.ingest(&alice, document).await;
    assert_eq!(before.status, StatusCode::CREATED, "{}", before.body);

    sqlx::query!(
        "UPDATE auth.user_sessions SET revoked_at = now(), revoked_reason = 'logout'
         WHERE user_id = $1",
        alice.id
    )
    .execute(&app.pool)
    .await
    .expect("logout");
    tokio::time::sleep(authn::REMEMBER_FOR + std::time::Duration::from_millis(100)).await;

    let after = json!({ "source": "notes", "title": "After", "content": "Written by a thief." });
    let refused = app.ingest(&alice, after).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert_eq!(refused.code(), "session_revoked");
    let searched = app.search(&alice, json!({ "query": "signed in" })).await;
    assert_eq!(searched.status, StatusCode::UNAUTHORIZED);
}
