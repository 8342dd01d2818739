//! The memory service: documents and their chunks in PostgreSQL, one vector per chunk in
//! the vector index (point id = chunk id), and semantic search that asks the index and
//! joins PostgreSQL for the full rows.

pub mod chunking;
pub mod cli;
pub mod config;
pub mod edit;
pub mod error;
pub mod indexing;
pub mod ingest;
pub mod legacy;
pub mod metrics;
pub mod reindex;
pub mod routes;
pub mod search;
pub mod state;
pub mod statistics;
pub mod transfer;

use std::time::Duration;

use axum::Router;
use platform::{
    config::CommonConfig,
    health::Probe,
    service::{ServiceSpec, StartError},
};

pub use state::AppState;

/// Listens on `MEMORY_HOST`:`MEMORY_PORT` (default port 3003).
pub const SPEC: ServiceSpec = ServiceSpec::new("memory", "MEMORY_", 3003);

/// Start-up: reads the settings, opens the database (at this build's schema), the embedder
/// and the vector index; after an unclean stop of the index, puts chunks whose vectors it
/// lost back to pending (before anything is answered); then starts the background indexer
/// and returns the app.
pub async fn build(common: CommonConfig) -> Result<Router, StartError> {
    let pool = db::service::open_from_env().await?;
    let settings = config::Settings::from_env().map_err(StartError::new)?;
    let verifier: authn::VerifierConfig = platform::config::from_env().map_err(StartError::new)?;
    let verifier = verifier.verifier().map_err(StartError::new)?;
    let state = AppState::open(pool, &settings, verifier, common).await?;
    state
        .indexer
        .reconcile_if_needed()
        .await
        .map_err(|error| StartError::new(format!("reconciling the vector index: {error}")))?;
    let interval = Duration::from_secs(settings.memory.memory_indexer_interval_secs);
    tokio::spawn(
        state
            .indexer
            .clone()
            .run(state.indexer_wakeup.clone(), interval),
    );
    Ok(app(state))
}

/// The whole service — routes, health and the standard middleware — for `main`, the tests
/// and the benchmarks alike.
pub fn app(state: AppState) -> Router {
    let probes: Vec<Box<dyn Probe>> = vec![
        db::service::readiness_probe(&state.pool),
        Box::new(VectorProbe(state.indexer.index.clone())),
    ];
    db::service::gauge_pool(SPEC.name, &state.pool);
    metrics::describe();
    let common = state.common.clone();
    platform::service::assemble(SPEC.name, routes::router(state), probes, &common)
}

/// Readiness fails while the vector index does not answer: searches would fail.
struct VectorProbe(std::sync::Arc<dyn vector::VectorIndex>);

impl Probe for VectorProbe {
    fn name(&self) -> &'static str {
        "vector_index"
    }

    fn check(&self) -> futures::future::BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            self.0
                .health()
                .await
                .map(|()| self.0.backend().to_owned())
                .map_err(|error| error.to_string())
        })
    }
}
