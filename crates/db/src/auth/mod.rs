//! SQL for the `auth` schema: accounts, sessions with rotating refresh tokens, second factors,
//! the audit log.

pub mod admin;
pub mod audit;
pub mod legacy;
mod lockout;
pub mod mfa;
pub mod oauth;
pub mod one_time_tokens;
pub mod outbox;
pub mod passkeys;
pub mod sessions;
pub mod username;
pub mod users;

pub use audit::AuditEvent;
pub use sessions::{NewSession, RefreshTokenRecord, SessionSummary};
pub use users::{NewUser, ProfileChanges, User};
