//! Adding a credential that signs in or stands as a second factor (a TOTP authenticator, a
//! passkey) needs proof beyond the bearer token: the password, checked like a login's; an
//! `aal2` token once the account has a factor; or, for a GitHub-linked account, a sign-in
//! within the last 10 minutes. A stolen access token alone adds nothing.

mod common;

use axum::http::{StatusCode, header};
use common::{
    TestApp, config, enrolment_proof,
    mfa::assert_step_up_required,
    passkey::{passwordless_login, token_of, with_passkey},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::Reply;

const ENROLL: &str = "/api/auth/mfa/totp/enroll";
const REGISTER: &str = "/api/auth/passkeys/register/start";

fn assert_proof_required(reply: &Reply, what: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "proof_required"),
        "{what}: {}",
        reply.body
    );
}

/// Marks `name`'s account as linked to GitHub and its sessions as signed in `minutes_ago`.
async fn github_account_signed_in(app: &TestApp, name: &str, minutes_ago: i32) {
    sqlx::query("UPDATE auth.users SET github_id = '583231' WHERE username = $1")
        .bind(name)
        .execute(&app.pool)
        .await
        .expect("link");
    sqlx::query(
        "UPDATE auth.user_sessions SET created_at = now() - make_interval(mins => $1)
         WHERE user_id = (SELECT id FROM auth.users WHERE username = $2)",
    )
    .bind(minutes_ago)
    .bind(name)
    .execute(&app.pool)
    .await
    .expect("age the sessions");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_token_alone_adds_no_authenticator_and_no_passkey(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("ann").await;
    for path in [ENROLL, REGISTER] {
        let reply = app.post_as(path, json!({}), &token).await;
        assert_proof_required(&reply, path);
        let message = reply.body["error"]["message"].as_str().expect("message");
        assert!(message.contains("password"), "{path}: {message}");
    }
    let rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM auth.totp_factors)
              + (SELECT count(*) FROM auth.passkey_ceremonies)",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(rows, 0, "no pending secret, no ceremony");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_password_adds_them_and_a_wrong_one_counts_like_a_login(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("ann").await;
    let wrong = json!({ "password": "not the password" });
    let refused = app.post_as(ENROLL, wrong.clone(), &token).await;
    app.assert_wrong_password_counted(&refused, "ann").await;
    let refused = app.post_as(REGISTER, wrong, &token).await;
    assert_eq!(refused.code(), "invalid_credentials", "{}", refused.body);
    assert_eq!(app.failed_attempts("ann").await, 2);

    let enrolled = app.post_as(ENROLL, enrolment_proof(), &token).await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.body);
    let started = app.post_as(REGISTER, enrolment_proof(), &token).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
}

/// Once the account has a factor, proving it (`aal2`) is what adds another: the password
/// alone, with a stolen `aal1` token, is not enough.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn with_a_factor_only_an_aal2_token_adds_another(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, aal1, mut key) = with_passkey(&app, "ann").await;
    for path in [ENROLL, REGISTER] {
        let reply = app.post_as(path, enrolment_proof(), &aal1).await;
        assert_step_up_required(&reply, path);
    }
    let aal2 = token_of(&passwordless_login(&app, &mut key).await.body);
    for path in [ENROLL, REGISTER] {
        let reply = app.post_as(path, json!({}), &aal2).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
}

/// A GitHub-only account has no password it knows: a session that signed in within the last
/// 10 minutes is its proof, and an older one has to sign in again.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_github_account_adds_them_from_a_recent_sign_in_only(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("ann").await;
    github_account_signed_in(&app, "ann", 11).await;
    for path in [ENROLL, REGISTER] {
        let reply = app.post_as(path, json!({}), &token).await;
        assert_proof_required(&reply, path);
        let message = reply.body["error"]["message"].as_str().expect("message");
        assert!(message.contains("GitHub"), "{path}: {message}");
    }
    github_account_signed_in(&app, "ann", 9).await;
    for path in [ENROLL, REGISTER] {
        let reply = app.post_as(path, json!({}), &token).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
}

/// The password check takes a hashing slot like every other: none free is 503 `busy`.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_password_check_answers_busy_when_no_hashing_slot_is_free(pool: PgPool) {
    let overrides = json!({ "password_hash_concurrency": 1, "password_hash_queue": 1 });
    let app = TestApp::with_config(pool, config(overrides)).await;
    let token = app.register_for_token("ann").await;
    let attempts = (0..12).map(|_| app.post_as(ENROLL, enrolment_proof(), &token));
    let replies = futures::future::join_all(attempts).await;
    let busy: Vec<&Reply> = replies
        .iter()
        .filter(|reply| reply.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!busy.is_empty(), "twelve checks do not fit one thread");
    for reply in busy {
        assert_eq!(reply.code(), "busy");
        assert_eq!(reply.headers[header::RETRY_AFTER], "1");
    }
}

/// The documented request body is the one the routes read.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_proof_is_documented_as_the_request_body(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let spec = app.get("/openapi.json").await;
    for path in [ENROLL, REGISTER] {
        let body: &Value = &spec.body["paths"][path]["post"]["requestBody"];
        let schema = &body["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(
            schema, "#/components/schemas/EnrolmentProof",
            "{path}: {body}"
        );
        let responses = &spec.body["paths"][path]["post"]["responses"];
        for status in ["401", "403", "422", "503"] {
            assert!(responses.get(status).is_some(), "{path} documents {status}");
        }
    }
    let password = &spec.body["components"]["schemas"]["EnrolmentProof"]["properties"]["password"];
    assert!(password.is_object(), "{password}");
}
