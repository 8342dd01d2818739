//! Semantic search and the index status. A search embeds the query, asks the vector index
//! for the nearest chunks the user may read, then loads those chunks and their documents
//! from PostgreSQL, the record: vectors whose chunk is gone simply drop out.

use std::collections::HashMap;

use authn::AuthUser;
use axum::{
    Router,
    extract::State,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use db::memory::{ChunkHit, Scope};
use platform::{extract::Json, openapi::ApiErrorBody};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;
use vector::{Condition, DatetimeRange, Filter};

use crate::{
    error::{
        ApiError,
        documented::{Invalid, Unauthenticated},
    },
    indexing::SHARED_OWNER,
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
    tags((name = "search", description = "Semantic search over the chunks you may read"))
)]
pub struct Api;

/// `POST /api/memory/search`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// What to look for, in natural language (1-2000 characters).
    #[schema(
        example = "how do lifetimes relate to borrowing?",
        min_length = 1,
        max_length = 2000,
        pattern = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub query: String,
    /// Results to return, 1-50 (default 10).
    #[schema(minimum = 1, maximum = 50)]
    #[serde(
        default,
        deserialize_with = "platform::extract::whole_number::optional"
    )]
    pub limit: Option<usize>,
    /// `all` (default: your documents and shared ones), `mine` or `shared`.
    pub scope: Option<ScopeParam>,
    /// Only documents from these sources (at most 100).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub sources: Vec<String>,
    /// Only documents of these types (at most 100).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub types: Vec<String>,
    /// Only documents carrying at least one of these tags (at most 100).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub tags: Vec<String>,
    /// Only these documents (at most 100).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub document_ids: Vec<Uuid>,
    /// Only documents ingested at or after this time (RFC 3339).
    pub created_after: Option<DateTime<Utc>>,
    /// Only documents ingested before this time (RFC 3339).
    pub created_before: Option<DateTime<Utc>>,
    /// Drop hits scoring below this cosine similarity (-1 to 1).
    #[schema(minimum = -1, maximum = 1)]
    pub min_score: Option<f32>,
}

/// Whose documents: `all` (yours and shared, the default), `mine` or `shared`.
// Listings take it too (`GET /api/memory/documents?scope=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopeParam {
    All,
    Mine,
    Shared,
}

impl From<ScopeParam> for Scope {
    fn from(scope: ScopeParam) -> Self {
        match scope {
            ScopeParam::All => Scope::All,
            ScopeParam::Mine => Scope::Mine,
            ScopeParam::Shared => Scope::Shared,
        }
    }
}

const MAX_QUERY_CHARS: usize = 2000;
const MAX_LIMIT: usize = 50;
const MAX_FILTER_VALUES: usize = 100;

#[utoipa::path(post, path = "/api/memory/search", tag = "search", security(("bearer" = [])),
    request_body = SearchRequest,
    responses(
        (status = 200, description = "best first; only documents you may read", body = SearchView),
        (status = 503, description = "the embedding provider or the vector index is unavailable", body = ApiErrorBody),
        Unauthenticated, Invalid))]
pub async fn search(
    State(state): State<AppState>,
    user: AuthUser,
    Json(request): Json<SearchRequest>,
) -> Result<axum::Json<SearchView>, ApiError> {
    let (query, limit) = query_and_limit(&request)?;
    let filter = filter(&user, &request)?;
    let indexer = &state.indexer;
    let mut ask = vector::SearchRequest::new(indexer.embedder.embed_one(query).await?, limit);
    ask.filter = Some(filter);
    ask.score_threshold = request.min_score;
    ask.with_payload = false;
    let scored = indexer.index.search(&indexer.collection, &ask).await?;

    let ids: Vec<Uuid> = scored.iter().map(|point| point.id).collect();
    let mut rows: HashMap<Uuid, ChunkHit> =
        db::memory::chunks::hits_visible(&state.pool, &ids, user.user_id)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
    // Keep the index's order; vectors whose chunk is gone (deleted meanwhile) drop out.
    let results = scored
        .into_iter()
        .filter_map(|point| {
            let row = rows.remove(&point.id)?;
            Some(HitView::new(point.score, row))
        })
        .collect();
    Ok(axum::Json(SearchView {
        results,
        model: indexer.embedder.model().to_owned(),
    }))
}

