//! `GET /api/projects/{project_id}/tasks`: a project's live tasks in number order, in board
//! order, or ranked by a full-text search, narrowed by filters. Each order pages with its own
//! cursor (see `crate::pagination`).

use authn::AuthUser;
use axum::extract::State;
use db::{
    ids::{EpicId, ProjectId, UserId},
    projects::{BoardKeyset, ListOrder, RankKeyset, TaskFilter, tasks},
};
use platform::extract::{Json, Path, Query};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{TaskStatus, TaskView};
use crate::error::documented::{ProjectNotFound, Unauthenticated};
use crate::{
    access::{self, readable},
    error::ApiError,
    pagination::{self, KeyedPageRequest, Page, PageRequest},
    state::AppState,
    validate,
};

/// The longest `q` accepted, in characters.
const SEARCH_MAX: usize = 200;

/// How a task list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskOrder {
    /// By number (creation order).
    Number,
    /// The board order: by `position`, ties by number.
    Position,
    /// Best match for `q` first, ties by number.
    Rank,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    pub status: Option<TaskStatus>,
    pub epic_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    /// Full-text search over title and description, in web-search syntax: words (all must
    /// match; English stemming, so `crash` also finds `crashes`), `"a phrase"`, `-excluded`,
    /// `this or that`. 1 to 200 characters, not only whitespace (a blank `q` is 422
    /// `invalid_q`). Words that leave nothing to search for (only `the`, `and`, ...) match
    /// nothing.
    // `pattern` takes a literal only, and `schema_with` would drop this description: the
    // pattern is spelled out here, and a test holds it to `platform::openapi::NOT_BLANK`.
    #[param(
        min_length = 1,
        max_length = 200,
        pattern = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub q: Option<String>,
    /// `number` by default, `rank` by default when `q` is given (and only then: without `q`
    /// it is 422 `invalid_order`); `position` is the board order. `q` narrows any order.
    pub order: Option<TaskOrder>,
    /// 1..=100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page of the same order (and, for `rank`, the same `q`);
    /// any other is 400 `invalid_cursor`.
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/projects/{project_id}/tasks", tag = "tasks", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), TaskQuery), responses((status = 200, body = Page<TaskView>), (status = 400, description = "invalid_query, invalid_limit, or invalid_cursor (also a cursor of another order or another q)", body = platform::openapi::ApiErrorBody), (status = 422, description = "invalid_q: blank or over 200 characters; invalid_order: order=rank without q; invalid_text: a parameter holds a NUL character", body = platform::openapi::ApiErrorBody), ProjectNotFound, Unauthenticated))]
/// Live tasks in number order, board order or search rank, filtered by every parameter given.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Path(project_id): Path<ProjectId>,
    Query(query): Query<TaskQuery>,
) -> Result<Json<Page<TaskView>>, ApiError> {
    // A page with tasks was read by a statement that checked access (`tasks::list`) or after
    // `readable`. Anything else, an empty page or a refusal, is answered once `readable` says
    // the caller may know of the project: strangers learn nothing, not even that their
    // request was malformed.
    match read_page(&state, &user, project_id, query).await {
        Ok(page) if !page.items.is_empty() => Ok(Json(page)),
        answer => {
            readable(&state.pool, &user, project_id).await?;
            answer.map(Json)
        }
    }
}

/// The page `query` asks for, read as `user` (see [`list`] for when they may see it).
async fn read_page(
    state: &AppState,
    user: &AuthUser,
    project_id: ProjectId,
    query: TaskQuery,
) -> Result<Page<TaskView>, ApiError> {
    let search = query.q.as_deref().map(search_text).transpose()?;
    let order = match (query.order, &search) {
        (Some(order), _) => order,
        (None, Some(_)) => TaskOrder::Rank,
        (None, None) => TaskOrder::Number,
    };
    let filter = TaskFilter {
        status: query.status.map(TaskStatus::as_str),
        epic_id: query.epic_id.map(EpicId),
        assignee_id: query.assignee_id.map(UserId),
    };
    let (limit, cursor) = (query.limit, query.cursor.as_deref());
    let (pool, reader) = (&state.pool, access::reader(user));
    let page = match (order, search.as_deref()) {
        (TaskOrder::Number, search) => {
            let page = PageRequest::parse(limit, cursor)?;
            let fetch = page.fetch_limit();
            let order = ListOrder::Created(page.after);
            let rows = tasks::list(pool, project_id, reader, &filter, search, order, fetch).await?;
            pagination::page(rows, &page, TaskView::from)
        }
        (TaskOrder::Position, search) => {
            let page = KeyedPageRequest::parse(limit, cursor, pagination::decode_board_cursor)?;
            let fetch = page.fetch_limit();
            let order = ListOrder::Board(page.after);
            let rows = tasks::list(pool, project_id, reader, &filter, search, order, fetch).await?;
            let cursor = |task: &db::projects::Task| {
                pagination::board_cursor(BoardKeyset {
                    position: task.position,
                    number: task.number,
                })
            };
            pagination::keyed_page(rows, &page, cursor, TaskView::from)
        }
        (TaskOrder::Rank, Some(search)) => {
            let decode = |cursor: &str| pagination::decode_rank_cursor(cursor, search);
            let page = KeyedPageRequest::parse(limit, cursor, decode)?;
            let fetch = page.fetch_limit();
            // The ranked search does not check access itself.
            readable(pool, user, project_id).await?;
            let rows = tasks::search(pool, project_id, search, &filter, page.after, fetch).await?;
            let cursor = |hit: &db::projects::RankedTask| {
                let key = RankKeyset {
                    rank: hit.rank,
                    number: hit.task.number,
                };
                pagination::rank_cursor(key, search)
            };
            pagination::keyed_page(rows, &page, cursor, |hit| TaskView::from(hit.task))
        }
        (TaskOrder::Rank, None) => {
            return Err(ApiError::validation(
                "invalid_order",
                "order=rank ranks by the search: send q too",
            ));
        }
    };
    Ok(page)
}

/// `q` trimmed, refused when blank: a search for nothing is a mistake in the request, not a
/// request for every task (leave `q` out for that).
fn search_text(q: &str) -> Result<String, ApiError> {
    validate::text(q, "q", "invalid_q", SEARCH_MAX)
}

#[cfg(test)]
mod tests {
    use utoipa::{
        IntoParams,
        openapi::{RefOr, schema::Schema},
    };

    use super::*;

    #[test]
    fn q_is_documented_as_search_text_checks_it() {
        let params = TaskQuery::into_params(|| None);
        let q = params.iter().find(|param| param.name == "q").expect("q");
        let Some(RefOr::T(Schema::Object(schema))) = &q.schema else {
            panic!("q's schema is not an inline object");
        };
        assert_eq!(
            schema.pattern.as_deref(),
            Some(platform::openapi::NOT_BLANK)
        );
        assert_eq!(schema.max_length, Some(SEARCH_MAX));
        assert_eq!(schema.min_length, Some(1));
    }
}
