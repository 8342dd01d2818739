//! `POST me/email`: moving an account to a new email address. The address is where reset
//! links go, so changing it is a sensitive action: it needs the current password (a guess
//! like a login's) and, for a user with a second factor, an `aal2` token.

use axum::{Router, extract::State, routing::post};
use db::auth::one_time_tokens::Purpose;
use platform::{client::ClientInfo, extract::Json, openapi::ApiErrorBody};
use serde::Deserialize;
use serde_json::json;
use utoipa::OpenApi;

use super::me::{MeView, me_view};
use crate::{
    audit::Audit,
    credentials,
    error::ApiError,
    links::{self, LinkMail},
    mail::SecurityNotice,
    sessions::CurrentSession,
    state::AppState,
    validate,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/auth/me/email", post(change_email))
}

/// Tagged `me`, which `routes/me.rs` describes.
#[derive(OpenApi)]
#[openapi(paths(change_email))]
pub struct ApiDoc;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChange {
    /// The new address; compared case-insensitively; at most 255 characters; in plain characters
    /// (its own NFKC form: no fullwidth letters, ligatures or separate accents, 422
    /// `invalid_email`), at a domain name (not `[127.0.0.1]` or another IP address).
    #[schema(format = Email, max_length = 255)]
    email: String,
    /// The account's current password.
    password: String,
}

/// Moves the account to a new address, unverified until the link mailed there is used; the
/// old address is told. Reset and verification links mailed to the old address stop
/// working. Sessions stay: the password did not change.
#[utoipa::path(post, path = "/api/auth/me/email", tag = "me", security(("bearer" = [])), request_body = EmailChange, responses((status = 200, description = "changed; a verification link went to the new address and a notice to the old one", body = MeView), (status = 401, description = "invalid_credentials (wrong password, the account is locked, or a reset or password change replaced the password while this request was checked), or missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "step_up_required: a user with a second factor needs an aal2 token (POST /api/auth/step-up)", body = ApiErrorBody), (status = 409, description = "email_taken", body = ApiErrorBody), (status = 422, description = "invalid_email, or email_unchanged (the account already uses this address)", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody), (status = 503, description = "busy: every password-hashing slot is taken; see Retry-After", body = ApiErrorBody)))]
pub async fn change_email(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
    Json(change): Json<EmailChange>,
) -> Result<axum::Json<MeView>, ApiError> {
    session.require_aal2()?;
    let account = format!("email_change:{}", session.user_id);
    credentials::count_guess(&state, &client, &account).await?;
    let email = validate::email(&change.email)?;
    let user = session.user(&state.pool).await?;
    let action = "email_changed";
    credentials::check_current_password(&state, &client, &user, change.password, action).await?;
    let audit = Audit::new(&state.pool, &client);
    if email == user.email.to_lowercase() {
        return Err(ApiError::validation(
            "email_unchanged",
            "the account already uses this email address",
        ));
    }

    let mut tx = state.pool.begin().await?;
    let current = &user.password_hash;
    let Some(updated) = db::auth::users::change_email(&mut *tx, user.id, &email, current).await?
    else {
        // A reset or another change replaced the hash the password was checked against: that
        // password is no longer the account's, and the reset (which ended this session) wins.
        // Not counted as a wrong guess.
        drop(tx);
        let refused = ApiError::InvalidCredentials;
        return Err(audit
            .refuse(Some(user.id), action, "password_changed_meanwhile", refused)
            .await);
    };
    // Links mailed to the old address must not act on the account any more.
    db::auth::one_time_tokens::void_outstanding(&mut *tx, user.id, Purpose::ResetPassword).await?;
    links::queue(&mut tx, &state.config, &updated, LinkMail::VerifyEmail).await?;
    let what = format!(
        "the email address of your DevMentor account was changed to {email}; mail about the \
         account now goes there."
    );
    SecurityNotice {
        kind: "email_changed",
        subject: "Your email address was changed",
        what: &what,
        if_not_you: "If this wasn't you, contact support at once: someone who knows your \
                     password may have taken over the account.",
    }
    .queue(&mut tx, &user)
    .await?;
    let details = json!({ "from": user.email, "to": email });
    let event = audit.event(Some(user.id), "email_changed", true, details);
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Ok(axum::Json(me_view(&state, updated).await?))
}
