//! What search answers with: hits (the chunk, its document, the score) and the index status.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::search::{Answer, Mode, Ranked};

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchView {
    /// Best first.
    pub results: Vec<HitView>,
    /// How the results were ranked, which says what `score` means: `vector`, `lexical` or
    /// `hybrid`. A degraded search says `lexical`.
    pub mode: Mode,
    /// `true` when `vector` or `hybrid` ranking was asked for but the vector index or the
    /// embedding provider was unavailable: the results are ranked by their words only.
    pub degraded: bool,
    /// The embedding model the query was embedded with; `null` when no embedding ranked
    /// the results (`lexical`, degraded or asked for).
    pub model: Option<String>,
}

impl From<Answer> for SearchView {
    fn from(answer: Answer) -> Self {
        Self {
            results: answer.results.into_iter().map(HitView::from).collect(),
            mode: answer.mode,
            degraded: answer.degraded,
            model: answer.model,
        }
    }
}

/// One hit: the chunk, its document, and its score.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitView {
    /// Higher is better; its meaning follows the answer's `mode`. `vector`: cosine
    /// similarity (-1 to 1). `lexical`: PostgreSQL's `ts_rank_cd` cover density, normalised
    /// to 0-1 (`rank / (rank + 1)`). `hybrid`: reciprocal rank fusion, the sum over the
    /// vector and the lexical ranking of `1 / (60 + rank)` (rank 1 is the best; at most
    /// 2/61 ≈ 0.0328).
    pub score: f32,
    pub chunk: HitChunk,
    pub document: HitDocument,
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

/// What the caller says about a document: shown with each search hit, and in listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentFields {
    pub source: String,
    pub external_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub path: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
}

/// The part of a document shown with each search hit.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitDocument {
    pub id: Uuid,
    pub shared: bool,
    #[serde(flatten)]
    pub fields: DocumentFields,
    pub created_at: DateTime<Utc>,
}

impl From<Ranked> for HitView {
    fn from(Ranked { score, hit: row }: Ranked) -> Self {
        Self {
            score,
            chunk: HitChunk {
                id: row.id,
                index: row.chunk_index,
                content: row.content,
                embedding_model: row.embedding_model,
                metadata: row.chunk_metadata,
            },
            document: HitDocument {
                id: row.document_id,
                shared: row.owner_id.is_none(),
                fields: DocumentFields {
                    source: row.source,
                    external_id: row.external_id,
                    kind: row.kind,
                    path: row.path,
                    title: row.title,
                    tags: row.tags,
                    metadata: row.document_metadata,
                },
                created_at: row.created_at,
            },
        }
    }
}

/// Whose figures a status shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusScope {
    /// The caller's own documents (shared ones are nobody's).
    Own,
    /// Every document (admins).
    All,
}

/// How far the vector index is behind PostgreSQL: for the caller's own documents, or for
/// all of them when an admin asks (`scope`).
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexStatusView {
    /// `own` or `all`: whose chunks and vectors the figures count.
    pub scope: StatusScope,
    /// `embedded` or `qdrant`.
    pub backend: &'static str,
    pub collection: String,
    pub model: String,
    pub dimension: usize,
    pub chunks: i64,
    /// Chunks waiting for their vector; the indexer retries them.
    pub pending_chunks: i64,
    /// Vectors in the collection (orphans of deleted chunks included until swept).
    pub vectors: u64,
}
