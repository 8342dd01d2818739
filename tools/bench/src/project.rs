//! Project service figures over real HTTP (guide, phase 7: "create 1000 projects with
//! files"), next to the floor measured in the same run: writing the same bytes to fresh
//! files with fsync and rename at the same concurrency, which every durable upload must do.
//! Then token-checked reads of one of those projects and its tasks (see [`crate::reads`]).

use std::sync::Arc;

use project::AppState;
use reqwest::StatusCode;
use tempfile::TempDir;

use crate::ProjectArgs;
use crate::load::{post_json, timed};
use crate::reads;
use crate::report::{figure, heading, line};
use crate::scratch::{ScratchDatabase, Served, Tokens, common_config, peak_rss_mib};

pub async fn run(args: &ProjectArgs) -> anyhow::Result<()> {
    let database = ScratchDatabase::create("project").await?;
    let outcome = measure(&database.pool, args).await;
    database.drop_now().await?;
    outcome
}

async fn measure(pool: &sqlx::PgPool, args: &ProjectArgs) -> anyhow::Result<()> {
    let files_dir = TempDir::new()?;
    let tokens = Tokens::new()?;
    let token = Arc::new(tokens.user(pool, "bench").await?.1);
    let state = AppState::new(
        pool.clone(),
        tokens.verifier.clone(),
        files_dir.path(),
        common_config(),
    );
    let served = Served::start(project::app(state)).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let bytes = Arc::new(vec![b'x'; args.file_kib * 1024]);
    heading(&format!(
        "project: {} projects, each with {} file(s) of {} KiB, c={}",
        args.projects, args.files, args.file_kib, args.concurrency
    ));

    let floor_dir = Arc::new(TempDir::new()?);
    let floor = timed(
        args.concurrency,
        (0..args.projects * args.files).collect(),
        |n, _| {
            let (dir, bytes) = (floor_dir.clone(), bytes.clone());
            async move {
                tokio::task::spawn_blocking(move || durable_write(dir.path(), n, &bytes)).await??;
                Ok(())
            }
        },
    )
    .await?;
    figure(
        "projects_with_files_floor",
        "floor: write + fsync + rename, same bytes",
        floor.per_second(),
        "files/s",
        None,
        Some(floor.latencies.percentiles()),
    );

    let projects_url = Arc::new(served.url("/api/projects"));
    let base = Arc::new(served.url(""));
    let files = args.files;
    let run = timed(args.concurrency, (0..args.projects).collect(), |n, _| {
        let (client, url, base, token, bytes) = (
            client.clone(),
            projects_url.clone(),
            base.clone(),
            token.clone(),
            bytes.clone(),
        );
        async move {
            let body = serde_json::json!({ "name": format!("Bench project {n}") });
            let response = post_json(
                &client,
                &url,
                Some(token.as_str()),
                &body,
                StatusCode::CREATED,
            )
            .await?;
            let created: serde_json::Value = response.json().await?;
            let id = created["id"].as_str().unwrap_or_default().to_owned();
            for file in 0..files {
                let response = client
                    .put(format!(
                        "{base}/api/projects/{id}/files/docs/file-{file}.txt"
                    ))
                    .bearer_auth(token.as_str())
                    .header("content-type", "text/plain")
                    .body(bytes.as_ref().clone())
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status() == StatusCode::CREATED,
                    "upload answered {}",
                    response.status()
                );
            }
            Ok(())
        }
    })
    .await?;
    // Per project, the floor is the time its files take to write durably.
    figure(
        "projects_with_files",
        &format!("create project + upload {files} file(s) over HTTP"),
        run.per_second(),
        "projects/s",
        Some(floor.per_second() / files.max(1) as f64),
        Some(run.latencies.percentiles()),
    );
    line("peak RSS", format!("{} MiB", peak_rss_mib()));

    heading(&format!(
        "project reads: one project with {} tasks, among {} projects",
        args.tasks, args.projects
    ));
    let project = project_with_tasks(&client, &served, &token, args.tasks).await?;
    reads::measure(pool, &served, &token, project, args).await?;
    served.stop().await?;
    Ok(())
}

/// Creates a project holding `tasks` tasks over HTTP and returns its id.
async fn project_with_tasks(
    client: &reqwest::Client,
    served: &Served,
    token: &str,
    tasks: usize,
) -> anyhow::Result<uuid::Uuid> {
    let body = serde_json::json!({ "name": "Bench reads" });
    let url = served.url("/api/projects");
    let response = post_json(client, &url, Some(token), &body, StatusCode::CREATED).await?;
    let created: serde_json::Value = response.json().await?;
    let id: uuid::Uuid = serde_json::from_value(created["id"].clone())?;
    let url = served.url(&format!("/api/projects/{id}/tasks"));
    for n in 0..tasks {
        let body = serde_json::json!({
            "title": format!("Bench task {n}"),
            "description": "A task of about the length people write: two sentences of text.",
            "labels": ["bench", "reads"],
        });
        post_json(client, &url, Some(token), &body, StatusCode::CREATED).await?;
    }
    Ok(id)
}

fn durable_write(dir: &std::path::Path, n: usize, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let temp = dir.join(format!("{n}.tmp"));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temp, dir.join(n.to_string()))
}
