//! `/api/projects/{project_id}/epics`: groups of tasks, in board order.

use authn::AuthUser;
use axum::{Router, extract::State, http::StatusCode, routing::get};
use chrono::{DateTime, NaiveDate, Utc};
use db::{
    ids::{EpicId, ProjectId},
    projects::{Epic, EpicChanges, NewEpic},
};
use platform::{
    extract::{Json, Path},
    pagination::Page,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::error::documented::{
    AdminsMayNotChange, InvalidInput, ProjectNotFound, Unauthenticated, VersionConflict,
};
use crate::{
    access::{self, Change, readable},
    error::ApiError,
    state::AppState,
    validate::{self, text_enum},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/projects/{project_id}/epics", get(list).post(create))
        .route(
            "/api/projects/{project_id}/epics/{epic_id}",
            get(show).patch(update).delete(remove),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(create, list, show, update, remove),
    components(schemas(EpicView, NewEpicInput, EpicUpdate, EpicStatus)),
    tags((name = "epics", description = "Groups of tasks in a project"))
)]
pub struct Api;

text_enum! {
    pub enum EpicStatus {
        Planned = "planned", InProgress = "in_progress", Done = "done", Cancelled = "cancelled",
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EpicView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub title: String,
    pub description: String,
    #[schema(example = "planned")]
    pub status: String,
    pub position: f64,
    pub start_date: Option<NaiveDate>,
    pub target_date: Option<NaiveDate>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Epic> for EpicView {
    fn from(epic: Epic) -> Self {
        Self {
            id: epic.id.0,
            project_id: epic.project_id.0,
            title: epic.title,
            description: epic.description,
            status: epic.status,
            position: epic.position,
            start_date: epic.start_date,
            target_date: epic.target_date,
            version: epic.version,
            created_at: epic.created_at,
            updated_at: epic.updated_at,
        }
    }
}

/// The most characters an epic's title may have.
const TITLE_MAX: usize = 200;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEpicInput {
    #[schema(schema_with = validate::text_schema::<TITLE_MAX>)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub status: Option<EpicStatus>,
    #[serde(default)]
    pub position: f64,
    /// `YYYY-MM-DD`, years 0001 to 9999.
    #[serde(default, deserialize_with = "platform::extract::calendar::optional")]
    pub start_date: Option<NaiveDate>,
    /// `YYYY-MM-DD`, years 0001 to 9999.
    #[serde(default, deserialize_with = "platform::extract::calendar::optional")]
    pub target_date: Option<NaiveDate>,
}

fn title(value: &str) -> Result<String, ApiError> {
    validate::text(value, "title", "invalid_title", TITLE_MAX)
}

#[utoipa::path(post, path = "/api/projects/{project_id}/epics", tag = "epics", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id")), request_body = NewEpicInput, responses((status = 201, body = EpicView), ProjectNotFound, AdminsMayNotChange, InvalidInput, Unauthenticated))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Path(project_id): Path<ProjectId>,
    Json(input): Json<NewEpicInput>,
) -> Result<(StatusCode, Json<EpicView>), ApiError> {
    let title = title(&input.title)?;
    let mut change = Change::begin(&state.pool, &user, project_id).await?;
    let epic = db::projects::epics::insert(
        change.tx(),
        &NewEpic {
            id: EpicId::new(),
            project_id,
            title: &title,
            description: input.description.trim(),
            status: input.status.unwrap_or(EpicStatus::Planned).as_str(),
            position: input.position,
            start_date: input.start_date,
            target_date: input.target_date,
        },
    )
    .await?;
    let details = json!({ "title": epic.title });
    change.commit("epic.created", epic.id.0, details).await?;
    Ok((StatusCode::CREATED, Json(epic.into())))
}

#[utoipa::path(get, path = "/api/projects/{project_id}/epics", tag = "epics", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id")), responses((status = 200, description = "every live epic in board order, as one page", body = Page<EpicView>), ProjectNotFound, Unauthenticated))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Path(project_id): Path<ProjectId>,
) -> Result<Json<Page<EpicView>>, ApiError> {
    readable(&state.pool, &user, project_id).await?;
    let epics = db::projects::epics::list(&state.pool, project_id).await?;
    Ok(Json(Page::whole(epics.into_iter().map(EpicView::from))))
}

#[utoipa::path(get, path = "/api/projects/{project_id}/epics/{epic_id}", tag = "epics", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ("epic_id" = Uuid, Path)), responses((status = 200, body = EpicView), ProjectNotFound, Unauthenticated))]
pub async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, epic_id)): Path<(ProjectId, EpicId)>,
) -> Result<Json<EpicView>, ApiError> {
    readable(&state.pool, &user, project_id).await?;
    let epic = db::projects::epics::find_live(&state.pool, project_id, epic_id)
        .await?
        .ok_or(ApiError::NotFound("epic"))?;
    Ok(Json(epic.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EpicUpdate {
    /// The `version` the edit is based on; another edit in between gives 409 `version_conflict`,
    /// a version below 1 422 `invalid_version`. Sent alone it changes nothing: the answer is
    /// the current state, with no new version and no activity entry.
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "platform::extract::whole_number::required")]
    pub version: i32,
    #[schema(schema_with = platform::openapi::optional_non_blank_text::<TITLE_MAX>)]
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<EpicStatus>,
    pub position: Option<f64>,
    /// `YYYY-MM-DD`, years 0001 to 9999; `null` clears it.
    #[serde(default, deserialize_with = "platform::extract::calendar::patch")]
    #[schema(value_type = Option<NaiveDate>, nullable)]
    pub start_date: Option<Option<NaiveDate>>,
    /// `YYYY-MM-DD`, years 0001 to 9999; `null` clears it.
    #[serde(default, deserialize_with = "platform::extract::calendar::patch")]
    #[schema(value_type = Option<NaiveDate>, nullable)]
    pub target_date: Option<Option<NaiveDate>>,
}

#[utoipa::path(patch, path = "/api/projects/{project_id}/epics/{epic_id}", tag = "epics", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ("epic_id" = Uuid, Path)), request_body = EpicUpdate, responses((status = 200, body = EpicView), ProjectNotFound, AdminsMayNotChange, VersionConflict, (status = 422, description = "invalid_version: a version below 1; invalid_body, invalid_text or a field's own code", body = platform::openapi::ApiErrorBody), Unauthenticated))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, epic_id)): Path<(ProjectId, EpicId)>,
    Json(input): Json<EpicUpdate>,
) -> Result<Json<EpicView>, ApiError> {
    let version = validate::version(input.version)?;
    let title = input.title.as_deref().map(title).transpose()?;
    let changes = EpicChanges {
        title: title.as_deref(),
        description: input.description.as_deref().map(str::trim),
        status: input.status.map(EpicStatus::as_str),
        position: input.position,
        start_date: input.start_date,
        target_date: input.target_date,
    };
    let fields = access::sent_fields([
        ("title", changes.title.is_some()),
        ("description", changes.description.is_some()),
        ("status", changes.status.is_some()),
        ("position", changes.position.is_some()),
        ("start_date", changes.start_date.is_some()),
        ("target_date", changes.target_date.is_some()),
    ]);
    let mut change = Change::begin(&state.pool, &user, project_id).await?;
    if fields.is_empty() {
        let current = db::projects::epics::find_live(change.tx(), project_id, epic_id)
            .await?
            .ok_or(ApiError::NotFound("epic"))?;
        access::unchanged("epic", current.version, version)?;
        return Ok(Json(current.into()));
    }
    let Some(epic) =
        db::projects::epics::update(change.tx(), project_id, epic_id, version, &changes).await?
    else {
        let current = db::projects::epics::find_live(change.tx(), project_id, epic_id)
            .await?
            .ok_or(ApiError::NotFound("epic"))?;
        return Err(ApiError::VersionConflict {
            entity: "epic",
            current: current.version,
        });
    };
    let details = json!({ "fields": fields });
    change.commit("epic.updated", epic_id.0, details).await?;
    Ok(Json(epic.into()))
}

#[utoipa::path(delete, path = "/api/projects/{project_id}/epics/{epic_id}", tag = "epics", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ("epic_id" = Uuid, Path)), responses((status = 204, description = "soft-deleted; its tasks lose their epic"), ProjectNotFound, AdminsMayNotChange, Unauthenticated))]
/// Soft-deletes the epic; its tasks stay in the project without an epic.
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, epic_id)): Path<(ProjectId, EpicId)>,
) -> Result<StatusCode, ApiError> {
    let mut change = Change::begin(&state.pool, &user, project_id).await?;
    let detached = db::projects::epics::soft_delete(change.tx(), project_id, epic_id)
        .await?
        .ok_or(ApiError::NotFound("epic"))?;
    let details = json!({ "tasks_detached": detached });
    change.commit("epic.deleted", epic_id.0, details).await?;
    Ok(StatusCode::NO_CONTENT)
}
