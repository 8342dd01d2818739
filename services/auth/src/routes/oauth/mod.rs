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

mod account;
mod redirect;

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::Utc;
use db::auth::oauth::{NewState, Provider};
use platform::{client::ClientInfo, extract::Query};
use serde::Deserialize;
use utoipa::OpenApi;

use self::{
    account::{Outcome, refused, sign_in},
    redirect::{
        accepts_json, cookie, found, header_value, redirect_target, safe_code, secure_attribute,
        with_challenge, with_tokens,
    },
};
use crate::{
    error::ApiError,
    oauth::{
        authorize::STATE_TTL,
        github::{GitHub, GitHubProfile},
    },
    rate_limit::{Rule, client_key},
    secrets::digest,
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/oauth/github", get(github_start))
        .route("/api/auth/oauth/github/callback", get(github_callback))
}

/// Listed under the `account` tag, beside register and login.
#[derive(OpenApi)]
#[openapi(paths(github_start, github_callback))]
pub struct ApiDoc;

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

#[utoipa::path(get, path = "/api/auth/oauth/github", tag = "account", params(StartQuery), responses((status = 302, description = "to GitHub's authorize page, with state and an S256 PKCE challenge; sets a short-lived cookie binding the sign-in to this browser"), (status = 404, description = "oauth_not_configured: GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET unset", body = platform::openapi::ApiErrorBody), (status = 422, description = "invalid_redirect_to: not on PUBLIC_APP_URL", body = platform::openapi::ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = platform::openapi::ApiErrorBody)))]
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
    let rule = Rule::per_minute("oauth_start", STARTS_PER_MINUTE);
    state.limiter.check(rule, &client_key(&client)).await?;

    let sign_in = github.authorize();
    let ttl =
        chrono::Duration::from_std(STATE_TTL).map_err(|e| ApiError::Internal(e.to_string()))?;
    let new_state = NewState {
        provider: Provider::GitHub,
        state_hash: &digest(&sign_in.state),
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

#[utoipa::path(get, path = "/api/auth/oauth/github/callback", tag = "account", params(CallbackQuery), responses((status = 302, description = "signed in: to `<redirect_to or PUBLIC_APP_URL>#access_token=...&token_type=Bearer&expires_in=...&refresh_token=...&refresh_expires_in=...&session_id=...&aal=aal1&device_token=...`; an account with a second factor instead gets `#mfa_required=true&mfa_token=...&methods=totp,recovery_code&expires_in=300`, to finish at `POST /api/auth/login/mfa`"), (status = 200, description = "signed in, or `mfa_required` with an `mfa_token` (with `Accept: application/json`)", body = crate::routes::account::LoginReply), (status = 400, description = "invalid_oauth_state: unknown, used, expired, or started in another browser", body = platform::openapi::ApiErrorBody), (status = 403, description = "account_disabled, or oauth_denied (cancelled at GitHub)", body = platform::openapi::ApiErrorBody), (status = 404, description = "oauth_not_configured", body = platform::openapi::ApiErrorBody), (status = 409, description = "github_account_conflict: the email's account is linked to another GitHub account", body = platform::openapi::ApiErrorBody), (status = 422, description = "github_email_unverified: no verified primary email at GitHub", body = platform::openapi::ApiErrorBody), (status = 502, description = "oauth_provider_error: GitHub refused the code or failed", body = platform::openapi::ApiErrorBody)))]
pub async fn github_callback(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let wants_json = accepts_json(&headers);
    let outcome = callback(&state, &client, &headers, query).await;
    let mut response = match outcome {
        Ok((Outcome::SignedIn(signed_in), _)) if wants_json => {
            axum::Json(signed_in).into_response()
        }
        Ok((Outcome::SecondFactor(challenge), _)) if wants_json => {
            axum::Json(challenge).into_response()
        }
        Ok((Outcome::SignedIn(signed_in), target)) => {
            found(&with_tokens(&target, &signed_in)).unwrap_or_else(|e| e.into_response())
        }
        Ok((Outcome::SecondFactor(challenge), target)) => {
            found(&with_challenge(&target, &challenge)).unwrap_or_else(|e| e.into_response())
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
) -> Result<(Outcome, String), ApiError> {
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
    let remembered =
        db::auth::oauth::consume_state(&state.pool, Provider::GitHub, &digest(&oauth_state))
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

fn configured(state: &AppState) -> Result<&GitHub, ApiError> {
    state
        .github
        .as_deref()
        .ok_or(ApiError::OAuthNotConfigured("GitHub"))
}
