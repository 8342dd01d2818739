//! The app against a Qdrant gRPC server: the repo's test server over the embedded engine,
//! for the remote backend's tests and for a server that stops and comes back.

use std::{path::Path, sync::Arc};

use qdrant_edge_server::RunningServer;
use sqlx::PgPool;
use tempfile::TempDir;
use vector::{EmbeddedConfig, EmbeddedIndex, VectorConfig};

use super::{TestApp, settings};

/// The embedded engine whose files are in `dir`, as a Qdrant server keeps it.
pub async fn engine(dir: &Path) -> EmbeddedIndex {
    EmbeddedIndex::open(EmbeddedConfig::new(dir))
        .await
        .expect("engine")
}

/// The app against a Qdrant test server over an engine kept in the app's directory
/// (`app.dir`, where a restarted server finds it again). The app asks the server once per
/// call (a stopped server refuses at once), for ten seconds at most: on a loaded CI machine
/// the first call, which creates the collection, once took over two. Also returns the
/// server, to stop, and its engine, to look inside and to close.
pub async fn app_on_qdrant_server(pool: PgPool) -> (TestApp, RunningServer, EmbeddedIndex) {
    let dir = Arc::new(TempDir::new().expect("temp dir"));
    let engine = engine(dir.path()).await;
    let server = RunningServer::start(engine.clone(), None)
        .await
        .expect("serves");
    let mut settings = settings(&dir, 64);
    settings.vector = VectorConfig {
        qdrant_url: Some(server.url()),
        qdrant_max_retries: Some(0),
        qdrant_timeout_secs: Some(10),
        ..VectorConfig::default()
    };
    let app = TestApp::with_settings(pool, settings, dir).await;
    (app, server, engine)
}
