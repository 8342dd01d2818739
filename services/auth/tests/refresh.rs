//! Refresh-token rotation under concurrency, and the absolute lifetime of a session.

mod common;

use axum::http::StatusCode;
use common::{TestApp, config};
use serde_json::{Value, json};
use sqlx::PgPool;

fn refresh_token(body: &Value) -> String {
    body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("refresh_token missing in {body}"))
        .to_owned()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn concurrent_refreshes_of_one_token_let_exactly_one_through(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for round in 0..5 {
        let signed_in = app.register(&format!("racer{round}")).await;
        let token = refresh_token(&signed_in);
        let attempts =
            (0..6).map(|_| app.post("/api/auth/refresh", json!({ "refresh_token": token })));
        let replies = futures::future::join_all(attempts).await;
        let winners: Vec<_> = replies
            .iter()
            .filter(|reply| reply.status == StatusCode::OK)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one refresh may win"
        );
        for reply in replies
            .iter()
            .filter(|reply| reply.status != StatusCode::OK)
        {
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::UNAUTHORIZED, "refresh_token_reused"),
                "round {round}: the losers are replays"
            );
        }
        // A replay revokes the session, so even the winner's new token is dead.
        let after = app
            .post(
                "/api/auth/refresh",
                json!({ "refresh_token": refresh_token(&winners[0].body) }),
            )
            .await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "round {round}");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn refreshing_cannot_keep_a_session_past_its_absolute_lifetime(pool: PgPool) {
    let app =
        TestApp::with_config(pool, config(json!({ "session_max_lifetime_secs": 3600 }))).await;
    let signed_in = app.register("alice").await;
    assert!(signed_in["refresh_expires_in"].as_u64().expect("secs") <= 3600);
    let rotated = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": refresh_token(&signed_in) }),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let left = rotated.body["refresh_expires_in"].as_u64().expect("secs");
    assert!(left <= 3600, "idle lifetime is cut to what remains: {left}");

    // The session began two hours ago: however recently it was used, it is over.
    sqlx::query!(
        "UPDATE auth.user_sessions
         SET created_at = now() - interval '2 hours', expires_at = now() + interval '1 day'"
    )
    .execute(&app.pool)
    .await
    .expect("age the session");
    let refused = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": refresh_token(&rotated.body) }),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "invalid_refresh_token"),
        "{}",
        refused.body
    );
}
