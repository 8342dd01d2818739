//! Search over the chunks a user may read (by meaning, by words, or both: see
//! [`crate::search`]) and the index status. This module is the HTTP edge: it checks the
//! request, runs the search and draws the answer.

mod request;
mod view;

use authn::AuthUser;
use axum::{
    Router,
    extract::State,
    routing::{get, post},
};
use platform::{extract::Json, openapi::ApiErrorBody};
use utoipa::OpenApi;
use vector::{Condition, Filter};

pub use self::{request::ScopeParam, view::DocumentFields};
use self::{
    request::SearchRequest,
    view::{IndexStatusView, SearchView, StatusScope},
};
use crate::{
    error::{
        ApiError,
        documented::{Invalid, Unauthenticated},
    },
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/memory/search", post(search))
        .route("/api/memory/status", get(status))
}

#[derive(OpenApi)]
#[openapi(
    paths(search, status),
    tags((name = "search", description = "Search by meaning, by words, or both, over the chunks you may read"))
)]
pub struct Api;

#[utoipa::path(post, path = "/api/memory/search", tag = "search", security(("bearer" = [])),
    request_body = SearchRequest,
    responses(
        (status = 200, description = "best first; only documents you may read. `mode` says how \
            they were ranked (and what `score` means); `degraded` is true when the vector index \
            or the embedding provider was unavailable and a `vector` or `hybrid` search was \
            answered lexically", body = SearchView),
        (status = 503, description = "the session cannot be checked right now \
            (`auth_unavailable`). An unavailable vector index or embedding provider does not \
            fail a search: it is answered lexically, `degraded`", body = ApiErrorBody),
        Unauthenticated, Invalid))]
pub async fn search(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<SearchRequest>,
) -> Result<axum::Json<SearchView>, ApiError> {
    let search = request.checked(&user, &state.config.memory_search_language)?;
    let answer = crate::search::run(&state, &search).await?;
    Ok(axum::Json(answer.into()))
}

#[utoipa::path(get, path = "/api/memory/status", tag = "search", security(("bearer" = [])),
    responses(
        (status = 200, description = "index backend, model and backlog: of your own documents, \
            or of all documents for an admin (`scope`)", body = IndexStatusView),
        (status = 503, description = "the vector index is unavailable", body = ApiErrorBody),
        Unauthenticated))]
pub async fn status(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<IndexStatusView>, ApiError> {
    let indexer = &state.indexer;
    let (scope, (chunks, pending_chunks), owner) = if user.role.is_admin() {
        let counts = db::memory::chunks::counts(&state.pool).await?;
        (StatusScope::All, counts, None)
    } else {
        let counts = db::memory::chunks::counts_of_owner(&state.pool, user.user_id).await?;
        let owner = Filter::must(Condition::keyword("owner", user.user_id.to_string()));
        (StatusScope::Own, counts, Some(owner))
    };
    let vectors = indexer
        .index
        .count(&indexer.collection, owner.as_ref())
        .await?;
    Ok(axum::Json(IndexStatusView {
        scope,
        backend: indexer.index.backend(),
        collection: indexer.collection.to_string(),
        model: indexer.embedder.model().to_owned(),
        dimension: indexer.embedder.dimension(),
        chunks,
        pending_chunks,
        vectors,
    }))
}
