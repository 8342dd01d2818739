//! The auth service: accounts, sessions and tokens, on the `auth` schema.

pub mod audit;
pub mod config;
pub mod credentials;
pub mod device;
pub mod enrolment;
pub mod error;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod mfa;
pub mod oauth;
pub mod passkeys;
pub mod password;
pub mod rate_limit;
pub mod relying_party;
pub mod routes;
pub mod secrets;
pub mod sessions;
pub mod state;
pub mod validate;

use axum::Router;
use platform::{
    config::CommonConfig,
    health::Probe,
    service::{ServiceSpec, StartError},
};

pub use state::AppState;

/// Listens on `AUTH_HOST`:`AUTH_PORT` (default port 3002).
pub const SPEC: ServiceSpec = ServiceSpec::new("auth", "AUTH_", 3002);

/// Start-up: reads the settings, opens the database (at this build's schema), loads the
/// keys, starts the mail worker and returns the app.
pub async fn build(common: CommonConfig) -> Result<Router, StartError> {
    let pool = db::service::open_from_env().await?;
    let config: config::AuthConfig = platform::config::from_env().map_err(StartError::new)?;
    let state = AppState::new(pool, config, common).await?;
    tokio::spawn(state.outbox_worker().run_forever());
    Ok(app(state))
}

/// The whole service — routes, health and the standard middleware — for `main`, the tests
/// and the benchmarks alike.
pub fn app(state: AppState) -> Router {
    let probes: Vec<Box<dyn Probe>> = vec![
        db::service::readiness_probe(&state.pool),
        Box::new(RedisProbe(state.limiter.clone())),
    ];
    db::service::gauge_pool(SPEC.name, &state.pool);
    metrics::describe();
    let common = state.common.clone();
    platform::service::assemble(SPEC.name, routes::router(state), probes, &common)
}

/// Reports Redis in `/health/ready` without failing it: rate limits fall back to
/// per-replica counting when Redis is away, and auth keeps working.
struct RedisProbe(std::sync::Arc<rate_limit::RateLimiter>);

impl Probe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn check(&self) -> futures::future::BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            Ok(match self.0.redis_ping().await {
                Ok(()) => "connected".to_owned(),
                Err(error) => format!("unreachable ({error}); rate limits are per replica"),
            })
        })
    }
}
