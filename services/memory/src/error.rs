//! `ApiError`: every way a memory request can fail. Its status, code and logged detail are
//! declared here once (`platform::error::render` draws the shared JSON shape from them), and
//! so is how each failure is documented in the OpenAPI spec ([`documented`]).

use embed::EmbedError;
use platform::error::StatusCode;
use vector::VectorError;

platform::service_error! {
    /// Besides these, `Validation`, `BadRequest` (a query parameter that cannot be used, such
    /// as a bad `limit` or `cursor`), `Forbidden`, `Conflict` and `Internal`, as in every
    /// service (`platform::service_error!`).
    #[derive(Debug, thiserror::Error)]
    pub enum ApiError {
        #[error("{0}")]
        TooLarge(String) => (PAYLOAD_TOO_LARGE, "document_too_large"),
        #[error(transparent)]
        Unauthenticated(#[from] authn::AuthError) => |error| (error.status(), error.code()),
        #[error("{0}")]
        NotFound(&'static str) => (NOT_FOUND, "not_found"),
        /// The embedding provider failed, refused or answered nonsense; nothing was stored. The
        /// detail (the provider's URL, status, error text) is logged, never shown: it describes
        /// our infrastructure, and a provider's error text can echo request data.
        #[error("the embedding service is unavailable; nothing was stored: try again later")]
        EmbeddingUnavailable(String) => (SERVICE_UNAVAILABLE, "embedding_unavailable") logged,
        /// The vector index cannot answer a search right now; the detail is logged, never shown.
        #[error("the search index is unavailable: try again later")]
        IndexUnavailable(String) => (SERVICE_UNAVAILABLE, "vector_index_unavailable") logged,
        /// Every export place is taken ([`crate::transfer::export::ExportSlots`]): each
        /// running export holds a pooled connection, and more would starve other requests.
        #[error("too many exports are running: retry in a few seconds")]
        ExportBusy => (SERVICE_UNAVAILABLE, "export_busy"),
    }

    /// Every 503 is for now: a dependency that is down (the embedder, the index, the session
    /// store) or every export place taken, so each one says when to come back.
    fn retry_after_secs(&self) -> Option<u64> {
        (self.status_and_code().0 == StatusCode::SERVICE_UNAVAILABLE).then_some(RETRY_AFTER_SECS)
    }
}

/// What a 503 asks clients to wait: long enough for a provider or index restart to be
/// noticed (or a small export to finish), short enough for someone waiting on an answer.
const RETRY_AFTER_SECS: u64 = 5;

/// Violations a caller causes become their answer, a pool that stayed exhausted is 503
/// `busy`; anything else is our bug (500).
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if matches!(error, sqlx::Error::PoolTimedOut) {
            return ApiError::DatabaseBusy(error.to_string());
        }
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
            other => ApiError::EmbeddingUnavailable(format!("embedding provider failed: {other}")),
        }
    }
}

impl From<VectorError> for ApiError {
    fn from(error: VectorError) -> Self {
        match error {
            VectorError::Unavailable(message) => {
                ApiError::IndexUnavailable(format!("vector index failed: {message}"))
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// The failures several endpoints document alike in the OpenAPI spec, one type per answer, so
/// a handler's `#[utoipa::path(responses(...))]` names the ones it can give and each
/// description is written once (an answer particular to one endpoint stays with it). The
/// body is always the shared error shape.
pub mod documented {
    use platform::openapi::ApiErrorBody;
    use utoipa::IntoResponses;

    pub use platform::openapi::Unauthenticated;

    #[derive(IntoResponses)]
    #[response(status = 403, description = "shared documents are managed by admins")]
    pub struct AdminsOnly(pub ApiErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 404, description = "no such document, or not yours")]
    pub struct NotYours(pub ApiErrorBody);

    #[derive(IntoResponses)]
    #[response(
        status = 400,
        description = "invalid_query, invalid_limit or invalid_cursor: a query parameter cannot be used"
    )]
    pub struct BadQuery(pub ApiErrorBody);

    #[derive(IntoResponses)]
    #[response(
        status = 422,
        description = "a field breaks a rule; the code says which"
    )]
    pub struct Invalid(pub ApiErrorBody);
}

#[cfg(test)]
mod tests {
    use axum::{http::header, response::IntoResponse};

    use super::*;

    #[test]
    fn an_unavailable_dependency_says_when_to_retry() {
        let error = ApiError::from(VectorError::Unavailable("qdrant: refused".into()));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }

    #[test]
    fn a_broken_rule_sends_no_retry_after() {
        let response =
            ApiError::validation("invalid_search_query", "query must not be blank").into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
