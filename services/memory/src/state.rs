//! `AppState`: what every handler can reach, and how it is opened at start.

use std::sync::Arc;

use authn::{LiveSessions, TokenVerifier};
use axum::extract::FromRef;
use db::PgPool;
use platform::{config::CommonConfig, service::StartError};
use tokio::sync::Notify;

use crate::{
    chunking::Chunker,
    config::{MemoryConfig, Settings},
    indexing::{Indexer, collection_spec},
    ingest::{group::GroupCommit, write::DocumentWriter},
    statistics::StatisticsRefresh,
    transfer::export::ExportSlots,
};

/// `FromRef` gives extractors each field on its own: `authn::AuthUser` takes the verifier
/// and the live sessions from here.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<MemoryConfig>,
    pub indexer: Indexer,
    pub chunker: Arc<Chunker>,
    pub verifier: TokenVerifier,
    pub sessions: LiveSessions,
    /// Settings every service shares (timeouts, body limits, log format).
    pub common: Arc<CommonConfig>,
    /// Nudges the background indexer when an ingestion left chunks pending.
    pub indexer_wakeup: Arc<Notify>,
    /// Analyzes the memory tables after bulk ingestions, one run at a time.
    pub statistics: Arc<StatisticsRefresh>,
    /// Writes checked, chunked and embedded documents (the batch route's and the groups').
    pub writer: DocumentWriter,
    /// Writes concurrent single-document ingestions together.
    pub ingest_groups: Arc<GroupCommit>,
    /// Bounds the exports running at once, each holding a pooled connection.
    pub exports: ExportSlots,
}

impl AppState {
    /// Builds the embedder, opens the vector index and checks (or creates) the collection.
    /// A collection built from another embedding model refuses to start, naming the fix.
    pub async fn open(
        pool: PgPool,
        settings: &Settings,
        verifier: TokenVerifier,
        common: CommonConfig,
    ) -> Result<Self, StartError> {
        check_search_language(&pool, &settings.memory.memory_search_language).await?;
        let indexer = open_indexer(pool, settings).await?;
        Self::with_indexer(indexer, &settings.memory, verifier, common)
    }

    /// The state around an indexer whose collection is ready (e.g. one a benchmark built).
    pub fn with_indexer(
        indexer: Indexer,
        memory: &MemoryConfig,
        verifier: TokenVerifier,
        common: CommonConfig,
    ) -> Result<Self, StartError> {
        let chunker = Chunker::new(memory.memory_chunk_size, memory.memory_chunk_overlap)
            .map_err(StartError::new)?;
        let pool = indexer.pool.clone();
        let indexer_wakeup = Arc::new(Notify::new());
        let writer = DocumentWriter::new(
            indexer.clone(),
            &memory.memory_search_language,
            indexer_wakeup.clone(),
        );
        let exports = ExportSlots::for_pool(&pool);
        Ok(Self {
            pool: pool.clone(),
            config: Arc::new(memory.clone()),
            indexer,
            chunker: Arc::new(chunker),
            verifier,
            sessions: LiveSessions::new(pool),
            common: Arc::new(common),
            indexer_wakeup,
            statistics: Arc::new(StatisticsRefresh::default()),
            ingest_groups: Arc::new(GroupCommit::new(writer.clone())),
            writer,
            exports,
        })
    }
}

/// Refuses to start with a `MEMORY_SEARCH_LANGUAGE` PostgreSQL does not have: every ingest
/// would fail writing its chunks.
async fn check_search_language(pool: &PgPool, language: &str) -> Result<(), StartError> {
    let exists = db::memory::search::language_exists(pool, language)
        .await
        .map_err(|error| StartError::new(format!("checking MEMORY_SEARCH_LANGUAGE: {error}")))?;
    if exists {
        Ok(())
    } else {
        Err(StartError::new(format!(
            "MEMORY_SEARCH_LANGUAGE: PostgreSQL has no text-search configuration `{language}` \
             (`SELECT cfgname FROM pg_ts_config` lists them; e.g. english, german, simple)"
        )))
    }
}

/// The embedder and index as configured, with the collection verified against the embedder.
pub async fn open_indexer(pool: PgPool, settings: &Settings) -> Result<Indexer, StartError> {
    let indexer = connect_indexer(pool, settings).await?;
    let spec = collection_spec(&indexer.collection, indexer.embedder.as_ref());
    indexer
        .index
        .ensure_collection(&spec)
        .await
        .map_err(|error| StartError::new(format!("vector index: {error}")))?;
    tracing::info!(
        backend = indexer.index.backend(),
        collection = %indexer.collection,
        model = indexer.embedder.model(),
        dimension = indexer.embedder.dimension(),
        "vector index ready"
    );
    Ok(indexer)
}

/// The embedder and index as configured, without touching the collection (for reindex,
/// which rebuilds it).
pub async fn connect_indexer(pool: PgPool, settings: &Settings) -> Result<Indexer, StartError> {
    let embedder = embed::from_config(&settings.embedding).map_err(StartError::new)?;
    let embedder = Arc::new(crate::metrics::TimedEmbedder(embedder));
    let index = vector::connect(&settings.vector)
        .await
        .map_err(|error| StartError::new(format!("vector index: {error}")))?;
    Ok(Indexer {
        pool,
        index,
        embedder,
        collection: settings.memory.memory_collection.as_str().into(),
        batch: settings.memory.memory_index_batch,
        orphan_sweep_interval: settings.memory.orphan_sweep_interval(),
    })
}
