//! The project service's settings (token keys come from `authn::VerifierConfig`).

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct ProjectConfig {
    /// `PROJECTS_DIR`: where uploaded file bytes are kept (created at start-up).
    #[serde(default = "default_projects_dir")]
    pub projects_dir: PathBuf,
}

fn default_projects_dir() -> PathBuf {
    PathBuf::from("./data/projects")
}
