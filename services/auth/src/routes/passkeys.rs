//! A user's passkeys: `passkeys/register/start` and `/finish`, `GET passkeys`,
//! `PATCH passkeys/{id}` (rename), `DELETE passkeys/{id}`.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, patch, post},
};
use chrono::{DateTime, Utc};
use db::auth::passkeys::{CeremonyKind, NewPasskey, StoredPasskey};
use platform::{
    client::ClientInfo,
    extract::{Json, Path},
    openapi::ApiErrorBody,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{
    OpenApi,
    openapi::{Object, ObjectBuilder, schema::Type},
};
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PasskeyRegistration, RegisterPublicKeyCredential,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::{
    audit::Audit,
    credentials,
    enrolment::{self, EnrolmentProof},
    error::ApiError,
    passkeys::{self, CEREMONY_TTL_SECS, Notice},
    rate_limit::Rule,
    sessions::CurrentSession,
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/passkeys/register/start", post(register_start))
        .route("/api/auth/passkeys/register/finish", post(register_finish))
        .route("/api/auth/passkeys", get(list))
        .route("/api/auth/passkeys/{id}", patch(rename).delete(remove))
}

#[derive(OpenApi)]
#[openapi(
    paths(register_start, register_finish, list, rename, remove),
    tags((name = "passkeys", description = "Passkeys (WebAuthn): register, list, rename, remove; passwordless login"))
)]
pub struct ApiDoc;

/// Ceremonies one user may start per minute (each is a row until finished or expired).
const STARTS_PER_MINUTE: u32 = 20;

/// A passkey as its owner sees it (never the key itself).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyView {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// The last sign-in or second-factor proof made with it.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<StoredPasskey> for PasskeyView {
    fn from(stored: StoredPasskey) -> Self {
        Self {
            id: stored.id,
            name: stored.name,
            created_at: stored.created_at,
            last_used_at: stored.last_used_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyView>,
}

/// What the browser needs for `navigator.credentials.create()`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegistrationStarted {
    /// Send it back to `register/finish`; works once, for `expires_in` seconds.
    pub ceremony_id: Uuid,
    /// `{publicKey: PublicKeyCredentialCreationOptions}` (binary fields base64url).
    #[schema(value_type = Object)]
    pub options: CreationChallengeResponse,
    pub expires_in: u64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationFinish {
    pub ceremony_id: Uuid,
    #[schema(schema_with = name_schema)]
    pub name: String,
    /// The `PublicKeyCredential` that `navigator.credentials.create()` returned, as JSON.
    #[schema(value_type = Object)]
    pub credential: RegisterPublicKeyCredential,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    #[schema(schema_with = name_schema)]
    pub name: String,
}

/// A passkey's name in a request: the limits `passkeys::parse_name` enforces.
fn name_schema() -> Object {
    let rule = format!(
        "What the owner calls it: 1 to {} characters (blanks around it count, and are dropped), \
         not only blanks, without control characters or bidirectional overrides \
         (U+202A-U+202E, U+2066-U+2069).",
        passkeys::NAME_MAX_CHARS
    );
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(rule))
        .min_length(Some(1))
        .max_length(Some(passkeys::NAME_MAX_CHARS))
        .pattern(Some(passkeys::NAME_PATTERN))
        .examples(["MacBook Touch ID"])
        .build()
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such passkey")
}

