//! Ingesting, re-ingesting, reading, listing and deleting documents: rows in PostgreSQL,
//! one vector per chunk under the chunk's id, and who may see what.

mod common;

use authn::Role;
use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;
use sqlx::PgPool;
use testkit::Reply;
use uuid::Uuid;

const OWNERSHIP: &str = "Ownership: every value in Rust has exactly one owner. When the owner \
    goes out of scope, the value is dropped. Moving a value transfers ownership; cloning \
    copies it. Borrowing lets code use a value without taking ownership, through shared \
    references or one mutable reference at a time. The borrow checker enforces these rules \
    at compile time, so there are no data races and no use-after-free.";

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn ingestion_stores_chunks_in_postgres_and_one_vector_per_chunk(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let ingested = app
        .ingest(
            &alice,
            json!({"source": "notes", "external_id": "rust-1", "title": "Ownership",
                   "tags": ["rust"], "content": OWNERSHIP, "metadata": {"lang": "en"}}),
        )
        .await;
    assert_eq!(ingested.status, StatusCode::CREATED, "{}", ingested.body);
    assert_eq!(ingested.body["status"], "created");
    let document = &ingested.body["document"];
    assert_eq!(document["owner_id"], alice.id.to_string());
    assert_eq!(document["pending_chunks"], 0, "indexed before answering");
    let chunk_count = document["chunk_count"].as_i64().unwrap();
    assert!(chunk_count >= 2, "300-character chunks: {document}");

    let id = document["id"].as_str().unwrap();
    let shown = app
        .get_as(&format!("/api/memory/documents/{id}"), &alice)
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    let chunks = shown.body["chunks"].as_array().unwrap();
    assert_eq!(chunks.len() as i64, chunk_count);
    for (index, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["index"], index);
        assert_eq!(chunk["indexed"], true);
        assert_eq!(chunk["embedding_model"], "devmentor-hash-v1");
        assert_eq!(chunk["embedding_dim"], 128);
        let offset = chunk["metadata"]["byte_offset"].as_u64().unwrap() as usize;
        let content = chunk["content"].as_str().unwrap();
        assert_eq!(&OWNERSHIP[offset..offset + content.len()], content);
    }
    // The point id IS the chunk id.
    let chunk_ids: Vec<Uuid> = chunks
        .iter()
        .map(|chunk| chunk["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let point_ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT qdrant_point_id FROM memory.chunks ORDER BY chunk_index")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(point_ids, chunk_ids);
    assert_eq!(app.vectors().await, chunk_count as u64);
    let page = app
        .state
        .indexer
        .index
        .scroll_ids(
            &app.state.indexer.collection,
            &vector::ScrollRequest {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut sorted = chunk_ids.clone();
    sorted.sort();
    assert_eq!(page.ids, sorted);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn re_ingesting_a_key_updates_in_place_or_does_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let note = json!({"source": "notes", "external_id": "k", "content": OWNERSHIP});
    let first = app.ingest(&alice, note.clone()).await.body;
    let id = first["document"]["id"].clone();

    let again = app.ingest(&alice, note).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["status"], "unchanged");
    assert_eq!(again.body["document"]["id"], id);

    let updated = app
        .ingest(
            &alice,
            json!({"source": "notes", "external_id": "k", "content": "Lifetimes name how long references live."}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    let updated = updated.body;
    assert_eq!(updated["status"], "updated");
    assert_eq!(updated["document"]["id"], id, "same document, new content");
    assert_eq!(updated["document"]["chunk_count"], 1);
    assert_eq!(app.vectors().await, 1, "the old chunks' vectors are gone");

    // Changing only the tags is a change too (they are filter fields of the vectors).
    let retagged = app
        .ingest(
            &alice,
            json!({"source": "notes", "external_id": "k", "tags": ["rust"],
                   "content": "Lifetimes name how long references live."}),
        )
        .await
        .body;
    assert_eq!(retagged["status"], "updated");
    assert_eq!(retagged["document"]["tags"], json!(["rust"]));

    // Another user's identical key is another document.
    let bob = app.user(Role::User).await;
    let theirs = app
        .ingest(
            &bob,
            json!({"source": "notes", "external_id": "k", "content": OWNERSHIP}),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert_ne!(theirs.body["document"]["id"], id);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn users_see_their_own_and_shared_documents_only(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let admin = app.user(Role::Admin).await;
    let private = app
        .ingest(&alice, json!({"source": "notes", "content": OWNERSHIP}))
        .await
        .body;
    let private_id = private["document"]["id"].as_str().unwrap();

    let refused = app
        .ingest(
            &bob,
            json!({"source": "docs", "content": "x y z", "shared": true}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let shared = app
        .ingest(
            &admin,
            json!({"source": "docs", "content": "Platform guide.", "shared": true}),
        )
        .await;
    assert_eq!(shared.status, StatusCode::CREATED);
    assert_eq!(shared.body["document"]["shared"], true);
    let shared_id = shared.body["document"]["id"].as_str().unwrap();

    let path = |id: &str| format!("/api/memory/documents/{id}");
    assert_eq!(
        app.get_as(&path(private_id), &bob).await.status,
        StatusCode::NOT_FOUND,
        "another user's document is invisible"
    );
    assert_eq!(
        app.delete_as(&path(private_id), &bob).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get_as(&path(shared_id), &bob).await.status,
        StatusCode::OK,
        "shared documents are for everyone"
    );
    assert_eq!(
        app.delete_as(&path(shared_id), &bob).await.status,
        StatusCode::FORBIDDEN
    );

    let listed = app.get_as("/api/memory/documents", &bob).await.body;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [shared_id]);
    let mine = app
        .get_as("/api/memory/documents?scope=mine", &alice)
        .await
        .body;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine["items"][0]["id"], private_id);

    let vectors_before = app.vectors().await;
    assert_eq!(
        app.delete_as(&path(private_id), &alice).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_as(&path(private_id), &alice).await.status,
        StatusCode::NOT_FOUND
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM memory.chunks WHERE document_id = $1")
        .bind(Uuid::parse_str(private_id).unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "chunks go with their document");
    let private_chunks = private["document"]["chunk_count"].as_u64().unwrap();
    assert_eq!(app.vectors().await, vectors_before - private_chunks);
    assert_eq!(
        app.delete_as(&path(shared_id), &admin).await.status,
        StatusCode::NO_CONTENT
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn listing_pages_newest_first_and_filters(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    for i in 0..5 {
        let ingested = app
            .ingest(
                &alice,
                json!({"source": if i % 2 == 0 { "even" } else { "odd" }, "type": "note",
                       "tags": [format!("t{i}")], "content": format!("note number {i}")}),
            )
            .await;
        assert_eq!(ingested.status, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut path = "/api/memory/documents?limit=2".to_owned();
    loop {
        let page = app.get_as(&path, &alice).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for document in page.body["items"].as_array().unwrap() {
            seen.push(document["tags"][0].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/memory/documents?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["t4", "t3", "t2", "t1", "t0"]);

    let documents = |reply: Reply| reply.body["items"].as_array().unwrap().len();
    let odd = app.get_as("/api/memory/documents?source=odd", &alice).await;
    assert_eq!(documents(odd), 2);
    let tagged = app
        .get_as("/api/memory/documents?tag=t3&type=note", &alice)
        .await;
    assert_eq!(documents(tagged), 1);

    // Limits out of range, a cursor the service never made, an unknown scope or parameter.
    let refused = [
        "limit=0",
        "limit=101",
        "cursor=bogus",
        "scope=everyone",
        "colour=red",
    ];
    for bad in refused {
        let reply = app
            .get_as(&format!("/api/memory/documents?{bad}"), &alice)
            .await;
        // One status for every unusable query parameter, as in every service (docs/api.md).
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.body
        );
        assert!(!reply.code().is_empty(), "{bad}: {}", reply.body);
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn bad_requests_get_clear_errors_and_store_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let cases = [
        (
            json!({"source": "s", "content": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_content",
        ),
        (
            json!({"source": "", "content": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
        (
            json!({"content": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"source": "s", "content": "x", "owner_id": "y"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"source": "s", "content": "x", "metadata": 3}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_metadata",
        ),
        (
            json!({"source": "s", "content": "x".repeat(4 * 1024 * 1024 + 1)}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "document_too_large",
        ),
    ];
    for (note, status, code) in cases {
        let reply = app.ingest(&alice, note).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{}",
            reply.body
        );
    }
    let anonymous = app
        .post(
            "/api/memory/documents",
            json!({"source": "s", "content": "x"}),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.code(), "missing_token");
    assert_eq!(app.documents().await, 0);
    assert_eq!(app.vectors().await, 0);
}
