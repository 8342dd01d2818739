//! Starting a sign-in: the redirect to GitHub, the state cookie, where the browser may land
//! afterwards, and what happens when GitHub sign-in is not configured.

use axum::http::{StatusCode, header};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use url::Url;

use crate::{
    common::TestApp,
    mock_github::{CLIENT_ID, octocat},
    support::{
        BROWSER_ACCEPT, REDIRECT_URL, get, location, query_map, set_cookie, setup, start,
        start_path,
    },
};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn start_redirects_to_github_with_state_and_an_s256_challenge(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let reply = get(&app, "/api/auth/oauth/github", &[]).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let authorize = Url::parse(location(&reply)).expect("url");
    assert_eq!(
        format!(
            "{}://{}{}",
            authorize.scheme(),
            authorize.authority(),
            authorize.path()
        ),
        format!("{}/login/oauth/authorize", github.base)
    );
    let query = query_map(&authorize);
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], REDIRECT_URL);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["scope"], "user:email");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43, "base64url of a SHA-256");
    let state = &query["state"];
    assert!(state.len() >= 43, "256 random bits: {state}");

    // The browser is bound to this sign-in by a short-lived, script-proof cookie.
    let cookie = set_cookie(&reply);
    assert!(
        cookie.starts_with(&format!("devmentor_oauth_state={state};")),
        "{cookie}"
    );
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
        "Max-Age=600",
        "Path=/api/auth/oauth/github",
    ] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }

    // Stored hashed with its verifier, for ten minutes; the verifier matches the challenge.
    let row = sqlx::query!(
        r#"SELECT state_hash, pkce_verifier, redirect_to,
                  extract(epoch FROM expires_at - created_at)::float8 AS "ttl!"
           FROM auth.oauth_states"#
    )
    .fetch_one(&app.pool)
    .await
    .expect("one state row");
    assert_eq!(
        row.state_hash,
        format!("{:x}", Sha256::digest(state.as_bytes()))
    );
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(row.pkce_verifier.as_bytes())),
        query["code_challenge"]
    );
    assert_eq!(row.redirect_to, None);
    assert!((row.ttl - 600.0).abs() < 5.0, "{}", row.ttl);

    // Every start is a fresh state and challenge.
    let again = start(&app, None).await;
    assert_ne!(&again.state, state);
    assert_ne!(
        query_map(&again.authorize)["code_challenge"],
        query["code_challenge"]
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn redirects_stay_on_the_app(pool: PgPool) {
    let (app, github) = setup(pool).await;
    for attempt in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "http://localhost:3000.evil.example/",
        "http://localhost:3000@evil.example/",
        "javascript:alert(document.cookie)",
        "/landing#access_token=mine",
    ] {
        let reply = get(&app, &start_path(Some(attempt)), &[]).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_redirect_to"),
            "{attempt}"
        );
    }
    let none = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM auth.oauth_states"#)
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(none, 0, "refused starts leave nothing behind");

    for (asked, lands) in [
        (
            "/projects/42?tab=tasks",
            "http://localhost:3000/projects/42?tab=tasks#",
        ),
        (
            "http://localhost:3000/settings",
            "http://localhost:3000/settings#",
        ),
    ] {
        let started = start(&app, Some(asked)).await;
        let code = github.approve(&started.authorize, octocat());
        let reply = started.return_with(&app, &code, BROWSER_ACCEPT).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
        assert!(location(&reply).starts_with(lands), "{}", location(&reply));
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn without_client_credentials_github_sign_in_is_not_configured(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for path in [
        "/api/auth/oauth/github",
        "/api/auth/oauth/github/callback?code=c&state=s",
    ] {
        let reply = get(&app, path, &[]).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "oauth_not_configured"),
            "{path}"
        );
    }
}
