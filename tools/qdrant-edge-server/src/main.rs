//! `qdrant-edge-server`: serves Qdrant's gRPC API (the subset DevMentor uses) from the
//! embedded engine. A test/dev helper, not a Qdrant replacement; see the crate docs.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use vector::{EmbeddedConfig, EmbeddedIndex};

#[derive(Debug, Parser)]
#[command(about = "Qdrant's gRPC API over the embedded engine (test/dev helper, not Qdrant)")]
struct Args {
    /// Address to listen on (Qdrant's gRPC port is 6334).
    #[arg(long, default_value = "127.0.0.1:6334")]
    listen: SocketAddr,
    /// Where collections are stored.
    #[arg(long, default_value = "./data/qdrant-edge-server")]
    data_dir: PathBuf,
    /// Require this key in the `api-key` header, like Qdrant's `QDRANT__SERVICE__API_KEY`.
    #[arg(long, env = "QDRANT_EDGE_SERVER_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

// The allocator every DevMentor process runs on (see the workspace Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    platform::telemetry::init(platform::config::LogFormat::Pretty);
    let index = EmbeddedIndex::open(EmbeddedConfig::new(&args.data_dir)).await?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, data_dir = %args.data_dir.display(), "qdrant-edge-server listening (gRPC)");
    qdrant_edge_server::serve(
        listener,
        index.clone(),
        args.api_key,
        platform::shutdown::signal(),
    )
    .await?;
    index.close().await;
    Ok(())
}
