//! Refresh-token rotation and reuse detection, logout, session management, password change.

mod common;

use axum::http::StatusCode;
use common::{CLIENT_IP, PASSWORD, TestApp, USER_AGENT, config};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

fn field<'a>(body: &'a Value, name: &str) -> &'a str {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} missing in {body}"))
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn refresh_rotates_the_token_and_keeps_the_session(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let signed_in = app.register("alice").await;
    let first = field(&signed_in, "refresh_token");

    let rotated = app
        .post("/api/auth/refresh", json!({ "refresh_token": first }))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert_ne!(field(&rotated.body, "refresh_token"), first);
    assert_eq!(rotated.body["session_id"], signed_in["session_id"]);
    let me = app
        .get_as("/api/auth/me", field(&rotated.body, "access_token"))
        .await;
    assert_eq!(me.status, StatusCode::OK);

    let again = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": field(&rotated.body, "refresh_token") }),
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "the newest token keeps working"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn reusing_a_refresh_token_revokes_the_whole_session(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let signed_in = app.register("alice").await;
    let stolen = field(&signed_in, "refresh_token").to_owned();
    let legit = app
        .post("/api/auth/refresh", json!({ "refresh_token": stolen }))
        .await;

    let replay = app
        .post("/api/auth/refresh", json!({ "refresh_token": stolen }))
        .await;
    assert_eq!(
        (replay.status, replay.code()),
        (StatusCode::UNAUTHORIZED, "refresh_token_reused")
    );
    let next = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": field(&legit.body, "refresh_token") }),
        )
        .await;
    assert_eq!(
        (next.status, next.code()),
        (StatusCode::UNAUTHORIZED, "invalid_refresh_token")
    );
    let me = app
        .get_as("/api/auth/me", field(&legit.body, "access_token"))
        .await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::UNAUTHORIZED, "session_revoked")
    );

    let id = signed_in["user"]["id"].as_str().expect("id");
    assert_eq!(
        app.audit_trail(id).await,
        vec!["register:true", "refresh:true", "refresh_token_reuse:false"]
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn unknown_refresh_tokens_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let reply = app
        .post("/api/auth/refresh", json!({ "refresh_token": "made-up" }))
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNAUTHORIZED, "invalid_refresh_token")
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn logout_ends_this_session_only(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first = app.register("alice").await;
    let second = app.login("alice", PASSWORD).await.body;

    let reply = app
        .post_as("/api/auth/logout", json!({}), field(&first, "access_token"))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_as("/api/auth/me", field(&first, "access_token"))
            .await
            .code(),
        "session_revoked"
    );
    let refresh = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": field(&first, "refresh_token") }),
        )
        .await;
    assert_eq!(refresh.code(), "invalid_refresh_token");
    assert_eq!(
        app.get_as("/api/auth/me", field(&second, "access_token"))
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn logout_all_ends_every_session(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first = app.register("alice").await;
    let second = app.login("alice", PASSWORD).await.body;
    let reply = app
        .post_as(
            "/api/auth/logout-all",
            json!({}),
            field(&second, "access_token"),
        )
        .await;
    assert_eq!(reply.body["sessions_ended"], 2);
    for session in [&first, &second] {
        assert_eq!(
            app.get_as("/api/auth/me", field(session, "access_token"))
                .await
                .code(),
            "session_revoked"
        );
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn sessions_are_listed_and_can_be_ended_one_by_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first = app.register("alice").await;
    let second = app.login("alice", PASSWORD).await.body;
    let token = field(&second, "access_token");

    let list = app.get_as("/api/auth/me/sessions", token).await;
    assert!(
        list.body["next_cursor"].is_null(),
        "one page: {}",
        list.body
    );
    let sessions = list.body["items"].as_array().expect("array");
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current[0]["id"], second["session_id"]);
    assert_eq!(current[0]["ip"], CLIENT_IP);
    assert_eq!(current[0]["user_agent"], USER_AGENT);

    let path = format!("/api/auth/me/sessions/{}", field(&first, "session_id"));
    let ended = app.delete_as(&path, token).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    let again = app.delete_as(&path, token).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let bad = app
        .delete_as("/api/auth/me/sessions/not-a-uuid", token)
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "invalid_path")
    );
    assert_eq!(
        app.get_as("/api/auth/me", field(&first, "access_token"))
            .await
            .code(),
        "session_revoked"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn other_users_sessions_cannot_be_ended(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let path = format!("/api/auth/me/sessions/{}", field(&alice, "session_id"));
    let reply = app.delete_as(&path, field(&bob, "access_token")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get_as("/api/auth/me", field(&alice, "access_token"))
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn changing_the_password_ends_the_other_sessions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let other = app.register("alice").await;
    let this = app.login("alice", PASSWORD).await.body;
    let token = field(&this, "access_token");

    let wrong = app
        .post_as(
            "/api/auth/me/password",
            json!({ "current_password": "nope nope", "new_password": "a new password" }),
            token,
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let changed = app
        .post_as(
            "/api/auth/me/password",
            json!({ "current_password": PASSWORD, "new_password": "a new password" }),
            token,
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);

    assert_eq!(
        app.get_as("/api/auth/me", token).await.status,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        app.get_as("/api/auth/me", field(&other, "access_token"))
            .await
            .code(),
        "session_revoked"
    );
    app.assert_password_changed("alice", "a new password").await;
    let id = this["user"]["id"].as_str().expect("id");
    assert!(
        app.audit_trail(id)
            .await
            .contains(&"password_changed:true".to_owned())
    );
}

/// A login checks the password against the hash it read before queueing for a hashing
/// thread; a reset may commit in between. Whoever knew the old password (the reason for the
/// reset) must not keep a session from a login that was in flight.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_login_in_flight_with_the_old_password_keeps_no_session_after_a_reset(pool: PgPool) {
    let settings = config(json!({ "password_hash_concurrency": 1 }));
    let app = TestApp::with_config(pool, settings).await;
    app.register("alice").await;
    app.ask_password_reset("alice@example.com").await;
    let token = app.mail.last_token();

    // One hashing thread, kept busy: the reset's hash and then the login's check queue
    // behind it in that order, so the login has read the old hash before the reset commits
    // and finishes after it.
    let busy = app.state.passwords.hash("keeps the thread busy".into());
    let reset = app.post(
        "/api/auth/reset-password",
        json!({ "token": token, "new_password": "brand new secret" }),
    );
    let login = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.login("alice", PASSWORD).await
    };
    let (_, reset, login) = tokio::join!(busy, reset, login);
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);

    if login.status == StatusCode::OK {
        let me = app
            .get_as("/api/auth/me", field(&login.body, "access_token"))
            .await;
        assert_eq!(
            me.code(),
            "session_revoked",
            "the old password's session outlived the reset"
        );
    } else {
        assert_eq!(login.code(), "invalid_credentials", "{}", login.body);
    }
    app.assert_password_changed("alice", "brand new secret")
        .await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
/// A lock stops password guessing; it must not sign the owner out of live sessions.
async fn deactivated_accounts_cannot_refresh_but_a_lock_keeps_live_sessions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    sqlx::query!("UPDATE auth.users SET is_active = false WHERE username = 'alice'")
        .execute(&app.pool)
        .await
        .expect("deactivate");
    sqlx::query!(
        "UPDATE auth.users SET locked_until = now() + interval '10 minutes' WHERE username = 'bob'"
    )
    .execute(&app.pool)
    .await
    .expect("lock");
    let refused = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": field(&alice, "refresh_token") }),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "account_disabled")
    );
    let locked = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": field(&bob, "refresh_token") }),
        )
        .await;
    assert_eq!(locked.status, StatusCode::OK, "{}", locked.body);
}
