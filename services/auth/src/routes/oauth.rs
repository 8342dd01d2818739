//! `GET oauth/github` and `GET oauth/github/callback`: sign-in with GitHub.
//!
//! The start remembers the sign-in server-side (state hashed, PKCE verifier, where to land)
//! and also in a short-lived cookie holding the state: the callback must come back to the
//! browser that started it, so nobody can log a victim into the attacker's account by
//! sending them a callback link (login CSRF; PKCE alone cannot stop this because the
//! verifier lives on the server, not in the browser).
//!
//! The callback answers a browser with a redirect to `<redirect_to or PUBLIC_APP_URL>#
//! access_token=...&refresh_token=...&expires_in=...`: tokens travel in the fragment, which
//! browsers never send to servers, so they stay out of access logs and `Referer` headers.
//! A client that sends `Accept: application/json` gets login's JSON body instead. Errors are
//! JSON in both cases.

use std::time::Duration;

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use db::auth::{
    User,
    oauth::{NewOAuthUser, NewState, Provider},
};
use platform::{client::ClientInfo, config::AppEnv, extract::Query};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::{account::client_key, audit, views::SignedIn};
use crate::{
    error::ApiError,
    oauth::{GitHub, GitHubProfile, STATE_TTL, username_base, username_candidates, with_suffix},
    rate_limit::Rule,
    sessions,
    state::AppState,
    validate,
};

/// Holds the state of the sign-in this browser started; scoped to the OAuth routes.
const STATE_COOKIE: &str = "devmentor_oauth_state";
const COOKIE_PATH: &str = "/api/auth/oauth/github";
/// Sign-ins a client IP may start per minute (each writes a row).
const STARTS_PER_MINUTE: u32 = 20;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// Where to land after sign-in: a path on the app (`/projects/42`) or a URL starting
    /// with `PUBLIC_APP_URL`. Default: `PUBLIC_APP_URL`.
    redirect_to: Option<String>,
}

#[utoipa::path(get, path = "/api/auth/oauth/github", tag = "account", params(StartQuery), responses((status = 302, description = "to GitHub's authorize page, with state and an S256 PKCE challenge; sets a short-lived cookie binding the sign-in to this browser"), (status = 404, description = "oauth_not_configured: GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET unset", body = crate::routes::docs::ApiErrorBody), (status = 422, description = "invalid_redirect_to: not on PUBLIC_APP_URL", body = crate::routes::docs::ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = crate::routes::docs::ApiErrorBody)))]
pub async fn github_start(
    State(state): State<AppState>,
    client: ClientInfo,
    Query(query): Query<StartQuery>,
) -> Result<Response, ApiError> {
    let github = configured(&state)?;
    let redirect_to = query
        .redirect_to
        .as_deref()
        .map(|target| redirect_target(&state.config.public_app_url, target))
        .transpose()?;
    let rule = Rule {
        name: "oauth_start",
        limit: STARTS_PER_MINUTE,
        window: Duration::from_secs(60),
    };
    state.limiter.check(rule, &client_key(&client)).await?;

    let sign_in = github.authorize();
    let ttl =
        chrono::Duration::from_std(STATE_TTL).map_err(|e| ApiError::Internal(e.to_string()))?;
    let new_state = NewState {
        provider: Provider::GitHub,
        state_hash: &sessions::digest(&sign_in.state),
        pkce_verifier: &sign_in.pkce_verifier,
        redirect_to: redirect_to.as_deref(),
        expires_at: Utc::now() + ttl,
    };
    db::auth::oauth::create_state(&state.pool, &new_state).await?;
    // Housekeeping where the rows are made: one indexed delete, usually of nothing.
    if let Err(error) = db::auth::oauth::purge_expired_states(&state.pool).await {
        tracing::warn!(%error, "cannot purge expired OAuth states");
    }

    let cookie = format!(
        "{STATE_COOKIE}={}; Path={COOKIE_PATH}; Max-Age={}; HttpOnly; SameSite=Lax{}",
        sign_in.state,
        STATE_TTL.as_secs(),
        secure_attribute(&state),
    );
    let mut response = found(sign_in.url.as_str())?;
    response
        .headers_mut()
        .insert(header::SET_COOKIE, header_value(&cookie)?);
    Ok(response)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The authorization code GitHub issued.
    code: Option<String>,
    /// The `state` the sign-in started with.
    state: Option<String>,
    /// Set by GitHub instead of `code` when the user declined (`access_denied`) or it failed.
    error: Option<String>,
}

