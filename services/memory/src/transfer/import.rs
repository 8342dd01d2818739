//! The import: an NDJSON body of [`super::record::DocumentRecord`]s, read line by line and written a batch
//! at a time (each batch one transaction), so memory stays bounded whatever the body's size
//! and an import cut short keeps the batches it committed: sending the same body again
//! imports the rest, since a document whose id is stored already is `unchanged`.
//!
//! Each line is checked as an ingestion is ([`super::check`]), and answered on its own: a
//! bad line is reported with its number and the others still import.

use authn::AuthUser;
use axum::{body::Body, http::StatusCode};
use platform::ServiceError;
use uuid::Uuid;

use super::{
    check::{checked, line_too_long, max_line_bytes, read_line},
    lines::{BodyError, Line, Lines},
    report::ImportReport,
    write::{Batch, write_batch},
};
use crate::{error::ApiError, state::AppState};

/// Largest import body: 256 MiB. Larger collections are imported in several bodies (any
/// split at line ends works: lines are independent).
pub const MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;
/// Why an import stopped before the end of its body. Batches committed before stay.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(
        "the body is over {} MiB; {}",
        MAX_IMPORT_BYTES / (1024 * 1024),
        too_large_advice(*.lines_read, *.imported)
    )]
    TooLarge { lines_read: u64, imported: u64 },
    #[error("send the documents as application/x-ndjson, one per line")]
    UnsupportedMediaType,
    #[error("the body broke off; {}", read_so_far(*.lines_read, *.imported))]
    Interrupted {
        lines_read: u64,
        imported: u64,
        detail: String,
    },
}

/// What to do about a body over the limit, by how far it was read.
fn too_large_advice(lines: u64, imported: u64) -> String {
    if lines == 0 {
        "nothing was read: send at most that much per request".to_owned()
    } else {
        format!(
            "{}: send the rest in another request",
            read_so_far(lines, imported)
        )
    }
}

/// "lines 1 to 7 were read (5 imported)", in words that also fit none or one line.
fn read_so_far(lines: u64, imported: u64) -> String {
    match lines {
        0 => "no line was read".to_owned(),
        1 => format!("line 1 was read ({imported} imported)"),
        lines => format!("lines 1 to {lines} were read ({imported} imported)"),
    }
}

impl ServiceError for ImportError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ImportError::Api(error) => error.status_and_code(),
            ImportError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ImportError::Interrupted { .. } => (StatusCode::BAD_REQUEST, "upload_interrupted"),
            ImportError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ImportError::Api(error) => error.retry_after_secs(),
            _ => None,
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            ImportError::Api(error) => error.detail(),
            ImportError::Interrupted { detail, .. } => Some(detail),
            ImportError::TooLarge { .. } | ImportError::UnsupportedMediaType => None,
        }
    }
}

platform::respond_with_render!(ImportError);

/// The UTF-8 byte-order mark, taken off the body's first line.
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Documents per transaction.
const BATCH_DOCUMENTS: usize = 100;
/// Chunk text per transaction, in bytes.
const BATCH_TEXT_BYTES: usize = 8 * 1024 * 1024;
/// Chunks per transaction (a batch is written when any of the three limits is reached).
const BATCH_CHUNKS: usize = 4096;

/// Imports the documents of `body` for `owner_id` (`None`: shared, checked by the caller).
pub async fn import(
    state: &AppState,
    user: &AuthUser,
    owner_id: Option<Uuid>,
    body: Body,
) -> Result<ImportReport, ImportError> {
    let max_document_bytes = state.config.memory_max_document_bytes;
    let mut lines = Lines::new(body, max_line_bytes(max_document_bytes), MAX_IMPORT_BYTES);
    let mut report = ImportReport::default();
    let mut batch = Batch::default();
    loop {
        let line = match lines.next().await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(error) => {
                // What the batch holds is written: those lines arrived whole.
                write_batch(state, user, std::mem::take(&mut batch), &mut report).await?;
                return Err(stopped(error, &report));
            }
        };
        let (number, bytes) = match line {
            Line::Text { number, bytes } => (number, bytes),
            Line::TooLong { number } => {
                report.fail(number, None, &line_too_long(max_document_bytes));
                continue;
            }
        };
        // Some editors open a UTF-8 file with a byte-order mark; JSON allows a parser to
        // ignore it (RFC 8259, 8.1), and it cannot be anything else at the body's start.
        let bytes = match bytes.strip_prefix(BYTE_ORDER_MARK) {
            Some(rest) if number == 1 => rest,
            _ => &bytes[..],
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = match read_line(bytes) {
            Ok(record) => record,
            Err(error) => {
                report.fail(number, None, &error);
                continue;
            }
        };
        let id = record.id;
        let document = match checked(record, owner_id, max_document_bytes) {
            Ok(document) => document,
            Err(error) => {
                report.fail(number, Some(id), &error);
                continue;
            }
        };
        // A line repeating an id or a chunk id of the batch waits for the batch to commit,
        // so that it meets the first as stored (as if sent in a later import).
        if batch.overlaps(&document) {
            write_batch(state, user, std::mem::take(&mut batch), &mut report).await?;
        }
        batch.push(number, document);
        if batch.len() >= BATCH_DOCUMENTS
            || batch.text_bytes() >= BATCH_TEXT_BYTES
            || batch.chunks() >= BATCH_CHUNKS
        {
            write_batch(state, user, std::mem::take(&mut batch), &mut report).await?;
        }
    }
    write_batch(state, user, batch, &mut report).await?;
    Ok(report)
}

fn stopped(error: BodyError, report: &ImportReport) -> ImportError {
    match error {
        BodyError::TooLarge { lines_read } => ImportError::TooLarge {
            lines_read,
            imported: report.imported,
        },
        BodyError::Interrupted { lines_read, detail } => ImportError::Interrupted {
            lines_read,
            imported: report.imported,
            detail,
        },
    }
}
