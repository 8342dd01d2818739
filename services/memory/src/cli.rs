//! The `memory` binary's command line: serve (the default), `reindex`, `import-legacy` or
//! `healthcheck`.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, sync::Arc};

use clap::{ArgGroup, Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use platform::service::StartError;

use crate::{
    AppState,
    config::Settings,
    indexing::Indexer,
    legacy::{
        self, Options, Owner, RawRecord, Summary, embedders::NotOpened, qdrant::QdrantSource,
    },
    reindex, state,
};

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
    /// Import the old memory service's documents from its JSON file or Qdrant collection.
    /// With the embedded index, stop the service first: the data directory has one user.
    ///
    /// The file: a JSON array of records, an object holding one array of them, or NDJSON; the
    /// collection: every point, its payload the record. The text is under `content`, `text`
    /// or `pageContent`. Each record becomes one document with source `legacy`, embedded
    /// with the configured model; a rerun imports only what is new or changed. A dry run
    /// does not open the index. See services/memory/README.md, "Legacy import".
    ImportLegacy(ImportLegacy),
    /// Ask the running service whether it is ready (exit 0) or not (exit 1): the
    /// container healthcheck, so the image needs no curl.
    Healthcheck {
        /// Ask /health/live (the process answers) instead of /health/ready.
        #[arg(long)]
        live: bool,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["json", "qdrant_url"])))]
struct ImportLegacy {
    /// The JSON or NDJSON (.ndjson, .jsonl) file of records.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["qdrant_url", "collection"])]
    json: Option<PathBuf>,
    /// The old Qdrant server's gRPC URL, e.g. http://localhost:6334.
    #[arg(long, value_name = "URL", requires = "collection")]
    qdrant_url: Option<String>,
    /// The collection holding the old service's points.
    #[arg(long, value_name = "NAME", requires = "qdrant_url")]
    collection: Option<String>,
    /// The old Qdrant server's API key, if it has one.
    #[arg(
        long,
        value_name = "KEY",
        env = "LEGACY_QDRANT_API_KEY",
        hide_env_values = true
    )]
    qdrant_api_key: Option<String>,
    /// Whose documents they become: an account's email, or `shared` (every user's).
    #[arg(long, value_name = "EMAIL|shared")]
    owner: String,
    /// Read, check and report what would happen; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also write, as JSON, each record's legacy id, document id and first chunk id.
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
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
        Command::ImportLegacy(args) => match import_legacy(args).await {
            Ok(summary) => {
                print!("{}", summary.render());
                match summary.failure {
                    None => ExitCode::SUCCESS,
                    Some(failure) => {
                        eprintln!("memory import-legacy: error: {failure}");
                        ExitCode::FAILURE
                    }
                }
            }
            Err(error) => {
                eprintln!("memory import-legacy: error: {error}");
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

/// Reads the source, then opens what the service opens and imports; writes the mapping.
async fn import_legacy(args: ImportLegacy) -> Result<Summary, String> {
    platform::config::load_dotenv();
    let common: platform::config::CommonConfig =
        platform::config::from_env().map_err(|error| error.to_string())?;
    platform::telemetry::init(common.log_format);
    // A wrong path or a broken file is found before anything is opened; a Qdrant collection
    // is read once the owner is known (it may be long).
    let file = args.json.as_deref().map(read_file).transpose()?;
    let settings = Settings::from_env()?;
    let db_config: db::DbConfig =
        platform::config::from_env().map_err(|error| error.to_string())?;
    let pool = db::schema::open_verified(&db_config)
        .await
        .map_err(|error| error.to_string())?;
    let owner = Owner::resolve(&pool, &args.owner)
        .await
        .map_err(|error| error.to_string())?;
    let (records, source) = match file {
        Some(file) => file,
        None => read_collection(&args).await?,
    };
    let indexer = if args.dry_run {
        dry_run_indexer(pool.clone(), &settings)?
    } else {
        state::open_indexer(pool.clone(), &settings)
            .await
            .map_err(|error| error.to_string())?
    };
    // It answers no requests: a verifier that trusts no key.
    let audience = authn::Audience {
        issuer: "memory import-legacy".into(),
        audience: "none".into(),
    };
    let verifier = authn::TokenVerifier::new([], &audience);
    let state = AppState::with_indexer(indexer, &settings.memory, verifier, common)
        .map_err(|error| error.to_string())?;
    let bar = progress_bar(records.len());
    let options = Options {
        owner,
        dry_run: args.dry_run,
    };
    let mut summary = legacy::import(&state, records, &options, &bar).await;
    bar.finish_and_clear();
    summary.source = source;
    if let Some(path) = args.mapping.as_ref().filter(|_| !args.dry_run) {
        let written = serde_json::to_vec_pretty(&summary.mapping)
            .map_err(std::io::Error::from)
            .and_then(|json| std::fs::write(path, json));
        if let Err(error) = written {
            summary.failure.get_or_insert(format!(
                "cannot write the mapping to {}: {error} (the import is done: rerun with another \
                 --mapping to write it)",
                path.display()
            ));
        }
    }
    pool.close().await;
    Ok(summary)
}

/// The file's records, and how to name it.
fn read_file(path: &std::path::Path) -> Result<(Vec<RawRecord>, String), String> {
    let file = legacy::json::read(path).map_err(|error| error.to_string())?;
    let label = format!("{} ({})", path.display(), file.shape.describe());
    Ok((file.records, label))
}

/// The collection's points, and how to name it.
async fn read_collection(args: &ImportLegacy) -> Result<(Vec<RawRecord>, String), String> {
    let (Some(url), Some(collection)) = (&args.qdrant_url, &args.collection) else {
        return Err("give --json FILE, or --qdrant-url URL and --collection NAME".into());
    };
    let source = QdrantSource {
        url: url.clone(),
        collection: collection.clone(),
        api_key: args.qdrant_api_key.clone().filter(|key| !key.is_empty()),
    };
    let spinner = progress_bar(0);
    let records = legacy::qdrant::read(&source, |count| {
        spinner.set_message(format!("reading points: {count}"));
    })
    .await
    .map_err(|error| error.to_string())?;
    spinner.finish_and_clear();
    Ok((
        records,
        format!("Qdrant collection `{collection}` at {url}"),
    ))
}

/// A dry run's indexer: the configured embedder's name and size, no index.
fn dry_run_indexer(pool: db::PgPool, settings: &Settings) -> Result<Indexer, String> {
    let embedder = embed::from_config(&settings.embedding).map_err(|error| error.to_string())?;
    Ok(Indexer {
        pool,
        index: Arc::new(NotOpened),
        embedder,
        collection: settings.memory.memory_collection.as_str().into(),
        batch: settings.memory.memory_index_batch,
        orphan_sweep_interval: None,
    })
}

/// A bar over `len` records (a spinner when 0) on a terminal; hidden otherwise, so logs
/// and pipes get only the report.
fn progress_bar(len: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    if len == 0 {
        return ProgressBar::new_spinner();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "importing {pos}/{len} records [{bar:30}] {elapsed}, {eta} left",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
