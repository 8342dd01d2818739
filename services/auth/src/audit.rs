//! The audit trail (`auth.audit_log`): who did what, from which client, and whether it
//! worked. Rows that must exist together with an action are written in its transaction
//! (`db::auth::audit::record(&mut *tx, &audit.event(..))`); the rest, after the fact,
//! through [`Audit::done`] and [`Audit::refused`].

use db::{PgPool, auth::AuditEvent, ids::UserId};
use platform::client::ClientInfo;
use serde_json::{Value, json};

/// The audit trail as one request writes to it: every row names the request's client.
#[derive(Clone, Copy)]
pub struct Audit<'a> {
    pool: &'a PgPool,
    client: &'a ClientInfo,
}

impl<'a> Audit<'a> {
    pub fn new(pool: &'a PgPool, client: &'a ClientInfo) -> Self {
        Self { pool, client }
    }

    /// One event about `user_id` (if known), for the caller to write in its transaction.
    pub fn event<'e>(
        &self,
        user_id: Option<UserId>,
        action: &'e str,
        success: bool,
        details: Value,
    ) -> AuditEvent<'e>
    where
        'a: 'e,
    {
        AuditEvent {
            user_id,
            action,
            ip: self.client.ip_text(),
            user_agent: self.client.user_agent.as_deref(),
            success,
            details,
        }
    }

    /// Records an action that was carried out.
    pub async fn done(&self, user_id: Option<UserId>, action: &str, details: Value) {
        self.record(user_id, action, true, details).await;
    }

    /// Records an action that was refused.
    pub async fn refused(&self, user_id: Option<UserId>, action: &str, details: Value) {
        self.record(user_id, action, false, details).await;
    }

    /// Records that `action` was refused for `reason` and hands back `error`, the caller's
    /// answer: `return Err(audit.refuse(Some(id), "login", "account_locked", error).await)`.
    /// A refusal made in a transaction that locked the account is written after it ends: drop
    /// the transaction first (the row refers to the account).
    pub async fn refuse<E>(
        &self,
        user_id: Option<UserId>,
        action: &str,
        reason: &str,
        error: E,
    ) -> E {
        self.refused(user_id, action, json!({ "reason": reason }))
            .await;
        error
    }

    /// Failures are logged, never shown to the caller: the action itself already happened
    /// (or was refused) and must be reported truthfully.
    async fn record(&self, user_id: Option<UserId>, action: &str, success: bool, details: Value) {
        let event = self.event(user_id, action, success, details);
        if let Err(error) = db::auth::audit::record(self.pool, &event).await {
            tracing::error!(%error, action, "cannot write audit row");
        }
    }
}
