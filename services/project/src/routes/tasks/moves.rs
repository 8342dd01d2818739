//! `POST /api/projects/{project_id}/tasks/{number}/move`: puts a task right before or after
//! another task of the project in the board order (`?order=position`).
//!
//! The board order is one order over the whole project, not one per status column: a move
//! may name any live task of the project, and a column (`?order=position&status=todo`) shows
//! its tasks in that same order. The new position is the midpoint of the neighbours; see
//! `db::projects::task_order` for when the project is renumbered instead.

use authn::AuthUser;
use axum::extract::State;
use db::{
    ids::ProjectId,
    projects::{Side, task_order},
};
use platform::extract::{Json, Path};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::TaskView;
use crate::error::documented::{AdminsMayNotChange, Unauthenticated};
use crate::{access::Change, error::ApiError, state::AppState};

/// Where to put the task: exactly one of `before` and `after`, naming another live task of
/// the same project by its number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(max_properties = 1)]
pub struct TaskMove {
    /// Put the task right before task `#before`.
    #[schema(minimum = 1, nullable = false)]
    #[serde(
        default,
        deserialize_with = "platform::extract::whole_number::optional"
    )]
    pub before: Option<i32>,
    /// Put the task right after task `#after`.
    #[schema(minimum = 1, nullable = false)]
    #[serde(
        default,
        deserialize_with = "platform::extract::whole_number::optional"
    )]
    pub after: Option<i32>,
}

impl TaskMove {
    /// The side and the anchor's number; 422 `invalid_move` unless exactly one was sent.
    fn target(&self) -> Result<(Side, i32), ApiError> {
        match (self.before, self.after) {
            (Some(anchor), None) => Ok((Side::Before, anchor)),
            (None, Some(anchor)) => Ok((Side::After, anchor)),
            _ => Err(ApiError::validation(
                "invalid_move",
                "send exactly one of before or after",
            )),
        }
    }
}

#[utoipa::path(post, path = "/api/projects/{project_id}/tasks/{number}/move", tag = "tasks", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ("number" = i32, Path, description = "The task to move")), request_body = TaskMove, responses((status = 200, description = "the moved task, with its new position and version", body = TaskView), (status = 404, description = "not_found: no such project (or not yours), or no such task", body = platform::openapi::ApiErrorBody), AdminsMayNotChange, (status = 422, description = "invalid_move: not exactly one of before and after, or the task itself; unknown_task: no such live task in this project; invalid_body: another field, or not a whole number; invalid_text", body = platform::openapi::ApiErrorBody), Unauthenticated))]
/// Moves the task right before or after another one in the board order; its version goes up
/// and the feed gets a `task.moved` entry.
pub async fn move_task(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, number)): Path<(ProjectId, i32)>,
    Json(input): Json<TaskMove>,
) -> Result<Json<TaskView>, ApiError> {
    let (side, anchor) = input.target()?;
    if anchor == number {
        return Err(ApiError::validation(
            "invalid_move",
            "a task cannot move before or after itself",
        ));
    }
    // The project lock serialises moves (and every other task write), so the neighbours read
    // below are still the neighbours when the new position is written.
    let mut change = Change::begin(&state.pool, &user, project_id).await?;
    db::projects::tasks::find_live(change.tx(), project_id, number)
        .await?
        .ok_or(ApiError::NotFound("task"))?;
    db::projects::tasks::find_live(change.tx(), project_id, anchor)
        .await?
        .ok_or_else(|| ApiError::validation("unknown_task", "no such task in this project"))?;
    let placed = task_order::place(change.tx(), project_id, number, anchor, side)
        .await?
        .ok_or(ApiError::NotFound("task"))?;
    let side = match side {
        Side::Before => "before",
        Side::After => "after",
    };
    let mut details = json!({ "number": number, side: anchor, "position": placed.task.position });
    if placed.rebalanced {
        details["rebalanced"] = json!(true);
    }
    change
        .commit("task.moved", placed.task.id.0, details)
        .await?;
    Ok(Json(placed.task.into()))
}
