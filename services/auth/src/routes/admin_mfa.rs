//! `DELETE /api/auth/admin/users/{id}/mfa`: an admin resets a user's second factor (the
//! owner lost their authenticator and their recovery codes). Audited against the user with
//! the acting admin, and mailed to the owner.
//!
//! The user's sessions stay: a reset takes a credential away rather than granting one, and
//! the usual case is an owner still signed in on another device who needs that session to
//! enrol a new authenticator. Their second-factor proofs are forgotten (no session carries
//! `aal2` into the next factor), pending login challenges die, and the mail tells the owner
//! to change their password if they did not ask for this (which ends every other session).

use axum::{Router, extract::State, http::StatusCode, routing::delete};
use platform::{client::ClientInfo, extract::Path, openapi::ApiErrorBody};
use serde_json::json;
use utoipa::OpenApi;
use uuid::Uuid;

use super::admin::{Admin, lock_subject};
use crate::{
    audit::Audit,
    error::ApiError,
    mfa::{self, Notice},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/auth/admin/users/{id}/mfa", delete(reset_factor))
}

/// Tagged `admin`, which `routes/admin.rs` describes.
#[derive(OpenApi)]
#[openapi(paths(reset_factor))]
pub struct ApiDoc;

/// Removes the user's TOTP factor (pending or confirmed), every recovery code and every
/// passkey, so the password alone signs in until they enrol again. The same management rules as every admin
/// action (admins reset plain users, super admins anyone but themselves); your own factor is
/// removed at `DELETE /api/auth/mfa/totp`.
#[utoipa::path(delete, path = "/api/auth/admin/users/{id}/mfa", tag = "admin", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)), responses((status = 204, description = "the TOTP factor, recovery codes and passkeys are gone; the owner is mailed; their sessions stay"), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "forbidden (not an admin, your own account, or one only a super admin manages), or step_up_required (an admin with a second factor needs an aal2 token)", body = ApiErrorBody), (status = 404, description = "no such user", body = ApiErrorBody), (status = 409, description = "mfa_not_enabled: the user has no second factor", body = ApiErrorBody)))]
pub async fn reset_factor(
    State(state): State<AppState>,
    client: ClientInfo,
    admin: Admin,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    if admin.user.id.0 == id {
        return Err(ApiError::Forbidden(
            "turn off your own second factor at DELETE /api/auth/mfa/totp",
        ));
    }
    let mut tx = state.pool.begin().await?;
    let (admin, subject) = lock_subject(&mut tx, &admin, id).await?;
    let had = db::auth::mfa::status(&mut *tx, subject.id).await?;
    let totp_removed = db::auth::mfa::remove(&mut tx, subject.id).await?;
    let passkeys_removed = db::auth::passkeys::delete_all(&mut *tx, subject.id).await?;
    if !totp_removed && passkeys_removed == 0 {
        return Err(mfa::not_enabled());
    }
    mfa::queue_notice(&mut tx, &subject, Notice::ResetByAdmin).await?;
    let details = json!({
        "actor_id": admin.user.id,
        "totp_was_confirmed": had.totp,
        "recovery_codes_removed": had.recovery_codes_left,
        "passkeys_removed": passkeys_removed,
    });
    let audit = Audit::new(&state.pool, &client);
    let event = audit.event(Some(subject.id), "admin.mfa_reset", true, details);
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(StatusCode::NO_CONTENT)
}
