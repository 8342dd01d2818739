//! Sign-in with GitHub, against a mock GitHub on a local port that checks what the real one
//! checks: the client secret, the code (single use), the PKCE verifier against the challenge
//! from the authorize redirect, the redirect URI, `Accept: application/json` and a User-Agent.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, Request, StatusCode, header},
    response::{IntoResponse, Response},
    routing,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{PASSWORD, Reply, TestApp};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tower::ServiceExt;
use url::Url;

const CLIENT_ID: &str = "test-client-id";
const CLIENT_SECRET: &str = "test-client-secret";
const REDIRECT_URL: &str = "http://auth.test/api/auth/oauth/github/callback";
const APP_URL: &str = "http://localhost:3000";
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

// ---------------------------------------------------------------------------------------------
// The mock provider
// ---------------------------------------------------------------------------------------------

/// A GitHub account as the mock serves it.
#[derive(Debug, Clone)]
struct GitHubUser {
    id: u64,
    login: String,
    name: Option<String>,
    /// The public profile email (`/user`).
    email: Option<String>,
    avatar_url: Option<String>,
    /// `/user/emails`.
    emails: Vec<Value>,
}

fn octocat() -> GitHubUser {
    GitHubUser {
        id: 583231,
        login: "octocat".into(),
        name: Some("The Octocat".into()),
        email: Some("octocat@github.example".into()),
        avatar_url: Some("https://avatars.githubusercontent.com/u/583231?v=4".into()),
        emails: vec![],
    }
}

struct Grant {
    challenge: String,
    redirect_uri: Option<String>,
    user: GitHubUser,
    used: bool,
}

#[derive(Default)]
struct Provider {
    grants: HashMap<String, Grant>,
    tokens: HashMap<String, GitHubUser>,
    /// Why each refused token request was refused.
    rejections: Vec<String>,
}

#[derive(Clone)]
struct MockGitHub {
    base: String,
    provider: Arc<Mutex<Provider>>,
}

impl MockGitHub {
    async fn start() -> Self {
        let provider = Arc::new(Mutex::new(Provider::default()));
        let router = Router::new()
            .route("/login/oauth/access_token", routing::post(token_endpoint))
            .route("/user", routing::get(user_endpoint))
            .route("/user/emails", routing::get(emails_endpoint))
            .with_state(provider.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            base: format!("http://{address}"),
            provider,
        }
    }

    /// The user approves the app at GitHub: checks the authorize URL as GitHub would and
    /// returns the code GitHub would send back.
    fn approve(&self, authorize: &Url, user: GitHubUser) -> String {
        assert_eq!(
            authorize.as_str().split('?').next(),
            Some(format!("{}/login/oauth/authorize", self.base).as_str())
        );
        let query = query_map(authorize);
        assert_eq!(query["client_id"], CLIENT_ID);
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["code_challenge_method"], "S256");
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        self.provider.lock().expect("lock").grants.insert(
            code.clone(),
            Grant {
                challenge: query["code_challenge"].clone(),
                redirect_uri: query.get("redirect_uri").cloned(),
                user,
                used: false,
            },
        );
        code
    }

    fn rejections(&self) -> Vec<String> {
        self.provider.lock().expect("lock").rejections.clone()
    }
}

/// Like GitHub: errors are `200 OK` with an error object; without `Accept: application/json`
/// the answer is form-encoded.
async fn token_endpoint(
    State(provider): State<Arc<Mutex<Provider>>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut provider = provider.lock().expect("lock");
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let verifier_challenge =
        URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    let refusal = match provider.grants.get(field("code")) {
        _ if !wants_json => Some("no Accept: application/json"),
        _ if field("grant_type") != "authorization_code" => Some("wrong grant_type"),
        _ if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET => {
            Some("incorrect_client_credentials")
        }
        None => Some("unknown code"),
        Some(grant) if grant.used => Some("code already used"),
        Some(grant) if grant.challenge != verifier_challenge => Some("PKCE verifier mismatch"),
        Some(grant)
            if grant.redirect_uri.as_deref() != form.get("redirect_uri").map(String::as_str) =>
        {
            Some("redirect_uri mismatch")
        }
        Some(_) => None,
    };
    if let Some(reason) = refusal {
        provider.rejections.push(reason.to_owned());
        if !wants_json {
            return "error=bad_verification_code".into_response();
        }
        let error = match reason {
            "incorrect_client_credentials" => "incorrect_client_credentials",
            _ => "bad_verification_code",
        };
        return Json(json!({
            "error": error,
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/troubleshooting-oauth-app-access-token-request-errors/"
        }))
        .into_response();
    }
    let grant = provider.grants.get_mut(field("code")).expect("grant");
    grant.used = true;
    let user = grant.user.clone();
    let token = format!("gho_{}", uuid::Uuid::new_v4().simple());
    provider.tokens.insert(token.clone(), user);
    Json(json!({ "access_token": token, "token_type": "bearer", "scope": "user:email" }))
        .into_response()
}

