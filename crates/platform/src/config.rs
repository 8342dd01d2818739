//! Typed configuration from environment variables (and a `.env` file when present).
//! `.env.example` documents every variable.

use std::{
    num::{NonZeroU64, NonZeroUsize},
    time::Duration,
};

use serde::{Deserialize, de::DeserializeOwned};

/// What distinguishes one service binary from another at start-up.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSpec {
    /// Shown in logs and health responses, e.g. `auth`.
    pub name: &'static str,
    /// Prefix of its listen variables, e.g. `AUTH_` for `AUTH_HOST` / `AUTH_PORT`.
    pub env_prefix: &'static str,
    pub default_port: u16,
}

impl ServiceSpec {
    pub const fn new(name: &'static str, env_prefix: &'static str, default_port: u16) -> Self {
        Self {
            name,
            env_prefix,
            default_port,
        }
    }
}

/// Where the process runs. Destructive developer commands require `development`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppEnv {
    Development,
    Test,
    Staging,
    #[default]
    Production,
}

impl std::fmt::Display for AppEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AppEnv::Development => "development",
            AppEnv::Test => "test",
            AppEnv::Staging => "staging",
            AppEnv::Production => "production",
        })
    }
}

/// How log lines are written: readable for people, JSON for log collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// Settings every service reads, whatever it does.
#[derive(Debug, Clone, Deserialize)]
pub struct CommonConfig {
    /// `APP_ENV`; unset means `production`, the safe assumption.
    #[serde(default)]
    pub app_env: AppEnv,
    /// `LOG_FORMAT`: `pretty` (default) or `json`.
    #[serde(default)]
    pub log_format: LogFormat,
    /// `REQUEST_TIMEOUT_SECS`: a request still running after this gets a 503.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// `BODY_LIMIT_BYTES`: the largest request body a JSON endpoint accepts.
    #[serde(default = "default_body_limit_bytes")]
    pub body_limit_bytes: usize,
    /// `SHUTDOWN_GRACE_SECS`: how long in-flight requests get after SIGTERM.
    #[serde(default = "default_shutdown_grace_secs")]
    pub shutdown_grace_secs: u64,
    /// `HEADER_READ_TIMEOUT_SECS`: how long a client has to send a whole request head, from
    /// when its connection opens or goes idle after a response; then the connection closes.
    /// Not zero: that would close every connection before its first request.
    #[serde(default = "default_header_read_timeout_secs")]
    pub header_read_timeout_secs: NonZeroU64,
    /// `MAX_CONNECTIONS`: connections open at once; beyond it new ones wait to be accepted.
    /// Not zero: that would never accept one.
    #[serde(default = "default_max_connections")]
    pub max_connections: NonZeroUsize,
}

/// Every variable unset (`APP_ENV` included, so production): what tests and benchmarks
/// start from.
impl Default for CommonConfig {
    fn default() -> Self {
        Self {
            app_env: AppEnv::default(),
            log_format: LogFormat::default(),
            request_timeout_secs: default_request_timeout_secs(),
            body_limit_bytes: default_body_limit_bytes(),
            shutdown_grace_secs: default_shutdown_grace_secs(),
            header_read_timeout_secs: default_header_read_timeout_secs(),
            max_connections: default_max_connections(),
        }
    }
}

fn default_request_timeout_secs() -> u64 {
    30
}

fn default_body_limit_bytes() -> usize {
    1024 * 1024
}

fn default_shutdown_grace_secs() -> u64 {
    20
}

/// A real client sends its request head in one packet, and reuses a keep-alive connection
/// within moments or not at all; 10 s leaves room for a slow mobile link while a slowloris
/// client holds a connection for seconds rather than forever. It is also the idle
/// keep-alive timeout (hyper has one timer for both): a proxy in front must close its idle
/// connections sooner (the gateway's upstream pool does, `upstream.rs`).
fn default_header_read_timeout_secs() -> NonZeroU64 {
    NonZeroU64::new(10).expect("not zero")
}

/// Well under a container's usual 1,048,576 open files, each connection costing a
/// descriptor and a few KiB; far above what one replica of these services serves at once.
fn default_max_connections() -> NonZeroUsize {
    NonZeroUsize::new(10_000).expect("not zero")
}

impl CommonConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    pub fn serve_options(&self) -> crate::server::ServeOptions {
        crate::server::ServeOptions {
            grace: self.shutdown_grace(),
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.get()),
            max_connections: self.max_connections.get(),
        }
    }
}

