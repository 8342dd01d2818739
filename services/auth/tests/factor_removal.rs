//! Removing a factor (turning TOTP off, removing a passkey, an admin's factor reset) ends the
//! `aal2` of every session of the account: refreshes answer `aal1`, and access tokens signed
//! before the removal no longer pass as `aal2` (the claim is checked against the session, as
//! the role is), also once the account has a factor again.

mod common;

use axum::http::{Method, StatusCode};
use common::{
    TestApp,
    mfa::{Enrolled, assert_step_up_required, code, settle},
    passkey::{self, SoftPasskey, token_of},
};
use serde_json::{Value, json};
use sqlx::PgPool;

/// `ann` with TOTP and a passkey; returns her, an `aal2` token and the passkey's id.
async fn ann_with_totp_and_passkey(app: &TestApp) -> (Enrolled, String, String, SoftPasskey) {
    let ann = app.enroll_totp("ann").await;
    let aal2 = app.aal2_token(&ann).await;
    let mut key = SoftPasskey::new();
    let added = passkey::register(app, &aal2, &mut key, "Laptop").await;
    let id = added["id"].as_str().expect("passkey id").to_owned();
    (ann, aal2, id, key)
}

/// The session signed in as `signed_in` (an `aal2` sign-in answer) lost its `aal2`: its old
/// access token must step up for a sensitive action, and its refresh answers `aal1`.
async fn assert_aal2_ended(app: &TestApp, signed_in: &Value) {
    assert_eq!(signed_in["aal"], "aal2", "{signed_in}");
    let body = json!({ "email": "ann.new@example.com", "password": common::PASSWORD });
    let changed = app
        .post_as("/api/auth/me/email", body, &token_of(signed_in))
        .await;
    assert_step_up_required(&changed, "a token signed before the factor was removed");
    let body = json!({ "refresh_token": signed_in["refresh_token"] });
    let refreshed = app.post("/api/auth/refresh", body).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(refreshed.body["aal"], "aal1", "{}", refreshed.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn removing_a_passkey_ends_the_aal2_of_every_session(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_ann, aal2, id, mut key) = ann_with_totp_and_passkey(&app).await;
    let other = passkey::passwordless_login(&app, &mut key).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);

    let path = format!("/api/auth/passkeys/{id}");
    let removed = app
        .request(Method::DELETE, &path)
        .bearer(&aal2)
        .send()
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    assert_aal2_ended(&app, &other.body).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn turning_totp_off_ends_the_aal2_of_every_session(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ann, aal2, _, _) = ann_with_totp_and_passkey(&app).await;
    let other = app.sign_in_with_code(&ann).await;

    app.forget_used_steps(&ann.user_id).await;
    settle().await;
    let off = app
        .disable_totp(&aal2, json!({ "code": code(&ann.secret, 0) }))
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.body);
    assert_aal2_ended(&app, &other).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_admin_reset_ends_the_aal2_of_every_session_also_once_a_new_factor_is_on(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let other = app.sign_in_with_code(&ann).await;
    let chief = app.register_admin("chief").await;

    let path = format!("/api/auth/admin/users/{}/mfa", ann.user_id);
    let reset = app
        .request(Method::DELETE, &path)
        .bearer(&token_of(&chief))
        .send()
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    // The owner enrols a new authenticator on her first session: that session proved the new
    // factor, the other one did not.
    app.turn_totp_on(&ann.token).await;
    assert_aal2_ended(&app, &other).await;
}
