//! Pool construction from `DATABASE_URL`, `DB_POOL_SIZE` and `DB_SSL_MODE`.

use std::{str::FromStr, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions, PgSslMode},
};

/// Database settings, read from the environment by the service's config loader.
/// Field names are the lower-cased environment variable names.
#[derive(Debug, Clone, Deserialize)]
pub struct DbConfig {
    /// `DATABASE_URL`. Secret because it usually carries the password.
    pub database_url: SecretString,
    /// `DB_POOL_SIZE`: the most connections one service process opens.
    #[serde(default = "default_pool_size")]
    pub db_pool_size: u32,
    /// `DB_SSL_MODE`; when unset the URL's `sslmode` (or `prefer`) applies.
    #[serde(default)]
    pub db_ssl_mode: Option<SslMode>,
}

fn default_pool_size() -> u32 {
    20
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

/// Opens the pool and proves the server answers, so a wrong URL fails at start.
pub async fn connect(config: &DbConfig) -> Result<PgPool, ConnectError> {
    let options = config.connect_options()?;
    let target = describe_target(&options);
    PgPoolOptions::new()
        .max_connections(config.db_pool_size.max(1))
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|source| ConnectError::Unreachable { target, source })
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

    #[test]
    fn debug_output_hides_the_url() {
        let rendered = format!("{:?}", config("postgres://u:hunter2@h/db", None));
        assert!(!rendered.contains("hunter2"), "{rendered}");
    }
}
