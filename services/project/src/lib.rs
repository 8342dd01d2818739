//! The project service: projects, epics, tasks and files, on the `projects` schema.

use axum::Router;
use platform::service::{Service, ServiceContext, ServiceSpec, StartError};

/// Listens on `PROJECT_HOST`:`PROJECT_PORT` (default port 3005).
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "project",
    env_prefix: "PROJECT_",
    default_port: 3005,
};

/// Builds the service's routes. Health endpoints and middleware are added by `platform`.
pub async fn build(_context: ServiceContext) -> Result<Service, StartError> {
    Ok(Router::new().into())
}
