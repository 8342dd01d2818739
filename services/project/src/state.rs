//! `AppState`: what every handler can reach.

use authn::{LiveSessions, TokenVerifier};
use axum::extract::FromRef;
use db::PgPool;
use platform::config::CommonConfig;

use crate::storage::FileStore;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub verifier: TokenVerifier,
    pub sessions: LiveSessions,
    pub files: FileStore,
    /// Settings every service shares (timeouts, body limits, log format).
    pub common: CommonConfig,
}

impl FromRef<AppState> for TokenVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

impl FromRef<AppState> for LiveSessions {
    fn from_ref(state: &AppState) -> Self {
        state.sessions.clone()
    }
}
