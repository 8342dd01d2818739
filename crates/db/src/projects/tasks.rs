//! `projects.tasks`: a project's work items, numbered per project, listed in number order or
//! ranked by a full-text search (board order and moves: [`super::task_order`]).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgExecutor;

use super::{Keyset, Patch, patch_parts};
use crate::ids::{EpicId, ProjectId, TaskId, UserId};

/// Distance between neighbours after a renumbering, and past the last task for a new one.
pub const POSITION_STEP: f64 = 1024.0;

/// Where a page in board order ended: the last task's position and number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoardKeyset {
    pub position: f64,
    pub number: i32,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: TaskId,
    pub project_id: ProjectId,
    pub epic_id: Option<EpicId>,
    pub number: i32,
    pub title: String,
    pub description: String,
    pub status: String,
    pub priority: String,
    pub assignee_id: Option<UserId>,
    pub reporter_id: Option<UserId>,
    pub position: f64,
    pub due_date: Option<NaiveDate>,
    pub estimate: Option<i32>,
    pub labels: Vec<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewTask<'a> {
    pub id: TaskId,
    pub project_id: ProjectId,
    /// From [`super::project::next_task_number`] in the same transaction.
    pub number: i32,
    pub epic_id: Option<EpicId>,
    pub title: &'a str,
    pub description: &'a str,
    pub status: &'a str,
    pub priority: &'a str,
    pub assignee_id: Option<UserId>,
    pub reporter_id: UserId,
    /// `None` puts the task last in the board order (see [`insert`]).
    pub position: Option<f64>,
    pub due_date: Option<NaiveDate>,
    pub estimate: Option<i32>,
    pub labels: &'a [String],
}

/// Inserts a task; `completed_at` is stamped when it is created already done or cancelled.
/// Without a position the task goes last on the board: one [`POSITION_STEP`] past the
/// project's highest live position. Callers hold the project lock (every task write does), so
/// two creates cannot read the same maximum.
pub async fn insert(executor: impl PgExecutor<'_>, task: &NewTask<'_>) -> sqlx::Result<Task> {
    sqlx::query_as!(
        Task,
        r#"INSERT INTO projects.tasks
               (id, project_id, number, epic_id, title, description, status, priority,
                assignee_id, reporter_id, position, due_date, estimate, labels, completed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                   coalesce($11, (SELECT coalesce(max(position), 0) + $15
                                  FROM projects.tasks
                                  WHERE project_id = $2 AND deleted_at IS NULL)),
                   $12, $13, $14, CASE WHEN $7 IN ('done', 'cancelled') THEN now() END)
           RETURNING id AS "id: TaskId", project_id AS "project_id: ProjectId",
                     epic_id AS "epic_id: EpicId", number, title, description, status, priority,
                     assignee_id AS "assignee_id: UserId", reporter_id AS "reporter_id: UserId",
                     position, due_date, estimate, labels, completed_at, version,
                     created_at, updated_at"#,
        task.id as TaskId,
        task.project_id as ProjectId,
        task.number,
        task.epic_id as Option<EpicId>,
        task.title,
        task.description,
        task.status,
        task.priority,
        task.assignee_id as Option<UserId>,
        task.reporter_id as UserId,
        task.position,
        task.due_date,
        task.estimate,
        task.labels,
        POSITION_STEP,
    )
    .fetch_one(executor)
    .await
}

/// The live task `#number` of the project.
pub async fn find_live(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    number: i32,
) -> sqlx::Result<Option<Task>> {
    let any = TaskFilter::default();
    let order = ListOrder::Created(None);
    let wanted = Wanted {
        number: Some(number),
        filter: &any,
        matching: None,
        reader: None,
    };
    let mut found = select_live(executor, project_id, wanted, order, 1).await?;
    Ok(found.pop())
}

/// Someone reading a project, for a statement that checks read access itself: they may read
/// it as its owner, as a member in any role, or as an admin. This is the rule of the project
/// service's `access::reading`, in SQL; a test there holds the two together.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub user_id: UserId,
    pub is_admin: bool,
}

/// Which live tasks to list; every `Some` narrows the result.
#[derive(Debug, Default)]
pub struct TaskFilter<'a> {
    pub status: Option<&'a str>,
    pub epic_id: Option<EpicId>,
    pub assignee_id: Option<UserId>,
}

/// One page of the project's live tasks in `order`, narrowed by `filter` and, with
/// `matching`, by the search text (websearch syntax); empty unless `reader` may read the
/// project (so one statement answers a reader, and only an empty page needs asking why).
pub async fn list(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    reader: Reader,
    filter: &TaskFilter<'_>,
    matching: Option<&str>,
    order: ListOrder,
    limit: i64,
) -> sqlx::Result<Vec<Task>> {
    let wanted = Wanted {
        number: None,
        filter,
        matching,
        reader: Some(reader),
    };
    select_live(executor, project_id, wanted, order, limit).await
}

