//! A request holds at most one pooled connection at a time. One that held its transaction
//! while it waited for a second connection would, with enough of them at once (as many as
//! the pool has connections), leave every one waiting for the others: on a pool of one
//! connection the first such request already times out. A pool that stays exhausted answers
//! 503 `busy` with `Retry-After`, not 500.

mod common;

use axum::http::{StatusCode, header};
use common::{
    PASSWORD, TestApp,
    passkey::{
        ORIGIN, assert_refused, passkey_proof, start_second_factor, step_up_proof, token_of,
        with_passkey,
    },
};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_passkey_second_factor_needs_one_connection(pool: PgPool) {
    let app = TestApp::on_one_connection(pool).await;
    let (_, token, mut key) = with_passkey(&app, "ann").await;

    let mfa_token = app.mfa_token("ann").await;
    let proof = passkey_proof(&app, &mfa_token, &mut key).await;
    let signed_in = app
        .login_mfa(json!({ "mfa_token": mfa_token, "passkey": proof }))
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);

    let proof = step_up_proof(&app, &token, &mut key).await;
    let stepped = app.step_up(&token, json!({ "passkey": proof })).await;
    assert_eq!(stepped.status, StatusCode::OK, "{}", stepped.body);
    assert!(!token_of(&stepped.body).is_empty());
}

/// The ceremony is taken inside the proof's transaction, which a refusal rolls back: it is
/// still spent, so the right answer to it afterwards is refused too.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_refused_passkey_answer_spends_its_ceremony(pool: PgPool) {
    let app = TestApp::on_one_connection(pool).await;
    let (_, _, mut key) = with_passkey(&app, "ann").await;
    let mfa_token = app.mfa_token("ann").await;
    let started = start_second_factor(&app, &mfa_token).await;

    let phished = key.get_at("https://evil.example", &started["options"]);
    let proof = json!({ "ceremony_id": started["ceremony_id"], "credential": phished });
    let refused = app
        .login_mfa(json!({ "mfa_token": mfa_token, "passkey": proof }))
        .await;
    assert_refused(&refused, StatusCode::UNAUTHORIZED, "invalid_passkey");

    let answer = key.get_at(ORIGIN, &started["options"]);
    let proof = json!({ "ceremony_id": started["ceremony_id"], "credential": answer });
    let again = app
        .login_mfa(json!({ "mfa_token": mfa_token, "passkey": proof }))
        .await;
    assert_refused(&again, StatusCode::BAD_REQUEST, "invalid_passkey_ceremony");
}

/// A registration that collides with an account is refused and audited; the audit row is
/// written after its transaction ended, not beside it.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_colliding_registration_is_audited_on_one_connection(pool: PgPool) {
    let app = TestApp::on_one_connection(pool).await;
    app.register("ann").await;
    let again = app
        .post(
            "/api/auth/register",
            json!({ "email": "ann@example.com", "username": "ann2", "full_name": "Ann", "password": PASSWORD }),
        )
        .await;
    assert_refused(&again, StatusCode::CONFLICT, "email_taken");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM auth.audit_log WHERE action = 'register' AND NOT success",
    )
    .fetch_one(&app.pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_exhausted_pool_answers_busy_with_retry_after(pool: PgPool) {
    let app = TestApp::on_one_connection(pool).await;
    app.register("ann").await;
    let held = app.state.pool.acquire().await.expect("the one connection");

    let login = app.login("ann", PASSWORD).await;
    assert_refused(&login, StatusCode::SERVICE_UNAVAILABLE, "busy");
    assert_eq!(login.headers[header::RETRY_AFTER], "1");

    drop(held);
    let login = app.login("ann", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
}
