//! Which backend to use and how, from environment variables (documented in `.env.example`).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::VectorError;

/// Qdrant's gRPC port. 6333 is its REST port, which this client cannot speak.
pub const QDRANT_GRPC_PORT: u16 = 6334;
const QDRANT_REST_PORT: u16 = 6333;

/// `VECTOR_BACKEND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Embedded,
    Qdrant,
}

impl std::str::FromStr for BackendKind {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "embedded" => Ok(BackendKind::Embedded),
            "qdrant" => Ok(BackendKind::Qdrant),
            other => Err(format!(
                "VECTOR_BACKEND must be embedded or qdrant, got `{other}`"
            )),
        }
    }
}

/// The environment as read; [`VectorConfig::backend`] turns it into a [`Backend`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VectorConfig {
    /// `VECTOR_BACKEND`: `embedded` or `qdrant`. Unset: `qdrant` when `QDRANT_URL` or
    /// `QDRANT_HOST` is set, else `embedded`.
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub vector_backend: Option<BackendKind>,
    /// `QDRANT_URL`, e.g. `http://qdrant:6334` (gRPC). Wins over host and port.
    pub qdrant_url: Option<String>,
    /// `QDRANT_HOST` and `QDRANT_PORT` (default 6334, gRPC).
    pub qdrant_host: Option<String>,
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub qdrant_port: Option<u16>,
    /// `QDRANT_API_KEY`; empty means none.
    pub qdrant_api_key: Option<SecretString>,
    /// `QDRANT_TIMEOUT_SECS` per request (10).
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub qdrant_timeout_secs: Option<u64>,
    /// `QDRANT_MAX_RETRIES` on transient errors (3).
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub qdrant_max_retries: Option<u32>,
    /// `QDRANT_BATCH_SIZE` points per upsert request (128).
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub qdrant_batch_size: Option<usize>,
    /// `VECTOR_DATA_DIR` for the embedded backend (`./data/vector`).
    pub vector_data_dir: Option<PathBuf>,
    /// `VECTOR_WAL_MAX_MB`: the embedded write-ahead log is compacted above this (128).
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub vector_wal_max_mb: Option<u64>,
    /// `VECTOR_FLUSH_INTERVAL_MS`: the embedded backend acknowledges a write once it is applied
    /// (searchable) and flushes it to disk within this many ms (200); 0 flushes before
    /// acknowledging.
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub vector_flush_interval_ms: Option<u64>,
}

/// The longest `VECTOR_FLUSH_INTERVAL_MS` accepted: an hour.
const MAX_FLUSH_INTERVAL_MS: u64 = 3_600_000;

/// A resolved backend choice.
#[derive(Debug, Clone)]
pub enum Backend {
    Qdrant(RemoteConfig),
    Embedded(EmbeddedConfig),
}

/// How to reach a Qdrant server.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// gRPC endpoint, e.g. `http://localhost:6334`.
    pub url: String,
    pub api_key: Option<SecretString>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first attempt, on transient errors only.
    pub max_retries: u32,
    /// First backoff delay; doubles per retry (with jitter), capped at 5 s.
    pub retry_base_delay: Duration,
    /// Points per upsert request.
    pub batch_size: usize,
}

impl RemoteConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            api_key: None,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_retries: 3,
            retry_base_delay: Duration::from_millis(100),
            batch_size: 128,
        }
    }
}

/// Where and how the embedded engine keeps its data.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    pub data_dir: PathBuf,
    /// The write-ahead log of a collection is compacted once it reaches this size (checked
    /// after every write); it then holds three segments of an eighth of it each.
    pub wal_max_bytes: u64,
    /// The optimizer (HNSW build, merges, vacuum) runs once writes pause this long...
    pub optimize_idle: Duration,
    /// ...or, under writes that never pause, after this many points. It runs beside writes
    /// (which only wait with a zero `flush_interval`) but takes a core and defers flushes
    /// while it runs, so a bulk ingest should not pay for it repeatedly: keep this large.
    pub optimize_every_points: usize,
    /// Segments above this many KiB of vectors get an HNSW index (engine default: unset).
    pub indexing_threshold_kb: Option<usize>,
    /// Points per engine update call.
    pub write_batch: usize,
    /// Writes are acknowledged once applied and flushed at most this long after the first
    /// unflushed one (and on close). A crash loses what was not flushed yet; the index then
    /// reports [`crate::VectorIndex::may_have_lost_writes`]. Zero: every write is flushed
    /// before it is acknowledged.
    pub flush_interval: Duration,
    /// How long closing waits for an optimizer run in progress. The engine cannot stop a
    /// run; one still going after this is left to the exiting process, and the shard stays
    /// unflushed with the open marker set, so the next start reconciles (as after a crash).
    pub shutdown_wait: Duration,
}

