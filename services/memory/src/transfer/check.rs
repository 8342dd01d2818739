//! Checking a line of an import as an ingestion is checked, and turning it into the rows to
//! write.

use chrono::{Datelike, Utc};
use db::memory::{NewChunk, transfer::ImportedDocument};
use serde_json::Value;
use uuid::Uuid;

use super::record::{ChunkRecord, DocumentRecord};
use crate::{
    error::ApiError,
    ingest::{Fields, check_fields, check_metadata, sha256_hex},
};

/// A line holds a document's chunks: its text with the chunks' overlaps (under half a chunk
/// each, so at most twice the text), JSON-escaped (at most twice again for most text), and
/// the other fields.
pub(super) fn max_line_bytes(max_document_bytes: usize) -> usize {
    max_document_bytes
        .saturating_mul(4)
        .saturating_add(1024 * 1024)
}

pub(super) fn line_too_long(max_document_bytes: usize) -> ApiError {
    ApiError::TooLarge(format!(
        "the line is over {} bytes, the most a document under MEMORY_MAX_DOCUMENT_BYTES \
         ({max_document_bytes}) takes",
        max_line_bytes(max_document_bytes)
    ))
}

/// A line as a record: a JSON object, free of NUL, shaped as [`DocumentRecord`]. Parsed
/// straight into the record (a line can hold many chunks); only a line holding a NUL is
/// parsed a second time, to name the field.
pub(super) fn read_line(bytes: &[u8]) -> Result<DocumentRecord, ApiError> {
    if platform::text::json_has_nul_escape(bytes)
        && let Ok(value) = serde_json::from_slice::<Value>(bytes)
        && let Some(field) = platform::text::find_nul(&value)
    {
        return Err(ApiError::validation(
            platform::text::INVALID_TEXT,
            platform::text::nul_message(&field),
        ));
    }
    let parsed = serde_json::from_slice::<DocumentRecord>(bytes);
    if let Err(error) = &parsed
        && !error.is_data()
    {
        return Err(ApiError::validation(
            "malformed_line",
            format!("not JSON: {error}"),
        ));
    }
    // serde reads a struct from an array too, field by field in order.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::validation(
            "invalid_document",
            "a line must be a JSON object",
        ));
    }
    parsed.map_err(|error| ApiError::validation("invalid_document", error.to_string()))
}

/// A document checked as an ingestion is, ready to write.
#[derive(Clone)]
pub(super) struct Checked {
    pub(super) document: ImportedDocument,
    pub(super) chunks: Vec<NewChunk>,
}

pub(super) fn checked(
    record: DocumentRecord,
    owner_id: Option<Uuid>,
    max_document_bytes: usize,
) -> Result<Checked, ApiError> {
    let fields = check_fields(Fields {
        source: record.source,
        external_id: record.external_id,
        kind: record.kind,
        path: record.path,
        title: record.title,
        tags: record.tags,
        metadata: record.metadata,
    })?;
    if let Some(hash) = &record.content_hash
        && !(hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    {
        return Err(ApiError::validation(
            "invalid_content_hash",
            "content_hash must be a SHA-256 in lower-case hex (64 characters)",
        ));
    }
    let outside_calendar = [record.created_at, record.updated_at]
        .into_iter()
        .flatten()
        .any(|at| !(1..=9999).contains(&at.year()));
    if outside_calendar {
        return Err(ApiError::validation(
            "invalid_timestamp",
            "created_at and updated_at must lie in the years 1 to 9999",
        ));
    }
    if record.version.is_some_and(|version| version < 1) {
        return Err(ApiError::validation(
            "invalid_version",
            "version must be 1 or more",
        ));
    }
    let chunks = checked_chunks(record.chunks, max_document_bytes)?;
    // Absent, the hash ingestion would give: a lone chunk is the whole text. Chunks are
    // trimmed, so several cannot be joined back into the exact text that was hashed.
    let content_hash = match (record.content_hash, &chunks[..]) {
        (None, [only]) => Some(only.content_hash.clone()),
        (given, _) => given,
    };
    let now = Utc::now();
    let created_at = record.created_at.unwrap_or(now);
    Ok(Checked {
        document: ImportedDocument {
            id: record.id,
            owner_id,
            fields,
            project_id: record.project_id,
            content_hash,
            version: record.version.unwrap_or(1),
            created_at,
            updated_at: record.updated_at.unwrap_or(created_at),
        },
        chunks,
    })
}

/// The chunks in order of `index`: at least one, each with text, indexes and ids distinct,
/// the text in all at most twice `MEMORY_MAX_DOCUMENT_BYTES` (chunks repeat their overlap,
/// under half a chunk).
fn checked_chunks(
    chunks: Vec<ChunkRecord>,
    max_document_bytes: usize,
) -> Result<Vec<NewChunk>, ApiError> {
    if chunks.is_empty() {
        return Err(ApiError::validation(
            "empty_content",
            "a document needs at least one chunk",
        ));
    }
    let text_bytes: usize = chunks.iter().map(|chunk| chunk.content.len()).sum();
    if text_bytes > max_document_bytes.saturating_mul(2) {
        return Err(ApiError::TooLarge(format!(
            "the chunks hold {text_bytes} bytes of text; the limit is twice \
             MEMORY_MAX_DOCUMENT_BYTES ({max_document_bytes})"
        )));
    }
    let mut checked = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        if chunk.index < 0 {
            return Err(invalid_chunks("chunk indexes start at 0"));
        }
        if chunk.content.trim().is_empty() {
            return Err(ApiError::validation(
                "empty_content",
                format!("chunk {} has no text", chunk.index),
            ));
        }
        checked.push(NewChunk {
            id: chunk.id,
            chunk_index: chunk.index,
            content_hash: sha256_hex(&chunk.content),
            metadata: check_metadata(chunk.metadata)?,
            content: chunk.content,
        });
    }
    checked.sort_by_key(|chunk| chunk.chunk_index);
    if checked
        .windows(2)
        .any(|pair| pair[0].chunk_index == pair[1].chunk_index)
    {
        return Err(invalid_chunks("two chunks have the same index"));
    }
    let mut ids: Vec<Uuid> = checked.iter().map(|chunk| chunk.id).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(invalid_chunks("two chunks have the same id"));
    }
    Ok(checked)
}

fn invalid_chunks(message: &str) -> ApiError {
    ApiError::validation("invalid_chunks", message)
}
