//! The API gateway: the frontend's single origin. It forwards `/api/auth`, `/api/projects`
//! and `/api/memory` to their services, answers CORS preflights, reports the readiness of
//! the whole stack and serves one merged OpenAPI document, browsable at `/docs`. It keeps
//! no state of its own, so unlike the other services it starts without a database.

pub mod config;
pub mod cors;
pub mod error;
pub mod headers;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod paths;
mod progress;
pub mod proxy;
pub mod upstream;

use std::sync::Arc;

use axum::Router;
use platform::{
    config::CommonConfig,
    service::{ServiceSpec, StartError},
};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::{config::Settings, upstream::Upstreams};

/// Listens on `GATEWAY_HOST`:`GATEWAY_PORT` (default port 3000).
pub const SPEC: ServiceSpec = ServiceSpec::new("gateway", "GATEWAY_", 3000);

/// The complete router: proxy routes, health, the merged OpenAPI document and Swagger UI
/// over it (the gateway's own `/docs`, never a service's), the platform's middleware and CORS.
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
    let import_client = upstream::import_client(settings)
        .map_err(|error| StartError::new(format!("cannot build the HTTP client: {error}")))?;
    let upload_client = upstream::upload_client(settings)
        .map_err(|error| StartError::new(format!("cannot build the HTTP client: {error}")))?;
    let proxy_options = proxy::ProxyOptions {
        client,
        import_client,
        import_timeout: settings.import_timeout,
        upload_client,
        upload_timeout: settings.upload_timeout,
        upstream_timeout: settings.upstream_timeout,
        trusted_proxies: settings.trusted_proxies.clone(),
    };
    let routes = proxy::router(&upstreams, &proxy_options)
        .merge(openapi::router(Arc::new(aggregator)))
        .merge(platform::docs::router(platform::docs::SIBLING_OPENAPI))
        .merge(platform::health::router(SPEC.name, probes));
    // The path check wraps the router, fallback included, so a dot-segment probe is refused
    // whatever it would match; the request id goes around it so that refusal carries one
    // too (the standard layers inside keep the id given here). CORS goes outermost so every
    // answer carries it, 404s and timeouts included; otherwise the browser would hide the
    // JSON error behind a CORS failure.
    metrics::describe();
    let layered = platform::http::with_standard_layers(routes, common)
        .layer(axum::middleware::from_fn(paths::refuse_unsafe))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(cors::layer(settings.cors_allowed_origins.clone()));
    Ok(platform::metrics::record_requests(layered, SPEC.name))
}

/// Start-up: reads the gateway's settings and returns the app. No database: the gateway
/// only needs the services it forwards to.
pub async fn build(common: CommonConfig) -> Result<Router, StartError> {
    let env: config::GatewayEnv = platform::config::from_env().map_err(StartError::new)?;
    let settings = Settings::from_env_vars(&env).map_err(StartError::new)?;
    if settings.upstream_timeout >= common.request_timeout() {
        tracing::warn!(
            upstream = ?settings.upstream_timeout,
            request = ?common.request_timeout(),
            "UPSTREAM_TIMEOUT_SECS is not below REQUEST_TIMEOUT_SECS: slow services get a \
             generic 503 timeout instead of the gateway's 504"
        );
    }
    tracing::info!(
        auth = %settings.auth_url,
        project = %settings.project_url,
        memory = %settings.memory_url,
        "forwarding"
    );
    if let Some(address) = settings.metrics_addr {
        let bound = metrics::serve(address).await?;
        tracing::info!(%bound, "serving /metrics");
    }
    app(&settings, &common)
}
