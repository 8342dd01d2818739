//! `ApiError`: every way an auth request can fail, and the one place its causes (constraint
//! violations, hashing, keys, rate limits) become answers. Rendering is `platform`'s.

use std::time::Duration;

use axum::http::StatusCode;
use platform::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Validation { code: &'static str, message: String },
    /// A query parameter that cannot be used (bad `limit` or `cursor`): 400, as everywhere.
    #[error("{message}")]
    BadQuery { code: &'static str, message: String },
    #[error("wrong email/username or password")]
    InvalidCredentials,
    #[error("this account is deactivated")]
    AccountDisabled,
    #[error("too many requests: retry in {} s", .retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: &'static str,
    },
    #[error(transparent)]
    Unauthenticated(#[from] authn::AuthError),
    #[error("this session has ended: log in again")]
    SessionRevoked,
    #[error("the refresh token is invalid or expired: log in again")]
    InvalidRefreshToken,
    #[error("this refresh token was already used; the session has been revoked for safety")]
    RefreshTokenReused,
    #[error("this link is invalid, already used or expired: ask for a new one")]
    InvalidLinkToken,
    /// A wrong, replayed or spent second-factor code (TOTP or recovery code).
    #[error("this code is wrong or was already used: try the next one")]
    InvalidCode,
    #[error("this sign-in has expired or was already completed: log in again")]
    InvalidMfaToken,
    /// A passkey ceremony that is unknown, already finished, expired or someone else's.
    #[error("this passkey request is unknown, already used or expired: start again")]
    InvalidPasskeyCeremony,
    /// A passkey assertion refused: unknown credential, bad signature or origin, no user
    /// verification, or a signature counter that went backwards (a cloned authenticator).
    #[error("this passkey was not accepted")]
    InvalidPasskey,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("the server is busy: retry in a second")]
    Busy,
    #[error("an internal error occurred")]
    Internal(String),
    #[error("{0} sign-in is not configured on this server")]
    OAuthNotConfigured(&'static str),
    #[error("this sign-in is unknown, used, expired or from another browser: start again")]
    InvalidOAuthState,
    /// The provider failed or refused; the message is safe to show (details are logged).
    #[error("{0}")]
    OAuthProvider(String),
    #[error("sign-in was cancelled at {0}")]
    OAuthDenied(&'static str),
}

impl ApiError {
    pub fn validation(code: &'static str, message: impl Into<String>) -> Self {
        Self::Validation {
            code,
            message: message.into(),
        }
    }
}

impl From<platform::pagination::PageError> for ApiError {
    fn from(error: platform::pagination::PageError) -> Self {
        ApiError::BadQuery {
            code: error.code(),
            message: error.to_string(),
        }
    }
}

impl ServiceError for ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Validation { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::BadQuery { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiError::AccountDisabled => (StatusCode::FORBIDDEN, "account_disabled"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::Unauthenticated(error) => (error.status(), error.code()),
            ApiError::SessionRevoked => (StatusCode::UNAUTHORIZED, "session_revoked"),
            ApiError::InvalidRefreshToken => (StatusCode::UNAUTHORIZED, "invalid_refresh_token"),
            ApiError::RefreshTokenReused => (StatusCode::UNAUTHORIZED, "refresh_token_reused"),
            ApiError::InvalidLinkToken => (StatusCode::BAD_REQUEST, "invalid_or_expired_token"),
            ApiError::InvalidCode => (StatusCode::UNAUTHORIZED, "invalid_code"),
            ApiError::InvalidMfaToken => (StatusCode::UNAUTHORIZED, "invalid_mfa_token"),
            ApiError::InvalidPasskeyCeremony => {
                (StatusCode::BAD_REQUEST, "invalid_passkey_ceremony")
            }
            ApiError::InvalidPasskey => (StatusCode::UNAUTHORIZED, "invalid_passkey"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::OAuthNotConfigured(_) => (StatusCode::NOT_FOUND, "oauth_not_configured"),
            ApiError::InvalidOAuthState => (StatusCode::BAD_REQUEST, "invalid_oauth_state"),
            ApiError::OAuthProvider(_) => (StatusCode::BAD_GATEWAY, "oauth_provider_error"),
            ApiError::OAuthDenied(_) => (StatusCode::FORBIDDEN, "oauth_denied"),
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after } => Some(retry_after.as_secs().max(1)),
            ApiError::Busy => Some(1),
            _ => None,
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            ApiError::Internal(detail) => Some(detail),
            _ => None,
        }
    }
}

platform::respond_with_render!(ApiError);

/// Violations a caller causes become their answer; anything else is our bug (500).
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        let (code, message) = match db::Violation::of(&error) {
            Some(db::Violation::EmailTaken) => {
                ("email_taken", "an account with this email already exists")
            }
            Some(db::Violation::UsernameTaken) => ("username_taken", "this username is taken"),
            // Two GitHub callbacks for the same new identity at once: the loser lands here.
            Some(db::Violation::GithubAccountLinked) => (
                "github_account_conflict",
                "this GitHub account was just linked to an account: sign in again",
            ),
            _ => return ApiError::Internal(error.to_string()),
        };
        ApiError::Conflict { code, message }
    }
}

impl From<crate::password::HashError> for ApiError {
    fn from(error: crate::password::HashError) -> Self {
        match error {
            crate::password::HashError::Busy => ApiError::Busy,
            error => ApiError::Internal(error.to_string()),
        }
    }
}

impl From<authn::KeyError> for ApiError {
    fn from(error: authn::KeyError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<crate::rate_limit::Limited> for ApiError {
    fn from(limited: crate::rate_limit::Limited) -> Self {
        ApiError::RateLimited {
            retry_after: limited.retry_after,
        }
    }
}
