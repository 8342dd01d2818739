//! Search (hybrid by default: the vector index and PostgreSQL full text, joined with
//! PostgreSQL's rows): best hits first, full rows, never another user's documents, filters
//! honoured; the text-search language setting; the OpenAPI schema of the answer; and the
//! status, which counts the caller's own chunks (an admin's: all).

mod common;

use std::sync::Arc;

use authn::Role;
use axum::http::StatusCode;
use common::{TestApp, descending_scores, hit_documents};
use db::memory::search::SearchFilter;
use serde_json::{Value, json};
use sqlx::PgPool;
use tempfile::TempDir;
use testkit::User;

const TOPICS: [(&str, &str, &str); 3] = [
    (
        "rust",
        "borrow",
        "The borrow checker rejects a mutable borrow while shared borrows of the same value are alive.",
    ),
    (
        "postgres",
        "index",
        "A partial index in PostgreSQL covers only the rows matching its WHERE clause, so it stays small.",
    ),
    (
        "cooking",
        "pasta",
        "Boil the pasta in salted water and keep a cup of the cooking water for the sauce.",
    ),
];

async fn ingest_topics(app: &TestApp, user: &User) -> Vec<String> {
    let mut ids = Vec::new();
    for (tag, external_id, content) in TOPICS {
        let ingested = app
            .ingest(
                user,
                json!({"source": tag, "external_id": external_id, "type": "note",
                                  "tags": [tag], "title": external_id, "content": content}),
            )
            .await;
        assert_eq!(ingested.status, StatusCode::CREATED, "{}", ingested.body);
        ids.push(ingested.body["document"]["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// Alice with her topics, bob with nothing of his own, and an admin who shared one
/// document (`shared_content`), whose ingestion answer comes last.
async fn alice_bob_and_a_shared_document(
    app: &TestApp,
    shared_content: &str,
) -> (User, User, User, Value) {
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let admin = app.user(Role::Admin).await;
    ingest_topics(app, &alice).await;
    let shared = app
        .ingest(
            &admin,
            json!({"source": "docs", "shared": true, "content": shared_content}),
        )
        .await;
    assert_eq!(shared.status, StatusCode::CREATED, "{}", shared.body);
    (alice, bob, admin, shared.body)
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_closest_chunk_comes_first_with_its_document(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let ids = ingest_topics(&app, &alice).await;

    let found = app
        .search(
            &alice,
            json!({"query": "partial index rows in PostgreSQL", "limit": 3}),
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let answer = found.body;
    assert_eq!(answer["model"], "devmentor-hash-v1");
    let first = &answer["results"][0];
    assert_eq!(first["document"]["id"], ids[1].as_str());
    assert_eq!(first["document"]["title"], "index");
    assert_eq!(first["document"]["tags"], json!(["postgres"]));
    assert!(
        first["chunk"]["content"]
            .as_str()
            .unwrap()
            .contains("partial index")
    );
    let scores = descending_scores(&answer);
    assert!(scores[0] <= 1.0 + 1e-6);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn another_users_documents_never_come_back(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, bob, _admin, shared) =
        alice_bob_and_a_shared_document(&app, "The borrow checker guide for everyone.").await;

    let found = app
        .search(
            &bob,
            json!({"query": "borrow checker mutable borrow", "limit": 50}),
        )
        .await;
    assert_eq!(found.status, StatusCode::OK);
    let answer = found.body;
    assert_eq!(
        hit_documents(&answer),
        [shared["document"]["id"].as_str().unwrap()]
    );
    let mine_only = app
        .search(&bob, json!({"query": "borrow checker", "scope": "mine"}))
        .await
        .body;
    assert_eq!(mine_only["results"], json!([]));
    let alice_sees = app
        .search(&alice, json!({"query": "borrow checker", "limit": 50}))
        .await
        .body;
    assert_eq!(alice_sees["results"].as_array().unwrap().len(), 4);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn filters_narrow_the_hits(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let ids = ingest_topics(&app, &alice).await;
    let query = |extra: Value| {
        let mut body = json!({"query": "water index borrow", "limit": 10});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    // The ids of the documents found with `filter`, sorted.
    let hits = async |filter: Value| {
        let mut ids = hit_documents(&app.search(&alice, query(filter)).await.body);
        ids.sort();
        ids
    };
    let none: [String; 0] = [];
    assert_eq!(hits(json!({"tags": ["cooking"]})).await, [ids[2].clone()]);
    let mut expected = vec![ids[0].clone(), ids[1].clone()];
    expected.sort();
    assert_eq!(
        hits(json!({"sources": ["rust", "postgres"]})).await,
        expected
    );
    assert_eq!(
        hits(json!({"document_ids": [ids[1]]})).await,
        [ids[1].clone()]
    );
    assert_eq!(hits(json!({"types": ["code"]})).await, none);
    let future = json!({"created_after": "2999-01-01T00:00:00Z"});
    assert_eq!(hits(future).await, none);
    let past = json!({"created_before": "2999-01-01T00:00:00Z"});
    assert_eq!(hits(past).await.len(), 3);
    assert_eq!(hits(json!({"min_score": 0.99})).await, none);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn vectors_without_a_row_are_skipped(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let ids = ingest_topics(&app, &alice).await;
    // As if a delete had removed the rows but not (yet) the vectors.
    sqlx::query("DELETE FROM memory.documents WHERE id = $1::uuid")
        .bind(&ids[1])
        .execute(&app.pool)
        .await
        .unwrap();
    let found = app
        .search(
            &alice,
            json!({"query": "partial index in PostgreSQL", "limit": 10}),
        )
        .await;
    assert_eq!(found.status, StatusCode::OK);
    let answer = found.body;
    assert!(!hit_documents(&answer).contains(&ids[1]));
    assert_eq!(answer["results"].as_array().unwrap().len(), 2);

    // The sweep deletes exactly the orphaned vector, and a second sweep finds none.
    assert_eq!(app.vectors().await, 3);
    assert_eq!(app.state.indexer.sweep_orphans().await.unwrap(), 1);
    assert_eq!(app.vectors().await, 2);
    assert_eq!(app.state.indexer.sweep_orphans().await.unwrap(), 0);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn bad_searches_are_refused_with_a_code(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let cases = [
        (json!({"query": " "}), "invalid_search_query"),
        (json!({"query": "x".repeat(2001)}), "invalid_search_query"),
        (json!({"query": "x", "limit": 0}), "invalid_limit"),
        (json!({"query": "x", "limit": 51}), "invalid_limit"),
        (json!({"query": "x", "min_score": 2.0}), "invalid_min_score"),
        (
            json!({"query": "x", "created_after": "2026-02-01T00:00:00Z",
                "created_before": "2026-01-01T00:00:00Z"}),
            "invalid_time_range",
        ),
        (
            json!({"query": "x", "document_ids": ["nope"]}),
            "invalid_body",
        ),
        (
            json!({"query": "x", "tags": (0..101).map(|i| i.to_string()).collect::<Vec<_>>()}),
            "too_many_filter_values",
        ),
    ];
    for (body, code) in cases {
        let refused = app.search(&alice, body).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{}",
            refused.body
        );
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn time_filters_outside_the_years_0001_to_9999_are_refused_in_every_mode(pool: PgPool) {
    // chrono reads signed years of any length; PostgreSQL refused these when bound (a 500).
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    ingest_topics(&app, &alice).await;
    for mode in ["vector", "lexical", "hybrid"] {
        for (field, at) in [
            ("created_after", "-5000-01-01T00:00:00Z"),
            ("created_before", "-5000-01-01T00:00:00Z"),
            ("created_after", "+10000-01-01T00:00:00Z"),
            ("created_before", "0001-01-01T00:00:00+01:00"),
        ] {
            let body = json!({"query": "borrow", "mode": mode, field: at});
            let refused = app.search(&alice, body).await;
            assert_eq!(
                (refused.status, refused.code()),
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
                "{mode} {field} {at}: {}",
                refused.body
            );
        }
        let widest = json!({"query": "borrow", "mode": mode,
            "created_after": "0001-01-01T00:00:00Z", "created_before": "9999-12-31T23:59:59Z"});
        let found = app.search(&alice, widest).await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        assert!(
            !hit_documents(&found.body).is_empty(),
            "{mode}: {}",
            found.body
        );
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_postgres_join_checks_ownership_too(pool: PgPool) {
    // Defence in depth: even given another user's chunk ids, the join returns none of them.
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    ingest_topics(&app, &alice).await;
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM memory.chunks")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let as_alice = db::memory::search::hits(&app.pool, &ids, &SearchFilter::visible_to(alice.id))
        .await
        .unwrap();
    assert_eq!(as_alice.len(), ids.len());
    let as_bob = db::memory::search::hits(&app.pool, &ids, &SearchFilter::visible_to(bob.id))
        .await
        .unwrap();
    assert!(as_bob.is_empty(), "{as_bob:?}");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_status_counts_the_callers_own_chunks_and_all_of_them_for_an_admin(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, bob, admin, _) = alice_bob_and_a_shared_document(&app, "Shared guide.").await;
    // One of alice's chunks loses its vector mark: pending again.
    sqlx::query(
        "UPDATE memory.chunks SET qdrant_point_id = NULL
         WHERE id = (SELECT id FROM memory.chunks WHERE content LIKE 'Boil%')",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    let status = async |who: &User| {
        let reply = app.get_as("/api/memory/status", who).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let body = reply.body;
        (
            body["scope"].as_str().unwrap().to_owned(),
            body["chunks"].as_i64().unwrap(),
            body["pending_chunks"].as_i64().unwrap(),
            body["vectors"].as_u64().unwrap(),
        )
    };
    assert_eq!(status(&alice).await, ("own".into(), 3, 1, 3));
    assert_eq!(status(&bob).await, ("own".into(), 0, 0, 0));
    assert_eq!(status(&admin).await, ("all".into(), 4, 1, 4));
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_search_language_is_stored_with_each_chunk_and_parses_queries(pool: PgPool) {
    let dir = Arc::new(TempDir::new().unwrap());
    let mut settings = common::settings(&dir, 64);
    settings.memory.memory_search_language = "simple".into();
    let app = TestApp::with_settings(pool, settings, dir).await;
    let alice = app.user(Role::User).await;
    let ingested = app
        .ingest(
            &alice,
            json!({"source": "s", "content": "Borrowing rules of the language."}),
        )
        .await;
    let id = ingested.body["document"]["id"].as_str().unwrap();
    let languages: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT search_language::text FROM memory.chunks")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(languages, ["simple"]);
    let found = async |query: &str| {
        let body = json!({"query": query, "mode": "lexical"});
        hit_documents(&app.search(&alice, body).await.body)
    };
    // `simple` does not stem (english would find "borrowed"), and keeps stop words.
    assert_eq!(found("borrowing").await, [id]);
    assert!(found("borrowed").await.is_empty());
    assert_eq!(found("of the").await, [id]);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_unknown_search_language_stops_the_start(pool: PgPool) {
    let dir = TempDir::new().unwrap();
    let mut settings = common::settings(&dir, 64);
    settings.memory.memory_search_language = "klingon".into();
    let tokens = testkit::Tokens::new();
    let refused = memory::AppState::open(pool, &settings, tokens.verifier(), Default::default())
        .await
        .err()
        .expect("refused");
    let message = refused.to_string();
    assert!(
        message.contains("MEMORY_SEARCH_LANGUAGE") && message.contains("klingon"),
        "{message}"
    );
    for bad in ["", "English", "english; DROP TABLE x", "pg_catalog.english"] {
        settings.memory.memory_search_language = bad.into();
        let error = settings.memory.validate().expect_err(bad);
        assert!(error.contains("MEMORY_SEARCH_LANGUAGE"), "{error}");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_schema_documents_the_modes_and_what_a_score_means(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let spec = app.get("/openapi.json").await.body;
    let schemas = &spec["components"]["schemas"];
    assert_eq!(
        schemas["Mode"]["enum"],
        json!(["vector", "lexical", "hybrid"])
    );
    let request = &schemas["SearchRequest"]["properties"];
    assert!(request["mode"].is_object() && request["project_ids"].is_object());
    assert_eq!(request["project_ids"]["maxItems"], 100);
    let answer = &schemas["SearchView"];
    let required = answer["required"].as_array().unwrap();
    for field in ["results", "mode", "degraded"] {
        assert!(required.contains(&json!(field)), "{field}: {answer}");
    }
    let score = schemas["HitView"]["properties"]["score"]["description"]
        .as_str()
        .unwrap();
    for meaning in ["cosine", "ts_rank_cd", "reciprocal rank fusion"] {
        assert!(score.contains(meaning), "{score}");
    }
    let status = &schemas["IndexStatusView"]["properties"]["scope"];
    assert!(status.is_object(), "{}", schemas["IndexStatusView"]);
}
