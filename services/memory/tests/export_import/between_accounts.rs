//! An export imported into another account of the same database: its documents are copied
//! under ids of the importer's own, searchable there, the exporter's left as they were, and
//! importing the file again copies nothing more.

use std::collections::BTreeSet;

use authn::Role;
use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{
    common::{TestApp, hit_documents},
    support::{LONG, export, import, ndjson, record, records},
};

/// The ids of the chunks of `records`, in order.
fn chunk_ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .flat_map(|record| record["chunks"].as_array().unwrap())
        .map(|chunk| chunk["id"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(records: &[Value]) -> BTreeSet<String> {
    records
        .iter()
        .map(|record| record["id"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_export_imported_by_another_account_is_copied_under_new_ids(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    for body in [
        json!({"source": "notes", "external_id": "own", "title": "Ownership", "content": LONG}),
        json!({"source": "notes", "content": "Lifetimes name how long a reference is valid."}),
    ] {
        let reply = app.ingest(&alice, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let exported = export(&app, &alice, "").await;
    let alices = records(&exported);
    let body = String::from_utf8(exported.bytes.to_vec()).unwrap();

    let reply = import(&app, &bob, "", body.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let report = &reply.body;
    assert_eq!(report["imported"], 2, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    let notices = report["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 2, "{report}");
    let mut new_ids = BTreeSet::new();
    for (notice, record) in notices.iter().zip(&alices) {
        assert_eq!(notice["code"], "stored_under_new_id", "{notice}");
        assert_eq!(notice["id"], record["id"], "the line's own id");
        assert_ne!(notice["new_id"], record["id"]);
        new_ids.insert(notice["new_id"].as_str().unwrap().to_owned());
    }

    let listed = app.get_as("/api/memory/documents", &bob).await;
    let listed: Vec<Value> = listed.body["items"].as_array().unwrap().clone();
    assert_eq!(ids(&listed), new_ids, "Bob lists the copies");
    let bobs = records(&export(&app, &bob, "").await);
    assert_eq!(ids(&bobs), new_ids);
    for (copy, original) in bobs.iter().zip(&alices) {
        let texts = |record: &Value| -> Vec<Value> {
            let chunks = record["chunks"].as_array().unwrap();
            chunks
                .iter()
                .map(|chunk| chunk["content"].clone())
                .collect()
        };
        assert_eq!(texts(copy), texts(original));
        assert_eq!(copy["external_id"], original["external_id"]);
    }
    let (alices_chunks, bobs_chunks) = (chunk_ids(&alices), chunk_ids(&bobs));
    assert!(
        bobs_chunks.iter().all(|id| !alices_chunks.contains(id)),
        "the copies' chunks (and vectors) have ids of their own"
    );

    // Alice's chunks were embedded as she ingested them; the copies wait for the indexer.
    let indexed = app.state.indexer.drain_pending(|_| {}).await.unwrap();
    assert_eq!(indexed, bobs_chunks.len());
    let query = json!({"query": "how long a reference is valid", "limit": 1});
    let found = app.search(&bob, query.clone()).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let copy = &notices[1]["new_id"];
    assert_eq!(hit_documents(&found.body), [copy.as_str().unwrap()]);
    let found = app.search(&alice, query).await;
    assert_eq!(
        hit_documents(&found.body),
        [alices[1]["id"].as_str().unwrap()]
    );
    assert_eq!(
        records(&export(&app, &alice, "").await),
        alices,
        "Alice's untouched"
    );

    let again = import(&app, &bob, "", body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["imported"], 0, "{}", again.body);
    assert_eq!(again.body["unchanged"], 2, "{}", again.body);
    assert_eq!(
        again.body["notices"], report["notices"],
        "the same ids again"
    );
    assert_eq!(app.documents().await, 4);
    app.assert_a_vector_per_chunk().await;
}

/// A shared document's record, imported into an account, is copied there too: the shared one
/// keeps its id and its text.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_shared_documents_record_imported_into_an_account_is_copied(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let admin = app.user(Role::Admin).await;
    let alice = app.user(Role::User).await;
    let line = record(1, "Shared knowledge, copied.");
    let shared = import(
        &app,
        &admin,
        "?scope=shared",
        ndjson(std::slice::from_ref(&line)),
    )
    .await;
    assert_eq!(shared.body["imported"], 1, "{}", shared.body);

    for (imported, unchanged) in [(1, 0), (0, 1)] {
        let reply = import(&app, &alice, "", ndjson(std::slice::from_ref(&line))).await;
        assert_eq!(reply.body["imported"], imported, "{}", reply.body);
        assert_eq!(reply.body["unchanged"], unchanged, "{}", reply.body);
        assert_eq!(reply.body["notices"][0]["code"], "stored_under_new_id");
    }
    let mine = app.get_as("/api/memory/documents?scope=mine", &alice).await;
    let items = mine.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", mine.body);
    assert_ne!(items[0]["id"], line["id"]);
    let shared = app
        .get_as(
            &format!("/api/memory/documents/{}", line["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(shared.body["shared"], true, "{}", shared.body);
}

/// A line that cannot be copied fails as before: one taking a chunk id of another of the
/// importer's own documents (`chunk_id_taken`), one whose copy's id is held by a third
/// account (`document_id_taken`, worded as for any taken id: nothing more is told).
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn lines_that_cannot_be_copied_fail_as_taken_ids_did(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, bob, carol) = (
        app.user(Role::User).await,
        app.user(Role::User).await,
        app.user(Role::User).await,
    );
    let alices = record(1, "Alice's words.");
    let bobs = record(2, "Bob's words.");
    let mut squatter = record(3, "Carol's words.");
    let original = alices["id"].as_str().unwrap().parse().unwrap();
    squatter["id"] = json!(memory::transfer::copies::copy_id(Some(bob.id), original));
    for (user, line) in [(&alice, &alices), (&bob, &bobs), (&carol, &squatter)] {
        let reply = import(&app, user, "", ndjson(std::slice::from_ref(line))).await;
        assert_eq!(reply.body["imported"], 1, "{}", reply.body);
    }

    let mut own_chunk = record(4, "Another of Bob's.");
    own_chunk["chunks"][0]["id"] = bobs["chunks"][0]["id"].clone();
    let body = ndjson(&[alices.clone(), own_chunk]);
    let reply = import(&app, &bob, "", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["imported"], 0, "{}", reply.body);
    assert_eq!(reply.body["failed"], 2, "{}", reply.body);
    let errors = &reply.body["errors"];
    assert_eq!(errors[0]["code"], "document_id_taken", "{errors}");
    assert_eq!(errors[0]["id"], alices["id"]);
    assert_eq!(
        errors[0]["message"],
        "this id belongs to another document: it cannot be imported"
    );
    assert_eq!(errors[1]["code"], "chunk_id_taken", "{errors}");
    assert_eq!(app.documents().await, 3);
}

/// A document's hash is that of its text as ingested, line break at the end included, while
/// its lone chunk is trimmed: an import cannot recompute the hash from the chunk, so it
/// keeps the one given, and a later ingestion of that text by the importer finds the copy.
/// Pins why a supplied `content_hash` that differs from its lone chunk's is not refused
/// (it held).
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_hash_that_differs_from_its_lone_chunks_is_kept(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, bob) = (app.user(Role::User).await, app.user(Role::User).await);
    let text = "A note that ends with a line break.\n";
    let note = json!({"source": "notes", "content": text});
    let reply = app.ingest(&alice, note.clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let lines = records(&export(&app, &alice, "").await);
    let chunk = lines[0]["chunks"][0]["content"].as_str().unwrap();
    assert_eq!(lines[0]["content_hash"], memory::ingest::sha256_hex(text));
    assert_ne!(lines[0]["content_hash"], memory::ingest::sha256_hex(chunk));

    let reply = import(&app, &bob, "", ndjson(&lines)).await;
    assert_eq!(reply.body["imported"], 1, "{}", reply.body);
    let again = app.ingest(&bob, note).await;
    assert_eq!(again.body["status"], "unchanged", "{}", again.body);
    assert_eq!(
        again.body["document"]["id"],
        reply.body["notices"][0]["new_id"]
    );
}

/// A line of another owner's whose text the importer holds already is not copied: the
/// report names the importer's document and no new id (none was stored).
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn another_owners_line_with_text_the_importer_holds_is_not_copied(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (alice, bob) = (app.user(Role::User).await, app.user(Role::User).await);
    let note = json!({"source": "notes", "content": "Both wrote this."});
    app.ingest(&alice, note.clone()).await;
    let bobs = app.ingest(&bob, note).await;
    let lines = records(&export(&app, &alice, "").await);

    let reply = import(&app, &bob, "", ndjson(&lines)).await;
    assert_eq!(reply.body["unchanged"], 1, "{}", reply.body);
    let notices = reply.body["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{}", reply.body);
    assert_eq!(notices[0]["code"], "duplicate_content");
    assert!(notices[0].get("new_id").is_none(), "{}", reply.body);
    let id = bobs.body["document"]["id"].as_str().unwrap();
    assert!(notices[0]["message"].as_str().unwrap().contains(id));
    assert_eq!(app.documents().await, 2);
}
