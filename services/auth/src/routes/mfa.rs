//! The second factor: `mfa/totp/enroll`, `mfa/totp/confirm`, `DELETE mfa/totp`,
//! `mfa/recovery-codes`, and `login/mfa`, which finishes a login that needs a code.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{delete, post},
};
use chrono::Utc;
use db::auth::User;
use platform::{client::ClientInfo, extract::Json, openapi::ApiErrorBody};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::OpenApi;

use crate::{
    audit::Audit,
    credentials,
    device::Budget,
    enrolment::{self, EnrolmentProof},
    error::ApiError,
    mfa::{
        self, Notice,
        login::MfaChallenge,
        proof::{Proof, ProofAttempt},
        totp,
    },
    passkeys::assertion::PasskeyAssertion,
    sessions::{CurrentSession, SignedIn},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/mfa/totp/enroll", post(enroll))
        .route("/api/auth/mfa/totp/confirm", post(confirm))
        .route("/api/auth/mfa/totp", delete(disable))
        .route("/api/auth/mfa/recovery-codes", post(regenerate))
        .route("/api/auth/login/mfa", post(login_mfa))
}

#[derive(OpenApi)]
#[openapi(
    paths(enroll, confirm, disable, regenerate, login_mfa),
    components(schemas(MfaChallenge)),
    tags((name = "mfa", description = "Two-factor sign-in: TOTP and recovery codes"))
)]
pub struct ApiDoc;

/// What an authenticator app needs; the factor is pending until confirmed with a code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TotpEnrollment {
    /// The shared secret, base32 (for typing it in by hand).
    pub secret: String,
    /// `otpauth://totp/...`: what the QR code encodes.
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The 6 digits the authenticator app shows now (spaces allowed).
    #[schema(example = "123456", pattern = "^\\s*(?:[0-9]\\s*){6}$")]
    code: String,
}

/// Shown once: only their hashes are kept.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes, `xxxx-xxxx-xxxx-xxxx`.
    pub recovery_codes: Vec<String>,
}

/// The caller's account, once this guess (`action` names its rate-limit bucket) has been
/// counted: every route here that checks a code or a password is a guess.
async fn guessing_user(
    state: &AppState,
    client: &ClientInfo,
    session: &CurrentSession,
    action: &str,
) -> Result<User, ApiError> {
    let account = format!("{action}:{}", session.user_id);
    credentials::count_guess(state, client, &account).await?;
    session.user(&state.pool).await
}

fn not_enrolled() -> ApiError {
    ApiError::Conflict {
        code: "mfa_not_enrolled",
        message: "no authenticator is waiting for confirmation: start with POST /api/auth/mfa/totp/enroll",
    }
}

/// Starts (or restarts) enrollment: a new secret replaces any pending one. Needs proof beyond
/// the token (`crate::enrolment`): the current password; or, when the account has a second
/// factor (a passkey), an `aal2` token; or, for an account linked to GitHub, a session that
/// signed in within the last 10 minutes. The password is a guess like a login's.
#[utoipa::path(post, path = "/api/auth/mfa/totp/enroll", tag = "mfa", security(("bearer" = [])), request_body = EnrolmentProof, responses((status = 200, description = "pending until confirmed", body = TotpEnrollment), (status = 401, description = "invalid_credentials (wrong password, or the account is locked), or missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "step_up_required: the account has a second factor, so an aal2 token is the proof (POST /api/auth/step-up)", body = ApiErrorBody), (status = 409, description = "mfa_already_enabled", body = ApiErrorBody), (status = 422, description = "proof_required: send password (or, for an account linked to GitHub, sign in again and retry within 10 minutes)", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody), (status = 503, description = "busy: every password-hashing slot is taken; see Retry-After", body = ApiErrorBody)))]
pub async fn enroll(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Json(proof): Json<EnrolmentProof>,
) -> Result<axum::Json<TotpEnrollment>, ApiError> {
    let user = session.user(&state.pool).await?;
    // Nothing to prove for what cannot happen.
    if db::auth::mfa::status(&state.pool, user.id).await?.totp {
        return Err(mfa::already_enabled());
    }
    let action = "mfa_totp_enrollment_started";
    enrolment::require(&state, &client, &session, &user, proof, action).await?;
    let secret = totp::new_secret();
    let sealed = state
        .mfa_cipher
        .seal(user.id, &secret)
        .map_err(ApiError::Internal)?;
    if !db::auth::mfa::save_pending_totp(&state.pool, user.id, &sealed).await? {
        return Err(mfa::already_enabled());
    }
    let enrollment =
        totp::enrollment(&secret, &user.email, &user.username).map_err(ApiError::Internal)?;
    Audit::new(&state.pool, &client)
        .done(Some(user.id), "mfa_totp_enrollment_started", json!({}))
        .await;
    Ok(axum::Json(TotpEnrollment {
        secret: enrollment.secret,
        otpauth_uri: enrollment.otpauth_uri,
        qr_svg: enrollment.qr_svg,
    }))
}

