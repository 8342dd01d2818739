//! Ingesting, listing, reading and deleting documents.

use authn::AuthUser;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use db::memory::DocumentFilter;
use platform::extract::{Json, Path, Query};
use platform::openapi::ApiErrorBody;
use serde::Deserialize;
use uuid::Uuid;

use super::views::{DocumentPage, DocumentWithChunks, IngestView};
use crate::search::ScopeParam;
use crate::{
    AppState,
    error::ApiError,
    ingest::{self, IngestRequest, Outcome},
};

#[utoipa::path(post, path = "/api/memory/documents", tag = "documents", security(("bearer" = [])),
    request_body = IngestRequest,
    responses(
        (status = 201, description = "stored and indexed (or indexing: see pending_chunks)", body = IngestView),
        (status = 200, description = "same source + external_id: updated, or unchanged", body = IngestView),
        (status = 401, description = "missing, invalid or expired token", body = ApiErrorBody),
        (status = 403, description = "shared documents are for admins", body = ApiErrorBody),
        (status = 409, description = "the same document is being ingested concurrently", body = ApiErrorBody),
        (status = 413, description = "content over MEMORY_MAX_DOCUMENT_BYTES", body = ApiErrorBody),
        (status = 422, description = "a field breaks a rule; the code says which", body = ApiErrorBody),
        (status = 503, description = "the embedding provider is unavailable; nothing stored", body = ApiErrorBody)))]
pub async fn ingest(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<IngestRequest>,
) -> Result<Response, ApiError> {
    let (id, outcome) = ingest::ingest(&state, &user, request).await?;
    let document = db::memory::documents::get_visible(&state.pool, id, user.user_id)
        .await?
        // Deleted by a concurrent request between our commit and this read.
        .ok_or(ApiError::NotFound("the document was deleted meanwhile"))?;
    let status = match outcome {
        Outcome::Created => StatusCode::CREATED,
        Outcome::Updated | Outcome::Unchanged => StatusCode::OK,
    };
    let body = IngestView {
        status: outcome.as_str(),
        document: document.into(),
    };
    Ok((status, axum::Json(body)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `all` (default), `mine` or `shared`.
    #[param(inline)]
    scope: Option<ScopeParam>,
    source: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Documents carrying this tag.
    tag: Option<String>,
    /// 1-100, default 20.
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/memory/documents", tag = "documents", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "newest first", body = DocumentPage),
        (status = 401, description = "missing, invalid or expired token", body = ApiErrorBody),
        (status = 422, description = "bad limit or cursor", body = ApiErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<DocumentPage>, ApiError> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation(
            "invalid_limit",
            "limit must be between 1 and 100",
        ));
    }
    let after = match query.cursor.as_deref() {
        Some(cursor) => Some(platform::pagination::decode_cursor(cursor).ok_or_else(|| {
            ApiError::validation("invalid_cursor", platform::pagination::INVALID_CURSOR)
        })?),
        None => None,
    };
    let filter = DocumentFilter {
        scope: query.scope.map(Into::into).unwrap_or_default(),
        source: query.source,
        kind: query.kind,
        tag: query.tag,
    };
    let mut documents =
        db::memory::documents::list_visible(&state.pool, user.user_id, &filter, after, limit + 1)
            .await?;
    let next_cursor = if documents.len() as i64 > limit {
        documents.truncate(limit as usize);
        documents
            .last()
            .map(|last| platform::pagination::encode_cursor(last.created_at, last.id))
    } else {
        None
    };
    Ok(axum::Json(DocumentPage {
        documents: documents.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/api/memory/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "the document and its chunks in order", body = DocumentWithChunks),
        (status = 401, description = "missing, invalid or expired token", body = ApiErrorBody),
        (status = 404, description = "no such document, or not yours", body = ApiErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<DocumentWithChunks>, ApiError> {
    let document = db::memory::documents::get_visible(&state.pool, id, user.user_id)
        .await?
        .ok_or(NOT_FOUND)?;
    let chunks = db::memory::chunks::of_document(&state.pool, id).await?;
    Ok(axum::Json(DocumentWithChunks {
        document: document.into(),
        chunks: chunks.into_iter().map(Into::into).collect(),
    }))
}

const NOT_FOUND: ApiError = ApiError::NotFound("no such document");

#[utoipa::path(delete, path = "/api/memory/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "deleted, with its chunks and vectors"),
        (status = 401, description = "missing, invalid or expired token", body = ApiErrorBody),
        (status = 403, description = "shared documents are deleted by admins", body = ApiErrorBody),
        (status = 404, description = "no such document, or not yours", body = ApiErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.pool.begin().await?;
    match db::memory::documents::owner_of(&mut *tx, id).await? {
        Some(Some(owner)) if owner == user.user_id => {}
        Some(None) if user.role.is_admin() => {}
        Some(None) => return Err(ApiError::Forbidden("only admins delete shared documents")),
        Some(Some(_)) | None => return Err(NOT_FOUND),
    }
    let chunk_ids = db::memory::documents::delete(&mut tx, id).await?;
    tx.commit().await?;
    if let Err(error) = state.indexer.remove(&chunk_ids).await {
        // The rows are gone, so searches already skip these vectors; they only cost space.
        tracing::warn!(%error, document_id = %id, "vectors of a deleted document not removed");
    }
    Ok(StatusCode::NO_CONTENT)
}
