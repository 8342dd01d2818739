//! What an access token says about its bearer.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user's role, as stored in `auth.users.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Admin,
    SuperAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
            Role::SuperAdmin => "super_admin",
        }
    }

    /// Admins and super admins may use the admin API.
    pub fn is_admin(self) -> bool {
        self >= Role::Admin
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            "super_admin" => Ok(Role::SuperAdmin),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// Authenticator assurance level (NIST SP 800-63B): how the token's session signed in.
/// `aal1` is a single factor (a password, or GitHub); `aal2` a second factor as well, proved
/// recently enough (a login finished with a code, or a step-up). Ordered: `Aal1 < Aal2`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Aal {
    #[default]
    Aal1,
    Aal2,
}

impl Aal {
    pub fn as_str(self) -> &'static str {
        match self {
            Aal::Aal1 => "aal1",
            Aal::Aal2 => "aal2",
        }
    }
}

/// The claims of a DevMentor access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user's id.
    pub sub: Uuid,
    /// The session (`auth.user_sessions.id`) the token was issued in.
    pub sid: Uuid,
    pub role: Role,
    /// Tokens signed before the claim existed have none: they count as `aal1`.
    #[serde(default)]
    pub aal: Aal,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
}
