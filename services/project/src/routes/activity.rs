//! `/api/projects/{project_id}/activity`: the project's feed, newest first.

use authn::AuthUser;
use axum::{Router, extract::State, routing::get};
use chrono::{DateTime, Utc};
use db::{ids::ProjectId, projects::Activity};
use platform::extract::{Json, Path, Query};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::error::documented::{ProjectNotFound, Unauthenticated};
use crate::{
    access::readable,
    error::ApiError,
    pagination::{self, Page, PageRequest},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/projects/{project_id}/activity", get(list))
}

#[derive(OpenApi)]
#[openapi(
    paths(list),
    components(schemas(ActivityView)),
    tags((name = "activity", description = "Who changed what"))
)]
pub struct Api;

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    pub id: Uuid,
    /// `null` once the acting account is deleted.
    pub actor_id: Option<Uuid>,
    #[schema(example = "task.updated")]
    pub action: String,
    #[schema(example = "task")]
    pub entity_type: String,
    pub entity_id: Uuid,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<Activity> for ActivityView {
    fn from(row: Activity) -> Self {
        Self {
            id: row.id,
            actor_id: row.actor_id.map(|id| id.0),
            action: row.action,
            entity_type: row.entity_type,
            entity_id: row.entity_id,
            details: row.details,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// 1..=100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/projects/{project_id}/activity", tag = "activity", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ActivityQuery), responses((status = 200, body = Page<ActivityView>), ProjectNotFound, Unauthenticated))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Path(project_id): Path<ProjectId>,
    Query(query): Query<ActivityQuery>,
) -> Result<Json<Page<ActivityView>>, ApiError> {
    readable(&state.pool, &user, project_id).await?;
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let rows =
        db::projects::activity::list(&state.pool, project_id, page.after, page.fetch_limit())
            .await?;
    Ok(Json(pagination::page(rows, &page, ActivityView::from)))
}
