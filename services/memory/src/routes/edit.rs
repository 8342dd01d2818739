//! Editing a document's description: the route and its OpenAPI fragment (the rules are in
//! [`crate::edit`]).

use authn::AuthUser;
use axum::{Router, extract::State, routing::patch};
use platform::{
    extract::{Json, Path},
    openapi::ApiErrorBody,
};
use utoipa::OpenApi;
use uuid::Uuid;

use super::documents::DocumentView;
use crate::{
    edit::{self, EditRequest},
    error::{
        ApiError,
        documented::{AdminsOnly, Unauthenticated},
    },
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/memory/documents/{id}", patch(update))
}

#[derive(OpenApi)]
#[openapi(paths(update), components(schemas(EditRequest)))]
pub struct Api;

#[utoipa::path(patch, path = "/api/memory/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = EditRequest,
    responses(
        (status = 200, description = "edited (a new version; the same one when nothing changed)", body = DocumentView),
        (status = 404, description = "not_found: no such document, or not yours", body = ApiErrorBody),
        (status = 409, description = "version_conflict: edited or re-ingested since that version", body = ApiErrorBody),
        (status = 422, description = "invalid_version: a version below 1; unknown_project; invalid_body \
            (an unknown or mistyped field); or a field's own code, as at ingestion", body = ApiErrorBody),
        Unauthenticated, AdminsOnly))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(request): Json<EditRequest>,
) -> Result<axum::Json<DocumentView>, ApiError> {
    let document = edit::edit(&state, &user, id, request).await?;
    Ok(axum::Json(document.into()))
}
