//! The auth service: accounts, sessions and tokens, on the `auth` schema.

pub mod config;
pub mod error;
pub mod mail;
pub mod oauth;
pub mod password;
pub mod rate_limit;
pub mod routes;
pub mod sessions;
pub mod state;
pub mod validate;

use platform::service::{Service, ServiceContext, ServiceSpec, StartError};

pub use state::AppState;

/// Listens on `AUTH_HOST`:`AUTH_PORT` (default port 3002).
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "auth",
    env_prefix: "AUTH_",
    default_port: 3002,
};

/// Reads the auth settings, loads keys and builds the routes. Health and middleware come
/// from `platform`.
pub async fn build(context: ServiceContext) -> Result<Service, StartError> {
    let config: config::AuthConfig = platform::config::from_env().map_err(StartError::new)?;
    let state = AppState::new(context.pool, config).await?;
    let probe = RedisProbe(state.limiter.clone());
    tokio::spawn(state.outbox_worker().run_forever());
    Ok(Service {
        router: routes::router(state),
        probes: vec![Box::new(probe)],
    })
}

/// Reports Redis in `/health/ready` without failing it: rate limits fall back to
/// per-replica counting when Redis is away, and auth keeps working.
struct RedisProbe(std::sync::Arc<rate_limit::RateLimiter>);

impl platform::health::Probe for RedisProbe {
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
