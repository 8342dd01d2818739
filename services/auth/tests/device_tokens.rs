//! Device tokens (OWASP's "device cookie"): a device that signed in to an account before is
//! not locked out by strangers' guesses. Its own wrong guesses spend a budget of its own; a
//! new password voids every device token of the account; a token that does not verify for
//! the account changes nothing.

mod common;

use axum::http::StatusCode;
use common::{
    PASSWORD, TestApp,
    gate::{Gate, until_waiting},
    mfa::code,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::Reply;

/// Where the attacker guesses from: not the owner's address, so no per-IP budget is shared.
const ATTACKER_IP: &str = "198.51.100.66";

fn device_token_of(body: &Value) -> String {
    body["device_token"]
        .as_str()
        .unwrap_or_else(|| panic!("a sign-in answers a device_token: {body}"))
        .to_owned()
}

impl TestApp {
    async fn login_on_device(&self, login: &str, password: &str, device_token: &str) -> Reply {
        let body = json!({ "login": login, "password": password, "device_token": device_token });
        self.post("/api/auth/login", body).await
    }

    /// How many of `user_id`'s guesses were checked and found wrong (audited as a refused
    /// `action` for `reason`); guesses refused by a spent budget are audited otherwise.
    async fn weighed_guesses(&self, user_id: &str, action: &str, reason: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM auth.audit_log
             WHERE user_id = $1::uuid AND action = $2 AND details->>'reason' = $3",
        )
        .bind(user_id)
        .bind(action)
        .bind(reason)
        .fetch_one(&self.pool)
        .await
        .expect("count")
    }

    /// Signs `login` in with [`PASSWORD`] and answers the device token it was given.
    async fn device_token(&self, login: &str) -> String {
        let reply = self.login(login, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        device_token_of(&reply.body)
    }

    /// A stranger locks `login` with five wrong passwords from another address.
    async fn lock_out(&self, login: &str) {
        for _ in 0..5 {
            let reply = self
                .login_from(ATTACKER_IP, login, "not the password")
                .await;
            assert_eq!(reply.code(), "invalid_credentials", "{}", reply.body);
        }
        assert_eq!(self.failed_attempts(login).await, 5, "locked");
    }
}

fn assert_refused_like_a_lock(reply: &Reply, code: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNAUTHORIZED, code),
        "{}",
        reply.body
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_owners_device_signs_in_while_strangers_keep_the_account_locked(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let device_token = app.device_token("alice").await;
    assert!(device_token.starts_with("d1."), "{device_token}");

    app.lock_out("alice").await;
    let stranger = app.login("alice", PASSWORD).await;
    assert_refused_like_a_lock(&stranger, "invalid_credentials");

    let owner = app.login_on_device("alice", PASSWORD, &device_token).await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.body);
    assert!(owner.body["access_token"].is_string(), "{}", owner.body);
    let renewed = device_token_of(&owner.body);
    assert_ne!(renewed, device_token, "each sign-in is a new device token");
    assert_eq!(
        app.failed_attempts("alice").await,
        0,
        "the owner's sign-in lifts the lock"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_password_reset_voids_every_device_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let device_token = app.device_token("alice").await;

    app.ask_password_reset("alice@example.com").await;
    let body = json!({ "token": app.mail.last_token(), "new_password": "brand new secret" });
    let reset = app.post("/api/auth/reset-password", body).await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);

    app.lock_out("alice").await;
    let old_device = app
        .login_on_device("alice", "brand new secret", &device_token)
        .await;
    assert_refused_like_a_lock(&old_device, "invalid_credentials");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn wrong_guesses_from_a_device_spend_its_budget_not_the_accounts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    let device_token = app.device_token("alice").await;

    for _ in 0..5 {
        let wrong = app.login_on_device("alice", "typo", &device_token).await;
        assert_eq!(wrong.code(), "invalid_credentials", "{}", wrong.body);
    }
    assert_eq!(
        app.failed_attempts("alice").await,
        0,
        "the account counted none"
    );

    let spent = app.login_on_device("alice", PASSWORD, &device_token).await;
    assert_refused_like_a_lock(&spent, "invalid_credentials");
    let elsewhere = app.login("alice", PASSWORD).await;
    assert_eq!(
        elsewhere.status,
        StatusCode::OK,
        "the account is not locked"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_device_finishes_a_two_factor_login_while_the_account_is_locked(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let carol = app.enroll_totp("carol").await;
    let device_token = device_token_of(&app.sign_in_with_code(&carol).await);

    app.lock_out("carol").await;
    let stranger = app.login("carol", PASSWORD).await;
    assert_refused_like_a_lock(&stranger, "invalid_credentials");

    let first = app.login_on_device("carol", PASSWORD, &device_token).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let mfa_token = first.body["mfa_token"].as_str().expect("mfa_token");
    app.forget_used_steps(&carol.user_id).await;
    let proof = json!({ "mfa_token": mfa_token, "code": code(&carol.secret, 0) });
    let without = app.login_mfa(proof.clone()).await;
    assert_refused_like_a_lock(&without, "invalid_code");

    let mut on_device = proof;
    on_device["device_token"] = json!(device_token);
    let signed_in = app.login_mfa(on_device).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert_eq!(signed_in.body["aal"], "aal2");
    device_token_of(&signed_in.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn wrong_codes_from_a_device_spend_its_budget_not_the_accounts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let carol = app.enroll_totp("carol").await;
    let device_token = device_token_of(&app.sign_in_with_code(&carol).await);

    let first = app.login_on_device("carol", PASSWORD, &device_token).await;
    let mfa_token = first.body["mfa_token"].as_str().expect("mfa_token");
    for _ in 0..5 {
        let body =
            json!({ "mfa_token": mfa_token, "code": "000000", "device_token": device_token });
        let wrong = app.login_mfa(body).await;
        assert_eq!(wrong.code(), "invalid_code", "{}", wrong.body);
    }
    assert_eq!(
        app.failed_attempts("carol").await,
        0,
        "the account counted none"
    );

    app.forget_used_steps(&carol.user_id).await;
    let right = code(&carol.secret, 0);
    let body = json!({ "mfa_token": mfa_token, "code": right, "device_token": device_token });
    let spent = app.login_mfa(body).await;
    assert_refused_like_a_lock(&spent, "invalid_code");
    let elsewhere = app
        .login_mfa(json!({ "mfa_token": mfa_token, "code": right }))
        .await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_forged_or_foreign_device_token_is_no_device_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("alice").await;
    app.register("bob").await;
    let alices = app.device_token("alice").await;
    let (_, device_and_mac) = alices.split_once('.').expect("d1.<device>.<mac>");
    let (device, _) = device_and_mac.split_once('.').expect("<device>.<mac>");
    let not_a_device = [
        app.device_token("bob").await,
        format!("d1.{device}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        format!(
            "d1.{}.{}",
            uuid::Uuid::new_v4(),
            &alices[alices.len() - 43..]
        ),
        "nonsense".to_owned(),
    ];

    // Counted toward the account's lockout, like a guess without a token.
    for token in &not_a_device {
        let wrong = app.login_on_device("alice", "typo", token).await;
        assert_eq!(wrong.code(), "invalid_credentials", "{}", wrong.body);
    }
    assert_eq!(app.failed_attempts("alice").await, 4);
    app.login("alice", "typo").await;
    assert_eq!(app.failed_attempts("alice").await, 5, "locked");

    // And refused by the lock, like a sign-in without a token.
    for token in &not_a_device {
        let refused = app.login_on_device("alice", PASSWORD, token).await;
        assert_refused_like_a_lock(&refused, "invalid_credentials");
    }
    let unknown = app.login_on_device("nobody", PASSWORD, &alices).await;
    assert_refused_like_a_lock(&unknown, "invalid_credentials");
    let owner = app.login_on_device("alice", PASSWORD, &alices).await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn concurrent_wrong_passwords_from_one_device_get_no_more_than_its_budget(pool: PgPool) {
    // As many hashing threads as guesses, so that they are all weighed at once.
    let config = common::config(json!({ "password_hash_concurrency": 20 }));
    let app = TestApp::with_config(pool, config).await;
    let signed_in = app.register("alice").await;
    let device_token = app.device_token("alice").await;

    // Four wrong guesses first: the last place in the budget is then raced for by all twenty.
    for _ in 0..4 {
        let wrong = app.login_on_device("alice", "typo", &device_token).await;
        assert_refused_like_a_lock(&wrong, "invalid_credentials");
    }
    let guesses = (0..20).map(|_| app.login_on_device("alice", "typo", &device_token));
    for reply in futures::future::join_all(guesses).await {
        assert_refused_like_a_lock(&reply, "invalid_credentials");
    }
    let user_id = signed_in["user"]["id"].as_str().expect("id");
    let weighed = app
        .weighed_guesses(user_id, "login", "wrong_password")
        .await;
    assert_eq!(weighed, 5, "4 + 20 guesses, and this many weighed");
    let spent = app.login_on_device("alice", PASSWORD, &device_token).await;
    assert_refused_like_a_lock(&spent, "invalid_credentials");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn wrong_codes_racing_from_one_device_get_no_more_than_its_budget(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let carol = app.enroll_totp("carol").await;
    let device_token = device_token_of(&app.sign_in_with_code(&carol).await);
    let first = app.login_on_device("carol", PASSWORD, &device_token).await;
    let mfa_token = first.body["mfa_token"].as_str().expect("mfa_token");

    let body = json!({ "mfa_token": mfa_token, "code": "000000", "device_token": device_token });
    for _ in 0..4 {
        let wrong = app.login_mfa(body.clone()).await;
        assert_refused_like_a_lock(&wrong, "invalid_code");
    }
    // Three wrong codes for the last place, while the account's row is held: each one the
    // budget admits goes on to wait for the row, where its code is checked, so the budget
    // must be taken on admission. (Three: each waiting request holds one of the test pool's
    // five connections, the gate and the lock watch one each.)
    let gate = Gate::lock(&app.pool, &[&carol.user_id]).await;
    let guesses = (0..3).map(|_| app.login_mfa(body.clone()));
    let release = async {
        until_waiting(&app.pool, 1).await;
        // Time for any guess admitted beyond the budget to queue too.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        gate.open().await;
    };
    let (replies, ()) = tokio::join!(futures::future::join_all(guesses), release);
    for reply in replies {
        assert_refused_like_a_lock(&reply, "invalid_code");
    }
    let weighed = app
        .weighed_guesses(&carol.user_id, "mfa_login", "wrong_code")
        .await;
    assert_eq!(weighed, 5, "of 4 + 3 wrong codes, this many were checked");
}
