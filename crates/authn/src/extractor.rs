//! `AuthUser`: the handler argument that proves a request carries a valid access token.

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use crate::{LiveSessions, Role, TokenVerifier};

/// The verified bearer of an access token whose session is live; `role` is the user's
/// current role (read with the session), not the one the token was issued with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub role: Role,
}

/// Why a request was not authenticated: a 401 with a distinct code, or a 503 when the
/// session could not be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("this endpoint needs an access token: send `Authorization: Bearer <token>`")]
    MissingToken,
    #[error("the access token is invalid")]
    InvalidToken,
    #[error("the access token has expired: refresh it")]
    TokenExpired,
    #[error("this session has ended: log in again")]
    SessionEnded,
    #[error("the session cannot be checked right now: try again shortly")]
    Unavailable,
}

impl AuthError {
    pub fn code(self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::InvalidToken => "invalid_token",
            AuthError::TokenExpired => "token_expired",
            AuthError::SessionEnded => "session_revoked",
            AuthError::Unavailable => "auth_unavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            AuthError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut response = platform::error_response(self.status(), self.code(), &self.to_string());
        if self.status() == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    TokenVerifier: FromRef<S>,
    LiveSessions: FromRef<S>,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(AuthError::MissingToken)?;
        let claims = TokenVerifier::from_ref(state).verify(token)?;
        LiveSessions::from_ref(state).check(claims).await
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
