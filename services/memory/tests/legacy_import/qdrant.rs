//! A Qdrant collection: payloads read page by page, UUID point ids kept as chunk ids,
//! numeric ones re-keyed; into the embedded index and into a Qdrant server.

use authn::Role;
use memory::legacy::{
    ImportError, Location, PointId, RawRecord,
    qdrant::{self as legacy_qdrant, QdrantSource},
    record::Skip,
};
use qdrant_client::{
    Payload, Qdrant,
    qdrant::{PointStruct, UpsertPointsBuilder},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    common::{TestApp, hit_documents, qdrant::app_on_qdrant_server},
    stand_in::LegacyQdrant,
    support::{
        account, assert_index_matches_chunks, at, chunks, import, import_file, imported, vector_ids,
    },
};

/// Fills the legacy collection through qdrant-client: UUID and numeric ids, one point with no
/// text, and enough points for several scroll pages.
async fn fill_legacy_collection(url: &str, api_key: Option<&str>) -> (Uuid, Uuid) {
    let mut builder = Qdrant::from_url(url).skip_compatibility_check();
    if let Some(key) = api_key {
        builder = builder.api_key(key.to_owned());
    }
    let client = builder.build().expect("client");
    let (closures, enums) = (Uuid::new_v4(), Uuid::new_v4());
    let payload = |value: Value| Payload::try_from(value).expect("payload");
    let mut points = vec![
        PointStruct::new(
            closures.to_string(),
            vec![0.1, 0.2],
            payload(json!({
                "text": "Closures capture their environment.", "source": "chat", "created_at": 1_700_000_000
            })),
        ),
        PointStruct::new(
            7,
            vec![0.3, 0.4],
            payload(json!({
                "content": "Slices borrow part of a collection.", "tags": "slices,borrowing"
            })),
        ),
        PointStruct::new(
            8,
            vec![0.5, 0.6],
            payload(json!({"pageContent": " ", "metadata": {"page": 1}})),
        ),
        PointStruct::new(
            enums.to_string(),
            vec![0.7, 0.8],
            payload(json!({
                "content": "Enums hold one of several variants.", "id": "doc-17"
            })),
        ),
    ];
    points.extend((1000..1260u64).map(|id| {
        let text = format!("Filler note {id} about iterator adapters.");
        PointStruct::new(id, vec![0.0, 1.0], payload(json!({ "content": text })))
    }));
    client
        .upsert_points(UpsertPointsBuilder::new("legacy_notes", points))
        .await
        .expect("fill the legacy collection");
    (closures, enums)
}

