//! The contract every backend keeps, run three ways: embedded, remote via the in-process
//! `qdrant-edge-server`, and remote against a real Qdrant when `QDRANT_URL` is set.

#[path = "../common/mod.rs"]
mod common;
mod refusals;

use std::collections::HashSet;

use chrono::Duration;
use common::{DIM, base_time, id, nearest, owner, point, ready, spec, unique, vector};
use serde_json::json;
use vector::{
    Condition, DatetimeRange, Filter, NumberRange, ScrollRequest, VectorError, VectorIndex,
    guard::REINDEX_COMMAND,
};

use refusals::{
    bad_input_is_refused_with_a_clear_error, delete_collection_removes_points_and_name,
    unknown_collections_are_reported_everywhere,
};

/// Runs each scenario once per backend.
macro_rules! contract {
    ($($scenario:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let harness = crate::common::Harness::embedded().await;
                super::$scenario(harness.index.as_ref()).await;
                harness.close().await;
            })*
        }
        mod via_test_server {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let harness = crate::common::Harness::via_test_server().await;
                super::$scenario(harness.index.as_ref()).await;
                harness.close().await;
            })*
        }
        mod real_qdrant {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some(harness) = crate::common::Harness::real_qdrant() {
                    super::$scenario(harness.index.as_ref()).await;
                    harness.close().await;
                }
            })*
        }
    };
}

contract!(
    health_is_ok,
    ensure_collection_creates_once_and_records_the_model,
    ensure_collection_refuses_another_model_or_dimension,
    search_returns_nearest_first_with_payload,
    upsert_replaces_points_with_the_same_id,
    filters_match_keywords_integers_and_time_ranges,
    uuid_fields_match_as_uuids,
    score_threshold_drops_weak_hits,
    delete_by_ids_and_by_filter,
    scroll_pages_through_every_id_once,
    bad_input_is_refused_with_a_clear_error,
    unknown_collections_are_reported_everywhere,
    delete_collection_removes_points_and_name,
);

async fn health_is_ok(index: &dyn VectorIndex) {
    index.health().await.expect("healthy");
}

async fn ensure_collection_creates_once_and_records_the_model(index: &dyn VectorIndex) {
    let name = unique("ensure");
    let spec = spec(&name);
    assert!(index.collection_info(&name).await.expect("info").is_none());
    index.ensure_collection(&spec).await.expect("creates");
    index
        .ensure_collection(&spec)
        .await
        .expect("second start is fine");
    let info = index
        .collection_info(&name)
        .await
        .expect("info")
        .expect("exists");
    assert_eq!(info.params.dimension, DIM);
    assert_eq!(info.params.distance, spec.distance);
    assert_eq!(
        info.params.metadata["embedding_model"],
        json!("contract-test-model")
    );
    assert_eq!(info.params.metadata["embedding_dimension"], json!(DIM));
    index.delete_collection(&name).await.expect("cleanup");
}

async fn ensure_collection_refuses_another_model_or_dimension(index: &dyn VectorIndex) {
    let name = ready(index, "guard", 10).await;
    let mut other_model = spec(&name);
    other_model.embedding_model = "another-model".into();
    let error = index
        .ensure_collection(&other_model)
        .await
        .expect_err("model changed");
    let message = error.to_string();
    assert!(
        matches!(error, VectorError::EmbeddingMismatch(_)),
        "{error:?}"
    );
    assert!(
        message.contains("contract-test-model") && message.contains("another-model"),
        "{message}"
    );
    assert!(message.contains(REINDEX_COMMAND), "{message}");

    let mut other_dimension = spec(&name);
    other_dimension.dimension = DIM * 2;
    let error = index
        .ensure_collection(&other_dimension)
        .await
        .expect_err("dimension changed");
    assert!(
        matches!(error, VectorError::EmbeddingMismatch(_)),
        "{error:?}"
    );
    assert_eq!(
        index.count(&name, None).await.expect("count"),
        10,
        "nothing was touched"
    );
    index.delete_collection(&name).await.expect("cleanup");
}

async fn search_returns_nearest_first_with_payload(index: &dyn VectorIndex) {
    let name = ready(index, "search", 200).await;
    let hits = index.search(&name, &nearest(42, 5)).await.expect("search");
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[0].id, id(42), "a point is its own nearest neighbour");
    assert!(
        (hits[0].score - 1.0).abs() < 1e-4,
        "cosine of a vector with itself: {}",
        hits[0].score
    );
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
    let payload = hits[0].payload.as_ref().expect("payload requested");
    assert_eq!(payload["chunk_index"], json!(42));
    assert_eq!(payload["document_id"], json!("doc-2"));

    let mut without = nearest(42, 3);
    without.with_payload = false;
    let hits = index.search(&name, &without).await.expect("search");
    assert!(hits.iter().all(|hit| hit.payload.is_none()));
    index.delete_collection(&name).await.expect("cleanup");
}

async fn upsert_replaces_points_with_the_same_id(index: &dyn VectorIndex) {
    let name = ready(index, "replace", 50).await;
    let mut changed = point(7);
    changed.vector = vector(1000);
    changed
        .payload
        .insert("document_id".into(), json!("doc-new"));
    index.upsert(&name, vec![changed]).await.expect("upsert");
    assert_eq!(index.count(&name, None).await.expect("count"), 50);
    let hits = index
        .search(&name, &nearest(1000, 1))
        .await
        .expect("search");
    assert_eq!(hits[0].id, id(7));
    assert_eq!(
        hits[0].payload.as_ref().expect("payload")["document_id"],
        json!("doc-new")
    );
    index.delete_collection(&name).await.expect("cleanup");
}

