//! `POST step-up`: a fresh second factor lifts the caller's session to `aal2`, which the
//! sensitive actions of every service ask for (`authn::AuthUser::require_aal2`).

use authn::Aal;
use axum::{Router, extract::State, routing::post};
use chrono::Utc;
use platform::{client::ClientInfo, extract::Json, openapi::ApiErrorBody};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::OpenApi;

use crate::{
    audit::Audit,
    credentials,
    device::Budget,
    error::ApiError,
    mfa::{
        self,
        proof::{Proof, ProofAttempt},
    },
    passkeys::assertion::PasskeyAssertion,
    sessions::{CurrentSession, UserView, role_of},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/auth/step-up", post(step_up))
}

/// Tagged `mfa`, which `routes/mfa.rs` describes.
#[derive(OpenApi)]
#[openapi(paths(step_up))]
pub struct ApiDoc;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    /// A current code from the authenticator app; or send `recovery_code`.
    #[schema(pattern = "^\\s*(?:[0-9]\\s*){6}$")]
    code: Option<String>,
    /// One of the recovery codes (each works once); or send `code`.
    #[schema(pattern = "^[\\s-]*(?:[a-kmnp-zA-KMNP-Z2-9][\\s-]*){16}$")]
    recovery_code: Option<String>,
    /// A passkey's answer to the ceremony of `POST /api/auth/step-up/passkey`; or send `code`
    /// or `recovery_code`.
    passkey: Option<PasskeyAssertion>,
}

/// The login answer's account and access-token fields, for the same session: the refresh
/// token in hand stays valid, and its refreshes keep `aal2` for `aal2_expires_in` seconds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SteppedUp {
    pub user: UserView,
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The same session as before.
    #[schema(value_type = uuid::Uuid)]
    pub session_id: db::ids::SessionId,
    /// Always `aal2`.
    #[schema(value_type = String, example = "aal2", pattern = "^aal2$")]
    pub aal: Aal,
    /// Seconds during which refreshed tokens of this session stay `aal2` (`AAL2_MAX_AGE_SECS`).
    pub aal2_expires_in: u64,
}

/// Exchanges a fresh second factor for an `aal2` access token of the same session. The code
/// is checked exactly as at `login/mfa`: once per step, counted against the same guess
/// budgets, and a wrong one counts toward the account's lockout.
#[utoipa::path(post, path = "/api/auth/step-up", tag = "mfa", security(("bearer" = [])), request_body = StepUpRequest, responses((status = 200, description = "an aal2 access token for this session", body = SteppedUp), (status = 400, description = "invalid_passkey_ceremony (unknown, used, expired or another user's: start again)", body = ApiErrorBody), (status = 401, description = "invalid_code (wrong or already used code, or the account is locked), invalid_passkey (refused assertion), or missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 409, description = "mfa_not_enabled: no second factor to step up with (such an account needs no step-up)", body = ApiErrorBody), (status = 422, description = "invalid_code_format, invalid_recovery_code_format, or proof_required (send exactly one of code, recovery_code and passkey)", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn step_up(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Json(request): Json<StepUpRequest>,
) -> Result<axum::Json<SteppedUp>, ApiError> {
    let proof = Proof::from_request(
        request.code.as_deref(),
        request.recovery_code.as_deref(),
        request.passkey,
    )?;
    credentials::count_client_guess(&state, &client).await?;
    let user = session.user(&state.pool).await?;
    // Not a guess: an account without a factor has nothing to prove (and needs no step-up).
    if !db::auth::mfa::status(&state.pool, user.id)
        .await?
        .has_second_factor()
    {
        return Err(mfa::not_enabled());
    }
    let attempt = ProofAttempt {
        state: &state,
        client: &client,
        user: &user,
        proof: &proof,
        action: "step_up",
        budget: Budget::Account,
    };
    attempt.admit().await?;
    let tx = credentials::begin_on_account(&state, user.id).await?;
    let mut tx = attempt.spend(tx).await?;
    let proved_at = db::auth::sessions::record_second_factor(&mut *tx, user.id, session.session_id)
        .await?
        .ok_or(ApiError::SessionRevoked)?;
    let access =
        state
            .issuer
            .issue_at(user.id.0, session.session_id.0, role_of(&user)?, Aal::Aal2)?;
    let details = json!({ "session_id": session.session_id, "method": proof.method() });
    let event = Audit::new(&state.pool, &client).event(Some(user.id), "step_up", true, details);
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    if proof.mails_the_owner() {
        state.mail_wakeup.notify_one();
    }
    Ok(axum::Json(SteppedUp {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in.as_secs(),
        session_id: session.session_id,
        aal: Aal::Aal2,
        aal2_expires_in: state.config.aal2_left_secs(proved_at, Utc::now()),
        user: user.into(),
    }))
}