impl EmbeddedConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            wal_max_bytes: 128 * 1024 * 1024,
            optimize_idle: Duration::from_secs(1),
            optimize_every_points: 200_000,
            indexing_threshold_kb: None,
            write_batch: 256,
            flush_interval: Duration::from_millis(200),
            shutdown_wait: Duration::from_secs(10),
        }
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl VectorConfig {
    /// Reads the variables above from the environment.
    pub fn from_env() -> Result<Self, VectorError> {
        platform::config::from_env().map_err(|error| VectorError::Config(error.to_string()))
    }

    pub fn backend(&self) -> Result<Backend, VectorError> {
        let url = non_empty(&self.qdrant_url);
        let host = non_empty(&self.qdrant_host);
        let kind = self
            .vector_backend
            .unwrap_or(if url.is_some() || host.is_some() {
                BackendKind::Qdrant
            } else {
                BackendKind::Embedded
            });
        match kind {
            BackendKind::Embedded => {
                let mut config = EmbeddedConfig::new(
                    self.vector_data_dir
                        .clone()
                        .unwrap_or_else(|| PathBuf::from("./data/vector")),
                );
                if let Some(mb) = self.vector_wal_max_mb {
                    if mb < 4 {
                        return Err(VectorError::Config(format!(
                            "VECTOR_WAL_MAX_MB must be at least 4, got {mb}"
                        )));
                    }
                    config.wal_max_bytes = mb * 1024 * 1024;
                }
                if let Some(ms) = self.vector_flush_interval_ms {
                    if ms > MAX_FLUSH_INTERVAL_MS {
                        return Err(VectorError::Config(format!(
                            "VECTOR_FLUSH_INTERVAL_MS must be at most {MAX_FLUSH_INTERVAL_MS} \
                             (0 flushes every write before answering), got {ms}"
                        )));
                    }
                    config.flush_interval = Duration::from_millis(ms);
                }
                Ok(Backend::Embedded(config))
            }
            BackendKind::Qdrant => {
                let url = match (url, host) {
                    (Some(url), _) => grpc_url(url)?,
                    (None, Some(host)) => grpc_url(&format!(
                        "http://{host}:{}",
                        self.qdrant_port.unwrap_or(QDRANT_GRPC_PORT)
                    ))?,
                    (None, None) => {
                        return Err(VectorError::Config(
                            "VECTOR_BACKEND=qdrant needs QDRANT_URL or QDRANT_HOST".into(),
                        ));
                    }
                };
                let mut config = RemoteConfig::new(url);
                config.api_key = self
                    .qdrant_api_key
                    .clone()
                    .filter(|key| !secrecy::ExposeSecret::expose_secret(key).is_empty());
                if let Some(secs) = self.qdrant_timeout_secs {
                    config.timeout = Duration::from_secs(secs.max(1));
                }
                if let Some(retries) = self.qdrant_max_retries {
                    config.max_retries = retries;
                }
                if let Some(size) = self.qdrant_batch_size {
                    if !(1..=1024).contains(&size) {
                        return Err(VectorError::Config(format!(
                            "QDRANT_BATCH_SIZE must be between 1 and 1024 (64-256 works best), \
                             got {size}"
                        )));
                    }
                    config.batch_size = size;
                }
                Ok(Backend::Qdrant(config))
            }
        }
    }
}

