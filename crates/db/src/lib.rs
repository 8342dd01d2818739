//! The DevMentor database: the embedded migrations, pool construction, schema checks,
//! typed ids and every SQL query the services run.
//!
//! Services never create tables. They call [`schema::verify`] at start and refuse to run
//! against a database whose migrations differ from the ones compiled into this crate.

pub mod auth;
pub mod ids;
pub mod memory;
pub mod migrations;
pub mod pool;
pub mod projects;
pub mod rollout;
pub mod schema;
pub mod seeds;
pub mod service;
mod violation;

pub use pool::{DbConfig, SslMode, connect};
pub use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, Transaction};
pub use violation::Violation;

/// Every migration in `database/migrations`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../database/migrations");

/// The schema version this build needs: the newest embedded migration.
pub fn expected_version() -> i64 {
    MIGRATOR
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0)
}
