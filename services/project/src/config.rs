//! The project service's settings (token keys come from `authn::VerifierConfig`).

use std::{path::PathBuf, time::Duration};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct ProjectConfig {
    /// `PROJECTS_DIR`: where uploaded file bytes are kept (created at start-up).
    #[serde(default = "default_projects_dir")]
    pub projects_dir: PathBuf,
    /// `PROJECT_SWEEP_INTERVAL_SECS`: seconds between sweeps for orphaned files (the first
    /// right at start-up); 0 turns the sweep off.
    #[serde(default = "default_sweep_interval_secs")]
    pub project_sweep_interval_secs: u64,
}

impl ProjectConfig {
    /// How often to sweep, or `None` when the sweep is off.
    pub fn sweep_interval(&self) -> Option<Duration> {
        (self.project_sweep_interval_secs > 0)
            .then(|| Duration::from_secs(self.project_sweep_interval_secs))
    }
}

fn default_sweep_interval_secs() -> u64 {
    60 * 60
}

fn default_projects_dir() -> PathBuf {
    PathBuf::from("./data/projects")
}
