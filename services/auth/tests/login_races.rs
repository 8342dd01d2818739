//! A password login that a reset overtakes: the login reads the account's hash, then waits
//! for a hashing thread, and a reset can commit in that gap. Whatever the login does after
//! its check (a second-factor challenge, a rehash of a legacy hash) must not outlive or undo
//! the reset. One hashing thread, kept busy, forces that order. Likewise a second-factor or
//! passkey login that a deactivation overtakes, ordered by a row gate.

mod common;

use axum::http::{Method, StatusCode};
use common::{
    PASSWORD, TestApp, config,
    gate::{Gate, until_waiting},
    mfa::{code, settle},
    passkey::{passwordless_assertion, passwordless_login, with_passkey},
};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use testkit::Reply;

/// Resets `name`'s password to `new_password` while a login with [`PASSWORD`] is in flight:
/// the reset's hash and then the login's check queue behind a busy hashing thread in that
/// order, so the login has read the old hash before the reset commits and finishes after it.
/// Returns the login's reply.
async fn login_overtaken_by_a_reset(app: &TestApp, name: &str, new_password: &str) -> Reply {
    app.ask_password_reset(&format!("{name}@example.com")).await;
    let token = app.mail.last_token();
    let busy = app.state.passwords.hash("keeps the thread busy".into());
    let reset = app.post(
        "/api/auth/reset-password",
        json!({ "token": token, "new_password": new_password }),
    );
    let login = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.login(name, PASSWORD).await
    };
    let (_, reset, login) = tokio::join!(busy, reset, login);
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    login
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_challenge_earned_with_the_old_password_during_a_reset_signs_nobody_in(pool: PgPool) {
    let settings = config(json!({ "password_hash_concurrency": 1 }));
    let app = TestApp::with_config(pool, settings).await;
    let ann = app.enroll_totp("ann").await;

    let login = login_overtaken_by_a_reset(&app, "ann", "brand new secret").await;
    if login.status == StatusCode::OK {
        let mfa_token = login.body["mfa_token"].as_str().expect("mfa_token");
        let done = app
            .login_mfa(json!({ "mfa_token": mfa_token, "code": code(&ann.secret, 0) }))
            .await;
        assert_eq!(
            (done.status, done.code()),
            (StatusCode::UNAUTHORIZED, "invalid_mfa_token"),
            "the old password's challenge outlived the reset"
        );
    } else {
        assert_eq!(login.code(), "invalid_credentials", "{}", login.body);
    }
    app.assert_password_changed("ann", "brand new secret").await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn rehashing_a_legacy_hash_does_not_undo_a_reset(pool: PgPool) {
    let settings = config(json!({ "password_hash_concurrency": 1 }));
    let app = TestApp::with_config(pool, settings).await;
    // A second factor takes the login down the branch that rehashes before the challenge.
    app.enroll_totp("ann").await;
    let bcrypt_hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt");
    sqlx::query("UPDATE auth.users SET password_hash = $1 WHERE username = 'ann'")
        .bind(bcrypt_hash)
        .execute(&app.pool)
        .await
        .expect("set legacy hash");

    let login = login_overtaken_by_a_reset(&app, "ann", "brand new secret").await;
    assert!(
        login.status == StatusCode::OK || login.code() == "invalid_credentials",
        "{}",
        login.body
    );
    app.assert_password_changed("ann", "brand new secret").await;
}

/// Deactivates `user_id` as the admin API does (ending every session), inside `conn`'s
/// transaction.
async fn deactivate(conn: &mut PgConnection, user_id: &str) {
    let id = db::ids::UserId(user_id.parse().expect("uuid"));
    db::auth::admin::set_active(&mut *conn, id, false)
        .await
        .expect("deactivate");
    db::auth::sessions::revoke_all_for_user(&mut *conn, id, "deactivated", None)
        .await
        .expect("end sessions");
}

/// Sends `finish` (a sign-in that has already read `user_id` as active) while a deactivation
/// holds the account's row, and commits the deactivation once the sign-in waits for the row.
async fn overtaken_by_a_deactivation(
    app: &TestApp,
    user_id: &str,
    finish: impl Future<Output = Reply>,
) -> Reply {
    let mut gate = Gate::lock(&app.pool, &[user_id]).await;
    deactivate(gate.conn(), user_id).await;
    let release = async {
        until_waiting(&app.pool, 1).await;
        gate.open().await;
    };
    let (finished, ()) = tokio::join!(finish, release);
    finished
}

/// A second-factor login has read the account as active and checked the code when a
/// deactivation commits: the session it would make must not exist (reactivation would bring
/// it back, although deactivating ended every session).
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_second_factor_login_overtaken_by_a_deactivation_signs_nobody_in(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    settle().await;
    let mfa_token = app.mfa_token("ann").await;
    let body = json!({ "mfa_token": mfa_token, "code": code(&ann.secret, 0) });
    let login = overtaken_by_a_deactivation(&app, &ann.user_id, app.login_mfa(body)).await;
    assert_eq!(
        (login.status, login.code()),
        (StatusCode::FORBIDDEN, "account_disabled"),
        "a session made while deactivating: {}",
        login.body
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_passkey_login_overtaken_by_a_deactivation_signs_nobody_in(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (user_id, _, mut key) = with_passkey(&app, "ann").await;
    let body = passwordless_assertion(&app, &mut key).await;
    let finish = app.post("/api/auth/passkeys/login/finish", body);
    let login = overtaken_by_a_deactivation(&app, &user_id, finish).await;
    assert_eq!(
        (login.status, login.code()),
        (StatusCode::FORBIDDEN, "account_disabled"),
        "a session made while deactivating: {}",
        login.body
    );
}

/// Holds the rows `lock_sql` selects (`FOR UPDATE`) until `first` waits for them and `second`
/// waits behind it, then lets both go. Returns both replies.
async fn both_queued_behind(
    app: &TestApp,
    lock_sql: &str,
    first: impl Future<Output = Reply>,
    second: impl Future<Output = Reply>,
) -> (Reply, Reply) {
    let mut gate = app.pool.begin().await.expect("begin");
    sqlx::query(lock_sql)
        .execute(&mut *gate)
        .await
        .expect("hold the rows");
    let second = async {
        until_waiting(&app.pool, 1).await;
        second.await
    };
    let release = async {
        until_waiting(&app.pool, 2).await;
        gate.commit().await.expect("commit");
    };
    let (first, second, ()) = tokio::join!(first, second, release);
    (first, second)
}

/// A second-factor login spends its `mfa_token` while the owner changes the password, which
/// voids pending `mfa_token`s. The login used to spend the token before taking the account's
/// row, the change the other way round: the deadlock ended one of them with a 500. The
/// token's row is held until both wait, the login first.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_second_factor_login_during_a_password_change_answers_both(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    let aal2 = app.aal2_token(&ann).await;
    let mfa_token = app.mfa_token("ann").await;
    let body = json!({ "mfa_token": mfa_token, "recovery_code": ann.recovery_codes[0] });
    let (login, change) = both_queued_behind(
        &app,
        "SELECT 1 FROM auth.one_time_tokens WHERE purpose = 'mfa_login' FOR UPDATE",
        app.login_mfa(body),
        app.change_password(&aal2, "brand new secret"),
    )
    .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(change.status, StatusCode::NO_CONTENT, "{}", change.body);
    let access = login.body["access_token"].as_str().expect("access token");
    let me = app.get_as("/api/auth/me", access).await;
    assert_eq!(
        me.status,
        StatusCode::UNAUTHORIZED,
        "the change that followed ends the old password's session: {}",
        me.body
    );
}

/// A passwordless login records its passkey's use while an admin resets the owner's factors
/// (which deletes that passkey). The login used to take the passkey's row before the
/// account's, the reset the other way round: the deadlock ended one of them with a 500.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_passkey_login_during_an_admin_factor_reset_answers_both(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (user_id, _, mut key) = with_passkey(&app, "ann").await;
    let root = app.register_admin("chief").await;
    let root_token = root["access_token"].as_str().expect("token");
    let body = passwordless_assertion(&app, &mut key).await;
    let reset_path = format!("/api/auth/admin/users/{user_id}/mfa");
    let (login, reset) = both_queued_behind(
        &app,
        "SELECT 1 FROM auth.passkeys FOR UPDATE",
        app.post("/api/auth/passkeys/login/finish", body),
        app.request(Method::DELETE, &reset_path)
            .bearer(root_token)
            .send(),
    )
    .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    let again = passwordless_login(&app, &mut key).await;
    assert_eq!(
        again.code(),
        "invalid_passkey",
        "the reset removed the passkey"
    );
}

/// The owner turns TOTP off with a code while a second-factor login with the next code is in
/// flight. Turning it off used to take the factor's row (spending the code) before voiding the
/// `mfa_token`, the login the token's row before the factor's: the deadlock ended one of them
/// with a 500. The factor's row is held until both wait, turning it off first.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_second_factor_login_while_the_factor_is_turned_off_answers_both(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ann = app.enroll_totp("ann").await;
    app.forget_used_steps(&ann.user_id).await;
    settle().await;
    let mfa_token = app.mfa_token("ann").await;
    let login = json!({ "mfa_token": mfa_token, "code": code(&ann.secret, 1) });
    let (disabled, login) = both_queued_behind(
        &app,
        "SELECT 1 FROM auth.totp_factors FOR UPDATE",
        app.disable_totp(&ann.token, json!({ "code": code(&ann.secret, 0) })),
        app.login_mfa(login),
    )
    .await;
    assert_eq!(disabled.status, StatusCode::NO_CONTENT, "{}", disabled.body);
    assert_eq!(
        (login.status, login.code()),
        (StatusCode::UNAUTHORIZED, "invalid_mfa_token"),
        "turning the factor off voided the challenge: {}",
        login.body
    );
}