/// The trimmed query and the number of results, once both (and `min_score`) are in range.
fn query_and_limit(request: &SearchRequest) -> Result<(&str, usize), ApiError> {
    // The length as sent, as the schema's maxLength counts it; blank is refused too.
    let query = request.query.trim();
    if query.is_empty() || request.query.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::validation(
            "invalid_search_query",
            format!("query must be 1 to {MAX_QUERY_CHARS} characters"),
        ));
    }
    let limit = request.limit.unwrap_or(10);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    if request
        .min_score
        .is_some_and(|score| !(-1.0..=1.0).contains(&score))
    {
        return Err(ApiError::validation(
            "invalid_min_score",
            "min_score must be between -1 and 1",
        ));
    }
    Ok((query, limit))
}

/// The index filter: what the user may read, narrowed by the request.
fn filter(user: &AuthUser, request: &SearchRequest) -> Result<Filter, ApiError> {
    let me = user.user_id.to_string();
    let owners = match request.scope.map(Scope::from).unwrap_or_default() {
        Scope::All => vec![me, SHARED_OWNER.to_owned()],
        Scope::Mine => vec![me],
        Scope::Shared => vec![SHARED_OWNER.to_owned()],
    };
    let mut filter = Filter::must(Condition::keyword_any("owner", owners));
    for (field, values) in [
        ("source", &request.sources),
        ("type", &request.types),
        ("tags", &request.tags),
    ] {
        if values.len() > MAX_FILTER_VALUES {
            return Err(ApiError::validation(
                "too_many_filter_values",
                format!("at most {MAX_FILTER_VALUES} values per filter"),
            ));
        }
        if !values.is_empty() {
            filter = filter.and(Condition::keyword_any(field, values.iter().cloned()));
        }
    }
    if request.document_ids.len() > MAX_FILTER_VALUES {
        return Err(ApiError::validation(
            "too_many_filter_values",
            format!("at most {MAX_FILTER_VALUES} document_ids"),
        ));
    }
    if !request.document_ids.is_empty() {
        let ids = request.document_ids.iter().map(Uuid::to_string);
        filter = filter.and(Condition::keyword_any("document_id", ids));
    }
    if request.created_after.is_some() || request.created_before.is_some() {
        if let (Some(after), Some(before)) = (request.created_after, request.created_before)
            && after >= before
        {
            return Err(ApiError::validation(
                "invalid_time_range",
                "created_after must be before created_before",
            ));
        }
        filter = filter.and(Condition::datetime(
            "created_at",
            DatetimeRange {
                gte: request.created_after,
                lt: request.created_before,
                ..DatetimeRange::default()
            },
        ));
    }
    Ok(filter)
}

#[utoipa::path(get, path = "/api/memory/status", tag = "search", security(("bearer" = [])),
    responses(
        (status = 200, description = "index backend, model and backlog", body = IndexStatusView),
        (status = 503, description = "the vector index is unavailable", body = ApiErrorBody),
        Unauthenticated))]
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

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchView {
    pub results: Vec<HitView>,
    /// The embedding model the query was embedded with.
    pub model: String,
}

/// One hit: the chunk, its document, and the similarity score.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitView {
    /// Cosine similarity, higher is closer (at most 1).
    pub score: f32,
    pub chunk: HitChunk,
    pub document: HitDocument,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HitChunk {
    pub id: Uuid,
    pub index: i32,
    pub content: String,
    pub embedding_model: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
}

/// What the caller says about a document: shown with each search hit, and in listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentFields {
    pub source: String,
    pub external_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub path: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
}

/// The part of a document shown with each search hit.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitDocument {
    pub id: Uuid,
    pub shared: bool,
    #[serde(flatten)]
    pub fields: DocumentFields,
    pub created_at: DateTime<Utc>,
}

impl HitView {
    fn new(score: f32, row: ChunkHit) -> Self {
        Self {
            score,
            chunk: HitChunk {
                id: row.id,
                index: row.chunk_index,
                content: row.content,
                embedding_model: row.embedding_model,
                metadata: row.chunk_metadata,
            },
            document: HitDocument {
                id: row.document_id,
                shared: row.owner_id.is_none(),
                fields: DocumentFields {
                    source: row.source,
                    external_id: row.external_id,
                    kind: row.kind,
                    path: row.path,
                    title: row.title,
                    tags: row.tags,
                    metadata: row.document_metadata,
                },
                created_at: row.created_at,
            },
        }
    }
}

/// How far the vector index is behind PostgreSQL.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexStatusView {
    /// `embedded` or `qdrant`.
    pub backend: &'static str,
    pub collection: String,
    pub model: String,
    pub dimension: usize,
    pub chunks: i64,
    /// Chunks waiting for their vector; the indexer retries them.
    pub pending_chunks: i64,
    /// Vectors in the collection (orphans of deleted chunks included until cleaned).
    pub vectors: u64,
}
