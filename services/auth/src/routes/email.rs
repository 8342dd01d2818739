//! Mailed single-use links: `verify-email/request|confirm`, `forgot-password`, `reset-password`.
//! Each link's token is queued in the outbox within the transaction that creates it.

use axum::{Router, extract::State, http::StatusCode, routing::post};
use db::auth::{User, one_time_tokens::Purpose};
use platform::{client::ClientInfo, extract::Json, openapi::ApiErrorBody};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::OpenApi;

use crate::{
    audit::Audit,
    credentials,
    error::ApiError,
    links::{self, LinkMail},
    rate_limit::{Rule, client_key},
    secrets::digest,
    sessions::CurrentSession,
    state::AppState,
    validate,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/verify-email/request", post(request_verification))
        .route("/api/auth/verify-email/confirm", post(confirm_verification))
        .route("/api/auth/forgot-password", post(forgot_password))
        .route("/api/auth/reset-password", post(reset_password))
}

#[derive(OpenApi)]
#[openapi(
    paths(request_verification, confirm_verification, forgot_password, reset_password),
    tags((name = "email", description = "Mailed verification and password-reset links"))
)]
pub struct ApiDoc;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    status: &'static str,
}

#[utoipa::path(post, path = "/api/auth/verify-email/request", tag = "email", security(("bearer" = [])), responses((status = 202, description = "a verification link was mailed", body = Status), (status = 200, description = "already verified", body = Status), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn request_verification(
    State(state): State<AppState>,
    client: ClientInfo,
    session: CurrentSession,
) -> Result<(StatusCode, axum::Json<Status>), ApiError> {
    let user = session.user(&state.pool).await?;
    if user.is_verified {
        return Ok((
            StatusCode::OK,
            axum::Json(Status {
                status: "already_verified",
            }),
        ));
    }
    let rule = Rule::per_hour("verify_email", 5);
    state.limiter.check(rule, &user.id.to_string()).await?;
    let action = "verify_email_requested";
    mail_link(&state, &client, &user, LinkMail::VerifyEmail, action).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(Status { status: "sent" })))
}

/// Queues `mail` for `user` in the outbox (its token in the same transaction), wakes the mail
/// worker, and audits `action`.
async fn mail_link(
    state: &AppState,
    client: &ClientInfo,
    user: &User,
    mail: LinkMail,
    action: &str,
) -> Result<(), ApiError> {
    let mut tx = state.pool.begin().await?;
    links::queue(&mut tx, &state.config, user, mail).await?;
    tx.commit().await?;
    state.mail_wakeup.notify_one();
    Audit::new(&state.pool, client)
        .done(Some(user.id), action, json!({}))
        .await;
    Ok(())
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
    let token_hash = digest(&body.token);
    let owner =
        db::auth::one_time_tokens::find_usable(&state.pool, Purpose::VerifyEmail, &token_hash)
            .await?
            .ok_or(ApiError::InvalidLinkToken)?;
    // The account's row before the link's, as an email or password change takes them.
    let mut tx = credentials::begin_on_account(&state, owner).await?;
    let user_id = db::auth::one_time_tokens::consume(&mut *tx, Purpose::VerifyEmail, &token_hash)
        .await?
        .filter(|spent_by| *spent_by == owner)
        .ok_or(ApiError::InvalidLinkToken)?;
    db::auth::users::mark_verified(&mut *tx, user_id).await?;
    tx.commit().await?;
    Audit::new(&state.pool, &client)
        .done(Some(user_id), "email_verified", json!({}))
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
    let rule = Rule::per_hour("forgot", state.config.rate_limit_forgot_per_hour);
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
    let action = "password_reset_requested";
    mail_link(&state, &client, &user, LinkMail::ResetPassword, action).await?;
    Ok(answer)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    token: String,
    /// 8-128 characters.
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
}

/// Mailed-link uses per client IP, and resets per account: a token is 256 random bits, so
/// this guards the work behind a guess (lookups, hashing), not the token itself.
fn links_rule(state: &AppState) -> Rule {
    Rule::per_hour("mailed_link", state.config.rate_limit_links_per_hour)
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
    let token_hash = digest(&body.token);
    let user_id =
        db::auth::one_time_tokens::find_usable(&state.pool, Purpose::ResetPassword, &token_hash)
            .await?
            .ok_or(ApiError::InvalidLinkToken)?;
    state
        .limiter
        .check(rule, &format!("reset_account:{user_id}"))
        .await?;
    let hash = state.passwords.hash(body.new_password).await?;
    let mut tx = credentials::begin_on_account(&state, user_id).await?;
    // Spending the token is what counts: a concurrent use may have won since the lookup.
    let user_id = db::auth::one_time_tokens::consume(&mut *tx, Purpose::ResetPassword, &token_hash)
        .await?
        .filter(|spent_by| *spent_by == user_id)
        .ok_or(ApiError::InvalidLinkToken)?;
    db::auth::users::reset_password(&mut *tx, user_id, &hash).await?;
    let ended = credentials::void_old_password(&mut tx, user_id, "password_reset", None).await?;
    tx.commit().await?;
    let details = json!({ "sessions_ended": ended });
    Audit::new(&state.pool, &client)
        .done(Some(user_id), "password_reset", details)
        .await;
    Ok(StatusCode::NO_CONTENT)
}
