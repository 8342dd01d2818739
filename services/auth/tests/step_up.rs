//! Step-up: a user with a second factor needs an `aal2` token for sensitive actions (403
//! `step_up_required` otherwise), and `POST step-up` trades a fresh code for one in the same
//! session, with the checks of `login/mfa`. A user without a factor passes at `aal1`;
//! enrolling one takes effect at once. (How long `aal2` lasts: `aal_sessions.rs`.)

mod common;

use axum::http::{Method, StatusCode};
use common::{
    PASSWORD, TestApp,
    mfa::{assert_step_up_required, claims, code, settle},
};
use serde_json::json;
use sqlx::PgPool;
use testkit::Reply;

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn change_password(app: &TestApp, token: &str) -> Reply {
    app.change_password(token, NEW_PASSWORD).await
}

async fn change_email(app: &TestApp, token: &str, email: &str) -> Reply {
    let body = json!({ "email": email, "password": PASSWORD });
    app.post_as("/api/auth/me/email", body, token).await
}

async fn make_admin(app: &TestApp, user_id: &str) {
    let id = db::ids::UserId(user_id.parse().expect("uuid"));
    db::auth::admin::set_role(&app.pool, id, "admin")
        .await
        .expect("set role");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn aal1_tokens_of_a_user_with_a_factor_are_refused_every_sensitive_action(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    make_admin(&app, &ann.user_id).await;
    assert_eq!(claims(&ann.token)["aal"], "aal1");

    let refused = [
        (
            "email change",
            change_email(&app, &ann.token, "new@example.com").await,
        ),
        ("password change", change_password(&app, &ann.token).await),
        (
            "factor removal with the password",
            app.disable_totp(&ann.token, json!({ "password": PASSWORD }))
                .await,
        ),
        (
            "an admin route",
            app.get_as("/api/auth/admin/users", &ann.token).await,
        ),
    ];
    for (what, reply) in &refused {
        assert_step_up_required(reply, what);
    }
    assert_eq!(
        app.failed_attempts(&ann.name).await,
        0,
        "refused before any password was checked"
    );
    let me = app.get_as("/api/auth/me", &ann.token).await;
    assert_eq!(me.body["email"], "ann@example.com", "nothing changed");
    assert_eq!(me.body["mfa"]["totp"], true);
    // The password did not change: it still earns a second-factor challenge.
    app.mfa_token("ann").await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_step_up_gives_an_aal2_token_of_the_same_session_and_the_actions_pass(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    make_admin(&app, &ann.user_id).await;
    let session = claims(&ann.token)["sid"].clone();
    settle().await;
    let stepped = app
        .step_up(&ann.token, json!({ "code": code(&ann.secret, 0) }))
        .await;
    assert_eq!(stepped.status, StatusCode::OK, "{}", stepped.body);
    assert_eq!(stepped.body["aal"], "aal2");
    assert_eq!(stepped.body["token_type"], "Bearer");
    assert_eq!(stepped.body["session_id"], session, "the same session");
    assert_eq!(stepped.body["user"]["username"], "ann");
    assert!(
        stepped.body.get("refresh_token").is_none(),
        "the old one stays"
    );
    let aal2 = stepped.body["access_token"].as_str().expect("token");
    let token = claims(aal2);
    assert_eq!((&token["aal"], &token["sid"]), (&json!("aal2"), &session));
    let window = stepped.body["aal2_expires_in"].as_u64().expect("secs");
    assert!((12 * 3600 - 5..=12 * 3600).contains(&window), "{window}");

    let admin = app.get_as("/api/auth/admin/users", aal2).await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.body);
    let email = change_email(&app, aal2, "ann.new@example.com").await;
    assert_eq!(email.status, StatusCode::OK, "{}", email.body);
    assert_eq!(email.body["email"], "ann.new@example.com");
    let password = change_password(&app, aal2).await;
    assert_eq!(password.status, StatusCode::NO_CONTENT, "{}", password.body);
    assert_eq!(
        app.login("ann.new@example.com", NEW_PASSWORD).await.body["mfa_required"],
        true
    );
    let trail = app.audit_trail(&ann.user_id).await;
    for action in [
        "step_up:true",
        "email_changed:true",
        "password_changed:true",
    ] {
        assert!(trail.contains(&action.to_owned()), "{action}: {trail:?}");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_step_up_code_works_once_even_when_sent_twice_at_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    settle().await;
    let body = json!({ "code": code(&ann.secret, 0) });
    let (first, second) = tokio::join!(
        app.step_up(&ann.token, body.clone()),
        app.step_up(&ann.token, body.clone())
    );
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED]);
    let replay = app.step_up(&ann.token, body).await;
    assert_eq!(
        (replay.status, replay.code()),
        (StatusCode::UNAUTHORIZED, "invalid_code")
    );
    let earlier = app
        .step_up(&ann.token, json!({ "code": code(&ann.secret, -1) }))
        .await;
    assert_eq!(
        earlier.code(),
        "invalid_code",
        "older than the last used step"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn wrong_step_up_codes_count_toward_the_lockout(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    settle().await;
    let right = code(&ann.secret, 0);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for attempt in 1..=5 {
        let reply = app.step_up(&ann.token, json!({ "code": wrong })).await;
        assert_eq!(reply.code(), "invalid_code", "attempt {attempt}");
    }
    let (attempts, locked): (i32, bool) = sqlx::query_as(
        "SELECT failed_login_attempts, locked_until > now() FROM auth.users WHERE username = 'ann'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("user");
    assert_eq!((attempts, locked), (5, true));
    let after_lock = app.step_up(&ann.token, json!({ "code": right })).await;
    assert_eq!(
        after_lock.code(),
        "invalid_code",
        "a locked account takes no code, not even the right one"
    );
    let trail = app.audit_trail(&ann.user_id).await;
    assert!(trail.contains(&"step_up:false".to_owned()), "{trail:?}");
    assert!(
        trail.contains(&"account_locked:true".to_owned()),
        "{trail:?}"
    );
    assert!(!trail.contains(&"step_up:true".to_owned()), "{trail:?}");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_recovery_code_steps_up_once_and_its_use_is_mailed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let recovery = ann.recovery_codes[0].to_uppercase();
    let first = app
        .step_up(&ann.token, json!({ "recovery_code": recovery }))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["aal"], "aal2");
    let again = app
        .step_up(&ann.token, json!({ "recovery_code": recovery }))
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::UNAUTHORIZED, "invalid_code")
    );
    let me = app.get_as("/api/auth/me", &ann.token).await;
    assert_eq!(me.body["mfa"]["recovery_codes_left"], 9);
    assert!(
        app.mail_subjects("ann")
            .await
            .contains(&"A recovery code was used".to_owned())
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_user_without_a_factor_passes_at_aal1_and_has_nothing_to_step_up_with(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("bob").await;
    assert_eq!(claims(&token)["aal"], "aal1");
    let step_up = app.step_up(&token, json!({ "code": "123456" })).await;
    assert_eq!(
        (step_up.status, step_up.code()),
        (StatusCode::CONFLICT, "mfa_not_enabled")
    );
    let email = change_email(&app, &token, "bob.new@example.com").await;
    assert_eq!(email.status, StatusCode::OK, "{}", email.body);
    let password = change_password(&app, &token).await;
    assert_eq!(password.status, StatusCode::NO_CONTENT, "{}", password.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn enrolling_a_factor_makes_the_same_aal1_token_step_up_at_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // `enroll_totp` confirms the factor with the registration's own token.
    let ann = app.enroll_totp("ann").await;
    let refused = change_password(&app, &ann.token).await;
    assert_step_up_required(&refused, "the token signed before the factor existed");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn bad_step_up_requests_get_clear_errors(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let cases = [
        (json!({}), "proof_required"),
        (
            json!({ "code": "123456", "recovery_code": ann.recovery_codes[0] }),
            "proof_required",
        ),
        (json!({ "code": "12345" }), "invalid_code_format"),
        (json!({ "code": "12345\u{0}6" }), "invalid_text"),
        (
            json!({ "recovery_code": "not-a-code" }),
            "invalid_recovery_code_format",
        ),
        (json!({ "code": "123456", "aal": "aal2" }), "invalid_body"),
    ];
    for (body, expected) in cases {
        let reply = app.step_up(&ann.token, body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, expected),
            "{body}: {}",
            reply.body
        );
    }
    let anonymous = app
        .request(Method::POST, "/api/auth/step-up")
        .json(&json!({ "code": "123456" }))
        .send()
        .await;
    assert_eq!(
        (anonymous.status, anonymous.code()),
        (StatusCode::UNAUTHORIZED, "missing_token")
    );
    assert_eq!(app.failed_attempts(&ann.name).await, 0);
}
