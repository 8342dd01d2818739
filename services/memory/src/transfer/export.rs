//! The export: one owner's documents, oldest first, one JSON line each, read from one
//! snapshot and sent as PostgreSQL produces them.
//!
//! A spawned task owns the snapshot's transaction and the row stream, and hands lines to the
//! response body through a small bounded channel: a slow client slows the reading down
//! instead of making lines pile up, and a client that goes away ends the task (and the
//! transaction) at the next line. A client that keeps the connection but stops reading ends
//! it too, once a line has waited the stall limit: the request deadline covers only the
//! response's head, and each stalled export would otherwise hold a pooled connection.
//!
//! Each export also holds one of a few [`ExportSlots`], taken before its transaction begins
//! and given back when its task ends, however it ends: the number of connections exports
//! hold at once is bounded, whoever asks for them and however slowly they read.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::body::{Body, Bytes};
use futures::TryStreamExt;
use tokio::sync::{
    OwnedSemaphorePermit, Semaphore,
    mpsc::{self, error::SendTimeoutError},
};
use uuid::Uuid;

use super::record::DocumentRecord;

/// Lines read ahead of the client.
const LINES_AHEAD: usize = 8;

/// The places for exports running at once in this process.
#[derive(Clone)]
pub struct ExportSlots(Arc<Semaphore>);

/// One export's place, held by its task until the task ends.
pub struct ExportSlot {
    _permit: OwnedSemaphorePermit,
}

impl ExportSlots {
    /// A quarter of the pool's connections, at least one. An export holds its connection for
    /// as long as its client reads (up to `REQUEST_TIMEOUT_SECS` per line), so unbounded
    /// exports could take the whole pool; three quarters stay for what must answer quickly
    /// (searches, ingestion, session checks, the background indexer). Exports are occasional
    /// backups, so five at once with the default pool of 20 is plenty; derived from
    /// `DB_POOL_SIZE`, there is no second setting to keep in step with it.
    pub fn for_pool(pool: &db::PgPool) -> Self {
        Self::new(slots_for(pool.options().get_max_connections()))
    }

    pub fn new(slots: usize) -> Self {
        Self(Arc::new(Semaphore::new(slots)))
    }

    /// A place for one more export, or `None` when every place is taken: the caller is
    /// answered at once rather than kept waiting behind exports that may take minutes.
    pub fn try_take(&self) -> Option<ExportSlot> {
        let _permit = self.0.clone().try_acquire_owned().ok()?;
        Some(ExportSlot { _permit })
    }
}

/// The documents of `owner_id` (`None`: the shared ones) as an NDJSON body. The transaction
/// begins before this returns, so a database that cannot be reached is an error here, not a
/// body cut short; its snapshot is taken by the export's one statement. A line the client
/// has not taken within `stall_limit` ends the export, and the body breaks off. `slot` is
/// given back when the export ends (or here, if the transaction cannot begin).
pub async fn export(
    pool: &db::PgPool,
    owner_id: Option<Uuid>,
    stall_limit: Duration,
    slot: ExportSlot,
) -> Result<Body, sqlx::Error> {
    let snapshot = db::memory::transfer::begin_snapshot(pool).await?;
    let (lines, receiver) = mpsc::channel(LINES_AHEAD);
    let completed = Arc::new(AtomicBool::new(false));
    let sender = Sender {
        lines,
        stall_limit,
        completed: completed.clone(),
    };
    tokio::spawn(send_documents(snapshot, owner_id, sender, slot));
    // The channel closes both when every line was sent and when the task gave up (or
    // panicked) with lines still queued: only the flag tells a whole export from a cut one.
    let body = futures::stream::unfold(Some(receiver), move |receiver| {
        let completed = completed.clone();
        async move {
            let mut receiver = receiver?;
            match receiver.recv().await {
                Some(line) => Some((line, Some(receiver))),
                None if completed.load(Ordering::Acquire) => None,
                None => Some((Err(cut_off()), None)),
            }
        }
    });
    Ok(Body::from_stream(body))
}

type Line = Result<Bytes, std::io::Error>;

/// The task's end of the channel.
struct Sender {
    lines: mpsc::Sender<Line>,
    stall_limit: Duration,
    /// Set once the last line is queued.
    completed: Arc<AtomicBool>,
}

fn cut_off() -> std::io::Error {
    std::io::Error::other("the export failed midway")
}

/// Owns `_slot` for as long as it holds the snapshot: dropped with the task, however it ends.
async fn send_documents(
    mut snapshot: db::Transaction<'static, db::Postgres>,
    owner_id: Option<Uuid>,
    sender: Sender,
    _slot: ExportSlot,
) {
    let mut documents = db::memory::transfer::export(&mut snapshot, owner_id);
    let mut sent: u64 = 0;
    loop {
        let line = match documents.try_next().await {
            Ok(Some(document)) => line_of(DocumentRecord::from(document)),
            Ok(None) => break,
            Err(error) => {
                // The status is sent already: the body breaks off after the lines queued,
                // which is how the client learns that the export is incomplete.
                tracing::error!(%error, sent, "export failed midway");
                return;
            }
        };
        match sender.lines.send_timeout(line, sender.stall_limit).await {
            Ok(()) => sent += 1,
            Err(SendTimeoutError::Closed(_)) => {
                tracing::info!(sent, "export abandoned by the client");
                return;
            }
            Err(SendTimeoutError::Timeout(_)) => {
                tracing::warn!(sent, stall_limit = ?sender.stall_limit,
                    "export ended: the client stopped reading");
                return;
            }
        }
    }
    sender.completed.store(true, Ordering::Release);
    tracing::info!(documents = sent, "export sent");
}

/// A quarter of `max_connections`, at least one ([`ExportSlots::for_pool`] says why).
fn slots_for(max_connections: u32) -> usize {
    (max_connections / 4).max(1) as usize
}

fn line_of(record: DocumentRecord) -> Line {
    let mut line = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    Ok(Bytes::from(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_get_a_quarter_of_the_pool_and_always_one_place() {
        assert_eq!(slots_for(20), 5);
        assert_eq!(slots_for(8), 2);
        assert_eq!(slots_for(3), 1);
        assert_eq!(slots_for(1), 1);
    }

    #[test]
    fn a_place_given_back_can_be_taken_again() {
        let slots = ExportSlots::new(1);
        let taken = slots.try_take().expect("a free place");
        assert!(slots.try_take().is_none());
        drop(taken);
        assert!(slots.try_take().is_some());
    }
}
