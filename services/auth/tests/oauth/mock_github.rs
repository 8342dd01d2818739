//! A mock GitHub on a local port that checks what the real one checks: the client secret,
//! the code (single use), the PKCE verifier against the challenge from the authorize
//! redirect, the redirect URI, `Accept: application/json` and a User-Agent.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::support::query_map;

/// The OAuth app the auth service is registered as; the mock accepts nothing else.
pub const CLIENT_ID: &str = "test-client-id";
pub const CLIENT_SECRET: &str = "test-client-secret";

/// A GitHub account as the mock serves it.
#[derive(Debug, Clone)]
pub struct GitHubUser {
    pub id: u64,
    pub login: String,
    pub name: Option<String>,
    /// The public profile email (`/user`).
    pub email: Option<String>,
    pub avatar_url: Option<String>,
    /// `/user/emails`.
    pub emails: Vec<Value>,
}

/// The avatar [`octocat`] has at GitHub, which a new or avatar-less account takes over.
pub const OCTOCAT_AVATAR: &str = "https://avatars.githubusercontent.com/u/583231?v=4";

impl GitHubUser {
    /// The same GitHub account showing another public email.
    pub fn with_email(self, email: &str) -> Self {
        Self {
            email: Some(email.into()),
            ..self
        }
    }
}

/// The account most tests sign in with; others vary it with struct update syntax.
pub fn octocat() -> GitHubUser {
    GitHubUser {
        id: 583231,
        login: "octocat".into(),
        name: Some("The Octocat".into()),
        email: Some("octocat@github.example".into()),
        avatar_url: Some(OCTOCAT_AVATAR.into()),
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
pub struct MockGitHub {
    /// Where the mock listens, e.g. `http://127.0.0.1:40123`.
    pub base: String,
    provider: Arc<Mutex<Provider>>,
}

impl MockGitHub {
    pub async fn start() -> Self {
        let provider = Arc::new(Mutex::new(Provider::default()));
        let router = Router::new()
            .route("/login/oauth/access_token", routing::post(token_endpoint))
            .route("/user", routing::get(user_endpoint))
            .route("/user/emails", routing::get(emails_endpoint))
            .with_state(provider.clone());
        let address = testkit::serve_on_loopback(router).await;
        Self {
            base: format!("http://{address}"),
            provider,
        }
    }

    /// The user approves the app at GitHub: checks the authorize URL as GitHub would and
    /// returns the code GitHub would send back.
    pub fn approve(&self, authorize: &Url, user: GitHubUser) -> String {
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

    /// Why each refused token request was refused, in order.
    pub fn rejections(&self) -> Vec<String> {
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
