//! The auth service's own series on `/metrics`: rate-limit refusals by rule, lockouts and the
//! password-hash queue. The recorder is shared by every test in this binary, so each test
//! compares a scrape before with one after and owns the series it checks.

mod common;

use axum::http::StatusCode;
use common::{TestApp, config};
use serde_json::json;
use sqlx::PgPool;
use testkit::metrics::sample;

async fn scrape(app: &TestApp) -> String {
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    String::from_utf8(reply.bytes.to_vec()).expect("utf-8")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn refused_logins_are_counted_by_rule(pool: PgPool) {
    let app = TestApp::with_config(pool, config(json!({ "rate_limit_login_per_minute": 2 }))).await;
    let refusals =
        |text: &str| sample(text, "auth_rate_limit_refusals_total", &[("rule", "login")]);
    let before = refusals(&scrape(&app).await);

    let mut refused = 0;
    for _ in 0..4 {
        let reply = app
            .login_from("203.0.113.77", "nobody", "wrong password")
            .await;
        refused += usize::from(reply.status == StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(refused, 2);
    assert!(refusals(&scrape(&app).await) - before >= 2.0);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_lockout_is_counted_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.register("locked_alice").await;
    let lockouts = |text: &str| sample(text, "auth_account_lockouts_total", &[]);
    let before = lockouts(&scrape(&app).await);

    // Five wrong passwords lock the account; the sixth finds it locked and locks nothing new.
    for _ in 0..6 {
        app.login("locked_alice", "wrong password").await;
    }
    let after = scrape(&app).await;
    assert!(lockouts(&after) - before >= 1.0, "{after}");
    assert!(after.contains("# HELP auth_password_hash_queue_depth"));
    assert!(
        after.contains("auth_password_hash_queue_depth "),
        "the gauge is read at each scrape"
    );
}
