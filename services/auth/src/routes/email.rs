//! Mailed single-use links: `verify-email/request|confirm`, `forgot-password`, `reset-password`.
//! Each link's token is queued in the outbox within the transaction that creates it.

use std::time::Duration;

use axum::{extract::State, http::StatusCode};
use chrono::Utc;
use db::{
    PgConnection,
    auth::{User, one_time_tokens::Purpose, outbox::NewMail},
};
use platform::{client::ClientInfo, extract::Json};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{CurrentSession, account::client_key, audit};
use crate::{error::ApiError, rate_limit::Rule, state::AppState, validate};
use platform::openapi::ApiErrorBody;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    status: &'static str,
}

/// Creates a token for `user` and queues the mail carrying it; voids older links of the
/// same purpose so only the newest works. Call inside a transaction.
pub async fn queue_link(
    conn: &mut PgConnection,
    state: &AppState,
    user: &User,
    purpose: Purpose,
) -> Result<(), ApiError> {
    let token = crate::secrets::new_secret();
    let (ttl_secs, path, subject, what) = match purpose {
        Purpose::VerifyEmail => (
            state.config.verify_email_ttl_secs,
            "verify-email",
            "Confirm your email address",
            "confirm your email address",
        ),
        Purpose::ResetPassword => (
            state.config.password_reset_ttl_secs,
            "reset-password",
            "Reset your password",
            "choose a new password",
        ),
    };
    db::auth::one_time_tokens::void_outstanding(&mut *conn, user.id, purpose).await?;
    let expires_at = Utc::now() + chrono::Duration::seconds(ttl_secs as i64);
    db::auth::one_time_tokens::create(
        &mut *conn,
        user.id,
        purpose,
        &crate::secrets::digest(&token),
        expires_at,
    )
    .await?;
    let link = format!(
        "{}/{path}?token={token}",
        state.config.public_app_url.trim_end_matches('/')
    );
    let body = format!(
        "Hi {name},\n\nOpen this link to {what} on DevMentor:\n\n{link}\n\n\
         It works once and expires in {minutes} minutes. If you did not ask for this, ignore this mail.\n",
        name = user.full_name,
        minutes = ttl_secs / 60,
    );
    let mail = NewMail {
        recipient: &user.email,
        subject,
        body_text: &body,
        kind: purpose.as_str(),
    };
    db::auth::outbox::enqueue(&mut *conn, &mail).await?;
    Ok(())
}

