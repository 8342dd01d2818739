//! What binds a callback to the sign-in that started it: the single-use, expiring state,
//! the browser's state cookie (against login CSRF) and the PKCE verifier.

use axum::http::StatusCode;
use sqlx::PgPool;

use crate::{
    mock_github::octocat,
    support::{BROWSER_ACCEPT, JSON_ACCEPT, callback, location_absent, setup, start, user_count},
};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_state_works_once_and_only_before_it_expires(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let started = start(&app, None).await;
    let code = github.approve(&started.authorize, octocat());
    let ok = started.return_with(&app, &code, JSON_ACCEPT).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    let replay = started.return_with(&app, &code, JSON_ACCEPT).await;
    assert_eq!(
        (replay.status, replay.code()),
        (StatusCode::BAD_REQUEST, "invalid_oauth_state")
    );
    assert!(
        replay.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("start again"))
    );

    let forged = "f".repeat(43);
    let unknown = callback(
        &app,
        &code,
        &forged,
        Some(&format!("devmentor_oauth_state={forged}")),
        JSON_ACCEPT,
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::BAD_REQUEST, "invalid_oauth_state")
    );

    let late = start(&app, None).await;
    let code = github.approve(&late.authorize, octocat());
    sqlx::query!(
        "UPDATE auth.oauth_states
         SET created_at = now() - interval '20 minutes', expires_at = now() - interval '10 minutes'
         WHERE used_at IS NULL"
    )
    .execute(&app.pool)
    .await
    .expect("expire");
    let expired = late.return_with(&app, &code, JSON_ACCEPT).await;
    assert_eq!(
        (expired.status, expired.code()),
        (StatusCode::BAD_REQUEST, "invalid_oauth_state")
    );
    assert_eq!(
        github.rejections(),
        Vec::<String>::new(),
        "GitHub was never asked"
    );

    // The next start purges expired rows.
    start(&app, None).await;
    let left = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM auth.oauth_states WHERE expires_at <= now()"#
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(left, 0);
}

/// Login CSRF: an attacker starts a sign-in, approves it with their own GitHub account and
/// sends the victim the callback link. The victim's browser lacks the state cookie.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_callback_in_another_browser_is_refused(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let attacker = start(&app, None).await;
    let code = github.approve(&attacker.authorize, octocat());
    let victim_has_no_cookie = callback(&app, &code, &attacker.state, None, BROWSER_ACCEPT).await;
    assert_eq!(
        (victim_has_no_cookie.status, victim_has_no_cookie.code()),
        (StatusCode::BAD_REQUEST, "invalid_oauth_state")
    );
    let victim_own = start(&app, None).await;
    let other_cookie = callback(
        &app,
        &code,
        &attacker.state,
        Some(&victim_own.cookie),
        BROWSER_ACCEPT,
    )
    .await;
    assert_eq!(other_cookie.code(), "invalid_oauth_state");
    assert!(location_absent(&other_cookie));
    assert_eq!(user_count(&app).await, 0);
    let refusals = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM auth.audit_log
           WHERE action = 'oauth_login' AND NOT success AND details->>'reason' = 'state_cookie_mismatch'"#
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(refusals, 2);
}

/// The code is bound to the challenge of the sign-in it was issued for: the verifier of
/// another sign-in does not redeem it.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_code_only_redeems_with_the_verifier_of_its_own_sign_in(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let first = start(&app, None).await;
    let second = start(&app, None).await;
    let code_for_first = github.approve(&first.authorize, octocat());
    let crossed = second
        .return_with(&app, &code_for_first, BROWSER_ACCEPT)
        .await;
    assert_eq!(crossed.code(), "oauth_provider_error");
    assert_eq!(github.rejections(), ["PKCE verifier mismatch"]);
    let right = first
        .return_with(&app, &code_for_first, BROWSER_ACCEPT)
        .await;
    assert_eq!(right.status, StatusCode::FOUND, "{}", right.body);
}
