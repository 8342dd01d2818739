//! What the import puts in place of the configured embedder (and, for a dry run, index).
//!
//! - [`Remembering`] keeps the vectors of one batch: giving a new document its legacy time
//!   or point id changes what its chunks' vectors carry, so they are stored again, and the
//!   model is not asked twice for the same text.
//! - [`Declining`] refuses every text as an item's own fault (`EmbedError::InvalidInput`).
//!   Batch ingestion checks, compares with what is stored and chunks every item before it
//!   embeds; an item whose text is refused is answered with that error and nothing of it is
//!   written. So a dry run goes through the very checks of a real import, without asking
//!   the model or writing a row.
//! - [`NotOpened`] is the index of a dry run, which never reaches it: a dry run may run
//!   beside the service, even on the embedded index.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;
use embed::{EmbedError, Embedder};
use uuid::Uuid;
use vector::{
    CollectionInfo, CollectionParams, PayloadField, Point, ScoredPoint, ScrollPage, ScrollRequest,
    SearchRequest, VectorError, VectorIndex,
};

/// The message a dry run's items are refused with.
pub const DRY_RUN: &str = "dry run: the embedding model is not asked";

/// The configured embedder, remembering its vectors until [`Remembering::forget`].
#[derive(Debug)]
pub struct Remembering {
    inner: Arc<dyn Embedder>,
    vectors: Mutex<HashMap<String, Vec<f32>>>,
}

impl Remembering {
    pub fn new(inner: Arc<dyn Embedder>) -> Self {
        Self {
            inner,
            vectors: Mutex::new(HashMap::new()),
        }
    }

    /// Drops what it remembers (after each batch: memory stays bounded).
    pub fn forget(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<f32>>> {
        // Only inserts and reads under the lock: a panic cannot leave it half-changed.
        self.vectors.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Embedder for Remembering {
    fn model(&self) -> &str {
        self.inner.model()
    }

    fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let missing: Vec<String> = {
            let known = self.lock();
            let mut seen = HashSet::new();
            texts
                .iter()
                .filter(|text| !known.contains_key(*text) && seen.insert(*text))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            let vectors = self.inner.embed(&missing).await?;
            if vectors.len() != missing.len() {
                return Err(EmbedError::InvalidResponse(format!(
                    "{} vectors for {} texts",
                    vectors.len(),
                    missing.len()
                )));
            }
            self.lock().extend(missing.into_iter().zip(vectors));
        }
        let known = self.lock();
        texts
            .iter()
            .map(|text| {
                known.get(text).cloned().ok_or_else(|| {
                    EmbedError::InvalidResponse("a vector was forgotten while in use".into())
                })
            })
            .collect()
    }
}

/// Refuses every text: the embedder of a dry run.
#[derive(Debug)]
pub struct Declining {
    model: String,
    dimension: usize,
}

impl Declining {
    /// Stands in for `configured` (same model name and dimension).
    pub fn like(configured: &dyn Embedder) -> Self {
        Self {
            model: configured.model().to_owned(),
            dimension: configured.dimension(),
        }
    }
}

#[async_trait]
impl Embedder for Declining {
    fn model(&self) -> &str {
        &self.model
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed(&self, _texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Err(EmbedError::InvalidInput(DRY_RUN.into()))
    }
}

/// The index of a dry run: every call fails, and none is made.
#[derive(Debug)]
pub struct NotOpened;

fn not_opened<T>() -> Result<T, VectorError> {
    Err(VectorError::Unavailable(
        "the vector index is not opened for a dry run".into(),
    ))
}

#[async_trait]
impl VectorIndex for NotOpened {
    fn backend(&self) -> &'static str {
        "none (dry run)"
    }

    async fn health(&self) -> Result<(), VectorError> {
        not_opened()
    }

    async fn collection_info(&self, _: &str) -> Result<Option<CollectionInfo>, VectorError> {
        not_opened()
    }

    async fn create_collection(&self, _: &str, _: &CollectionParams) -> Result<(), VectorError> {
        not_opened()
    }

    async fn create_payload_index(&self, _: &str, _: &PayloadField) -> Result<(), VectorError> {
        not_opened()
    }

    async fn delete_collection(&self, _: &str) -> Result<bool, VectorError> {
        not_opened()
    }

    async fn upsert(&self, _: &str, _: Vec<Point>) -> Result<(), VectorError> {
        not_opened()
    }

    async fn delete_points(&self, _: &str, _: &[Uuid]) -> Result<(), VectorError> {
        not_opened()
    }

    async fn delete_by_filter(&self, _: &str, _: &vector::Filter) -> Result<(), VectorError> {
        not_opened()
    }

    async fn search(&self, _: &str, _: &SearchRequest) -> Result<Vec<ScoredPoint>, VectorError> {
        not_opened()
    }

    async fn count(&self, _: &str, _: Option<&vector::Filter>) -> Result<u64, VectorError> {
        not_opened()
    }

    async fn scroll_ids(&self, _: &str, _: &ScrollRequest) -> Result<ScrollPage, VectorError> {
        not_opened()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    #[async_trait]
    impl Embedder for Counting {
        fn model(&self) -> &str {
            "counting"
        }
        fn dimension(&self) -> usize {
            1
        }
        async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.0.fetch_add(texts.len(), Ordering::Relaxed);
            Ok(texts.iter().map(|text| vec![text.len() as f32]).collect())
        }
    }

    #[tokio::test]
    async fn a_remembered_text_is_not_embedded_again() {
        let counting = Arc::new(Counting::default());
        let remembering = Remembering::new(counting.clone());
        let texts = |list: &[&str]| list.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
        let first = remembering.embed(&texts(&["a", "bb", "a"])).await.unwrap();
        assert_eq!(first, [vec![1.0], vec![2.0], vec![1.0]]);
        assert_eq!(counting.0.load(Ordering::Relaxed), 2, "each text once");
        remembering.embed(&texts(&["bb", "ccc"])).await.unwrap();
        assert_eq!(counting.0.load(Ordering::Relaxed), 3);
        remembering.forget();
        remembering.embed(&texts(&["bb"])).await.unwrap();
        assert_eq!(counting.0.load(Ordering::Relaxed), 4);
    }
}
