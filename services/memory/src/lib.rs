//! The memory service: documents, chunks and semantic search, on the `memory` schema.

use axum::Router;
use platform::service::{Service, ServiceContext, ServiceSpec, StartError};

/// Listens on `MEMORY_HOST`:`MEMORY_PORT` (default port 3003).
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "memory",
    env_prefix: "MEMORY_",
    default_port: 3003,
};

/// Builds the service's routes. Health endpoints and middleware are added by `platform`.
pub async fn build(_context: ServiceContext) -> Result<Service, StartError> {
    Ok(Router::new().into())
}