/// Turns the pending factor on with a first code and answers with the recovery codes, once.
/// From now on this account's sensitive actions need an `aal2` token: this session gets one
/// at its next refresh, or at once from `POST /api/auth/step-up` with the next code.
#[utoipa::path(post, path = "/api/auth/mfa/totp/confirm", tag = "mfa", security(("bearer" = [])), request_body = CodeRequest, responses((status = 200, description = "two-factor sign-in is on; the owner is mailed", body = RecoveryCodes), (status = 401, description = "invalid_code, or missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 409, description = "mfa_not_enrolled or mfa_already_enabled", body = ApiErrorBody), (status = 422, description = "invalid_code_format", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn confirm(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Json(request): Json<CodeRequest>,
) -> Result<axum::Json<RecoveryCodes>, ApiError> {
    let code = mfa::parse_code(&request.code)?;
    let user = guessing_user(&state, &client, &session, "mfa_confirm").await?;
    let factor = db::auth::mfa::find_totp(&state.pool, user.id)
        .await?
        .ok_or_else(not_enrolled)?;
    if factor.confirmed_at.is_some() {
        return Err(mfa::already_enabled());
    }
    let secret = state
        .mfa_cipher
        .open(user.id, &factor.secret_ciphertext)
        .map_err(ApiError::Internal)?;
    let audit = Audit::new(&state.pool, &client);
    // A pending factor guards nothing yet, so a wrong code here is rate-limited but does not
    // count toward the lockout.
    let Some(step) =
        totp::matching_step(&secret, &code, totp::now()).map_err(ApiError::Internal)?
    else {
        let wrong = ApiError::InvalidCode;
        return Err(audit
            .refuse(Some(user.id), "mfa_totp_enabled", "wrong_code", wrong)
            .await);
    };
    let mut tx = credentials::begin_on_account(&state, user.id).await?;
    if !db::auth::mfa::confirm_totp(&mut *tx, user.id, &factor.secret_ciphertext, step).await? {
        // Enrolled again (or confirmed) meanwhile: this code was for a secret that is gone.
        return Err(not_enrolled());
    }
    // The first code proved the factor in this session: its next refresh carries `aal2`
    // (the token in hand stays `aal1`, and sensitive actions now ask for `aal2`).
    db::auth::sessions::record_second_factor(&mut *tx, user.id, session.session_id).await?;
    let (action, notice) = ("mfa_totp_enabled", Notice::Enabled);
    hand_out_recovery_codes(&state, tx, &audit, &user, action, notice).await
}

