//! The fixtures, the import run through the library as the CLI runs it, and what PostgreSQL
//! and the index hold afterwards.

use std::{
    collections::{BTreeSet, HashMap},
    path::PathBuf,
};

use indicatif::ProgressBar;
use memory::legacy::{self, Options, Owner, Summary};
use sqlx::PgPool;
use uuid::Uuid;
use vector::ScrollRequest;

use crate::common::TestApp;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/legacy")
        .join(name)
}

/// Imports a fixture file through the library, as the CLI does.
pub async fn import_file(app: &TestApp, name: &str, owner: &Owner, dry_run: bool) -> Summary {
    let file = legacy::json::read(&fixture(name)).expect("fixture reads");
    import(app, file.records, owner, dry_run).await
}

pub async fn import(
    app: &TestApp,
    records: Vec<legacy::RawRecord>,
    owner: &Owner,
    dry_run: bool,
) -> Summary {
    let options = Options {
        owner: owner.clone(),
        dry_run,
    };
    legacy::import(&app.state, records, &options, &ProgressBar::hidden()).await
}

pub fn account(id: Uuid) -> Owner {
    Owner::Account {
        id,
        email: "owner@example.com".into(),
    }
}

/// An imported document as PostgreSQL holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Imported {
    pub id: Uuid,
    pub owner_id: Option<Uuid>,
    pub external_id: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub path: Option<String>,
    pub tags: Vec<String>,
    pub metadata: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The legacy documents, by external id.
pub async fn imported(pool: &PgPool) -> HashMap<String, Imported> {
    sqlx::query_as::<_, Imported>(
        "SELECT id, owner_id, external_id, type, path, tags, metadata, created_at
         FROM memory.documents WHERE source = 'legacy'",
    )
    .fetch_all(pool)
    .await
    .expect("read documents")
    .into_iter()
    .map(|document| (document.external_id.clone(), document))
    .collect()
}

/// Every chunk: (id, qdrant_point_id, document id, chunk_index, content).
pub async fn chunks(pool: &PgPool) -> Vec<(Uuid, Option<Uuid>, Uuid, i32, String)> {
    sqlx::query_as(
        "SELECT id, qdrant_point_id, document_id, chunk_index, content FROM memory.chunks
         ORDER BY document_id, chunk_index",
    )
    .fetch_all(pool)
    .await
    .expect("read chunks")
}

/// The point ids in the app's collection.
pub async fn vector_ids(app: &TestApp) -> BTreeSet<Uuid> {
    let indexer = &app.state.indexer;
    let request = ScrollRequest {
        filter: None,
        offset: None,
        limit: 10_000,
    };
    let page = indexer
        .index
        .scroll_ids(&indexer.collection, &request)
        .await
        .expect("scroll");
    page.ids.into_iter().collect()
}

/// Asserts the index holds exactly one vector per chunk, every chunk marked indexed.
pub async fn assert_index_matches_chunks(app: &TestApp) {
    let chunks = chunks(&app.pool).await;
    let ids: BTreeSet<Uuid> = chunks.iter().map(|chunk| chunk.0).collect();
    assert_eq!(
        vector_ids(app).await,
        ids,
        "one vector per chunk, by chunk id"
    );
    for (id, point, ..) in &chunks {
        assert_eq!(*point, Some(*id), "chunk {id} is marked indexed");
    }
}

/// The UUID id of a record in `mixed.json` (written there in upper case).
pub const CRAB_ID: &str = "5f0c8a4e-1b2c-4d3e-8f90-a1b2c3d4e5f6";

pub fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    text.parse().expect("a time")
}