#[utoipa::path(post, path = "/api/auth/verify-email/request", tag = "email", security(("bearer" = [])), responses((status = 202, description = "a verification link was mailed", body = Status), (status = 200, description = "already verified", body = Status), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn request_verification(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
) -> Result<(StatusCode, axum::Json<Status>), ApiError> {
    let user = db::auth::users::find(&state.pool, session.user_id)
        .await?
        .ok_or(ApiError::SessionRevoked)?;
    if user.is_verified {
        return Ok((
            StatusCode::OK,
            axum::Json(Status {
                status: "already_verified",
            }),
        ));
    }
    let rule = Rule {
        name: "verify_email",
        limit: 5,
        window: Duration::from_secs(3600),
    };
    state.limiter.check(rule, &user.id.to_string()).await?;
    let mut tx = state.pool.begin().await?;
    queue_link(&mut tx, &state, &user, Purpose::VerifyEmail).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    audit(
        &state.pool,
        Some(user.id),
        "verify_email_requested",
        &client,
        true,
        json!({}),
    )
    .await;
    Ok((StatusCode::ACCEPTED, axum::Json(Status { status: "sent" })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    token: String,
}

#[utoipa::path(post, path = "/api/auth/verify-email/confirm", tag = "email", request_body = TokenBody, responses((status = 200, body = Status), (status = 400, description = "invalid_or_expired_token", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn confirm_verification(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<TokenBody>,
) -> Result<axum::Json<Status>, ApiError> {
    state
        .limiter
        .check(links_rule(&state), &format!("ip:{}", client_key(&client)))
        .await?;
    let mut tx = state.pool.begin().await?;
    let user_id = db::auth::one_time_tokens::consume(
        &mut *tx,
        Purpose::VerifyEmail,
        &crate::secrets::digest(&body.token),
    )
    .await?
    .ok_or(ApiError::InvalidLinkToken)?;
    db::auth::users::mark_verified(&mut *tx, user_id).await?;
    tx.commit().await?;
    audit(
        &state.pool,
        Some(user_id),
        "email_verified",
        &client,
        true,
        json!({}),
    )
    .await;
    Ok(axum::Json(Status { status: "verified" }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPassword {
    email: String,
}

/// Answers the same whether or not the address has an account, so it reveals nothing.
#[utoipa::path(post, path = "/api/auth/forgot-password", tag = "email", request_body = ForgotPassword, responses((status = 202, description = "the same answer whether or not the address has an account", body = Status), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<ForgotPassword>,
) -> Result<(StatusCode, axum::Json<Status>), ApiError> {
    let email = body.email.trim().to_lowercase();
    let rule = Rule {
        name: "forgot",
        limit: state.config.rate_limit_forgot_per_hour,
        window: Duration::from_secs(3600),
    };
    state
        .limiter
        .check(rule, &format!("ip:{}", client_key(&client)))
        .await?;
    state.limiter.check(rule, &format!("email:{email}")).await?;
    let answer = (
        StatusCode::ACCEPTED,
        axum::Json(Status {
            status: "if an account uses this email, a reset link is on its way",
        }),
    );
    let Some(user) = db::auth::users::find_by_email(&state.pool, &email).await? else {
        return Ok(answer);
    };
    if !user.is_active {
        return Ok(answer);
    }
    let mut tx = state.pool.begin().await?;
    queue_link(&mut tx, &state, &user, Purpose::ResetPassword).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    audit(
        &state.pool,
        Some(user.id),
        "password_reset_requested",
        &client,
        true,
        json!({}),
    )
    .await;
    Ok(answer)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    token: String,
    new_password: String,
}

/// Mailed-link uses per client IP, and resets per account: a token is 256 random bits, so
/// this guards the work behind a guess (lookups, hashing), not the token itself.
fn links_rule(state: &AppState) -> Rule {
    Rule {
        name: "mailed_link",
        limit: state.config.rate_limit_links_per_hour,
        window: Duration::from_secs(3600),
    }
}

/// Sets a new password from a mailed token, lifts any lockout and ends every session. The
/// cheap checks come first (rate limit, password rules, token lookup); only a request with a
/// usable token spends a password hash.
#[utoipa::path(post, path = "/api/auth/reset-password", tag = "email", request_body = ResetPassword, responses((status = 204, description = "password set; every session ended; lockout lifted"), (status = 400, description = "invalid_or_expired_token", body = ApiErrorBody), (status = 422, description = "invalid input", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody), (status = 503, description = "busy: every password-hashing slot is taken; see Retry-After", body = ApiErrorBody)))]
pub async fn reset_password(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<ResetPassword>,
) -> Result<StatusCode, ApiError> {
    let rule = links_rule(&state);
    state
        .limiter
        .check(rule, &format!("ip:{}", client_key(&client)))
        .await?;
    validate::password(&body.new_password)?;
    let token_hash = crate::secrets::digest(&body.token);
    let user_id =
        db::auth::one_time_tokens::find_usable(&state.pool, Purpose::ResetPassword, &token_hash)
            .await?
            .ok_or(ApiError::InvalidLinkToken)?;
    state
        .limiter
        .check(rule, &format!("reset_account:{user_id}"))
        .await?;
    let hash = state.passwords.hash(body.new_password).await?;
    let mut tx = state.pool.begin().await?;
    // Spending the token is what counts: a concurrent use may have won since the lookup.
    let user_id = db::auth::one_time_tokens::consume(&mut *tx, Purpose::ResetPassword, &token_hash)
        .await?
        .filter(|spent_by| *spent_by == user_id)
        .ok_or(ApiError::InvalidLinkToken)?;
    db::auth::users::reset_password(&mut *tx, user_id, &hash).await?;
    db::auth::one_time_tokens::void_outstanding(&mut *tx, user_id, Purpose::ResetPassword).await?;
    let ended =
        db::auth::sessions::revoke_all_for_user(&mut *tx, user_id, "password_reset", None).await?;
    tx.commit().await?;
    audit(
        &state.pool,
        Some(user_id),
        "password_reset",
        &client,
        true,
        json!({ "sessions_ended": ended }),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
