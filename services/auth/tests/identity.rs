//! Who an account is: an address and a username that cannot pass for someone else's
//! (look-alike characters, addresses that name no domain, names staff would use).

mod common;

use axum::http::StatusCode;
use common::{PASSWORD, TestApp};
use serde_json::json;
use sqlx::PgPool;
use testkit::Reply;

async fn register(app: &TestApp, email: &str, username: &str) -> Reply {
    let body = json!({ "email": email, "username": username, "full_name": "Test User", "password": PASSWORD });
    app.post("/api/auth/register", body).await
}

async fn change_email(app: &TestApp, token: &str, email: &str) -> Reply {
    let body = json!({ "email": email, "password": PASSWORD });
    app.post_as("/api/auth/me/email", body, token).await
}

fn assert_created(reply: &Reply, case: &str) {
    assert_eq!(reply.status, StatusCode::CREATED, "{case}: {}", reply.body);
}

fn assert_refused(reply: &Reply, code: &str, case: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, code),
        "{case}: {}",
        reply.body
    );
}

/// Addresses that read as (and, through IDNA, may even deliver like) a plain one: fullwidth
/// letters, a ligature, a decomposed accent.
const LOOK_ALIKE_EMAILS: [&str; 5] = [
    "ａｌｉｃｅ@example.com",
    "alice@ｅｘａｍｐｌｅ.com",
    "ａlice@example.com",
    "oﬁce@example.com",
    "zoe\u{0301}@example.com",
];

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn look_alike_emails_are_refused_at_register_and_email_change(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("alice").await;
    for (n, email) in LOOK_ALIKE_EMAILS.into_iter().enumerate() {
        let registered = register(&app, email, &format!("mallory{n}")).await;
        assert_refused(&registered, "invalid_email", email);
        let message = registered.body["error"]["message"].as_str().expect("text");
        assert!(message.contains("plain characters"), "{message}");
        assert_refused(
            &change_email(&app, &token, email).await,
            "invalid_email",
            email,
        );
    }
    // Letters beyond ASCII are fine when they are already in their plain (NFKC) form.
    assert_created(&register(&app, "zoë@example.com", "zoe").await, "zoë");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn addresses_at_an_ip_rather_than_a_domain_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("alice").await;
    let at_ips = [
        "bob@[127.0.0.1]",
        "bob@[IPv6:::1]",
        "bob@[ipv6:2001:db8::1]",
        "bob@127.0.0.1",
        "bob@10.0.0.1",
        // What resolvers still read as IPv4 (WHATWG URL, inet_aton): a numeric last label.
        "bob@127.1",
        "bob@2130706433",
        "bob@0x7f.0.0.1",
    ];
    for (n, email) in at_ips.into_iter().enumerate() {
        assert_refused(
            &register(&app, email, &format!("bob{n}")).await,
            "invalid_email",
            email,
        );
        assert_refused(
            &change_email(&app, &token, email).await,
            "invalid_email",
            email,
        );
    }
    // Digits are fine inside a domain name, and a name may start with them.
    for (n, email) in ["bob@123.example.com", "bob@mail.1x.io"]
        .into_iter()
        .enumerate()
    {
        assert_created(&register(&app, email, &format!("carol{n}")).await, email);
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn names_staff_would_use_are_reserved_in_any_case(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.register_for_token("alice").await;
    for (n, name) in [
        "admin",
        "Root",
        " SUPPORT ",
        "security",
        "System",
        "api",
        "help",
        "DevMentor",
        "null",
        "undefined",
    ]
    .into_iter()
    .enumerate()
    {
        let registered = register(&app, &format!("user{n}@example.com"), name).await;
        assert_refused(&registered, "username_reserved", name);
        let renamed = app
            .patch_as("/api/auth/me", json!({ "username": name }), &token)
            .await;
        assert_refused(&renamed, "username_reserved", name);
    }
    // Only the whole name is reserved.
    let registered = register(&app, "ann@example.com", "admin-ann").await;
    assert_created(&registered, "admin-ann");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_account_that_already_has_a_reserved_name_keeps_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let signed_in = app.register("legacy").await;
    let token = signed_in["access_token"].as_str().expect("token");
    // As accounts made before the list existed (or imported) have them.
    sqlx::query("UPDATE auth.users SET username = 'Support' WHERE id = $1::uuid")
        .bind(signed_in["user"]["id"].as_str().expect("id"))
        .execute(&app.pool)
        .await
        .expect("renamed");

    assert_eq!(app.login("support", PASSWORD).await.status, StatusCode::OK);
    let kept = app
        .patch_as(
            "/api/auth/me",
            json!({ "username": "support", "full_name": "Help Desk" }),
            token,
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    assert_eq!(kept.body["username"], "support");
    let other = app
        .patch_as("/api/auth/me", json!({ "username": "admin" }), token)
        .await;
    assert_refused(&other, "username_reserved", "another reserved name");
}
