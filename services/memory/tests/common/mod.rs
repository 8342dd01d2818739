//! The memory service on the testkit harness: `memory::app()` over a fresh database, the
//! real embedded vector engine in a temporary directory, the offline hashing embedder, and
//! tokens signed by a throwaway key.

#![allow(dead_code)]

pub mod flaky;
pub mod gate;
pub mod process;
pub mod qdrant;

use std::{ops::Deref, sync::Arc, time::Duration};

use authn::Role;
use memory::{AppState, config::Settings};
use platform::config::CommonConfig;
use serde_json::Value;
use sqlx::PgPool;
use tempfile::TempDir;
use testkit::{AppClient, Reply, Tokens, User};
use tokio::task::JoinHandle;
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

    /// Rebuilds the state around its (maybe swapped) indexer, configuration and settings,
    /// then the app: the parts built from them (the document writer among them) follow.
    pub fn rebuild(&mut self) {
        let state = &self.state;
        self.state = AppState::with_indexer(
            state.indexer.clone(),
            &state.config,
            state.verifier.clone(),
            CommonConfig::clone(&state.common),
        )
        .expect("memory state rebuilds");
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

    /// The single number a `SELECT count(*) ...` answers.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    /// Documents stored, of every owner.
    pub async fn documents(&self) -> i64 {
        self.count("SELECT count(*) FROM memory.documents").await
    }

    /// Asserts that the index holds as many vectors as PostgreSQL holds chunks: every chunk
    /// indexed, and no vector left behind by a replaced or lost copy.
    pub async fn assert_a_vector_per_chunk(&self) {
        let chunks = self.count("SELECT count(*) FROM memory.chunks").await;
        assert_eq!(
            self.vectors().await,
            chunks as u64,
            "vectors in the index, chunks in PostgreSQL"
        );
    }

    /// Sends `body` to `path` as `user` on a task of its own, as one of many concurrent
    /// clients would; [`replies`] collects the answers.
    pub fn spawn_post(&self, path: &str, body: Value, user: &User) -> JoinHandle<Reply> {
        let (client, path, user) = (self.client.clone(), path.to_owned(), user.clone());
        tokio::spawn(async move { client.post_as(&path, body, &user).await })
    }

    /// Runs the background indexer (as the service does) until the handle is aborted.
    pub fn spawn_indexer(&self, interval: Duration) -> JoinHandle<()> {
        let indexer = self.state.indexer.clone();
        tokio::spawn(indexer.run(self.state.indexer_wakeup.clone(), interval))
    }
}

/// The replies of requests sent with [`TestApp::spawn_post`], in the order they were sent.
pub async fn replies(requests: Vec<JoinHandle<Reply>>) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(requests.len());
    for request in requests {
        replies.push(request.await.expect("request task"));
    }
    replies
}

/// Polls PostgreSQL until no chunk waits for its vector: the indexer has caught up.
pub async fn wait_until_indexed(pool: &PgPool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM memory.chunks WHERE qdrant_point_id IS NULL")
                .fetch_one(pool)
                .await
                .expect("count pending");
        if pending == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the indexer never caught up ({pending} chunks pending)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Eight Rust topics, words to build texts of their own from.
pub const TOPICS: [&str; 8] = [
    "ownership",
    "borrowing",
    "lifetimes",
    "traits",
    "closures",
    "iterators",
    "channels",
    "futures",
];

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

/// A project `id` owned by `owner`, for documents to be filed under.
pub async fn project(pool: &PgPool, id: Uuid, owner: &User) {
    let slug = format!("p{}", &id.simple().to_string()[20..]);
    let project = db::projects::NewProject {
        id: db::ids::ProjectId(id),
        owner_id: db::ids::UserId(owner.id),
        name: "A project",
        slug: &slug,
        description: "",
    };
    db::projects::project::insert(pool, &project)
        .await
        .expect("insert project");
}
