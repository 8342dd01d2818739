//! The project service: projects, epics, tasks and files, on the `projects` schema.
//! File bytes live in a file store (`PROJECTS_DIR`, or an S3 bucket when `STORAGE_URL` names
//! one); their metadata and everything else in PostgreSQL.

pub mod access;
pub mod cleanup;
pub mod cli;
pub mod config;
pub mod error;
pub mod events;
pub mod metrics;
pub mod pagination;
pub mod routes;
pub mod state;
pub mod storage;
pub mod validate;

use axum::Router;
use platform::{
    config::CommonConfig,
    health::CheckProbe,
    metrics::PoolUsage,
    service::{ServiceSpec, StartError},
};

pub use state::AppState;

/// Listens on `PROJECT_HOST`:`PROJECT_PORT` (default port 3005).
pub const SPEC: ServiceSpec = ServiceSpec::new("project", "PROJECT_", 3005);

/// Start-up: reads the settings, opens the database (at this build's schema), loads the
/// token keys, opens the file store (creating `PROJECTS_DIR`, or checking that the bucket
/// answers), starts the orphan sweep and returns the app.
pub async fn build(common: CommonConfig) -> Result<Router, StartError> {
    let database: db::DbConfig = platform::config::from_env().map_err(StartError::new)?;
    let pool = db::schema::open_verified(&database)
        .await
        .map_err(StartError::new)?;
    let config: config::ProjectConfig = platform::config::from_env().map_err(StartError::new)?;
    let keys: authn::VerifierConfig = platform::config::from_env().map_err(StartError::new)?;
    let verifier = keys.verifier().map_err(StartError::new)?;
    let location = config.storage().map_err(StartError::new)?;
    let files = storage::FileStore::connect(&location, true)
        .await
        .map_err(StartError::new)?;
    // Here rather than in `AppState::new`: tests that build the app get no sweep.
    if let Some(every) = config.sweep_interval() {
        cleanup::sweep::start(pool.clone(), files.clone(), every);
    }
    let upload_timeout = config.upload_timeout().map_err(StartError::new)?;
    let storage_quota_bytes = config.storage_quota_bytes().map_err(StartError::new)?;
    Ok(app(AppState {
        upload_timeout,
        storage_quota_bytes,
        ..AppState::with_files(pool, verifier, files, common)
    }))
}

/// The whole service — routes, health, metrics and the standard middleware — for `main`,
/// the tests and the benchmarks alike.
pub fn app(state: AppState) -> Router {
    let pool = state.pool.clone();
    let postgres = CheckProbe::boxed("postgres", move || db::schema::readiness(pool.clone()));
    let files = state.files.clone();
    let storage = CheckProbe::boxed("storage", move || {
        let files = files.clone();
        async move { files.check().await }
    });
    let pool = state.pool.clone();
    platform::metrics::pool_gauges(SPEC.name, move || PoolUsage {
        open: pool.size(),
        idle: pool.num_idle(),
    });
    metrics::describe();
    let common = state.common.clone();
    platform::service::assemble(
        SPEC.name,
        routes::router(state),
        vec![postgres, storage],
        &common,
    )
}
