//! `/api/projects/{project_id}/members` and `/transfer`: who works in a project and with
//! which role (see `crate::access` for what each role may do).
//!
//! Maintainers manage viewers and editors; only the owner makes or unmakes maintainers and
//! hands the project over. Anyone may leave. Every change is an activity entry. Adding a
//! member and handing the project over need the caller's email verified: an account
//! registered with someone else's address must not let anyone in before its owner takes
//! it over.

use authn::AuthUser;
use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post, put},
};
use chrono::{DateTime, Utc};
use db::{
    ids::{ProjectId, UserId},
    projects::Member,
};
use platform::{
    extract::{Json, Path},
    pagination::Page,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::projects::ProjectView;
use crate::error::documented::{ProjectNotFound, Unauthenticated};
use crate::{
    access::{Change, ProjectRole, caller, reading},
    error::ApiError,
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/projects/{project_id}/members", get(list))
        .route(
            "/api/projects/{project_id}/members/{user_id}",
            put(set_role).delete(remove),
        )
        .route("/api/projects/{project_id}/transfer", post(transfer))
}

#[derive(OpenApi)]
#[openapi(
    paths(list, set_role, remove, transfer),
    components(schemas(MemberView, MemberRole, ProjectRole, RoleInput, TransferInput)),
    tags((name = "members", description = "Who works in a project, and with which role"))
)]
pub struct Api;

/// A role a member can be given; the owner's role comes only with ownership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    Viewer,
    Editor,
    Maintainer,
}

impl From<MemberRole> for ProjectRole {
    fn from(role: MemberRole) -> Self {
        match role {
            MemberRole::Viewer => ProjectRole::Viewer,
            MemberRole::Editor => ProjectRole::Editor,
            MemberRole::Maintainer => ProjectRole::Maintainer,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: Uuid,
    pub username: String,
    pub full_name: String,
    pub role: ProjectRole,
    /// Who last set this membership; `null` for the owner, or once that account is gone.
    pub added_by: Option<Uuid>,
    /// When they joined; for the owner, when the project was created.
    pub created_at: DateTime<Utc>,
}

impl From<Member> for MemberView {
    fn from(member: Member) -> Self {
        Self {
            user_id: member.user_id.0,
            role: ProjectRole::of_member(&member.role).unwrap_or(ProjectRole::Viewer),
            username: member.username,
            full_name: member.full_name,
            added_by: member.added_by.map(|id| id.0),
            created_at: member.created_at,
        }
    }
}

#[utoipa::path(get, path = "/api/projects/{project_id}/members", tag = "members", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id")), responses((status = 200, body = Page<MemberView>, description = "The owner first, then members in the order they joined; one page"), ProjectNotFound, Unauthenticated))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Path(project_id): Path<ProjectId>,
) -> Result<Json<Page<MemberView>>, ApiError> {
    let project = reading(&state.pool, &user, project_id).await?.project;
    let owner = db::auth::users::find(&state.pool, project.owner_id)
        .await?
        .ok_or_else(|| ApiError::internal("a project's owner has no account"))?;
    let owner = MemberView {
        user_id: owner.id.0,
        username: owner.username,
        full_name: owner.full_name,
        role: ProjectRole::Owner,
        added_by: None,
        created_at: project.created_at,
    };
    let members = db::projects::members::list(&state.pool, project_id).await?;
    let views = std::iter::once(owner).chain(members.into_iter().map(MemberView::from));
    Ok(Json(Page::whole(views)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub role: MemberRole,
}

#[utoipa::path(put, path = "/api/projects/{project_id}/members/{user_id}", tag = "members", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ("user_id" = Uuid, Path, description = "The account to add or change")), request_body = RoleInput, responses((status = 201, body = MemberView, description = "added"), (status = 200, body = MemberView, description = "role changed (or already that role)"), (status = 403, description = "forbidden: maintainers manage viewers and editors, only the owner manages maintainers; or email_unverified: adding a member needs a verified email", body = platform::openapi::ApiErrorBody), (status = 404, description = "not_found: no such project (or not yours), or no such account", body = platform::openapi::ApiErrorBody), (status = 422, description = "owner_is_implicit: the owner's role comes with ownership", body = platform::openapi::ApiErrorBody), Unauthenticated))]
/// Adds a member or changes a member's role.
pub async fn set_role(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, member_id)): Path<(ProjectId, UserId)>,
    Json(input): Json<RoleInput>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    let wanted = ProjectRole::from(input.role);
    let mut change =
        Change::begin_as(&state.pool, &user, project_id, ProjectRole::Maintainer).await?;
    let current = member_role(&mut change, member_id).await?;
    may_manage(&change, current.max(Some(wanted)))?;
    if current.is_none() {
        change.require_verified_email().await?;
    }
    let account = db::auth::users::find(change.tx(), member_id)
        .await?
        .filter(|account| account.is_active)
        .ok_or(ApiError::NotFound("user"))?;
    let (created_at, added_by) = db::projects::members::put(
        change.tx(),
        project_id,
        member_id,
        wanted.as_str(),
        caller(&user),
    )
    .await?;
    let view = MemberView {
        user_id: member_id.0,
        username: account.username,
        full_name: account.full_name,
        role: wanted,
        added_by: added_by.map(|id| id.0),
        created_at,
    };
    match current {
        None => {
            change
                .commit("member.added", member_id.0, json!({ "role": wanted }))
                .await?;
            Ok((StatusCode::CREATED, Json(view)))
        }
        Some(from) if from != wanted => {
            let details = json!({ "from": from, "to": wanted });
            change
                .commit("member.role_changed", member_id.0, details)
                .await?;
            Ok((StatusCode::OK, Json(view)))
        }
        // Already that role: nothing changed, so nothing to record (the transaction rolls back).
        Some(_) => Ok((StatusCode::OK, Json(view))),
    }
}

#[utoipa::path(delete, path = "/api/projects/{project_id}/members/{user_id}", tag = "members", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ("user_id" = Uuid, Path, description = "The member; anyone may remove themself")), responses((status = 204, description = "removed; their tasks in the project are unassigned"), (status = 403, description = "forbidden: maintainers remove viewers and editors, only the owner removes maintainers", body = platform::openapi::ApiErrorBody), (status = 404, description = "not_found: no such project (or not yours), or not a member", body = platform::openapi::ApiErrorBody), (status = 422, description = "owner_is_implicit: the owner cannot be removed; transfer the project first", body = platform::openapi::ApiErrorBody), Unauthenticated))]
/// Ends a membership and unassigns the member's tasks, in one transaction.
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, member_id)): Path<(ProjectId, UserId)>,
) -> Result<StatusCode, ApiError> {
    let leaving = member_id == caller(&user);
    let needed = if leaving {
        ProjectRole::Viewer
    } else {
        ProjectRole::Maintainer
    };
    let mut change = Change::begin_as(&state.pool, &user, project_id, needed).await?;
    let current = member_role(&mut change, member_id).await?;
    let Some(current) = current else {
        return Err(ApiError::NotFound("member"));
    };
    // Leaving needs no power over anyone, except that the owner cannot leave their project.
    if !leaving || current == ProjectRole::Owner {
        may_manage(&change, Some(current))?;
    }
    let (_, unassigned) = db::projects::members::remove(change.tx(), project_id, member_id).await?;
    let details = json!({ "role": current, "tasks_unassigned": unassigned, "left": leaving });
    change
        .commit("member.removed", member_id.0, details)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    /// A maintainer of the project, who becomes its owner.
    pub user_id: Uuid,
}

