//! Starting sessions and minting their tokens: a signed access token plus an opaque refresh
//! token whose SHA-256 is all the database keeps.

use authn::Role;
use db::{PgConnection, auth::User, ids::SessionId};
use platform::client::ClientInfo;
use serde::Serialize;

use crate::{
    error::ApiError,
    secrets::{digest, new_secret},
    state::AppState,
};

/// What login, register and refresh return.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
    /// Seconds until the refresh token expires unless used.
    pub refresh_expires_in: u64,
    #[schema(value_type = uuid::Uuid)]
    pub session_id: SessionId,
}

pub fn role_of(user: &User) -> Result<Role, ApiError> {
    user.role.parse().map_err(ApiError::Internal)
}

/// Creates a session for `user` inside the caller's transaction and returns its tokens.
pub async fn start(
    conn: &mut PgConnection,
    state: &AppState,
    user: &User,
    client: &ClientInfo,
) -> Result<Tokens, ApiError> {
    let refresh_token = new_secret();
    let refresh_hash = digest(&refresh_token);
    let session_hash = digest(&new_secret());
    let session_id = db::auth::sessions::create(
        conn,
        &db::auth::NewSession {
            user_id: user.id,
            session_token_hash: &session_hash,
            refresh_token_hash: &refresh_hash,
            ip: client.ip_text(),
            user_agent: client.user_agent.as_deref(),
            expires_at: chrono::Utc::now()
                + state
                    .config
                    .refresh_token_ttl()
                    .min(state.config.session_max_lifetime()),
        },
    )
    .await?;
    let tokens = tokens(state, user, session_id, refresh_token)?;
    Ok(tokens.refresh_expires_at(chrono::Utc::now() + state.config.session_max_lifetime()))
}

impl Tokens {
    /// Reports the refresh token's real expiry when the session's absolute lifetime cuts it
    /// shorter than the usual idle lifetime.
    pub fn refresh_expires_at(mut self, expires_at: chrono::DateTime<chrono::Utc>) -> Self {
        let left = (expires_at - chrono::Utc::now()).num_seconds().max(0) as u64;
        self.refresh_expires_in = self.refresh_expires_in.min(left);
        self
    }
}

/// Signs an access token and pairs it with `refresh_token`.
pub fn tokens(
    state: &AppState,
    user: &User,
    session_id: SessionId,
    refresh_token: String,
) -> Result<Tokens, ApiError> {
    let access = state
        .issuer
        .issue(user.id.0, session_id.0, role_of(user)?)?;
    Ok(Tokens {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in.as_secs(),
        refresh_token,
        refresh_expires_in: state.config.refresh_token_ttl_secs,
        session_id,
    })
}
