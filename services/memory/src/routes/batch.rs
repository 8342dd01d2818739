//! Bulk ingestion, `POST /api/memory/documents/batch`: many documents per request, each
//! answered on its own. The route, its OpenAPI fragment and the shapes it answers with.

use std::collections::HashMap;

use authn::AuthUser;
use axum::{
    Router,
    extract::{DefaultBodyLimit, State, rejection::JsonRejection},
    response::{IntoResponse, Response},
    routing::post,
};
use db::memory::Document;
use platform::{ServiceError, extract::Rejection, openapi::ApiErrorBody};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::documents::DocumentView;
use crate::{
    error::{
        ApiError,
        documented::{Invalid, Unauthenticated},
    },
    ingest::batch::{self, ItemResult, MAX_BODY_BYTES, MAX_DOCUMENTS},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/memory/documents/batch",
        post(ingest_batch).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    )
}

#[derive(OpenApi)]
#[openapi(paths(ingest_batch))]
pub struct Api;

/// `POST /api/memory/documents/batch`: up to 1,000 documents, 8 MiB in all.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Each shaped as the body of `POST /api/memory/documents` (`IngestRequest`). Items are
    /// checked one by one, so any object is taken here and one that is not a valid document
    /// is answered with its own error in `items`, never by the request's status; an item
    /// that is not an object at all makes the request malformed (422 `invalid_body`).
    #[schema(value_type = Vec<Object>, min_items = 1, max_items = 1000)]
    pub documents: Vec<Map<String, Value>>,
}

#[utoipa::path(post, path = "/api/memory/documents/batch", tag = "documents", security(("bearer" = [])),
    request_body = BatchRequest,
    responses(
        (status = 200, description = "one result per document, in order; each is created, \
            updated, unchanged or error (pending_chunks > 0: indexing continues in the background)",
            body = BatchView),
        (status = 413, description = "the body is over 8 MiB", body = ApiErrorBody),
        (status = 503, description = "the embedding provider is unavailable; nothing stored", body = ApiErrorBody),
        Unauthenticated, Invalid))]
pub async fn ingest_batch(
    State(state): State<AppState>,
    user: AuthUser,
    body: Result<axum::Json<BatchRequest>, JsonRejection>,
) -> Result<axum::Json<BatchView>, Response> {
    // axum's extractor, not the platform's: the platform's refuses a whole body with a NUL
    // in it, where a batch refuses only the item that has one.
    let axum::Json(body) = body.map_err(|rejection| Rejection::from(rejection).into_response())?;
    let documents = body.documents.into_iter().map(Value::Object).collect();
    answer(&state, &user, documents)
        .await
        .map(axum::Json)
        .map_err(IntoResponse::into_response)
}

async fn answer(
    state: &AppState,
    user: &AuthUser,
    documents: Vec<Value>,
) -> Result<BatchView, ApiError> {
    if documents.is_empty() || documents.len() > MAX_DOCUMENTS {
        return Err(ApiError::validation(
            "invalid_batch_size",
            format!(
                "a batch holds 1 to {MAX_DOCUMENTS} documents, not {}",
                documents.len()
            ),
        ));
    }
    let results = batch::ingest_batch(state, user, documents).await?;
    let ids: Vec<Uuid> = results
        .iter()
        .filter_map(|result| result.as_ref().ok().map(|(id, _)| *id))
        .collect();
    // One entry per document: copies of a text in the batch are all answered with it.
    let stored: HashMap<Uuid, Document> =
        db::memory::documents::visible_by_ids(&state.pool, &ids, user.user_id)
            .await?
            .into_iter()
            .map(|document| (document.id, document))
            .collect();
    let items = results
        .into_iter()
        .enumerate()
        .map(|(index, result)| BatchItemView::new(index, result, &stored))
        .collect();
    Ok(BatchView { items })
}

/// The answer to a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchView {
    /// One per document sent, in the same order.
    pub items: Vec<BatchItemView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemView {
    /// The document's position in the request, from 0.
    pub index: usize,
    /// `created`, `updated`, `unchanged` or `error`.
    #[schema(example = "created")]
    pub status: &'static str,
    /// The stored document (absent on error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentView>,
    /// Why this document was not stored (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

/// The error of one item, coded as the single ingestion's errors are.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemError {
    pub code: &'static str,
    pub message: String,
}

impl BatchItemView {
    fn new(index: usize, result: ItemResult, stored: &HashMap<Uuid, Document>) -> Self {
        match result {
            Ok((id, outcome)) => Self {
                index,
                status: outcome.as_str(),
                // Absent only when deleted by a concurrent request since it was written.
                document: stored.get(&id).cloned().map(DocumentView::from),
                error: None,
            },
            Err(error) => {
                if let Some(detail) = error.detail() {
                    tracing::error!(index, detail, "batch item failed");
                }
                Self {
                    index,
                    status: "error",
                    document: None,
                    error: Some(ItemError {
                        code: error.status_and_code().1,
                        // Held to an excerpt of what the item quoted, as a refusal's is.
                        message: platform::error::message::bounded(&error.to_string()),
                    }),
                }
            }
        }
    }
}
