//! Project service figures over real HTTP (guide, phase 7: "create 1000 projects with
//! files"), next to the floor measured in the same run: writing the same bytes to fresh
//! files with fsync and rename at the same concurrency, which every durable upload must do.

use std::sync::Arc;

use project::{AppState, storage::FileStore};
use reqwest::StatusCode;
use tempfile::TempDir;

use crate::ProjectArgs;
use crate::load::{post_json, timed};
use crate::report::{heading, line, rate};
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
    let state = AppState {
        pool: pool.clone(),
        verifier: tokens.verifier.clone(),
        sessions: authn::LiveSessions::new(pool.clone()),
        files: FileStore::new(files_dir.path()),
        common: common_config(),
    };
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
    line(
        "floor: write + fsync + rename, same bytes",
        floor.summary("files"),
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
    line(
        "create project + upload over HTTP",
        format!(
            "{} projects ({} files)  {}",
            rate(run.count, run.elapsed),
            rate(run.count * files, run.elapsed).trim(),
            run.latencies.summary()
        ),
    );
    line("peak RSS", format!("{} MiB", peak_rss_mib()));
    served.stop().await?;
    Ok(())
}

fn durable_write(dir: &std::path::Path, n: usize, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let temp = dir.join(format!("{n}.tmp"));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temp, dir.join(n.to_string()))
}
