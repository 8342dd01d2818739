//! `/api/projects/{project_id}/tasks`: work items, addressed by their per-project number.
//! Listing (number order, board order, search) is in [`list`], moves on the board in
//! [`moves`].

mod list;
mod moves;

use authn::AuthUser;
use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use chrono::{DateTime, NaiveDate, Utc};
use db::{
    PgConnection,
    ids::{EpicId, ProjectId, TaskId, UserId},
    projects::{NewTask, Task, TaskChanges},
};
use platform::extract::{Json, Path};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::error::documented::{
    AdminsMayNotChange, InvalidInput, ProjectNotFound, Unauthenticated, VersionConflict,
};
use crate::{
    access::{self, Change, caller, readable},
    error::ApiError,
    state::AppState,
    validate::{self, text_enum},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/projects/{project_id}/tasks",
            get(list::list).post(create),
        )
        .route(
            "/api/projects/{project_id}/tasks/{number}",
            get(show).patch(update).delete(remove),
        )
        .route(
            "/api/projects/{project_id}/tasks/{number}/move",
            post(moves::move_task),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(create, list::list, show, update, remove, moves::move_task),
    components(schemas(
        TaskView,
        NewTaskInput,
        TaskUpdate,
        TaskStatus,
        TaskPriority,
        list::TaskOrder,
        moves::TaskMove
    )),
    tags((name = "tasks", description = "Numbered work items"))
)]
pub struct Api;

text_enum! {
    pub enum TaskStatus {
        Backlog = "backlog", Todo = "todo", InProgress = "in_progress", InReview = "in_review",
        Done = "done", Cancelled = "cancelled",
    }
}

text_enum! {
    pub enum TaskPriority {
        None = "none", Low = "low", Medium = "medium", High = "high", Urgent = "urgent",
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: Uuid,
    pub project_id: Uuid,
    /// `#number`, unique in the project and never reused.
    pub number: i32,
    pub epic_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    #[schema(example = "todo")]
    pub status: String,
    #[schema(example = "medium")]
    pub priority: String,
    pub assignee_id: Option<Uuid>,
    pub reporter_id: Option<Uuid>,
    pub position: f64,
    pub due_date: Option<NaiveDate>,
    pub estimate: Option<i32>,
    pub labels: Vec<String>,
    /// Set while the status is `done` or `cancelled`.
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Task> for TaskView {
    fn from(task: Task) -> Self {
        Self {
            id: task.id.0,
            project_id: task.project_id.0,
            number: task.number,
            epic_id: task.epic_id.map(|id| id.0),
            title: task.title,
            description: task.description,
            status: task.status,
            priority: task.priority,
            assignee_id: task.assignee_id.map(|id| id.0),
            reporter_id: task.reporter_id.map(|id| id.0),
            position: task.position,
            due_date: task.due_date,
            estimate: task.estimate,
            labels: task.labels,
            completed_at: task.completed_at,
            version: task.version,
            created_at: task.created_at,
            updated_at: task.updated_at,
        }
    }
}

/// The most characters a task's title may have.
const TITLE_MAX: usize = 500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTaskInput {
    #[schema(schema_with = validate::text_schema::<TITLE_MAX>)]
    pub title: String,
    /// At most 100,000 characters (422 `invalid_description`).
    #[serde(default)]
    pub description: String,
    pub status: Option<TaskStatus>,
    pub priority: Option<TaskPriority>,
    /// An epic of the same project.
    pub epic_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    /// Board position (see `POST .../move`); absent or `null` puts the task last, after the
    /// project's highest position.
    #[serde(default)]
    pub position: Option<f64>,
    /// `YYYY-MM-DD`, years 0001 to 9999.
    #[serde(default, deserialize_with = "platform::extract::calendar::optional")]
    pub due_date: Option<NaiveDate>,
    #[schema(minimum = 0)]
    #[serde(
        default,
        deserialize_with = "platform::extract::whole_number::optional"
    )]
    pub estimate: Option<i32>,
    /// Each at most 100 characters (422 `invalid_labels`).
    #[serde(default)]
    pub labels: Vec<String>,
}

fn title(value: &str) -> Result<String, ApiError> {
    validate::text(value, "title", "invalid_title", TITLE_MAX)
}

/// The most characters a task's description may have.
const DESCRIPTION_MAX: usize = 100_000;