/// The user behind the bearer token, or GitHub's refusal (status and message).
fn authorized(
    provider: &Provider,
    headers: &HeaderMap,
) -> Result<GitHubUser, (StatusCode, Json<Value>)> {
    if headers.get(header::USER_AGENT).is_none() {
        let message = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header";
        return Err((StatusCode::FORBIDDEN, Json(json!({ "message": message }))));
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .and_then(|token| provider.tokens.get(token))
        .cloned()
        .ok_or_else(|| {
            let message = json!({ "message": "Bad credentials" });
            (StatusCode::UNAUTHORIZED, Json(message))
        })
}

async fn user_endpoint(
    State(provider): State<Arc<Mutex<Provider>>>,
    headers: HeaderMap,
) -> Response {
    let provider = provider.lock().expect("lock");
    match authorized(&provider, &headers) {
        Ok(user) => Json(json!({
            "id": user.id,
            "login": user.login,
            "name": user.name,
            "email": user.email,
            "avatar_url": user.avatar_url,
            "type": "User",
        }))
        .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn emails_endpoint(
    State(provider): State<Arc<Mutex<Provider>>>,
    headers: HeaderMap,
) -> Response {
    let provider = provider.lock().expect("lock");
    match authorized(&provider, &headers) {
        Ok(user) => Json(user.emails).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Driving the flow
// ---------------------------------------------------------------------------------------------

fn github_settings(base: &str) -> Value {
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

async fn setup(pool: PgPool) -> (TestApp, MockGitHub) {
    let github = MockGitHub::start().await;
    let app = TestApp::with_config(pool, common::config(github_settings(&github.base))).await;
    (app, github)
}

fn query_map(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// `GET path` with extra headers, in-process.
async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::get(path)
        .header("x-forwarded-for", "203.0.113.7")
        .header("user-agent", "auth-tests/1.0");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    }
}

/// A sign-in sent off to GitHub: where the browser goes, and the cookie it now holds.
struct Started {
    authorize: Url,
    state: String,
    cookie: String,
}

async fn start(app: &TestApp, redirect_to: Option<&str>) -> Started {
    let path = match redirect_to {
        Some(target) => format!(
            "/api/auth/oauth/github?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("redirect_to", target)
                .finish()
        ),
        None => "/api/auth/oauth/github".to_owned(),
    };
    let reply = get(app, &path, &[]).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let authorize = Url::parse(location(&reply)).expect("authorize URL");
    let state = query_map(&authorize)["state"].clone();
    let set_cookie = reply.headers[header::SET_COOKIE].to_str().expect("ascii");
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();
    Started {
        authorize,
        state,
        cookie,
    }
}

fn location(reply: &Reply) -> &str {
    reply
        .headers
        .get(header::LOCATION)
        .expect("Location")
        .to_str()
        .expect("ascii")
}

async fn callback(
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
async fn sign_in(app: &TestApp, github: &MockGitHub, user: GitHubUser, accept: &str) -> Reply {
    let started = start(app, None).await;
    let code = github.approve(&started.authorize, user);
    callback(app, &code, &started.state, Some(&started.cookie), accept).await
}

/// Signs in asking for JSON and expects success; returns the `SignedIn` body.
async fn sign_in_json(app: &TestApp, github: &MockGitHub, user: GitHubUser) -> Value {
    let reply = sign_in(app, github, user, "application/json").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// The tokens from a redirect's fragment.
fn fragment_tokens(location: &str) -> HashMap<String, String> {
    let (_, fragment) = location.split_once('#').expect("fragment");
    url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect()
}

async fn audit_details(app: &TestApp, user_id: &str, action: &str) -> Vec<Value> {
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

async fn user_count(app: &TestApp) -> i64 {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM auth.users"#)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

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
    let cookie = reply.headers[header::SET_COOKIE].to_str().expect("ascii");
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
async fn callback_creates_a_verified_user_and_redirects_with_working_tokens(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let reply = sign_in(&app, &github, octocat(), BROWSER_ACCEPT).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let target = location(&reply);
    assert!(target.starts_with(&format!("{APP_URL}#")), "{target}");
    let tokens = fragment_tokens(target);
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], "900");
    assert!(!tokens["refresh_token"].is_empty());
    let cleared = reply.headers[header::SET_COOKIE].to_str().expect("ascii");
    assert!(
        cleared.starts_with("devmentor_oauth_state=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );

    let me = app.get_as("/api/auth/me", &tokens["access_token"]).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["email"], "octocat@github.example");
    assert_eq!(me.body["username"], "octocat");
    assert_eq!(me.body["full_name"], "The Octocat");
    assert_eq!(me.body["is_verified"], true);
    assert_eq!(me.body["github_linked"], true);
    assert_eq!(
        me.body["avatar_url"],
        "https://avatars.githubusercontent.com/u/583231?v=4"
    );
    let refreshed = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": tokens["refresh_token"] }),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);

    let user_id = me.body["id"].as_str().expect("id");
    let row = sqlx::query!(
        "SELECT github_id, password_hash FROM auth.users WHERE id = $1",
        user_id.parse::<uuid::Uuid>().expect("uuid"),
    )
    .fetch_one(&app.pool)
    .await
    .expect("user");
    assert_eq!(row.github_id.as_deref(), Some("583231"));
    assert!(
        row.password_hash.starts_with("$argon2id$"),
        "an unusable but well-formed hash"
    );
    assert_eq!(app.audit_trail(user_id).await[0], "register:true");
    let details = &audit_details(&app, user_id, "register").await[0];
    assert_eq!(details["provider"], "github");
    // No password opens this account.
    let login = app.login("octocat", "").await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn signing_in_again_finds_the_same_user(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let first = sign_in_json(&app, &github, octocat()).await;
    // GitHub profile changes (new login, email) do not make a new account.
    let renamed = GitHubUser {
        login: "octocat-renamed".into(),
        email: Some("new-address@github.example".into()),
        ..octocat()
    };
    let second = sign_in_json(&app, &github, renamed).await;
    assert_eq!(first["user"]["id"], second["user"]["id"]);
    assert_ne!(first["session_id"], second["session_id"]);
    assert_eq!(second["user"]["username"], "octocat");
    assert!(second["user"]["last_login_at"].is_string());
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(user_count(&app).await, 1);
    let user_id = second["user"]["id"].as_str().expect("id");
    assert_eq!(
        app.audit_trail(user_id).await,
        ["register:true", "oauth_login:true"]
    );
    assert_eq!(
        audit_details(&app, user_id, "oauth_login").await[0]["provider"],
        "github"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_primary_verified_email_is_used_when_the_profile_shows_none(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let private = GitHubUser {
        email: None,
        emails: vec![
            json!({ "email": "old@example.com", "primary": false, "verified": true, "visibility": null }),
            json!({ "email": "Mona@Example.com", "primary": true, "verified": true, "visibility": "private" }),
            json!({ "email": "typo@example.com", "primary": false, "verified": false, "visibility": null }),
        ],
        ..octocat()
    };
    let body = sign_in_json(&app, &github, private).await;
    assert_eq!(body["user"]["email"], "mona@example.com");

    let unverified = GitHubUser {
        id: 42,
        login: "nobody".into(),
        email: None,
        emails: vec![json!({ "email": "nobody@example.com", "primary": true, "verified": false })],
        ..octocat()
    };
    let refused = sign_in(&app, &github, unverified, BROWSER_ACCEPT).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "github_email_unverified")
    );
    assert_eq!(user_count(&app).await, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_account_with_the_same_verified_email_is_linked(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let alice = app.register("alice").await;
    let user_id = alice["user"]["id"].as_str().expect("id");
    let uuid: uuid::Uuid = user_id.parse().expect("uuid");
    sqlx::query!(
        "UPDATE auth.users SET is_verified = true WHERE id = $1",
        uuid
    )
    .execute(&app.pool)
    .await
    .expect("verify");
    let mona = GitHubUser {
        id: 7,
        login: "mona".into(),
        email: Some("Alice@Example.COM".into()),
        ..octocat()
    };
    let body = sign_in_json(&app, &github, mona).await;
    assert_eq!(body["user"]["id"], user_id);
    assert_eq!(
        body["user"]["username"], "alice",
        "the account keeps its name"
    );
    assert_eq!(body["user"]["github_linked"], true);
    assert_eq!(
        body["user"]["avatar_url"], "https://avatars.githubusercontent.com/u/583231?v=4",
        "an empty avatar is filled"
    );
    assert_eq!(
        app.audit_trail(user_id).await,
        ["register:true", "oauth_link:true", "oauth_login:true"]
    );
    let link = &audit_details(&app, user_id, "oauth_link").await[0];
    assert_eq!(
        (link["provider"].as_str(), link["github_id"].as_str()),
        (Some("github"), Some("7"))
    );
    // A verified account keeps its password and its sessions.
    assert_eq!(app.login("alice", PASSWORD).await.status, StatusCode::OK);
    let old_session = app
        .get_as("/api/auth/me", alice["access_token"].as_str().expect("t"))
        .await;
    assert_eq!(old_session.status, StatusCode::OK);
    assert_eq!(user_count(&app).await, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn linking_keeps_an_avatar_the_user_chose(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let alice = app.register("alice").await;
    let token = alice["access_token"].as_str().expect("token");
    let chosen = "https://cdn.example/alice.png";
    let patched = app
        .call(
            axum::http::Method::PATCH,
            "/api/auth/me",
            Some(json!({ "avatar_url": chosen })),
            Some(token),
            "203.0.113.7",
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    sqlx::query!("UPDATE auth.users SET is_verified = true")
        .execute(&app.pool)
        .await
        .expect("verify");
    let mona = GitHubUser {
        email: Some("alice@example.com".into()),
        ..octocat()
    };
    let body = sign_in_json(&app, &github, mona).await;
    assert_eq!(body["user"]["avatar_url"], chosen);
}

/// Someone registered the victim's address with their own password before the victim ever
/// signed in: when the victim arrives through GitHub (which proved the address), the
/// squatter's password and sessions must stop working.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn linking_an_unverified_account_voids_its_password_and_sessions(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let squatter = app.register("alice").await;
    let user_id = squatter["user"]["id"].as_str().expect("id");
    assert_eq!(squatter["user"]["is_verified"], false);
    let victim = GitHubUser {
        email: Some("alice@example.com".into()),
        ..octocat()
    };
    let body = sign_in_json(&app, &github, victim).await;
    assert_eq!(body["user"]["id"], user_id);
    assert_eq!(body["user"]["is_verified"], true);

    let login = app.login("alice", PASSWORD).await;
    assert_eq!(
        (login.status, login.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let refresh = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": squatter["refresh_token"] }),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED, "{}", refresh.body);
    let old = app
        .get_as(
            "/api/auth/me",
            squatter["access_token"].as_str().expect("t"),
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let fresh = app
        .get_as("/api/auth/me", body["access_token"].as_str().expect("t"))
        .await;
    assert_eq!(fresh.status, StatusCode::OK);
    let link = &audit_details(&app, user_id, "oauth_link").await[0];
    assert_eq!(link["password_cleared"], true);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_account_linked_to_another_github_account_is_not_relinked(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let first = sign_in_json(&app, &github, octocat()).await;
    let impostor = GitHubUser {
        id: 999,
        login: "someone-else".into(),
        ..octocat()
    };
    let reply = sign_in(&app, &github, impostor, "application/json").await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::CONFLICT, "github_account_conflict")
    );
    let github_id = sqlx::query_scalar!("SELECT github_id FROM auth.users")
        .fetch_one(&app.pool)
        .await
        .expect("user");
    assert_eq!(github_id.as_deref(), Some("583231"));
    let user_id = first["user"]["id"].as_str().expect("id");
    assert_eq!(
        app.audit_trail(user_id).await,
        ["register:true", "oauth_login:false"]
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn usernames_are_made_unique(pool: PgPool) {
    let (app, github) = setup(pool).await;
    app.register("octocat").await;
    let body = sign_in_json(
        &app,
        &github,
        GitHubUser {
            email: Some("cat@github.example".into()),
            ..octocat()
        },
    )
    .await;
    assert_eq!(body["user"]["username"], "octocat-2");
    let short = GitHubUser {
        id: 5,
        login: "x".into(),
        name: None,
        email: Some("x@github.example".into()),
        ..octocat()
    };
    let body = sign_in_json(&app, &github, short).await;
    assert_eq!(body["user"]["username"], "x-github");
    assert_eq!(
        body["user"]["full_name"], "x",
        "the login stands in for a missing name"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_state_works_once_and_only_before_it_expires(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let started = start(&app, None).await;
    let code = github.approve(&started.authorize, octocat());
    let ok = callback(
        &app,
        &code,
        &started.state,
        Some(&started.cookie),
        "application/json",
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    let replay = callback(
        &app,
        &code,
        &started.state,
        Some(&started.cookie),
        "application/json",
    )
    .await;
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
        "application/json",
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
    let expired = callback(
        &app,
        &code,
        &late.state,
        Some(&late.cookie),
        "application/json",
    )
    .await;
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

fn location_absent(reply: &Reply) -> bool {
    reply.headers.get(header::LOCATION).is_none()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_code_github_refuses_is_a_provider_error(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let started = start(&app, None).await;
    github.approve(&started.authorize, octocat());
    let wrong = callback(
        &app,
        "not-the-code",
        &started.state,
        Some(&started.cookie),
        BROWSER_ACCEPT,
    )
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

/// The code is bound to the challenge of the sign-in it was issued for: the verifier of
/// another sign-in does not redeem it.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_code_only_redeems_with_the_verifier_of_its_own_sign_in(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let first = start(&app, None).await;
    let second = start(&app, None).await;
    let code_for_first = github.approve(&first.authorize, octocat());
    let crossed = callback(
        &app,
        &code_for_first,
        &second.state,
        Some(&second.cookie),
        BROWSER_ACCEPT,
    )
    .await;
    assert_eq!(crossed.code(), "oauth_provider_error");
    assert_eq!(github.rejections(), ["PKCE verifier mismatch"]);
    let right = callback(
        &app,
        &code_for_first,
        &first.state,
        Some(&first.cookie),
        BROWSER_ACCEPT,
    )
    .await;
    assert_eq!(right.status, StatusCode::FOUND, "{}", right.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_unreachable_or_declining_github_gives_clear_errors(pool: PgPool) {
    let mut settings = github_settings("http://127.0.0.1:9");
    settings["github_authorize_url"] = json!("https://github.com/login/oauth/authorize");
    let app = TestApp::with_config(pool, common::config(settings)).await;
    let started = start(&app, None).await;
    let down = callback(
        &app,
        "some-code",
        &started.state,
        Some(&started.cookie),
        BROWSER_ACCEPT,
    )
    .await;
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
        let path = format!(
            "/api/auth/oauth/github?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("redirect_to", attempt)
                .finish()
        );
        let reply = get(&app, &path, &[]).await;
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
        let reply = callback(
            &app,
            &code,
            &started.state,
            Some(&started.cookie),
            BROWSER_ACCEPT,
        )
        .await;
        assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
        assert!(location(&reply).starts_with(lands), "{}", location(&reply));
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn deactivated_and_locked_accounts_are_refused(pool: PgPool) {
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

    sqlx::query!(
        "UPDATE auth.users SET is_active = true, locked_until = now() + interval '5 minutes' WHERE id = $1",
        uuid
    )
    .execute(&app.pool)
    .await
    .expect("lock");
    let locked = sign_in(&app, &github, octocat(), BROWSER_ACCEPT).await;
    assert_eq!(
        (locked.status, locked.code()),
        (StatusCode::LOCKED, "account_locked")
    );
    assert!(locked.headers.contains_key(header::RETRY_AFTER));

    assert_eq!(
        app.audit_trail(user_id).await,
        ["register:true", "oauth_login:false", "oauth_login:false"]
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
