//! Semantic search: embed the query, ask the vector index for the nearest chunks the user
//! may read, then load those chunks and their documents from PostgreSQL.

use std::collections::HashMap;

use authn::AuthUser;
use chrono::{DateTime, Utc};
use db::memory::{ChunkHit, Scope};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;
use vector::{Condition, DatetimeRange, Filter};

use crate::{AppState, error::ApiError, indexing::SHARED_OWNER};

/// Whose documents: `all` (yours and shared, the default), `mine` or `shared`.
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

/// `POST /api/memory/search`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// What to look for, in natural language (1-2000 characters).
    #[schema(example = "how do lifetimes relate to borrowing?")]
    pub query: String,
    /// Results to return, 1-50 (default 10).
    pub limit: Option<usize>,
    /// `all` (default: your documents and shared ones), `mine` or `shared`.
    pub scope: Option<ScopeParam>,
    /// Only documents from these sources.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Only documents of these types.
    #[serde(default)]
    pub types: Vec<String>,
    /// Only documents carrying at least one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Only these documents.
    #[serde(default)]
    pub document_ids: Vec<Uuid>,
    /// Only documents ingested at or after this time (RFC 3339).
    pub created_after: Option<DateTime<Utc>>,
    /// Only documents ingested before this time (RFC 3339).
    pub created_before: Option<DateTime<Utc>>,
    /// Drop hits scoring below this cosine similarity (-1 to 1).
    pub min_score: Option<f32>,
}

/// One hit: the chunk, its document, and the similarity score (higher is closer).
#[derive(Debug, Clone)]
pub struct Hit {
    pub score: f32,
    pub chunk: ChunkHit,
}

const MAX_QUERY_CHARS: usize = 2000;
const MAX_LIMIT: usize = 50;
const MAX_FILTER_VALUES: usize = 100;

pub async fn search(
    state: &AppState,
    user: &AuthUser,
    request: SearchRequest,
) -> Result<Vec<Hit>, ApiError> {
    let query = request.query.trim();
    if query.is_empty() || query.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::validation(
            "invalid_query",
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
    let filter = filter(user, &request)?;
    let vector = state.indexer.embedder.embed_one(query).await?;
    let mut ask = vector::SearchRequest::new(vector, limit);
    ask.filter = Some(filter);
    ask.score_threshold = request.min_score;
    ask.with_payload = false;
    let scored = state
        .indexer
        .index
        .search(&state.indexer.collection, &ask)
        .await?;

    let ids: Vec<Uuid> = scored.iter().map(|point| point.id).collect();
    let mut rows: HashMap<Uuid, ChunkHit> =
        db::memory::chunks::hits_visible(&state.pool, &ids, user.user_id)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
    // Keep the index's order; vectors whose chunk is gone (deleted meanwhile) drop out.
    Ok(scored
        .into_iter()
        .filter_map(|point| {
            rows.remove(&point.id).map(|chunk| Hit {
                score: point.score,
                chunk,
            })
        })
        .collect())
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
