//! `ApiError`: every way a project request can fail, rendered in the shared JSON shape.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Well-formed input that breaks a rule (bad slug, unknown epic, ...): 422.
    #[error("{message}")]
    Validation { code: &'static str, message: String },
    /// Malformed request parameters (bad cursor, ...): 400.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error(transparent)]
    Unauthenticated(#[from] authn::AuthError),
    /// Someone else's project that the caller may see but not change (admins reading).
    #[error("{0}")]
    Forbidden(&'static str),
    /// Missing, deleted, or someone else's: the three are indistinguishable on purpose.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(
        "this {entity} was changed by someone else (now at version {current}): reload and retry"
    )]
    VersionConflict { entity: &'static str, current: i32 },
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: &'static str,
    },
    #[error("files are limited to {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    #[error("an internal error occurred")]
    Internal(String),
}

impl ApiError {
    pub fn validation(code: &'static str, message: impl Into<String>) -> Self {
        Self::Validation {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Validation { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthenticated(error) => (error.status(), error.code()),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::VersionConflict { .. } => (StatusCode::CONFLICT, "version_conflict"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let (status, code) = self.status_and_code();
        let mut response = platform::error_response(status, code, &self.to_string());
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Maps constraint violations to what the caller did wrong; anything else is our bug (500).
/// Most rules are also checked before the query; these are the backstop (and the race
/// loser's answer). The messages state the limits the migrations enforce.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        use db::Violation as V;
        let Some(violation) = V::of(&error) else {
            return ApiError::Internal(error.to_string());
        };
        let invalid = |code, message: &str| ApiError::validation(code, message);
        match violation {
            V::ProjectSlugTaken => ApiError::Conflict {
                code: "slug_taken",
                message: "you already have a project with this slug",
            },
            V::InvalidProjectName => invalid("invalid_name", "name must be 1 to 200 characters"),
            V::InvalidProjectSlug => invalid(
                "invalid_slug",
                "slug must be lower-case letters and digits separated by single hyphens, at most 100 characters",
            ),
            V::InvalidEpicTitle => invalid("invalid_title", "title must be 1 to 200 characters"),
            V::InvalidTaskTitle => invalid("invalid_title", "title must be 1 to 500 characters"),
            V::EpicTargetBeforeStart => {
                invalid("invalid_dates", "target_date must not be before start_date")
            }
            V::NonFinitePosition => invalid("invalid_position", "position must be a finite number"),
            V::NegativeEstimate => invalid("invalid_estimate", "estimate must not be negative"),
            V::UnknownEpic => invalid("unknown_epic", "no such epic in this project"),
            V::UnknownAssignee => invalid("unknown_assignee", "no such user to assign"),
            V::CompletedTaskStillOpen => invalid(
                "invalid_status",
                "completed_at needs status done or cancelled",
            ),
            V::InvalidFilePath => invalid(
                "invalid_file_path",
                "file paths are relative, without '.', '..' or empty segments, backslashes or control characters",
            ),
            V::InvalidFileMimeType => invalid(
                "invalid_content_type",
                "Content-Type must be a media type such as text/plain",
            ),
            V::FileTooLarge => ApiError::PayloadTooLarge {
                limit: crate::storage::MAX_FILE_BYTES,
            },
            V::FileVersionTaken => ApiError::Conflict {
                code: "upload_conflict",
                message: "another upload of this path finished first: retry",
            },
            // Account and document violations: other services' tables, so a bug if seen here.
            _ => ApiError::Internal(error.to_string()),
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(error: std::io::Error) -> Self {
        ApiError::Internal(format!("file storage: {error}"))
    }
}
