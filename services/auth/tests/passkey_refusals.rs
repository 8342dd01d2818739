//! Passkey refusals: a spent or expired ceremony, another user's passkey or ceremony, an
//! answer from another origin, and relying-party settings that do not fit together.

mod common;

use axum::http::StatusCode;
use common::{
    TestApp, enrolment_proof,
    mfa::assert_step_up_required,
    passkey::{
        self, ORIGIN, SoftPasskey, assert_refused, passkey_proof, start_second_factor, token_of,
        with_passkey,
    },
};
use serde_json::{Value, json};
use sqlx::PgPool;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_ceremony_is_single_use_and_expires(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, _, mut key) = with_passkey(&app, "ann").await;

    let started = app.post("/api/auth/passkeys/login/start", json!({})).await;
    let credential = key.assert_discoverable(&started.body["options"]);
    let body = json!({ "ceremony_id": started.body["ceremony_id"], "credential": credential });
    let first = app
        .post("/api/auth/passkeys/login/finish", body.clone())
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let replay = app.post("/api/auth/passkeys/login/finish", body).await;
    assert_refused(&replay, StatusCode::BAD_REQUEST, "invalid_passkey_ceremony");

    let started = app.post("/api/auth/passkeys/login/start", json!({})).await;
    let credential = key.assert_discoverable(&started.body["options"]);
    sqlx::query("UPDATE auth.passkey_ceremonies SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .expect("expire");
    let late = app
        .post(
            "/api/auth/passkeys/login/finish",
            json!({ "ceremony_id": started.body["ceremony_id"], "credential": credential }),
        )
        .await;
    assert_refused(&late, StatusCode::BAD_REQUEST, "invalid_passkey_ceremony");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.passkey_ceremonies")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(left, 0, "finished and expired ceremonies are gone");
}

/// A refused answer counts toward the lockout before its ceremony is discarded: when the
/// discard fails (here a trigger fails the ceremony's second delete, the one after the
/// refusal), the guess has still been counted.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_refused_answer_is_counted_even_when_discarding_its_ceremony_fails(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, _, mut key) = with_passkey(&app, "ann").await;
    let mfa_token = app.mfa_token("ann").await;
    let started = start_second_factor(&app, &mfa_token).await;
    // A sequence is not transactional: the delete in the refused transaction draws 1 and
    // rolls back, the discard afterwards draws 2 and fails.
    sqlx::raw_sql(
        "CREATE SEQUENCE ceremony_deletes;
         CREATE FUNCTION fail_second_delete() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF nextval('ceremony_deletes') > 1 THEN RAISE EXCEPTION 'discard fails'; END IF;
           RETURN OLD;
         END $$;
         CREATE TRIGGER fail_second_delete BEFORE DELETE ON auth.passkey_ceremonies
           FOR EACH ROW EXECUTE FUNCTION fail_second_delete();",
    )
    .execute(&app.pool)
    .await
    .expect("trigger");

    let phished = key.get_at("https://evil.example", &started["options"]);
    let proof = json!({ "ceremony_id": started["ceremony_id"], "credential": phished });
    let refused = app
        .login_mfa(json!({ "mfa_token": mfa_token, "passkey": proof }))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        refused.body
    );
    assert_eq!(
        app.failed_attempts("ann").await,
        1,
        "the refused guess is counted"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn another_users_passkey_and_ceremonies_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ann_token, _) = with_passkey(&app, "ann").await;
    let (_, bob_token, mut bob_key) = with_passkey(&app, "bob").await;

    // Bob's passkey answering Ann's second-factor ceremony.
    let mfa_token = app.mfa_token("ann").await;
    let proof = passkey_proof_with_foreign_key(&app, &mfa_token, &mut bob_key).await;
    let refused = app
        .login_mfa(json!({ "mfa_token": mfa_token, "passkey": proof }))
        .await;
    assert_refused(&refused, StatusCode::UNAUTHORIZED, "invalid_passkey");

    // Bob finishing a registration Ann started.
    let started = app
        .post_as(
            "/api/auth/passkeys/register/start",
            json!({}),
            ann_token.as_str(),
        )
        .await;
    assert_step_up_required(&started, "ann has a factor");
    let fresh = app.register_for_token("cid").await;
    let started = app
        .post_as(
            "/api/auth/passkeys/register/start",
            enrolment_proof(),
            fresh.as_str(),
        )
        .await;
    let credential = SoftPasskey::new().create_at(ORIGIN, &started.body["options"]);
    let body = json!({ "ceremony_id": started.body["ceremony_id"], "name": "x", "credential": credential });
    let bob_aal2 = token_of(&passkey::passwordless_login(&app, &mut bob_key).await.body);
    let stolen = app
        .post_as(
            "/api/auth/passkeys/register/finish",
            body,
            bob_aal2.as_str(),
        )
        .await;
    assert_refused(&stolen, StatusCode::BAD_REQUEST, "invalid_passkey_ceremony");

    // Ann's passkey is not Bob's to rename or remove, nor listed to him.
    let ann_list = app.get_as("/api/auth/passkeys", ann_token.as_str()).await;
    let ann_id = ann_list.body["passkeys"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/auth/passkeys/{ann_id}");
    let rename = app
        .patch_as(&path, json!({ "name": "mine" }), bob_aal2.as_str())
        .await;
    assert_refused(&rename, StatusCode::NOT_FOUND, "not_found");
    let remove = app.delete_as(&path, bob_aal2.as_str()).await;
    assert_refused(&remove, StatusCode::NOT_FOUND, "not_found");
    let bob_list = app.get_as("/api/auth/passkeys", bob_token.as_str()).await;
    assert_eq!(bob_list.body["passkeys"].as_array().expect("list").len(), 1);
}