/// Starts registering a passkey for the caller. A passkey signs in by itself, and outlives a
/// password reset, so a stolen token must not add one: the caller proves more
/// (`crate::enrolment`): the current password; or, when the account already has a second
/// factor, an `aal2` token; or, for an account linked to GitHub, a session that signed in
/// within the last 10 minutes. The password is a guess like a login's.
#[utoipa::path(post, path = "/api/auth/passkeys/register/start", tag = "passkeys", security(("bearer" = [])), request_body = EnrolmentProof, responses((status = 200, description = "options for navigator.credentials.create()", body = RegistrationStarted), (status = 401, description = "invalid_credentials (wrong password, or the account is locked), or missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "step_up_required: the account has a second factor, so an aal2 token is the proof (POST /api/auth/step-up)", body = ApiErrorBody), (status = 422, description = "proof_required: send password (or, for an account linked to GitHub, sign in again and retry within 10 minutes)", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody), (status = 503, description = "busy: every password-hashing slot is taken; see Retry-After", body = ApiErrorBody)))]
pub async fn register_start(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Json(proof): Json<EnrolmentProof>,
) -> Result<axum::Json<RegistrationStarted>, ApiError> {
    let user = session.user(&state.pool).await?;
    enrolment::require(&state, &client, &session, &user, proof, "passkey_added").await?;
    let rule = Rule::per_minute("passkey_start", STARTS_PER_MINUTE);
    state
        .limiter
        .check(rule, &format!("user:{}", session.user_id))
        .await?;
    let existing = db::auth::passkeys::list(&state.pool, user.id).await?;
    let exclude = existing
        .iter()
        .map(|stored| stored.credential_id.clone().into())
        .collect::<Vec<_>>();
    // The user handle is the account id: a discoverable credential names its account with it.
    let (mut options, registration) = state
        .webauthn
        .start_passkey_registration(user.id.0, &user.email, &user.full_name, Some(exclude))
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    // Ask for a discoverable credential, so that it can sign in without a username.
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Preferred);
    }
    let mut conn = state.pool.acquire().await?;
    let ceremony_id = passkeys::save_ceremony(
        &mut conn,
        Some(user.id),
        CeremonyKind::Registration,
        &registration,
    )
    .await?;
    Ok(axum::Json(RegistrationStarted {
        ceremony_id,
        options,
        expires_in: CEREMONY_TTL_SECS,
    }))
}

/// Finishes the registration: checks the authenticator's answer against the ceremony (origin,
/// challenge, relying party, user verification) and stores the passkey. Its user verification
/// proves a second factor in this session, as a first TOTP code does.
#[utoipa::path(post, path = "/api/auth/passkeys/register/finish", tag = "passkeys", security(("bearer" = [])), request_body = RegistrationFinish, responses((status = 201, description = "the passkey is registered; the owner is mailed", body = PasskeyView), (status = 400, description = "invalid_passkey_ceremony (unknown, used, expired or another user's: start again)", body = ApiErrorBody), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "step_up_required", body = ApiErrorBody), (status = 409, description = "passkey_already_registered", body = ApiErrorBody), (status = 422, description = "invalid_passkey_name, or passkey_registration_failed (wrong origin or challenge, no user verification, malformed credential)", body = ApiErrorBody)))]
pub async fn register_finish(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Json(request): Json<RegistrationFinish>,
) -> Result<(StatusCode, axum::Json<PasskeyView>), ApiError> {
    session.require_aal2()?;
    let name = passkeys::parse_name(&request.name)?;
    let user = session.user(&state.pool).await?;
    let registration: PasskeyRegistration = passkeys::take_ceremony(
        &state.pool,
        request.ceremony_id,
        Some(user.id),
        CeremonyKind::Registration,
    )
    .await?;
    let audit = Audit::new(&state.pool, &client);
    // WebAuthn credential ids are 16 to 1023 bytes; anything else is a forged answer.
    let fits =
        |passkey: &webauthn_rs::prelude::Passkey| (16..=1023).contains(&passkey.cred_id().len());
    let passkey = match state
        .webauthn
        .finish_passkey_registration(&request.credential, &registration)
        .map_err(|error| error.to_string())
        .and_then(|passkey| match fits(&passkey) {
            true => Ok(passkey),
            false => Err("credential id outside 16..=1023 bytes".to_owned()),
        }) {
        Ok(passkey) => passkey,
        Err(error) => {
            let details = json!({ "reason": "registration_rejected", "error": error });
            audit.refused(Some(user.id), "passkey_added", details).await;
            return Err(ApiError::validation(
                "passkey_registration_failed",
                "the authenticator's answer was not accepted (wrong origin or challenge, or no \
                 user verification): start again",
            ));
        }
    };
    let serialized =
        serde_json::to_value(&passkey).map_err(|error| ApiError::Internal(error.to_string()))?;
    let mut tx = credentials::begin_on_account(&state, user.id).await?;
    let new = NewPasskey {
        user_id: user.id,
        credential_id: passkey.cred_id().as_ref(),
        passkey: &serialized,
        name: &name,
        sign_count: 0,
    };
    let stored = db::auth::passkeys::insert(&mut *tx, &new)
        .await?
        .ok_or(ApiError::Conflict {
            code: "passkey_already_registered",
            message: "this passkey is already registered",
        })?;
    db::auth::sessions::record_second_factor(&mut *tx, user.id, session.session_id).await?;
    passkeys::queue_notice(&mut tx, &user, Notice::Added(&stored.name)).await?;
    let details = json!({ "passkey_id": stored.id, "name": stored.name });
    let event = audit.event(Some(user.id), "passkey_added", true, details);
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok((StatusCode::CREATED, axum::Json(stored.into())))
}

