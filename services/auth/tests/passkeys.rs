//! Passkeys with a software authenticator: register, list, passwordless login (`aal2`), the
//! passkey as the second factor of a password login and of a step-up, rename, remove, and a
//! cloned authenticator refused. (Other refusals: `passkey_refusals.rs`.)

mod common;

use axum::http::StatusCode;
use common::{
    PASSWORD, TestApp,
    mfa::{assert_step_up_required, claims},
    passkey::{self, assert_refused, passkey_proof, step_up_proof, token_of, with_passkey},
};
use serde_json::json;
use sqlx::PgPool;

fn mail_subjects(app: &TestApp) -> Vec<String> {
    let sent = app.mail.sent.lock().expect("lock");
    sent.iter().map(|mail| mail.subject.clone()).collect()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_passkey_is_registered_listed_signs_in_alone_and_is_renamed_and_removed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (user_id, token, mut key) = with_passkey(&app, "ann").await;

    let listed = app.get_as("/api/auth/passkeys", token.as_str()).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let passkeys = listed.body["passkeys"].as_array().expect("list");
    assert_eq!(passkeys.len(), 1);
    assert_eq!(passkeys[0]["name"], "Laptop");
    assert!(passkeys[0]["last_used_at"].is_null());
    let id = passkeys[0]["id"].as_str().expect("id").to_owned();
    let me = app.get_as("/api/auth/me", token.as_str()).await;
    assert_eq!(me.body["mfa"]["passkeys"], 1, "{}", me.body);

    // No username, no password: the passkey (with user verification) is both factors.
    let login = passkey::passwordless_login(&app, &mut key).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["user"]["id"], user_id.as_str());
    assert_eq!(login.body["aal"], "aal2");
    let aal2 = token_of(&login.body);
    assert_eq!(claims(&aal2)["aal"], "aal2");
    let refreshed = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": login.body["refresh_token"] }),
        )
        .await;
    assert_eq!(refreshed.body["aal"], "aal2", "{}", refreshed.body);

    let path = format!("/api/auth/passkeys/{id}");
    let renamed = app
        .patch_as(&path, json!({ "name": "  Work laptop " }), aal2.as_str())
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["name"], "Work laptop");
    assert!(renamed.body["last_used_at"].is_string(), "{}", renamed.body);
    for bad in ["", "   ", "a\u{7}b", &"x".repeat(65)] {
        let refused = app
            .patch_as(&path, json!({ "name": bad }), aal2.as_str())
            .await;
        assert_refused(
            &refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_passkey_name",
        );
    }

    let nul = app
        .patch_as(&path, json!({ "name": "a\u{0}b" }), aal2.as_str())
        .await;
    assert_refused(&nul, StatusCode::UNPROCESSABLE_ENTITY, "invalid_text");

    // Removing a factor is sensitive: the aal1 token of registration is not enough.
    assert_step_up_required(&app.delete_as(&path, token.as_str()).await, "remove");
    let removed = app.delete_as(&path, aal2.as_str()).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    assert_refused(
        &app.delete_as(&path, aal2.as_str()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let login = passkey::passwordless_login(&app, &mut key).await;
    assert_refused(&login, StatusCode::UNAUTHORIZED, "invalid_passkey");
    // Without a factor a password alone signs in again.
    let password = app.login("ann", PASSWORD).await;
    assert!(
        password.body["access_token"].is_string(),
        "{}",
        password.body
    );

    app.deliver_mail().await;
    let subjects = mail_subjects(&app);
    assert!(
        subjects.iter().any(|s| s == "A passkey was added"),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s == "A passkey was removed"),
        "{subjects:?}"
    );
    let trail = app.audit_trail(&user_id).await;
    for action in [
        "passkey_added:true",
        "passkey_renamed:true",
        "passkey_removed:true",
    ] {
        assert!(trail.iter().any(|row| row == action), "{action}: {trail:?}");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_password_login_asks_for_the_passkey_and_step_up_takes_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token, mut key) = with_passkey(&app, "ann").await;

    let login = app.login("ann", PASSWORD).await;
    assert_eq!(login.body["mfa_required"], true, "{}", login.body);
    assert_eq!(login.body["methods"], json!(["passkey"]));
    let mfa_token = login.body["mfa_token"].as_str().expect("token").to_owned();
    let proof = passkey_proof(&app, &mfa_token, &mut key).await;
    let done = app
        .login_mfa(json!({ "mfa_token": mfa_token, "passkey": proof }))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["aal"], "aal2");
    // The mfa_token was spent with the login.
    let again = app
        .post(
            "/api/auth/login/mfa/passkey",
            json!({ "mfa_token": mfa_token }),
        )
        .await;
    assert_refused(&again, StatusCode::UNAUTHORIZED, "invalid_mfa_token");

    // Step-up of the registration session (aal1) with the passkey.
    assert_step_up_required(
        &app.post_as(
            "/api/auth/passkeys/register/start",
            json!({}),
            token.as_str(),
        )
        .await,
        "a second passkey",
    );
    let proof = step_up_proof(&app, &token, &mut key).await;
    let stepped = app.step_up(&token, json!({ "passkey": proof })).await;
    assert_eq!(stepped.status, StatusCode::OK, "{}", stepped.body);
    assert_eq!(claims(&token_of(&stepped.body))["aal"], "aal2");
    let second = app
        .post_as(
            "/api/auth/passkeys/register/start",
            json!({}),
            token_of(&stepped.body).as_str(),
        )
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);

    // A passkey proof and a code at once is refused.
    let both = app
        .step_up(&token, json!({ "passkey": proof, "code": "123456" }))
        .await;
    assert_refused(&both, StatusCode::UNPROCESSABLE_ENTITY, "proof_required");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_cloned_authenticator_replaying_the_counter_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (user_id, _, mut original) = with_passkey(&app, "ann").await;
    let mut clone = original.clone_device();

    let first = passkey::passwordless_login(&app, &mut original).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    // The clone signs with the counter the original already used.
    let cloned = passkey::passwordless_login(&app, &mut clone).await;
    assert_refused(&cloned, StatusCode::UNAUTHORIZED, "invalid_passkey");
    assert_eq!(app.failed_attempts("ann").await, 1, "counted as a failure");
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT details->>'reason' FROM auth.audit_log WHERE user_id = $1::uuid AND NOT success",
    )
    .bind(&user_id)
    .fetch_all(&app.pool)
    .await
    .expect("audit");
    assert!(
        reasons.iter().any(|r| r == "passkey_counter_regressed"),
        "{reasons:?}"
    );
    // The original, one step ahead, still signs in.
    let next = passkey::passwordless_login(&app, &mut original).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
}
