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
}

impl ProjectConfig {
    /// How often to sweep, or `None` when the sweep is off.
    pub fn sweep_interval(&self) -> Option<Duration> {
        (self.project_sweep_interval_secs > 0)
            .then(|| Duration::from_secs(self.project_sweep_interval_secs))
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

fn default_sweep_interval_secs() -> u64 {
    60 * 60
}

fn default_projects_dir() -> PathBuf {
    PathBuf::from("./data/projects")
}
