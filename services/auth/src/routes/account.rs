//! `POST register` and `POST login`.

use std::time::Duration;

use axum::{extract::State, http::StatusCode};
use chrono::Utc;
use db::auth::{NewUser, User};
use platform::{client::ClientInfo, extract::Json};
use serde::Deserialize;
use serde_json::json;

use super::{audit, views::SignedIn};
use crate::{
    error::ApiError, password::Verified, rate_limit::Rule, routes::docs::ApiErrorBody, sessions,
    state::AppState, validate,
};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    email: String,
    username: String,
    full_name: String,
    password: String,
}

#[utoipa::path(post, path = "/api/auth/register", tag = "account", request_body = RegisterRequest, responses((status = 201, description = "account created and signed in", body = SignedIn), (status = 409, description = "email_taken or username_taken", body = ApiErrorBody), (status = 422, description = "invalid input", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<RegisterRequest>,
) -> Result<(StatusCode, axum::Json<SignedIn>), ApiError> {
    let rule = Rule {
        name: "register_ip",
        limit: state.config.rate_limit_register_per_hour,
        window: Duration::from_secs(3600),
    };
    state.limiter.check(rule, &client_key(&client)).await?;
    let email = validate::email(&request.email)?;
    let username = validate::username(&request.username)?;
    let full_name = validate::full_name(&request.full_name)?;
    validate::password(&request.password)?;

    let password_hash = state.passwords.hash(request.password).await?;
    // One transaction: the account, its first session and the audit row exist together or
    // not at all, whatever fails (or crashes) in between.
    let mut tx = state.pool.begin().await?;
    let new_user = NewUser {
        email: &email,
        username: &username,
        full_name: &full_name,
        password_hash: &password_hash,
    };
    let user = match db::auth::users::insert(&mut *tx, &new_user).await {
        Ok(user) => user,
        Err(error) => {
            let error = ApiError::from(error);
            if let ApiError::Conflict { code, .. } = &error {
                audit(
                    &state.pool,
                    None,
                    "register",
                    &client,
                    false,
                    json!({ "reason": code, "email": email }),
                )
                .await;
            }
            return Err(error);
        }
    };
    let tokens = sessions::start(&mut tx, &state, &user, &client).await?;
    super::email::queue_link(
        &mut tx,
        &state,
        &user,
        db::auth::one_time_tokens::Purpose::VerifyEmail,
    )
    .await?;
    let event = db::auth::AuditEvent {
        user_id: Some(user.id),
        action: "register",
        ip: client.ip_text(),
        user_agent: client.user_agent.as_deref(),
        success: true,
        details: json!({ "session_id": tokens.session_id }),
    };
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(SignedIn {
            user: user.into(),
            tokens,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// An email address or a username.
    #[serde(alias = "email", alias = "username")]
    login: String,
    password: String,
}

#[utoipa::path(post, path = "/api/auth/login", tag = "account", request_body = LoginRequest, responses((status = 200, description = "signed in", body = SignedIn), (status = 401, description = "invalid_credentials", body = ApiErrorBody), (status = 403, description = "account_disabled", body = ApiErrorBody), (status = 423, description = "account_locked; see Retry-After", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<LoginRequest>,
) -> Result<axum::Json<SignedIn>, ApiError> {
    let login = request.login.trim().to_lowercase();
    let rule = Rule {
        name: "login",
        limit: state.config.rate_limit_login_per_minute,
        window: Duration::from_secs(60),
    };
    state
        .limiter
        .check(rule, &format!("ip:{}", client_key(&client)))
        .await?;
    state
        .limiter
        .check(rule, &format!("account:{login}"))
        .await?;
    if request.password.len() > validate::PASSWORD_MAX_CHARS * 4 {
        // Longer than any password we accept: refuse before spending a hash on it.
        return Err(ApiError::InvalidCredentials);
    }

    let user = db::auth::users::find_by_login(&state.pool, &login).await?;
    if let Some(until) = user.as_ref().and_then(|user| user.locked_at(Utc::now())) {
        let user_id = user.as_ref().map(|user| user.id);
        audit(
            &state.pool,
            user_id,
            "login",
            &client,
            false,
            json!({ "reason": "account_locked" }),
        )
        .await;
        return Err(ApiError::AccountLocked { until });
    }
    let stored = user.as_ref().map(|user| user.password_hash.clone());
    let verified = state
        .passwords
        .verify(request.password.clone(), stored)
        .await?;
    let (user, rehash) = match (user, verified) {
        (Some(user), Verified::Yes { rehash }) => (user, rehash),
        (Some(user), Verified::No) => return Err(failed_attempt(&state, &user, &client).await),
        (None, _) => {
            audit(
                &state.pool,
                None,
                "login",
                &client,
                false,
                json!({ "reason": "unknown_account", "login": login }),
            )
            .await;
            return Err(ApiError::InvalidCredentials);
        }
    };
    if !user.is_active {
        audit(
            &state.pool,
            Some(user.id),
            "login",
            &client,
            false,
            json!({ "reason": "account_disabled" }),
        )
        .await;
        return Err(ApiError::AccountDisabled);
    }

    let new_hash = match rehash {
        true => Some(state.passwords.hash(request.password).await?),
        false => None,
    };
    let mut tx = state.pool.begin().await?;
    db::auth::users::record_successful_login(&mut *tx, user.id).await?;
    if let Some(hash) = &new_hash {
        db::auth::users::update_password_hash(&mut *tx, user.id, hash).await?;
    }
    let tokens = sessions::start(&mut tx, &state, &user, &client).await?;
    let event = db::auth::AuditEvent {
        user_id: Some(user.id),
        action: "login",
        ip: client.ip_text(),
        user_agent: client.user_agent.as_deref(),
        success: true,
        details: json!({ "session_id": tokens.session_id, "password_rehashed": new_hash.is_some() }),
    };
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    let user = db::auth::users::find(&state.pool, user.id)
        .await?
        .unwrap_or(user);
    Ok(axum::Json(SignedIn {
        user: user.into(),
        tokens,
    }))
}

/// Counts a wrong password; the attempt that reaches the limit locks the account.
async fn failed_attempt(state: &AppState, user: &User, client: &ClientInfo) -> ApiError {
    let outcome = db::auth::users::record_failed_login(
        &state.pool,
        user.id,
        state.config.login_max_failed_attempts,
        state.config.login_lockout_secs as f64,
    )
    .await;
    let failed = match outcome {
        Ok(failed) => failed,
        Err(error) => return error.into(),
    };
    let details = json!({ "reason": "wrong_password", "failed_attempts": failed.attempts });
    audit(&state.pool, Some(user.id), "login", client, false, details).await;
    match failed.locked_until {
        Some(until) if failed.attempts >= state.config.login_max_failed_attempts => {
            let details = json!({ "failed_attempts": failed.attempts, "locked_until": until });
            audit(
                &state.pool,
                Some(user.id),
                "account_locked",
                client,
                true,
                details,
            )
            .await;
            ApiError::AccountLocked { until }
        }
        _ => ApiError::InvalidCredentials,
    }
}

/// The rate-limit key for a client: its IP, or one shared bucket when unknown.
pub fn client_key(client: &ClientInfo) -> String {
    client.ip_text().unwrap_or_else(|| "unknown".to_owned())
}
