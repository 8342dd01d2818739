//! The admin API (`/api/auth/admin`): find accounts, change roles, (de)activate, unlock
//! (and, in `admin_mfa.rs`, reset a second factor). Admins with a factor act at `aal2`.
//! Roles are read fresh from the database on every call, so a demotion takes effect at once.
//! Every change is audited against the target account with the acting admin in `details`.

use authn::Role;
use axum::{
    Router,
    extract::{FromRequestParts, State},
    http::request::Parts,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use db::{PgConnection, auth::User, ids::UserId};
use platform::{
    client::ClientInfo,
    extract::{Json, Path, Query},
    openapi::ApiErrorBody,
    pagination::{Page, PageRequest},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::{
    audit::Audit,
    error::ApiError,
    sessions::{CurrentSession, UserView, role_of},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/admin/users", get(list_users))
        .route("/api/auth/admin/users/{id}", get(get_user))
        .route("/api/auth/admin/users/{id}/role", post(change_role))
        .route("/api/auth/admin/users/{id}/activate", post(activate))
        .route("/api/auth/admin/users/{id}/deactivate", post(deactivate))
        .route("/api/auth/admin/users/{id}/unlock", post(unlock))
}

#[derive(OpenApi)]
#[openapi(
    paths(list_users, get_user, change_role, activate, deactivate, unlock),
    tags((name = "admin", description = "Account administration (admin, super_admin)"))
)]
pub struct ApiDoc;

/// A live session whose account is (still) an admin or super admin, at `aal2` when the admin
/// has a second factor: every admin action is a sensitive one.
pub struct Admin {
    pub user: User,
    pub role: Role,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = CurrentSession::from_request_parts(parts, state).await?;
        let admin = Admin::of(session.user(&state.pool).await?)?;
        session.require_aal2()?;
        Ok(admin)
    }
}

impl Admin {
    /// `user`, if their account is (still) an active admin or super admin.
    fn of(user: User) -> Result<Self, ApiError> {
        let role = role_of(&user)?;
        if !role.is_admin() || !user.is_active {
            return Err(ApiError::Forbidden("this needs an admin account"));
        }
        Ok(Self { user, role })
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Matches email, username or full name.
    q: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// 1-100, default 50.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// What admins see: the profile plus lockout state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminUserView {
    #[serde(flatten)]
    #[schema(inline)]
    user: UserView,
    failed_login_attempts: i32,
    locked_until: Option<DateTime<Utc>>,
}

impl From<User> for AdminUserView {
    fn from(user: User) -> Self {
        Self {
            failed_login_attempts: user.failed_login_attempts,
            locked_until: user.locked_until,
            user: user.into(),
        }
    }
}

#[utoipa::path(get, path = "/api/auth/admin/users", tag = "admin", security(("bearer" = [])), params(ListQuery), responses((status = 200, body = Page<AdminUserView>), (status = 400, description = "invalid_query, invalid_limit or invalid_cursor", body = ApiErrorBody), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "forbidden (not an admin, or not one who may manage this account), or step_up_required (an admin with a second factor needs an aal2 token)", body = ApiErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    _admin: Admin,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<Page<AdminUserView>>, ApiError> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let after = page.after.map(|(at, id)| (at, UserId(id)));
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let users = db::auth::admin::list_users(&state.pool, search, after, page.fetch_limit()).await?;
    Ok(axum::Json(Page::from_rows(
        users,
        &page,
        |user| (user.created_at, user.id.0),
        AdminUserView::from,
    )))
}

