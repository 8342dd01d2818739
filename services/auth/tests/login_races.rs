//! A password login that a reset overtakes: the login reads the account's hash, then waits
//! for a hashing thread, and a reset can commit in that gap. Whatever the login does after
//! its check (a second-factor challenge, a rehash of a legacy hash) must not outlive or undo
//! the reset. One hashing thread, kept busy, forces that order.

mod common;

use axum::http::StatusCode;
use common::{PASSWORD, TestApp, config, mfa::code};
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;
use testkit::Reply;

/// Resets `name`'s password to `new_password` while a login with [`PASSWORD`] is in flight:
/// the reset's hash and then the login's check queue behind a busy hashing thread in that
/// order, so the login has read the old hash before the reset commits and finishes after it.
/// Returns the login's reply.
async fn login_overtaken_by_a_reset(app: &TestApp, name: &str, new_password: &str) -> Reply {
    app.ask_password_reset(&format!("{name}@example.com")).await;
    let token = app.mail.last_token();
    let busy = app.state.passwords.hash("keeps the thread busy".into());
    let reset = app.post(
        "/api/auth/reset-password",
        json!({ "token": token, "new_password": new_password }),
    );
    let login = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.login(name, PASSWORD).await
    };
    let (_, reset, login) = tokio::join!(busy, reset, login);
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    login
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_challenge_earned_with_the_old_password_during_a_reset_signs_nobody_in(pool: PgPool) {
    let settings = config(json!({ "password_hash_concurrency": 1 }));
    let app = TestApp::with_config(pool, settings).await;
    let ann = app.enroll_totp("ann").await;

    let login = login_overtaken_by_a_reset(&app, "ann", "brand new secret").await;
    if login.status == StatusCode::OK {
        let mfa_token = login.body["mfa_token"].as_str().expect("mfa_token");
        let done = app
            .login_mfa(json!({ "mfa_token": mfa_token, "code": code(&ann.secret, 0) }))
            .await;
        assert_eq!(
            (done.status, done.code()),
            (StatusCode::UNAUTHORIZED, "invalid_mfa_token"),
            "the old password's challenge outlived the reset"
        );
    } else {
        assert_eq!(login.code(), "invalid_credentials", "{}", login.body);
    }
    app.assert_password_changed("ann", "brand new secret").await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn rehashing_a_legacy_hash_does_not_undo_a_reset(pool: PgPool) {
    let settings = config(json!({ "password_hash_concurrency": 1 }));
    let app = TestApp::with_config(pool, settings).await;
    // A second factor takes the login down the branch that rehashes before the challenge.
    app.enroll_totp("ann").await;
    let bcrypt_hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt");
    sqlx::query("UPDATE auth.users SET password_hash = $1 WHERE username = 'ann'")
        .bind(bcrypt_hash)
        .execute(&app.pool)
        .await
        .expect("set legacy hash");

    let login = login_overtaken_by_a_reset(&app, "ann", "brand new secret").await;
    assert!(
        login.status == StatusCode::OK || login.code() == "invalid_credentials",
        "{}",
        login.body
    );
    app.assert_password_changed("ann", "brand new secret").await;
}