/// The caller's passkeys, oldest first.
#[utoipa::path(get, path = "/api/auth/passkeys", tag = "passkeys", security(("bearer" = [])), responses((status = 200, description = "the caller's passkeys", body = PasskeyList), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    session: CurrentSession,
) -> Result<axum::Json<PasskeyList>, ApiError> {
    let stored = db::auth::passkeys::list(&state.pool, session.user_id).await?;
    Ok(axum::Json(PasskeyList {
        passkeys: stored.into_iter().map(PasskeyView::from).collect(),
    }))
}

/// Renames one of the caller's passkeys.
#[utoipa::path(patch, path = "/api/auth/passkeys/{id}", tag = "passkeys", security(("bearer" = [])), params(("id" = Uuid, Path, description = "the passkey")), request_body = RenameRequest, responses((status = 200, description = "renamed", body = PasskeyView), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 404, description = "not_found: the caller has no such passkey", body = ApiErrorBody), (status = 422, description = "invalid_passkey_name", body = ApiErrorBody)))]
pub async fn rename(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Path(id): Path<Uuid>,
    Json(request): Json<RenameRequest>,
) -> Result<axum::Json<PasskeyView>, ApiError> {
    let name = passkeys::parse_name(&request.name)?;
    let stored = db::auth::passkeys::rename(&state.pool, session.user_id, id, &name)
        .await?
        .ok_or_else(not_found)?;
    let details = json!({ "passkey_id": id, "name": stored.name });
    Audit::new(&state.pool, &client)
        .done(Some(session.user_id), "passkey_renamed", details)
        .await;
    Ok(axum::Json(stored.into()))
}

/// Removes one of the caller's passkeys; needs an `aal2` token (step up first). As when the
/// TOTP factor is removed, every session's second-factor proof is forgotten (one may have
/// been made with this passkey) and pending login challenges are voided.
#[utoipa::path(delete, path = "/api/auth/passkeys/{id}", tag = "passkeys", security(("bearer" = [])), params(("id" = Uuid, Path, description = "the passkey")), responses((status = 204, description = "removed; the owner is mailed"), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "step_up_required", body = ApiErrorBody), (status = 404, description = "not_found: the caller has no such passkey", body = ApiErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    session.require_aal2()?;
    let user = session.user(&state.pool).await?;
    let mut tx = credentials::begin_on_account(&state, user.id).await?;
    let name = db::auth::passkeys::delete(&mut *tx, user.id, id)
        .await?
        .ok_or_else(not_found)?;
    db::auth::sessions::forget_second_factor(&mut *tx, user.id).await?;
    db::auth::one_time_tokens::void_outstanding(
        &mut *tx,
        user.id,
        db::auth::one_time_tokens::Purpose::MfaLogin,
    )
    .await?;
    passkeys::queue_notice(&mut tx, &user, Notice::Removed(&name)).await?;
    let details = json!({ "passkey_id": id, "name": name });
    let event =
        Audit::new(&state.pool, &client).event(Some(user.id), "passkey_removed", true, details);
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(StatusCode::NO_CONTENT)
}
