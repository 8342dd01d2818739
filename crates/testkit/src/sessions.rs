//! Live sessions for tests that mint their own access tokens: every service checks that a
//! token's session exists and is live, so a test token needs a real `auth.user_sessions` row.

use db::{auth::NewSession, ids::UserId};
use sqlx::PgPool;
use uuid::Uuid;

/// Opens a session for `user` (expiring in a day) and returns its id, for a token's `sid`.
pub async fn open_session(pool: &PgPool, user: Uuid) -> Uuid {
    // Random 64-hex-digit stand-ins for the SHA-256 digests the schema stores.
    let digest = || format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let (handle, refresh) = (digest(), digest());
    let mut conn = pool.acquire().await.expect("connection");
    let id = db::auth::sessions::create(
        &mut conn,
        &NewSession {
            user_id: UserId(user),
            session_token_hash: &handle,
            refresh_token_hash: &refresh,
            ip: None,
            user_agent: Some("testkit"),
            expires_at: chrono::Utc::now() + chrono::Duration::days(1),
        },
    )
    .await
    .expect("insert session");
    id.0
}

/// A confirmed TOTP factor for `user`, as auth stores it (the secret's bytes do not matter to
/// the other services: only that a factor exists, which makes sensitive actions need `aal2`).
/// Every session `user` has now counts as having proved it, as after a step-up: services
/// honour an `aal2` token (`Tokens::user_at`) only while its session holds that proof, and an
/// `aal1` token stays `aal1`.
pub async fn give_second_factor(pool: &PgPool, user: Uuid) {
    let mut tx = pool.begin().await.expect("transaction");
    sqlx::query(
        "INSERT INTO auth.totp_factors (user_id, secret_ciphertext, confirmed_at) VALUES ($1, $2, now())",
    )
    .bind(user)
    .bind(vec![7u8; 48])
    .execute(&mut *tx)
    .await
    .expect("a factor");
    sqlx::query("UPDATE auth.user_sessions SET second_factor_at = now() WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await
        .expect("the sessions' proof");
    tx.commit().await.expect("commit");
}
