//! `POST me/email`: the current password moves the account to a new address, unverified until
//! the link mailed there is used; the old address is told and its links stop working.

mod common;

use axum::http::StatusCode;
use common::{PASSWORD, TestApp, gate::until_waiting};
use serde_json::json;
use sqlx::PgPool;
use testkit::Reply;

/// The token in the link of the newest mail to `to` with `subject`.
fn link_token(app: &TestApp, to: &str, subject: &str) -> String {
    let sent = app.mail.sent.lock().expect("lock");
    let mail = sent
        .iter()
        .rev()
        .find(|mail| mail.to == to && mail.subject == subject)
        .unwrap_or_else(|| panic!("no mail {subject:?} to {to}"));
    let start = mail.body.find("token=").expect("a link") + "token=".len();
    mail.body[start..]
        .split_whitespace()
        .next()
        .expect("token")
        .to_owned()
}

async fn change_email(app: &TestApp, token: &str, email: &str, password: &str) -> Reply {
    let body = json!({ "email": email, "password": password });
    app.post_as("/api/auth/me/email", body, token).await
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_address_changes_unverified_and_both_addresses_hear_of_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let signed_in = app.register("ann").await;
    let token = signed_in["access_token"].as_str().expect("token");
    let user_id = signed_in["user"]["id"].as_str().expect("id");
    sqlx::query("UPDATE auth.users SET is_verified = true WHERE id = $1::uuid")
        .bind(user_id)
        .execute(&app.pool)
        .await
        .expect("verified");
    app.ask_password_reset("ann@example.com").await;
    let old_reset_link = link_token(&app, "ann@example.com", "Reset your password");

    let changed = change_email(&app, token, "  Ann.New@Example.com ", PASSWORD).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["email"], "ann.new@example.com");
    assert_eq!(changed.body["is_verified"], false);

    app.deliver_mail().await;
    let sent = app.mail.sent.lock().expect("lock").clone();
    let notice = sent
        .iter()
        .find(|mail| mail.subject == "Your email address was changed")
        .expect("the old address is told");
    assert_eq!(notice.to, "ann@example.com");
    assert!(
        notice.body.contains("ann.new@example.com"),
        "{}",
        notice.body
    );
    let verify = link_token(&app, "ann.new@example.com", "Confirm your email address");

    let body = json!({ "token": old_reset_link, "new_password": "another passphrase" });
    let reset = app.post("/api/auth/reset-password", body).await;
    assert_eq!(
        reset.code(),
        "invalid_or_expired_token",
        "the old link is void"
    );
    let confirmed = app
        .post("/api/auth/verify-email/confirm", json!({ "token": verify }))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let me = app.get_as("/api/auth/me", token).await;
    assert_eq!(me.body["is_verified"], true, "the session stays");
    assert_eq!(
        app.login("ann.new@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.login("ann@example.com", PASSWORD).await.code(),
        "invalid_credentials"
    );
    let trail = app.audit_trail(user_id).await;
    assert!(
        trail.contains(&"email_changed:true".to_owned()),
        "{trail:?}"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_wrong_password_counts_and_changes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("ann").await;
    let wrong = change_email(&app, &token, "x@example.com", "not the password").await;
    app.assert_wrong_password_counted(&wrong, "ann").await;
    let me = app.get_as("/api/auth/me", &token).await;
    assert_eq!(me.body["email"], "ann@example.com");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn taken_same_and_malformed_addresses_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("ann").await;
    app.register("bob").await;
    let taken = change_email(&app, &token, "BOB@example.com", PASSWORD).await;
    assert_eq!(
        (taken.status, taken.code()),
        (StatusCode::CONFLICT, "email_taken")
    );
    let same = change_email(&app, &token, "ANN@example.com", PASSWORD).await;
    assert_eq!(
        (same.status, same.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "email_unchanged")
    );
    let long = format!("{}@example.com", "a".repeat(250));
    for bad in ["not an address", "", long.as_str()] {
        let reply = change_email(&app, &token, bad, PASSWORD).await;
        assert_eq!(reply.code(), "invalid_email", "{bad:?}: {}", reply.body);
    }
    let nul = change_email(&app, &token, "a\u{0}@example.com", PASSWORD).await;
    assert_eq!(nul.code(), "invalid_text");
    let me = app.get_as("/api/auth/me", &token).await;
    assert_eq!(me.body["email"], "ann@example.com");
    let notices: i64 =
        sqlx::query_scalar("SELECT count(*) FROM auth.mail_outbox WHERE kind = 'email_changed'")
            .fetch_one(&app.pool)
            .await
            .expect("outbox");
    assert_eq!(notices, 0, "nothing was mailed");
}

/// An address is an address: a display name around one (`Bob <bob@example.com>`) reaches
/// bob's mailbox under a string that the one-account-per-address rule does not see as bob's.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_display_name_around_someone_elses_address_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("ann").await;
    app.register("bob").await;
    let disguised = "Bob <bob@example.com>";
    let change = change_email(&app, &token, disguised, PASSWORD).await;
    assert_eq!(
        (change.status, change.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_email"),
        "{}",
        change.body
    );
    let body = json!({
        "email": disguised, "username": "mallory", "full_name": "Mallory", "password": PASSWORD,
    });
    let registered = app.post("/api/auth/register", body).await;
    assert_eq!(
        (registered.status, registered.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_email"),
        "{}",
        registered.body
    );
}

/// The owner confirms the address while changing it again: the confirmation spends the link
/// the change voids. Each used to take the two rows (the link's, the account's) in the
/// opposite order, and the deadlock ended one request with a 500. The link's row is held until
/// both wait, the confirmation first.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn confirming_the_address_while_changing_it_again_answers_both(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("ann").await;
    app.deliver_mail().await;
    let link = app.mail.last_token();

    let mut gate = app.pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM auth.one_time_tokens WHERE purpose = 'verify_email' FOR UPDATE")
        .execute(&mut *gate)
        .await
        .expect("hold the link");
    let confirm = app.post("/api/auth/verify-email/confirm", json!({ "token": link }));
    let change = async {
        until_waiting(&app.pool, 1).await;
        change_email(&app, &token, "ann.new@example.com", PASSWORD).await
    };
    let release = async {
        until_waiting(&app.pool, 2).await;
        gate.commit().await.expect("commit");
    };
    let (confirm, change, ()) = tokio::join!(confirm, change, release);
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert_eq!(change.status, StatusCode::OK, "{}", change.body);
    let me = app.get_as("/api/auth/me", &token).await;
    assert_eq!(
        (me.body["email"].clone(), me.body["is_verified"].clone()),
        (json!("ann.new@example.com"), json!(false)),
        "the new address is not confirmed by the old one's link"
    );
}
