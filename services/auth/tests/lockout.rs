//! Password lockout as Keycloak does it: a lock answers exactly like a wrong password, lapses
//! into a fresh count, lets old failures expire, tells the owner once, and never blocks
//! GitHub sign-in.

mod common;
#[allow(dead_code)]
#[path = "oauth/mock_github.rs"]
mod mock_github;
#[allow(dead_code)]
#[path = "oauth/support.rs"]
mod support;

use std::time::Duration;

use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode, header},
};
use common::{PASSWORD, TestApp, config};
use serde_json::json;
use sqlx::PgPool;

/// A login's answer as the client receives it, minus the per-request id.
#[derive(Debug, PartialEq)]
struct Raw {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Bytes,
}

/// The answer, and how many password verifications the request spent (a locked or unknown
/// account must cost what a wrong password costs, or timing tells them apart).
async fn raw_login(app: &TestApp, login: &str, password: &str) -> (Raw, u64) {
    let before = app.state.passwords.verified();
    let reply = app.login(login, password).await;
    let spent = app.state.passwords.verified() - before;
    let raw = Raw {
        status: reply.status,
        headers: comparable(&reply.headers),
        body: reply.bytes,
    };
    (raw, spent)
}

fn comparable(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = headers
        .iter()
        .filter(|(name, _)| name.as_str() != "x-request-id")
        .map(|(name, value)| {
            let value = value.to_str().unwrap_or("(binary)").to_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    pairs.sort();
    pairs
}

/// `(failed_login_attempts, locked)` for `username`.
async fn lockout_state(app: &TestApp, username: &str) -> (i32, bool) {
    let row = sqlx::query!(
        r#"SELECT failed_login_attempts AS "attempts!", locked_until > now() AS "locked"
           FROM auth.users WHERE username = $1"#,
        username,
    )
    .fetch_one(&app.pool)
    .await
    .expect("user");
    (row.attempts, row.locked.unwrap_or(false))
}

async fn lockout_mails(app: &TestApp) -> i64 {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM auth.mail_outbox WHERE kind = 'account_locked'"#
    )
    .fetch_one(&app.pool)
    .await
    .expect("count")
}

async fn lock(app: &TestApp, username: &str) {
    for _ in 0..5 {
        app.login(username, "wrong password").await;
    }
    assert_eq!(lockout_state(app, username).await, (5, true));
}

/// Moves the lock (and the last failure) into the past, as if the lockout window had passed.
async fn lapse(app: &TestApp, username: &str) {
    sqlx::query!(
        "UPDATE auth.users SET locked_until = now() - interval '1 second' WHERE username = $1",
        username
    )
    .execute(&app.pool)
    .await
    .expect("let the lock lapse");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_locked_account_answers_exactly_like_a_wrong_password(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;

    let (unknown, unknown_cost) = raw_login(&app, "nobody", "wrong password").await;
    assert_eq!(
        unknown_cost, 1,
        "an unknown account still costs one verification"
    );
    let (wrong, cost) = raw_login(&app, "alice", "wrong password").await;
    assert_eq!(cost, 1);
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong, unknown,
        "an existing account answers like a missing one"
    );
    for _ in 2..=4 {
        let (reply, _) = raw_login(&app, "alice", "wrong password").await;
        assert_eq!(reply, wrong);
    }
    let (locking, _) = raw_login(&app, "alice", "wrong password").await;
    assert_eq!(
        locking, wrong,
        "the attempt that locks answers like the others"
    );
    assert_eq!(lockout_state(&app, "alice").await, (5, true));

    for password in ["wrong password", PASSWORD, "another guess"] {
        let (locked, cost) = raw_login(&app, "alice", password).await;
        assert_eq!(
            cost, 1,
            "a locked account pays one verification, like a wrong password"
        );
        assert_eq!(locked, wrong, "locked, with {password:?}");
        assert_eq!(locked, unknown, "locked, with {password:?}");
    }
    assert!(!wrong.headers.iter().any(|(name, _)| name == "retry-after"));
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_right_password_while_locked_is_refused_and_changes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let id = app.register("alice").await["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    lock(&app, "alice").await;
    let until_before =
        sqlx::query_scalar!("SELECT locked_until FROM auth.users WHERE username = 'alice'")
            .fetch_one(&app.pool)
            .await
            .expect("lock");

    let reply = app.login("alice", PASSWORD).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let wrong_while_locked = app.login("alice", "wrong password").await;
    assert_eq!(wrong_while_locked.code(), "invalid_credentials");
    assert_eq!(
        lockout_state(&app, "alice").await,
        (5, true),
        "neither resets nor counts"
    );
    let until_after =
        sqlx::query_scalar!("SELECT locked_until FROM auth.users WHERE username = 'alice'")
            .fetch_one(&app.pool)
            .await
            .expect("lock");
    assert_eq!(until_after, until_before, "the lock is not extended");

    let trail = app.audit_trail(&id).await;
    assert_eq!(
        trail.iter().filter(|a| *a == "account_locked:true").count(),
        1
    );
    let reasons = sqlx::query_scalar!(
        r#"SELECT details->>'reason' AS "reason!" FROM auth.audit_log
           WHERE action = 'login' AND NOT success AND details->>'reason' IS NOT NULL
           ORDER BY created_at"#
    )
    .fetch_all(&app.pool)
    .await
    .expect("audit");
    assert_eq!(
        reasons[reasons.len() - 2..],
        ["account_locked", "account_locked"]
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_lapsed_lock_restarts_the_count(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    lock(&app, "alice").await;
    lapse(&app, "alice").await;

    let reply = app.login("alice", "wrong password").await;
    assert_eq!(reply.code(), "invalid_credentials");
    assert_eq!(
        lockout_state(&app, "alice").await,
        (1, false),
        "one typo after a lock is attempt 1, not a new lock"
    );
    assert_eq!(app.login("alice", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(lockout_state(&app, "alice").await, (0, false));
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn failures_older_than_the_window_no_longer_count(pool: PgPool) {
    // Long enough that a slow (debug, loaded) login stays inside it, short enough to wait out.
    let window = 8;
    let app = TestApp::with_config(pool, config(json!({ "login_lockout_secs": window }))).await;
    app.register("alice").await;
    for _ in 0..4 {
        app.login("alice", "wrong password").await;
    }
    assert_eq!(lockout_state(&app, "alice").await, (4, false));
    tokio::time::sleep(Duration::from_secs(window + 1)).await;
    app.login("alice", "wrong password").await;
    assert_eq!(
        lockout_state(&app, "alice").await,
        (1, false),
        "the four old failures expired"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_lock_mails_the_owner_a_reset_link_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    lock(&app, "alice").await;
    for _ in 0..3 {
        app.login("alice", "wrong password").await;
    }
    assert_eq!(
        lockout_mails(&app).await,
        1,
        "only the locking attempt mails"
    );

    app.deliver_mail().await;
    let notice = app
        .mail
        .sent
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("mail");
    assert_eq!(notice.to, "alice@example.com");
    assert_eq!(notice.subject, "Your DevMentor account was locked");
    assert!(
        notice.body.contains("after 5 failed sign-ins"),
        "{}",
        notice.body
    );
    assert!(notice.body.contains("wasn't you"), "{}", notice.body);

    // The link resets the password and lifts the lock.
    let reset = app
        .post(
            "/api/auth/reset-password",
            json!({ "token": app.mail.last_token(), "new_password": "brand new secret" }),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    assert_eq!(lockout_state(&app, "alice").await, (0, false));
    assert_eq!(
        app.login("alice", "brand new secret").await.status,
        StatusCode::OK
    );

    // Each new lock is a new transition, so a new notice.
    lock(&app, "alice").await;
    assert_eq!(lockout_mails(&app).await, 2);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn concurrent_wrong_passwords_lock_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let id = app.register("alice").await["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let attempts = (0..8).map(|_| app.login("alice", "wrong password"));
    for reply in futures::future::join_all(attempts).await {
        assert_eq!(reply.code(), "invalid_credentials");
    }
    assert_eq!(lockout_state(&app, "alice").await, (5, true));
    assert_eq!(lockout_mails(&app).await, 1);
    let trail = app.audit_trail(&id).await;
    assert_eq!(
        trail.iter().filter(|a| *a == "account_locked:true").count(),
        1,
        "{trail:?}"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_locked_account_can_still_sign_in_with_github(pool: PgPool) {
    let (app, github) = support::setup(pool).await;
    let body = support::sign_in_json(&app, &github, mock_github::octocat()).await;
    let username = body["user"]["username"].as_str().expect("username");
    lock(&app, username).await;

    let again = support::sign_in(
        &app,
        &github,
        mock_github::octocat(),
        support::BROWSER_ACCEPT,
    )
    .await;
    assert_eq!(again.status, StatusCode::FOUND, "{}", again.body);
    let location = support::location(&again);
    assert!(location.contains("#access_token="), "{location}");
    assert!(again.headers.get(header::RETRY_AFTER).is_none());
    assert_eq!(
        lockout_state(&app, username).await,
        (5, true),
        "the lock still guards the password"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_locked_account_can_still_sign_in_with_a_passkey_but_not_once_deactivated(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (user_id, _, mut key) = common::passkey::with_passkey(&app, "ann").await;
    lock(&app, "ann").await;

    let login = common::passkey::passwordless_login(&app, &mut key).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["aal"], "aal2");
    assert_eq!(
        lockout_state(&app, "ann").await,
        (5, true),
        "the lock still guards the password"
    );

    let id = db::ids::UserId(user_id.parse().expect("uuid"));
    db::auth::admin::set_active(&app.pool, id, false)
        .await
        .expect("deactivate");
    let refused = common::passkey::passwordless_login(&app, &mut key).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "account_disabled"),
        "{}",
        refused.body
    );
}
