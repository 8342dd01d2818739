//! A GitHub sign-in that takes over an unverified account with its email (its registrant never
//! proved the address, GitHub just did) leaves the registrant nothing that still signs in or
//! acts on the account: no passkey, no mailed link, no login challenge, no ceremony. The
//! password, sessions and TOTP are covered in `linking.rs` and `second_factor.rs`.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::{
    common::passkey::{self, assert_refused, token_of, with_passkey},
    mock_github::octocat,
    support::{audit_details, setup, sign_in_json},
};

async fn ceremonies_of(app: &crate::common::TestApp, user_id: &str) -> i64 {
    let id: uuid::Uuid = user_id.parse().expect("uuid");
    sqlx::query_scalar("SELECT count(*) FROM auth.passkey_ceremonies WHERE user_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_takeover_removes_the_registrants_passkeys_and_what_rests_on_them(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let (user_id, _, mut key) = with_passkey(&app, "owner").await;
    // A login waiting for its passkey, and a second registration left unfinished.
    let mfa_token = app.mfa_token("owner").await;
    let aal2 = token_of(&passkey::passwordless_login(&app, &mut key).await.body);
    let started = app
        .post_as("/api/auth/passkeys/register/start", json!({}), &aal2)
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let mona = octocat().with_email("owner@example.com");

    let body = sign_in_json(&app, &github, mona.clone()).await;
    assert_eq!(body["user"]["id"], user_id.as_str());

    // The registrant's passkey no longer signs in.
    let login = passkey::passwordless_login(&app, &mut key).await;
    assert_refused(&login, StatusCode::UNAUTHORIZED, "invalid_passkey");
    let challenge = app
        .post(
            "/api/auth/login/mfa/passkey",
            json!({ "mfa_token": mfa_token }),
        )
        .await;
    assert_refused(&challenge, StatusCode::UNAUTHORIZED, "invalid_mfa_token");
    assert_eq!(ceremonies_of(&app, &user_id).await, 0);
    // The new owner is not asked for a factor they never had.
    let again = sign_in_json(&app, &github, mona).await;
    assert!(again.get("access_token").is_some(), "{again}");
    let me = app
        .get_as("/api/auth/me", again["access_token"].as_str().expect("t"))
        .await;
    assert_eq!(me.body["mfa"]["passkeys"], 0, "{}", me.body);
    let link = &audit_details(&app, &user_id, "oauth_link").await[0];
    assert_eq!(link["password_cleared"], true);
    assert_eq!(link["passkeys_removed"], 1, "{link}");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_takeover_voids_the_links_mailed_before_it(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let squatter = app.register("owner").await;
    let user_id = squatter["user"]["id"].as_str().expect("id");
    app.deliver_mail().await;
    let verify = app.mail.last_token();
    app.ask_password_reset("owner@example.com").await;
    let reset = app.mail.last_token();
    assert_ne!(verify, reset);

    sign_in_json(&app, &github, octocat().with_email("owner@example.com")).await;

    let body = json!({ "token": reset, "new_password": "the squatter's new one" });
    // Both links are void.
    let reset = app.post("/api/auth/reset-password", body).await;
    assert_refused(&reset, StatusCode::BAD_REQUEST, "invalid_or_expired_token");
    let confirmed = app
        .post("/api/auth/verify-email/confirm", json!({ "token": verify }))
        .await;
    assert_refused(
        &confirmed,
        StatusCode::BAD_REQUEST,
        "invalid_or_expired_token",
    );
    let link = &audit_details(&app, user_id, "oauth_link").await[0];
    assert_eq!(link["tokens_voided"], 2, "{link}");
}
