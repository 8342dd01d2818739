//! The export: one owner's documents, oldest first, one JSON line each, read from one
//! snapshot and sent as PostgreSQL produces them.
//!
//! A spawned task owns the snapshot's transaction and the row stream, and hands lines to the
//! response body through a small bounded channel: a slow client slows the reading down
//! instead of making lines pile up, and a client that goes away ends the task (and the
//! transaction) at the next line. A client that keeps the connection but stops reading ends
//! it too, once a line has waited the stall limit: the request deadline covers only the
//! response's head, and each stalled export would otherwise hold a pooled connection.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::body::{Body, Bytes};
use futures::TryStreamExt;
use tokio::sync::mpsc::{self, error::SendTimeoutError};
use uuid::Uuid;

use super::record::DocumentRecord;

/// Lines read ahead of the client.
const LINES_AHEAD: usize = 8;

/// The documents of `owner_id` (`None`: the shared ones) as an NDJSON body. The transaction
/// begins before this returns, so a database that cannot be reached is an error here, not a
/// body cut short; its snapshot is taken by the export's one statement. A line the client
/// has not taken within `stall_limit` ends the export, and the body breaks off.
pub async fn export(
    pool: &db::PgPool,
    owner_id: Option<Uuid>,
    stall_limit: Duration,
) -> Result<Body, sqlx::Error> {
    let snapshot = db::memory::transfer::begin_snapshot(pool).await?;
    let (lines, receiver) = mpsc::channel(LINES_AHEAD);
    let completed = Arc::new(AtomicBool::new(false));
    let sender = Sender {
        lines,
        stall_limit,
        completed: completed.clone(),
    };
    tokio::spawn(send_documents(snapshot, owner_id, sender));
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

async fn send_documents(
    mut snapshot: db::Transaction<'static, db::Postgres>,
    owner_id: Option<Uuid>,
    sender: Sender,
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

fn line_of(record: DocumentRecord) -> Line {
    let mut line = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    Ok(Bytes::from(line))
}
