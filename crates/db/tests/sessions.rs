//! How recently a session signed in, as the enrolment proof asks it: the session's start on
//! the database's clock (which stamped it), for live sessions only.

mod common;

use chrono::{Duration, Utc};
use common::account;
use db::{auth::sessions, ids::SessionId};
use sqlx::PgPool;

async fn session_of(pool: &PgPool, name: &str) -> SessionId {
    let user = account(pool, name).await;
    let mut conn = pool.acquire().await.expect("connection");
    // SHA-256 hex, as the table asks: 64 random hex digits will do.
    let digest = || uuid::Uuid::new_v4().simple().to_string().repeat(2);
    let new_session = sessions::NewSession {
        user_id: user.id,
        session_token_hash: &digest(),
        refresh_token_hash: &digest(),
        ip: None,
        user_agent: None,
        expires_at: Utc::now() + Duration::days(1),
    };
    sessions::create(&mut conn, &new_session)
        .await
        .expect("session")
}

async fn age(pool: &PgPool, id: SessionId, minutes: i32) {
    sqlx::query(
        "UPDATE auth.user_sessions SET created_at = now() - make_interval(mins => $1)
         WHERE id = $2",
    )
    .bind(minutes)
    .bind(id.0)
    .execute(pool)
    .await
    .expect("aged");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_live_session_counts_as_signed_in_within_the_window_only(pool: PgPool) {
    let ten_minutes = 10 * 60;
    let id = session_of(&pool, "alice").await;
    let within = |id| sessions::signed_in_within(&pool, id, ten_minutes);
    assert!(within(id).await.expect("query"), "just signed in");

    age(&pool, id, 9).await;
    assert!(within(id).await.expect("query"), "9 minutes ago");
    age(&pool, id, 11).await;
    assert!(!within(id).await.expect("query"), "11 minutes ago");

    let bob = session_of(&pool, "bob").await;
    sessions::revoke(&pool, bob, "logout")
        .await
        .expect("revoke");
    assert!(!within(bob).await.expect("query"), "an ended session");
    let unknown = SessionId(uuid::Uuid::new_v4());
    assert!(!within(unknown).await.expect("query"), "no such session");
}
