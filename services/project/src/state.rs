//! `AppState`: what every handler can reach.

use std::{path::PathBuf, time::Duration};

use authn::{LiveSessions, TokenVerifier};
use axum::extract::FromRef;
use db::PgPool;
use platform::config::CommonConfig;

use crate::{events::ActivityFeed, storage::FileStore};

/// `FromRef` gives extractors each field on its own: `AuthUser` takes the verifier and the
/// live sessions from here.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub verifier: TokenVerifier,
    pub sessions: LiveSessions,
    pub files: FileStore,
    /// Wakes live streams when any replica commits a change.
    pub feed: ActivityFeed,
    /// Settings every service shares (timeouts, body limits, log format).
    pub common: CommonConfig,
    /// How long an upload may take in all (`PROJECT_UPLOAD_TIMEOUT_SECS`).
    pub upload_timeout: Duration,
    /// The most bytes one project's files may keep stored (`PROJECT_STORAGE_QUOTA_BYTES`).
    pub storage_quota_bytes: u64,
}

impl AppState {
    /// The state for the tests and the benchmarks: sessions checked against `pool`, file
    /// bytes under `files_dir` (created by the first upload).
    pub fn new(
        pool: PgPool,
        verifier: TokenVerifier,
        files_dir: impl Into<PathBuf>,
        common: CommonConfig,
    ) -> Self {
        Self::with_files(pool, verifier, FileStore::new(files_dir), common)
    }

    /// The state `build` makes (and the storage tests): file bytes in `files`, local or S3.
    pub fn with_files(
        pool: PgPool,
        verifier: TokenVerifier,
        files: FileStore,
        common: CommonConfig,
    ) -> Self {
        Self {
            sessions: LiveSessions::new(pool.clone()),
            feed: ActivityFeed::new(pool.clone()),
            pool,
            verifier,
            files,
            common,
            upload_timeout: Duration::from_secs(crate::config::default_upload_timeout_secs()),
            storage_quota_bytes: crate::config::default_storage_quota_bytes(),
        }
    }
}