#[utoipa::path(post, path = "/api/projects/{project_id}/transfer", tag = "members", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id")), request_body = TransferInput, responses((status = 200, body = ProjectView, description = "transferred; the former owner stays as a maintainer"), (status = 403, description = "forbidden: only the owner transfers; step_up_required: an owner with a second factor needs an aal2 token (POST /api/auth/step-up); or email_unverified: the owner's email is not verified", body = platform::openapi::ApiErrorBody), ProjectNotFound, (status = 409, description = "slug_taken: the new owner already has a project with this slug", body = platform::openapi::ApiErrorBody), (status = 422, description = "not_a_maintainer: ownership goes only to a maintainer; account_inactive: nor to a deactivated account", body = platform::openapi::ApiErrorBody), Unauthenticated))]
/// Hands the project to one of its maintainers; the former owner stays as a maintainer.
pub async fn transfer(
    State(state): State<AppState>,
    user: AuthUser,
    Path(project_id): Path<ProjectId>,
    Json(input): Json<TransferInput>,
) -> Result<Json<ProjectView>, ApiError> {
    let new_owner = UserId(input.user_id);
    let mut change = Change::begin_as(&state.pool, &user, project_id, ProjectRole::Owner).await?;
    user.require_aal2()?;
    change.require_verified_email().await?;
    if member_role(&mut change, new_owner).await? != Some(ProjectRole::Maintainer) {
        return Err(ApiError::validation(
            "not_a_maintainer",
            "ownership can only be transferred to a maintainer of the project",
        ));
    }
    // An owner nobody can sign in as could neither hand the project back nor delete it.
    let active = db::auth::users::find(change.tx(), new_owner)
        .await?
        .is_some_and(|account| account.is_active);
    if !active {
        return Err(ApiError::validation(
            "account_inactive",
            "ownership can only be transferred to an active account",
        ));
    }
    let former = caller(&user);
    db::projects::members::remove(change.tx(), project_id, new_owner).await?;
    let project = db::projects::project::set_owner(change.tx(), project_id, new_owner)
        .await
        .map_err(|error| match db::Violation::of(&error) {
            Some(db::Violation::ProjectSlugTaken) => ApiError::Conflict {
                code: "slug_taken",
                message: "the new owner already has a project with this slug: change the slug first",
            },
            _ => error.into(),
        })?;
    let role = ProjectRole::Maintainer;
    db::projects::members::put(change.tx(), project_id, former, role.as_str(), former).await?;
    let details = json!({ "from": former, "to": new_owner });
    change
        .commit("project.transferred", project_id.0, details)
        .await?;
    Ok(Json(ProjectView::new(project, Some(role))))
}

/// `member`'s role in the locked project: `Owner` for the owner, `None` for non-members.
async fn member_role(
    change: &mut Change<'_>,
    member: UserId,
) -> Result<Option<ProjectRole>, ApiError> {
    if member == change.project.owner_id {
        return Ok(Some(ProjectRole::Owner));
    }
    let project_id = change.project.id;
    let role = db::projects::members::role_of(change.tx(), project_id, member).await?;
    Ok(role.as_deref().and_then(ProjectRole::of_member))
}

/// Whether the caller may give or take away `at_stake` (the higher of a member's current
/// and new role): maintainers handle viewers and editors, the owner handles maintainers,
/// and nobody changes the owner here.
fn may_manage(change: &Change<'_>, at_stake: Option<ProjectRole>) -> Result<(), ApiError> {
    match at_stake {
        Some(ProjectRole::Owner) => Err(ApiError::validation(
            "owner_is_implicit",
            "the owner's role comes with ownership and cannot be changed or removed; transfer the project instead",
        )),
        Some(ProjectRole::Maintainer) if change.role < ProjectRole::Owner => Err(
            ApiError::Forbidden("only the project's owner may add, change or remove maintainers"),
        ),
        _ => Ok(()),
    }
}
