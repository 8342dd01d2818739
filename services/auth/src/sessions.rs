//! Sessions: signing in (a session row, a signed access token and an opaque refresh token
//! whose SHA-256 is all the database keeps), the answer that carries them, and
//! [`CurrentSession`], the check that a request comes from a live one.

use authn::{Aal, AuthUser, Role};
use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::{DateTime, Utc};
use db::{
    PgConnection, PgExecutor, Postgres, Transaction,
    auth::User,
    ids::{SessionId, UserId},
};
use platform::client::ClientInfo;
use serde::Serialize;
use serde_json::json;

use crate::{
    audit::Audit,
    error::ApiError,
    secrets::{digest, new_secret},
    state::AppState,
};

/// What login, register and refresh return.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
    /// Seconds until the refresh token expires unless used.
    pub refresh_expires_in: u64,
    #[schema(value_type = uuid::Uuid)]
    pub session_id: SessionId,
    /// The access token's assurance level: `aal2` after a second factor (at login or a
    /// step-up) for `AAL2_MAX_AGE_SECS` (12 h), across refreshes; `aal1` otherwise.
    #[schema(value_type = String, example = "aal2", pattern = "^aal[12]$")]
    pub aal: Aal,
}

// An account as the API shows it to its owner (and, inside `AdminUserView`, to admins):
// never its password hash or lockout state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    #[schema(value_type = uuid::Uuid)]
    pub id: UserId,
    pub email: String,
    pub username: String,
    pub full_name: String,
    pub role: String,
    pub is_active: bool,
    pub is_verified: bool,
    pub avatar_url: Option<String>,
    pub github_linked: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            username: user.username,
            full_name: user.full_name,
            role: user.role,
            is_active: user.is_active,
            is_verified: user.is_verified,
            avatar_url: user.avatar_url,
            github_linked: user.github_id.is_some(),
            last_login_at: user.last_login_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// Login/register answer: the account and a fresh session's tokens.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub user: UserView,
    #[serde(flatten)]
    #[schema(inline)]
    pub tokens: Tokens,
    /// Names this device to the account: keep it, and send it with later
    /// `POST /api/auth/login` and `POST /api/auth/login/mfa` requests, so that other people's
    /// wrong guesses do not lock this device out. A new password voids it.
    #[schema(example = "d1.6f1c2f8e-3b0a-4c55-9d2e-0f6a1b2c3d4e.<43 base64url characters>")]
    pub device_token: String,
}

/// Finishes a sign-in inside `tx`: starts a session at assurance level `aal` (`aal2` when a
/// second factor was just proved), writes an audit row for each of `actions` (their
/// `details` gain the session id), commits, and answers with the account as it now stands.
/// Account, session and audit rows exist together or not at all.
pub async fn sign_in(
    mut tx: Transaction<'_, Postgres>,
    state: &AppState,
    user: User,
    client: &ClientInfo,
    actions: &[&str],
    mut details: serde_json::Value,
    aal: Aal,
) -> Result<SignedIn, ApiError> {
    let tokens = start(&mut tx, state, &user, client, aal).await?;
    if let Some(details) = details.as_object_mut() {
        details.insert("session_id".into(), json!(tokens.session_id));
    }
    let audit = Audit::new(&state.pool, client);
    for action in actions {
        let event = audit.event(Some(user.id), action, true, details.clone());
        db::auth::audit::record(&mut *tx, &event).await?;
    }
    tx.commit().await?;
    let user = db::auth::users::find(&state.pool, user.id)
        .await?
        .unwrap_or(user);
    // Signed with the account as it now stands: a password rehashed at this sign-in is in.
    let device_token = state.device_tokens.issue(&user);
    Ok(SignedIn {
        user: user.into(),
        tokens,
        device_token,
    })
}

/// Creates a session for `user` inside the caller's transaction and returns its tokens.
async fn start(
    conn: &mut PgConnection,
    state: &AppState,
    user: &User,
    client: &ClientInfo,
    aal: Aal,
) -> Result<Tokens, ApiError> {
    let refresh_token = new_secret();
    let refresh_hash = digest(&refresh_token);
    let session_hash = digest(&new_secret());
    let session_id = db::auth::sessions::create(
        conn,
        &db::auth::NewSession {
            user_id: user.id,
            session_token_hash: &session_hash,
            refresh_token_hash: &refresh_hash,
            ip: client.ip_text(),
            user_agent: client.user_agent.as_deref(),
            expires_at: Utc::now()
                + state
                    .config
                    .refresh_token_ttl()
                    .min(state.config.session_max_lifetime()),
        },
    )
    .await?;
    if aal == Aal::Aal2 {
        db::auth::sessions::record_second_factor(&mut *conn, user.id, session_id).await?;
    }
    let tokens = tokens(state, user, session_id, refresh_token, aal)?;
    Ok(tokens.refresh_expires_at(Utc::now() + state.config.session_max_lifetime()))
}

impl Tokens {
    /// Reports the refresh token's real expiry when the session's absolute lifetime cuts it
    /// shorter than the usual idle lifetime.
    pub fn refresh_expires_at(mut self, expires_at: DateTime<Utc>) -> Self {
        let left = (expires_at - Utc::now()).num_seconds().max(0) as u64;
        self.refresh_expires_in = self.refresh_expires_in.min(left);
        self
    }
}

/// Signs an access token at `aal` and pairs it with `refresh_token`.
pub fn tokens(
    state: &AppState,
    user: &User,
    session_id: SessionId,
    refresh_token: String,
    aal: Aal,
) -> Result<Tokens, ApiError> {
    let access = state
        .issuer
        .issue_at(user.id.0, session_id.0, role_of(user)?, aal)?;
    Ok(Tokens {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in.as_secs(),
        refresh_token,
        refresh_expires_in: state.config.refresh_token_ttl_secs,
        session_id,
        aal,
    })
}

pub fn role_of(user: &User) -> Result<Role, ApiError> {
    user.role.parse().map_err(ApiError::Internal)
}

/// An access token whose session is still live. `AuthUser` checks the session (with a
/// sub-second cache shared by every service); this names the ids the handlers here need.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub user_id: UserId,
    pub session_id: SessionId,
    access: AuthUser,
}

impl CurrentSession {
    /// The session's account, read fresh on every call (roles and lockouts change); an
    /// account that no longer exists is 401 `session_revoked`, as an ended session is.
    pub async fn user(&self, executor: impl PgExecutor<'_>) -> Result<User, ApiError> {
        db::auth::users::find(executor, self.user_id)
            .await?
            .ok_or(ApiError::SessionRevoked)
    }

    /// The access token's assurance level.
    pub fn aal(&self) -> Aal {
        self.access.aal
    }

    /// `AuthUser::require_aal2`: 403 `step_up_required` for a user with a second factor whose
    /// token is not `aal2`.
    pub fn require_aal2(&self) -> Result<(), ApiError> {
        Ok(self.access.require_aal2()?)
    }
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        Ok(Self {
            user_id: UserId(user.user_id),
            session_id: SessionId(user.session_id),
            access: user,
        })
    }
}
