//! The gateway's settings: where the three services live, which browser origins may call,
//! and how long to wait for an upstream. `.env.example` documents every variable.

use std::{net::SocketAddr, time::Duration};

use axum::http::HeaderValue;
use platform::client::TrustedProxies;
use serde::Deserialize;
use url::Url;

/// The variables as read from the environment (`AUTH_SERVICE_URL`, `CORS_ALLOWED_ORIGINS`, ...).
#[derive(Debug, Clone, Deserialize)]
pub struct GatewayEnv {
    #[serde(default = "default_auth_url")]
    pub auth_service_url: String,
    #[serde(default = "default_project_url")]
    pub project_service_url: String,
    #[serde(default = "default_memory_url")]
    pub memory_service_url: String,
    /// Comma-separated browser origins allowed to call with credentials.
    #[serde(default = "default_cors_origins")]
    pub cors_allowed_origins: String,
    /// Seconds an upstream gets to start answering (and to send each next chunk).
    #[serde(default = "default_upstream_timeout_secs")]
    pub upstream_timeout_secs: u64,
    /// Seconds a forwarded import (`POST /api/memory/import`) may take in all; no per-read
    /// limit applies to it.
    #[serde(default = "default_import_timeout_secs")]
    pub gateway_import_timeout_secs: u64,
    /// Seconds a forwarded project file upload may take in all; the upstream timeout counts
    /// from the last body bytes passed on instead of from the start.
    #[serde(default = "default_upload_timeout_secs")]
    pub gateway_upload_timeout_secs: u64,
    /// Seconds to open a TCP connection to an upstream.
    #[serde(default = "default_upstream_connect_timeout_secs")]
    pub upstream_connect_timeout_secs: u64,
    /// Comma-separated CIDR ranges of proxies in front of the gateway; empty: it is the edge.
    #[serde(default)]
    pub gateway_trusted_proxies: String,
    /// Replaced by `GATEWAY_TRUSTED_PROXIES`; read only to refuse a setting that would now
    /// be silently ignored.
    pub gateway_trust_forwarded_headers: Option<String>,
    /// Where `/metrics` is served: a port of its own, so that publishing the gateway's port
    /// never publishes the scrape. Empty: no metrics listener.
    #[serde(default = "default_metrics_addr")]
    pub gateway_metrics_addr: String,
}

fn default_metrics_addr() -> String {
    "0.0.0.0:9464".to_owned()
}

fn default_auth_url() -> String {
    "http://localhost:3002".to_owned()
}

fn default_project_url() -> String {
    "http://localhost:3005".to_owned()
}

fn default_memory_url() -> String {
    "http://localhost:3003".to_owned()
}

fn default_cors_origins() -> String {
    "http://localhost:5173,http://localhost:3000".to_owned()
}

/// Below the platform's 30 s request timeout, so a slow upstream gets the gateway's 504
/// naming the service rather than the generic 503.
fn default_upstream_timeout_secs() -> u64 {
    25
}

/// A little above the memory service's own `MEMORY_IMPORT_TIMEOUT_SECS` (600), so that its
/// answer, the import report or its 503, is what the client gets.
fn default_import_timeout_secs() -> u64 {
    610
}

/// A little above the project service's own `PROJECT_UPLOAD_TIMEOUT_SECS` (600), so that
/// its answer, the new version or its 408, is what the client gets.
fn default_upload_timeout_secs() -> u64 {
    610
}

fn default_upstream_connect_timeout_secs() -> u64 {
    2
}