/// The description trimmed, once within [`DESCRIPTION_MAX`] characters as sent. Title and
/// description are indexed for search (`search_vector`), and a tsvector holds at most 1 MB of
/// words: lower-casing can grow text by half (`Ⱥ`, 2 bytes, becomes `ⱥ`, 3), so some 700 kB
/// of distinct words, within the body limit, failed the write with a 500.
fn description(value: &str) -> Result<&str, ApiError> {
    if value.chars().count() > DESCRIPTION_MAX {
        return Err(ApiError::validation(
            "invalid_description",
            format!("description must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
    Ok(value.trim())
}

/// The most characters one label may have.
const LABEL_MAX: usize = 100;

/// Each label within [`LABEL_MAX`]: every label is an entry of the GIN index on `labels`,
/// and PostgreSQL refuses an entry over about 2.7 kB, which failed the write with a 500.
fn check_labels(labels: &[String]) -> Result<(), ApiError> {
    if labels.iter().any(|label| label.chars().count() > LABEL_MAX) {
        return Err(ApiError::validation(
            "invalid_labels",
            format!("each label must be at most {LABEL_MAX} characters"),
        ));
    }
    Ok(())
}

/// The epic must be live and in this project; the composite foreign key would accept a
/// soft-deleted one.
async fn check_epic(
    connection: &mut PgConnection,
    project_id: ProjectId,
    epic_id: EpicId,
) -> Result<(), ApiError> {
    db::projects::epics::find_live(connection, project_id, epic_id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::validation("unknown_epic", "no such epic in this project"))
}

#[utoipa::path(post, path = "/api/projects/{project_id}/tasks", tag = "tasks", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id")), request_body = NewTaskInput, responses((status = 201, body = TaskView), ProjectNotFound, AdminsMayNotChange, InvalidInput, Unauthenticated))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Path(project_id): Path<ProjectId>,
    Json(input): Json<NewTaskInput>,
) -> Result<(StatusCode, Json<TaskView>), ApiError> {
    let title = title(&input.title)?;
    let description = description(&input.description)?;
    check_labels(&input.labels)?;
    let epic_id = input.epic_id.map(EpicId);
    let mut change = Change::begin(&state.pool, &user, project_id).await?;
    if let Some(epic_id) = epic_id {
        check_epic(change.tx(), project_id, epic_id).await?;
    }
    change.check_assignee(input.assignee_id.map(UserId)).await?;
    let number = db::projects::project::next_task_number(change.tx(), project_id).await?;
    let task = db::projects::tasks::insert(
        change.tx(),
        &NewTask {
            id: TaskId::new(),
            project_id,
            number,
            epic_id,
            title: &title,
            description,
            status: input.status.unwrap_or(TaskStatus::Backlog).as_str(),
            priority: input.priority.unwrap_or(TaskPriority::None).as_str(),
            assignee_id: input.assignee_id.map(UserId),
            reporter_id: caller(&user),
            position: input.position,
            due_date: input.due_date,
            estimate: input.estimate,
            labels: &input.labels,
        },
    )
    .await?;
    let details = json!({ "number": number, "title": task.title });
    change.commit("task.created", task.id.0, details).await?;
    Ok((StatusCode::CREATED, Json(task.into())))
}

#[utoipa::path(get, path = "/api/projects/{project_id}/tasks/{number}", tag = "tasks", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ("number" = i32, Path)), responses((status = 200, body = TaskView), ProjectNotFound, Unauthenticated))]
pub async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, number)): Path<(ProjectId, i32)>,
) -> Result<Json<TaskView>, ApiError> {
    readable(&state.pool, &user, project_id).await?;
    let task = db::projects::tasks::find_live(&state.pool, project_id, number)
        .await?
        .ok_or(ApiError::NotFound("task"))?;
    Ok(Json(task.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    /// The `version` the edit is based on; another edit in between gives 409 `version_conflict`,
    /// a version below 1 422 `invalid_version`. Sent alone it changes nothing: the answer is
    /// the current state, with no new version and no activity entry.
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "platform::extract::whole_number::required")]
    pub version: i32,
    #[schema(schema_with = platform::openapi::optional_non_blank_text::<TITLE_MAX>)]
    pub title: Option<String>,
    /// At most 100,000 characters (422 `invalid_description`).
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub priority: Option<TaskPriority>,
    pub position: Option<f64>,
    /// Each at most 100 characters (422 `invalid_labels`).
    pub labels: Option<Vec<String>>,
    /// Moves the task to another epic of the same project; `null` takes it out of its epic.
    #[serde(default, deserialize_with = "platform::extract::present")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub epic_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "platform::extract::present")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub assignee_id: Option<Option<Uuid>>,
    /// `YYYY-MM-DD`, years 0001 to 9999; `null` clears it.
    #[serde(default, deserialize_with = "platform::extract::calendar::patch")]
    #[schema(value_type = Option<NaiveDate>, nullable)]
    pub due_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "platform::extract::whole_number::patch")]
    #[schema(value_type = Option<i32>, nullable, minimum = 0)]
    pub estimate: Option<Option<i32>>,
}

