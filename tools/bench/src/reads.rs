//! Token-checked reads of the project service, each next to its floor measured in the same
//! run with the same load generator, connections and database: a bare axum handler that
//! runs one sqlx query and answers JSON, with no token, middleware or access check.
//!
//! The floor's SQL lives here, not in `crates/db`, on purpose: it is the yardstick the
//! service's own queries are measured against, so it must not share their shape.

use std::time::Duration;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::get,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use sqlx::{PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use crate::ProjectArgs;
use crate::http_load::{self, Client, Load, Requests};
use crate::report::{figure, line};
use crate::scratch::Served;

/// Reads `project` (owned by the holder of `token`, with tasks in it) from `service` and
/// from the floor at `args.read_concurrency` connections and at one, and records the figures.
pub async fn measure(
    pool: &PgPool,
    service: &Served,
    token: &str,
    project: Uuid,
    args: &ProjectArgs,
) -> anyhow::Result<()> {
    let client = args.client.unwrap_or_else(Client::available);
    let floor_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(pool.options().get_max_connections())
        .connect_with(pool.connect_options().as_ref().clone())
        .await?;
    let floor = Served::start(floor_app(floor_pool.clone())).await?;
    let seconds = Duration::from_secs(args.read_seconds);
    let c = args.read_concurrency;
    line(
        "reads: load generator",
        format!(
            "{}, {c} connections, {} s each",
            client.name(),
            seconds.as_secs()
        ),
    );
    for (name, path, what) in [
        ("reads", format!("/api/projects/{project}"), "project"),
        (
            "reads_tasks",
            format!("/api/projects/{project}/tasks"),
            "task list",
        ),
    ] {
        let floor_path = format!("/floor{}", path.trim_start_matches("/api"));
        let run = |url: String, connections: usize, duration: Duration| async move {
            http_load::drive(client, &url, token, Requests::Get, connections, duration).await
        };
        let bare = run(floor.url(&floor_path), c, seconds).await?;
        let served = run(service.url(&path), c, seconds).await?;
        record(
            &format!("{name}_floor_c{c}"),
            &format!("floor: bare axum + sqlx {what}, c={c}"),
            &bare,
            None,
        );
        record(
            &format!("{name}_c{c}"),
            &format!("GET {what} with token check, c={c}"),
            &served,
            Some(&bare),
        );
        // Latency alone: one connection, a few seconds.
        let single = seconds.min(Duration::from_secs(5));
        let bare = run(floor.url(&floor_path), 1, single).await?;
        let served = run(service.url(&path), 1, single).await?;
        record(
            &format!("{name}_floor_c1"),
            &format!("floor: bare axum + sqlx {what}, c=1"),
            &bare,
            None,
        );
        record(
            &format!("{name}_c1"),
            &format!("GET {what} with token check, c=1"),
            &served,
            Some(&bare),
        );
    }
    floor.stop().await?;
    floor_pool.close().await;
    Ok(())
}

fn record(name: &str, workload: &str, load: &Load, floor: Option<&Load>) {
    figure(
        name,
        workload,
        load.per_second(),
        "requests/s",
        floor.map(Load::per_second),
        Some(load.latencies),
    );
}

fn floor_app(pool: PgPool) -> Router {
    Router::new()
        .route("/floor/projects/{id}", get(one_project))
        .route("/floor/projects/{id}/tasks", get(project_tasks))
        .with_state(pool)
}

type Answer = Result<Json<Value>, (StatusCode, String)>;

fn failed(error: sqlx::Error) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

/// The project's row by primary key, as JSON.
async fn one_project(State(pool): State<PgPool>, Path(id): Path<Uuid>) -> Answer {
    let row = sqlx::query(
        "SELECT id, owner_id, name, slug, description, status, task_counter, version, \
                created_at, updated_at
         FROM projects.projects WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&pool)
    .await
    .map_err(failed)?
    .ok_or((StatusCode::NOT_FOUND, "no such project".to_owned()))?;
    project_json(&row).map(Json).map_err(failed)
}

fn project_json(row: &PgRow) -> Result<Value, sqlx::Error> {
    Ok(json!({
        "id": row.try_get::<Uuid, _>(0)?,
        "owner_id": row.try_get::<Uuid, _>(1)?,
        "name": row.try_get::<String, _>(2)?,
        "slug": row.try_get::<String, _>(3)?,
        "description": row.try_get::<String, _>(4)?,
        "status": row.try_get::<String, _>(5)?,
        "task_counter": row.try_get::<i32, _>(6)?,
        "version": row.try_get::<i32, _>(7)?,
        "created_at": row.try_get::<DateTime<Utc>, _>(8)?,
        "updated_at": row.try_get::<DateTime<Utc>, _>(9)?,
    }))
}

/// The project's first page of tasks (the service's default page size), as JSON.
async fn project_tasks(State(pool): State<PgPool>, Path(id): Path<Uuid>) -> Answer {
    let rows = sqlx::query(
        "SELECT id, epic_id, number, title, description, status, priority, assignee_id, \
                reporter_id, position, due_date, estimate, labels, completed_at, version, \
                created_at, updated_at
         FROM projects.tasks WHERE project_id = $1 AND deleted_at IS NULL
         ORDER BY created_at, id LIMIT 51",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .map_err(failed)?;
    let items = rows
        .iter()
        .map(task_json)
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

fn task_json(row: &PgRow) -> Result<Value, sqlx::Error> {
    Ok(json!({
        "id": row.try_get::<Uuid, _>(0)?,
        "epic_id": row.try_get::<Option<Uuid>, _>(1)?,
        "number": row.try_get::<i32, _>(2)?,
        "title": row.try_get::<String, _>(3)?,
        "description": row.try_get::<String, _>(4)?,
        "status": row.try_get::<String, _>(5)?,
        "priority": row.try_get::<String, _>(6)?,
        "assignee_id": row.try_get::<Option<Uuid>, _>(7)?,
        "reporter_id": row.try_get::<Option<Uuid>, _>(8)?,
        "position": row.try_get::<f64, _>(9)?,
        "due_date": row.try_get::<Option<NaiveDate>, _>(10)?,
        "estimate": row.try_get::<Option<i32>, _>(11)?,
        "labels": row.try_get::<Vec<String>, _>(12)?,
        "completed_at": row.try_get::<Option<DateTime<Utc>>, _>(13)?,
        "version": row.try_get::<i32, _>(14)?,
        "created_at": row.try_get::<DateTime<Utc>, _>(15)?,
        "updated_at": row.try_get::<DateTime<Utc>, _>(16)?,
    }))
}