/// Validated settings the gateway runs with; tests build this directly.
#[derive(Debug, Clone)]
pub struct Settings {
    pub auth_url: Url,
    pub project_url: Url,
    pub memory_url: Url,
    pub cors_allowed_origins: Vec<HeaderValue>,
    pub upstream_timeout: Duration,
    /// The whole of a forwarded import, from sending its head to the end of the answer.
    pub import_timeout: Duration,
    /// The whole of a forwarded project file upload (see [`crate::proxy`]).
    pub upload_timeout: Duration,
    pub connect_timeout: Duration,
    /// How long a readiness check or an OpenAPI fetch may take, per service.
    pub probe_timeout: Duration,
    /// How long a merged `/openapi.json` is served from memory.
    pub openapi_cache_ttl: Duration,
    /// Peers whose `X-Forwarded-*` headers are kept and extended; see
    /// [`crate::headers::to_upstream`].
    pub trusted_proxies: TrustedProxies,
    /// `None`: no metrics listener.
    pub metrics_addr: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct SettingsError(String);

impl Settings {
    /// Default timings with the given upstream addresses; handy for tests.
    pub fn new(auth_url: Url, project_url: Url, memory_url: Url) -> Self {
        Self {
            auth_url,
            project_url,
            memory_url,
            cors_allowed_origins: parse_origins(&default_cors_origins())
                .expect("default origins are valid"),
            upstream_timeout: Duration::from_secs(default_upstream_timeout_secs()),
            import_timeout: Duration::from_secs(default_import_timeout_secs()),
            upload_timeout: Duration::from_secs(default_upload_timeout_secs()),
            connect_timeout: Duration::from_secs(default_upstream_connect_timeout_secs()),
            probe_timeout: Duration::from_secs(2),
            openapi_cache_ttl: Duration::from_secs(30),
            trusted_proxies: TrustedProxies::none(),
            metrics_addr: None,
        }
    }

    pub fn from_env_vars(env: &GatewayEnv) -> Result<Self, SettingsError> {
        let mut settings = Self::new(
            parse_url("AUTH_SERVICE_URL", &env.auth_service_url)?,
            parse_url("PROJECT_SERVICE_URL", &env.project_service_url)?,
            parse_url("MEMORY_SERVICE_URL", &env.memory_service_url)?,
        );
        settings.cors_allowed_origins = parse_origins(&env.cors_allowed_origins)?;
        settings.upstream_timeout =
            positive_secs("UPSTREAM_TIMEOUT_SECS", env.upstream_timeout_secs)?;
        settings.import_timeout = positive_secs(
            "GATEWAY_IMPORT_TIMEOUT_SECS",
            env.gateway_import_timeout_secs,
        )?;
        settings.upload_timeout = positive_secs(
            "GATEWAY_UPLOAD_TIMEOUT_SECS",
            env.gateway_upload_timeout_secs,
        )?;
        settings.connect_timeout = positive_secs(
            "UPSTREAM_CONNECT_TIMEOUT_SECS",
            env.upstream_connect_timeout_secs,
        )?;
        settings.metrics_addr = match env.gateway_metrics_addr.trim() {
            "" => None,
            address => Some(address.parse().map_err(|error| {
                SettingsError(format!(
                    "GATEWAY_METRICS_ADDR {address:?}: {error} (expected host:port, e.g. 0.0.0.0:9464)"
                ))
            })?),
        };
        settings.trusted_proxies = env
            .gateway_trusted_proxies
            .parse()
            .map_err(|error| SettingsError(format!("GATEWAY_TRUSTED_PROXIES: {error}")))?;
        // `false` (as in older `.env` files) means what an empty list means now; `true` no
        // longer says whom to trust, and ignoring it would drop every client address.
        if let Some(old) = &env.gateway_trust_forwarded_headers
            && !matches!(old.trim(), "" | "false")
        {
            return Err(SettingsError(
                "GATEWAY_TRUST_FORWARDED_HEADERS is no longer read: list the proxies in front \
                 of the gateway in GATEWAY_TRUSTED_PROXIES (comma-separated CIDR ranges)"
                    .to_owned(),
            ));
        }
        Ok(settings)
    }
}

fn parse_url(variable: &str, raw: &str) -> Result<Url, SettingsError> {
    let url = Url::parse(raw.trim())
        .map_err(|error| SettingsError(format!("{variable} `{raw}`: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(SettingsError(format!(
            "{variable} `{raw}` must be an http(s) URL with a host"
        )));
    }
    Ok(url)
}

/// Origins are compared byte for byte with the browser's `Origin`, so a trailing slash
/// (`http://localhost:5173/`) would never match: it is refused rather than silently useless.
fn parse_origins(raw: &str) -> Result<Vec<HeaderValue>, SettingsError> {
    raw.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            if origin == "*" {
                return Err(SettingsError(
                    "CORS_ALLOWED_ORIGINS cannot be `*`: credentials are allowed".to_owned(),
                ));
            }
            let url = Url::parse(origin)
                .map_err(|error| SettingsError(format!("CORS origin `{origin}`: {error}")))?;
            if url.origin().ascii_serialization() != origin {
                return Err(SettingsError(format!(
                    "CORS origin `{origin}` must be scheme://host[:port] with no path"
                )));
            }
            HeaderValue::from_str(origin)
                .map_err(|error| SettingsError(format!("CORS origin `{origin}`: {error}")))
        })
        .collect()
}

