//! Lockout, rate limits and forged tokens.

mod common;

use std::time::Duration;

use axum::http::{StatusCode, header};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{PASSWORD, TestApp, config};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn five_wrong_passwords_lock_the_account(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let id = app.register("alice").await["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for attempt in 1..=4 {
        let reply = app.login("alice", "wrong password").await;
        assert_eq!(reply.code(), "invalid_credentials", "attempt {attempt}");
    }
    // The locking attempt, and any attempt while locked, answer like a wrong password: the
    // lock must not show from outside (tests/lockout.rs compares the answers byte for byte).
    let fifth = app.login("alice", "wrong password").await;
    assert_eq!(
        (fifth.status, fifth.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    assert!(!fifth.headers.contains_key(header::RETRY_AFTER));
    let locked_until =
        sqlx::query_scalar!("SELECT locked_until FROM auth.users WHERE username = 'alice'")
            .fetch_one(&app.pool)
            .await
            .expect("lock")
            .expect("locked");
    let lock_secs = (locked_until - chrono::Utc::now()).num_seconds();
    assert!((800..=900).contains(&lock_secs), "{lock_secs}");

    let correct = app.login("alice", PASSWORD).await;
    assert_eq!(
        (correct.status, correct.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials"),
        "even the right password waits"
    );
    let trail = app.audit_trail(&id).await;
    assert_eq!(trail.iter().filter(|a| *a == "login:false").count(), 6);
    assert!(
        trail.contains(&"account_locked:true".to_owned()),
        "{trail:?}"
    );

    sqlx::query!(
        "UPDATE auth.users SET locked_until = now() - interval '1 second' WHERE username = 'alice'"
    )
    .execute(&app.pool)
    .await
    .expect("let the lock lapse");
    assert_eq!(app.login("alice", PASSWORD).await.status, StatusCode::OK);
    let attempts = sqlx::query_scalar!(
        "SELECT failed_login_attempts FROM auth.users WHERE username = 'alice'"
    )
    .fetch_one(&app.pool)
    .await
    .expect("attempts");
    assert_eq!(attempts, 0, "success resets the count");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn login_attempts_are_rate_limited_per_account_across_instances(pool: PgPool) {
    let shared = config(json!({ "rate_limit_login_per_minute": 5 }));
    let prefix = shared.rate_limit_prefix.clone();
    let first = TestApp::with_config(pool.clone(), shared).await;
    let second = TestApp::with_config(
        pool,
        config(json!({ "rate_limit_login_per_minute": 5, "rate_limit_prefix": prefix })),
    )
    .await;
    first.register("alice").await;

    for attempt in 0..5 {
        let app = if attempt % 2 == 0 { &first } else { &second };
        let ip = format!("198.51.100.{attempt}");
        let reply = app.login_from(&ip, "alice", PASSWORD).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "attempt {attempt}: every attempt counts, good or bad"
        );
    }
    let reply = second.login_from("198.51.100.99", "alice", PASSWORD).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let retry: u64 = reply.headers[header::RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    assert!((1..=60).contains(&retry), "{retry}");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_account_has_one_login_budget_whichever_name_the_guesses_use(pool: PgPool) {
    let app = TestApp::with_config(pool, config(json!({ "rate_limit_login_per_minute": 4 }))).await;
    app.register("alice").await;
    // Username and email, in any case: every spelling names the same account and budget.
    let spellings = ["alice", "alice@example.com", "ALICE", "Alice@Example.com"];
    for (attempt, login) in spellings.iter().enumerate() {
        let ip = format!("198.51.100.{attempt}");
        let reply = app.login_from(&ip, login, "wrong password").await;
        assert_eq!(
            reply.code(),
            "invalid_credentials",
            "attempt {attempt} as {login}"
        );
    }
    let reply = app
        .login_from("198.51.100.99", "alice@example.com", PASSWORD)
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        "{}",
        reply.body
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn login_attempts_are_rate_limited_per_ip(pool: PgPool) {
    let app = TestApp::with_config(pool, config(json!({ "rate_limit_login_per_minute": 3 }))).await;
    for name in ["a1", "a2", "a3"] {
        let reply = app.login_from("192.0.2.1", name, "x").await;
        assert_eq!(reply.code(), "invalid_credentials");
    }
    let reply = app.login_from("192.0.2.1", "a4", "x").await;
    assert_eq!(reply.code(), "rate_limited");
    let other_ip = app.login_from("192.0.2.2", "a4", "x").await;
    assert_eq!(other_ip.code(), "invalid_credentials");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_ipv6_client_cannot_escape_the_per_ip_limit_by_changing_its_interface_id(pool: PgPool) {
    let app = TestApp::with_config(pool, config(json!({ "rate_limit_login_per_minute": 3 }))).await;
    // One home or VM gets a whole /64: every address in it is the same client.
    for (ip, name) in [
        ("2001:db8:1:2::1", "a1"),
        ("2001:db8:1:2::2", "a2"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "a3"),
    ] {
        let reply = app.login_from(ip, name, "x").await;
        assert_eq!(reply.code(), "invalid_credentials", "{ip}");
    }
    let reply = app.login_from("2001:db8:1:2:ffff::9", "a4", "x").await;
    assert_eq!(reply.code(), "rate_limited");
    let next_network = app.login_from("2001:db8:1:3::1", "a4", "x").await;
    assert_eq!(next_network.code(), "invalid_credentials");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn without_redis_limits_still_apply_and_logins_still_work(pool: PgPool) {
    let overrides = json!({ "rate_limit_login_per_minute": 2, "redis_url": "redis://127.0.0.1:1" });
    let app = TestApp::with_config(pool, config(overrides)).await;
    app.register("alice").await;
    assert_eq!(app.login("alice", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(app.login("alice", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(app.login("alice", PASSWORD).await.code(), "rate_limited");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn forged_and_foreign_tokens_are_refused(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let other_deployment = TestApp::new(pool).await;
    let token = app.register_for_token("alice").await;
    let foreign = other_deployment.register_for_token("bob").await;

    let (header_part, payload, _) = {
        let mut parts = token.split('.');
        (
            parts.next().expect("h"),
            parts.next().expect("p"),
            parts.next(),
        )
    };
    let unsigned = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    let resigned = format!(
        "{header_part}.{payload}.{}",
        foreign.rsplit('.').next().expect("sig")
    );
    for (bad, code) in [
        ("garbage", "invalid_token"),
        (unsigned.as_str(), "invalid_token"),
        (resigned.as_str(), "invalid_token"),
        (foreign.as_str(), "invalid_token"),
    ] {
        let reply = app.get_as("/api/auth/me", bad).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNAUTHORIZED, code),
            "{bad}"
        );
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
    }
    let missing = app.get("/api/auth/me").await;
    assert_eq!(missing.code(), "missing_token");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn expired_access_tokens_say_so(pool: PgPool) {
    let app = TestApp::with_config(pool, config(json!({ "access_token_ttl_secs": 0 }))).await;
    let token = app.register_for_token("alice").await;
    tokio::time::sleep(Duration::from_secs(7)).await; // past the 5 s leeway
    let reply = app.get_as("/api/auth/me", &token).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNAUTHORIZED, "token_expired")
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn jwks_publishes_the_key_that_verifies_tokens(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("alice").await;
    let reply = app.get("/.well-known/jwks.json").await;
    let jwks: authn::Jwks = serde_json::from_value(reply.body).expect("jwks");
    let keys = jwks
        .keys
        .iter()
        .map(authn::PublicKey::from_jwk)
        .collect::<Result<Vec<_>, _>>()
        .expect("keys");
    let verifier = authn::TokenVerifier::new(keys, &testkit::audience());
    let claims = verifier
        .verify(&token)
        .expect("verifies with the published key");
    assert_eq!(claims.role, authn::Role::User);
}
