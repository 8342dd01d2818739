//! Ingesting, listing, reading and deleting documents: the routes, their OpenAPI fragment
//! and the shapes they answer with.

use authn::AuthUser;
use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use db::memory::{Chunk, Document, DocumentFilter};
use platform::{
    extract::{Json, Path, Query},
    openapi::ApiErrorBody,
    pagination::{Page, PageRequest},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::search::{DocumentFields, ScopeParam};
use crate::{
    config::MemoryConfig,
    error::{
        ApiError,
        documented::{AdminsOnly, BadQuery, Invalid, NotYours, Unauthenticated},
    },
    ingest::{self, IngestRequest, Outcome},
    state::AppState,
};

pub fn router(config: &MemoryConfig) -> Router<AppState> {
    let body_limit = ingest_body_limit(config.memory_max_document_bytes);
    Router::new()
        .route(
            "/api/memory/documents",
            post(ingest)
                .layer(DefaultBodyLimit::max(body_limit))
                .get(list),
        )
        .route("/api/memory/documents/{id}", get(show).delete(remove))
}

#[derive(OpenApi)]
#[openapi(
    paths(ingest, list, show, remove),
    tags((name = "documents", description = "Ingest, list, read and delete documents"))
)]
pub struct Api;

/// JSON framing on top of the largest accepted text (escaping can double it in the worst
/// case; the handler checks the decoded text against the exact limit).
fn ingest_body_limit(max_document_bytes: usize) -> usize {
    max_document_bytes
        .saturating_mul(2)
        .saturating_add(64 * 1024)
}

#[utoipa::path(post, path = "/api/memory/documents", tag = "documents", security(("bearer" = [])),
    request_body = IngestRequest,
    responses(
        (status = 201, description = "stored and indexed (or indexing: see pending_chunks)", body = IngestView),
        (status = 200, description = "same source + external_id: updated, or unchanged; without \
            external_id, a text you have stored already: unchanged, with the stored document", body = IngestView),
        (status = 409, description = "the same document is being ingested concurrently", body = ApiErrorBody),
        (status = 413, description = "content over MEMORY_MAX_DOCUMENT_BYTES", body = ApiErrorBody),
        (status = 503, description = "the embedding provider is unavailable; nothing stored", body = ApiErrorBody),
        Unauthenticated, AdminsOnly, Invalid))]
pub async fn ingest(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<IngestRequest>,
) -> Result<Response, ApiError> {
    let (document, outcome) = ingest::ingest(&state, &user, request).await?;
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
#[into_params(parameter_in = Query)]
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
    /// Documents in any of these projects: comma-separated ids (at most 100).
    #[param(example = "0193f1c2-7e4b-7c1d-9a2e-3f5d6c7b8a90,0193f1c2-8a11-7f3e-b1c4-2d9e8f7a6b50")]
    project_ids: Option<String>,
    /// 1-100, default 50.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/memory/documents", tag = "documents", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, description = "newest first", body = Page<DocumentView>),
        Unauthenticated, BadQuery, Invalid))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<Page<DocumentView>>, ApiError> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let filter = DocumentFilter {
        scope: query.scope.map(Into::into).unwrap_or_default(),
        source: query.source,
        kind: query.kind,
        tag: query.tag,
        project_ids: match query.project_ids.as_deref().map(project_ids).transpose()? {
            // `project_ids=` filters on nothing, as an absent parameter.
            Some(ids) if ids.is_empty() => None,
            ids => ids,
        },
    };
    let documents = db::memory::documents::list_visible(
        &state.pool,
        user.user_id,
        &filter,
        page.after,
        page.fetch_limit(),
    )
    .await?;
    Ok(axum::Json(Page::from_rows(
        documents,
        &page,
        |document| (document.created_at, document.id),
        DocumentView::from,
    )))
}

#[utoipa::path(get, path = "/api/memory/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "the document and its chunks in order", body = DocumentWithChunks),
        Unauthenticated, NotYours))]
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

/// Most projects one listing filters on.
const MAX_PROJECT_IDS: usize = 100;

/// `project_ids` as sent: ids separated by commas (blanks between them ignored).
fn project_ids(list: &str) -> Result<Vec<Uuid>, ApiError> {
    let ids = list
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse().map_err(|_| {
                ApiError::bad_request(
                    "invalid_query",
                    "project_ids must be project ids separated by commas",
                )
            })
        })
        .collect::<Result<Vec<Uuid>, _>>()?;
    if ids.len() > MAX_PROJECT_IDS {
        return Err(ApiError::validation(
            "too_many_filter_values",
            format!("at most {MAX_PROJECT_IDS} project_ids"),
        ));
    }
    Ok(ids)
}

const NOT_FOUND: ApiError = ApiError::NotFound("no such document");

#[utoipa::path(delete, path = "/api/memory/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "deleted, with its chunks and vectors"),
        Unauthenticated, AdminsOnly, NotYours))]
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.pool.begin().await?;
    match db::memory::documents::owner_of(&mut *tx, id).await? {
        Some(Some(owner)) if owner == user.user_id => {}
        Some(None) if user.role.is_admin() => user.require_aal2()?,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub id: Uuid,
    /// Absent for shared documents.
    pub owner_id: Option<Uuid>,
    pub shared: bool,
    #[serde(flatten)]
    pub fields: DocumentFields,
    /// The project it belongs to (absent: none, or the project was deleted).
    pub project_id: Option<Uuid>,
    /// SHA-256 of the text, lower-case hex.
    pub content_hash: Option<String>,
    /// 1 when stored, +1 on every edit and every re-ingestion that changed it: what an edit
    /// (`PATCH`) names as the version it is based on.
    #[schema(minimum = 1)]
    pub version: i32,
    pub chunk_count: i64,
    /// Chunks whose vector is not in the index yet (searchable once 0).
    pub pending_chunks: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Document> for DocumentView {
    fn from(document: Document) -> Self {
        Self {
            id: document.id,
            owner_id: document.owner_id,
            shared: document.owner_id.is_none(),
            fields: DocumentFields {
                source: document.source,
                external_id: document.external_id,
                kind: document.kind,
                path: document.path,
                title: document.title,
                tags: document.tags,
                metadata: document.metadata,
            },
            project_id: document.project_id,
            content_hash: document.content_hash,
            version: document.version,
            chunk_count: document.chunk_count,
            pending_chunks: document.pending_chunks,
            created_at: document.created_at,
            updated_at: document.updated_at,
        }
    }
}

/// The answer to an ingestion.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestView {
    /// `created`, `updated` (same source + external_id, new content) or `unchanged`.
    #[schema(example = "created")]
    pub status: &'static str,
    pub document: DocumentView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkView {
    pub id: Uuid,
    pub index: i32,
    pub content: String,
    /// The model that made the chunk's vector; absent while pending.
    pub embedding_model: Option<String>,
    pub embedding_dim: Option<i32>,
    pub indexed: bool,
    /// Where the chunk lies in the text: `byte_offset`, `byte_length`.
    #[schema(value_type = Object)]
    pub metadata: Value,
}

impl From<Chunk> for ChunkView {
    fn from(chunk: Chunk) -> Self {
        Self {
            id: chunk.id,
            index: chunk.chunk_index,
            content: chunk.content,
            embedding_model: chunk.embedding_model,
            embedding_dim: chunk.embedding_dim,
            indexed: chunk.indexed,
            metadata: chunk.metadata,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentWithChunks {
    #[serde(flatten)]
    pub document: DocumentView,
    pub chunks: Vec<ChunkView>,
}
