//! The admin API: who may do what, pagination and search, and the audit trail it leaves.

mod common;

use axum::http::StatusCode;
use common::{
    PASSWORD, TestApp, config,
    gate::{Gate, until_waiting},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;
use testkit::Reply;

/// Registers `name` with `role` and returns (user id, access token).
async fn account(app: &TestApp, name: &str, role: &str) -> (String, String) {
    let body = app.register(name).await;
    let id = body["user"]["id"].as_str().expect("id").to_owned();
    let user_id = db::ids::UserId(id.parse().expect("uuid"));
    db::auth::admin::set_role(&app.pool, user_id, role)
        .await
        .expect("set role");
    (id, body["access_token"].as_str().expect("t").to_owned())
}

async fn admin_post(app: &TestApp, token: &str, path: &str, body: Value) -> Reply {
    app.post_as(&format!("/api/auth/admin/users/{path}"), body, token)
        .await
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn plain_users_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = account(&app, "alice", "user").await;
    let reply = app.get_as("/api/auth/admin/users", &token).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn users_are_listed_newest_first_in_keyset_pages_and_searchable(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = account(&app, "chief", "admin").await;
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        app.register(name).await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/auth/admin/users?limit=2".to_owned();
    loop {
        let page = app.get_as(&path, &token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let users = page.body["items"].as_array().expect("users");
        assert!(users.len() <= 2);
        seen.extend(
            users
                .iter()
                .map(|u| u["username"].as_str().expect("name").to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/auth/admin/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["erin", "dave", "carol", "bob", "alice", "chief"]);

    let found = app.get_as("/api/auth/admin/users?q=CAR", &token).await;
    let names: Vec<_> = found.body["items"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, [json!("carol")]);
    let wildcard = app.get_as("/api/auth/admin/users?q=%25", &token).await;
    assert_eq!(
        wildcard.body["items"].as_array().expect("users").len(),
        0,
        "% is literal"
    );
    let bad = app
        .get_as("/api/auth/admin/users?cursor=garbage", &token)
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "invalid_cursor")
    );
    let too_many = app.get_as("/api/auth/admin/users?limit=1000", &token).await;
    assert_eq!(too_many.code(), "invalid_limit");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn only_super_admins_grant_admin_roles(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (admin_id, admin) = account(&app, "adam", "admin").await;
    let (_, boss) = account(&app, "sue", "super_admin").await;
    let (bob, _) = account(&app, "bob", "user").await;

    let refused = admin_post(
        &app,
        &admin,
        &format!("{bob}/role"),
        json!({ "role": "admin" }),
    )
    .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let granted = admin_post(
        &app,
        &boss,
        &format!("{bob}/role"),
        json!({ "role": "admin" }),
    )
    .await;
    assert_eq!(granted.body["role"], "admin", "{}", granted.body);
    let bad_role = admin_post(
        &app,
        &boss,
        &format!("{bob}/role"),
        json!({ "role": "root" }),
    )
    .await;
    assert_eq!(bad_role.status, StatusCode::UNPROCESSABLE_ENTITY);

    let now_admin = admin_post(&app, &admin, &format!("{bob}/deactivate"), json!({})).await;
    assert_eq!(
        now_admin.code(),
        "forbidden",
        "admins cannot manage other admins"
    );
    let own = admin_post(
        &app,
        &boss,
        &format!("{}/role", granted.body["id"].as_str().expect("id")),
        json!({ "role": "user" }),
    )
    .await;
    assert_eq!(own.status, StatusCode::OK, "super admins manage admins");
    let myself = app
        .post_as(
            &format!("/api/auth/admin/users/{admin_id}/role"),
            json!({ "role": "user" }),
            &admin,
        )
        .await;
    assert_eq!(myself.code(), "forbidden", "nobody changes their own role");

    let trail = app.audit_trail(&bob).await;
    assert_eq!(
        trail
            .iter()
            .filter(|a| *a == "admin.role_changed:true")
            .count(),
        2,
        "{trail:?}"
    );
    let details = sqlx::query_scalar!(
        "SELECT details FROM auth.audit_log WHERE action = 'admin.role_changed' ORDER BY created_at LIMIT 1"
    )
    .fetch_one(&app.pool)
    .await
    .expect("row")
    .expect("details");
    assert_eq!(
        (details["from"].clone(), details["to"].clone()),
        (json!("user"), json!("admin"))
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn deactivation_ends_sessions_and_blocks_login_until_reactivated(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, admin) = account(&app, "adam", "admin").await;
    let (bob, bob_token) = account(&app, "bob", "user").await;

    let off = admin_post(&app, &admin, &format!("{bob}/deactivate"), json!({})).await;
    assert_eq!(off.body["is_active"], false, "{}", off.body);
    assert_eq!(
        app.get_as("/api/auth/me", &bob_token).await.code(),
        "session_revoked"
    );
    assert_eq!(app.login("bob", PASSWORD).await.code(), "account_disabled");

    let on = admin_post(&app, &admin, &format!("{bob}/activate"), json!({})).await;
    assert_eq!(on.body["is_active"], true);
    assert_eq!(app.login("bob", PASSWORD).await.status, StatusCode::OK);
    let unknown = admin_post(
        &app,
        &admin,
        &format!("{}/activate", uuid::Uuid::new_v4()),
        json!({}),
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

/// A login reads the account before queueing for a hashing thread; a deactivation may commit
/// in between. The session it makes must not be one that reactivation brings back.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_login_in_flight_during_deactivation_keeps_no_session_after_reactivation(pool: PgPool) {
    let settings = config(json!({ "password_hash_concurrency": 1 }));
    let app = TestApp::with_config(pool, settings).await;
    let (_, admin) = account(&app, "adam", "admin").await;
    let (bob, _) = account(&app, "bob", "user").await;

    // One hashing thread, kept busy: the login has read bob as active before the
    // deactivation commits, and finishes after it.
    let busy = app.state.passwords.hash("keeps the thread busy".into());
    let login = app.login("bob", PASSWORD);
    let deactivate = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        admin_post(&app, &admin, &format!("{bob}/deactivate"), json!({})).await
    };
    let (_, login, off) = tokio::join!(busy, login, deactivate);
    assert_eq!(off.body["is_active"], false, "{}", off.body);
    let on = admin_post(&app, &admin, &format!("{bob}/activate"), json!({})).await;
    assert_eq!(on.body["is_active"], true, "{}", on.body);

    if login.status == StatusCode::OK {
        let token = login.body["access_token"].as_str().expect("token");
        assert_eq!(
            app.get_as("/api/auth/me", token).await.code(),
            "session_revoked",
            "a session made while deactivating outlived it"
        );
    } else {
        assert_eq!(login.code(), "account_disabled", "{}", login.body);
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn unlock_lets_a_locked_user_back_in(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, admin) = account(&app, "adam", "admin").await;
    let (bob, _) = account(&app, "bob", "user").await;
    for _ in 0..5 {
        app.login("bob", "wrong password").await;
    }
    let shown = app
        .get_as(&format!("/api/auth/admin/users/{bob}"), &admin)
        .await;
    assert_eq!(shown.body["failed_login_attempts"], 5);
    assert!(shown.body["locked_until"].is_string());

    let unlocked = admin_post(&app, &admin, &format!("{bob}/unlock"), json!({})).await;
    assert_eq!(unlocked.body["locked_until"], Value::Null);
    assert_eq!(app.login("bob", PASSWORD).await.status, StatusCode::OK);
    assert!(
        app.audit_trail(&bob)
            .await
            .contains(&"admin.unlocked:true".to_owned())
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_demoted_admin_loses_access_at_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, token) = account(&app, "adam", "admin").await;
    assert_eq!(
        app.get_as("/api/auth/admin/users", &token).await.status,
        StatusCode::OK
    );
    sqlx::query!("UPDATE auth.users SET role = 'user' WHERE username = 'adam'")
        .execute(&app.pool)
        .await
        .expect("demote");
    let reply = app.get_as("/api/auth/admin/users", &token).await;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "the token still says admin, the database does not"
    );
}

/// Two super admins demote or deactivate each other at once. Each has passed its checks
/// before either writes; the one whose write comes second must find it is no longer a super
/// admin, so one is always left (nobody acts on themselves, so nobody else could restore one).
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn super_admins_acting_on_each_other_at_once_leave_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for (action, body) in [
        ("role", json!({ "role": "user" })),
        ("deactivate", json!({})),
    ] {
        let (sue, sue_token) = account(&app, &format!("sue-{action}"), "super_admin").await;
        let (sam, sam_token) = account(&app, &format!("sam-{action}"), "super_admin").await;

        let gate = Gate::lock(&app.pool, &[&sue, &sam]).await;
        let (on_sam, on_sue) = (format!("{sam}/{action}"), format!("{sue}/{action}"));
        let by_sue = admin_post(&app, &sue_token, &on_sam, body.clone());
        let by_sam = async {
            until_waiting(&app.pool, 1).await;
            admin_post(&app, &sam_token, &on_sue, body.clone()).await
        };
        let release = async {
            until_waiting(&app.pool, 2).await;
            gate.open().await;
        };
        let (by_sue, by_sam, ()) = tokio::join!(by_sue, by_sam, release);

        let mut answers = [by_sue.status, by_sam.status];
        answers.sort();
        assert_eq!(
            answers,
            [StatusCode::OK, StatusCode::FORBIDDEN],
            "{action}: {} / {}",
            by_sue.body,
            by_sam.body
        );
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM auth.users
             WHERE role = 'super_admin' AND is_active AND username LIKE '%-' || $1",
        )
        .bind(action)
        .fetch_one(&app.pool)
        .await
        .expect("count");
        assert_eq!(left, 1, "{action}: no super admin left");
    }
}