/// Which of a project's live tasks [`select_live`] reads.
struct Wanted<'a> {
    /// Only task `#number`.
    number: Option<i32>,
    filter: &'a TaskFilter<'a>,
    /// Only those the search text matches.
    matching: Option<&'a str>,
    /// With a reader: nothing unless they may read the project. `None`: the caller checked.
    reader: Option<Reader>,
}

/// The order of a listing of live tasks, with where the previous page ended.
#[derive(Debug, Clone, Copy)]
pub enum ListOrder {
    /// Creation order (which is number order), after this `(created_at, id)`.
    Created(Option<Keyset>),
    /// Board order (see [`super::task_order`]), after this `(position, number)`.
    Board(Option<BoardKeyset>),
}

/// The project's `wanted` live tasks in `order`, at most `limit`: a page of a listing, or
/// the one task `#number`.
async fn select_live(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    wanted: Wanted<'_>,
    order: ListOrder,
    limit: i64,
) -> sqlx::Result<Vec<Task>> {
    let (board, created_after, board_after) = match order {
        ListOrder::Created(after) => (false, after, None),
        ListOrder::Board(after) => (true, None, after),
    };
    let Wanted {
        number,
        filter,
        matching,
        reader,
    } = wanted;
    // The access rule depends on parameters only: PostgreSQL checks it once per statement
    // (an InitPlan), not per row.
    // In board order `(position, number)` decides (numbers are unique in a project); in
    // creation order those two keys are NULL, so `(created_at, id)` does. Planned with the
    // values at hand, the NULL keys fold away and each order is read through its own index.
    sqlx::query_as!(
        Task,
        r#"SELECT id AS "id: TaskId", project_id AS "project_id: ProjectId",
                  epic_id AS "epic_id: EpicId", number, title, description, status, priority,
                  assignee_id AS "assignee_id: UserId", reporter_id AS "reporter_id: UserId",
                  position, due_date, estimate, labels, completed_at, version,
                  created_at, updated_at
           FROM projects.tasks
           WHERE project_id = $1 AND deleted_at IS NULL
             AND ($2::int IS NULL OR number = $2)
             AND ($3::text IS NULL OR status = $3)
             AND ($4::uuid IS NULL OR epic_id = $4)
             AND ($5::uuid IS NULL OR assignee_id = $5)
             AND ($6::text IS NULL
                  OR search_vector @@ websearch_to_tsquery('english'::regconfig, $6))
             AND ($7::timestamptz IS NULL OR (created_at, id) > ($7, $8::uuid))
             AND ($9::float8 IS NULL OR (position, number) > ($9, $10::int))
             AND ($13::uuid IS NULL OR EXISTS (
                  SELECT 1 FROM projects.projects p
                  WHERE p.id = $1 AND p.deleted_at IS NULL
                    AND ($14::bool OR p.owner_id = $13 OR EXISTS (
                         SELECT 1 FROM projects.project_members m
                         WHERE m.project_id = $1 AND m.user_id = $13))))
           ORDER BY CASE WHEN $11 THEN position END, CASE WHEN $11 THEN number END,
                    created_at, id
           LIMIT $12"#,
        project_id as ProjectId,
        number,
        filter.status,
        filter.epic_id.map(|id| id.0),
        filter.assignee_id.map(|id| id.0),
        matching,
        created_after.map(|k| k.created_at),
        created_after.map(|k| k.id),
        board_after.map(|k| k.position),
        board_after.map(|k| k.number),
        board,
        limit,
        reader.map(|reader| reader.user_id.0),
        reader.is_some_and(|reader| reader.is_admin),
    )
    .fetch_all(executor)
    .await
}

/// Where a page of a ranked search ended: the last task's rank and number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankKeyset {
    pub rank: f32,
    pub number: i32,
}

/// A task a search found, with its `ts_rank` (higher is better).
#[derive(Debug, Clone)]
pub struct RankedTask {
    pub task: Task,
    pub rank: f32,
}

