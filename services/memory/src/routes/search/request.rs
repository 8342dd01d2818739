//! `POST /api/memory/search`'s body and its checks: what a valid request becomes is a
//! [`crate::search::Search`], with the same filter for the vector index and PostgreSQL.

use authn::AuthUser;
use chrono::{DateTime, Utc};
use db::memory::{Scope, search::SearchFilter};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;
use vector::{Condition, DatetimeRange, Filter};

use crate::{
    error::ApiError,
    indexing::SHARED_OWNER,
    search::{Mode, Search},
};

/// `POST /api/memory/search`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    #[schema(schema_with = query_schema)]
    pub query: String,
    /// Results to return, 1-50 (default 10).
    #[schema(minimum = 1, maximum = 50)]
    #[serde(
        default,
        deserialize_with = "platform::extract::whole_number::optional"
    )]
    pub limit: Option<usize>,
    /// How to rank: `hybrid` (default), `vector` or `lexical`.
    pub mode: Option<Mode>,
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
    /// Only documents of these projects (at most 100).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub project_ids: Vec<Uuid>,
    /// Only documents ingested at or after this time (RFC 3339, years 0001 to 9999 in UTC).
    #[serde(default, deserialize_with = "platform::extract::calendar::optional")]
    pub created_after: Option<DateTime<Utc>>,
    /// Only documents ingested before this time (RFC 3339, years 0001 to 9999 in UTC).
    #[serde(default, deserialize_with = "platform::extract::calendar::optional")]
    pub created_before: Option<DateTime<Utc>>,
    /// Drop vector hits scoring below this cosine similarity (-1 to 1). Applies to the
    /// vector ranking (modes `vector` and `hybrid`); lexical ranking has no cosine.
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

/// `query`: not blank, as [`SearchRequest::checked`] requires.
#[allow(deprecated)] // `example` (3.0's spelling): what the derive writes for the other fields
fn query_schema() -> utoipa::openapi::Object {
    platform::openapi::non_blank_text(Some(MAX_QUERY_CHARS))
        .description(Some(format!(
            "What to look for (1-{MAX_QUERY_CHARS} characters). Lexical ranking reads it as web \
             search syntax:\nevery word must appear, `\"quoted phrase\"`, `or`, `-excluded`."
        )))
        .example(Some("how do lifetimes relate to borrowing?".into()))
        .build()
}

impl SearchRequest {
    /// The search this request asks for, once every field is in range.
    pub(super) fn checked<'a>(
        &'a self,
        user: &AuthUser,
        language: &'a str,
    ) -> Result<Search<'a>, ApiError> {
        let (text, limit) = self.query_and_limit()?;
        for (field, count) in [
            ("sources", self.sources.len()),
            ("types", self.types.len()),
            ("tags", self.tags.len()),
            ("document_ids", self.document_ids.len()),
            ("project_ids", self.project_ids.len()),
        ] {
            if count > MAX_FILTER_VALUES {
                return Err(ApiError::validation(
                    "too_many_filter_values",
                    format!("at most {MAX_FILTER_VALUES} {field}"),
                ));
            }
        }
        if let (Some(after), Some(before)) = (self.created_after, self.created_before)
            && after >= before
        {
            return Err(ApiError::validation(
                "invalid_time_range",
                "created_after must be before created_before",
            ));
        }
        let filter = SearchFilter {
            viewer: user.user_id,
            scope: self.scope.map(Scope::from).unwrap_or_default(),
            sources: self.sources.clone(),
            kinds: self.types.clone(),
            tags: self.tags.clone(),
            document_ids: self.document_ids.clone(),
            project_ids: self.project_ids.clone(),
            created_after: self.created_after,
            created_before: self.created_before,
        };
        Ok(Search {
            text,
            limit,
            mode: self.mode.unwrap_or_default(),
            min_score: self.min_score,
            payload_filter: payload_filter(&filter),
            filter,
            language,
        })
    }

    /// The trimmed query and the number of results, once both (and `min_score`) are in range.
    fn query_and_limit(&self) -> Result<(&str, usize), ApiError> {
        // The length as sent, as the schema's maxLength counts it; blank is refused too.
        let query = self.query.trim();
        if query.is_empty() || self.query.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::validation(
                "invalid_search_query",
                format!("query must be 1 to {MAX_QUERY_CHARS} characters"),
            ));
        }
        let limit = self.limit.unwrap_or(10);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::validation(
                "invalid_limit",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        if self
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
}

/// The index's filter for the same rules (see `indexing::payload` for the fields).
fn payload_filter(filter: &SearchFilter) -> Filter {
    let me = filter.viewer.to_string();
    let owners = match filter.scope {
        Scope::All => vec![me, SHARED_OWNER.to_owned()],
        Scope::Mine => vec![me],
        Scope::Shared => vec![SHARED_OWNER.to_owned()],
    };
    let mut payload = Filter::must(Condition::keyword_any("owner", owners));
    for (field, values) in [
        ("source", &filter.sources),
        ("type", &filter.kinds),
        ("tags", &filter.tags),
    ] {
        if !values.is_empty() {
            payload = payload.and(Condition::keyword_any(field, values.iter().cloned()));
        }
    }
    for (field, ids) in [
        ("document_id", &filter.document_ids),
        ("project_id", &filter.project_ids),
    ] {
        if !ids.is_empty() {
            payload = payload.and(Condition::keyword_any(
                field,
                ids.iter().map(Uuid::to_string),
            ));
        }
    }
    if filter.created_after.is_some() || filter.created_before.is_some() {
        payload = payload.and(Condition::datetime(
            "created_at",
            DatetimeRange {
                gte: filter.created_after,
                lt: filter.created_before,
                ..DatetimeRange::default()
            },
        ));
    }
    payload
}
