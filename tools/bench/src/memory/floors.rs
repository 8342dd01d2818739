//! The sum-of-stages floor of bulk ingestion: each stage the service does, done alone on
//! the same documents.

use std::sync::Arc;
use std::time::{Duration, Instant};

use db::memory::{IndexableChunk, NewChunk, NewDocument, documents::DocumentFields};
use embed::Embedder;
use memory::{
    chunking::{Chunker, TextFormat},
    config::Settings,
    indexing::{collection_spec, payload},
};
use serde_json::json;
use uuid::Uuid;
use vector::{Point, VectorIndex};

use super::BATCH_DOCUMENTS;
use crate::scratch::ScratchDatabase;

/// The time of each stage of a bulk ingestion, each done alone on the same documents.
pub struct Stages {
    pub chunks: usize,
    pub chunk_embed: Duration,
    pub insert: Duration,
    pub upsert: Duration,
}

impl Stages {
    pub fn total(&self) -> Duration {
        self.chunk_embed + self.insert + self.upsert
    }
}

/// The sum-of-stages floor: chunk (the service's chunker, one task per core) and embed all
/// documents; insert the same rows with the service's multi-row statements into a scratch
/// database, [`BATCH_DOCUMENTS`] per transaction; upsert the same vectors with their payloads
/// into a scratch collection of the same index, one call (and flush) per batch.
pub async fn stage_floors(
    documents: &[String],
    settings: &Settings,
    embedder: &Arc<dyn Embedder>,
    index: &Arc<dyn VectorIndex>,
    owner: Uuid,
) -> anyhow::Result<Stages> {
    let memory = &settings.memory;
    let chunker = Arc::new(
        Chunker::new(memory.memory_chunk_size, memory.memory_chunk_overlap)
            .map_err(anyhow::Error::msg)?,
    );
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for group in documents.chunks(documents.len().div_ceil(cores).max(1)) {
        let (chunker, group) = (chunker.clone(), group.to_vec());
        tasks.push(tokio::task::spawn_blocking(move || {
            group
                .iter()
                .map(|text| memory::ingest::chunks_of(&chunker, text, TextFormat::Plain))
                .collect::<Vec<_>>()
        }));
    }
    let mut chunked: Vec<Vec<NewChunk>> = Vec::with_capacity(documents.len());
    for task in tasks {
        chunked.extend(task.await?);
    }
    let texts: Vec<String> = chunked
        .iter()
        .flatten()
        .map(|chunk| chunk.content.clone())
        .collect();
    let vectors = embedder.embed(&texts).await?;
    let chunk_embed = started.elapsed();

    let rows: Vec<(Uuid, NewDocument)> = documents
        .iter()
        .enumerate()
        .map(|(n, content)| {
            let fields = DocumentFields {
                source: "bench".into(),
                external_id: Some(format!("floor-{n}")),
                kind: "document".into(),
                path: None,
                title: None,
                tags: Vec::new(),
                metadata: json!({}),
            };
            let document = NewDocument {
                owner_id: None,
                fields,
                project_id: None,
                content_hash: memory::ingest::sha256_hex(content),
            };
            (Uuid::now_v7(), document)
        })
        .collect();
    let scratch = ScratchDatabase::create("memory_floor").await?;
    let started = Instant::now();
    for (documents, chunks) in rows
        .chunks(BATCH_DOCUMENTS)
        .zip(chunked.chunks(BATCH_DOCUMENTS))
    {
        let documents: Vec<(Uuid, &NewDocument)> = documents
            .iter()
            .map(|(id, document)| (*id, document))
            .collect();
        let chunk_rows: Vec<(Uuid, &NewChunk)> = documents
            .iter()
            .zip(chunks)
            .flat_map(|((id, _), chunks)| chunks.iter().map(move |chunk| (*id, chunk)))
            .collect();
        let mut tx = scratch.pool.begin().await?;
        db::memory::documents::insert_many(&mut *tx, &documents).await?;
        db::memory::chunks::insert_many(&mut *tx, &chunk_rows, "english", None).await?;
        tx.commit().await?;
    }
    let insert = started.elapsed();
    scratch.drop_now().await?;

    // The service's collection, payload indexes included, under another name.
    let spec = collection_spec("bench_floor_chunks", embedder.as_ref());
    index.ensure_collection(&spec).await?;
    let mut vectors = vectors.into_iter();
    let batches: Vec<Vec<Point>> = rows
        .chunks(BATCH_DOCUMENTS)
        .zip(chunked.chunks(BATCH_DOCUMENTS))
        .map(|(documents, chunks)| {
            documents
                .iter()
                .zip(chunks)
                .flat_map(|((id, _), chunks)| chunks.iter().map(move |chunk| (*id, chunk)))
                .map(|(document_id, chunk)| {
                    let indexable = IndexableChunk {
                        id: chunk.id,
                        document_id,
                        chunk_index: chunk.chunk_index,
                        content: String::new(),
                        owner_id: Some(owner),
                        source: "bench".into(),
                        kind: "document".into(),
                        tags: Vec::new(),
                        created_at: chrono::Utc::now(),
                        project_id: None,
                    };
                    let vector = vectors.next().unwrap_or_default();
                    Point::new(chunk.id, vector, payload(&indexable))
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    for points in batches {
        index.upsert(&spec.name, points).await?;
    }
    let upsert = started.elapsed();
    index.delete_collection(&spec.name).await?;
    Ok(Stages {
        chunks: texts.len(),
        chunk_embed,
        insert,
        upsert,
    })
}