/// One page of the project's live tasks that `text` (websearch syntax: `"a phrase"`, `-not`,
/// `or`) matches, best first: by `ts_rank` over title (weight A) and description (weight B),
/// ties by number. Text that leaves no search terms (only stop words or punctuation) matches
/// nothing. The rank is recomputed with the same inputs on every page, so the `(rank,
/// number)` keyset compares exactly.
pub async fn search(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    text: &str,
    filter: &TaskFilter<'_>,
    after: Option<RankKeyset>,
    limit: i64,
) -> sqlx::Result<Vec<RankedTask>> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id: TaskId", project_id AS "project_id: ProjectId",
                  epic_id AS "epic_id: EpicId", number, title, description, status, priority,
                  assignee_id AS "assignee_id: UserId", reporter_id AS "reporter_id: UserId",
                  position, due_date, estimate, labels, completed_at, version,
                  created_at, updated_at, ts_rank(search_vector, query) AS "rank!"
           FROM projects.tasks,
                websearch_to_tsquery('english'::regconfig, $2) AS query
           WHERE project_id = $1 AND deleted_at IS NULL AND search_vector @@ query
             AND ($3::text IS NULL OR status = $3)
             AND ($4::uuid IS NULL OR epic_id = $4)
             AND ($5::uuid IS NULL OR assignee_id = $5)
             AND ($6::real IS NULL
                  OR ts_rank(search_vector, query) < $6
                  OR (ts_rank(search_vector, query) = $6 AND number > $7::int))
           ORDER BY ts_rank(search_vector, query) DESC, number
           LIMIT $8"#,
        project_id as ProjectId,
        text,
        filter.status,
        filter.epic_id.map(|id| id.0),
        filter.assignee_id.map(|id| id.0),
        after.map(|k| k.rank),
        after.map(|k| k.number),
        limit,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| RankedTask {
            task: Task {
                id: row.id,
                project_id: row.project_id,
                epic_id: row.epic_id,
                number: row.number,
                title: row.title,
                description: row.description,
                status: row.status,
                priority: row.priority,
                assignee_id: row.assignee_id,
                reporter_id: row.reporter_id,
                position: row.position,
                due_date: row.due_date,
                estimate: row.estimate,
                labels: row.labels,
                completed_at: row.completed_at,
                version: row.version,
                created_at: row.created_at,
                updated_at: row.updated_at,
            },
            rank: row.rank,
        })
        .collect())
}

/// Fields a PATCH may change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct TaskChanges<'a> {
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
    pub status: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub position: Option<f64>,
    pub labels: Option<&'a [String]>,
    pub epic_id: Patch<EpicId>,
    pub assignee_id: Patch<UserId>,
    pub due_date: Patch<NaiveDate>,
    pub estimate: Patch<i32>,
}

/// Applies `changes` if the task is live and at `expected_version`; `None` otherwise.
/// `completed_at` follows the new status: stamped on entering done/cancelled, kept while
/// it stays there, cleared on reopening.
pub async fn update(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    number: i32,
    expected_version: i32,
    changes: &TaskChanges<'_>,
) -> sqlx::Result<Option<Task>> {
    update_live(
        executor,
        project_id,
        number,
        Some(expected_version),
        changes,
    )
    .await
}

/// [`update`], at whatever version the task is when `expected_version` is `None` (for
/// writers that hold the project lock and read the task themselves, like a move).
pub(super) async fn update_live(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    number: i32,
    expected_version: Option<i32>,
    changes: &TaskChanges<'_>,
) -> sqlx::Result<Option<Task>> {
    let (set_epic, epic_id) = patch_parts(&changes.epic_id);
    let (set_assignee, assignee_id) = patch_parts(&changes.assignee_id);
    let (set_due, due_date) = patch_parts(&changes.due_date);
    let (set_estimate, estimate) = patch_parts(&changes.estimate);
    sqlx::query_as!(
        Task,
        r#"UPDATE projects.tasks
           SET title = coalesce($4, title),
               description = coalesce($5, description),
               status = coalesce($6, status),
               priority = coalesce($7, priority),
               position = coalesce($8, position),
               labels = coalesce($9, labels),
               epic_id = CASE WHEN $10 THEN $11 ELSE epic_id END,
               assignee_id = CASE WHEN $12 THEN $13 ELSE assignee_id END,
               due_date = CASE WHEN $14 THEN $15 ELSE due_date END,
               estimate = CASE WHEN $16 THEN $17 ELSE estimate END,
               completed_at = CASE WHEN coalesce($6, status) IN ('done', 'cancelled')
                                   THEN coalesce(completed_at, now()) END,
               version = version + 1
           WHERE project_id = $1 AND number = $2 AND deleted_at IS NULL
             AND ($3::int IS NULL OR version = $3)
           RETURNING id AS "id: TaskId", project_id AS "project_id: ProjectId",
                     epic_id AS "epic_id: EpicId", number, title, description, status, priority,
                     assignee_id AS "assignee_id: UserId", reporter_id AS "reporter_id: UserId",
                     position, due_date, estimate, labels, completed_at, version,
                     created_at, updated_at"#,
        project_id as ProjectId,
        number,
        expected_version,
        changes.title,
        changes.description,
        changes.status,
        changes.priority,
        changes.position,
        changes.labels,
        set_epic,
        epic_id.map(|id| id.0),
        set_assignee,
        assignee_id.map(|id| id.0),
        set_due,
        due_date,
        set_estimate,
        estimate,
    )
    .fetch_optional(executor)
    .await
}

/// Soft-deletes the task; its number is never handed out again. `false` if it was not live.
pub async fn soft_delete(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    number: i32,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        r#"UPDATE projects.tasks SET deleted_at = now(), version = version + 1
           WHERE project_id = $1 AND number = $2 AND deleted_at IS NULL"#,
        project_id as ProjectId,
        number,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}
