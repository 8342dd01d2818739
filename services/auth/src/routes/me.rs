//! The signed-in user's own account: `GET/PATCH me` (with its second-factor status), `POST me/password`, `me/sessions`.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{delete, get, post},
};
use chrono::{DateTime, Utc};
use db::{
    auth::{ProfileChanges, SessionSummary},
    ids::SessionId,
};
use platform::{
    client::ClientInfo,
    extract::{Json, Path},
    openapi::ApiErrorBody,
    pagination::Page,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{
    OpenApi,
    openapi::{Object, ObjectBuilder, Type, schema::SchemaType},
};
use uuid::Uuid;

use crate::{
    audit::Audit,
    credentials,
    error::ApiError,
    sessions::{CurrentSession, UserView},
    state::AppState,
    validate::{self, AVATAR_URL_MAX_CHARS, FULL_NAME_MAX_CHARS},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/me", get(show).patch(update))
        .route("/api/auth/me/password", post(change_password))
        .route("/api/auth/me/sessions", get(sessions))
        .route("/api/auth/me/sessions/{id}", delete(end_session))
}

#[derive(OpenApi)]
#[openapi(
    paths(show, update, change_password, sessions, end_session),
    tags((name = "me", description = "The signed-in user's account"))
)]
pub struct ApiDoc;

/// The account as its owner sees it: [`UserView`] plus its second factor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeView {
    #[serde(flatten)]
    #[schema(inline)]
    pub user: UserView,
    pub mfa: MfaView,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MfaView {
    /// A confirmed TOTP authenticator is required at login.
    pub totp: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// Registered passkeys (`GET /api/auth/passkeys` lists them); each is a second factor.
    pub passkeys: i64,
}

pub(super) async fn me_view(state: &AppState, user: db::auth::User) -> Result<MeView, ApiError> {
    let status = db::auth::mfa::status(&state.pool, user.id).await?;
    Ok(MeView {
        user: user.into(),
        mfa: MfaView {
            totp: status.totp,
            recovery_codes_left: status.recovery_codes_left,
            passkeys: status.passkeys,
        },
    })
}

#[utoipa::path(get, path = "/api/auth/me", tag = "me", security(("bearer" = [])), responses((status = 200, body = MeView), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    session: CurrentSession,
) -> Result<axum::Json<MeView>, ApiError> {
    let user = session.user(&state.pool).await?;
    Ok(axum::Json(me_view(&state, user).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    #[schema(schema_with = username_schema)]
    username: Option<String>,
    #[schema(schema_with = full_name_schema)]
    full_name: Option<String>,
    #[serde(default, deserialize_with = "platform::extract::present")]
    #[schema(schema_with = avatar_url_schema)]
    avatar_url: Option<Option<String>>,
}

/// `username` as [`validate::username`] reads it; `null` and absent leave it unchanged.
fn username_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(nullable_string())
        .description(Some(
            "Not a reserved name such as `admin` (422 `username_reserved`), unless it is \
             already the account's.",
        ))
        .pattern(Some(validate::USERNAME_PATTERN))
        .build()
}

/// `full_name` as [`validate::full_name`] reads it; `null` and absent leave it unchanged.
fn full_name_schema() -> Object {
    platform::openapi::non_blank_text(Some(FULL_NAME_MAX_CHARS))
        .schema_type(nullable_string())
        .pattern(Some(validate::FULL_NAME_PATTERN))
        .build()
}

/// `avatar_url` as [`validate::avatar_url`] reads it.
fn avatar_url_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(nullable_string())
        .description(Some(
            "Absent: unchanged; `null`: removed; an http(s) URL: replaced.",
        ))
        .max_length(Some(AVATAR_URL_MAX_CHARS))
        .pattern(Some(validate::AVATAR_URL_PATTERN))
        .build()
}

fn nullable_string() -> SchemaType {
    SchemaType::from_iter([Type::String, Type::Null])
}

