//! The auth service: accounts, sessions and tokens, on the `auth` schema.

use axum::Router;
use platform::service::{Service, ServiceContext, ServiceSpec, StartError};

/// Listens on `AUTH_HOST`:`AUTH_PORT` (default port 3002).
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "auth",
    env_prefix: "AUTH_",
    default_port: 3002,
};

/// Builds the service's routes. Health endpoints and middleware are added by `platform`.
pub async fn build(_context: ServiceContext) -> Result<Service, StartError> {
    Ok(Router::new().into())
}