#[utoipa::path(get, path = "/api/auth/admin/users/{id}", tag = "admin", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)), responses((status = 200, body = AdminUserView), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "forbidden (not an admin, or not one who may manage this account), or step_up_required (an admin with a second factor needs an aal2 token)", body = ApiErrorBody), (status = 404, description = "no such user", body = ApiErrorBody)))]
pub async fn get_user(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<AdminUserView>, ApiError> {
    Ok(axum::Json(target(&state, id).await?.into()))
}

async fn target(state: &AppState, id: Uuid) -> Result<User, ApiError> {
    db::auth::users::find(&state.pool, UserId(id))
        .await?
        .ok_or(ApiError::NotFound("no such user"))
}

/// The admin and the account `id` they act on, read afresh with both rows locked until `tx`
/// ends, then held to [`may_manage`]. Checked under the locks, so what another admin changed
/// meanwhile counts: of two super admins demoting or deactivating each other at once, the
/// second finds they no longer may (there is always one left), and an admin demoted while
/// their request was on its way acts no more.
pub(super) async fn lock_subject(
    tx: &mut PgConnection,
    admin: &Admin,
    id: Uuid,
) -> Result<(Admin, User), ApiError> {
    let (actor, subject) =
        db::auth::admin::lock_actor_and_subject(tx, admin.user.id, UserId(id)).await?;
    let admin = Admin::of(actor.ok_or(ApiError::SessionRevoked)?)?;
    let subject = subject.ok_or(ApiError::NotFound("no such user"))?;
    may_manage(&admin, &subject)?;
    Ok((admin, subject))
}

/// Admins manage plain users only; super admins manage everyone but themselves.
fn may_manage(admin: &Admin, subject: &User) -> Result<(), ApiError> {
    if admin.user.id == subject.id {
        return Err(ApiError::Forbidden(
            "admins cannot change their own role or status",
        ));
    }
    if admin.role != Role::SuperAdmin && role_of(subject)? != Role::User {
        return Err(ApiError::Forbidden(
            "only a super admin can manage admin accounts",
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    #[schema(value_type = RoleName, example = "admin")]
    role: Role,
}

/// `authn::Role` as the schema shows it (requests deserialise into `Role` itself).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code, reason = "documentation only: never constructed")]
enum RoleName {
    User,
    Admin,
    SuperAdmin,
}

#[utoipa::path(post, path = "/api/auth/admin/users/{id}/role", tag = "admin", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)), request_body = RoleChange, responses((status = 200, body = AdminUserView), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "forbidden (not an admin, or not one who may manage this account), or step_up_required (an admin with a second factor needs an aal2 token)", body = ApiErrorBody), (status = 404, description = "no such user", body = ApiErrorBody), (status = 422, description = "invalid input", body = ApiErrorBody)))]
pub async fn change_role(
    State(state): State<AppState>,
    client: ClientInfo,
    admin: Admin,
    Path(id): Path<Uuid>,
    Json(change): Json<RoleChange>,
) -> Result<axum::Json<AdminUserView>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let (admin, subject) = lock_subject(&mut tx, &admin, id).await?;
    if change.role != Role::User && admin.role != Role::SuperAdmin {
        return Err(ApiError::Forbidden(
            "only a super admin can grant admin roles",
        ));
    }
    let updated = db::auth::admin::set_role(&mut *tx, subject.id, change.role.as_str()).await?;
    tx.commit().await?;
    let details = json!({ "actor_id": admin.user.id, "from": subject.role, "to": change.role });
    Audit::new(&state.pool, &client)
        .done(Some(subject.id), "admin.role_changed", details)
        .await;
    Ok(axum::Json(updated.into()))
}

#[utoipa::path(post, path = "/api/auth/admin/users/{id}/activate", tag = "admin", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)), responses((status = 200, body = AdminUserView), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "forbidden (not an admin, or not one who may manage this account), or step_up_required (an admin with a second factor needs an aal2 token)", body = ApiErrorBody), (status = 404, description = "no such user", body = ApiErrorBody)))]
pub async fn activate(
    state: State<AppState>,
    client: ClientInfo,
    admin: Admin,
    id: Path<Uuid>,
) -> Result<axum::Json<AdminUserView>, ApiError> {
    set_active(state, client, admin, id, true).await
}

#[utoipa::path(post, path = "/api/auth/admin/users/{id}/deactivate", tag = "admin", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)), responses((status = 200, description = "deactivated; every session ended", body = AdminUserView), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "forbidden (not an admin, or not one who may manage this account), or step_up_required (an admin with a second factor needs an aal2 token)", body = ApiErrorBody), (status = 404, description = "no such user", body = ApiErrorBody)))]
pub async fn deactivate(
    state: State<AppState>,
    client: ClientInfo,
    admin: Admin,
    id: Path<Uuid>,
) -> Result<axum::Json<AdminUserView>, ApiError> {
    set_active(state, client, admin, id, false).await
}

/// Deactivating also ends every session, so the account is out at once.
async fn set_active(
    State(state): State<AppState>,
    client: ClientInfo,
    admin: Admin,
    Path(id): Path<Uuid>,
    active: bool,
) -> Result<axum::Json<AdminUserView>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let (admin, subject) = lock_subject(&mut tx, &admin, id).await?;
    let updated = db::auth::admin::set_active(&mut *tx, subject.id, active).await?;
    let ended = match active {
        true => 0,
        false => {
            db::auth::sessions::revoke_all_for_user(&mut *tx, subject.id, "deactivated", None)
                .await?
        }
    };
    tx.commit().await?;
    let action = if active {
        "admin.activated"
    } else {
        "admin.deactivated"
    };
    let details = json!({ "actor_id": admin.user.id, "sessions_ended": ended });
    Audit::new(&state.pool, &client)
        .done(Some(subject.id), action, details)
        .await;
    Ok(axum::Json(updated.into()))
}

#[utoipa::path(post, path = "/api/auth/admin/users/{id}/unlock", tag = "admin", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)), responses((status = 200, body = AdminUserView), (status = 401, description = "missing, invalid or expired token, or ended session", body = ApiErrorBody), (status = 403, description = "forbidden (not an admin, or not one who may manage this account), or step_up_required (an admin with a second factor needs an aal2 token)", body = ApiErrorBody), (status = 404, description = "no such user", body = ApiErrorBody)))]
pub async fn unlock(
    State(state): State<AppState>,
    client: ClientInfo,
    admin: Admin,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<AdminUserView>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let (admin, subject) = lock_subject(&mut tx, &admin, id).await?;
    let updated = db::auth::admin::unlock(&mut *tx, subject.id).await?;
    tx.commit().await?;
    let details = json!({ "actor_id": admin.user.id, "was_locked_until": subject.locked_until });
    Audit::new(&state.pool, &client)
        .done(Some(subject.id), "admin.unlocked", details)
        .await;
    Ok(axum::Json(updated.into()))
}
