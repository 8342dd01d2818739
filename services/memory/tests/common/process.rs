//! The memory binary run as its own process, for tests that kill it and start it again.

use std::collections::BTreeSet;

use sqlx::PgPool;
use testkit::{ServiceProcess, SigningKeyFile};
use uuid::Uuid;
use vector::{ScrollRequest, VectorIndex};

const BINARY: &str = env!("CARGO_BIN_EXE_memory");

/// The service's settings for these tests: its token key, a collection of its own, chunks of
/// 120 characters (several per document), an indexer that looks every second, and `more`
/// (the vector index, above all).
pub fn service_env(
    key: &SigningKeyFile,
    collection: &str,
    more: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("JWT_PRIVATE_KEY_FILE", key.path().to_owned()),
        ("EMBEDDING_DIM", "32".to_owned()),
        ("MEMORY_COLLECTION", collection.to_owned()),
        ("MEMORY_CHUNK_SIZE", "120".to_owned()),
        ("MEMORY_CHUNK_OVERLAP", "0".to_owned()),
        ("MEMORY_INDEXER_INTERVAL_SECS", "1".to_owned()),
    ];
    env.extend(more.iter().cloned());
    env
}

/// Starts the binary on `pool`'s database with `env` and waits until it is live.
pub async fn start(pool: &PgPool, env: &[(&'static str, String)]) -> ServiceProcess {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut service = testkit::spawn_service(BINARY, "MEMORY_", pool, &env);
    let live = format!("{}/health/live", service.base_url);
    testkit::wait_until_ok(&live, &mut service.child).await;
    service
}

/// Every point id in `collection`, page by page.
pub async fn vector_ids(index: &dyn VectorIndex, collection: &str) -> BTreeSet<Uuid> {
    let mut ids = BTreeSet::new();
    let mut offset = None;
    loop {
        let page = index
            .scroll_ids(
                collection,
                &ScrollRequest {
                    filter: None,
                    offset,
                    limit: 1_000,
                },
            )
            .await
            .expect("scroll");
        ids.extend(page.ids);
        match page.next_offset {
            Some(next) => offset = Some(next),
            None => return ids,
        }
    }
}
