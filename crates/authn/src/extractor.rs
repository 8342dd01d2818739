//! `AuthUser`: the handler argument that proves a request carries a valid access token.

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use crate::{Aal, LiveSessions, Role, TokenVerifier};

/// The verified bearer of an access token whose session is live; `role` is the user's
/// current role (read with the session), not the one the token was issued with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub role: Role,
    /// The token's assurance level.
    pub aal: Aal,
    /// Whether the user has a confirmed second factor now (read with the session, like
    /// `role`): a factor enrolled after the token was signed counts at once.
    pub has_second_factor: bool,
}

impl AuthUser {
    /// The check every sensitive action makes (deleting or transferring a project, changing
    /// email or password, removing a factor, admin actions): a user with a second factor must
    /// have proved it recently (`aal2`); one without passes at `aal1`, having nothing to step
    /// up with. Refused with 403 `step_up_required`: `POST /api/auth/step-up`, then retry.
    pub fn require_aal2(&self) -> Result<(), AuthError> {
        if self.has_second_factor && self.aal < Aal::Aal2 {
            return Err(AuthError::StepUpRequired);
        }
        Ok(())
    }
}

/// Why a request was not authenticated: a 401 with a distinct code, a 403 when the token is
/// valid but too weak for the action, or a 503 when the session could not be checked.
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
    #[error(
        "this action needs a recent second factor: confirm a code at POST /api/auth/step-up, \
         then retry with the access token it returns"
    )]
    StepUpRequired,
}

impl AuthError {
    pub fn code(self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::InvalidToken => "invalid_token",
            AuthError::TokenExpired => "token_expired",
            AuthError::SessionEnded => "session_revoked",
            AuthError::Unavailable => "auth_unavailable",
            AuthError::StepUpRequired => "step_up_required",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            AuthError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::StepUpRequired => StatusCode::FORBIDDEN,
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
