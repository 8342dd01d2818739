//! The API gateway: the frontend's single origin. It forwards `/api/auth`, `/api/projects`
//! and `/api/memory` to their services, answers CORS preflights, reports the readiness of
//! the whole stack and serves one merged OpenAPI document. It keeps no state of its own, so
//! unlike the other services it starts without a database.

pub mod config;
pub mod cors;
pub mod error;
pub mod headers;
pub mod health;
pub mod openapi;
pub mod paths;
pub mod proxy;
pub mod upstream;

use std::{process::ExitCode, sync::Arc};

use axum::Router;
use platform::{
    config::{CommonConfig, ListenConfig},
    service::StartError,
};
use tokio::net::TcpListener;

use crate::{config::Settings, upstream::Upstreams};

/// Shown in logs and health responses.
pub const NAME: &str = "gateway";
/// `GATEWAY_HOST` / `GATEWAY_PORT`.
pub const ENV_PREFIX: &str = "GATEWAY_";
pub const DEFAULT_PORT: u16 = 3000;

/// The complete router: proxy routes, health, OpenAPI, the platform's middleware and CORS.
pub fn app(settings: &Settings, common: &CommonConfig) -> Result<Router, StartError> {
    let client = upstream::client(settings)
        .map_err(|error| StartError::new(format!("cannot build the HTTP client: {error}")))?;
    let upstreams = Upstreams::from_settings(settings);
    let probes = upstreams
        .all()
        .map(|upstream| {
            let probe =
                health::UpstreamProbe::new(upstream, client.clone(), settings.probe_timeout);
            Box::new(probe) as Box<dyn platform::health::Probe>
        })
        .into_iter()
        .collect();
    let aggregator = openapi::Aggregator::new(
        upstreams.clone(),
        client.clone(),
        settings.probe_timeout,
        settings.openapi_cache_ttl,
    );
    let proxy_options = proxy::ProxyOptions {
        client,
        trusted_proxies: settings.trusted_proxies.clone(),
    };
    let routes = proxy::router(&upstreams, &proxy_options)
        .merge(openapi::router(Arc::new(aggregator)))
        .merge(platform::health::router(NAME, probes));
    // The path check wraps the router, fallback included, so a dot-segment probe is refused
    // whatever it would match. CORS goes outermost so every answer carries it, 404s and
    // timeouts included; otherwise the browser would hide the JSON error behind a CORS failure.
    Ok(platform::http::with_standard_layers(routes, common)
        .layer(axum::middleware::from_fn(paths::refuse_unsafe))
        .layer(cors::layer(settings.cors_allowed_origins.clone())))
}

/// Runs the gateway binary to completion: config, tracing, listen, serve until SIGTERM.
pub async fn run() -> ExitCode {
    match start().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{NAME}: error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn start() -> Result<(), StartError> {
    platform::config::load_dotenv();
    let common: CommonConfig = platform::config::from_env().map_err(StartError::new)?;
    let listen: ListenConfig =
        platform::config::from_env_prefixed(ENV_PREFIX).map_err(StartError::new)?;
    let env: config::GatewayEnv = platform::config::from_env().map_err(StartError::new)?;
    let settings = Settings::from_env_vars(&env).map_err(StartError::new)?;
    platform::telemetry::init(common.log_format);
    if settings.upstream_timeout >= common.request_timeout() {
        tracing::warn!(
            upstream = ?settings.upstream_timeout,
            request = ?common.request_timeout(),
            "UPSTREAM_TIMEOUT_SECS is not below REQUEST_TIMEOUT_SECS: slow services get a \
             generic 503 timeout instead of the gateway's 504"
        );
    }

    let router = app(&settings, &common)?;
    let address = format!("{}:{}", listen.host, listen.port.unwrap_or(DEFAULT_PORT));
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|error| StartError::new(format!("cannot listen on {address}: {error}")))?;
    tracing::info!(
        service = NAME,
        %address,
        auth = %settings.auth_url,
        project = %settings.project_url,
        memory = %settings.memory_url,
        "listening"
    );
    platform::service::serve(
        listener,
        router,
        platform::shutdown::signal(),
        common.shutdown_grace(),
    )
    .await
    .map_err(|error| StartError::new(format!("server failed: {error}")))?;
    tracing::info!("stopped");
    Ok(())
}
