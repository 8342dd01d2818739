//! The `memory` binary's command line: serve (the default), `reindex` or `healthcheck`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use platform::service::StartError;

use crate::{config::Settings, reindex, state};

#[derive(Debug, Parser)]
#[command(name = "memory", about = "The DevMentor memory service")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Rebuild the vector collection from the chunks in PostgreSQL with the configured
    /// embedding model (after changing EMBEDDING_MODEL/EMBEDDING_DIM, or losing the index).
    /// With the embedded index, stop the service first: the data directory has one user.
    Reindex,
    /// Ask the running service whether it is ready (exit 0) or not (exit 1): the
    /// container healthcheck, so the image needs no curl.
    Healthcheck {
        /// Ask /health/live (the process answers) instead of /health/ready.
        #[arg(long)]
        live: bool,
    },
}

pub async fn main() -> ExitCode {
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Serve => platform::run_service(crate::SPEC, crate::build).await,
        Command::Healthcheck { live } => {
            let endpoint = if live {
                platform::healthcheck::Endpoint::Live
            } else {
                platform::healthcheck::Endpoint::Ready
            };
            platform::healthcheck::run(crate::SPEC, endpoint).await
        }
        Command::Reindex => match run_reindex().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("memory reindex: error: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn run_reindex() -> Result<(), StartError> {
    platform::config::load_dotenv();
    let common: platform::config::CommonConfig =
        platform::config::from_env().map_err(StartError::new)?;
    platform::telemetry::init(common.log_format);
    let settings = Settings::from_env().map_err(StartError::new)?;
    let db_config: db::DbConfig = platform::config::from_env().map_err(StartError::new)?;
    let pool = db::schema::open_verified(&db_config)
        .await
        .map_err(StartError::new)?;
    let indexer = state::connect_indexer(pool.clone(), &settings).await?;
    let (total, _) = db::memory::chunks::counts(&pool)
        .await
        .map_err(StartError::new)?;
    eprintln!(
        "rebuilding collection `{}` ({}) from {total} chunks with `{}` ({} dimensions)",
        indexer.collection,
        indexer.index.backend(),
        indexer.embedder.model(),
        indexer.embedder.dimension()
    );
    let report = reindex::rebuild(&indexer, |done| eprintln!("  {done}/{total} chunks"))
        .await
        .map_err(StartError::new)?;
    println!(
        "reindexed {} chunks into `{}` with `{}` ({} dimensions)",
        report.chunks, indexer.collection, report.model, report.dimension
    );
    pool.close().await;
    Ok(())
}
