//! GitHub stands in for the password, not for the second factor: an account with TOTP on
//! finishes a GitHub sign-in at `POST /api/auth/login/mfa`, and a takeover of an unverified
//! account removes the factor its registrant set up.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::{
    common::mfa::{code, settle},
    mock_github::octocat,
    support::{JSON_ACCEPT, fragment_tokens, location, setup, sign_in, sign_in_json},
};

async fn verify(app: &crate::common::TestApp, user_id: &str) {
    let id: uuid::Uuid = user_id.parse().expect("uuid");
    sqlx::query("UPDATE auth.users SET is_verified = true WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .expect("verify");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_account_with_totp_is_asked_for_the_code_after_github(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let alice = app.enroll_totp("alice").await;
    verify(&app, &alice.user_id).await;
    let mona = octocat().with_email("alice@example.com");

    let asked = sign_in(&app, &github, mona.clone(), JSON_ACCEPT).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert_eq!(asked.body["mfa_required"], true, "{}", asked.body);
    assert!(
        asked.body.get("access_token").is_none(),
        "no tokens before the code"
    );
    settle().await;
    let finished = app
        .login_mfa(json!({ "mfa_token": asked.body["mfa_token"], "code": code(&alice.secret, 0) }))
        .await;
    assert_eq!(finished.status, StatusCode::OK, "{}", finished.body);
    assert_eq!(finished.body["user"]["id"], alice.user_id.as_str());
    assert_eq!(
        finished.body["aal"], "aal2",
        "GitHub and the code: two factors"
    );
    let access = finished.body["access_token"].as_str().expect("token");
    assert_eq!(crate::common::mfa::claims(access)["aal"], "aal2");

    let redirected = sign_in(&app, &github, mona, "text/html").await;
    assert_eq!(redirected.status, StatusCode::FOUND, "{}", redirected.body);
    let fragment = fragment_tokens(location(&redirected));
    assert_eq!(
        fragment.get("mfa_required").map(String::as_str),
        Some("true")
    );
    assert!(fragment.contains_key("mfa_token"), "{fragment:?}");
    assert!(!fragment.contains_key("access_token"), "{fragment:?}");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn taking_over_an_unverified_account_removes_its_registrants_factor(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let squatter = app.enroll_totp("owner").await;
    let mona = octocat().with_email("owner@example.com");

    let body = sign_in_json(&app, &github, mona).await;
    assert_eq!(body["user"]["id"], squatter.user_id.as_str());
    let token = body["access_token"]
        .as_str()
        .expect("signed in without a code");
    let me = app.get_as("/api/auth/me", token).await;
    assert_eq!(me.body["mfa"]["totp"], false, "{}", me.body);
    assert_eq!(me.body["mfa"]["recovery_codes_left"], 0, "{}", me.body);
}
