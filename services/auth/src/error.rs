//! `ApiError`: every way an auth request can fail, and the one place its causes (constraint
//! violations, hashing, keys, rate limits) become answers. Rendering is `platform`'s.

use std::time::Duration;

platform::service_error! {
    /// Besides these, `Validation`, `BadRequest`, `Forbidden`, `Conflict` and `Internal`, as
    /// in every service (`platform::service_error!`).
    #[derive(Debug, thiserror::Error)]
    pub enum ApiError {
        #[error("wrong email/username or password")]
        InvalidCredentials => (UNAUTHORIZED, "invalid_credentials"),
        #[error("this account is deactivated")]
        AccountDisabled => (FORBIDDEN, "account_disabled"),
        #[error("too many requests: retry in {} s", .retry_after.as_secs().max(1))]
        RateLimited { retry_after: Duration } => (TOO_MANY_REQUESTS, "rate_limited"),
        #[error(transparent)]
        Unauthenticated(#[from] authn::AuthError) => |error| (error.status(), error.code()),
        #[error("this session has ended: log in again")]
        SessionRevoked => (UNAUTHORIZED, "session_revoked"),
        #[error("the refresh token is invalid or expired: log in again")]
        InvalidRefreshToken => (UNAUTHORIZED, "invalid_refresh_token"),
        #[error("this refresh token was already used; the session has been revoked for safety")]
        RefreshTokenReused => (UNAUTHORIZED, "refresh_token_reused"),
        #[error("this link is invalid, already used or expired: ask for a new one")]
        InvalidLinkToken => (BAD_REQUEST, "invalid_or_expired_token"),
        /// A wrong, replayed or spent second-factor code (TOTP or recovery code).
        #[error("this code is wrong or was already used: try the next one")]
        InvalidCode => (UNAUTHORIZED, "invalid_code"),
        #[error("this sign-in has expired or was already completed: log in again")]
        InvalidMfaToken => (UNAUTHORIZED, "invalid_mfa_token"),
        /// A passkey ceremony that is unknown, already finished, expired or someone else's.
        #[error("this passkey request is unknown, already used or expired: start again")]
        InvalidPasskeyCeremony => (BAD_REQUEST, "invalid_passkey_ceremony"),
        /// A passkey assertion refused: unknown credential, bad signature or origin, no user
        /// verification, or a signature counter that went backwards (a cloned authenticator).
        #[error("this passkey was not accepted")]
        InvalidPasskey => (UNAUTHORIZED, "invalid_passkey"),
        #[error("{0}")]
        NotFound(&'static str) => (NOT_FOUND, "not_found"),
        #[error("the server is busy: retry in a second")]
        Busy => (SERVICE_UNAVAILABLE, "busy"),
        #[error("{0} sign-in is not configured on this server")]
        OAuthNotConfigured(&'static str) => (NOT_FOUND, "oauth_not_configured"),
        #[error("this sign-in is unknown, used, expired or from another browser: start again")]
        InvalidOAuthState => (BAD_REQUEST, "invalid_oauth_state"),
        /// The provider failed or refused; the message is safe to show (details are logged).
        #[error("{0}")]
        OAuthProvider(String) => (BAD_GATEWAY, "oauth_provider_error"),
        #[error("sign-in was cancelled at {0}")]
        OAuthDenied(&'static str) => (FORBIDDEN, "oauth_denied"),
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after } => Some(retry_after.as_secs().max(1)),
            ApiError::Busy => Some(1),
            _ => None,
        }
    }
}

/// Violations a caller causes become their answer, a pool that stayed exhausted is 503
/// `busy`; anything else is our bug (500).
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if matches!(error, sqlx::Error::PoolTimedOut) {
            return ApiError::DatabaseBusy(error.to_string());
        }
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
            _ => return ApiError::internal(error),
        };
        ApiError::Conflict { code, message }
    }
}

impl From<crate::password::HashError> for ApiError {
    fn from(error: crate::password::HashError) -> Self {
        match error {
            crate::password::HashError::Busy => ApiError::Busy,
            error => ApiError::internal(error),
        }
    }
}

impl From<authn::KeyError> for ApiError {
    fn from(error: authn::KeyError) -> Self {
        ApiError::internal(error)
    }
}

impl From<crate::rate_limit::Limited> for ApiError {
    fn from(limited: crate::rate_limit::Limited) -> Self {
        ApiError::RateLimited {
            retry_after: limited.retry_after,
        }
    }
}
