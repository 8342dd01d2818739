//! Passwordless login with a discoverable passkey: `passkeys/login/start` and `/finish`.
//!
//! The session is `aal2`: the ceremony requires user verification (the authenticator's PIN
//! or biometric, checked by webauthn-rs, which refuses an assertion without the UV flag), so
//! the passkey is a multi-factor authenticator by itself: something held (the device key)
//! unlocked by something known or inherent. Refusals count toward the account's lockout and
//! the guess rate limits like wrong passwords. The lock itself does not refuse a passkey: it
//! stops password guessing, and an assertion is not a guessable secret, so a stranger's wrong
//! passwords must not shut the owner out of passkey sign-in (as with GitHub sign-in). A
//! successful passkey sign-in leaves the lock and the failure count alone: it proves nothing
//! about whoever is guessing the password. A deactivated account is refused.

use authn::Aal;
use axum::{Router, extract::State, routing::post};
use db::auth::passkeys::CeremonyKind;
use platform::{client::ClientInfo, extract::Json, openapi::ApiErrorBody};
use serde::Serialize;
use serde_json::json;
use utoipa::OpenApi;
use uuid::Uuid;
use webauthn_rs::prelude::RequestChallengeResponse;

use crate::{
    audit::Audit,
    credentials,
    device::Budget,
    error::ApiError,
    passkeys::{
        self, CEREMONY_TTL_SECS,
        assertion::{self, PasskeyAssertion},
    },
    rate_limit::{Rule, client_key},
    sessions::{self, SignedIn},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/passkeys/login/start", post(login_start))
        .route("/api/auth/passkeys/login/finish", post(login_finish))
}

/// Tagged `passkeys`, which `routes/passkeys.rs` describes.
#[derive(OpenApi)]
#[openapi(
    paths(login_start, login_finish),
    components(schemas(PasskeyAssertion))
)]
pub struct ApiDoc;

/// Passwordless ceremonies one client address may start per minute.
const STARTS_PER_MINUTE: u32 = 30;

/// What the browser needs for `navigator.credentials.get()`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssertionStarted {
    /// Send it back with the credential; works once, for `expires_in` seconds.
    pub ceremony_id: Uuid,
    /// `{publicKey: PublicKeyCredentialRequestOptions, mediation?}` (binary fields base64url).
    #[schema(value_type = Object)]
    pub options: RequestChallengeResponse,
    pub expires_in: u64,
}

/// Starts a passwordless login: a challenge for any discoverable passkey of this site.
#[utoipa::path(post, path = "/api/auth/passkeys/login/start", tag = "passkeys", responses((status = 200, description = "options for navigator.credentials.get() (conditional mediation)", body = AssertionStarted), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn login_start(
    State(state): State<AppState>,
    client: ClientInfo,
) -> Result<axum::Json<AssertionStarted>, ApiError> {
    let rule = Rule::per_minute("passkey_login_start", STARTS_PER_MINUTE);
    state
        .limiter
        .check(rule, &format!("ip:{}", client_key(&client)))
        .await?;
    let (options, ceremony) = state
        .webauthn
        .start_discoverable_authentication()
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let mut conn = state.pool.acquire().await?;
    let ceremony_id =
        passkeys::save_ceremony(&mut conn, None, CeremonyKind::PasswordlessLogin, &ceremony)
            .await?;
    Ok(axum::Json(AssertionStarted {
        ceremony_id,
        options,
        expires_in: CEREMONY_TTL_SECS,
    }))
}

/// Finishes a passwordless login: the same answer as a password login, at `aal2`.
#[utoipa::path(post, path = "/api/auth/passkeys/login/finish", tag = "passkeys", request_body = PasskeyAssertion, responses((status = 200, description = "signed in (aal2)", body = SignedIn), (status = 400, description = "invalid_passkey_ceremony (unknown, used or expired: start again)", body = ApiErrorBody), (status = 401, description = "invalid_passkey (unknown passkey, wrong origin or signature, no user verification, or a counter that went backwards)", body = ApiErrorBody), (status = 403, description = "account_disabled", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn login_finish(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<PasskeyAssertion>,
) -> Result<axum::Json<SignedIn>, ApiError> {
    credentials::count_client_guess(&state, &client).await?;
    let audit = Audit::new(&state.pool, &client);
    let verified = match assertion::verify_discoverable(&state, &request).await? {
        Ok(verified) => verified,
        Err((owner, refusal)) => {
            let user = match owner {
                Some(id) => db::auth::users::find(&state.pool, id).await?,
                None => None,
            };
            return Err(refuse(&state, &client, user.as_ref(), refusal.reason()).await);
        }
    };
    let user = db::auth::users::find(&state.pool, verified.passkey.user_id)
        .await?
        .ok_or(ApiError::InvalidPasskey)?;
    credentials::count_account_guess(&state, &format!("mfa:{}", user.id)).await?;
    // No lock check: the password lock does not apply to a passkey (see the module's doc).
    if !user.is_active {
        let details = json!({ "reason": "account_disabled", "method": "passkey" });
        audit.refused(Some(user.id), "login", details).await;
        return Err(ApiError::AccountDisabled);
    }
    let mut tx = credentials::begin_on_account(&state, user.id).await?;
    if let Err(refusal) = assertion::record(&mut tx, &verified).await? {
        drop(tx);
        return Err(refuse(&state, &client, Some(&user), refusal.reason()).await);
    }
    let user = db::auth::users::record_passwordless_login(&mut *tx, user.id)
        .await?
        .ok_or(ApiError::InvalidPasskey)?;
    if !user.is_active {
        // Checked again on the locked row, after the proof: a deactivation that committed
        // since the account was read ended every session and must end this sign-in too, or
        // reactivation would bring back a session made meanwhile (one that commits later
        // waits for the row, then ends the session made here).
        drop(tx);
        let audit = Audit::new(&state.pool, &client);
        let disabled = ApiError::AccountDisabled;
        return Err(audit
            .refuse(Some(user.id), "login", "account_disabled", disabled)
            .await);
    }
    let details = json!({ "method": "passkey", "passkey_id": verified.passkey.id });
    let signed_in =
        sessions::sign_in(tx, &state, user, &client, &["login"], details, Aal::Aal2).await?;
    Ok(axum::Json(signed_in))
}

/// Audits a refused assertion and, when its account is known, counts it like a wrong
/// password (which may lock the account).
async fn refuse(
    state: &AppState,
    client: &ClientInfo,
    user: Option<&db::auth::User>,
    reason: &str,
) -> ApiError {
    let Some(user) = user else {
        let details = json!({ "reason": reason, "method": "passkey" });
        Audit::new(&state.pool, client)
            .refused(None, "login", details)
            .await;
        return ApiError::InvalidPasskey;
    };
    match credentials::wrong_code(state, user, client, "login", reason, Budget::Account).await {
        ApiError::InvalidCode => ApiError::InvalidPasskey,
        other => other,
    }
}