#[utoipa::path(patch, path = "/api/auth/me", tag = "me", security(("bearer" = [])), request_body = ProfileUpdate, responses((status = 200, body = MeView), (status = 409, description = "username_taken", body = ApiErrorBody), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 422, description = "invalid input, or username_reserved (a name on the reserved list, unless it is already the account's)", body = ApiErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Json(update): Json<ProfileUpdate>,
) -> Result<axum::Json<MeView>, ApiError> {
    let username = update
        .username
        .as_deref()
        .map(validate::username)
        .transpose()?;
    // A reserved name stays with an account that had it before the list (no migration), so
    // only that account may send it back (a profile form resends every field).
    if let Some(name) = &username
        && validate::is_reserved_username(name)
        && !session
            .user(&state.pool)
            .await?
            .username
            .eq_ignore_ascii_case(name)
    {
        return Err(validate::username_reserved());
    }
    let full_name = update
        .full_name
        .as_deref()
        .map(validate::full_name)
        .transpose()?;
    let avatar_url = match &update.avatar_url {
        Some(Some(url)) => Some(Some(validate::avatar_url(url)?)),
        Some(None) => Some(None),
        None => None,
    };
    let changes = ProfileChanges {
        username: username.as_deref(),
        full_name: full_name.as_deref(),
        avatar_url: avatar_url.as_ref().map(Option::as_deref),
    };
    let user = db::auth::users::update_profile(&state.pool, session.user_id, &changes).await?;
    let fields: Vec<&str> = [
        ("username", username.is_some()),
        ("full_name", full_name.is_some()),
        ("avatar_url", avatar_url.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect();
    let details = json!({ "fields": fields });
    Audit::new(&state.pool, &client)
        .done(Some(user.id), "profile_updated", details)
        .await;
    Ok(axum::Json(me_view(&state, user).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    /// 8-128 characters.
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
}

/// Changes the password, ends every other session and voids outstanding reset links and
/// pending second-factor logins: whoever knew the old password, or holds a link mailed
/// before, is out. A user with a second factor needs an `aal2` token. The current password is
/// a password guess like a login's: rate-limited the same way, and a wrong one counts toward
/// the account's lockout (a stolen access token must not become an unlimited guessing oracle).
#[utoipa::path(post, path = "/api/auth/me/password", tag = "me", security(("bearer" = [])), request_body = PasswordChange, responses((status = 204, description = "changed; every other session ended"), (status = 401, description = "missing, invalid or expired token, ended session, or invalid_credentials (wrong current password, or one a reset or another change replaced while this request was checked)", body = ApiErrorBody), (status = 403, description = "step_up_required: a user with a second factor needs an aal2 token (POST /api/auth/step-up)", body = ApiErrorBody), (status = 422, description = "invalid input", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody), (status = 503, description = "busy: every password-hashing slot is taken; see Retry-After", body = ApiErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Json(change): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    session.require_aal2()?;
    let account = format!("password_change:{}", session.user_id);
    credentials::count_guess(&state, &client, &account).await?;
    validate::password(&change.new_password)?;
    let user = session.user(&state.pool).await?;
    let action = "password_changed";
    credentials::check_current_password(&state, &client, &user, change.current_password, action)
        .await?;
    let new_hash = state.passwords.hash(change.new_password).await?;
    let mut tx = state.pool.begin().await?;
    let current = &user.password_hash;
    if !db::auth::users::change_password_hash(&mut *tx, user.id, current, &new_hash).await? {
        // A reset or another change replaced the hash the password was checked against: that
        // password is no longer the account's, and the reset (which ended this session) wins.
        // Not counted as a wrong guess.
        drop(tx);
        let audit = Audit::new(&state.pool, &client);
        let refused = ApiError::InvalidCredentials;
        return Err(audit
            .refuse(Some(user.id), action, "password_changed_meanwhile", refused)
            .await);
    }
    let keep = Some(session.session_id);
    let ended = credentials::void_old_password(&mut tx, user.id, "password_changed", keep).await?;
    tx.commit().await?;
    let details = json!({ "other_sessions_ended": ended });
    Audit::new(&state.pool, &client)
        .done(Some(user.id), "password_changed", details)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    #[schema(value_type = uuid::Uuid)]
    pub id: SessionId,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    /// The session the request itself was made in.
    pub current: bool,
}

impl SessionView {
    fn new(session: SessionSummary, current: SessionId) -> Self {
        Self {
            current: session.id == current,
            id: session.id,
            ip: session.ip,
            user_agent: session.user_agent,
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
        }
    }
}

#[utoipa::path(get, path = "/api/auth/me/sessions", tag = "me", security(("bearer" = [])), responses((status = 200, description = "every live session, as one page", body = Page<SessionView>), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody)))]
pub async fn sessions(
    State(state): State<AppState>,
    session: CurrentSession,
) -> Result<axum::Json<Page<SessionView>>, ApiError> {
    let sessions = db::auth::sessions::list_active(&state.pool, session.user_id).await?;
    let views = sessions
        .into_iter()
        .map(|s| SessionView::new(s, session.session_id));
    Ok(axum::Json(Page::whole(views)))
}

#[utoipa::path(delete, path = "/api/auth/me/sessions/{id}", tag = "me", security(("bearer" = [])), params(("id" = uuid::Uuid, Path, description = "session id")), responses((status = 204, description = "ended"), (status = 404, description = "no live session of yours with this id", body = ApiErrorBody), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody)))]
pub async fn end_session(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let target = SessionId(id);
    if !db::auth::sessions::revoke_owned(&state.pool, session.user_id, target, "revoked_by_user")
        .await?
    {
        return Err(ApiError::NotFound("no live session with this id"));
    }
    let details = json!({ "session_id": target });
    Audit::new(&state.pool, &client)
        .done(Some(session.user_id), "session_revoked", details)
        .await;
    Ok(StatusCode::NO_CONTENT)
}
