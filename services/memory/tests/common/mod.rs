//! The memory service on the testkit harness: `memory::app()` over a fresh database, the
//! real embedded vector engine in a temporary directory, the offline hashing embedder, and
//! tokens signed by a throwaway key.

#![allow(dead_code)]

pub mod flaky;

use std::{ops::Deref, sync::Arc};

use authn::Role;
use memory::{AppState, config::Settings};
use serde_json::Value;
use sqlx::PgPool;
use tempfile::TempDir;
use testkit::{AppClient, Reply, Tokens, User};
use uuid::Uuid;
use vector::{BackendKind, VectorConfig};

pub struct TestApp {
    client: AppClient,
    /// The app's state; after changing a part of it, [`TestApp::rebuild`] the app.
    pub state: AppState,
    pub pool: PgPool,
    pub tokens: Tokens,
    /// Keeps the embedded index's files alive for the test.
    pub dir: Arc<TempDir>,
}

/// Requests go straight to the client: `app.get_as(path, &alice)`.
impl Deref for TestApp {
    type Target = AppClient;

    fn deref(&self) -> &AppClient {
        &self.client
    }
}

/// Settings for the embedded index under `dir` and the hashing embedder of `dimension`.
pub fn settings(dir: &TempDir, dimension: usize) -> Settings {
    Settings {
        vector: VectorConfig {
            vector_backend: Some(BackendKind::Embedded),
            vector_data_dir: Some(dir.path().to_path_buf()),
            ..VectorConfig::default()
        },
        embedding: embed::EmbeddingConfig {
            embedding_dim: Some(dimension),
            ..Default::default()
        },
        memory: memory::config::MemoryConfig {
            memory_chunk_size: 300,
            memory_chunk_overlap: 30,
            ..Default::default()
        },
    }
}

/// [`settings`] with an OpenAI-compatible embedding provider at `url` (8 dimensions) that
/// is asked once, for two seconds at most: for tests of a failing provider.
pub fn settings_with_provider(dir: &TempDir, url: &str) -> Settings {
    let mut settings = settings(dir, 8);
    settings.embedding = embed::EmbeddingConfig {
        embedding_provider: Some(embed::Provider::Openai),
        embedding_model: Some("text-embedding-test".into()),
        embedding_url: Some(url.to_owned()),
        embedding_dim: Some(8),
        embedding_max_retries: Some(0),
        embedding_timeout_secs: Some(2),
        ..Default::default()
    };
    settings
}

impl TestApp {
    pub async fn new(pool: PgPool) -> Self {
        let dir = TempDir::new().expect("temp dir");
        let settings = settings(&dir, 128);
        Self::with_settings(pool, settings, Arc::new(dir)).await
    }

    pub async fn with_settings(pool: PgPool, settings: Settings, dir: Arc<TempDir>) -> Self {
        let tokens = Tokens::new();
        let state = AppState::open(
            pool.clone(),
            &settings,
            tokens.verifier(),
            Default::default(),
        )
        .await
        .expect("memory state opens");
        Self {
            client: AppClient::new(memory::app(state.clone())),
            pool,
            state,
            tokens,
            dir,
        }
    }

    /// Rebuilds the app after a test swapped a part of the state.
    pub fn rebuild(&mut self) {
        self.client = AppClient::new(memory::app(self.state.clone()));
    }

    /// A new account with `role` and a unique name, and an access token for it.
    pub async fn user(&self, role: Role) -> User {
        let name = format!("u{}", &Uuid::new_v4().simple().to_string()[..12]);
        testkit::create_user(&self.pool, &self.tokens, &name, role).await
    }

    pub async fn ingest(&self, user: &User, body: Value) -> Reply {
        self.post_as("/api/memory/documents", body, user).await
    }

    pub async fn search(&self, user: &User, body: Value) -> Reply {
        self.post_as("/api/memory/search", body, user).await
    }

    /// Vectors in the collection, counted by the index itself.
    pub async fn vectors(&self) -> u64 {
        let indexer = &self.state.indexer;
        indexer
            .index
            .count(&indexer.collection, None)
            .await
            .expect("count")
    }
}

/// The scores of a search answer, in order, checked to never rise.
pub fn descending_scores(answer: &Value) -> Vec<f64> {
    let scores: Vec<f64> = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|hit| hit["score"].as_f64().expect("score"))
        .collect();
    assert!(
        scores.windows(2).all(|pair| pair[0] >= pair[1]),
        "{scores:?}"
    );
    scores
}

/// The document ids of a search answer, in order.
pub fn hit_documents(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|hit| hit["document"]["id"].as_str().expect("id").to_owned())
        .collect()
}
