//! Logging in with a second factor: a right password earns an `mfa_token`, not tokens; a TOTP
//! or recovery code finishes the login. Codes work once (within ±1 step of skew), wrong ones
//! count toward the lockout like wrong passwords, and the `mfa_token` is single use and short-lived.

mod common;

use axum::http::StatusCode;
use common::{
    PASSWORD, TestApp,
    mfa::{code, settle},
};
use serde_json::json;
use sqlx::PgPool;

/// `(failed_login_attempts, locked)` for `username`.
async fn lockout_state(app: &TestApp, username: &str) -> (i32, bool) {
    sqlx::query_as(
        "SELECT failed_login_attempts, coalesce(locked_until > now(), false) FROM auth.users WHERE username = $1",
    )
    .bind(username)
    .fetch_one(&app.pool)
    .await
    .expect("user")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_password_login_asks_for_the_code_and_the_code_signs_in(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let login = app.login("ann", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["mfa_required"], true);
    assert_eq!(login.body["methods"], json!(["totp", "recovery_code"]));
    assert_eq!(login.body["expires_in"], 300);
    assert!(
        login.body.get("access_token").is_none(),
        "no tokens yet: {}",
        login.body
    );
    assert!(login.body.get("refresh_token").is_none());

    let mfa_token = login.body["mfa_token"].as_str().expect("mfa_token");
    let done = app
        .login_mfa(json!({ "mfa_token": mfa_token, "code": code(&ann.secret, 0) }))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["user"]["username"], "ann");
    assert_eq!(done.body["token_type"], "Bearer");
    let access = done.body["access_token"].as_str().expect("access token");
    assert!(done.body["refresh_token"].is_string());
    let me = app.get_as("/api/auth/me", access).await;
    assert_eq!(me.status, StatusCode::OK);

    let again = app
        .login_mfa(json!({ "mfa_token": mfa_token, "code": code(&ann.secret, 1) }))
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::UNAUTHORIZED, "invalid_mfa_token"),
        "single use"
    );
    let trail = app.audit_trail(&ann.user_id).await;
    assert!(
        trail.ends_with(&[
            "mfa_challenge_issued:true".to_owned(),
            "login:true".to_owned()
        ]),
        "{trail:?}"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_code_is_accepted_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let current = code(&ann.secret, 0);
    let first = app
        .login_mfa(json!({ "mfa_token": app.mfa_token("ann").await, "code": current }))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let replay = app
        .login_mfa(json!({ "mfa_token": app.mfa_token("ann").await, "code": current }))
        .await;
    assert_eq!(
        (replay.status, replay.code()),
        (StatusCode::UNAUTHORIZED, "invalid_code")
    );
    let earlier = app
        .login_mfa(
            json!({ "mfa_token": app.mfa_token("ann").await, "code": code(&ann.secret, -1) }),
        )
        .await;
    assert_eq!(
        earlier.code(),
        "invalid_code",
        "an older step than the last used one"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn codes_one_step_off_are_accepted_and_two_steps_off_are_not(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    app.forget_used_steps(&ann.user_id).await;
    settle().await;
    for offset in [-2, 2] {
        let reply = app
            .login_mfa(json!({ "mfa_token": app.mfa_token("ann").await, "code": code(&ann.secret, offset) }))
            .await;
        assert_eq!(reply.code(), "invalid_code", "{offset} steps off");
    }
    for offset in [-1, 1] {
        let reply = app
            .login_mfa(json!({ "mfa_token": app.mfa_token("ann").await, "code": code(&ann.secret, offset) }))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{offset} steps off: {}",
            reply.body
        );
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_recovery_code_works_once_and_its_use_is_mailed_and_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    // Typed loosely: upper case, spaces for dashes.
    let typed = ann.recovery_codes[3].to_uppercase().replace('-', " ");
    let done = app
        .login_mfa(json!({ "mfa_token": app.mfa_token("ann").await, "recovery_code": typed }))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let access = done.body["access_token"].as_str().expect("token");
    let me = app.get_as("/api/auth/me", access).await;
    assert_eq!(
        me.body["mfa"],
        json!({ "totp": true, "recovery_codes_left": 9, "passkeys": 0 })
    );

    let reused = app
        .login_mfa(json!({ "mfa_token": app.mfa_token("ann").await, "recovery_code": ann.recovery_codes[3] }))
        .await;
    assert_eq!(
        (reused.status, reused.code()),
        (StatusCode::UNAUTHORIZED, "invalid_code")
    );
    let trail = app.audit_trail(&ann.user_id).await;
    assert_eq!(
        trail
            .iter()
            .filter(|a| *a == "mfa_recovery_code_used:true")
            .count(),
        1,
        "{trail:?}"
    );
    assert!(trail.contains(&"mfa_login:false".to_owned()), "{trail:?}");

    app.deliver_mail().await;
    let sent = app.mail.sent.lock().expect("lock").clone();
    let notices: Vec<_> = sent
        .iter()
        .filter(|m| m.subject == "A recovery code was used")
        .collect();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, "ann@example.com");
    assert!(notices[0].body.contains("9 left"), "{}", notices[0].body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn wrong_codes_lock_the_account_like_wrong_passwords(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let mfa_token = app.mfa_token("ann").await;
    for attempt in 1..=5 {
        let wrong = app
            .login_mfa(json!({ "mfa_token": mfa_token, "code": "000000" }))
            .await;
        assert_eq!(wrong.code(), "invalid_code", "attempt {attempt}");
    }
    assert_eq!(lockout_state(&app, "ann").await, (5, true));
    let right = app
        .login_mfa(json!({ "mfa_token": mfa_token, "code": code(&ann.secret, 0) }))
        .await;
    assert_eq!(
        right.code(),
        "invalid_code",
        "a locked account takes no code"
    );
    let recovery = app
        .login_mfa(json!({ "mfa_token": mfa_token, "recovery_code": ann.recovery_codes[0] }))
        .await;
    assert_eq!(recovery.code(), "invalid_code");
    assert_eq!(
        app.login("ann", PASSWORD).await.code(),
        "invalid_credentials"
    );
    assert!(
        app.mail_subjects("ann")
            .await
            .contains(&"Your DevMentor account was locked".to_owned())
    );
    let trail = app.audit_trail(&ann.user_id).await;
    assert!(
        trail.contains(&"account_locked:true".to_owned()),
        "{trail:?}"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_right_password_does_not_reset_the_count_of_wrong_codes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.enroll_totp("ann").await;
    for _ in 0..5 {
        let mfa_token = app.mfa_token("ann").await;
        app.login_mfa(json!({ "mfa_token": mfa_token, "code": "000000" }))
            .await;
    }
    assert_eq!(lockout_state(&app, "ann").await, (5, true));
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_unknown_or_expired_mfa_token_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let unknown = app
        .login_mfa(json!({ "mfa_token": "no-such-token", "code": "123456" }))
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::UNAUTHORIZED, "invalid_mfa_token")
    );

    let mfa_token = app.mfa_token("ann").await;
    sqlx::query("UPDATE auth.one_time_tokens SET expires_at = now() - interval '1 second' WHERE purpose = 'mfa_login'")
        .execute(&app.pool)
        .await
        .expect("expire");
    let expired = app
        .login_mfa(json!({ "mfa_token": mfa_token, "code": code(&ann.secret, 0) }))
        .await;
    assert_eq!(expired.code(), "invalid_mfa_token");
    assert_eq!(
        lockout_state(&app, "ann").await,
        (0, false),
        "no code was tried"
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM auth.one_time_tokens WHERE token_hash = $1")
            .bind(&mfa_token)
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(stored, 0, "only the token's digest is stored");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn bad_login_mfa_requests_get_clear_errors(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.enroll_totp("ann").await;
    let mfa_token = app.mfa_token("ann").await;
    let cases = [
        (json!({ "mfa_token": mfa_token }), "proof_required"),
        (
            json!({ "mfa_token": mfa_token, "code": "123456", "recovery_code": "abcd-efgh-ijkm-npqr" }),
            "proof_required",
        ),
        (
            json!({ "mfa_token": mfa_token, "code": "12345" }),
            "invalid_code_format",
        ),
        (
            json!({ "mfa_token": mfa_token, "recovery_code": "nope" }),
            "invalid_recovery_code_format",
        ),
        (json!({ "code": "123456" }), "invalid_body"),
    ];
    for (body, code) in cases {
        let reply = app.login_mfa(body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{body}"
        );
    }
    assert_eq!(
        lockout_state(&app, "ann").await,
        (0, false),
        "malformed input is no guess"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_login_answer_is_documented_in_both_shapes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let spec = app.get("/openapi.json").await.body;
    let login = &spec["paths"]["/api/auth/login"]["post"]["responses"]["200"];
    let schema = &login["content"]["application/json"]["schema"];
    let reference = schema["$ref"].as_str().expect("a named schema");
    let name = reference.rsplit('/').next().expect("name");
    let shapes = spec["components"]["schemas"][name]["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is one of two shapes: {spec}"));
    let refs: Vec<&str> = shapes.iter().filter_map(|s| s["$ref"].as_str()).collect();
    assert_eq!(
        refs,
        [
            "#/components/schemas/SignedIn",
            "#/components/schemas/MfaChallenge"
        ]
    );
    let challenge = &spec["components"]["schemas"]["MfaChallenge"]["properties"];
    assert!(challenge["mfa_token"].is_object() && challenge["methods"].is_object());
    let signed_in = serde_json::to_string(&spec["components"]["schemas"]["SignedIn"]).unwrap();
    assert!(signed_in.contains("access_token"), "{signed_in}");
}
