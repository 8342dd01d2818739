//! The HTTP API under `/api/memory`. Every endpoint needs an access token; users read their
//! own documents and the shared ones, admins also manage the shared ones. Each feature's
//! module owns its routes and their OpenAPI fragment; this one only puts them together.

mod batch;
mod documents;
mod edit;
mod search;
mod transfer;

use axum::{Json, Router, routing::get};
use platform::openapi::{ApiErrorBody, ApiErrorDetail, BearerAuth};
use utoipa::OpenApi;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(documents::router(&state.config))
        .merge(edit::router())
        .merge(search::router())
        .merge(batch::router())
        .merge(transfer::router(&state.config))
        .route("/openapi.json", get(|| async { Json(openapi()) }))
        .with_state(state)
}

/// The document served at `/openapi.json`: every feature's paths, the shared error body and
/// the bearer scheme they refer to.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = Service::openapi()
        .merge_from(documents::Api::openapi())
        .merge_from(edit::Api::openapi())
        .merge_from(search::Api::openapi())
        .merge_from(batch::Api::openapi())
        .merge_from(transfer::Api::openapi());
    platform::openapi::document_shared_answers(&mut doc);
    doc
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "DevMentor memory",
        description = "Documents, chunks and semantic search. Vectors live in the vector index \
                       under the chunk's id; PostgreSQL holds the text and metadata."
    ),
    components(schemas(ApiErrorBody, ApiErrorDetail)),
    modifiers(&BearerAuth)
)]
struct Service;
