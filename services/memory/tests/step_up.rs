//! Managing shared knowledge is an admin action: an admin with a second factor adds, deletes,
//! exports and imports shared documents only with an `aal2` token (403 `step_up_required`
//! otherwise). An admin without a factor, and anyone's own documents, are unaffected.

mod common;

use authn::{Aal, Role};
use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;
use sqlx::PgPool;
use testkit::assert_step_up_required;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_admin_with_a_factor_manages_shared_documents_only_at_aal2(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // An admin without a factor has nothing to step up with: aal1 is enough.
    let plain = app.user(Role::Admin).await;
    let shared = json!({"source": "docs", "content": "Shared notes on borrowing.", "shared": true});
    let before = app.ingest(&plain, shared).await;
    assert_eq!(before.status, StatusCode::CREATED, "{}", before.body);
    let id = before.body["document"]["id"].as_str().unwrap().to_owned();

    let admin = app.user(Role::Admin).await;
    testkit::give_second_factor(&app.pool, admin.id).await;
    let weak = &admin;
    let strong = app.tokens.user_at(&admin, Aal::Aal2);
    let other = json!({"source": "docs", "content": "More shared notes.", "shared": true});
    assert_step_up_required(&app.ingest(weak, other.clone()).await);
    let batch = json!({"documents": [other.clone()]});
    let answered = app
        .post_as("/api/memory/documents/batch", batch, weak)
        .await;
    assert_eq!(
        answered.body["items"][0]["error"]["code"], "step_up_required",
        "{}",
        answered.body
    );
    assert_step_up_required(&app.get_as("/api/memory/export?scope=shared", weak).await);
    let path = format!("/api/memory/documents/{id}");
    assert_step_up_required(&app.delete_as(&path, weak).await);

    // The admin's own documents are not an admin action.
    let own = json!({"source": "notes", "content": "My own note."});
    assert_eq!(app.ingest(weak, own).await.status, StatusCode::CREATED);

    assert_eq!(app.ingest(&strong, other).await.status, StatusCode::CREATED);
    assert_eq!(
        app.get_as("/api/memory/export?scope=shared", &strong)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.delete_as(&path, &strong).await.status,
        StatusCode::NO_CONTENT
    );
}
