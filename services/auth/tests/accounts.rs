//! Registration, login and the user's own profile.

mod common;

use axum::http::StatusCode;
use common::{PASSWORD, TestApp};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn register_creates_the_account_and_a_session(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let body = app.register("alice").await;
    assert_eq!(body["user"]["email"], "alice@example.com");
    assert_eq!(body["user"]["role"], "user");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(
        body["user"].get("password_hash").is_none(),
        "hashes never leave the service"
    );

    let me = app
        .get_as(
            "/api/auth/me",
            body["access_token"].as_str().expect("token"),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["username"], "alice");
    let user_id = body["user"]["id"].as_str().expect("id");
    assert_eq!(app.audit_trail(user_id).await, vec!["register:true"]);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn emails_and_usernames_are_unique_regardless_of_case(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let same_email = app
        .post("/api/auth/register", json!({ "email": "ALICE@Example.com", "username": "other", "full_name": "A", "password": PASSWORD }))
        .await;
    assert_eq!(
        (same_email.status, same_email.code()),
        (StatusCode::CONFLICT, "email_taken")
    );
    let same_name = app
        .post("/api/auth/register", json!({ "email": "new@example.com", "username": "ALICE", "full_name": "A", "password": PASSWORD }))
        .await;
    assert_eq!(
        (same_name.status, same_name.code()),
        (StatusCode::CONFLICT, "username_taken")
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn invalid_registrations_are_refused_with_a_reason(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let cases = [
        (
            json!({ "email": "nope", "username": "bob", "full_name": "B", "password": PASSWORD }),
            "invalid_email",
        ),
        (
            json!({ "email": "b@x.io", "username": "b", "full_name": "B", "password": PASSWORD }),
            "invalid_username",
        ),
        (
            json!({ "email": "b@x.io", "username": "bob", "full_name": " ", "password": PASSWORD }),
            "invalid_full_name",
        ),
        (
            json!({ "email": "b@x.io", "username": "bob", "full_name": "B", "password": "short" }),
            "invalid_password",
        ),
        (
            json!({ "email": "b@x.io", "username": "bob", "full_name": "B", "password": "x".repeat(129) }),
            "invalid_password",
        ),
        (
            json!({ "email": "b@x.io", "username": "bob", "full_name": "B", "password": PASSWORD, "role": "admin" }),
            "invalid_body",
        ),
    ];
    for (body, code) in cases {
        let reply = app.post("/api/auth/register", body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{body}"
        );
    }
    let users = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM auth.users"#)
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(users, 0);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn login_accepts_email_or_username_in_any_case(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    for login in ["alice@example.com", "Alice@Example.COM", "alice", "ALICE"] {
        let reply = app.login(login, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{login}: {}", reply.body);
        assert!(reply.body["user"]["last_login_at"].is_string());
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn wrong_password_and_unknown_user_look_the_same(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let user = app.register("alice").await;
    let wrong = app.login("alice", "not the password").await;
    let unknown = app.login("nobody", "not the password").await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    assert_eq!(
        (unknown.status, unknown.body.clone()),
        (wrong.status, wrong.body.clone())
    );
    let id = user["user"]["id"].as_str().expect("id");
    assert_eq!(
        app.audit_trail(id).await,
        vec!["register:true", "login:false"]
    );
    let unknown_rows = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM auth.audit_log
           WHERE user_id IS NULL AND action = 'login' AND details->>'reason' = 'unknown_account'"#
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(unknown_rows, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn profile_updates_change_only_what_is_sent(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("bob").await;
    let token = app.register_for_token("alice").await;
    let patch = |body| app.patch_as("/api/auth/me", body, &token);

    let reply =
        patch(json!({ "full_name": "Alice Liddell", "avatar_url": "https://img.example/a.png" }))
            .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["full_name"], "Alice Liddell");
    assert_eq!(reply.body["username"], "alice");

    let reply = patch(json!({ "avatar_url": null })).await;
    assert_eq!(reply.body["avatar_url"], serde_json::Value::Null);
    assert_eq!(reply.body["full_name"], "Alice Liddell");

    let taken = patch(json!({ "username": "Bob" })).await;
    assert_eq!(
        (taken.status, taken.code()),
        (StatusCode::CONFLICT, "username_taken")
    );
    let bad = patch(json!({ "avatar_url": "javascript:alert(1)" })).await;
    assert_eq!(bad.code(), "invalid_avatar_url");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn deactivated_accounts_cannot_log_in(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    sqlx::query!("UPDATE auth.users SET is_active = false WHERE username = 'alice'")
        .execute(&app.pool)
        .await
        .expect("deactivate");
    let reply = app.login("alice", PASSWORD).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "account_disabled")
    );
    let wrong = app.login("alice", "wrong password").await;
    assert_eq!(
        wrong.code(),
        "invalid_credentials",
        "no hint without the password"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn legacy_bcrypt_hashes_log_in_and_are_upgraded_to_argon2id(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("legacy").await;
    let bcrypt_hash = bcrypt::hash("old node password", 4).expect("bcrypt");
    sqlx::query!(
        "UPDATE auth.users SET password_hash = $1 WHERE username = 'legacy'",
        bcrypt_hash
    )
    .execute(&app.pool)
    .await
    .expect("set legacy hash");

    let reply = app.login("legacy", "old node password").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let stored =
        sqlx::query_scalar!("SELECT password_hash FROM auth.users WHERE username = 'legacy'")
            .fetch_one(&app.pool)
            .await
            .expect("hash");
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert_eq!(
        app.login("legacy", "old node password").await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_failure_inside_registration_leaves_no_half_made_account(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // Make the step after the account insert fail, as a crash or a bug there would.
    sqlx::raw_sql(
        "CREATE FUNCTION pg_temp_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$;
         CREATE TRIGGER fail_sessions BEFORE INSERT ON auth.user_sessions FOR EACH ROW EXECUTE FUNCTION pg_temp_fail();",
    )
    .execute(&app.pool)
    .await
    .expect("install failing trigger");
    let reply = app
        .post("/api/auth/register", json!({ "email": "c@example.com", "username": "carol", "full_name": "C", "password": PASSWORD }))
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::INTERNAL_SERVER_ERROR, "internal")
    );
    assert!(
        !reply.body.to_string().contains("boom"),
        "no internals in responses"
    );
    let users = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM auth.users"#)
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(users, 0);
    let mails = db::auth::outbox::list_for_recipient(&app.pool, "c@example.com")
        .await
        .expect("outbox");
    assert!(
        mails.is_empty(),
        "the verification mail is rolled back with the account"
    );
}

/// A full name goes into mail bodies ("Hi {name},") and other people's screens: line breaks
/// could forge lines of a mail, and bidi overrides make a name read as something else.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn full_names_with_control_characters_or_bidi_overrides_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("alice").await;
    let names = [
        "Alice\r\n\r\nClick https://evil.example/reset",
        "Alice\tLiddell",
        "Alice\u{7}",
        "Alice\u{85}",
        "Alice \u{202E}gnp.exe",
        "\u{2066}Alice\u{2069}",
    ];
    for (n, name) in names.into_iter().enumerate() {
        let registered = app
            .post(
                "/api/auth/register",
                json!({ "email": format!("bob{n}@example.com"), "username": format!("bob{n}"), "full_name": name, "password": PASSWORD }),
            )
            .await;
        assert_eq!(
            (registered.status, registered.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_full_name"),
            "register {name:?}: {}",
            registered.body
        );
        let patched = app
            .patch_as("/api/auth/me", json!({ "full_name": name }), &token)
            .await;
        assert_eq!(
            (patched.status, patched.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_full_name"),
            "PATCH me {name:?}: {}",
            patched.body
        );
    }
    let me = app.get_as("/api/auth/me", &token).await;
    assert_eq!(me.body["full_name"], "Test User");
    let accented = app
        .patch_as(
            "/api/auth/me",
            json!({ "full_name": " Zoë O'Brien-Ünal " }),
            &token,
        )
        .await;
    assert_eq!(
        accented.body["full_name"], "Zoë O'Brien-Ünal",
        "{}",
        accented.body
    );
}
