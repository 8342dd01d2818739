//! What every DevMentor service shares: typed config from the environment, tracing, the
//! JSON error shape, the HTTP middleware stack, health endpoints, graceful shutdown and the
//! start-up sequence every binary runs. It knows nothing of databases: services bring their
//! own pool (`db`) and readiness probes.

pub mod client;
pub mod config;
pub mod docs;
pub mod error;
pub mod extract;
pub mod health;
pub mod healthcheck;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod text;
pub mod unread_body;

#[cfg(test)]
mod test_support;

pub use error::{ServiceError, error_response};
pub use service::{ServiceSpec, run_service};
