//! Semantic search and the index status.

use authn::AuthUser;
use axum::extract::State;
use platform::extract::Json;
use platform::openapi::ApiErrorBody;

use super::views::{IndexStatusView, SearchView};
use crate::{AppState, error::ApiError, search::SearchRequest};

#[utoipa::path(post, path = "/api/memory/search", tag = "search", security(("bearer" = [])),
    request_body = SearchRequest,
    responses(
        (status = 200, description = "best first; only documents you may read", body = SearchView),
        (status = 401, description = "missing, invalid or expired token", body = ApiErrorBody),
        (status = 422, description = "a field breaks a rule; the code says which", body = ApiErrorBody),
        (status = 503, description = "the embedding provider or the vector index is unavailable", body = ApiErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<SearchRequest>,
) -> Result<axum::Json<SearchView>, ApiError> {
    let hits = crate::search::search(&state, &user, request).await?;
    Ok(axum::Json(SearchView {
        results: hits.into_iter().map(Into::into).collect(),
        model: state.indexer.embedder.model().to_owned(),
    }))
}

#[utoipa::path(get, path = "/api/memory/status", tag = "search", security(("bearer" = [])),
    responses(
        (status = 200, description = "index backend, model and backlog", body = IndexStatusView),
        (status = 401, description = "missing, invalid or expired token", body = ApiErrorBody),
        (status = 503, description = "the vector index is unavailable", body = ApiErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<axum::Json<IndexStatusView>, ApiError> {
    let indexer = &state.indexer;
    let (chunks, pending_chunks) = db::memory::chunks::counts(&state.pool).await?;
    let vectors = indexer.index.count(&indexer.collection, None).await?;
    Ok(axum::Json(IndexStatusView {
        backend: indexer.index.backend(),
        collection: indexer.collection.clone(),
        model: indexer.embedder.model().to_owned(),
        dimension: indexer.embedder.dimension(),
        chunks,
        pending_chunks,
        vectors,
    }))
}