/// Bob's authenticator answers a ceremony that only allows Ann's credentials: a browser would
/// not, so the test lists Bob's credential in the options the way an attacker's client would.
async fn passkey_proof_with_foreign_key(
    app: &TestApp,
    mfa_token: &str,
    key: &mut SoftPasskey,
) -> Value {
    let started = start_second_factor(app, mfa_token).await;
    let mut options = started["options"].clone();
    options["publicKey"]["allowCredentials"] =
        json!([{ "type": "public-key", "id": key.credential_id.clone().expect("registered") }]);
    let credential = key.get_at(ORIGIN, &options);
    json!({ "ceremony_id": started["ceremony_id"], "credential": credential })
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_ceremony_answered_at_another_origin_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("ann").await;
    let started = app
        .post_as(
            "/api/auth/passkeys/register/start",
            enrolment_proof(),
            token.as_str(),
        )
        .await;
    let mut key = SoftPasskey::new();
    let credential = key.create_at("https://evil.example", &started.body["options"]);
    let body = json!({ "ceremony_id": started.body["ceremony_id"], "name": "x", "credential": credential });
    let refused = app
        .post_as("/api/auth/passkeys/register/finish", body, token.as_str())
        .await;
    assert_refused(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "passkey_registration_failed",
    );

    passkey::register(&app, &token, &mut key, "Laptop").await;
    let mfa_token = app.mfa_token("ann").await;
    let started = app
        .post(
            "/api/auth/login/mfa/passkey",
            json!({ "mfa_token": mfa_token }),
        )
        .await;
    let credential = key.get_at("https://evil.example", &started.body["options"]);
    let proof = json!({ "ceremony_id": started.body["ceremony_id"], "credential": credential });
    let phished = app
        .login_mfa(json!({ "mfa_token": mfa_token, "passkey": proof }))
        .await;
    assert_refused(&phished, StatusCode::UNAUTHORIZED, "invalid_passkey");
    // The refusal left the mfa_token usable, like a wrong code.
    let proof = passkey_proof(&app, &mfa_token, &mut key).await;
    let done = app
        .login_mfa(json!({ "mfa_token": mfa_token, "passkey": proof }))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_service_refuses_to_start_with_a_relying_party_id_that_does_not_fit_the_origin(
    pool: PgPool,
) {
    let config = common::config(json!({
        "webauthn_rp_origin": "https://app.example.com",
        "webauthn_rp_id": "evil.example",
    }));
    let refused = auth::AppState::new(pool, config, Default::default()).await;
    let error = refused.err().expect("refused").to_string();
    assert!(error.contains("WEBAUTHN_RP_ID"), "{error}");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn of_two_simultaneous_finishes_of_one_ceremony_exactly_one_signs_in(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, _, mut key) = with_passkey(&app, "ann").await;
    let started = app.post("/api/auth/passkeys/login/start", json!({})).await;
    let credential = key.assert_discoverable(&started.body["options"]);
    let body = json!({ "ceremony_id": started.body["ceremony_id"], "credential": credential });
    let (a, b) = tokio::join!(
        app.post("/api/auth/passkeys/login/finish", body.clone()),
        app.post("/api/auth/passkeys/login/finish", body),
    );
    let mut codes = [a.status, b.status];
    codes.sort();
    assert_eq!(
        codes,
        [StatusCode::OK, StatusCode::BAD_REQUEST],
        "{} / {}",
        a.body,
        b.body
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_malformed_passkey_id_is_a_json_error(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token, _) = with_passkey(&app, "ann").await;
    let renamed = app
        .patch_as(
            "/api/auth/passkeys/null,null",
            json!({ "name": "Phone" }),
            token.as_str(),
        )
        .await;
    let removed = app
        .delete_as("/api/auth/passkeys/not-a-uuid", token.as_str())
        .await;
    for reply in [renamed, removed] {
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_path"),
            "{}",
            reply.body
        );
    }
}
