//! Changes that check the current password (`me/password`, `me/email`) overtaken by a
//! password reset: the change has read the account and verified the old password before the
//! reset commits, and writes after it. The reset must win: whoever knew the old password (the
//! reason for the reset) must not set a password of their own, or move the address that reset
//! links go to, with a check the reset made stale. A row gate orders them: the reset queues
//! for the account's row first, the change second.

mod common;

use axum::http::StatusCode;
use common::{
    PASSWORD, TestApp,
    gate::{Gate, until_waiting},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::Reply;

const RESET_PASSWORD: &str = "brand new secret";

/// Registers `name`, then sends `path` with `body` from its session while a reset of its
/// password commits between the change's checks and its write. Returns the change's reply.
async fn change_overtaken_by_a_reset(app: &TestApp, name: &str, path: &str, body: Value) -> Reply {
    let registered = app.register(name).await;
    let user_id = registered["user"]["id"].as_str().expect("id");
    let token = registered["access_token"].as_str().expect("token");
    app.ask_password_reset(&format!("{name}@example.com")).await;
    let link = app.mail.last_token();

    let gate = Gate::lock(&app.pool, &[user_id]).await;
    let reset = app.post(
        "/api/auth/reset-password",
        json!({ "token": link, "new_password": RESET_PASSWORD }),
    );
    let change = async {
        until_waiting(&app.pool, 1).await;
        app.post_as(path, body, token).await
    };
    let release = async {
        until_waiting(&app.pool, 2).await;
        gate.open().await;
    };
    let (reset, change, ()) = tokio::join!(reset, change, release);
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    change
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_password_change_checked_before_a_reset_does_not_undo_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let body = json!({ "current_password": PASSWORD, "new_password": "mallory's choice" });
    let change = change_overtaken_by_a_reset(&app, "alice", "/api/auth/me/password", body).await;
    assert_eq!(
        (change.status, change.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials"),
        "the change overtaken by the reset went through: {}",
        change.body
    );
    app.assert_password_changed("alice", RESET_PASSWORD).await;
    let theirs = app.login("alice", "mallory's choice").await;
    assert_eq!(theirs.code(), "invalid_credentials");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_email_change_checked_before_a_reset_does_not_move_the_account(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let body = json!({ "email": "mallory@example.net", "password": PASSWORD });
    let change = change_overtaken_by_a_reset(&app, "alice", "/api/auth/me/email", body).await;
    assert_eq!(
        (change.status, change.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials"),
        "the change overtaken by the reset went through: {}",
        change.body
    );
    let email: String = sqlx::query_scalar("SELECT email FROM auth.users WHERE username = 'alice'")
        .fetch_one(&app.pool)
        .await
        .expect("alice");
    assert_eq!(
        email, "alice@example.com",
        "reset links would go to mallory"
    );
    app.assert_password_changed("alice", RESET_PASSWORD).await;
}
