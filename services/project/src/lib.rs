//! The project service: projects, epics, tasks and files, on the `projects` schema.
//! File bytes live under `PROJECTS_DIR`; their metadata and everything else in PostgreSQL.

pub mod config;
pub mod error;
pub mod pagination;
pub mod routes;
pub mod state;
pub mod storage;
pub mod validate;

use platform::service::{Service, ServiceContext, ServiceSpec, StartError};

pub use state::AppState;

/// Listens on `PROJECT_HOST`:`PROJECT_PORT` (default port 3005).
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "project",
    env_prefix: "PROJECT_",
    default_port: 3005,
};

/// Reads the settings, loads the token keys, makes sure `PROJECTS_DIR` exists and builds
/// the routes. Health endpoints and middleware are added by `platform`.
pub async fn build(context: ServiceContext) -> Result<Service, StartError> {
    let config: config::ProjectConfig = platform::config::from_env().map_err(StartError::new)?;
    let keys: authn::VerifierConfig = platform::config::from_env().map_err(StartError::new)?;
    let verifier = keys.verifier().map_err(StartError::new)?;
    tokio::fs::create_dir_all(&config.projects_dir)
        .await
        .map_err(|error| {
            StartError::new(format!(
                "PROJECTS_DIR {}: {error}",
                config.projects_dir.display()
            ))
        })?;
    let state = AppState {
        sessions: authn::LiveSessions::new(context.pool.clone()),
        pool: context.pool,
        verifier,
        files: storage::FileStore::new(config.projects_dir),
    };
    Ok(routes::router(state).into())
}