fn positive_secs(variable: &str, secs: u64) -> Result<Duration, SettingsError> {
    if secs == 0 {
        return Err(SettingsError(format!("{variable} must be at least 1")));
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_split_and_trimmed() {
        let origins = parse_origins(" http://localhost:5173 , https://app.example.com,").unwrap();
        assert_eq!(
            origins,
            ["http://localhost:5173", "https://app.example.com"]
        );
    }

    #[test]
    fn origins_with_paths_or_wildcards_are_refused() {
        assert!(parse_origins("http://localhost:5173/").is_err());
        assert!(parse_origins("*").is_err());
        assert!(parse_origins("localhost:5173").is_err());
    }

    fn env(vars: serde_json::Value) -> GatewayEnv {
        serde_json::from_value(vars).expect("gateway env")
    }

    #[test]
    fn trusted_proxies_default_to_none_and_parse_as_cidrs() {
        let settings = Settings::from_env_vars(&env(serde_json::json!({}))).expect("defaults");
        assert!(
            settings.trusted_proxies.is_empty(),
            "the gateway is the edge"
        );
        let settings = Settings::from_env_vars(&env(
            serde_json::json!({"gateway_trusted_proxies": "10.0.0.0/8, 192.0.2.1"}),
        ))
        .expect("list");
        assert_eq!(
            settings.trusted_proxies.to_string(),
            "10.0.0.0/8, 192.0.2.1/32"
        );
        let error = Settings::from_env_vars(&env(
            serde_json::json!({"gateway_trusted_proxies": "10.0.0.0/8, lb"}),
        ))
        .unwrap_err();
        assert!(
            error.to_string().contains("GATEWAY_TRUSTED_PROXIES: `lb`"),
            "{error}"
        );
    }

    #[test]
    fn the_retired_trust_flag_is_refused_unless_false() {
        let old = |value: &str| {
            Settings::from_env_vars(&env(
                serde_json::json!({"gateway_trust_forwarded_headers": value}),
            ))
        };
        assert!(old("false").is_ok());
        let error = old("true").unwrap_err();
        assert!(
            error.to_string().contains("GATEWAY_TRUSTED_PROXIES"),
            "{error}"
        );
    }

    #[test]
    fn metrics_listen_on_their_own_address_unless_turned_off() {
        let metrics = |value: serde_json::Value| {
            Settings::from_env_vars(&env(serde_json::json!({ "gateway_metrics_addr": value })))
        };
        let default = Settings::from_env_vars(&env(serde_json::json!({}))).expect("defaults");
        assert_eq!(
            default.metrics_addr,
            Some("0.0.0.0:9464".parse().expect("addr"))
        );
        assert_eq!(metrics("".into()).expect("off").metrics_addr, None);
        let error = metrics("9464".into()).unwrap_err();
        assert!(
            error.to_string().contains("GATEWAY_METRICS_ADDR \"9464\""),
            "{error}"
        );
    }

    #[test]
    fn imports_get_their_own_timeout_which_must_be_positive() {
        let default = Settings::from_env_vars(&env(serde_json::json!({}))).expect("defaults");
        assert_eq!(default.import_timeout, Duration::from_secs(610));
        let error =
            Settings::from_env_vars(&env(serde_json::json!({"gateway_import_timeout_secs": 0})))
                .unwrap_err();
        assert!(
            error.to_string().contains("GATEWAY_IMPORT_TIMEOUT_SECS"),
            "{error}"
        );
    }

    #[test]
    fn service_urls_must_be_http() {
        assert!(parse_url("AUTH_SERVICE_URL", "http://auth:3002").is_ok());
        let error = parse_url("AUTH_SERVICE_URL", "auth:3002").unwrap_err();
        assert!(error.to_string().contains("AUTH_SERVICE_URL"), "{error}");
    }
}