/// Normalises a Qdrant address to its gRPC endpoint. The migration guide's `QDRANT_PORT=6333`
/// is Qdrant's REST port; this client speaks gRPC, so 6333 is mapped to 6334 with a warning.
fn grpc_url(raw: &str) -> Result<String, VectorError> {
    let invalid = || VectorError::Config(format!("invalid Qdrant address `{raw}`"));
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid());
    }
    let host = url
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(invalid)?;
    let port = match url.port() {
        Some(QDRANT_REST_PORT) => {
            tracing::warn!(
                "Qdrant port 6333 is the REST API; connecting to the gRPC port \
                 {QDRANT_GRPC_PORT} instead (set QDRANT_PORT=6334 to silence this)"
            );
            QDRANT_GRPC_PORT
        }
        Some(port) => port,
        None => QDRANT_GRPC_PORT,
    };
    Ok(format!("{}://{host}:{port}", url.scheme()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Backend, VectorError> {
        let pairs = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let config: VectorConfig = envy::from_iter(pairs).expect("parses");
        config.backend()
    }

    fn remote_url(vars: &[(&str, &str)]) -> String {
        match config(vars).expect("valid") {
            Backend::Qdrant(remote) => remote.url,
            Backend::Embedded(_) => panic!("expected the qdrant backend"),
        }
    }

    #[test]
    fn nothing_configured_means_embedded() {
        assert!(matches!(config(&[]), Ok(Backend::Embedded(_))));
        // An empty QDRANT_HOST (as in a copied .env) is not a configuration either.
        assert!(matches!(
            config(&[("QDRANT_HOST", ""), ("QDRANT_API_KEY", "")]),
            Ok(Backend::Embedded(_))
        ));
    }

    #[test]
    fn host_defaults_to_the_grpc_port_and_rest_port_is_mapped() {
        assert_eq!(
            remote_url(&[("QDRANT_HOST", "qdrant")]),
            "http://qdrant:6334"
        );
        assert_eq!(
            remote_url(&[("QDRANT_HOST", "localhost"), ("QDRANT_PORT", "6333")]),
            "http://localhost:6334"
        );
        assert_eq!(
            remote_url(&[("QDRANT_HOST", "q"), ("QDRANT_PORT", "7000")]),
            "http://q:7000"
        );
    }

    #[test]
    fn url_wins_over_host() {
        assert_eq!(
            remote_url(&[("QDRANT_URL", "https://x.cloud:6333"), ("QDRANT_HOST", "q")]),
            "https://x.cloud:6334"
        );
        assert_eq!(
            remote_url(&[("QDRANT_URL", "q.local")]),
            "http://q.local:6334"
        );
    }

    #[test]
    fn bad_values_are_explained() {
        let error = config(&[("QDRANT_URL", "ftp://q")]).expect_err("scheme");
        assert!(error.to_string().contains("ftp://q"), "{error}");
        let error = config(&[("QDRANT_HOST", "q"), ("QDRANT_BATCH_SIZE", "0")]).expect_err("0");
        assert!(error.to_string().contains("QDRANT_BATCH_SIZE"), "{error}");
        let error = config(&[("VECTOR_BACKEND", "qdrant")]).expect_err("no address");
        assert!(error.to_string().contains("QDRANT_URL"), "{error}");
    }

    #[test]
    fn empty_values_mean_unset_and_bad_ones_are_named() {
        let empty = [
            ("VECTOR_BACKEND", ""),
            ("QDRANT_PORT", ""),
            ("VECTOR_WAL_MAX_MB", " "),
        ];
        assert!(matches!(config(&empty), Ok(Backend::Embedded(_))));
        let pairs = [("QDRANT_PORT".to_owned(), "http".to_owned())];
        let error = envy::from_iter::<_, VectorConfig>(pairs).expect_err("not a port");
        assert!(error.to_string().contains("`http`"), "{error}");
        let pairs = [("VECTOR_BACKEND".to_owned(), "cloud".to_owned())];
        let error = envy::from_iter::<_, VectorConfig>(pairs).expect_err("unknown backend");
        assert!(error.to_string().contains("VECTOR_BACKEND"), "{error}");
    }

    #[test]
    fn flush_interval_defaults_to_200_ms_and_is_bounded() {
        let embedded = |vars: &[(&str, &str)]| match config(vars) {
            Ok(Backend::Embedded(embedded)) => embedded,
            other => panic!("expected the embedded backend, got {other:?}"),
        };
        assert_eq!(embedded(&[]).flush_interval, Duration::from_millis(200));
        assert_eq!(
            embedded(&[("VECTOR_FLUSH_INTERVAL_MS", "0")]).flush_interval,
            Duration::ZERO
        );
        let error = config(&[("VECTOR_FLUSH_INTERVAL_MS", "3600001")]).expect_err("too long");
        assert!(
            error.to_string().contains("VECTOR_FLUSH_INTERVAL_MS"),
            "{error}"
        );
    }

    #[test]
    fn empty_api_key_means_none() {
        match config(&[("QDRANT_HOST", "q"), ("QDRANT_API_KEY", "")]).expect("valid") {
            Backend::Qdrant(remote) => assert!(remote.api_key.is_none()),
            Backend::Embedded(_) => panic!("expected qdrant"),
        }
    }
}
