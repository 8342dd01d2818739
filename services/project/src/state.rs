//! `AppState`: what every handler can reach.

use authn::{LiveSessions, TokenVerifier};
use axum::extract::FromRef;
use db::PgPool;
use platform::config::CommonConfig;

use crate::storage::FileStore;

/// `FromRef` gives extractors each field on its own: `AuthUser` takes the verifier and the
/// live sessions from here.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub verifier: TokenVerifier,
    pub sessions: LiveSessions,
    pub files: FileStore,
    /// Settings every service shares (timeouts, body limits, log format).
    pub common: CommonConfig,
}
