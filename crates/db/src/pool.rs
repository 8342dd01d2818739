//! Pool construction from `DATABASE_URL`, `DB_POOL_SIZE` and `DB_SSL_MODE`.

use std::{str::FromStr, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::{
    Connection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions, PgSslMode},
};

/// Database settings, read from the environment by the service's config loader.
/// Field names are the lower-cased environment variable names.
#[derive(Debug, Clone, Deserialize)]
pub struct DbConfig {
    /// `DATABASE_URL`. Secret because it usually carries the password.
    pub database_url: SecretString,
    /// `DB_POOL_SIZE`: the most connections one service process opens
    /// (default: [`default_pool_size`]).
    #[serde(default = "default_pool_size")]
    pub db_pool_size: u32,
    /// `DB_SSL_MODE`; when unset the URL's `sslmode` (or `prefer`) applies.
    #[serde(default)]
    pub db_ssl_mode: Option<SslMode>,
}

/// The pool size when `DB_POOL_SIZE` is unset: [`pool_size_for_cores`] of this machine's
/// cores, which stand in for the database server's where both share a machine (compose, a
/// single VM); where PostgreSQL has its own, set `DB_POOL_SIZE` for its cores instead.
pub fn default_pool_size() -> u32 {
    pool_size_for_cores(std::thread::available_parallelism().map_or(1, usize::from))
}

/// PostgreSQL's own advice: about twice as many connections as its cores, so that each core
/// has a query to run while another waits on I/O, and no more. Every further connection
/// only queues on the cores as a backend process: 20 connections per service on two cores
/// made a search and a single-document ingestion ~10 % slower than 6 did, and a batch
/// ingestion no faster (`bench memory`, four runs each). At least 4, so that a small machine
/// still serves a slow query and the health checks beside it; at most 30, so that the three
/// services stay under PostgreSQL's default `max_connections` (100) with room for the
/// migrator and an operator.
pub fn pool_size_for_cores(cores: usize) -> u32 {
    let wanted = cores.saturating_mul(2).saturating_add(2);
    u32::try_from(wanted).unwrap_or(u32::MAX).clamp(4, 30)
}

/// The TLS modes we support, named as libpq names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl From<SslMode> for PgSslMode {
    fn from(mode: SslMode) -> Self {
        match mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require => PgSslMode::Require,
            SslMode::VerifyCa => PgSslMode::VerifyCa,
            SslMode::VerifyFull => PgSslMode::VerifyFull,
        }
    }
}

/// Why a pool could not be opened. Messages name the server, never the password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    InvalidUrl(String),
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Unreachable { target: String, source: sqlx::Error },
}

impl DbConfig {
    /// Parses the URL and applies `DB_SSL_MODE`, without connecting.
    pub fn connect_options(&self) -> Result<PgConnectOptions, ConnectError> {
        let url = self.database_url.expose_secret();
        // sqlx parses any scheme; a mysql:// URL here is a mistake worth naming.
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConnectError::InvalidUrl(
                "it must start with postgres:// or postgresql://".to_owned(),
            ));
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|error| ConnectError::InvalidUrl(error.to_string()))?;
        Ok(match self.db_ssl_mode {
            Some(mode) => options.ssl_mode(mode.into()),
            None => options,
        })
    }
}

/// `host:port/database` of the options, for error messages and logs.
pub fn describe_target(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    )
}

/// A connection idle at least this long is pinged before it is handed out.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Opens the pool and proves the server answers, so a wrong URL fails at start.
pub async fn connect(config: &DbConfig) -> Result<PgPool, ConnectError> {
    let options = config.connect_options()?;
    let target = describe_target(&options);
    pool_options(config.db_pool_size)
        .connect_with(options)
        .await
        .map_err(|source| ConnectError::Unreachable { target, source })
}

/// The pool's settings. sqlx pings every connection as it returns to the pool, and by
/// default pings it again at checkout: a second round trip per checkout, which under load
/// cost as much as a short query. A connection checked out again within
/// [`PING_AFTER_IDLE`] answered that return ping moments ago, so only one idle longer
/// (which the server or the network may have closed meanwhile) is pinged; a dead one is
/// replaced before any query meets it. A connection that breaks mid-query is closed by sqlx
/// as it returns, whatever these settings.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str, ssl: Option<SslMode>) -> DbConfig {
        DbConfig {
            database_url: url.into(),
            db_pool_size: 20,
            db_ssl_mode: ssl,
        }
    }

    #[test]
    fn the_default_pool_is_about_twice_the_cores_within_bounds() {
        assert_eq!(pool_size_for_cores(0), 4);
        assert_eq!(pool_size_for_cores(1), 4);
        assert_eq!(pool_size_for_cores(2), 6);
        assert_eq!(pool_size_for_cores(8), 18);
        assert_eq!(pool_size_for_cores(64), 30);
        assert_eq!(pool_size_for_cores(usize::MAX), 30);
    }

    #[test]
    fn ssl_mode_from_env_overrides_the_url() {
        let options = config(
            "postgres://u:p@db:5433/app?sslmode=disable",
            Some(SslMode::Require),
        )
        .connect_options()
        .expect("valid url");
        assert!(matches!(options.get_ssl_mode(), PgSslMode::Require));
        assert_eq!(describe_target(&options), "db:5433/app");
    }

    #[test]
    fn invalid_url_is_reported_without_the_password() {
        let error = config("mysql://user:hunter2@host/db", None)
            .connect_options()
            .expect_err("not a postgres url");
        let message = error.to_string();
        assert!(
            message.starts_with("DATABASE_URL is not a valid PostgreSQL URL"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");

        let error = config("postgres://user:hunter2@host:notaport/db", None)
            .connect_options()
            .expect_err("bad port");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    /// Without a ping at checkout, the query would meet the closed connection and fail.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_connection_closed_while_idle_is_replaced_before_use(
        _: PgPoolOptions,
        options: PgConnectOptions,
    ) {
        let pool = pool_options(1)
            .connect_with(options.clone())
            .await
            .expect("pool");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .expect("pid");
        // Returned to the pool (after its return ping) before the server closes it.
        while pool.num_idle() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut admin = sqlx::PgConnection::connect_with(&options)
            .await
            .expect("admin");
        let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 5000)")
            .bind(pid)
            .fetch_one(&mut admin)
            .await
            .expect("terminate");
        assert!(ended);
        tokio::time::sleep(PING_AFTER_IDLE).await;
        let pid_now: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .expect("a new connection answers");
        assert_ne!(pid_now, pid);
    }

    #[test]
    fn debug_output_hides_the_url() {
        let rendered = format!("{:?}", config("postgres://u:hunter2@h/db", None));
        assert!(!rendered.contains("hunter2"), "{rendered}");
    }
}
