//! `/api/projects` and `/api/projects/{project_id}`: the caller's projects.

use authn::AuthUser;
use axum::{Router, extract::State, http::StatusCode, routing::get};
use chrono::{DateTime, Utc};
use db::{
    ids::ProjectId,
    projects::{NewProject, Project, ProjectChanges},
};
use platform::extract::{Json, Path, Query};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::error::documented::{InvalidInput, ProjectNotFound, Unauthenticated, VersionConflict};
use crate::{
    access::{self, Change, ProjectRole, caller, reading},
    error::ApiError,
    pagination::{self, Page, PageRequest},
    state::AppState,
    validate::{self, text_enum},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/projects", get(list).post(create))
        .route(
            "/api/projects/{project_id}",
            get(show).patch(update).delete(remove),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(create, list, show, update, remove),
    components(schemas(ProjectView, NewProjectInput, ProjectUpdate, ProjectStatus)),
    tags((name = "projects", description = "The caller's projects"))
)]
pub struct Api;

text_enum! {
    pub enum ProjectStatus { Active = "active", Archived = "archived" }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectView {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: String,
    #[schema(example = "active")]
    pub status: String,
    /// The number the last task got; the next task is `#task_counter + 1`.
    pub task_counter: i32,
    /// Send it back in PATCH; it changes on every edit.
    pub version: i32,
    /// The caller's role in the project; `null` for an admin who is not a member.
    pub role: Option<ProjectRole>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProjectView {
    pub fn new(project: Project, role: Option<ProjectRole>) -> Self {
        Self {
            id: project.id.0,
            owner_id: project.owner_id.0,
            name: project.name,
            slug: project.slug,
            description: project.description,
            status: project.status,
            task_counter: project.task_counter,
            version: project.version,
            role,
            created_at: project.created_at,
            updated_at: project.updated_at,
        }
    }
}

/// The most characters a project's name may have.
const NAME_MAX: usize = 200;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProjectInput {
    #[schema(schema_with = validate::text_schema::<NAME_MAX>)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Derived from `name` when absent (with a `-2`, `-3`, ... suffix if taken); when given
    /// and taken, the request fails with 409 `slug_taken`.
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", min_length = 1, max_length = 100)]
    pub slug: Option<String>,
}

#[utoipa::path(post, path = "/api/projects", tag = "projects", security(("bearer" = [])), request_body = NewProjectInput, responses((status = 201, body = ProjectView), (status = 409, description = "slug_taken", body = platform::openapi::ApiErrorBody), InvalidInput, Unauthenticated))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(input): Json<NewProjectInput>,
) -> Result<(StatusCode, Json<ProjectView>), ApiError> {
    let name = validate::text(&input.name, "name", "invalid_name", NAME_MAX)?;
    let owner_id = caller(&user);
    let mut tx = state.pool.begin().await?;
    let slug = match &input.slug {
        Some(slug) => validate::slug(slug)?,
        None => {
            let base = validate::slugify(&name);
            let taken = db::projects::project::slugs_like(&mut *tx, owner_id, &base).await?;
            validate::free_slug(&base, &taken)
        }
    };
    let project = db::projects::project::insert(
        &mut *tx,
        &NewProject {
            id: ProjectId::new(),
            owner_id,
            name: &name,
            slug: &slug,
            description: input.description.trim(),
        },
    )
    .await?;
    let details = json!({ "name": project.name, "slug": project.slug });
    // No project to lock yet: the new row is this transaction's own.
    access::record(
        &mut tx,
        project.id,
        &user,
        "project.created",
        project.id.0,
        details,
    )
    .await?;
    tx.commit().await?;
    let view = ProjectView::new(project, Some(ProjectRole::Owner));
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub status: Option<ProjectStatus>,
    /// 1..=100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/projects", tag = "projects", security(("bearer" = [])), params(ListQuery), responses((status = 200, body = Page<ProjectView>), (status = 400, description = "invalid_cursor, invalid_limit", body = platform::openapi::ApiErrorBody), Unauthenticated))]
/// The projects the caller owns or is a member of, newest first, each with the caller's
/// role (admins too: they open others' by id).
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<ProjectView>>, ApiError> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let me = caller(&user);
    let rows = db::projects::project::list_visible(
        &state.pool,
        me,
        query.status.map(ProjectStatus::as_str),
        page.after,
        page.fetch_limit(),
    )
    .await?;
    let shared: Vec<ProjectId> = rows
        .iter()
        .filter(|project| project.owner_id != me)
        .map(|project| project.id)
        .collect();
    let roles = if shared.is_empty() {
        Default::default()
    } else {
        db::projects::members::roles_in(&state.pool, me, &shared).await?
    };
    Ok(Json(pagination::page(rows, &page, |project| {
        let role = if project.owner_id == me {
            Some(ProjectRole::Owner)
        } else {
            roles
                .get(&project.id)
                .and_then(|role| ProjectRole::of_member(role))
        };
        ProjectView::new(project, role)
    })))
}

#[utoipa::path(get, path = "/api/projects/{project_id}", tag = "projects", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id")), responses((status = 200, body = ProjectView), ProjectNotFound, Unauthenticated))]
pub async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<ProjectId>,
) -> Result<Json<ProjectView>, ApiError> {
    let access = reading(&state.pool, &user, id).await?;
    Ok(Json(ProjectView::new(access.project, access.role)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    /// The `version` the edit is based on; another edit in between gives 409 `version_conflict`,
    /// a version below 1 422 `invalid_version`. Sent alone it changes nothing: the answer is
    /// the current state, with no new version and no activity entry.
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "platform::extract::whole_number::required")]
    pub version: i32,
    #[schema(schema_with = platform::openapi::optional_non_blank_text::<NAME_MAX>)]
    pub name: Option<String>,
    /// Changing the name keeps the slug (links stay valid); change it explicitly here.
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", min_length = 1, max_length = 100)]
    pub slug: Option<String>,
    pub description: Option<String>,
    pub status: Option<ProjectStatus>,
}

