//! TOTP second factor: enrolling, confirming (recovery codes shown once), regenerating the
//! codes and turning the factor off, the `me` view of it, and the secret encrypted at rest.

mod common;

use axum::http::StatusCode;
use common::{
    PASSWORD, TestApp, enrolment_proof,
    mfa::{code, settle},
};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn enrolling_and_confirming_turns_totp_on_with_ten_recovery_codes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("ann").await;
    let enrolled = app
        .post_as("/api/auth/mfa/totp/enroll", enrolment_proof(), &token)
        .await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.body);
    let secret = enrolled.body["secret"].as_str().expect("secret");
    let uri = enrolled.body["otpauth_uri"].as_str().expect("uri");
    assert!(
        uri.starts_with("otpauth://totp/DevMentor:ann%40example.com?"),
        "{uri}"
    );
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(
        enrolled.body["qr_svg"]
            .as_str()
            .expect("qr")
            .contains("<svg")
    );

    let me = app.get_as("/api/auth/me", &token).await;
    assert_eq!(
        me.body["mfa"],
        json!({ "totp": false, "recovery_codes_left": 0, "passkeys": 0 }),
        "pending"
    );
    assert_eq!(me.body["username"], "ann", "existing fields stay");
    assert_eq!(
        app.login("ann", PASSWORD).await.body["mfa_required"],
        json!(null)
    );

    let confirmed = app
        .post_as(
            "/api/auth/mfa/totp/confirm",
            json!({ "code": code(secret, 0) }),
            &token,
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let codes = confirmed.body["recovery_codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 10);
    let distinct: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), 10);
    let me = app.get_as("/api/auth/me", &token).await;
    assert_eq!(
        me.body["mfa"],
        json!({ "totp": true, "recovery_codes_left": 10, "passkeys": 0 })
    );
    let user_id = me.body["id"].as_str().expect("id");
    let trail = app.audit_trail(user_id).await;
    assert!(
        trail.contains(&"mfa_totp_enrollment_started:true".to_owned()),
        "{trail:?}"
    );
    assert!(
        trail.contains(&"mfa_totp_enabled:true".to_owned()),
        "{trail:?}"
    );
    assert_eq!(
        app.mail_subjects("ann").await.last().map(String::as_str),
        Some("Two-factor sign-in is on")
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM auth.recovery_codes WHERE code_hash = ANY($1)")
            .bind(
                codes
                    .iter()
                    .map(|c| c.as_str().unwrap().to_owned())
                    .collect::<Vec<_>>(),
            )
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(stored, 0, "recovery codes are stored hashed only");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn enrolling_again_replaces_a_pending_secret_but_not_a_confirmed_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("ann").await;
    let first = app
        .post_as("/api/auth/mfa/totp/enroll", enrolment_proof(), &token)
        .await;
    let second = app
        .post_as("/api/auth/mfa/totp/enroll", enrolment_proof(), &token)
        .await;
    let (first, second) = (
        first.body["secret"].as_str().unwrap(),
        second.body["secret"].as_str().unwrap(),
    );
    assert_ne!(first, second);
    settle().await;
    let stale = app
        .post_as(
            "/api/auth/mfa/totp/confirm",
            json!({ "code": code(first, 0) }),
            &token,
        )
        .await;
    assert_eq!(
        (stale.status, stale.code()),
        (StatusCode::UNAUTHORIZED, "invalid_code")
    );
    let confirmed = app
        .post_as(
            "/api/auth/mfa/totp/confirm",
            json!({ "code": code(second, 0) }),
            &token,
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);

    let again = app
        .post_as("/api/auth/mfa/totp/enroll", enrolment_proof(), &token)
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "mfa_already_enabled")
    );
    let reconfirm = app
        .post_as(
            "/api/auth/mfa/totp/confirm",
            json!({ "code": code(second, 1) }),
            &token,
        )
        .await;
    assert_eq!(reconfirm.code(), "mfa_already_enabled");
    let login = app.login("ann", PASSWORD).await;
    assert_eq!(
        login.body["mfa_required"], true,
        "the confirmed secret still rules"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_stored_secret_is_encrypted_and_bound_to_its_user(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT secret_ciphertext FROM auth.totp_factors WHERE user_id = $1")
            .bind(ann.user_id.parse::<uuid::Uuid>().unwrap())
            .fetch_one(&app.pool)
            .await
            .expect("factor");
    let raw = totp_rs::Secret::try_from_base32(&ann.secret)
        .unwrap()
        .as_ref()
        .to_vec();
    let contains = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(ann.secret.as_bytes()), "not the base32 text");
    assert!(!contains(&raw), "not the raw bytes");
    let ann_id = db::ids::UserId(ann.user_id.parse().unwrap());
    let opened = app
        .state
        .mfa_cipher
        .open(ann_id, &stored)
        .expect("opens for ann");
    assert_eq!(opened, raw);
    let bob = db::ids::UserId(uuid::Uuid::new_v4());
    assert!(
        app.state.mfa_cipher.open(bob, &stored).is_err(),
        "a copied row opens for no one else"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn bad_second_factor_requests_get_clear_errors(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("ann").await;
    let cases = [
        (
            "/api/auth/mfa/totp/confirm",
            json!({ "code": "123456" }),
            StatusCode::CONFLICT,
            "mfa_not_enrolled",
        ),
        (
            "/api/auth/mfa/totp/confirm",
            json!({ "code": "12ab56" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_code_format",
        ),
        (
            "/api/auth/mfa/totp/confirm",
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/api/auth/mfa/recovery-codes",
            json!({ "code": "123456" }),
            StatusCode::CONFLICT,
            "mfa_not_enabled",
        ),
        (
            "/api/auth/mfa/recovery-codes",
            json!({ "code": "123456", "extra": 1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (path, body, status, code) in cases {
        let reply = app.post_as(path, body.clone(), &token).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{path} {body}: {}",
            reply.body
        );
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let disable = app
        .disable_totp(&token, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(
        (disable.status, disable.code()),
        (StatusCode::CONFLICT, "mfa_not_enabled")
    );
    for body in [json!({}), json!({ "code": "123456", "password": PASSWORD })] {
        let reply = app.disable_totp(&token, body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "proof_required")
        );
    }
    let anonymous = app.post("/api/auth/mfa/totp/enroll", json!({})).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn regenerating_recovery_codes_needs_a_fresh_code_and_voids_the_old_ones(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let replayed = app
        .post_as(
            "/api/auth/mfa/recovery-codes",
            json!({ "code": code(&ann.secret, -1) }),
            &ann.token,
        )
        .await;
    assert_eq!(
        replayed.code(),
        "invalid_code",
        "the code that confirmed is spent"
    );
    let fresh = app
        .post_as(
            "/api/auth/mfa/recovery-codes",
            json!({ "code": code(&ann.secret, 0) }),
            &ann.token,
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    let new_codes = fresh.body["recovery_codes"].as_array().expect("codes");
    assert_eq!(new_codes.len(), 10);
    assert!(
        new_codes
            .iter()
            .all(|c| !ann.recovery_codes.contains(&c.as_str().unwrap().to_owned()))
    );

    let old = app
        .login_mfa(json!({ "mfa_token": app.mfa_token("ann").await, "recovery_code": ann.recovery_codes[0] }))
        .await;
    assert_eq!(
        (old.status, old.code()),
        (StatusCode::UNAUTHORIZED, "invalid_code")
    );
    let new = app
        .login_mfa(
            json!({ "mfa_token": app.mfa_token("ann").await, "recovery_code": new_codes[0] }),
        )
        .await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.body);
    let trail = app.audit_trail(&ann.user_id).await;
    assert!(
        trail.contains(&"mfa_recovery_codes_regenerated:true".to_owned()),
        "{trail:?}"
    );
    assert!(
        trail.contains(&"mfa_recovery_codes_regenerated:false".to_owned()),
        "{trail:?}"
    );
    assert!(
        app.mail_subjects("ann")
            .await
            .contains(&"New recovery codes".to_owned())
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn disabling_with_a_code_removes_the_factor_and_its_codes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let wrong = app
        .disable_totp(&ann.token, json!({ "code": code(&ann.secret, -1) }))
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "invalid_code")
    );
    let done = app
        .disable_totp(&ann.token, json!({ "code": code(&ann.secret, 0) }))
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    assert_removed(&app, &ann).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn disabling_with_the_password_removes_the_factor_and_a_wrong_one_counts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let aal1 = app
        .disable_totp(&ann.token, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(
        (aal1.status, aal1.code()),
        (StatusCode::FORBIDDEN, "step_up_required"),
        "the password is no second factor: it needs an aal2 token"
    );
    let aal2 = app.aal2_token(&ann).await;
    let wrong = app
        .disable_totp(&aal2, json!({ "password": "not the password" }))
        .await;
    app.assert_wrong_password_counted(&wrong, &ann.name).await;
    let done = app
        .disable_totp(&aal2, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    assert_removed(&app, &ann).await;
}

async fn assert_removed(app: &TestApp, ann: &common::mfa::Enrolled) {
    app.assert_no_second_factor(ann).await;
    let trail = app.audit_trail(&ann.user_id).await;
    assert!(
        trail.contains(&"mfa_totp_disabled:true".to_owned()),
        "{trail:?}"
    );
    assert!(
        trail.contains(&"mfa_totp_disabled:false".to_owned()),
        "the refusal too: {trail:?}"
    );
    let subjects = app.mail_subjects(&ann.name).await;
    assert!(
        subjects.contains(&"Two-factor sign-in was turned off".to_owned()),
        "{subjects:?}"
    );
}
