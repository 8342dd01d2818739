//! Text PostgreSQL cannot store (NUL) is refused with 422 `invalid_text` before anything is
//! embedded or stored: the request never reaches the embedder, let alone the database.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use async_trait::async_trait;
use authn::Role;
use axum::http::StatusCode;
use common::TestApp;
use embed::{EmbedError, Embedder};
use serde_json::json;
use sqlx::PgPool;
use testkit::assert_invalid_text;

/// The test's embedder, counting the texts it is asked to embed.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn Embedder>,
    texts: Arc<AtomicUsize>,
}

#[async_trait]
impl Embedder for Counting {
    fn model(&self) -> &str {
        self.inner.model()
    }
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.texts.fetch_add(texts.len(), Ordering::SeqCst);
        self.inner.embed(texts).await
    }
}

/// An app whose embedder counts; returns the counter.
async fn counting_app(pool: PgPool) -> (TestApp, Arc<AtomicUsize>) {
    let mut app = TestApp::new(pool).await;
    let texts = Arc::new(AtomicUsize::new(0));
    app.state.indexer.embedder = Arc::new(Counting {
        inner: app.state.indexer.embedder.clone(),
        texts: texts.clone(),
    });
    app.rebuild();
    (app, texts)
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM memory.{table}"))
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_document_with_nul_is_refused_before_embedding_and_not_stored(pool: PgPool) {
    let (app, embedded) = counting_app(pool).await;
    let alice = app.user(Role::User).await;
    let long_enough = "Ownership moves values between bindings. ".repeat(20);

    for (body, field) in [
        (
            json!({ "source": "notes", "content": format!("{long_enough}\0tail") }),
            "content",
        ),
        (
            json!({ "source": "notes", "content": long_enough, "metadata": { "note": "a\0" } }),
            "metadata.note",
        ),
        (
            json!({ "source": "notes", "content": long_enough, "metadata": { "k\0": 1 } }),
            "a key in metadata",
        ),
        (
            json!({ "source": "notes", "content": long_enough, "title": "T\0" }),
            "title",
        ),
        (
            json!({ "source": "notes", "content": long_enough, "tags": ["rust", "\0"] }),
            "tags[1]",
        ),
    ] {
        assert_invalid_text(&app.ingest(&alice, body).await, field);
    }

    assert_eq!(embedded.load(Ordering::SeqCst), 0, "nothing was embedded");
    assert_eq!(count(&app, "documents").await, 0);
    assert_eq!(count(&app, "chunks").await, 0);
    assert_eq!(app.vectors().await, 0);

    // The counter does count: the same document without NUL is embedded and stored, and a
    // backslash followed by `u0000` is text.
    let stored = app
        .ingest(
            &alice,
            json!({ "source": "notes", "content": format!(r"{long_enough} C:\u0000") }),
        )
        .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
    assert!(embedded.load(Ordering::SeqCst) > 0);
    assert_eq!(count(&app, "documents").await, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn searches_and_filters_with_nul_are_refused(pool: PgPool) {
    let (app, embedded) = counting_app(pool).await;
    let alice = app.user(Role::User).await;

    let searched = app.search(&alice, json!({ "query": "own\0ership" })).await;
    assert_invalid_text(&searched, "query");
    assert_eq!(
        embedded.load(Ordering::SeqCst),
        0,
        "the query was not embedded"
    );

    let listed = app
        .get_as("/api/memory/documents?source=notes%00", &alice)
        .await;
    assert_invalid_text(&listed, "query parameter `source`");
}
