//! The HTTP API under `/api/projects`, plus `/openapi.json`.
//!
//! Who may do what: the owner reads and changes a project and everything in it. Admins
//! (`Role::is_admin`) may *read* any project by id (support and moderation) but get 403 on
//! changes; everyone else gets 404, exactly as for a project that does not exist.

mod activity;
pub mod docs;
mod epics;
mod files;
mod projects;
mod tasks;

use authn::AuthUser;
use axum::{Json, Router, routing::get};
use db::{
    PgConnection, PgPool,
    ids::{ProjectId, UserId},
    projects::{NewActivity, Project},
};
use serde_json::Value;
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/projects", get(projects::list).post(projects::create))
        .route(
            "/api/projects/{project_id}",
            get(projects::show)
                .patch(projects::update)
                .delete(projects::remove),
        )
        .route("/api/projects/{project_id}/activity", get(activity::list))
        .route(
            "/api/projects/{project_id}/epics",
            get(epics::list).post(epics::create),
        )
        .route(
            "/api/projects/{project_id}/epics/{epic_id}",
            get(epics::show).patch(epics::update).delete(epics::remove),
        )
        .route(
            "/api/projects/{project_id}/tasks",
            get(tasks::list).post(tasks::create),
        )
        .route(
            "/api/projects/{project_id}/tasks/{number}",
            get(tasks::show).patch(tasks::update).delete(tasks::remove),
        )
        .route("/api/projects/{project_id}/files", get(files::list))
        .route(
            "/api/projects/{project_id}/files/{*path}",
            get(files::download)
                .put(files::upload)
                .delete(files::remove),
        )
        .route("/openapi.json", get(openapi))
        .with_state(state)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi as _;
    Json(docs::ApiDoc::openapi())
}

fn caller(user: &AuthUser) -> UserId {
    UserId(user.user_id)
}

/// A live project the caller may read: their own, or any when they are an admin.
async fn readable(pool: &PgPool, user: &AuthUser, id: ProjectId) -> Result<Project, ApiError> {
    let project = db::projects::project::find_live(pool, id)
        .await?
        .ok_or(ApiError::NotFound("project"))?;
    if project.owner_id == caller(user) || user.role.is_admin() {
        Ok(project)
    } else {
        Err(ApiError::NotFound("project"))
    }
}

/// Only the owner changes a project; admins learn why they cannot, others learn nothing.
fn may_write(project: Project, user: &AuthUser) -> Result<Project, ApiError> {
    if project.owner_id == caller(user) {
        Ok(project)
    } else if user.role.is_admin() {
        Err(ApiError::Forbidden(
            "admins may read other users' projects but not change them",
        ))
    } else {
        Err(ApiError::NotFound("project"))
    }
}

/// A live project the caller may change, locked until the transaction ends (see
/// `db::projects::project::lock_live` for why every write takes this lock).
async fn writable(
    connection: &mut PgConnection,
    user: &AuthUser,
    id: ProjectId,
) -> Result<Project, ApiError> {
    let project = db::projects::project::lock_live(connection, id)
        .await?
        .ok_or(ApiError::NotFound("project"))?;
    may_write(project, user)
}

/// Appends to the project's feed; call it in the transaction of the change.
async fn record(
    connection: &mut PgConnection,
    project_id: ProjectId,
    user: &AuthUser,
    action: &str,
    entity_id: Uuid,
    details: Value,
) -> Result<(), ApiError> {
    let entity_type = action.split('.').next().unwrap_or(action);
    db::projects::activity::record(
        connection,
        NewActivity {
            project_id,
            actor_id: caller(user),
            action,
            entity_type,
            entity_id,
            details,
        },
    )
    .await?;
    Ok(())
}

/// Distinguishes a JSON field sent as `null` (`Some(None)`) from one not sent (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}