/// Where one service listens: `<PREFIX>HOST` and `<PREFIX>PORT`, e.g. `AUTH_PORT`.
#[derive(Debug, Clone, Deserialize)]
pub struct ListenConfig {
    #[serde(default = "default_host")]
    pub host: String,
    pub port: Option<u16>,
}

fn default_host() -> String {
    "127.0.0.1".to_owned()
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// Reads `.env` (if any) into the process environment; real variables win.
pub fn load_dotenv() {
    // A missing .env is normal (containers, CI); a malformed one is worth a warning.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("warning: ignoring .env: {error}");
    }
}

/// Deserialises `T` from environment variables; field `db_pool_size` reads `DB_POOL_SIZE`.
pub fn from_env<T: DeserializeOwned>() -> Result<T, ConfigError> {
    envy::from_env().map_err(|error| ConfigError(describe(error, "")))
}

/// Like [`from_env`], for variables named `<prefix><FIELD>`.
pub fn from_env_prefixed<T: DeserializeOwned>(prefix: &str) -> Result<T, ConfigError> {
    envy::prefixed(prefix)
        .from_env()
        .map_err(|error| ConfigError(describe(error, prefix)))
}

fn describe(error: envy::Error, prefix: &str) -> String {
    match error {
        envy::Error::MissingValue(field) => {
            format!("{prefix}{} is not set", field.to_ascii_uppercase())
        }
        envy::Error::Custom(message) => message,
    }
}

/// `#[serde(default, deserialize_with = "platform::config::empty_as_none")]`: an empty value
/// (`EMBEDDING_DIM=` in a `.env`) counts as unset; anything else is parsed with `FromStr`.
pub fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let raw: Option<String> = Option::deserialize(deserializer)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => value
            .parse()
            .map(Some)
            .map_err(|error| serde::de::Error::custom(format!("`{value}`: {error}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Sample {
        secret_like: String,
        #[serde(default)]
        app_env: AppEnv,
    }

    fn parse<T: DeserializeOwned>(vars: &[(&str, &str)]) -> Result<T, ConfigError> {
        let pairs = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        envy::from_iter(pairs).map_err(|error| ConfigError(describe(error, "")))
    }

    #[test]
    fn env_example_parses_as_a_dotenv_file() {
        // A line dotenvy cannot parse makes it ignore the whole .env, silently dropping every
        // setting a developer copied from the example.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example");
        let entries = dotenvy::from_path_iter(path).expect(".env.example exists");
        for entry in entries {
            let (key, _) = entry.expect(".env.example line parses");
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{key}"
            );
        }
    }

    #[test]
    fn numeric_looking_strings_stay_strings() {
        let sample: Sample = parse(&[("SECRET_LIKE", "111111")]).expect("parses");
        assert_eq!(sample.secret_like, "111111");
        assert_eq!(
            sample.app_env,
            AppEnv::Production,
            "unset APP_ENV must not mean development"
        );
    }

    #[test]
    fn missing_variable_is_named_in_upper_case() {
        let error = parse::<Sample>(&[]).expect_err("secret_like is required");
        assert_eq!(
            error.to_string(),
            "invalid configuration: SECRET_LIKE is not set"
        );
    }

    #[test]
    fn bad_values_are_rejected_with_a_message() {
        let error =
            parse::<CommonConfig>(&[("REQUEST_TIMEOUT_SECS", "soon")]).expect_err("bad number");
        assert!(error.to_string().contains("soon"), "{error}");
        let error =
            parse::<Sample>(&[("SECRET_LIKE", "x"), ("APP_ENV", "dev")]).expect_err("bad env");
        assert!(error.to_string().contains("dev"), "{error}");
    }

    #[test]
    fn a_zero_header_timeout_or_connection_cap_is_refused() {
        // Zero would close every connection before its first request, or accept none.
        for name in ["HEADER_READ_TIMEOUT_SECS", "MAX_CONNECTIONS"] {
            let error = parse::<CommonConfig>(&[(name, "0")]).expect_err(name);
            assert!(error.to_string().contains("nonzero"), "{name}: {error}");
        }
        let config = parse::<CommonConfig>(&[("MAX_CONNECTIONS", "3")]).expect("parses");
        assert_eq!(config.serve_options().max_connections, 3);
    }
}
