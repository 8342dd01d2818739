//! `bench`: prints throughput and latency for the vector index backends and the embedder,
//! each next to a floor measured in the same run. Prints figures; asserts nothing.
//!
//! ```sh
//! cargo run --release -p bench -- vector              # 100k points, embedded + remote
//! cargo run --release -p bench -- vector --points 20000 --backend embedded
//! cargo run --release -p bench -- embed               # hashing embedder, chunks/s
//! ```

mod embed;
mod floors;
mod report;
mod vector;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(about = "DevMentor vector index and embedder benchmarks (figures only, no assertions)")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Upsert throughput and query latency of the vector index.
    Vector(VectorArgs),
    /// Embedding throughput of the offline hashing embedder.
    Embed(EmbedArgs),
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if cfg!(debug_assertions) {
        println!("note: debug build; use `cargo run --release -p bench` for meaningful figures");
    }
    match args.command {
        Command::Vector(args) => vector::run(&args).await,
        Command::Embed(args) => embed::run(&args).await,
    }
}
