//! Driving a GitHub sign-in through the auth router as a browser would: start it, come back
//! from GitHub with a code, and read the redirects and cookies on the way.

use std::collections::HashMap;

use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::Reply;
use url::Url;

use crate::{
    common::{self, TestApp},
    mock_github::{CLIENT_ID, CLIENT_SECRET, GitHubUser, MockGitHub},
};

/// Where GitHub sends the browser back to, as registered with the OAuth app.
pub const REDIRECT_URL: &str = "http://auth.test/api/auth/oauth/github/callback";
/// The web app a finished sign-in lands on.
pub const APP_URL: &str = "http://localhost:3000";
/// What a browser following a redirect asks for: the callback answers with a redirect.
pub const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
/// What a script asks for: the callback answers with the `SignedIn` body.
pub const JSON_ACCEPT: &str = "application/json";

/// Auth settings pointing GitHub sign-in at a provider listening on `base`.
pub fn github_settings(base: &str) -> Value {
    json!({
        "github_client_id": CLIENT_ID,
        "github_client_secret": CLIENT_SECRET,
        "github_authorize_url": format!("{base}/login/oauth/authorize"),
        "github_token_url": format!("{base}/login/oauth/access_token"),
        "github_api_url": base,
        "github_redirect_url": REDIRECT_URL,
        "public_app_url": APP_URL,
    })
}

/// An auth app whose GitHub sign-in talks to a fresh mock GitHub.
pub async fn setup(pool: PgPool) -> (TestApp, MockGitHub) {
    let github = MockGitHub::start().await;
    let app = TestApp::with_config(pool, common::config(github_settings(&github.base))).await;
    (app, github)
}

pub fn query_map(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// `GET path` with extra headers (cookies, `Accept`), in-process.
pub async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Reply {
    app.request(Method::GET, path).headers(headers).send().await
}

/// The path that starts a sign-in, optionally asking to land on `redirect_to` afterwards.
pub fn start_path(redirect_to: Option<&str>) -> String {
    match redirect_to {
        Some(target) => format!(
            "/api/auth/oauth/github?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("redirect_to", target)
                .finish()
        ),
        None => "/api/auth/oauth/github".to_owned(),
    }
}

/// A sign-in sent off to GitHub: where the browser goes, and the cookie it now holds.
pub struct Started {
    pub authorize: Url,
    pub state: String,
    pub cookie: String,
}

impl Started {
    /// The browser that started this sign-in comes back from GitHub with `code`.
    pub async fn return_with(&self, app: &TestApp, code: &str, accept: &str) -> Reply {
        callback(app, code, &self.state, Some(&self.cookie), accept).await
    }
}

pub async fn start(app: &TestApp, redirect_to: Option<&str>) -> Started {
    let reply = get(app, &start_path(redirect_to), &[]).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let authorize = Url::parse(location(&reply)).expect("authorize URL");
    let state = query_map(&authorize)["state"].clone();
    let cookie = set_cookie(&reply)
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    Started {
        authorize,
        state,
        cookie,
    }
}

pub fn location(reply: &Reply) -> &str {
    reply
        .headers
        .get(header::LOCATION)
        .expect("Location")
        .to_str()
        .expect("ascii")
}

pub fn location_absent(reply: &Reply) -> bool {
    reply.headers.get(header::LOCATION).is_none()
}

/// The `Set-Cookie` header, attributes included.
pub fn set_cookie(reply: &Reply) -> &str {
    reply.headers[header::SET_COOKIE].to_str().expect("ascii")
}

/// GitHub's redirect back to the service, from a browser holding `cookie` (if any).
pub async fn callback(
    app: &TestApp,
    code: &str,
    state: &str,
    cookie: Option<&str>,
    accept: &str,
) -> Reply {
    let path = format!(
        "/api/auth/oauth/github/callback?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("code", code)
            .append_pair("state", state)
            .finish()
    );
    let mut headers = vec![("accept", accept)];
    if let Some(cookie) = cookie {
        headers.push(("cookie", cookie));
    }
    get(app, &path, &headers).await
}

/// The whole round trip as a browser makes it; returns the callback's answer.
pub async fn sign_in(app: &TestApp, github: &MockGitHub, user: GitHubUser, accept: &str) -> Reply {
    let started = start(app, None).await;
    let code = github.approve(&started.authorize, user);
    started.return_with(app, &code, accept).await
}

/// Signs in asking for JSON and expects success; returns the `SignedIn` body.
pub async fn sign_in_json(app: &TestApp, github: &MockGitHub, user: GitHubUser) -> Value {
    let reply = sign_in(app, github, user, JSON_ACCEPT).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// The tokens from a redirect's fragment.
pub fn fragment_tokens(location: &str) -> HashMap<String, String> {
    let (_, fragment) = location.split_once('#').expect("fragment");
    url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect()
}

/// The `details` of a user's audit entries for `action`, oldest first.
pub async fn audit_details(app: &TestApp, user_id: &str, action: &str) -> Vec<Value> {
    let id: uuid::Uuid = user_id.parse().expect("uuid");
    sqlx::query_scalar!(
        r#"SELECT details AS "details!" FROM auth.audit_log
           WHERE user_id = $1 AND action = $2 ORDER BY created_at"#,
        id,
        action,
    )
    .fetch_all(&app.pool)
    .await
    .expect("audit")
}

pub async fn user_count(app: &TestApp) -> i64 {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM auth.users"#)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}
