//! Admins reset a user's second factor: audited with the acting admin, mailed to the owner,
//! the owner's sessions kept but no longer `aal2`; the usual admin rules apply, and an admin
//! with a factor of their own acts at `aal2` only.

mod common;

use axum::http::{Method, StatusCode};
use common::{
    PASSWORD, TestApp,
    mfa::{claims, code, settle},
};
use serde_json::json;
use sqlx::PgPool;
use testkit::Reply;

/// Registers `name` with `role`; returns (user id, access token).
async fn account(app: &TestApp, name: &str, role: &str) -> (String, String) {
    let body = app.register(name).await;
    let id = body["user"]["id"].as_str().expect("id").to_owned();
    set_role(app, &id, role).await;
    (id, body["access_token"].as_str().expect("token").to_owned())
}

async fn set_role(app: &TestApp, user_id: &str, role: &str) {
    let id = db::ids::UserId(user_id.parse().expect("uuid"));
    db::auth::admin::set_role(&app.pool, id, role)
        .await
        .expect("set role");
}

async fn reset(app: &TestApp, token: &str, user_id: &str) -> Reply {
    let path = format!("/api/auth/admin/users/{user_id}/mfa");
    app.request(Method::DELETE, &path)
        .bearer(token)
        .send()
        .await
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_admin_resets_a_users_factor_audited_and_mailed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let (root_id, root) = account(&app, "chief", "admin").await;
    // Ann's second session is aal2, and she has a login challenge pending.
    app.forget_used_steps(&ann.user_id).await;
    settle().await;
    let mfa_token = app.mfa_token("ann").await;
    let signed_in = app
        .login_mfa(json!({ "mfa_token": mfa_token, "code": code(&ann.secret, 0) }))
        .await;
    assert_eq!(signed_in.body["aal"], "aal2", "{}", signed_in.body);
    let pending = app.mfa_token("ann").await;

    let done = reset(&app, &root, &ann.user_id).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);

    app.assert_no_second_factor(&ann).await;
    let challenge = app
        .login_mfa(json!({ "mfa_token": pending, "recovery_code": ann.recovery_codes[0] }))
        .await;
    assert_eq!(
        challenge.code(),
        "invalid_mfa_token",
        "pending challenges die"
    );
    let body = json!({ "refresh_token": signed_in.body["refresh_token"] });
    let refreshed = app.post("/api/auth/refresh", body).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let access = refreshed.body["access_token"].as_str().expect("token");
    assert_eq!(
        claims(access)["aal"],
        "aal1",
        "the old proof no longer lifts it"
    );

    let row: (bool, serde_json::Value) = sqlx::query_as(
        "SELECT success, details FROM auth.audit_log WHERE action = 'admin.mfa_reset' AND user_id = $1::uuid",
    )
    .bind(&ann.user_id)
    .fetch_one(&app.pool)
    .await
    .expect("one audit row");
    assert!(row.0);
    assert_eq!(row.1["actor_id"], root_id);
    assert_eq!(row.1["totp_was_confirmed"], true);
    assert_eq!(row.1["recovery_codes_removed"], 10);

    app.deliver_mail().await;
    let sent = app.mail.sent.lock().expect("lock").clone();
    let notice = sent
        .iter()
        .find(|mail| mail.subject == "Two-factor sign-in was reset by an administrator")
        .expect("the owner is mailed");
    assert_eq!(notice.to, "ann@example.com");
    assert!(
        notice.body.contains("administrator removed"),
        "{}",
        notice.body
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_admin_with_a_factor_resets_only_at_aal2(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (bob_id, _) = account(&app, "bob", "user").await;
    let bob_factor = db::ids::UserId(bob_id.parse().expect("uuid"));
    db::auth::mfa::save_pending_totp(&app.pool, bob_factor, &[7u8; 40])
        .await
        .expect("a pending factor is a factor to reset");
    let root = app.enroll_totp("chief").await;
    set_role(&app, &root.user_id, "admin").await;

    let refused = reset(&app, &root.token, &bob_id).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "step_up_required"),
        "{}",
        refused.body
    );
    let aal2 = app.aal2_token(&root).await;
    let done = reset(&app, &aal2, &bob_id).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn resets_follow_the_admin_rules(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let (admin_id, admin) = account(&app, "chief", "admin").await;
    let (_, super_admin) = account(&app, "boss", "super_admin").await;
    let other_admin = app.enroll_totp("deputy").await;
    set_role(&app, &other_admin.user_id, "admin").await;
    let (plain_id, _) = account(&app, "plain", "user").await;

    let by_a_user = reset(&app, &ann.token, &plain_id).await;
    assert_eq!(by_a_user.code(), "forbidden", "plain users are refused");
    let of_an_admin = reset(&app, &admin, &other_admin.user_id).await;
    assert_eq!(of_an_admin.code(), "forbidden", "{}", of_an_admin.body);
    let own = reset(&app, &admin, &admin_id).await;
    assert_eq!(own.code(), "forbidden");
    let unknown = reset(&app, &admin, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(unknown.code(), "not_found");
    let without = reset(&app, &admin, &plain_id).await;
    assert_eq!(
        (without.status, without.code()),
        (StatusCode::CONFLICT, "mfa_not_enabled")
    );
    let bad_id = reset(&app, &admin, "not-a-uuid").await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST, "{}", bad_id.body);

    let by_super = reset(&app, &super_admin, &other_admin.user_id).await;
    assert_eq!(by_super.status, StatusCode::NO_CONTENT, "{}", by_super.body);
    let twice = reset(&app, &super_admin, &other_admin.user_id).await;
    assert_eq!(twice.code(), "mfa_not_enabled", "nothing left to reset");
    let trail = app.audit_trail(&ann.user_id).await;
    assert!(
        !trail.iter().any(|row| row.starts_with("admin.mfa_reset")),
        "{trail:?}"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_admin_reset_removes_passkeys_too(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ann_id, _, mut key) = common::passkey::with_passkey(&app, "ann").await;
    let (_, root) = account(&app, "chief", "admin").await;
    assert_eq!(app.login("ann", PASSWORD).await.body["mfa_required"], true);

    let done = reset(&app, &root, &ann_id).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    let login = common::passkey::passwordless_login(&app, &mut key).await;
    assert_eq!(login.code(), "invalid_passkey", "{}", login.body);
    let password = app.login("ann", PASSWORD).await;
    assert!(
        password.body["access_token"].is_string(),
        "{}",
        password.body
    );
    let details: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM auth.audit_log WHERE action = 'admin.mfa_reset' AND user_id = $1::uuid",
    )
    .bind(&ann_id)
    .fetch_one(&app.pool)
    .await
    .expect("one audit row");
    assert_eq!(details["passkeys_removed"], 1);
    assert_eq!(reset(&app, &root, &ann_id).await.code(), "mfa_not_enabled");
}
