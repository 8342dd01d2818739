//! Delivers `auth.mail_outbox`. Each batch is claimed with `FOR UPDATE SKIP LOCKED` inside a
//! transaction that also records the outcome, so replicas never send the same row at once
//! and a crash only ever repeats a send (never loses one); the stable Message-ID lets mail
//! clients fold such a repeat.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use db::PgPool;
use tokio::sync::Notify;

use super::{Mail, Mailer};

const BATCH: i64 = 20;
const MAX_ATTEMPTS: i32 = 8;
const IDLE_POLL: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct OutboxWorker {
    pool: PgPool,
    mailer: Arc<dyn Mailer>,
    wakeup: Arc<Notify>,
}

impl OutboxWorker {
    pub fn new(pool: PgPool, mailer: Arc<dyn Mailer>, wakeup: Arc<Notify>) -> Self {
        Self {
            pool,
            mailer,
            wakeup,
        }
    }

    /// Sends what is due now; returns how many mails were attempted.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let due = db::auth::outbox::claim_due(&mut tx, BATCH).await?;
        for pending in &due {
            let Some(body) = pending.body_text.clone() else {
                continue;
            };
            let mail = Mail {
                id: pending.id,
                to: pending.recipient.clone(),
                subject: pending.subject.clone(),
                body,
            };
            match self.mailer.send(&mail).await {
                Ok(()) => db::auth::outbox::mark_sent(&mut *tx, pending.id).await?,
                Err(error) => {
                    let attempt = pending.attempts + 1;
                    let retry_at = (attempt < MAX_ATTEMPTS).then(|| Utc::now() + backoff(attempt));
                    tracing::warn!(mail = %pending.id, kind = %pending.kind, attempt, %error, "mail not sent");
                    db::auth::outbox::mark_failed(&mut *tx, pending.id, &error, retry_at).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(due.len())
    }

    /// Runs until the process ends: after each wake-up (a handler queued mail) or every few
    /// seconds, sends everything due.
    pub async fn run_forever(self) {
        loop {
            match self.run_once().await {
                Ok(sent) if sent as i64 == BATCH => continue,
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "mail outbox worker failed; retrying"),
            }
            tokio::select! {
                () = self.wakeup.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }
}

/// 30 s, 1 min, 2 min, ... capped at an hour.
fn backoff(attempt: i32) -> chrono::Duration {
    let seconds = 15_i64.saturating_mul(1 << attempt.clamp(1, 12));
    chrono::Duration::seconds(seconds.min(3600))
}
