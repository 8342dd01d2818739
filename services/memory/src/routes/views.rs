//! What the memory API returns, shaped for clients (and documented in the OpenAPI spec).

use chrono::{DateTime, Utc};
use db::memory::{Chunk, ChunkHit, Document};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::search::Hit;

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub id: Uuid,
    /// Absent for shared documents.
    pub owner_id: Option<Uuid>,
    pub shared: bool,
    pub source: String,
    pub external_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub path: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// SHA-256 of the text, lower-case hex.
    pub content_hash: Option<String>,
    pub chunk_count: i64,
    /// Chunks whose vector is not in the index yet (searchable once 0).
    pub pending_chunks: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Document> for DocumentView {
    fn from(document: Document) -> Self {
        Self {
            id: document.id,
            owner_id: document.owner_id,
            shared: document.owner_id.is_none(),
            source: document.source,
            external_id: document.external_id,
            kind: document.kind,
            path: document.path,
            title: document.title,
            tags: document.tags,
            metadata: document.metadata,
            content_hash: document.content_hash,
            chunk_count: document.chunk_count,
            pending_chunks: document.pending_chunks,
            created_at: document.created_at,
            updated_at: document.updated_at,
        }
    }
}

/// The answer to an ingestion.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestView {
    /// `created`, `updated` (same source + external_id, new content) or `unchanged`.
    #[schema(example = "created")]
    pub status: &'static str,
    pub document: DocumentView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkView {
    pub id: Uuid,
    pub index: i32,
    pub content: String,
    /// The model that made the chunk's vector; absent while pending.
    pub embedding_model: Option<String>,
    pub embedding_dim: Option<i32>,
    pub indexed: bool,
    /// Where the chunk lies in the text: `byte_offset`, `byte_length`.
    #[schema(value_type = Object)]
    pub metadata: Value,
}

impl From<Chunk> for ChunkView {
    fn from(chunk: Chunk) -> Self {
        Self {
            id: chunk.id,
            index: chunk.chunk_index,
            content: chunk.content,
            embedding_model: chunk.embedding_model,
            embedding_dim: chunk.embedding_dim,
            indexed: chunk.indexed,
            metadata: chunk.metadata,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentWithChunks {
    #[serde(flatten)]
    pub document: DocumentView,
    pub chunks: Vec<ChunkView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPage {
    pub documents: Vec<DocumentView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The part of a document shown with each search hit.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitDocument {
    pub id: Uuid,
    pub shared: bool,
    pub source: String,
    pub external_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub path: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HitChunk {
    pub id: Uuid,
    pub index: i32,
    pub content: String,
    pub embedding_model: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HitView {
    /// Cosine similarity, higher is closer (at most 1).
    pub score: f32,
    pub chunk: HitChunk,
    pub document: HitDocument,
}

impl From<Hit> for HitView {
    fn from(hit: Hit) -> Self {
        let ChunkHit {
            id,
            chunk_index,
            content,
            embedding_model,
            chunk_metadata,
            document_id,
            owner_id,
            source,
            external_id,
            kind,
            path,
            title,
            tags,
            document_metadata,
            created_at,
        } = hit.chunk;
        Self {
            score: hit.score,
            chunk: HitChunk {
                id,
                index: chunk_index,
                content,
                embedding_model,
                metadata: chunk_metadata,
            },
            document: HitDocument {
                id: document_id,
                shared: owner_id.is_none(),
                source,
                external_id,
                kind,
                path,
                title,
                tags,
                metadata: document_metadata,
                created_at,
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchView {
    pub results: Vec<HitView>,
    /// The embedding model the query was embedded with.
    pub model: String,
}

/// How far the vector index is behind PostgreSQL.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexStatusView {
    /// `embedded` or `qdrant`.
    pub backend: &'static str,
    pub collection: String,
    pub model: String,
    pub dimension: usize,
    pub chunks: i64,
    /// Chunks waiting for their vector; the indexer retries them.
    pub pending_chunks: i64,
    /// Vectors in the collection (orphans of deleted chunks included until cleaned).
    pub vectors: u64,
}
