//! How long `aal2` lasts: a session keeps it across refreshes for `AAL2_MAX_AGE_SECS` after
//! its last second-factor proof (login with a code, step-up, confirming a factor), password
//! sign-ins are `aal1`, and a login challenge does not outlive the password it was earned with.

mod common;

use axum::http::StatusCode;
use common::{
    PASSWORD, TestApp, enrolment_proof,
    mfa::{assert_step_up_required, claims, code, settle},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::Reply;

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn change_password(app: &TestApp, token: &str) -> Reply {
    app.change_password(token, NEW_PASSWORD).await
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn refreshes_keep_aal2_within_the_window_and_drop_it_after(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let signed_in = app.sign_in_with_code(&ann).await;
    assert_eq!(signed_in["aal"], "aal2");
    let access = signed_in["access_token"].as_str().expect("token");
    assert_eq!(claims(access)["aal"], "aal2");

    let refresh = |token: &Value| {
        let body = json!({ "refresh_token": token.as_str().expect("refresh token") });
        app.post("/api/auth/refresh", body)
    };
    let refreshed = refresh(&signed_in["refresh_token"]).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(refreshed.body["aal"], "aal2", "within the window");
    let access = refreshed.body["access_token"].as_str().expect("token");
    assert_eq!(claims(access)["aal"], "aal2");

    // Thirteen hours later (the window is twelve).
    sqlx::query(
        "UPDATE auth.user_sessions SET second_factor_at = now() - interval '13 hours' WHERE id = $1::uuid",
    )
    .bind(signed_in["session_id"].as_str().expect("session"))
    .execute(&app.pool)
    .await
    .expect("age the proof");
    let late = refresh(&refreshed.body["refresh_token"]).await;
    assert_eq!(late.status, StatusCode::OK, "{}", late.body);
    assert_eq!(late.body["aal"], "aal1", "past the window");
    let access = late.body["access_token"].as_str().expect("token");
    assert_eq!(claims(access)["aal"], "aal1");
    assert_step_up_required(&change_password(&app, access).await, "after the window");

    // A step-up lifts the session again, for its refreshes too.
    app.forget_used_steps(&ann.user_id).await;
    settle().await;
    let stepped = app
        .step_up(access, json!({ "code": code(&ann.secret, 0) }))
        .await;
    assert_eq!(stepped.status, StatusCode::OK, "{}", stepped.body);
    let again = refresh(&late.body["refresh_token"]).await;
    assert_eq!(again.body["aal"], "aal2", "{}", again.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_window_is_a_setting(pool: PgPool) {
    let config = common::config(json!({ "aal2_max_age_secs": 0 }));
    let app = TestApp::with_config(pool, config).await;
    let ann = app.enroll_totp("ann").await;
    let signed_in = app.sign_in_with_code(&ann).await;
    assert_eq!(
        signed_in["aal"], "aal2",
        "the login itself proved the factor"
    );
    let body = json!({ "refresh_token": signed_in["refresh_token"] });
    let refreshed = app.post("/api/auth/refresh", body).await;
    assert_eq!(
        refreshed.body["aal"], "aal1",
        "no window: refreshes drop it"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn password_logins_are_aal1_and_confirming_a_factor_lifts_the_next_refresh(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let signed_in = app.register("bob").await;
    assert_eq!(signed_in["aal"], "aal1");
    let login = app.login("bob", PASSWORD).await;
    assert_eq!(login.body["aal"], "aal1");
    let token = login.body["access_token"].as_str().expect("token");
    let enrolled = app
        .post_as("/api/auth/mfa/totp/enroll", enrolment_proof(), token)
        .await;
    let secret = enrolled.body["secret"].as_str().expect("secret");
    settle().await;
    let confirmed = app
        .post_as(
            "/api/auth/mfa/totp/confirm",
            json!({ "code": code(secret, 0) }),
            token,
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let body = json!({ "refresh_token": login.body["refresh_token"] });
    let refreshed = app.post("/api/auth/refresh", body).await;
    assert_eq!(
        refreshed.body["aal"], "aal2",
        "the confirming code proved the factor"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_pending_mfa_token_dies_when_the_password_changes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let pending = app.mfa_token("ann").await;
    let aal2 = app.aal2_token(&ann).await;
    let changed = change_password(&app, &aal2).await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    app.forget_used_steps(&ann.user_id).await;
    let late = app
        .login_mfa(json!({ "mfa_token": pending, "code": code(&ann.secret, 0) }))
        .await;
    assert_eq!(
        (late.status, late.code()),
        (StatusCode::UNAUTHORIZED, "invalid_mfa_token"),
        "{}",
        late.body
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_pending_mfa_token_dies_when_the_password_is_reset(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let pending = app.mfa_token("ann").await;
    app.ask_password_reset("ann@example.com").await;
    let body = json!({ "token": app.mail.last_token(), "new_password": NEW_PASSWORD });
    let reset = app.post("/api/auth/reset-password", body).await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    settle().await;
    let late = app
        .login_mfa(json!({ "mfa_token": pending, "code": code(&ann.secret, 0) }))
        .await;
    assert_eq!(late.code(), "invalid_mfa_token", "{}", late.body);
}
