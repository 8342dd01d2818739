//! A test instance of the memory API over a fresh database: the real embedded vector
//! engine in a temporary directory, the offline hashing embedder, and tokens signed by a
//! throwaway key. Called in-process.

#![allow(dead_code)]

pub mod flaky;

use std::sync::Arc;

use authn::{Audience, Role, SigningKey, TokenIssuer, TokenVerifier};
use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use memory::{AppState, config::Settings};
use serde_json::Value;
use sqlx::PgPool;
use tempfile::TempDir;
use tower::ServiceExt;
use uuid::Uuid;
use vector::{BackendKind, VectorConfig};

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub pool: PgPool,
    pub issuer: TokenIssuer,
    /// Keeps the embedded index's files alive for the test.
    pub dir: Arc<TempDir>,
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

pub fn keys() -> (TokenIssuer, TokenVerifier) {
    let key = SigningKey::generate().expect("key");
    let audience = Audience {
        issuer: "devmentor-auth".into(),
        audience: "devmentor".into(),
    };
    let verifier = TokenVerifier::new([key.public_key().clone()], &audience);
    let issuer = TokenIssuer::new(key, audience, std::time::Duration::from_secs(900));
    (issuer, verifier)
}

impl TestApp {
    pub async fn new(pool: PgPool) -> Self {
        let dir = TempDir::new().expect("temp dir");
        let settings = settings(&dir, 128);
        Self::with_settings(pool, settings, Arc::new(dir)).await
    }

    pub async fn with_settings(pool: PgPool, settings: Settings, dir: Arc<TempDir>) -> Self {
        let (issuer, verifier) = keys();
        let state = AppState::open(pool.clone(), &settings, verifier, Default::default())
            .await
            .expect("memory state opens");
        Self::from_state(state, issuer, dir)
    }

    pub fn from_state(state: AppState, issuer: TokenIssuer, dir: Arc<TempDir>) -> Self {
        let router = memory::app(state.clone());
        Self {
            pool: state.pool.clone(),
            state,
            router,
            issuer,
            dir,
        }
    }

    /// Rebuilds the router after a test swapped a part of the state.
    pub fn rebuild(&mut self) {
        self.router = memory::app(self.state.clone());
    }

    /// A new account with `role`, and an access token for it.
    pub async fn user(&self, role: Role) -> User {
        let name = format!("u{}", &Uuid::new_v4().simple().to_string()[..12]);
        let id: Uuid = sqlx::query_scalar(
            "INSERT INTO auth.users (email, username, full_name, password_hash, role)
             VALUES ($1, $2, 'Test User', 'x', $3) RETURNING id",
        )
        .bind(format!("{name}@example.com"))
        .bind(&name)
        .bind(role.as_str())
        .fetch_one(&self.pool)
        .await
        .expect("insert user");
        let session = testkit::open_session(&self.pool, id).await;
        let token = self.issuer.issue(id, session, role).expect("token").token;
        User { id, token }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("response");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    pub async fn ingest(&self, user: &User, body: Value) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/memory/documents",
            Some(&user.token),
            Some(body),
        )
        .await
    }

    pub async fn search(&self, user: &User, body: Value) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/memory/search",
            Some(&user.token),
            Some(body),
        )
        .await
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

pub struct User {
    pub id: Uuid,
    pub token: String,
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
