//! The OpenAPI description of this API's data shapes, served at `/openapi.json`.
//!
//! Schemas only for now: the routes are listed in `services/project/README.md`.

use utoipa::{OpenApi, ToSchema};

use super::{activity, epics, files, projects, tasks};

/// Every error: `{"error": {"code": "...", "message": "..."}}`. Branch on `code`.
#[derive(ToSchema)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

#[derive(ToSchema)]
pub struct ApiErrorDetail {
    /// Stable snake_case identifier, e.g. `version_conflict`.
    #[schema(example = "version_conflict")]
    pub code: String,
    /// Human-readable explanation; never contains internals.
    pub message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "DevMentor projects",
        description = "Projects, epics, tasks, files and activity."
    ),
    components(schemas(
        ApiErrorBody,
        ApiErrorDetail,
        projects::ProjectView,
        projects::NewProjectInput,
        projects::ProjectUpdate,
        projects::ProjectStatus,
        epics::EpicView,
        epics::NewEpicInput,
        epics::EpicUpdate,
        epics::EpicStatus,
        tasks::TaskView,
        tasks::NewTaskInput,
        tasks::TaskUpdate,
        tasks::TaskStatus,
        tasks::TaskPriority,
        files::FileView,
        activity::ActivityView,
    ))
)]
pub struct ApiDoc;
