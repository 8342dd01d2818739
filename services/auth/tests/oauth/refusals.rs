//! Sign-ins that fail after a valid start: GitHub refusing the code, GitHub unreachable or
//! declined by the user, and accounts that may not sign in.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::{
    common::{self, TestApp},
    mock_github::octocat,
    support::{
        BROWSER_ACCEPT, get, github_settings, setup, sign_in, sign_in_json, start, user_count,
    },
};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_code_github_refuses_is_a_provider_error(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let started = start(&app, None).await;
    github.approve(&started.authorize, octocat());
    let wrong = started
        .return_with(&app, "not-the-code", BROWSER_ACCEPT)
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::BAD_GATEWAY, "oauth_provider_error")
    );
    let message = wrong.body["error"]["message"].as_str().expect("message");
    assert!(message.contains("bad_verification_code"), "{message}");
    assert_eq!(github.rejections(), ["unknown code"]);
    assert_eq!(user_count(&app).await, 0);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_unreachable_or_declining_github_gives_clear_errors(pool: PgPool) {
    let mut settings = github_settings("http://127.0.0.1:9");
    settings["github_authorize_url"] = json!("https://github.com/login/oauth/authorize");
    let app = TestApp::with_config(pool, common::config(settings)).await;
    let started = start(&app, None).await;
    let down = started.return_with(&app, "some-code", BROWSER_ACCEPT).await;
    assert_eq!(
        (down.status, down.code()),
        (StatusCode::BAD_GATEWAY, "oauth_provider_error")
    );
    assert!(
        down.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("did not answer"))
    );

    // The user pressed "Cancel" at GitHub.
    let started = start(&app, None).await;
    let path = format!(
        "/api/auth/oauth/github/callback?error=access_denied&error_description=The+user+has+denied&state={}",
        started.state
    );
    let denied = get(&app, &path, &[("cookie", &started.cookie)]).await;
    assert_eq!(
        (denied.status, denied.code()),
        (StatusCode::FORBIDDEN, "oauth_denied")
    );
    let used = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM auth.oauth_states WHERE used_at IS NULL"#
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(used, 0, "both states are spent");
}

/// (A password lockout does not refuse GitHub sign-in: see tests/lockout.rs.)
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn deactivated_accounts_are_refused(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let body = sign_in_json(&app, &github, octocat()).await;
    let user_id = body["user"]["id"].as_str().expect("id");
    let uuid: uuid::Uuid = user_id.parse().expect("uuid");

    sqlx::query!(
        "UPDATE auth.users SET is_active = false WHERE id = $1",
        uuid
    )
    .execute(&app.pool)
    .await
    .expect("deactivate");
    let disabled = sign_in(&app, &github, octocat(), BROWSER_ACCEPT).await;
    assert_eq!(
        (disabled.status, disabled.code()),
        (StatusCode::FORBIDDEN, "account_disabled")
    );

    assert_eq!(
        app.audit_trail(user_id).await,
        ["register:true", "oauth_login:false"]
    );
    let sessions = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM auth.user_sessions WHERE user_id = $1"#,
        uuid
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(sessions, 1, "only the first sign-in made a session");
}
