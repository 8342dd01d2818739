//! An access token is only as good as its session: when auth ends a session (logout,
//! logout-all, password change or reset, refresh-token reuse), deactivates the user or
//! changes their role, this service follows within a second — not when the token expires.

mod common;

use authn::Role;
use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;
use sqlx::PgPool;
use testkit::User;

/// Longer than a remembered answer lives, well inside the promised second.
async fn let_caches_expire() {
    tokio::time::sleep(authn::REMEMBER_FOR + std::time::Duration::from_millis(100)).await;
}

async fn sessions_of(app: &TestApp, user: &User) -> Vec<db::ids::SessionId> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id: db::ids::SessionId" FROM auth.user_sessions WHERE user_id = $1"#,
        user.id
    )
    .fetch_all(&app.pool)
    .await
    .expect("sessions")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn every_way_auth_ends_a_session_reaches_this_service(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // The reasons auth writes, each ending a different user's only session.
    for reason in [
        "logout",
        "logout_all",
        "password_changed",
        "password_reset",
        "refresh_token_reuse",
    ] {
        let user = app.user(&format!("u_{reason}")).await;
        let created = app
            .post_as("/api/projects", json!({ "name": "Live" }), &user)
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{reason}: {}",
            created.body
        );
        for session in sessions_of(&app, &user).await {
            db::auth::sessions::revoke(&app.pool, session, reason)
                .await
                .expect("revoke");
        }
        let_caches_expire().await;
        let refused = app
            .post_as("/api/projects", json!({ "name": "Ghost" }), &user)
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::UNAUTHORIZED, "session_revoked"),
            "{reason}"
        );
        let read = app.get_as("/api/projects", &user).await;
        assert_eq!(read.status, StatusCode::UNAUTHORIZED, "{reason}: reads too");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_deactivated_user_is_refused_at_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    assert_eq!(
        app.get_as("/api/projects", &alice).await.status,
        StatusCode::OK
    );
    sqlx::query!(
        "UPDATE auth.users SET is_active = false WHERE id = $1",
        alice.id
    )
    .execute(&app.pool)
    .await
    .expect("deactivate");
    let_caches_expire().await;
    let refused = app.get_as("/api/projects", &alice).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_demoted_admin_loses_admin_reads_although_the_token_says_admin(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let admin = app.user_with_role("root", Role::Admin).await;
    let path = app.project_path("Private", &alice).await;
    assert_eq!(app.get_as(&path, &admin).await.status, StatusCode::OK);

    db::auth::admin::set_role(&app.pool, db::ids::UserId(admin.id), "user")
        .await
        .expect("demote");
    let_caches_expire().await;
    assert_eq!(
        app.get_as(&path, &admin).await.status,
        StatusCode::NOT_FOUND,
        "the role comes from the database, not the token's stale claim"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_token_for_a_session_that_never_existed_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    // Correctly signed, naming a session that was never opened.
    let forged = app.tokens.issue(alice.id, uuid::Uuid::new_v4(), Role::User);
    let refused = app.get_as("/api/projects", &forged).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "session_revoked")
    );
}
