//! The OpenAPI description of this API, served at `/openapi.json`.

use platform::openapi::BearerAuth;
use platform::openapi::{ApiErrorBody, ApiErrorDetail};
use utoipa::OpenApi;

use super::{activity, epics, files, projects, tasks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "DevMentor projects",
        description = "Projects, epics, tasks, files and activity."
    ),
    paths(
        projects::create,
        projects::list,
        projects::show,
        projects::update,
        projects::remove,
        activity::list,
        epics::create,
        epics::list,
        epics::show,
        epics::update,
        epics::remove,
        tasks::create,
        tasks::list,
        tasks::show,
        tasks::update,
        tasks::remove,
        files::list,
        files::upload,
        files::download,
        files::remove,
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
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "projects", description = "The caller's projects"),
        (name = "epics", description = "Groups of tasks in a project"),
        (name = "tasks", description = "Numbered work items"),
        (name = "files", description = "Versioned files, raw-body upload (10 MiB)"),
        (name = "activity", description = "Who changed what"),
    )
)]
pub struct ApiDoc;