/// Ends a change that hands out new recovery codes (every older one stops working): the
/// codes, the owner's `notice` and the audit row of `action` are written in `tx`, which
/// commits; the mail worker is woken; the codes are the answer, shown this once.
async fn hand_out_recovery_codes(
    state: &AppState,
    mut tx: db::Transaction<'static, db::Postgres>,
    audit: &Audit<'_>,
    user: &User,
    action: &str,
    notice: Notice,
) -> Result<axum::Json<RecoveryCodes>, ApiError> {
    let recovery_codes = mfa::new_recovery_codes(&mut tx, user.id).await?;
    mfa::queue_notice(&mut tx, user, notice).await?;
    let details = json!({ "recovery_codes": recovery_codes.len() });
    let event = audit.event(Some(user.id), action, true, details);
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(axum::Json(RecoveryCodes { recovery_codes }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    /// A current code from the authenticator app; or send `password`.
    #[schema(pattern = "^\\s*(?:[0-9]\\s*){6}$")]
    code: Option<String>,
    /// The account's password; or send `code`.
    password: Option<String>,
}

/// Turns the factor off and deletes the recovery codes; needs a current code, or the password
/// from an `aal2` token (step up first), each a guess that counts toward the lockout like a
/// login's.
#[utoipa::path(delete, path = "/api/auth/mfa/totp", tag = "mfa", security(("bearer" = [])), request_body = DisableRequest, responses((status = 204, description = "two-factor sign-in is off; the owner is mailed"), (status = 401, description = "invalid_code or invalid_credentials (wrong password), or missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "step_up_required: the password proof needs an aal2 token (POST /api/auth/step-up first), or send a code", body = ApiErrorBody), (status = 409, description = "mfa_not_enabled", body = ApiErrorBody), (status = 422, description = "invalid_code_format, or proof_required (send exactly one of code and password)", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody), (status = 503, description = "busy: every password-hashing slot is taken; see Retry-After", body = ApiErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Json(request): Json<DisableRequest>,
) -> Result<StatusCode, ApiError> {
    let code = match (&request.code, &request.password) {
        (Some(code), None) => Some(Proof::Totp(mfa::parse_code(code)?)),
        // A fresh code is itself a second-factor proof; the password is not, so it needs a
        // session that proved the factor recently (a stolen aal1 token plus the password
        // must not be enough to strip the factor).
        (None, Some(_)) => {
            session.require_aal2()?;
            None
        }
        _ => {
            return Err(ApiError::validation(
                "proof_required",
                "send exactly one of code (from your authenticator app) and password",
            ));
        }
    };
    let user = guessing_user(&state, &client, &session, "mfa_disable").await?;
    let factor = db::auth::mfa::find_totp(&state.pool, user.id).await?;
    if factor.is_none_or(|factor| factor.confirmed_at.is_none()) {
        return Err(mfa::not_enabled());
    }
    let audit = Audit::new(&state.pool, &client);
    if let Some(password) = request.password {
        let action = "mfa_totp_disabled";
        credentials::check_current_password(&state, &client, &user, password, action).await?;
    } else if user.locked_at(Utc::now()).is_some() {
        return Err(ApiError::InvalidCode);
    }
    let mut tx = credentials::begin_on_account(&state, user.id).await?;
    if let Some(code) = &code {
        let attempt = ProofAttempt {
            state: &state,
            client: &client,
            user: &user,
            proof: code,
            action: "mfa_totp_disabled",
            budget: Budget::Account,
        };
        tx = attempt.spend(tx).await?;
    }
    if !db::auth::mfa::remove(&mut tx, user.id).await? {
        return Err(mfa::not_enabled());
    }
    mfa::queue_notice(&mut tx, &user, Notice::Disabled).await?;
    let method = code.as_ref().map_or("password", Proof::method);
    let event = audit.event(
        Some(user.id),
        "mfa_totp_disabled",
        true,
        json!({ "proof": method }),
    );
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

/// Ten new recovery codes for a current TOTP code; every older code stops working.
#[utoipa::path(post, path = "/api/auth/mfa/recovery-codes", tag = "mfa", security(("bearer" = [])), request_body = CodeRequest, responses((status = 200, description = "the new codes, shown once; the owner is mailed", body = RecoveryCodes), (status = 401, description = "invalid_code, or missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 409, description = "mfa_not_enabled", body = ApiErrorBody), (status = 422, description = "invalid_code_format", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn regenerate(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Json(request): Json<CodeRequest>,
) -> Result<axum::Json<RecoveryCodes>, ApiError> {
    let code = Proof::Totp(mfa::parse_code(&request.code)?);
    let user = guessing_user(&state, &client, &session, "mfa_recovery").await?;
    if user.locked_at(Utc::now()).is_some() {
        return Err(ApiError::InvalidCode);
    }
    let action = "mfa_recovery_codes_regenerated";
    let attempt = ProofAttempt {
        state: &state,
        client: &client,
        user: &user,
        proof: &code,
        action,
        budget: Budget::Account,
    };
    let tx = attempt
        .spend(credentials::begin_on_account(&state, user.id).await?)
        .await?;
    let audit = Audit::new(&state.pool, &client);
    let notice = Notice::RecoveryCodesRegenerated;
    hand_out_recovery_codes(&state, tx, &audit, &user, action, notice).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginMfaRequest {
    /// From the login answer that said `mfa_required`.
    mfa_token: String,
    /// A current code from the authenticator app; or send `recovery_code`.
    #[schema(pattern = "^\\s*(?:[0-9]\\s*){6}$")]
    code: Option<String>,
    /// One of the recovery codes (each works once; case, spaces and dashes do not matter);
    /// or send `code`.
    #[schema(pattern = "^[\\s-]*(?:[a-kmnp-zA-KMNP-Z2-9][\\s-]*){16}$")]
    recovery_code: Option<String>,
    /// A passkey's answer to the ceremony of `POST /api/auth/login/mfa/passkey`; or send
    /// `code` or `recovery_code`.
    passkey: Option<PasskeyAssertion>,
    /// The `device_token` of an earlier sign-in on this device, as sent to `POST
    /// /api/auth/login`: while it is valid for the account, the account's lock does not
    /// refuse this code and a wrong one counts against this device alone.
    device_token: Option<String>,
}

/// Finishes a login that needs a second factor. A wrong code counts toward the account's
/// lockout like a wrong password and leaves the `mfa_token` usable until it expires.
#[utoipa::path(post, path = "/api/auth/login/mfa", tag = "mfa", request_body = LoginMfaRequest, responses((status = 200, description = "signed in (with a new `device_token`)", body = SignedIn), (status = 400, description = "invalid_passkey_ceremony (unknown, used, expired or another login's: start again)", body = ApiErrorBody), (status = 401, description = "invalid_mfa_token (unknown, used or expired: log in again), invalid_code (wrong or already used code, or the account is locked and `device_token` is not valid for it, or the device's own budget of wrong guesses is spent), or invalid_passkey (refused assertion, or the account is locked)", body = ApiErrorBody), (status = 403, description = "account_disabled", body = ApiErrorBody), (status = 422, description = "invalid_code_format, invalid_recovery_code_format, or proof_required (send exactly one of code, recovery_code and passkey)", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn login_mfa(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<LoginMfaRequest>,
) -> Result<axum::Json<SignedIn>, ApiError> {
    let proof = Proof::from_request(
        request.code.as_deref(),
        request.recovery_code.as_deref(),
        request.passkey,
    )?;
    let device_token = request.device_token.as_deref();
    let signed_in =
        mfa::login::complete(&state, &client, &request.mfa_token, proof, device_token).await?;
    Ok(axum::Json(signed_in))
}
