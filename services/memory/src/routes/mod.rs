//! The HTTP API under `/api/memory`. Every endpoint needs an access token; users read their
//! own documents and the shared ones, admins also manage the shared ones.

mod docs;
mod documents;
mod search;
pub mod views;

use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};

use crate::state::AppState;

/// JSON framing on top of the largest accepted text (escaping can double it in the worst
/// case; the handler checks the decoded text against the exact limit).
fn ingest_body_limit(max_document_bytes: usize) -> usize {
    max_document_bytes
        .saturating_mul(2)
        .saturating_add(64 * 1024)
}

pub fn router(state: AppState) -> Router {
    let body_limit = ingest_body_limit(state.config.memory_max_document_bytes);
    Router::new()
        .route(
            "/api/memory/documents",
            post(documents::ingest)
                .layer(DefaultBodyLimit::max(body_limit))
                .get(documents::list),
        )
        .route(
            "/api/memory/documents/{id}",
            get(documents::show).delete(documents::remove),
        )
        .route("/api/memory/search", post(search::search))
        .route("/api/memory/status", get(search::status))
        .route("/openapi.json", get(openapi))
        .with_state(state)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi as _;
    Json(docs::ApiDoc::openapi())
}
