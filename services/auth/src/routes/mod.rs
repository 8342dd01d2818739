//! The HTTP API under `/api/auth`, plus `/.well-known/jwks.json`.

mod account;
mod admin;
pub mod docs;
mod email;
mod me;
mod oauth;
mod session;
mod views;

use authn::AuthUser;
use axum::{
    Extension, Json, Router,
    extract::{FromRequestParts, State},
    http::request::Parts,
    routing::{delete, get, post},
};
use db::{
    PgPool,
    auth::AuditEvent,
    ids::{SessionId, UserId},
};
use platform::client::ClientInfo;

use crate::{error::ApiError, state::AppState};

pub fn router(state: AppState) -> Router {
    let trusted_proxies = state.config.trusted_proxies.clone();
    Router::new()
        .route("/api/auth/register", post(account::register))
        .route("/api/auth/login", post(account::login))
        .route("/api/auth/refresh", post(session::refresh))
        .route("/api/auth/logout", post(session::logout))
        .route("/api/auth/logout-all", post(session::logout_all))
        .route("/api/auth/me", get(me::show).patch(me::update))
        .route("/api/auth/me/password", post(me::change_password))
        .route("/api/auth/me/sessions", get(me::sessions))
        .route("/api/auth/me/sessions/{id}", delete(me::end_session))
        .route(
            "/api/auth/verify-email/request",
            post(email::request_verification),
        )
        .route(
            "/api/auth/verify-email/confirm",
            post(email::confirm_verification),
        )
        .route("/api/auth/forgot-password", post(email::forgot_password))
        .route("/api/auth/reset-password", post(email::reset_password))
        .route("/api/auth/oauth/github", get(oauth::github_start))
        .route(
            "/api/auth/oauth/github/callback",
            get(oauth::github_callback),
        )
        .route("/api/auth/admin/users", get(admin::list_users))
        .route("/api/auth/admin/users/{id}", get(admin::get_user))
        .route("/api/auth/admin/users/{id}/role", post(admin::change_role))
        .route("/api/auth/admin/users/{id}/activate", post(admin::activate))
        .route(
            "/api/auth/admin/users/{id}/deactivate",
            post(admin::deactivate),
        )
        .route("/api/auth/admin/users/{id}/unlock", post(admin::unlock))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/openapi.json", get(openapi))
        .layer(Extension(trusted_proxies))
        .with_state(state)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi as _;
    Json(docs::ApiDoc::openapi())
}

async fn jwks(State(state): State<AppState>) -> Json<authn::Jwks> {
    Json(state.verifier.jwks())
}

/// An access token whose session is still live. `AuthUser` checks the session (with a
/// sub-second cache shared by every service); this names the ids the handlers here need.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub user_id: UserId,
    pub session_id: SessionId,
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
        })
    }
}

/// Writes one audit row. Failures are logged, never shown to the caller: the action itself
/// already happened (or was refused) and must be reported truthfully.
pub async fn audit(
    pool: &PgPool,
    user_id: Option<UserId>,
    action: &str,
    client: &ClientInfo,
    success: bool,
    details: serde_json::Value,
) {
    let event = AuditEvent {
        user_id,
        action,
        ip: client.ip_text(),
        user_agent: client.user_agent.as_deref(),
        success,
        details,
    };
    if let Err(error) = db::auth::audit::record(pool, &event).await {
        tracing::error!(%error, action, "cannot write audit row");
    }
}
