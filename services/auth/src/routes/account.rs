//! `POST register` and `POST login`, and the password lockout that guards login.

use std::time::Duration;

use axum::{extract::State, http::StatusCode};
use chrono::Utc;
use db::{
    PgConnection,
    auth::{NewUser, User, one_time_tokens::Purpose, outbox::NewMail, users::FailedLogin},
};
use platform::{client::ClientInfo, extract::Json};
use serde::Deserialize;
use serde_json::json;

use super::{audit, views::SignedIn};
use crate::{
    error::ApiError, password::Verified, rate_limit::Rule, sessions, state::AppState, validate,
};
use platform::openapi::ApiErrorBody;

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
    super::email::queue_link(&mut tx, &state, &user, Purpose::VerifyEmail).await?;
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

/// A lock answers exactly like a wrong password (same status, body and cost), so neither
/// the lock nor the existence of an account shows from outside; the owner learns of a lock
/// by mail.
#[utoipa::path(post, path = "/api/auth/login", tag = "account", request_body = LoginRequest, responses((status = 200, description = "signed in", body = SignedIn), (status = 401, description = "invalid_credentials: unknown account, wrong password, or an account locked after repeated failures (the owner is mailed a reset link)", body = ApiErrorBody), (status = 403, description = "account_disabled", body = ApiErrorBody), (status = 429, description = "rate limited; see Retry-After", body = ApiErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<LoginRequest>,
) -> Result<axum::Json<SignedIn>, ApiError> {
    let login = request.login.trim().to_lowercase();
    count_password_guess(&state, &client, &format!("account:{login}")).await?;
    if request.password.len() > validate::PASSWORD_MAX_CHARS * 4 {
        // Longer than any password we accept: refuse before spending a hash on it.
        return Err(ApiError::InvalidCredentials);
    }

    let user = db::auth::users::find_by_login(&state.pool, &login).await?;
    // Every refusal below costs one verification, whichever it is: an early answer for
    // unknown or locked accounts would tell them apart by time.
    let stored = user.as_ref().map(|user| user.password_hash.clone());
    let verified = state
        .passwords
        .verify(request.password.clone(), stored)
        .await?;
    let Some(user) = user else {
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
    };
    if user.locked_at(Utc::now()).is_some() {
        // Refused even with the right password, and nothing is counted or reset: the lock
        // lapses on its own, or a mailed reset link lifts it.
        let details = json!({ "reason": "account_locked" });
        audit(&state.pool, Some(user.id), "login", &client, false, details).await;
        return Err(ApiError::InvalidCredentials);
    }
    let rehash = match verified {
        Verified::Yes { rehash } => rehash,
        Verified::No => return Err(failed_attempt(&state, &user, &client).await),
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

/// Counts one password guess (a login, or a password change checking the current one)
/// against the client IP's budget and the account's (`account` names its bucket), each
/// `RATE_LIMIT_LOGIN_PER_MINUTE`.
pub(super) async fn count_password_guess(
    state: &AppState,
    client: &ClientInfo,
    account: &str,
) -> Result<(), ApiError> {
    let rule = Rule {
        name: "login",
        limit: state.config.rate_limit_login_per_minute,
        window: Duration::from_secs(60),
    };
    let limiter = &state.limiter;
    limiter
        .check(rule, &format!("ip:{}", client_key(client)))
        .await?;
    limiter.check(rule, account).await?;
    Ok(())
}

/// Counts a wrong password and answers like one, also when this failure locks the account.
pub(super) async fn failed_attempt(state: &AppState, user: &User, client: &ClientInfo) -> ApiError {
    match record_failure(state, user, client).await {
        Ok(failed) => {
            let details = json!({ "reason": "wrong_password", "failed_attempts": failed.attempts });
            audit(&state.pool, Some(user.id), "login", client, false, details).await;
            ApiError::InvalidCredentials
        }
        Err(error) => error,
    }
}

/// Counts the failure; the one that locks the account also tells its owner (a reset link)
/// and writes the `account_locked` audit row, in the same transaction as the lock, so the
/// owner hears of each lock exactly once.
async fn record_failure(
    state: &AppState,
    user: &User,
    client: &ClientInfo,
) -> Result<FailedLogin, ApiError> {
    let mut tx = state.pool.begin().await?;
    let failed = db::auth::users::record_failed_login(
        &mut *tx,
        user.id,
        state.config.login_max_failed_attempts,
        state.config.login_lockout_secs as f64,
    )
    .await?;
    let Some(until) = failed.locked_until.filter(|_| failed.newly_locked) else {
        tx.commit().await?;
        return Ok(failed);
    };
    // A deactivated account gets no mail, as with forgot-password: it cannot use the link.
    let notified = user.is_active;
    if notified {
        queue_lockout_notice(&mut tx, state, user, failed.attempts).await?;
    }
    let event = db::auth::AuditEvent {
        user_id: Some(user.id),
        action: "account_locked",
        ip: client.ip_text(),
        user_agent: client.user_agent.as_deref(),
        success: true,
        details: json!({ "failed_attempts": failed.attempts, "locked_until": until, "owner_notified": notified }),
    };
    db::auth::audit::record(&mut *tx, &event).await?;
    tx.commit().await?;
    if notified {
        state.mail_wakeup.notify_one();
    }
    Ok(failed)
}

/// Queues the lock notice: what happened, and a password-reset link (a reset also lifts the
/// lock) in case it was not the owner. Like `email::queue_link`, it voids older reset links.
async fn queue_lockout_notice(
    conn: &mut PgConnection,
    state: &AppState,
    user: &User,
    attempts: i32,
) -> Result<(), ApiError> {
    let token = crate::secrets::new_secret();
    let ttl_secs = state.config.password_reset_ttl_secs;
    db::auth::one_time_tokens::void_outstanding(&mut *conn, user.id, Purpose::ResetPassword)
        .await?;
    let expires_at = Utc::now() + chrono::Duration::seconds(ttl_secs as i64);
    let token_hash = crate::secrets::digest(&token);
    db::auth::one_time_tokens::create(
        &mut *conn,
        user.id,
        Purpose::ResetPassword,
        &token_hash,
        expires_at,
    )
    .await?;
    let link = format!(
        "{}/reset-password?token={token}",
        state.config.public_app_url.trim_end_matches('/')
    );
    let body = format!(
        "Hi {name},\n\nYour DevMentor account was locked for {lock_minutes} minutes after \
         {attempts} failed sign-ins in a row.\n\nIf this was you, wait and try again. If this \
         wasn't you, someone may be guessing your password: reset it with this link (which also \
         lifts the lock):\n\n{link}\n\nThe link works once and expires in {minutes} minutes.\n",
        name = user.full_name,
        lock_minutes = state.config.login_lockout_secs.div_ceil(60),
        minutes = ttl_secs / 60,
    );
    let mail = NewMail {
        recipient: &user.email,
        subject: "Your DevMentor account was locked",
        body_text: &body,
        kind: "account_locked",
    };
    db::auth::outbox::enqueue(&mut *conn, &mail).await?;
    Ok(())
}

/// The rate-limit key for a client: its IP, or one shared bucket when unknown.
pub fn client_key(client: &ClientInfo) -> String {
    client.ip_text().unwrap_or_else(|| "unknown".to_owned())
}