#[utoipa::path(patch, path = "/api/projects/{project_id}/tasks/{number}", tag = "tasks", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ("number" = i32, Path)), request_body = TaskUpdate, responses((status = 200, body = TaskView), ProjectNotFound, AdminsMayNotChange, VersionConflict, (status = 422, description = "invalid_version: a version below 1; invalid_body, invalid_text or a field's own code", body = platform::openapi::ApiErrorBody), Unauthenticated))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, number)): Path<(ProjectId, i32)>,
    Json(input): Json<TaskUpdate>,
) -> Result<Json<TaskView>, ApiError> {
    let version = validate::version(input.version)?;
    let title = input.title.as_deref().map(title).transpose()?;
    input.labels.as_deref().map(check_labels).transpose()?;
    let changes = TaskChanges {
        title: title.as_deref(),
        description: input.description.as_deref().map(description).transpose()?,
        status: input.status.map(TaskStatus::as_str),
        priority: input.priority.map(TaskPriority::as_str),
        position: input.position,
        labels: input.labels.as_deref(),
        epic_id: input.epic_id.map(|epic| epic.map(EpicId)),
        assignee_id: input.assignee_id.map(|user| user.map(UserId)),
        due_date: input.due_date,
        estimate: input.estimate,
    };
    let mut change = Change::begin(&state.pool, &user, project_id).await?;
    let before = db::projects::tasks::find_live(change.tx(), project_id, number)
        .await?
        .ok_or(ApiError::NotFound("task"))?;
    if let Some(Some(epic_id)) = changes.epic_id {
        check_epic(change.tx(), project_id, epic_id).await?;
    }
    let fields = sent_fields(&changes);
    if fields.is_empty() {
        access::unchanged("task", before.version, version)?;
        return Ok(Json(before.into()));
    }
    change.check_assignee(changes.assignee_id.flatten()).await?;
    // The project lock serialises writers, so a miss here is a stale version.
    let task = db::projects::tasks::update(change.tx(), project_id, number, version, &changes)
        .await?
        .ok_or(ApiError::VersionConflict {
            entity: "task",
            current: before.version,
        })?;
    let details = change_details(&before, &task, fields);
    change.commit("task.updated", task.id.0, details).await?;
    Ok(Json(task.into()))
}

/// The names of the fields the PATCH sent.
fn sent_fields(changes: &TaskChanges<'_>) -> Vec<&'static str> {
    access::sent_fields([
        ("title", changes.title.is_some()),
        ("description", changes.description.is_some()),
        ("status", changes.status.is_some()),
        ("priority", changes.priority.is_some()),
        ("position", changes.position.is_some()),
        ("labels", changes.labels.is_some()),
        ("epic_id", changes.epic_id.is_some()),
        ("assignee_id", changes.assignee_id.is_some()),
        ("due_date", changes.due_date.is_some()),
        ("estimate", changes.estimate.is_some()),
    ])
}

/// Which fields were sent, plus before/after of the ones a feed reader cares about.
fn change_details(before: &Task, after: &Task, fields: Vec<&str>) -> serde_json::Value {
    let mut details = json!({ "number": after.number, "fields": fields });
    if before.status != after.status {
        details["status"] = json!({ "from": before.status, "to": after.status });
    }
    if before.epic_id != after.epic_id {
        details["epic_id"] = json!({ "from": before.epic_id, "to": after.epic_id });
    }
    if before.assignee_id != after.assignee_id {
        details["assignee_id"] = json!({ "from": before.assignee_id, "to": after.assignee_id });
    }
    details
}

#[utoipa::path(delete, path = "/api/projects/{project_id}/tasks/{number}", tag = "tasks", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ("number" = i32, Path)), responses((status = 204, description = "soft-deleted; the number is not reused"), ProjectNotFound, AdminsMayNotChange, Unauthenticated))]
/// Soft-deletes the task; its number is not handed out again.
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, number)): Path<(ProjectId, i32)>,
) -> Result<StatusCode, ApiError> {
    let mut change = Change::begin(&state.pool, &user, project_id).await?;
    let task = db::projects::tasks::find_live(change.tx(), project_id, number)
        .await?
        .ok_or(ApiError::NotFound("task"))?;
    db::projects::tasks::soft_delete(change.tx(), project_id, number).await?;
    let details = json!({ "number": number, "title": task.title });
    change.commit("task.deleted", task.id.0, details).await?;
    Ok(StatusCode::NO_CONTENT)
}