async fn read_legacy(legacy: &LegacyQdrant, api_key: Option<&str>) -> Vec<RawRecord> {
    let source = QdrantSource {
        url: legacy.url(),
        collection: "legacy_notes".into(),
        api_key: api_key.map(str::to_owned),
    };
    legacy_qdrant::read(&source, |_| {})
        .await
        .expect("reads the collection")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn qdrant_points_keep_uuid_ids_and_numeric_ids_are_rekeyed(pool: PgPool) {
    let legacy = LegacyQdrant::start(None).await;
    let (closures, enums) = fill_legacy_collection(&legacy.url(), None).await;
    let app = TestApp::new(pool.clone()).await;
    let alice = account(app.user(Role::User).await.id);
    let records = read_legacy(&legacy, None).await;
    assert_eq!(records.len(), 264, "every page was read");

    let summary = import(&app, records, &alice, false).await;
    assert_eq!(summary.failure, None, "{}", summary.render());
    assert_eq!(summary.created, 263);
    assert_eq!(
        summary.skipped,
        [(Location::Point(PointId::Num(8)), Skip::NoText)]
    );
    assert_eq!(summary.rekeyed.len(), 261, "every numeric id");
    let seven = summary
        .mapping
        .iter()
        .find(|row| row.legacy_id == json!(7))
        .expect("mapped");
    assert!(seven.rekeyed);
    assert_eq!(
        summary
            .rekeyed
            .iter()
            .find(|r| r.at == Location::Point(PointId::Num(7)))
            .map(|r| r.chunk_id),
        seven.chunk_id
    );

    let documents = imported(&pool).await;
    assert_eq!(documents["7"].tags, ["slices", "borrowing"]);
    assert_eq!(
        documents[&closures.to_string()].metadata["legacy_source"],
        "chat"
    );
    assert_eq!(
        documents[&enums.to_string()].metadata["legacy_fields"],
        json!({"id": "doc-17"})
    );
    let chunk_ids: Vec<Uuid> = chunks(&pool).await.iter().map(|c| c.0).collect();
    assert!(
        chunk_ids.contains(&closures) && chunk_ids.contains(&enums),
        "UUID points keep their ids"
    );
    assert_index_matches_chunks(&app).await;
    assert_eq!(app.vectors().await, 263);

    let again = import(&app, read_legacy(&legacy, None).await, &alice, false).await;
    assert_eq!(
        (again.created, again.unchanged, again.rekeyed.len()),
        (0, 263, 0)
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn qdrant_points_import_into_the_remote_backend(pool: PgPool) {
    let legacy = LegacyQdrant::start(Some("old-key")).await;
    let (closures, _) = fill_legacy_collection(&legacy.url(), Some("old-key")).await;
    let (app, server, engine) = app_on_qdrant_server(pool.clone()).await;
    assert_eq!(app.state.indexer.index.backend(), "qdrant");
    let user = app.user(Role::User).await;

    let records = read_legacy(&legacy, Some("old-key")).await;
    let summary = import(&app, records, &account(user.id), false).await;
    assert_eq!(
        (summary.created, summary.failure.clone()),
        (263, None),
        "{}",
        summary.render()
    );
    assert_index_matches_chunks(&app).await;
    assert!(vector_ids(&app).await.contains(&closures));
    let found = app
        .search(&user, json!({"query": "closures capture environment"}))
        .await;
    let documents = imported(&pool).await;
    assert_eq!(
        hit_documents(&found.body)[0],
        documents[&closures.to_string()].id.to_string()
    );
    drop(app);
    server.stop().await.expect("stops");
    engine.close().await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn records_stay_pending_when_the_index_is_down_and_the_import_says_so(pool: PgPool) {
    let (app, server, engine) = app_on_qdrant_server(pool.clone()).await;
    let alice = account(app.user(Role::User).await.id);
    server.stop().await.expect("stops");

    let summary = import_file(&app, "wrapped.json", &alice, false).await;
    assert_eq!(summary.created, 2, "{}", summary.render());
    assert_eq!(summary.pending_chunks, 2);
    let failure = summary.failure.clone().expect("a failure");
    assert!(
        failure.starts_with("the vector index did not take every vector"),
        "{failure}"
    );
    assert!(
        summary.render().contains("pending:"),
        "{}",
        summary.render()
    );
    let documents = imported(&pool).await;
    assert_eq!(documents["w-1"].created_at, at("2023-11-14T22:13:20Z"));
    let pending = chunks(&pool).await.iter().filter(|c| c.1.is_none()).count();
    assert_eq!(pending, 2, "kept for the service's indexer");
    drop(app);
    engine.close().await;
}

#[tokio::test]
async fn qdrant_failures_are_one_readable_line() {
    let legacy = LegacyQdrant::start(Some("old-key")).await;
    fill_legacy_collection(&legacy.url(), Some("old-key")).await;
    let read = |url: String, collection: &str, key: Option<&str>| {
        let source = QdrantSource {
            url,
            collection: collection.to_owned(),
            api_key: key.map(str::to_owned),
        };
        async move {
            match legacy_qdrant::read(&source, |_| {}).await {
                Err(ImportError::Source(message)) => message,
                other => panic!("a source error: {other:?}"),
            }
        }
    };
    let missing = read(legacy.url(), "nope", Some("old-key")).await;
    assert!(missing.contains("has no collection `nope`"), "{missing}");
    let wrong_key = read(legacy.url(), "legacy_notes", Some("guess")).await;
    assert!(
        wrong_key.contains("refused the request: check --qdrant-api-key"),
        "{wrong_key}"
    );
    let closed = format!("http://127.0.0.1:{}", testkit::free_port());
    let unreachable = read(closed, "legacy_notes", None).await;
    assert!(
        unreachable.starts_with("cannot reach Qdrant at"),
        "{unreachable}"
    );
    let no_scheme = read("localhost:6334".into(), "legacy_notes", None).await;
    assert!(
        no_scheme.contains("is not an http(s) URL with a host"),
        "{no_scheme}"
    );
}
