//! The expensive work behind passwords is guarded: bogus reset tokens are refused before any
//! hash, mailed links and password changes are rate-limited, wrong current passwords count
//! toward the lockout, a full hashing queue answers 503 at once, and a changed password
//! voids the reset links mailed before.

mod common;

use axum::http::{StatusCode, header};
use common::{PASSWORD, TestApp, config};
use serde_json::json;
use sqlx::PgPool;

const NEW_PASSWORD: &str = "a brand new passphrase";

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn bogus_reset_tokens_are_refused_before_any_hashing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let before = app.state.passwords.hashed();
    for n in 0..10 {
        let reply = app
            .post(
                "/api/auth/reset-password",
                json!({ "token": format!("guess-{n}"), "new_password": NEW_PASSWORD }),
            )
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_or_expired_token")
        );
    }
    assert_eq!(app.state.passwords.hashed(), before, "no hash was spent");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn mailed_link_attempts_are_rate_limited_per_client(pool: PgPool) {
    let app = TestApp::with_config(pool, config(json!({ "rate_limit_links_per_hour": 3 }))).await;
    let attempt = |path: &'static str| {
        let body = match path {
            "/api/auth/reset-password" => json!({ "token": "guess", "new_password": NEW_PASSWORD }),
            _ => json!({ "token": "guess" }),
        };
        app.post(path, body)
    };
    for _ in 0..3 {
        assert_eq!(
            attempt("/api/auth/reset-password").await.status,
            StatusCode::BAD_REQUEST
        );
    }
    let limited = attempt("/api/auth/reset-password").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key(header::RETRY_AFTER));
    let confirm = attempt("/api/auth/verify-email/confirm").await;
    assert_eq!(
        confirm.status,
        StatusCode::TOO_MANY_REQUESTS,
        "one budget for every mailed link"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn wrong_current_passwords_count_toward_the_lockout(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.register("alice").await;
    let token = alice["access_token"].as_str().expect("token");
    for _ in 0..5 {
        let reply = app
            .post_as(
                "/api/auth/me/password",
                json!({ "current_password": "not it at all", "new_password": NEW_PASSWORD }),
                token,
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    }
    let locked: bool = sqlx::query_scalar!(
        r#"SELECT locked_until > now() AS "locked!" FROM auth.users WHERE username = 'alice'"#
    )
    .fetch_one(&app.pool)
    .await
    .expect("user");
    assert!(locked, "five wrong current passwords lock the account");
    let right_but_locked = app
        .post_as(
            "/api/auth/me/password",
            json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
            token,
        )
        .await;
    assert_eq!(
        (right_but_locked.status, right_but_locked.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials"),
        "a locked account takes no password"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn password_changes_are_rate_limited_per_account(pool: PgPool) {
    let app = TestApp::with_config(pool, config(json!({ "rate_limit_login_per_minute": 2 }))).await;
    let alice = app.register("alice").await;
    let token = alice["access_token"].as_str().expect("token");
    let change = || {
        app.post_as(
            "/api/auth/me/password",
            json!({ "current_password": "guess", "new_password": NEW_PASSWORD }),
            token,
        )
    };
    assert_eq!(change().await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(change().await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(change().await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_password_change_voids_reset_links_mailed_before(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.register("alice").await;
    app.ask_password_reset("alice@example.com").await;
    let link = app.mail.last_token();
    let changed = app
        .post_as(
            "/api/auth/me/password",
            json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
            alice["access_token"].as_str().expect("token"),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    let reset = app
        .post(
            "/api/auth/reset-password",
            json!({ "token": link, "new_password": "yet another passphrase" }),
        )
        .await;
    assert_eq!(
        (reset.status, reset.code()),
        (StatusCode::BAD_REQUEST, "invalid_or_expired_token")
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_full_hashing_queue_answers_503_with_retry_after(pool: PgPool) {
    let overrides = json!({ "password_hash_concurrency": 1, "password_hash_queue": 1 });
    let app = TestApp::with_config(pool, config(overrides)).await;
    let registrations = (0..12).map(|n| {
        app.post(
            "/api/auth/register",
            json!({
                "email": format!("crowd{n}@example.com"),
                "username": format!("crowd{n}"),
                "full_name": "Crowd",
                "password": PASSWORD,
            }),
        )
    });
    let replies = futures::future::join_all(registrations).await;
    let busy: Vec<_> = replies
        .iter()
        .filter(|reply| reply.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        !busy.is_empty(),
        "twelve hashes do not fit one thread and a queue of one"
    );
    for reply in &busy {
        assert_eq!(reply.code(), "busy");
        assert_eq!(reply.headers[header::RETRY_AFTER], "1");
    }
    assert!(
        replies
            .iter()
            .any(|reply| reply.status == StatusCode::CREATED),
        "the ones that fit still go through"
    );
}
