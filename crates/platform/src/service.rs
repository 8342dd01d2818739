//! The start-up sequence every service binary shares, so each `main.rs` is a few lines:
//! config → tracing → listen → the service builds its app (connecting to what it needs) →
//! serve until SIGTERM. Nothing here knows about databases: a service opens its own pool
//! and hands in its readiness probes, so the gateway, which has none, starts the same way.

use std::{future::Future, process::ExitCode, time::Duration};

use axum::Router;
use tokio::net::TcpListener;

pub use crate::config::ServiceSpec;
pub use crate::server::{ServeOptions, serve_with};
use crate::{
    config::{self, CommonConfig, ListenConfig},
    docs,
    health::{self, Probe},
    healthcheck, http, metrics, shutdown, telemetry,
};

/// A start-up failure: printed as one line on stderr, then the process exits non-zero.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(String);

impl StartError {
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self(message.to_string())
    }
}

/// Runs a service binary to completion and returns its exit code. `build` gets the shared
/// settings and returns the whole app (see [`assemble`]). `<binary> healthcheck [--live]`
/// asks the running service instead (see [`healthcheck`]).
pub async fn run_service<B>(spec: ServiceSpec, build: B) -> ExitCode
where
    B: AsyncFnOnce(CommonConfig) -> Result<Router, StartError>,
{
    let mut args = std::env::args_os().skip(1);
    if args
        .next()
        .is_some_and(|first| first == healthcheck::SUBCOMMAND)
    {
        return healthcheck::run_from_args(spec, args).await;
    }
    match start(spec, build).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}: error: {error}", spec.name);
            ExitCode::FAILURE
        }
    }
}

async fn start<B>(spec: ServiceSpec, build: B) -> Result<(), StartError>
where
    B: AsyncFnOnce(CommonConfig) -> Result<Router, StartError>,
{
    config::load_dotenv();
    let common: CommonConfig = config::from_env().map_err(StartError::new)?;
    let listen: ListenConfig =
        config::from_env_prefixed(spec.env_prefix).map_err(StartError::new)?;
    telemetry::init(common.log_format);

    let address = format!(
        "{}:{}",
        listen.host,
        listen.port.unwrap_or(spec.default_port)
    );
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|error| StartError::new(format!("cannot listen on {address}: {error}")))?;
    let options = common.serve_options();
    let app = build(common).await?;

    tracing::info!(service = spec.name, %address, "listening");
    serve_with(listener, app, shutdown::signal(), options)
        .await
        .map_err(|error| StartError::new(format!("server failed: {error}")))?;
    tracing::info!("stopped");
    Ok(())
}

/// A whole service: its routes plus `/health/live` and `/health/ready` (checking `probes`)
/// and Swagger UI at `/docs` over the service's own `/openapi.json`, wrapped in the standard
/// middleware (request ids, tracing, limits, timeouts, JSON errors), with every request
/// counted and timed for Prometheus at `/metrics`.
pub fn assemble(
    name: &'static str,
    routes: Router,
    probes: Vec<Box<dyn Probe>>,
    common: &CommonConfig,
) -> Router {
    let router = routes
        .merge(health::router(name, probes))
        .merge(docs::router(docs::SIBLING_OPENAPI))
        .merge(metrics::router());
    metrics::record_requests(http::with_standard_layers(router, common), name)
}

/// Serves until `stop` resolves, then lets in-flight requests finish for at most `grace`;
/// the default connection limits apply (see [`serve_with`] to choose them).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    serve_with(listener, router, stop, ServeOptions::new(grace)).await
}
