//! Response bodies: what the API shows of accounts and sessions (never hashes).

use chrono::{DateTime, Utc};
use db::{
    auth::{SessionSummary, User},
    ids::{SessionId, UserId},
};
use serde::Serialize;

use crate::sessions::Tokens;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    #[schema(value_type = uuid::Uuid)]
    pub id: UserId,
    pub email: String,
    pub username: String,
    pub full_name: String,
    pub role: String,
    pub is_active: bool,
    pub is_verified: bool,
    pub avatar_url: Option<String>,
    pub github_linked: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            username: user.username,
            full_name: user.full_name,
            role: user.role,
            is_active: user.is_active,
            is_verified: user.is_verified,
            avatar_url: user.avatar_url,
            github_linked: user.github_id.is_some(),
            last_login_at: user.last_login_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// Login/register answer: the account and a fresh session's tokens.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub user: UserView,
    #[serde(flatten)]
    #[schema(inline)]
    pub tokens: Tokens,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    #[schema(value_type = uuid::Uuid)]
    pub id: SessionId,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    /// The session the request itself was made in.
    pub current: bool,
}

impl SessionView {
    pub fn new(session: SessionSummary, current: SessionId) -> Self {
        Self {
            current: session.id == current,
            id: session.id,
            ip: session.ip,
            user_agent: session.user_agent,
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
        }
    }
}
