//! `POST refresh`, `POST logout`, `POST logout-all`: keeping a session going and ending it.

use axum::{Router, extract::State, http::StatusCode, routing::post};
use chrono::Utc;
use db::auth::sessions::Rotation;
use platform::{client::ClientInfo, extract::Json, openapi::ApiErrorBody};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::OpenApi;

use crate::{
    audit::Audit,
    error::ApiError,
    secrets::{digest, new_secret},
    sessions::{self, CurrentSession},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/logout-all", post(logout_all))
}

#[derive(OpenApi)]
#[openapi(
    paths(refresh, logout, logout_all),
    tags((name = "session", description = "Refresh and sign out"))
)]
pub struct ApiDoc;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// Exchanges a refresh token for a new pair. The access token keeps `aal2` while the
/// session's last second-factor proof is younger than `AAL2_MAX_AGE_SECS` (12 h), and is
/// `aal1` after that. Each refresh token works once: presenting a
/// used one means it was stolen or replayed, so the whole session is revoked. Of several
/// concurrent exchanges of one token exactly one succeeds and the others count as reuse (no
/// grace window: a client must not send its refresh twice). An account lock does not end
/// live sessions: it stops password guessing, not the owner's open tabs.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "session", request_body = RefreshRequest, responses((status = 200, description = "a new token pair; the presented refresh token is spent", body = sessions::Tokens), (status = 401, description = "invalid_refresh_token or refresh_token_reused (the session is revoked)", body = ApiErrorBody), (status = 403, description = "account_disabled", body = ApiErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<RefreshRequest>,
) -> Result<axum::Json<sessions::Tokens>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let hash = digest(&request.refresh_token);
    let record = db::auth::sessions::find_refresh_token_for_update(&mut tx, &hash)
        .await?
        .ok_or(ApiError::InvalidRefreshToken)?;
    let audit_event = |success, details| {
        let action = if success {
            "refresh"
        } else {
            "refresh_token_reuse"
        };
        Audit::new(&state.pool, &client).event(Some(record.user_id), action, success, details)
    };
    // A spent token is a replay; so is losing the race to spend it (`AlreadyUsed`).
    if record.rotated_at.is_none() {
        if record.revoked_at.is_some() || record.expires_at <= Utc::now() {
            return Err(ApiError::InvalidRefreshToken);
        }
        let user = db::auth::users::find(&mut *tx, record.user_id)
            .await?
            .ok_or(ApiError::InvalidRefreshToken)?;
        if !user.is_active {
            return Err(ApiError::AccountDisabled);
        }
        let new_token = new_secret();
        let rotation = db::auth::sessions::rotate_refresh_token(
            &mut tx,
            &record,
            &digest(&new_token),
            state.config.refresh_token_ttl(),
            state.config.session_max_lifetime(),
        )
        .await?;
        if let Rotation::Rotated { expires_at } = rotation {
            // Past the session's absolute lifetime: nothing to renew (the rotation rolls back).
            if expires_at <= Utc::now() {
                return Err(ApiError::InvalidRefreshToken);
            }
            let details = json!({ "session_id": record.session_id });
            db::auth::audit::record(&mut *tx, &audit_event(true, details)).await?;
            // `aal2` survives refreshes while the session's last second-factor proof is
            // younger than AAL2_MAX_AGE_SECS; after that the client steps up again.
            let aal = state.config.aal_at(record.second_factor_at, Utc::now());
            let tokens = sessions::tokens(&state, &user, record.session_id, new_token, aal)?
                .refresh_expires_at(expires_at);
            tx.commit().await?;
            return Ok(axum::Json(tokens));
        }
    }
    let revoked =
        db::auth::sessions::revoke(&mut *tx, record.session_id, "refresh_token_reuse").await?;
    let details = json!({ "session_id": record.session_id, "session_was_live": revoked });
    db::auth::audit::record(&mut *tx, &audit_event(false, details)).await?;
    tx.commit().await?;
    tracing::warn!(session_id = %record.session_id, "refresh token reuse: session revoked");
    Err(ApiError::RefreshTokenReused)
}

/// Ends the session the access token belongs to.
#[utoipa::path(post, path = "/api/auth/logout", tag = "session", security(("bearer" = [])), responses((status = 204, description = "this session ended"), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
) -> Result<StatusCode, ApiError> {
    db::auth::sessions::revoke(&state.pool, session.session_id, "logout").await?;
    let details = json!({ "session_id": session.session_id });
    Audit::new(&state.pool, &client)
        .done(Some(session.user_id), "logout", details)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoggedOut {
    sessions_ended: u64,
}

/// Ends every session of the user, this one included.
#[utoipa::path(post, path = "/api/auth/logout-all", tag = "session", security(("bearer" = [])), responses((status = 200, description = "every session ended", body = LoggedOut), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody)))]
pub async fn logout_all(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
) -> Result<axum::Json<LoggedOut>, ApiError> {
    let ended =
        db::auth::sessions::revoke_all_for_user(&state.pool, session.user_id, "logout_all", None)
            .await?;
    let details = json!({ "sessions_ended": ended });
    Audit::new(&state.pool, &client)
        .done(Some(session.user_id), "logout_all", details)
        .await;
    Ok(axum::Json(LoggedOut {
        sessions_ended: ended,
    }))
}
