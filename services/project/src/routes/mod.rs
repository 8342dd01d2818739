//! The HTTP API under `/api/projects`, plus `/openapi.json`. Each feature's module owns its
//! routes and their OpenAPI fragment; this one only puts them together. Who may read or
//! change what is decided in `crate::access`.

mod activity;
mod epics;
mod events;
mod files;
mod members;
mod projects;
mod tasks;

use axum::{Json, Router, routing::get};
use platform::openapi::{ApiErrorBody, ApiErrorDetail, BearerAuth};
use utoipa::OpenApi;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(projects::router())
        .merge(members::router())
        .merge(activity::router())
        .merge(events::router())
        .merge(epics::router())
        .merge(tasks::router())
        .merge(files::router(state.upload_timeout))
        .route("/openapi.json", get(|| async { Json(openapi()) }))
        .with_state(state)
}

/// The document served at `/openapi.json`: every feature's paths and tags, the shared error
/// body and the bearer scheme they refer to.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = Service::openapi()
        .merge_from(projects::Api::openapi())
        .merge_from(members::Api::openapi())
        .merge_from(epics::Api::openapi())
        .merge_from(tasks::Api::openapi())
        .merge_from(files::Api::openapi())
        .merge_from(activity::Api::openapi())
        .merge_from(events::Api::openapi());
    platform::openapi::document_shared_answers(&mut doc);
    doc
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "DevMentor projects",
        description = "Projects, epics, tasks, files and activity."
    ),
    components(schemas(ApiErrorBody, ApiErrorDetail)),
    modifiers(&BearerAuth)
)]
struct Service;
