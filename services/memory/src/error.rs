//! `ApiError`: every way a memory request can fail, rendered in the shared JSON shape.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use embed::EmbedError;
use vector::VectorError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Validation { code: &'static str, message: String },
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Unauthenticated(#[from] authn::AuthError),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: &'static str,
    },
    /// The embedding provider failed, refused or answered nonsense; nothing was stored. The
    /// detail (the provider's URL, status, error text) is logged, never shown: it describes
    /// our infrastructure, and a provider's error text can echo request data.
    #[error("the embedding service is unavailable; nothing was stored: try again later")]
    EmbeddingUnavailable(String),
    /// The vector index cannot answer a search right now; the detail is logged, never shown.
    #[error("the search index is unavailable: try again later")]
    IndexUnavailable(String),
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

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Validation { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "document_too_large"),
            ApiError::Unauthenticated(error) => (error.status(), error.code()),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::EmbeddingUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "embedding_unavailable")
            }
            ApiError::IndexUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "vector_index_unavailable")
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Logged inside the request's span, so with its request id; the answer stays generic.
        match &self {
            ApiError::Internal(detail) => tracing::error!(%detail, "internal error"),
            ApiError::EmbeddingUnavailable(detail) => {
                tracing::warn!(%detail, "embedding provider failed")
            }
            ApiError::IndexUnavailable(detail) => tracing::warn!(%detail, "vector index failed"),
            _ => {}
        }
        let (status, code) = self.status_and_code();
        let mut response = platform::error_response(status, code, &self.to_string());
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// Violations a caller causes become their answer; anything else is our bug (500).
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match db::Violation::of(&error) {
            Some(db::Violation::DocumentExternalIdTaken) => ApiError::Conflict {
                code: "ingest_conflict",
                message: "this document is being ingested by another request: retry",
            },
            _ => ApiError::Internal(error.to_string()),
        }
    }
}

impl From<EmbedError> for ApiError {
    fn from(error: EmbedError) -> Self {
        match error {
            // About the caller's own text (e.g. no words to embed): safe and useful to show.
            EmbedError::InvalidInput(message) => ApiError::validation("not_embeddable", message),
            EmbedError::Config(_) | EmbedError::DimensionMismatch { .. } => {
                ApiError::Internal(error.to_string())
            }
            other => ApiError::EmbeddingUnavailable(other.to_string()),
        }
    }
}

impl From<VectorError> for ApiError {
    fn from(error: VectorError) -> Self {
        match error {
            VectorError::Unavailable(message) => ApiError::IndexUnavailable(message),
            other => ApiError::Internal(other.to_string()),
        }
    }
}
