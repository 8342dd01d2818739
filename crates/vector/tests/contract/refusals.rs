//! The contract's refusals and removals: bad input, unknown collections, dropping one.

use crate::common::{DIM, id, nearest, point, points, ready, spec, unique};
use vector::{
    CollectionParams, Condition, Distance, Filter, Payload, ScrollRequest, SearchRequest,
    VectorError, VectorIndex,
};

pub async fn bad_input_is_refused_with_a_clear_error(index: &dyn VectorIndex) {
    let name = ready(index, "bad", 5).await;
    let mut short = point(1);
    short.vector.pop();
    let error = index
        .upsert(&name, vec![point(2), short])
        .await
        .expect_err("short vector");
    assert!(
        matches!(error, VectorError::DimensionMismatch { expected: DIM, got, .. } if got == DIM - 1),
        "{error:?}"
    );
    let error = index
        .search(&name, &SearchRequest::new(vec![0.5; DIM + 1], 3))
        .await
        .expect_err("long");
    assert!(
        matches!(error, VectorError::DimensionMismatch { .. }),
        "{error:?}"
    );
    let mut nan = point(3);
    nan.vector[0] = f32::NAN;
    assert!(matches!(
        index.upsert(&name, vec![nan]).await,
        Err(VectorError::InvalidRequest(_))
    ));
    let error = index
        .search(&name, &nearest(1, 0))
        .await
        .expect_err("limit 0");
    assert!(matches!(error, VectorError::InvalidRequest(_)), "{error:?}");
    let empty = Filter::must(Condition::keyword_any("tags", Vec::<String>::new()));
    assert!(matches!(
        index.delete_by_filter(&name, &empty).await,
        Err(VectorError::InvalidRequest(_))
    ));
    assert!(matches!(
        index.collection_info("../etc").await,
        Err(VectorError::InvalidRequest(_))
    ));
    let sizeless = unique("sizeless");
    for dimension in [0, 65_537] {
        let params = CollectionParams {
            dimension,
            distance: Distance::Cosine,
            metadata: Payload::new(),
        };
        let error = index
            .create_collection(&sizeless, &params)
            .await
            .expect_err("vector size out of range");
        assert!(matches!(error, VectorError::InvalidRequest(_)), "{error:?}");
    }
    assert!(
        index
            .collection_info(&sizeless)
            .await
            .expect("info")
            .is_none()
    );
    assert_eq!(
        index.count(&name, None).await.expect("count"),
        5,
        "nothing partial was written"
    );
    index.delete_collection(&name).await.expect("cleanup");
}

pub async fn unknown_collections_are_reported_everywhere(index: &dyn VectorIndex) {
    let name = unique("missing");
    let unknown = |result: Result<(), VectorError>| {
        assert!(
            matches!(result, Err(VectorError::UnknownCollection(ref n)) if *n == name),
            "{result:?}"
        );
    };
    unknown(index.upsert(&name, points(0..2)).await);
    unknown(index.search(&name, &nearest(1, 3)).await.map(drop));
    unknown(index.count(&name, None).await.map(drop));
    unknown(
        index
            .scroll_ids(
                &name,
                &ScrollRequest {
                    limit: 5,
                    ..ScrollRequest::default()
                },
            )
            .await
            .map(drop),
    );
    unknown(index.delete_points(&name, &[id(1)]).await);
    unknown(
        index
            .delete_by_filter(&name, &Filter::must(Condition::keyword("a", "b")))
            .await,
    );
    assert!(index.collection_info(&name).await.expect("info").is_none());
    assert!(
        !index
            .delete_collection(&name)
            .await
            .expect("nothing to delete")
    );
}

pub async fn delete_collection_removes_points_and_name(index: &dyn VectorIndex) {
    let name = ready(index, "drop", 20).await;
    assert!(index.delete_collection(&name).await.expect("deleted"));
    assert!(index.collection_info(&name).await.expect("info").is_none());
    index
        .ensure_collection(&spec(&name))
        .await
        .expect("recreated");
    assert_eq!(
        index.count(&name, None).await.expect("count"),
        0,
        "a new collection starts empty"
    );
    index.delete_collection(&name).await.expect("cleanup");
}