#[utoipa::path(patch, path = "/api/projects/{project_id}", tag = "projects", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id")), request_body = ProjectUpdate, responses((status = 200, body = ProjectView), ProjectNotFound, (status = 403, description = "forbidden: settings need a maintainer or the owner (admins who are not members only read)", body = platform::openapi::ApiErrorBody), VersionConflict, (status = 422, description = "invalid_version: a version below 1; invalid_body, invalid_text or a field's own code", body = platform::openapi::ApiErrorBody), Unauthenticated))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<ProjectId>,
    Json(input): Json<ProjectUpdate>,
) -> Result<Json<ProjectView>, ApiError> {
    let version = validate::version(input.version)?;
    let name = input
        .name
        .as_deref()
        .map(|name| validate::text(name, "name", "invalid_name", NAME_MAX))
        .transpose()?;
    let slug = input.slug.as_deref().map(validate::slug).transpose()?;
    let description = input.description.as_deref().map(str::trim);
    let changes = ProjectChanges {
        name: name.as_deref(),
        slug: slug.as_deref(),
        description,
        status: input.status.map(ProjectStatus::as_str),
    };
    let fields = access::sent_fields([
        ("name", changes.name.is_some()),
        ("slug", changes.slug.is_some()),
        ("description", changes.description.is_some()),
        ("status", changes.status.is_some()),
    ]);
    let mut change = Change::begin_as(&state.pool, &user, id, ProjectRole::Maintainer).await?;
    if fields.is_empty() {
        access::unchanged("project", change.project.version, version)?;
        let role = Some(change.role);
        return Ok(Json(ProjectView::new(change.project, role)));
    }
    let updated = db::projects::project::update(change.tx(), id, version, &changes)
        .await?
        .ok_or(ApiError::VersionConflict {
            entity: "project",
            current: change.project.version,
        })?;
    let mut details = json!({ "fields": fields });
    if change.project.status != updated.status {
        details["status"] = json!({ "from": change.project.status, "to": updated.status });
    }
    let role = Some(change.role);
    change.commit("project.updated", id.0, details).await?;
    Ok(Json(ProjectView::new(updated, role)))
}

#[utoipa::path(delete, path = "/api/projects/{project_id}", tag = "projects", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id")), responses((status = 204, description = "soft-deleted; files removed"), ProjectNotFound, (status = 403, description = "forbidden: only the owner deletes a project; or step_up_required: an owner with a second factor needs an aal2 token (POST /api/auth/step-up)", body = platform::openapi::ApiErrorBody), Unauthenticated))]
/// Soft-deletes the project (its slug becomes free; epics, tasks and activity stay in the
/// database, unreachable) and removes its files: rows in the transaction, bytes after commit.
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<ProjectId>,
) -> Result<StatusCode, ApiError> {
    let mut change = Change::begin_as(&state.pool, &user, id, ProjectRole::Owner).await?;
    user.require_aal2()?;
    let storage_keys = db::projects::files::delete_all(change.tx(), id).await?;
    db::projects::project::soft_delete(change.tx(), id).await?;
    let details = json!({ "files_removed": storage_keys.len() });
    change.commit("project.deleted", id.0, details).await?;
    // After commit: had the transaction failed, the files would still be referenced.
    state.files.remove_project(id).await;
    Ok(StatusCode::NO_CONTENT)
}
