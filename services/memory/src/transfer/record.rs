//! One line of an export or import: a document with its chunks. The document's text is its
//! chunks; they keep their ids, so an imported chunk's vector has its exported point id
//! (a copy's chunks have ids of their own, and so have their vectors).

use chrono::{DateTime, Utc};
use db::memory::transfer::{ExportedChunk, ExportedDocument};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// A document as exported, and as the import reads it. On import, absent optional fields
/// take their ingestion defaults and absent timestamps the time of import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentRecord {
    /// Kept on import: importing the same id again changes nothing. When it (or a chunk's
    /// id) is another owner's document's, the import stores a copy under ids of its own (the
    /// notice `stored_under_new_id` gives the new one).
    pub id: Uuid,
    pub source: String,
    pub external_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub path: Option<String>,
    pub title: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Kept on import when that project exists and you can see it; dropped otherwise.
    pub project_id: Option<Uuid>,
    /// SHA-256 of the document's text, lower-case hex: what finds a later ingestion of the
    /// same text. Taken as given; absent, that of the chunk's text for a document of one
    /// chunk, none for several (their text is trimmed, so it cannot be rebuilt exactly).
    pub content_hash: Option<String>,
    /// Kept on import (absent: 1), so that an edit based on the exported version applies to
    /// the imported document too.
    #[schema(minimum = 1)]
    pub version: Option<i32>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The text, in pieces: at least one.
    pub chunks: Vec<ChunkRecord>,
}

/// A piece of a document's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChunkRecord {
    /// Kept on import (but in a copy: see the document's `id`): the id of the chunk's vector
    /// too.
    pub id: Uuid,
    /// The chunk's place in the document, from 0.
    pub index: i32,
    pub content: String,
    /// Where the chunk lies in the text: `byte_offset`, `byte_length`.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// The model its vector was made with; the import embeds again with the configured one.
    pub embedding_model: Option<String>,
}

/// Taken apart whole, so that a field added to the export's query cannot be left out of the
/// records without the compiler saying so.
impl From<ExportedDocument> for DocumentRecord {
    fn from(document: ExportedDocument) -> Self {
        let ExportedDocument {
            id,
            source,
            external_id,
            kind,
            path,
            title,
            tags,
            metadata,
            project_id,
            content_hash,
            version,
            created_at,
            updated_at,
            chunks,
        } = document;
        Self {
            id,
            source,
            external_id,
            kind: Some(kind),
            path,
            title,
            tags,
            metadata: Some(metadata),
            project_id,
            content_hash,
            version: Some(version),
            created_at: Some(created_at),
            updated_at: Some(updated_at),
            chunks: chunks.0.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<ExportedChunk> for ChunkRecord {
    fn from(chunk: ExportedChunk) -> Self {
        let ExportedChunk {
            id,
            index,
            content,
            metadata,
            embedding_model,
        } = chunk;
        Self {
            id,
            index,
            content,
            metadata: Some(metadata),
            embedding_model,
        }
    }
}
