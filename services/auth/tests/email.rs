//! Mailed links: email verification, password reset, and the outbox that delivers them.

mod common;

use axum::http::StatusCode;
use common::{PASSWORD, TestApp};
use serde_json::json;
use sqlx::PgPool;
use std::sync::atomic::Ordering;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn registration_mails_a_link_that_verifies_the_email_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let signed_in = app.register("alice").await;
    assert_eq!(signed_in["user"]["is_verified"], false);
    assert_eq!(app.deliver_mail().await, 1);
    let token = app.mail.last_token();
    assert_eq!(
        app.mail.sent.lock().expect("lock")[0].to,
        "alice@example.com"
    );

    let confirmed = app
        .post("/api/auth/verify-email/confirm", json!({ "token": token }))
        .await;
    assert_eq!(confirmed.body["status"], "verified", "{}", confirmed.body);
    let me = app
        .get_as(
            "/api/auth/me",
            signed_in["access_token"].as_str().expect("t"),
        )
        .await;
    assert_eq!(me.body["is_verified"], true);
    let again = app
        .post("/api/auth/verify-email/confirm", json!({ "token": token }))
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::BAD_REQUEST, "invalid_or_expired_token")
    );

    let mails = db::auth::outbox::list_for_recipient(&app.pool, "alice@example.com")
        .await
        .expect("outbox");
    assert!(mails[0].sent_at.is_some());
    assert!(
        !mails[0].has_body,
        "sent mail bodies (live tokens) are not kept"
    );
    let requested = app
        .post_as(
            "/api/auth/verify-email/request",
            json!({}),
            signed_in["access_token"].as_str().expect("t"),
        )
        .await;
    assert_eq!(requested.body["status"], "already_verified");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_new_verification_link_voids_the_old_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("alice").await;
    app.deliver_mail().await;
    let first = app.mail.last_token();
    let requested = app
        .post_as("/api/auth/verify-email/request", json!({}), &token)
        .await;
    assert_eq!(requested.status, StatusCode::ACCEPTED);
    app.deliver_mail().await;
    let second = app.mail.last_token();
    assert_ne!(first, second);
    assert_eq!(
        app.post("/api/auth/verify-email/confirm", json!({ "token": first }))
            .await
            .code(),
        "invalid_or_expired_token"
    );
    assert_eq!(
        app.post("/api/auth/verify-email/confirm", json!({ "token": second }))
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn forgot_password_answers_the_same_for_unknown_addresses(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    app.deliver_mail().await;
    let known = app
        .post(
            "/api/auth/forgot-password",
            json!({ "email": "ALICE@example.com" }),
        )
        .await;
    let unknown = app
        .post(
            "/api/auth/forgot-password",
            json!({ "email": "nobody@example.com" }),
        )
        .await;
    assert_eq!(
        (known.status, known.body.clone()),
        (unknown.status, unknown.body.clone())
    );
    assert_eq!(known.status, StatusCode::ACCEPTED);
    assert_eq!(
        app.deliver_mail().await,
        1,
        "only the real account gets a mail"
    );
    assert_eq!(
        app.mail.sent.lock().expect("lock")[1].subject,
        "Reset your password"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_reset_link_sets_the_password_unlocks_and_ends_every_session(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let session = app.register("alice").await;
    for _ in 0..5 {
        app.login("alice", "wrong password").await;
    }
    assert_eq!(
        app.login("alice", PASSWORD).await.code(),
        "invalid_credentials",
        "locked: refused like a wrong password"
    );
    app.ask_password_reset("alice@example.com").await;
    let token = app.mail.last_token();

    let short = app
        .post(
            "/api/auth/reset-password",
            json!({ "token": token, "new_password": "short" }),
        )
        .await;
    assert_eq!(short.code(), "invalid_password");
    let reset = app
        .post(
            "/api/auth/reset-password",
            json!({ "token": token, "new_password": "brand new secret" }),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);

    assert_eq!(
        app.get_as("/api/auth/me", session["access_token"].as_str().expect("t"))
            .await
            .code(),
        "session_revoked"
    );
    app.assert_password_changed("alice", "brand new secret")
        .await;
    let reused = app
        .post(
            "/api/auth/reset-password",
            json!({ "token": token, "new_password": "another secret" }),
        )
        .await;
    assert_eq!(
        (reused.status, reused.code()),
        (StatusCode::BAD_REQUEST, "invalid_or_expired_token")
    );
    let id = session["user"]["id"].as_str().expect("id");
    assert!(
        app.audit_trail(id)
            .await
            .contains(&"password_reset:true".to_owned())
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn failed_sends_stay_queued_and_are_retried(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.mail.fail_next.store(1, Ordering::SeqCst);
    app.register("alice").await;
    assert_eq!(app.deliver_mail().await, 1);
    assert_eq!(app.mail.count(), 0);
    let mails = db::auth::outbox::list_for_recipient(&app.pool, "alice@example.com")
        .await
        .expect("outbox");
    assert_eq!(
        (mails[0].attempts, mails[0].sent_at, mails[0].has_body),
        (1, None, true)
    );
    assert_eq!(
        app.deliver_mail().await,
        0,
        "not due again before its backoff"
    );

    sqlx::query!("UPDATE auth.mail_outbox SET next_attempt_at = now()")
        .execute(&app.pool)
        .await
        .expect("make it due");
    assert_eq!(app.deliver_mail().await, 1);
    assert_eq!(app.mail.count(), 1);
    assert_eq!(
        app.deliver_mail().await,
        0,
        "sent mails are never sent again"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn two_workers_never_send_the_same_mail(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for name in ["alice", "bob", "carol", "dave"] {
        app.register(name).await;
    }
    let (first, second) = tokio::join!(app.deliver_mail(), app.deliver_mail());
    assert_eq!(first + second, 4);
    assert_eq!(app.mail.count(), 4);
}