#[utoipa::path(get, path = "/api/auth/oauth/github/callback", tag = "account", params(CallbackQuery), responses((status = 302, description = "signed in: to `<redirect_to or PUBLIC_APP_URL>#access_token=...&token_type=Bearer&expires_in=...&refresh_token=...&refresh_expires_in=...&session_id=...`"), (status = 200, description = "signed in (with `Accept: application/json`)", body = SignedIn), (status = 400, description = "invalid_oauth_state: unknown, used, expired, or started in another browser", body = crate::routes::docs::ApiErrorBody), (status = 403, description = "account_disabled, or oauth_denied (cancelled at GitHub)", body = crate::routes::docs::ApiErrorBody), (status = 404, description = "oauth_not_configured", body = crate::routes::docs::ApiErrorBody), (status = 409, description = "github_account_conflict: the email's account is linked to another GitHub account", body = crate::routes::docs::ApiErrorBody), (status = 422, description = "github_email_unverified: no verified primary email at GitHub", body = crate::routes::docs::ApiErrorBody), (status = 423, description = "account_locked", body = crate::routes::docs::ApiErrorBody), (status = 502, description = "oauth_provider_error: GitHub refused the code or failed", body = crate::routes::docs::ApiErrorBody)))]
pub async fn github_callback(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let wants_json = accepts_json(&headers);
    let outcome = callback(&state, &client, &headers, query).await;
    let mut response = match outcome {
        Ok((signed_in, _)) if wants_json => axum::Json(signed_in).into_response(),
        Ok((signed_in, target)) => {
            found(&with_tokens(&target, &signed_in.tokens)).unwrap_or_else(|e| e.into_response())
        }
        Err(error) => error.into_response(),
    };
    // The cookie has done its job whatever happened; the answer may carry tokens.
    let headers = response.headers_mut();
    if let Ok(clear) = header_value(&format!(
        "{STATE_COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Lax{}",
        secure_attribute(&state)
    )) {
        headers.append(header::SET_COOKIE, clear);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Validates the callback, signs the user in and returns where to send them.
async fn callback(
    state: &AppState,
    client: &ClientInfo,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> Result<(SignedIn, String), ApiError> {
    let github = configured(state)?;
    let Some(oauth_state) = query.state.filter(|s| !s.is_empty()) else {
        return Err(refused(
            state,
            client,
            None,
            "missing_state",
            ApiError::InvalidOAuthState,
        )
        .await);
    };
    if cookie(headers, STATE_COOKIE).as_deref() != Some(oauth_state.as_str()) {
        // Not consumed: the browser that started this sign-in may still finish it.
        return Err(refused(
            state,
            client,
            None,
            "state_cookie_mismatch",
            ApiError::InvalidOAuthState,
        )
        .await);
    }
    let remembered = db::auth::oauth::consume_state(
        &state.pool,
        Provider::GitHub,
        &sessions::digest(&oauth_state),
    )
    .await?;
    let Some(remembered) = remembered else {
        return Err(refused(
            state,
            client,
            None,
            "unknown_used_or_expired_state",
            ApiError::InvalidOAuthState,
        )
        .await);
    };
    if let Some(error) = query.error {
        let error = match error.as_str() {
            "access_denied" => ApiError::OAuthDenied("GitHub"),
            other => ApiError::OAuthProvider(format!(
                "GitHub refused the sign-in ({}): start again",
                safe_code(other)
            )),
        };
        return Err(refused(state, client, None, "provider_error", error).await);
    }
    let Some(code) = query.code.filter(|code| !code.is_empty()) else {
        return Err(ApiError::validation(
            "invalid_callback",
            "the callback carries neither a code nor an error",
        ));
    };

    let profile = match provider_profile(github, &code, &remembered.pkce_verifier).await {
        Ok(profile) => profile,
        Err(error) => return Err(refused(state, client, None, "provider_error", error).await),
    };
    let signed_in = sign_in(state, client, &profile).await?;
    let target = remembered
        .redirect_to
        .unwrap_or_else(|| state.config.public_app_url.clone());
    Ok((signed_in, target))
}

async fn provider_profile(
    github: &GitHub,
    code: &str,
    pkce_verifier: &str,
) -> Result<GitHubProfile, ApiError> {
    let token = github
        .exchange_code(code, pkce_verifier)
        .await
        .map_err(|error| ApiError::OAuthProvider(error.to_string()))?;
    github
        .profile(&token)
        .await
        .map_err(|error| ApiError::OAuthProvider(error.to_string()))
}

/// How the GitHub identity maps to an account.
enum Match {
    /// Linked before: sign in.
    Linked(User),
    /// An account with the same email: link, then sign in.
    SameEmail(User),
    /// Nobody: create the account.
    New { email: String },
}

/// Finds, links or creates the account for `profile` and starts a session, all audited.
async fn sign_in(
    state: &AppState,
    client: &ClientInfo,
    profile: &GitHubProfile,
) -> Result<SignedIn, ApiError> {
    let found = match db::auth::oauth::find_user_by_github_id(&state.pool, &profile.id).await? {
        Some(user) => Match::Linked(user),
        None => {
            let Some(email) = profile.email.as_deref() else {
                let error = ApiError::validation(
                    "github_email_unverified",
                    "your GitHub account has no verified primary email address: verify one at GitHub and try again",
                );
                return Err(refused(state, client, None, "github_email_unverified", error).await);
            };
            let email = validate::email(email)?;
            match db::auth::users::find_by_email(&state.pool, &email).await? {
                Some(user) if user.github_id.is_some() => {
                    let error = github_conflict();
                    return Err(refused(
                        state,
                        client,
                        Some(&user),
                        "github_account_conflict",
                        error,
                    )
                    .await);
                }
                Some(user) => Match::SameEmail(user),
                None => Match::New { email },
            }
        }
    };
    if let Match::Linked(user) | Match::SameEmail(user) = &found {
        if !user.is_active {
            return Err(refused(
                state,
                client,
                Some(user),
                "account_disabled",
                ApiError::AccountDisabled,
            )
            .await);
        }
        if let Some(until) = user.locked_at(Utc::now()) {
            let error = ApiError::AccountLocked { until };
            return Err(refused(state, client, Some(user), "account_locked", error).await);
        }
    }
    // New accounts, and unverified ones taken over below, get a password nobody knows: the
    // hash of 256 random bits that are thrown away at once. Hashed before the transaction.
    let needs_unusable_hash = match &found {
        Match::Linked(_) => false,
        Match::SameEmail(user) => !user.is_verified,
        Match::New { .. } => true,
    };
    let unusable_hash = match needs_unusable_hash {
        true => Some(state.passwords.hash(sessions::new_secret()).await?),
        false => None,
    };
    let avatar_url = profile
        .avatar_url
        .as_deref()
        .and_then(|url| validate::avatar_url(url).ok());

    // One transaction: link or account, session and audit rows exist together or not at all.
    let mut tx = state.pool.begin().await?;
    let (user, action, mut details) = match found {
        Match::Linked(user) => (user, "oauth_login", json!({})),
        Match::SameEmail(user) => {
            let linked =
                db::auth::oauth::link_github(&mut *tx, user.id, &profile.id, avatar_url.as_deref())
                    .await
                    .map_err(github_race)?
                    .ok_or_else(github_conflict)?;
            // Nobody proved this address before GitHub did: whoever registered it may not own
            // it (pre-registration takeover), so their password and sessions go.
            let cleared = match &unusable_hash {
                Some(hash) => {
                    db::auth::users::update_password_hash(&mut *tx, user.id, hash).await?;
                    db::auth::sessions::revoke_all_for_user(&mut *tx, user.id, "oauth_link", None)
                        .await?;
                    true
                }
                None => false,
            };
            (linked, "oauth_link", json!({ "password_cleared": cleared }))
        }
        Match::New { email } => {
            let hash = unusable_hash
                .ok_or_else(|| ApiError::Internal("no password hash for a new account".into()))?;
            let username = free_username(&mut tx, &profile.login).await?;
            let full_name = full_name(profile);
            let new_user = NewOAuthUser {
                email: &email,
                username: &username,
                full_name: &full_name,
                password_hash: &hash,
                github_id: &profile.id,
                avatar_url: avatar_url.as_deref(),
            };
            let user = db::auth::oauth::create_user(&mut *tx, &new_user)
                .await
                .map_err(github_race)?;
            (user, "register", json!({}))
        }
    };
    db::auth::users::record_successful_login(&mut *tx, user.id).await?;
    let tokens = sessions::start(&mut tx, state, &user, client).await?;
    if let Some(details) = details.as_object_mut() {
        details.insert("provider".into(), json!("github"));
        details.insert("github_id".into(), json!(profile.id));
        details.insert("session_id".into(), json!(tokens.session_id));
    }
    let mut actions = vec![(action, details.clone())];
    if action == "oauth_link" {
        actions.push(("oauth_login", details));
    }
    for (action, details) in actions {
        let event = db::auth::AuditEvent {
            user_id: Some(user.id),
            action,
            ip: client.ip_text(),
            user_agent: client.user_agent.as_deref(),
            success: true,
            details,
        };
        db::auth::audit::record(&mut *tx, &event).await?;
    }
    tx.commit().await?;
    let user = db::auth::users::find(&state.pool, user.id)
        .await?
        .unwrap_or(user);
    Ok(SignedIn {
        user: user.into(),
        tokens,
    })
}

fn github_conflict() -> ApiError {
    ApiError::Conflict {
        code: "github_account_conflict",
        message: "the account with this email is linked to another GitHub account: sign in with that one",
    }
}

/// Two callbacks for the same new GitHub user at once: the loser hits the unique key.
fn github_race(error: sqlx::Error) -> ApiError {
    let constraint = error.as_database_error().and_then(|db| db.constraint());
    match constraint {
        Some("users_github_id_key") => ApiError::Conflict {
            code: "github_account_conflict",
            message: "this GitHub account was just linked to an account: sign in again",
        },
        _ => error.into(),
    }
}

/// The first free username made from the GitHub login (`octocat`, `octocat-2`, ...).
async fn free_username(conn: &mut db::PgConnection, login: &str) -> Result<String, ApiError> {
    let base = username_base(login);
    let candidates = username_candidates(&base, 20);
    let taken = db::auth::oauth::usernames_taken(&mut *conn, &candidates).await?;
    let free = candidates
        .into_iter()
        .find(|candidate| !taken.contains(&candidate.to_lowercase()));
    Ok(free.unwrap_or_else(|| {
        // Twenty namesakes: a random suffix will do.
        let suffix: String = sessions::new_secret()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(6)
            .collect();
        with_suffix(&base, &format!("-{}", suffix.to_lowercase()))
    }))
}

fn full_name(profile: &GitHubProfile) -> String {
    let name = profile
        .name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or(&profile.login);
    name.chars().take(255).collect()
}

/// Audits a refused sign-in (as `oauth_login`, failed) and passes the error on.
async fn refused(
    state: &AppState,
    client: &ClientInfo,
    user: Option<&User>,
    reason: &str,
    error: ApiError,
) -> ApiError {
    let details = json!({ "provider": "github", "reason": reason });
    audit(
        &state.pool,
        user.map(|user| user.id),
        "oauth_login",
        client,
        false,
        details,
    )
    .await;
    error
}

fn configured(state: &AppState) -> Result<&GitHub, ApiError> {
    state
        .github
        .as_deref()
        .ok_or(ApiError::OAuthNotConfigured("GitHub"))
}

/// `raw` as an absolute URL on the app: a path (`/x?y`) is put under `PUBLIC_APP_URL`; a URL
/// must have the app's origin and lie under its path. Anything else could send the user
/// (and their tokens) to another site.
pub fn redirect_target(public_app_url: &str, raw: &str) -> Result<String, ApiError> {
    let refuse = || {
        ApiError::validation(
            "invalid_redirect_to",
            "redirect_to must be a path on the app (/...) or a URL starting with PUBLIC_APP_URL",
        )
    };
    let raw = raw.trim();
    let plain = raw.len() <= 2048
        && !raw.contains(['\\', '#'])
        && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
    if !plain {
        return Err(refuse());
    }
    let base = public_app_url.trim_end_matches('/');
    let app = Url::parse(base).map_err(|_| refuse())?;
    let candidate = if raw.starts_with('/') {
        if raw.starts_with("//") {
            return Err(refuse());
        }
        format!("{base}{raw}")
    } else {
        raw.to_owned()
    };
    let target = Url::parse(&candidate).map_err(|_| refuse())?;
    let under_app = {
        let prefix = app.path().trim_end_matches('/');
        let path = target.path();
        path == prefix || path.starts_with(&format!("{prefix}/"))
    };
    let same_origin = target.origin() == app.origin()
        && target.username().is_empty()
        && target.password().is_none();
    if !(same_origin && under_app) {
        return Err(refuse());
    }
    Ok(target.to_string())
}

/// `target` with the tokens in its fragment.
fn with_tokens(target: &str, tokens: &sessions::Tokens) -> String {
    let fragment = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("access_token", &tokens.access_token)
        .append_pair("token_type", tokens.token_type)
        .append_pair("expires_in", &tokens.expires_in.to_string())
        .append_pair("refresh_token", &tokens.refresh_token)
        .append_pair("refresh_expires_in", &tokens.refresh_expires_in.to_string())
        .append_pair("session_id", &tokens.session_id.to_string())
        .finish();
    format!("{target}#{fragment}")
}

fn found(location: &str) -> Result<Response, ApiError> {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, header_value(location)?);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn header_value(text: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(text).map_err(|error| ApiError::Internal(error.to_string()))
}

/// Browsers on `http://localhost` in development; `Secure` everywhere else.
fn secure_attribute(state: &AppState) -> &'static str {
    match state.config.app_env {
        AppEnv::Development => "",
        _ => "; Secure",
    }
}

/// Whether the client asked for JSON (`Accept: application/json`), as API clients do;
/// browsers navigating never list it.
fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            range
                .split(';')
                .next()
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
        })
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A provider's error code, kept only if it looks like one (it is echoed to the user).
fn safe_code(code: &str) -> String {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        code.to_owned()
    } else {
        "unknown_error".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_the_app() {
        let app = "http://localhost:3000";
        let ok = |raw| redirect_target(app, raw).expect(raw);
        assert_eq!(
            ok("/projects/42?tab=tasks"),
            "http://localhost:3000/projects/42?tab=tasks"
        );
        assert_eq!(ok("/"), "http://localhost:3000/");
        assert_eq!(ok("http://localhost:3000"), "http://localhost:3000/");
        assert_eq!(
            ok("http://localhost:3000/settings"),
            "http://localhost:3000/settings"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "http://localhost:3000.evil.example/",
            "http://localhost:3000@evil.example/",
            "http://user@localhost:3000/",
            "https://localhost:3000/",
            "http://localhost:3001/",
            "javascript:alert(1)",
            "data:text/html,hi",
            "projects",
            "/x#access_token=stolen",
            "/a b",
            "/a\nLocation: https://evil.example",
        ] {
            assert!(redirect_target(app, bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn an_app_under_a_path_keeps_redirects_under_it() {
        let app = "https://example.com/app/";
        assert_eq!(
            redirect_target(app, "/home").expect("path"),
            "https://example.com/app/home"
        );
        assert!(redirect_target(app, "https://example.com/app/x").is_ok());
        assert!(redirect_target(app, "https://example.com/application").is_err());
        assert!(redirect_target(app, "https://example.com/other").is_err());
        assert!(redirect_target(app, "/../other").is_err());
    }

    #[test]
    fn json_is_chosen_only_when_asked_for() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            ),
        );
        assert!(!accepts_json(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(accepts_json(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/plain, Application/JSON;q=0.5"),
        );
        assert!(accepts_json(&headers));
    }

    #[test]
    fn both_endpoints_are_described_for_openapi() {
        #[derive(utoipa::OpenApi)]
        #[openapi(paths(github_start, github_callback))]
        struct Doc;
        let spec = serde_json::to_value(<Doc as utoipa::OpenApi>::openapi()).expect("json");
        let start = &spec["paths"]["/api/auth/oauth/github"]["get"];
        assert!(start["responses"]["302"].is_object(), "{start}");
        assert_eq!(start["parameters"][0]["name"], "redirect_to");
        let callback = &spec["paths"]["/api/auth/oauth/github/callback"]["get"];
        for status in ["200", "302", "400", "502"] {
            assert!(
                callback["responses"][status].is_object(),
                "{status}: {callback}"
            );
        }
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; devmentor_oauth_state=xyz; b=2"),
        );
        assert_eq!(cookie(&headers, STATE_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
