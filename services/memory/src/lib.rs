//! The memory service: documents and their chunks in PostgreSQL, one vector per chunk in
//! the vector index (point id = chunk id), and semantic search that asks the index and
//! joins PostgreSQL for the full rows.

pub mod chunking;
pub mod cli;
pub mod config;
pub mod error;
pub mod indexing;
pub mod ingest;
pub mod reindex;
pub mod routes;
pub mod search;
pub mod state;

use std::time::Duration;

use platform::service::{Service, ServiceContext, ServiceSpec, StartError};

pub use state::AppState;

/// Listens on `MEMORY_HOST`:`MEMORY_PORT` (default port 3003).
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "memory",
    env_prefix: "MEMORY_",
    default_port: 3003,
};

/// Reads the settings, opens the embedder and the vector index, starts the background
/// indexer and builds the routes. Health and middleware come from `platform`.
pub async fn build(context: ServiceContext) -> Result<Service, StartError> {
    let settings = config::Settings::from_env().map_err(StartError::new)?;
    let verifier: authn::VerifierConfig = platform::config::from_env().map_err(StartError::new)?;
    let verifier = verifier.verifier().map_err(StartError::new)?;
    let state = AppState::open(context.pool, &settings, verifier).await?;
    let interval = Duration::from_secs(settings.memory.memory_indexer_interval_secs);
    tokio::spawn(
        state
            .indexer
            .clone()
            .run(state.indexer_wakeup.clone(), interval),
    );
    let probe = VectorProbe(state.indexer.index.clone());
    Ok(Service {
        router: routes::router(state),
        probes: vec![Box::new(probe)],
    })
}

/// Readiness fails while the vector index does not answer: searches would fail.
struct VectorProbe(std::sync::Arc<dyn vector::VectorIndex>);

impl platform::health::Probe for VectorProbe {
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
