//! Search modes: `vector` (the index), `lexical` (PostgreSQL full text) and `hybrid` (both,
//! fused by reciprocal rank). A rare exact word the embedding blurs is found by words; every
//! mode applies the same visibility rules and filters; the lexical side reads the GIN index.

mod common;

use authn::Role;
use axum::http::StatusCode;
use common::{TestApp, descending_scores, hit_documents};
use db::memory::search::SearchFilter;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::User;
use uuid::Uuid;

async fn ingest(app: &TestApp, user: &User, body: Value) -> String {
    let reply = app.ingest(user, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["document"]["id"].as_str().unwrap().to_owned()
}

/// The answer of a search that must succeed.
async fn search(app: &TestApp, user: &User, body: Value) -> Value {
    let reply = app.search(user, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_rare_error_code_is_found_by_words_when_the_embedding_misses_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    // The one note that names E0502, in a long text about something else...
    let target = ingest(
        &app,
        &alice,
        json!({"source": "journal", "content": "Yesterday the release build stopped on E0502 \
            inside the scheduler module, right after the refactor of the job queue, the retry \
            policy and the metrics exporter."}),
    )
    .await;
    // ...and short notes full of its neighbours, which share most of its spelling.
    for codes in [
        "E0500 E0501 E0503 E0504",
        "E0505 E0506 E0507 E0508",
        "E0509 E0510 E0512 E0515",
    ] {
        ingest(
            &app,
            &alice,
            json!({"source": "codes", "content": format!("Borrow errors: {codes}.")}),
        )
        .await;
    }

    let vector = search(&app, &alice, json!({"query": "E0502", "mode": "vector"})).await;
    assert_eq!(vector["mode"], "vector");
    assert_eq!(vector["degraded"], false);
    let by_meaning = hit_documents(&vector);
    assert_ne!(
        by_meaning[0], target,
        "the embedding must miss it for this test"
    );
    assert!(by_meaning.contains(&target), "{vector}");

    let lexical = search(&app, &alice, json!({"query": "E0502", "mode": "lexical"})).await;
    assert_eq!(
        (&lexical["mode"], &lexical["model"]),
        (&json!("lexical"), &Value::Null)
    );
    assert_eq!(hit_documents(&lexical), [target.as_str()]);
    let rank = lexical["results"][0]["score"].as_f64().unwrap();
    assert!(
        rank > 0.0 && rank < 1.0,
        "ts_rank_cd normalised to 0-1: {rank}"
    );

    // Hybrid is the default.
    let hybrid = search(&app, &alice, json!({"query": "E0502"})).await;
    assert_eq!(hybrid["mode"], "hybrid");
    assert_eq!(hybrid["model"], "devmentor-hash-v1");
    let fused = hit_documents(&hybrid);
    assert_eq!(fused[0], target, "{hybrid}");
    assert_eq!(fused.len(), 4, "the vector hits are fused in too");
    let scores = descending_scores(&hybrid);
    // Found by both rankings: at most 2/61 (first in both), more than any single ranking's 1/61.
    assert!(
        scores[0] <= 2.0 / 61.0 + 1e-6 && scores[0] > 1.0 / 61.0,
        "{scores:?}"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn lexical_search_reads_web_search_syntax_and_stems_words(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let borrow = ingest(
        &app,
        &alice,
        json!({"source": "s", "content": "The borrow checker rejects mutable borrowing here."}),
    )
    .await;
    let pasta = ingest(
        &app,
        &alice,
        json!({"source": "s", "content": "Boil the pasta; the checker is the cook."}),
    )
    .await;
    let found = async |query: &str| {
        let answer = search(&app, &alice, json!({"query": query, "mode": "lexical"})).await;
        let mut ids = hit_documents(&answer);
        ids.sort();
        ids
    };
    let none: [String; 0] = [];
    // English stemming: "borrowed" finds "borrow"/"borrowing".
    assert_eq!(found("borrowed").await, [borrow.as_str()]);
    // Every word must appear...
    assert_eq!(found("checker pasta").await, [pasta.as_str()]);
    assert_eq!(found("borrow pasta").await, none);
    // ...unless joined with `or`; `-word` excludes; quotes ask for a phrase.
    let mut both = vec![borrow.clone(), pasta.clone()];
    both.sort();
    assert_eq!(found("borrow or pasta").await, both);
    assert_eq!(found("checker -pasta").await, [borrow.as_str()]);
    assert_eq!(found("\"borrow checker\"").await, [borrow]);
    assert_eq!(found("\"checker borrow\"").await, none);
    // Only stop words or punctuation: nothing to match, not an error.
    assert_eq!(found("the of").await, none);
    assert_eq!(found("\" ' - or & | ! :*").await, none);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn every_mode_applies_the_same_visibility_and_filters(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let admin = app.user(Role::Admin).await;
    let note = |source: &str, kind: &str, tag: &str| {
        json!({"source": source, "type": kind, "tags": [tag],
               "content": format!("Kestrel notes from {source}, a {kind} tagged {tag}.")})
    };
    let rust = ingest(&app, &alice, note("rust", "note", "lang")).await;
    let db = ingest(&app, &alice, note("postgres", "code", "storage")).await;
    let mut shared_note = note("guide", "document", "lang");
    shared_note["shared"] = json!(true);
    let shared = ingest(&app, &admin, shared_note).await;
    let bobs = ingest(&app, &bob, note("rust", "note", "lang")).await;

    for mode in ["vector", "lexical", "hybrid"] {
        let hits = async |who: &User, filter: Value| {
            let mut body = json!({"query": "kestrel notes", "mode": mode, "limit": 50});
            body.as_object_mut()
                .unwrap()
                .extend(filter.as_object().unwrap().clone());
            let answer = search(&app, who, body).await;
            assert_eq!(answer["mode"], mode);
            let mut ids = hit_documents(&answer);
            ids.sort();
            ids
        };
        let sorted = |mut ids: Vec<String>| {
            ids.sort();
            ids
        };
        let none: Vec<String> = Vec::new();
        assert_eq!(
            hits(&alice, json!({})).await,
            sorted(vec![rust.clone(), db.clone(), shared.clone()]),
            "{mode}: alice reads hers and the shared one, never bob's"
        );
        assert_eq!(hits(&bob, json!({"scope": "mine"})).await, [bobs.as_str()]);
        assert_eq!(
            hits(&bob, json!({"scope": "shared"})).await,
            [shared.as_str()]
        );
        assert_eq!(
            hits(&alice, json!({"sources": ["rust", "guide"]})).await,
            sorted(vec![rust.clone(), shared.clone()]),
            "{mode}"
        );
        assert_eq!(
            hits(&alice, json!({"types": ["code"]})).await,
            [db.as_str()]
        );
        assert_eq!(
            hits(&alice, json!({"tags": ["storage", "nothing"]})).await,
            [db.as_str()]
        );
        assert_eq!(
            hits(&alice, json!({"document_ids": [&rust, &bobs]})).await,
            [rust.as_str()],
            "{mode}: another user's id filters nothing in"
        );
        let future = json!({"created_after": "2999-01-01T00:00:00Z"});
        assert_eq!(hits(&alice, future).await, none);
        let past = json!({"created_before": "2000-01-01T00:00:00Z"});
        assert_eq!(hits(&alice, past).await, none);
        let window = json!({"created_after": "2000-01-01T00:00:00Z",
                            "created_before": "2999-01-01T00:00:00Z", "scope": "mine"});
        assert_eq!(
            hits(&alice, window).await,
            sorted(vec![rust.clone(), db.clone()])
        );
    }
}

/// A live project owned by `owner`.
async fn project(pool: &PgPool, owner: Uuid, slug: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO projects.projects (owner_id, name, slug) VALUES ($1, $2, $2) RETURNING id",
    )
    .bind(owner)
    .bind(slug)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn project_ids_narrow_every_mode_and_a_deleted_projects_vectors_match_no_more(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let apollo = project(&app.pool, alice.id, "apollo").await;
    let gemini = project(&app.pool, alice.id, "gemini").await;
    let note = |name: &str| format!("Launch checklist for the telemetry relay of {name}.");
    let in_apollo = ingest(
        &app,
        &alice,
        json!({"source": "a", "content": note("apollo"), "project_id": apollo}),
    )
    .await;
    let in_gemini = ingest(
        &app,
        &alice,
        json!({"source": "g", "content": note("gemini"), "project_id": gemini}),
    )
    .await;
    let loose = ingest(
        &app,
        &alice,
        json!({"source": "l", "content": note("none")}),
    )
    .await;

    let hits = async |mode: &str, projects: Value| {
        let body = json!({"query": "telemetry relay", "mode": mode, "project_ids": projects});
        let mut ids = hit_documents(&search(&app, &alice, body).await);
        ids.sort();
        ids
    };
    let mut both = vec![in_apollo.clone(), in_gemini.clone()];
    both.sort();
    for mode in ["vector", "lexical", "hybrid"] {
        assert_eq!(
            hits(mode, json!([apollo])).await,
            [in_apollo.as_str()],
            "{mode}"
        );
        assert_eq!(hits(mode, json!([apollo, gemini])).await, both, "{mode}");
        assert_eq!(hits(mode, json!([Uuid::new_v4()])).await.len(), 0, "{mode}");
        assert_eq!(
            hits(mode, json!([])).await.len(),
            3,
            "{mode}: [] is no filter"
        );
    }
    assert!(!both.contains(&loose));

    // Deleting the project empties the column; the vectors keep the old payload until
    // reindexed, and PostgreSQL has the last word.
    sqlx::query("DELETE FROM projects.projects WHERE id = $1")
        .bind(apollo)
        .execute(&app.pool)
        .await
        .unwrap();
    let payloads_matching = app
        .state
        .indexer
        .index
        .count(
            &app.state.indexer.collection,
            Some(&vector::Filter::must(vector::Condition::keyword(
                "project_id",
                apollo.to_string(),
            ))),
        )
        .await
        .unwrap();
    assert_eq!(payloads_matching, 1, "the stale payload is still there");
    for mode in ["vector", "lexical", "hybrid"] {
        assert_eq!(hits(mode, json!([apollo])).await.len(), 0, "{mode}");
    }
    let gone = app
        .get_as(&format!("/api/memory/documents/{in_apollo}"), &alice)
        .await;
    assert_eq!(gone.status, StatusCode::OK, "the note itself stays");

    let too_many: Vec<Uuid> = (0..101).map(|_| Uuid::new_v4()).collect();
    let refused = app
        .search(&alice, json!({"query": "x", "project_ids": too_many}))
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "too_many_filter_values")
    );
    let refused = app
        .search(&alice, json!({"query": "x", "mode": "semantic"}))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
}

/// Documents and chunks written straight to PostgreSQL, `per_document` chunks each.
async fn bulk_chunks(pool: &PgPool, owner: Uuid, documents: i32, per_document: i32) {
    sqlx::query(
        "WITH docs AS (
             INSERT INTO memory.documents (id, owner_id, source)
             SELECT gen_random_uuid(), $1, 'bulk' FROM generate_series(1, $2)
             RETURNING id)
         INSERT INTO memory.chunks (id, document_id, chunk_index, content, content_hash)
         SELECT gen_random_uuid(), d.id, k,
                'routine entry ' || k || ' about caching, queues and builds ' || md5(d.id::text),
                encode(sha256((d.id::text || k)::bytea), 'hex')
         FROM docs d, generate_series(0, $3 - 1) k",
    )
    .bind(owner)
    .bind(documents)
    .bind(per_document)
    .execute(pool)
    .await
    .unwrap();
}

/// This transaction's scans of the GIN index on `search_vector`, and of `memory.chunks` whole.
async fn scans(tx: &mut sqlx::PgConnection) -> (i64, i64) {
    sqlx::query_as(
        "SELECT pg_stat_get_xact_numscans('memory.chunks_search_vector_idx'::regclass),
                (SELECT seq_scan FROM pg_stat_xact_user_tables
                 WHERE schemaname = 'memory' AND relname = 'chunks')",
    )
    .fetch_one(tx)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_rare_word_is_looked_up_in_the_gin_index_run_after_run(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    bulk_chunks(&app.pool, alice.id, 2000, 3).await;
    let rare = ingest(
        &app,
        &alice,
        json!({"source": "s", "content": "The zeppelin cache warmed up."}),
    )
    .await;
    // As autovacuum leaves them: statistics fresh, the GIN index's pending list merged.
    sqlx::raw_sql("VACUUM ANALYZE memory.documents, memory.chunks")
        .execute(&app.pool)
        .await
        .unwrap();

    // One connection, one transaction: its statistics count this transaction's scans. A
    // prepared statement would switch to a generic plan after five runs; ten show it never
    // does.
    let mut tx = app.pool.begin().await.unwrap();
    let filter = SearchFilter::visible_to(alice.id);
    for run in 0..10 {
        let (index_before, sequential_before) = scans(&mut tx).await;
        let hits = db::memory::search::lexical(&mut tx, "english", "zeppelin", &filter, 10)
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].hit.document_id.to_string(), rare);
        let (index_after, sequential_after) = scans(&mut tx).await;
        assert_eq!(
            index_after,
            index_before + 1,
            "run {run}: the GIN index was not used"
        );
        assert_eq!(
            sequential_after, sequential_before,
            "run {run}: chunks were scanned"
        );
    }
    tx.rollback().await.unwrap();
}
