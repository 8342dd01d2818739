//! SQL for the `auth` schema: accounts, sessions with rotating refresh tokens, the audit log.

pub mod audit;
pub mod sessions;
pub mod users;

pub use audit::AuditEvent;
pub use sessions::{NewSession, RefreshTokenRecord, SessionSummary};
pub use users::{NewUser, ProfileChanges, User};
