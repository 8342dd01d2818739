//! The real vector index, and the real embedder, each with a switch that makes calls fail as
//! if the server were down: for proving that an unavailable index never loses an ingested
//! document, and that searches degrade rather than fail.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_trait::async_trait;
use embed::{EmbedError, Embedder};
use sqlx::PgPool;
use uuid::Uuid;
use vector::{
    CollectionInfo, CollectionParams, Filter, PayloadField, Point, ScoredPoint, ScrollPage,
    ScrollRequest, SearchRequest, VectorError, VectorIndex,
};

use super::TestApp;

/// An app whose vector index is the real one behind a [`FlakyIndex`], up for now.
pub async fn app_with_flaky_index(pool: PgPool) -> (TestApp, Arc<FlakyIndex>) {
    let mut app = TestApp::new(pool).await;
    let flaky = FlakyIndex::wrap(app.state.indexer.index.clone());
    app.state.indexer.index = flaky.clone();
    app.rebuild();
    (app, flaky)
}

/// An app whose embedder is the real one behind a [`FlakyEmbedder`], up for now.
pub async fn app_with_flaky_embedder(pool: PgPool) -> (TestApp, Arc<FlakyEmbedder>) {
    let mut app = TestApp::new(pool).await;
    let flaky = FlakyEmbedder::wrap(app.state.indexer.embedder.clone());
    app.state.indexer.embedder = flaky.clone();
    app.rebuild();
    (app, flaky)
}

/// Embeds with `inner` unless switched down; then every call fails as an unreachable
/// provider does.
#[derive(Debug)]
pub struct FlakyEmbedder {
    pub inner: Arc<dyn Embedder>,
    pub down: AtomicBool,
}

impl FlakyEmbedder {
    pub fn wrap(inner: Arc<dyn Embedder>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            down: AtomicBool::new(false),
        })
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

#[async_trait]
impl Embedder for FlakyEmbedder {
    fn model(&self) -> &str {
        self.inner.model()
    }
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(EmbedError::Unavailable("connection refused (test)".into()));
        }
        self.inner.embed(texts).await
    }
}

#[derive(Debug)]
pub struct FlakyIndex {
    pub inner: Arc<dyn VectorIndex>,
    pub down: AtomicBool,
}

impl FlakyIndex {
    pub fn wrap(inner: Arc<dyn VectorIndex>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            down: AtomicBool::new(false),
        })
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), VectorError> {
        if self.down.load(Ordering::SeqCst) {
            Err(VectorError::Unavailable("connection refused (test)".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl VectorIndex for FlakyIndex {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn health(&self) -> Result<(), VectorError> {
        self.check()?;
        self.inner.health().await
    }
    async fn collection_info(&self, name: &str) -> Result<Option<CollectionInfo>, VectorError> {
        self.inner.collection_info(name).await
    }
    async fn create_collection(
        &self,
        name: &str,
        params: &CollectionParams,
    ) -> Result<(), VectorError> {
        self.inner.create_collection(name, params).await
    }
    async fn create_payload_index(
        &self,
        collection: &str,
        field: &PayloadField,
    ) -> Result<(), VectorError> {
        self.inner.create_payload_index(collection, field).await
    }
    async fn delete_collection(&self, name: &str) -> Result<bool, VectorError> {
        self.inner.delete_collection(name).await
    }
    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<(), VectorError> {
        self.check()?;
        self.inner.upsert(collection, points).await
    }
    async fn delete_points(&self, collection: &str, ids: &[Uuid]) -> Result<(), VectorError> {
        self.check()?;
        self.inner.delete_points(collection, ids).await
    }
    async fn delete_by_filter(&self, collection: &str, filter: &Filter) -> Result<(), VectorError> {
        self.check()?;
        self.inner.delete_by_filter(collection, filter).await
    }
    async fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
    ) -> Result<Vec<ScoredPoint>, VectorError> {
        self.check()?;
        self.inner.search(collection, request).await
    }
    async fn count(&self, collection: &str, filter: Option<&Filter>) -> Result<u64, VectorError> {
        self.inner.count(collection, filter).await
    }
    async fn scroll_ids(
        &self,
        collection: &str,
        request: &ScrollRequest,
    ) -> Result<ScrollPage, VectorError> {
        self.inner.scroll_ids(collection, request).await
    }
}
