//! Test harness: one vector index per backend, and deterministic test data.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::{path::Path, process::Command, sync::Arc};

use chrono::{DateTime, Duration, TimeZone, Utc};
use qdrant_edge_server::RunningServer;
use serde_json::json;
use tempfile::TempDir;
use uuid::Uuid;
use vector::{
    CollectionSpec, Distance, EmbeddedConfig, EmbeddedIndex, FieldKind, PayloadField, Point,
    RemoteConfig, RemoteIndex, SearchRequest, VectorIndex,
};

pub const DIM: usize = 8;

/// An index under test plus whatever keeps it alive.
pub struct Harness {
    pub index: Arc<dyn VectorIndex>,
    pub embedded: Option<EmbeddedIndex>,
    pub server: Option<RunningServer>,
    pub dir: Option<TempDir>,
}

pub fn embedded_config(dir: &TempDir) -> EmbeddedConfig {
    let mut config = EmbeddedConfig::new(dir.path());
    // Small engine batches so multi-batch writes happen at test sizes.
    config.write_batch = 64;
    config
}

/// An embedded index opened with `config`, holding the collection `spec(name)`.
pub async fn open_with_collection(config: EmbeddedConfig, name: &str) -> EmbeddedIndex {
    let index = EmbeddedIndex::open(config).await.expect("opens");
    index.ensure_collection(&spec(name)).await.expect("ensure");
    index
}

/// The embedded index in `dir` opened again with the default settings, as the next owner of
/// the directory would.
pub async fn reopen(dir: &Path) -> EmbeddedIndex {
    EmbeddedIndex::open(EmbeddedConfig::new(dir))
        .await
        .expect("reopens")
}

/// Runs the ignored test `child` of this test binary in a child process, with `env_var`
/// naming `dir`, and returns what it printed. The child must die by abort: a stand-in for
/// `kill -9` that runs no destructor.
pub fn run_aborting_child(child: &str, env_var: &str, dir: &TempDir) -> String {
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            child,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(env_var, dir.path())
        .output()
        .expect("child runs");
    assert!(!output.status.success(), "the child must die by abort");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// In a child of [`run_aborting_child`]: the index in the directory `env_var` names, flushing
/// every `flush_interval`, holding the collection `spec(name)`. `None` when the test runs on
/// its own (no directory is named): it then has nothing to do.
pub async fn open_in_child(
    env_var: &str,
    flush_interval: std::time::Duration,
    name: &str,
) -> Option<EmbeddedIndex> {
    let dir = std::env::var(env_var).ok()?;
    let mut config = EmbeddedConfig::new(dir);
    config.flush_interval = flush_interval;
    Some(open_with_collection(config, name).await)
}

impl Harness {
    pub async fn embedded() -> Self {
        let dir = TempDir::new().expect("temp dir");
        let index = EmbeddedIndex::open(embedded_config(&dir))
            .await
            .expect("opens");
        Self {
            index: Arc::new(index.clone()),
            embedded: Some(index),
            server: None,
            dir: Some(dir),
        }
    }

    /// `RemoteIndex` → gRPC → `qdrant-edge-server` (in this process) → embedded engine.
    pub async fn via_test_server() -> Self {
        let dir = TempDir::new().expect("temp dir");
        let embedded = EmbeddedIndex::open(embedded_config(&dir))
            .await
            .expect("opens");
        let server = RunningServer::start(embedded.clone(), None)
            .await
            .expect("serves");
        let mut config = RemoteConfig::new(server.url());
        config.batch_size = 64;
        let remote = RemoteIndex::connect(config).expect("client");
        Self {
            index: Arc::new(remote),
            embedded: Some(embedded),
            server: Some(server),
            dir: Some(dir),
        }
    }

    /// A real Qdrant when `QDRANT_URL` is set; `None` (with a note) otherwise.
    pub fn real_qdrant() -> Option<Self> {
        let Some(url) = std::env::var("QDRANT_URL")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            eprintln!(
                "note: skipped against a real Qdrant; set QDRANT_URL (gRPC, e.g. http://localhost:6334) to run it"
            );
            return None;
        };
        let mut config = RemoteConfig::new(url);
        config.api_key = std::env::var("QDRANT_API_KEY")
            .ok()
            .filter(|key| !key.is_empty())
            .map(Into::into);
        config.batch_size = 64;
        Some(Self {
            index: Arc::new(RemoteIndex::connect(config).expect("client")),
            embedded: None,
            server: None,
            dir: None,
        })
    }

    pub async fn close(self) {
        if let Some(server) = self.server {
            server.stop().await.expect("server stops cleanly");
        }
        drop(self.index);
        if let Some(embedded) = self.embedded {
            embedded.close().await;
        }
    }
}

/// A collection name no other test (or run, against a shared Qdrant) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::new_v4().simple())
}

pub fn spec(name: &str) -> CollectionSpec {
    CollectionSpec {
        name: name.to_owned(),
        embedding_model: "contract-test-model".into(),
        dimension: DIM,
        distance: Distance::Cosine,
        payload_indexes: vec![
            PayloadField::new("document_id", FieldKind::Keyword),
            PayloadField::new("tags", FieldKind::Keyword),
            PayloadField::new("chunk_index", FieldKind::Integer),
            PayloadField::new("created_at", FieldKind::Datetime),
            PayloadField::new("owner", FieldKind::Uuid),
        ],
    }
}

/// A deterministic, non-zero vector for point `i`.
pub fn vector(i: u64) -> Vec<f32> {
    let mut rng = fastrand::Rng::with_seed(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 7);
    (0..DIM).map(|_| rng.f32() * 2.0 - 1.0).collect()
}

pub fn id(i: u64) -> Uuid {
    Uuid::from_u64_pair(0x00de_0000_0000_0d0c, i)
}

pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// Owner `k` of the test points; owner 0 is the nil UUID (how memory marks shared chunks).
pub fn owner(k: u64) -> Uuid {
    if k == 0 {
        Uuid::nil()
    } else {
        Uuid::from_u64_pair(0x00de_0000_0000_0e0e, k)
    }
}

/// Point `i`: document `doc-{i % 5}`, tags `t{i % 3}` and `all`, owner `owner(i % 4)`,
/// created `i` hours after [`base_time`].
pub fn point(i: u64) -> Point {
    let created = base_time() + Duration::hours(i as i64);
    let payload = json!({
        "document_id": format!("doc-{}", i % 5),
        "tags": [format!("t{}", i % 3), "all"],
        "chunk_index": i,
        "created_at": created.to_rfc3339(),
        "owner": owner(i % 4).to_string(),
    });
    Point::new(
        id(i),
        vector(i),
        vector::payload_from_json(payload).expect("object"),
    )
}

pub fn points(range: std::ops::Range<u64>) -> Vec<Point> {
    range.map(point).collect()
}

/// A new collection of `spec` with points `0..n`.
pub async fn ready(index: &dyn VectorIndex, prefix: &str, n: u64) -> String {
    let name = unique(prefix);
    index.ensure_collection(&spec(&name)).await.expect("ensure");
    if n > 0 {
        index.upsert(&name, points(0..n)).await.expect("upsert");
    }
    name
}

/// The `limit` points nearest to point `i`'s vector.
pub fn nearest(i: u64, limit: usize) -> SearchRequest {
    SearchRequest::new(vector(i), limit)
}
