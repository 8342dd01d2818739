//! The project service's settings (token keys come from `authn::VerifierConfig`).

use std::{path::PathBuf, time::Duration};

use secrecy::SecretString;
use serde::Deserialize;

use crate::storage::{StorageLocation, StorageSettings};

#[derive(Debug, Clone, Deserialize)]
pub struct ProjectConfig {
    /// `PROJECTS_DIR`: where uploaded file bytes are kept (created at start-up) unless
    /// `STORAGE_URL` names a bucket.
    #[serde(default = "default_projects_dir")]
    pub projects_dir: PathBuf,
    /// `PROJECT_SWEEP_INTERVAL_SECS`: seconds between sweeps for orphaned files (the first
    /// right at start-up); 0 turns the sweep off.
    #[serde(default = "default_sweep_interval_secs")]
    pub project_sweep_interval_secs: u64,
    /// `STORAGE_URL`: `s3://bucket/prefix` keeps file bytes in S3 (or an S3-compatible
    /// server) under that prefix instead of `PROJECTS_DIR`.
    #[serde(default)]
    pub storage_url: Option<String>,
    /// `STORAGE_S3_ENDPOINT`: an S3-compatible server's URL (MinIO, Ceph, R2, ...); unset
    /// for AWS.
    #[serde(default)]
    pub storage_s3_endpoint: Option<String>,
    /// `STORAGE_S3_REGION`: default `us-east-1`.
    #[serde(default)]
    pub storage_s3_region: Option<String>,
    /// `STORAGE_S3_ACCESS_KEY_ID` and `STORAGE_S3_SECRET_ACCESS_KEY`: both or neither
    /// (neither: the standard AWS chain, e.g. an instance profile or web identity).
    #[serde(default)]
    pub storage_s3_access_key_id: Option<String>,
    #[serde(default)]
    pub storage_s3_secret_access_key: Option<SecretString>,
    /// `STORAGE_S3_ALLOW_HTTP`: allow a plain `http://` endpoint (default false).
    #[serde(default)]
    pub storage_s3_allow_http: bool,
    /// `PROJECT_UPLOAD_TIMEOUT_SECS`: the most an upload may take in all. Until then an
    /// upload is cut only when its body stops arriving for `REQUEST_TIMEOUT_SECS`.
    #[serde(default = "default_upload_timeout_secs")]
    pub project_upload_timeout_secs: u64,
    /// `PROJECT_STORAGE_QUOTA_BYTES`: the most bytes one project's files may keep stored,
    /// every version counted (bytes a restore shares count once).
    #[serde(default = "default_storage_quota_bytes")]
    pub project_storage_quota_bytes: u64,
}

impl ProjectConfig {
    /// How often to sweep, or `None` when the sweep is off.
    pub fn sweep_interval(&self) -> Option<Duration> {
        (self.project_sweep_interval_secs > 0)
            .then(|| Duration::from_secs(self.project_sweep_interval_secs))
    }

    /// How long an upload may take in all (`PROJECT_UPLOAD_TIMEOUT_SECS`); 0 is refused,
    /// as it would refuse every upload.
    pub fn upload_timeout(&self) -> Result<Duration, String> {
        match self.project_upload_timeout_secs {
            0 => Err("PROJECT_UPLOAD_TIMEOUT_SECS must be above 0".into()),
            secs => Ok(Duration::from_secs(secs)),
        }
    }

    /// The most bytes a project's files may keep stored (`PROJECT_STORAGE_QUOTA_BYTES`); 0
    /// is refused, as it would refuse every upload but empty files.
    pub fn storage_quota_bytes(&self) -> Result<u64, String> {
        match self.project_storage_quota_bytes {
            0 => Err("PROJECT_STORAGE_QUOTA_BYTES must be above 0".into()),
            bytes => Ok(bytes),
        }
    }

    /// Where file bytes live: `PROJECTS_DIR`, or the bucket `STORAGE_URL` names. A malformed
    /// or incomplete S3 setting is an error naming the setting.
    pub fn storage(&self) -> Result<StorageLocation, String> {
        let settings = StorageSettings {
            url: self.storage_url.as_deref(),
            endpoint: self.storage_s3_endpoint.as_deref(),
            region: self.storage_s3_region.as_deref(),
            access_key_id: self.storage_s3_access_key_id.as_deref(),
            secret_access_key: self.storage_s3_secret_access_key.as_ref(),
            allow_http: self.storage_s3_allow_http,
        };
        StorageLocation::from_settings(self.projects_dir.clone(), settings)
    }
}

/// A 10 MiB upload (the limit) at 256 kbit/s, a slow mobile or ADSL uplink, takes about
/// 330 s; 600 s leaves it room for a worse moment (it is ~140 kbit/s on average) and is the
/// memory import's bound too. A stall is caught much sooner, by `REQUEST_TIMEOUT_SECS`
/// without body bytes; this only limits how long a trickle can hold a connection.
pub fn default_upload_timeout_secs() -> u64 {
    600
}

/// 1 GiB: a hundred files at the 10 MiB limit, or many versions of a working project's
/// documents, while a member filling the disk with uploads stops there.
pub fn default_storage_quota_bytes() -> u64 {
    1024 * 1024 * 1024
}

fn default_sweep_interval_secs() -> u64 {
    60 * 60
}

fn default_projects_dir() -> PathBuf {
    PathBuf::from("./data/projects")
}

#[cfg(test)]
mod tests {
    use super::ProjectConfig;

    fn config(quota: u64) -> ProjectConfig {
        let json = serde_json::json!({ "project_storage_quota_bytes": quota });
        serde_json::from_value(json).expect("settings")
    }

    #[test]
    fn a_storage_quota_of_zero_is_refused() {
        let error = config(0).storage_quota_bytes().unwrap_err();
        assert!(error.contains("PROJECT_STORAGE_QUOTA_BYTES"), "{error}");
        assert_eq!(config(5).storage_quota_bytes(), Ok(5));
        let unset: ProjectConfig = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(unset.project_storage_quota_bytes, 1 << 30);
    }
}