async fn filters_match_keywords_integers_and_time_ranges(index: &dyn VectorIndex) {
    let name = ready(index, "filters", 300).await;
    let count = |filter: Filter| {
        let name = name.clone();
        async move { index.count(&name, Some(&filter)).await.expect("count") }
    };
    assert_eq!(
        count(Filter::must(Condition::keyword("document_id", "doc-1"))).await,
        60
    );
    assert_eq!(
        count(Filter::must(Condition::keyword_any(
            "document_id",
            ["doc-1", "doc-2"]
        )))
        .await,
        120
    );
    // `tags` is an array: a match means "contains".
    assert_eq!(
        count(Filter::must(Condition::keyword("tags", "t0"))).await,
        100
    );
    assert_eq!(
        count(Filter::must(Condition::integer_any(
            "chunk_index",
            [3, 5, 999]
        )))
        .await,
        2
    );
    let hours = |h: i64| base_time() + Duration::hours(h);
    let window = DatetimeRange::between(hours(10), hours(20));
    assert_eq!(
        count(Filter::must(Condition::datetime("created_at", window))).await,
        10
    );
    let range = NumberRange {
        gte: Some(100.0),
        lt: Some(150.0),
        ..NumberRange::default()
    };
    let both = Filter::must(Condition::range("chunk_index", range))
        .and_not(Condition::keyword("document_id", "doc-0"));
    assert_eq!(count(both.clone()).await, 40);

    let mut request = nearest(120, 100);
    request.filter = Some(both);
    let hits = index
        .search(&name, &request)
        .await
        .expect("filtered search");
    assert_eq!(hits.len(), 40);
    for hit in &hits {
        let payload = hit.payload.as_ref().expect("payload");
        let chunk = payload["chunk_index"].as_u64().expect("number");
        assert!((100..150).contains(&chunk) && chunk % 5 != 0, "{payload:?}");
    }
    index.delete_collection(&name).await.expect("cleanup");
}

async fn uuid_fields_match_as_uuids(index: &dyn VectorIndex) {
    let name = ready(index, "uuids", 300).await;
    let mine_and_shared = [owner(1).to_string(), owner(0).to_string()];
    let filter = Filter::must(Condition::keyword_any("owner", mine_and_shared));
    assert_eq!(index.count(&name, Some(&filter)).await.expect("count"), 150);
    // Upper case is the same UUID.
    let upper = Filter::must(Condition::keyword(
        "owner",
        owner(2).to_string().to_uppercase(),
    ));
    assert_eq!(index.count(&name, Some(&upper)).await.expect("count"), 75);

    // A search checks the filter point by point: only owners 1 and 0 come back.
    let mut request = nearest(5, 300);
    request.filter = Some(filter);
    let hits = index.search(&name, &request).await.expect("search");
    assert_eq!(hits.len(), 150);
    let allowed = [owner(1).to_string(), owner(0).to_string()];
    for hit in &hits {
        let payload = hit.payload.as_ref().expect("payload");
        let found = payload["owner"].as_str().expect("string");
        assert!(allowed.iter().any(|owner| owner == found), "{found}");
    }
    index.delete_collection(&name).await.expect("cleanup");
}

async fn score_threshold_drops_weak_hits(index: &dyn VectorIndex) {
    let name = ready(index, "threshold", 100).await;
    let all = index.search(&name, &nearest(3, 100)).await.expect("search");
    // Between the 11th and 12th score, so no hit sits on the boundary.
    let cut = (all[10].score + all[11].score) / 2.0;
    let mut request = nearest(3, 100);
    request.score_threshold = Some(cut);
    let strong = index.search(&name, &request).await.expect("search");
    let ids = |hits: &[vector::ScoredPoint]| hits.iter().map(|hit| hit.id).collect::<Vec<_>>();
    assert_eq!(ids(&strong), ids(&all[..11]));
    index.delete_collection(&name).await.expect("cleanup");
}

async fn delete_by_ids_and_by_filter(index: &dyn VectorIndex) {
    let name = ready(index, "delete", 100).await;
    index
        .delete_points(&name, &[id(1), id(2), id(12_345)])
        .await
        .expect("missing ids are fine");
    assert_eq!(index.count(&name, None).await.expect("count"), 98);
    let doc3 = Filter::must(Condition::keyword("document_id", "doc-3"));
    index
        .delete_by_filter(&name, &doc3)
        .await
        .expect("delete by filter");
    assert_eq!(index.count(&name, Some(&doc3)).await.expect("count"), 0);
    assert_eq!(index.count(&name, None).await.expect("count"), 78);
    let hits = index.search(&name, &nearest(1, 100)).await.expect("search");
    assert!(
        hits.iter()
            .all(|hit| hit.id != id(1) && hit.id != id(2) && hit.id != id(3))
    );
    index.delete_collection(&name).await.expect("cleanup");
}

async fn scroll_pages_through_every_id_once(index: &dyn VectorIndex) {
    let name = ready(index, "scroll", 250).await;
    let mut seen = Vec::new();
    let mut request = ScrollRequest {
        limit: 64,
        ..ScrollRequest::default()
    };
    loop {
        let page = index.scroll_ids(&name, &request).await.expect("scroll");
        assert!(page.ids.len() <= 64);
        seen.extend(page.ids);
        match page.next_offset {
            Some(next) => request.offset = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250);
    let unique: HashSet<_> = seen.iter().copied().collect();
    assert_eq!(unique, (0..250).map(id).collect::<HashSet<_>>());

    let filtered = ScrollRequest {
        filter: Some(Filter::must(Condition::keyword("document_id", "doc-4"))),
        limit: 1000,
        offset: None,
    };
    let page = index.scroll_ids(&name, &filtered).await.expect("scroll");
    assert_eq!(page.ids.len(), 50);
    assert!(page.next_offset.is_none());
    index.delete_collection(&name).await.expect("cleanup");
}
