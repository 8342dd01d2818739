//! Queries of the memory service: documents, their chunks, and the bookkeeping that keeps
//! PostgreSQL and the vector index in step (a chunk's id is its vector's point id).

pub mod chunks;
pub mod documents;
pub mod legacy;
pub mod search;
pub mod transfer;

pub use chunks::{Chunk, ChunkHit, IndexableChunk, NewChunk};
pub use documents::{Document, DocumentFilter, DocumentKey, NewDocument, Scope};

/// `owner_id` of shared documents, as the unique key spells it (see migration 0010).
pub const SHARED_OWNER_KEY: uuid::Uuid = uuid::Uuid::nil();
