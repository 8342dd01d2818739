//! A passkey as the second factor: `login/mfa/passkey` and `step-up/passkey` start a
//! ceremony for the user's own passkeys; the assertion then goes to `login/mfa` or `step-up`
//! as `passkey` (checked in `mfa::proof`, like a code).

use axum::{Router, extract::State, routing::post};
use db::{
    auth::{one_time_tokens::Purpose, passkeys::CeremonyKind},
    ids::UserId,
};
use platform::{client::ClientInfo, extract::Json, openapi::ApiErrorBody};
use serde::Deserialize;
use utoipa::OpenApi;

use crate::{
    error::ApiError,
    passkeys::{self, CEREMONY_TTL_SECS},
    rate_limit::{Rule, client_key},
    routes::passkey_login::AssertionStarted,
    secrets::digest,
    sessions::CurrentSession,
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login/mfa/passkey", post(login_challenge))
        .route("/api/auth/step-up/passkey", post(step_up_challenge))
}

/// Tagged `mfa`, which `routes/mfa.rs` describes.
#[derive(OpenApi)]
#[openapi(paths(login_challenge, step_up_challenge))]
pub struct ApiDoc;

/// Second-factor ceremonies one client address may start per minute.
const STARTS_PER_MINUTE: u32 = 30;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyChallengeRequest {
    /// From the login answer that said `mfa_required`.
    mfa_token: String,
}

fn no_passkey() -> ApiError {
    ApiError::Conflict {
        code: "no_passkey",
        message: "this account has no passkey: use another second factor",
    }
}

/// A ceremony for `user_id`'s passkeys (the browser may answer with any of them).
async fn start(
    state: &AppState,
    client: &ClientInfo,
    user_id: UserId,
) -> Result<AssertionStarted, ApiError> {
    let rule = Rule::per_minute("passkey_factor_start", STARTS_PER_MINUTE);
    state
        .limiter
        .check(rule, &format!("ip:{}", client_key(client)))
        .await?;
    let stored = db::auth::passkeys::list(&state.pool, user_id).await?;
    if stored.is_empty() {
        return Err(no_passkey());
    }
    let credentials = stored
        .iter()
        .map(passkeys::credential)
        .collect::<Result<Vec<_>, _>>()?;
    let (options, ceremony) = state
        .webauthn
        .start_passkey_authentication(&credentials)
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let mut conn = state.pool.acquire().await?;
    let ceremony_id = passkeys::save_ceremony(
        &mut conn,
        Some(user_id),
        CeremonyKind::SecondFactor,
        &ceremony,
    )
    .await?;
    Ok(AssertionStarted {
        ceremony_id,
        options,
        expires_in: CEREMONY_TTL_SECS,
    })
}

/// Starts the passkey ceremony that finishes a login needing a second factor; send the
/// assertion to `POST /api/auth/login/mfa` as `passkey`, with the same `mfa_token`.
#[utoipa::path(post, path = "/api/auth/login/mfa/passkey", tag = "mfa", request_body = PasskeyChallengeRequest, responses((status = 200, description = "options for navigator.credentials.get() with the account's passkeys", body = AssertionStarted), (status = 401, description = "invalid_mfa_token (unknown, used or expired: log in again)", body = ApiErrorBody), (status = 409, description = "no_passkey: the account has none", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn login_challenge(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<PasskeyChallengeRequest>,
) -> Result<axum::Json<AssertionStarted>, ApiError> {
    let token_hash = digest(&request.mfa_token);
    let user_id =
        db::auth::one_time_tokens::find_usable(&state.pool, Purpose::MfaLogin, &token_hash)
            .await?
            .ok_or(ApiError::InvalidMfaToken)?;
    Ok(axum::Json(start(&state, &client, user_id).await?))
}

/// Starts the passkey ceremony for a step-up; send the assertion to `POST /api/auth/step-up`
/// as `passkey`.
#[utoipa::path(post, path = "/api/auth/step-up/passkey", tag = "mfa", security(("bearer" = [])), responses((status = 200, description = "options for navigator.credentials.get() with the caller's passkeys", body = AssertionStarted), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 409, description = "no_passkey: the account has none", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn step_up_challenge(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
) -> Result<axum::Json<AssertionStarted>, ApiError> {
    let user = session.user(&state.pool).await?;
    Ok(axum::Json(start(&state, &client, user.id).await?))
}
