//! What a service backed by this database adds to `platform`'s start-up, the same in every
//! one: the pool, opened from the environment at this build's schema; its check in
//! `/health/ready`; its gauges on `/metrics`.

use platform::{
    health::{CheckProbe, Probe},
    metrics::PoolUsage,
    service::StartError,
};
use sqlx::PgPool;

/// Opens the pool `DATABASE_URL` (and the other `DbConfig` settings) describe, and refuses to
/// go on unless the database is at this build's schema.
pub async fn open_from_env() -> Result<PgPool, StartError> {
    let config: crate::DbConfig = platform::config::from_env().map_err(StartError::new)?;
    crate::schema::open_verified(&config)
        .await
        .map_err(StartError::new)
}

/// `/health/ready`'s `postgres` check: PostgreSQL answers, at this build's schema.
pub fn readiness_probe(pool: &PgPool) -> Box<dyn Probe> {
    let pool = pool.clone();
    CheckProbe::boxed("postgres", move || crate::schema::readiness(pool.clone()))
}

/// Reports the pool's open and idle connections on `/metrics`, labelled with `service`.
pub fn gauge_pool(service: &'static str, pool: &PgPool) {
    let pool = pool.clone();
    platform::metrics::pool_gauges(service, move || PoolUsage {
        open: pool.size(),
        idle: pool.num_idle(),
    });
}
