//! `bench`: prints throughput and latency of the services (over real HTTP), the vector index
//! backends and the embedder, each next to a floor measured in the same run. Prints
//! figures; asserts nothing.
//!
//! ```sh
//! cargo run --release -p bench -- auth                # 100 concurrent logins x 3
//! cargo run --release -p bench -- vector              # 100k points, embedded + remote
//! cargo run --release -p bench -- vector --points 20000 --backend embedded
//! cargo run --release -p bench -- embed               # hashing embedder, chunks/s
//! cargo run --release -p bench -- memory              # 10k documents, 100 concurrent searches
//! cargo run --release -p bench -- memory --ingest-only  # the ingestion figures alone
//! cargo run --release -p bench -- project             # 1000 projects with files, reads
//! cargo run --release -p bench -- project --json out/project.json
//! cargo run --release -p bench -- report --out docs/performance.md out/*.json
//! ```
//!
//! `--json FILE` writes the run's named figures (see `report::figure`); `report` renders
//! such files into `docs/performance.md`.

mod auth;
mod dataset;
mod document;
mod embed;
mod floors;
mod http_load;
mod load;
mod memory;
mod project;
mod reads;
mod report;
mod scratch;
mod vector;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(about = "DevMentor vector index and embedder benchmarks (figures only, no assertions)")]
struct Args {
    #[command(subcommand)]
    command: Command,
    /// Also write the run's named figures to FILE as a JSON list of
    /// `{name, value, unit, floor, ratio, p50_ms, p95_ms, p99_ms, workload, command}`.
    #[arg(long, global = true, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Registrations and concurrent logins over HTTP next to the raw argon2id rate (needs
    /// DATABASE_URL and Redis).
    Auth(AuthArgs),
    /// Upsert throughput and query latency of the vector index.
    Vector(VectorArgs),
    /// Embedding throughput of the offline hashing embedder.
    Embed(EmbedArgs),
    /// Memory service over HTTP: document ingestion and concurrent searches (needs
    /// DATABASE_URL with a role that may create databases).
    Memory(MemoryArgs),
    /// Project service over HTTP: projects created with files, and token-checked reads
    /// next to a bare axum + sqlx read of the same row (needs DATABASE_URL).
    Project(ProjectArgs),
    /// Renders `--json` files of earlier runs into a Markdown page (docs/performance.md).
    Report(ReportArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// The Markdown file to (over)write.
    #[arg(long)]
    pub out: PathBuf,
    /// `--json` files of `bench` runs, in the order their figures should appear.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ProjectArgs {
    #[arg(long, default_value_t = 1_000)]
    pub projects: usize,
    /// Files uploaded into each project.
    #[arg(long, default_value_t = 1)]
    pub files: usize,
    /// Size of each file.
    #[arg(long, default_value_t = 64)]
    pub file_kib: usize,
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Concurrent connections of the read figures (besides one connection for latency).
    #[arg(long, default_value_t = 64)]
    pub read_concurrency: usize,
    /// Seconds each read figure (and its floor) runs.
    #[arg(long, default_value_t = 10)]
    pub read_seconds: u64,
    /// Tasks in the project whose task list is read.
    #[arg(long, default_value_t = 20)]
    pub tasks: usize,
    /// Load generator of the read figures: `wrk` when it is installed, else the built-in
    /// client (reqwest); both drive the floor and the service alike.
    #[arg(long, value_enum)]
    pub client: Option<http_load::Client>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AuthArgs {
    /// Concurrent logins (one account each).
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
    /// Times every account logs in.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

#[derive(Debug, Clone, clap::Args)]
pub struct MemoryArgs {
    /// Documents to ingest.
    #[arg(long, default_value_t = 10_000)]
    pub documents: usize,
    /// Words per document (about 7 characters each; chunks hold 1000 characters).
    #[arg(long, default_value_t = 250)]
    pub words: usize,
    /// Concurrent ingestion requests.
    #[arg(long, default_value_t = 16)]
    pub ingest_concurrency: usize,
    /// Distinct search queries, sent in turn (round and round) for `--search-seconds`.
    #[arg(long, default_value_t = 2_000)]
    pub queries: usize,
    /// Concurrent searches.
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
    #[arg(long, default_value_t = 384)]
    pub dim: usize,
    /// Only the ingestion figures (floors, batch, single documents): no searches.
    #[arg(long)]
    pub ingest_only: bool,
    /// Seconds a round of each search figure runs, the index-alone floor included (three
    /// rounds, in turn, best kept).
    #[arg(long, default_value_t = 5)]
    pub search_seconds: u64,
    /// Load generator of the search figures: `wrk` when it is installed, else the built-in
    /// client (reqwest, in this process, sharing the cores with the service).
    #[arg(long, value_enum)]
    pub client: Option<http_load::Client>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct VectorArgs {
    /// Points to index.
    #[arg(long, default_value_t = 100_000)]
    pub points: usize,
    /// Vector dimension.
    #[arg(long, default_value_t = 384)]
    pub dim: usize,
    /// Queries per concurrency level.
    #[arg(long, default_value_t = 2_000)]
    pub queries: usize,
    /// Points per upsert request.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    #[arg(long, value_enum, default_value_t = Backends::Both)]
    pub backend: Backends,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backends {
    Embedded,
    Remote,
    Both,
}

#[derive(Debug, Clone, clap::Args)]
pub struct EmbedArgs {
    /// Chunks to embed.
    #[arg(long, default_value_t = 20_000)]
    pub chunks: usize,
    /// Words per chunk.
    #[arg(long, default_value_t = 150)]
    pub words: usize,
    #[arg(long, default_value_t = 384)]
    pub dim: usize,
}

// The allocator every DevMentor process runs on (see the workspace Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if cfg!(debug_assertions) {
        println!("note: debug build; use `cargo run --release -p bench` for meaningful figures");
    }
    match args.command {
        Command::Auth(args) => auth::run(&args).await?,
        Command::Vector(args) => vector::run(&args).await?,
        Command::Embed(args) => embed::run(&args).await?,
        Command::Memory(args) => memory::run(&args).await?,
        Command::Project(args) => project::run(&args).await?,
        Command::Report(args) => return document::write(&args.out, &args.files),
    }
    if let Some(path) = args.json {
        let figures = serde_json::to_string_pretty(&report::recorded())?;
        std::fs::write(&path, figures + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
