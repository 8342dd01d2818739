//! The export: one owner's documents, oldest first, one JSON line each, read from one
//! snapshot and sent as PostgreSQL produces them.
//!
//! A spawned task owns the snapshot's transaction and the row stream, and hands lines to the
//! response body through a small bounded channel: a slow client slows the reading down
//! instead of making lines pile up, and a client that goes away ends the task (and the
//! transaction) at the next line.

use axum::body::{Body, Bytes};
use futures::TryStreamExt;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::record::DocumentRecord;

/// Lines read ahead of the client.
const LINES_AHEAD: usize = 8;

/// The documents of `owner_id` (`None`: the shared ones) as an NDJSON body. The transaction
/// begins before this returns, so a database that cannot be reached is an error here, not a
/// body cut short; its snapshot is taken by the export's one statement.
pub async fn export(pool: &db::PgPool, owner_id: Option<Uuid>) -> Result<Body, sqlx::Error> {
    let snapshot = db::memory::transfer::begin_snapshot(pool).await?;
    let (lines, receiver) = mpsc::channel(LINES_AHEAD);
    tokio::spawn(send_documents(snapshot, owner_id, lines));
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|line| (line, receiver))
    });
    Ok(Body::from_stream(body))
}

type Line = Result<Bytes, std::io::Error>;

async fn send_documents(
    mut snapshot: db::Transaction<'static, db::Postgres>,
    owner_id: Option<Uuid>,
    lines: mpsc::Sender<Line>,
) {
    let mut documents = db::memory::transfer::export(&mut snapshot, owner_id);
    let mut sent: u64 = 0;
    loop {
        let line = match documents.try_next().await {
            Ok(Some(document)) => line_of(DocumentRecord::from(document)),
            Ok(None) => break,
            Err(error) => {
                // The status is sent already: breaking the body is how the client learns
                // that the export is incomplete.
                tracing::error!(%error, sent, "export failed midway");
                let _ = lines
                    .send(Err(std::io::Error::other("the export failed midway")))
                    .await;
                return;
            }
        };
        if lines.send(line).await.is_err() {
            tracing::info!(sent, "export abandoned by the client");
            return;
        }
        sent += 1;
    }
    tracing::info!(documents = sent, "export sent");
}

fn line_of(record: DocumentRecord) -> Line {
    let mut line = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    Ok(Bytes::from(line))
}
