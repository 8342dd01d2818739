//! Export (`GET /api/memory/export`) and import (`POST /api/memory/import`) as NDJSON: whose
//! documents go out, a round trip into a fresh database (same ids, fields and texts, then
//! searchable), idempotence, and each bad line reported on its own while the rest import.

mod common;

use authn::Role;
use axum::http::{Method, StatusCode};
use common::{TestApp, hit_documents};
use db::{
    ids::{ProjectId, UserId},
    projects::NewProject,
};
use serde_json::{Value, json};
use sqlx::{PgPool, postgres::PgPoolOptions};
use testkit::{Reply, User};
use uuid::Uuid;

const NDJSON: &str = "application/x-ndjson";

async fn export(app: &TestApp, user: &User, query: &str) -> Reply {
    app.get_as(&format!("/api/memory/export{query}"), user)
        .await
}

/// The records of an export, one per line.
fn records(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["content-type"], NDJSON);
    let text = std::str::from_utf8(&reply.bytes).expect("UTF-8");
    assert!(text.is_empty() || text.ends_with('\n'), "whole lines");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

async fn import(app: &TestApp, user: &User, query: &str, body: String) -> Reply {
    app.request(Method::POST, &format!("/api/memory/import{query}"))
        .bearer(user)
        .header("content-type", NDJSON)
        .body(body)
        .send()
        .await
}

fn ndjson(records: &[Value]) -> String {
    records.iter().map(|record| format!("{record}\n")).collect()
}

async fn project(pool: &PgPool, id: Uuid, owner: &User) {
    let slug = format!("p{}", &id.simple().to_string()[20..]);
    let project = NewProject {
        id: ProjectId(id),
        owner_id: UserId(owner.id),
        name: "Exported project",
        slug: &slug,
        description: "",
    };
    db::projects::project::insert(pool, &project)
        .await
        .expect("insert project");
}

/// Another database on the same server, migrated, dropped by [`Fresh::drop`].
struct Fresh {
    pool: PgPool,
    name: String,
    admin: PgPool,
}

impl Fresh {
    async fn create(admin: &PgPool) -> Self {
        let name = format!("memory_import_{}", Uuid::new_v4().simple());
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(admin)
            .await
            .expect("create database");
        let options = admin.connect_options().as_ref().clone().database(&name);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .expect("connect");
        db::MIGRATOR.run(&pool).await.expect("migrate");
        Self {
            pool,
            name,
            admin: admin.clone(),
        }
    }

    async fn drop(self) {
        self.pool.close().await;
        sqlx::raw_sql(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&self.admin)
            .await
            .expect("drop database");
    }
}

const LONG: &str = "Ownership: every value in Rust has exactly one owner. When the owner goes out \
    of scope, the value is dropped. Moving a value transfers ownership; cloning copies it. \
    Borrowing lets code use a value without taking ownership, through shared references or \
    one mutable reference at a time. The borrow checker enforces these rules at compile time.";

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_export_holds_the_callers_documents_and_admins_export_the_shared_ones(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let admin = app.user(Role::Admin).await;
    assert!(records(&export(&app, &alice, "").await).is_empty());
    let mine = app
        .ingest(
            &alice,
            json!({"source": "notes", "external_id": "own", "title": "Ownership",
                   "tags": ["rust"], "metadata": {"lang": "en"}, "content": LONG}),
        )
        .await;
    app.ingest(&bob, json!({"source": "notes", "content": "Bob's."}))
        .await;
    app.ingest(
        &admin,
        json!({"source": "docs", "content": "For everyone.", "shared": true}),
    )
    .await;

    let exported = export(&app, &alice, "").await;
    assert!(
        exported.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let lines = records(&exported);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let record = &lines[0];
    let document = &mine.body["document"];
    for field in [
        "id",
        "source",
        "external_id",
        "type",
        "path",
        "title",
        "tags",
        "metadata",
    ] {
        assert_eq!(record[field], document[field], "{field}");
    }
    for field in ["project_id", "content_hash", "created_at", "updated_at"] {
        assert_eq!(record[field], document[field], "{field}");
    }
    let shown = app
        .get_as(
            &format!("/api/memory/documents/{}", document["id"].as_str().unwrap()),
            &alice,
        )
        .await;
    let chunks = record["chunks"].as_array().unwrap();
    assert!(chunks.len() >= 2, "{record}");
    for (chunk, stored) in chunks.iter().zip(shown.body["chunks"].as_array().unwrap()) {
        for field in ["id", "index", "content", "metadata", "embedding_model"] {
            assert_eq!(chunk[field], stored[field], "{field}");
        }
    }

    let refused = export(&app, &alice, "?scope=shared").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let shared = records(&export(&app, &admin, "?scope=shared").await);
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0]["source"], "docs");
    assert!(
        records(&export(&app, &admin, "").await).is_empty(),
        "not the admin's own"
    );
    let unknown = export(&app, &alice, "?scope=all").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn export_then_import_into_a_fresh_database_round_trips(pool: PgPool) {
    let source = TestApp::new(pool.clone()).await;
    let alice = source.user(Role::User).await;
    let project_id = Uuid::now_v7();
    project(&source.pool, project_id, &alice).await;
    for body in [
        json!({"source": "notes", "external_id": "own", "title": "Ownership", "tags": ["rust"],
               "metadata": {"lang": "en", "n": 1.5}, "content": LONG, "project_id": project_id}),
        json!({"source": "web", "path": "guide/borrowing.md", "type": "guide",
               "content": "# Borrowing\n\nA reference borrows a value without owning it."}),
        json!({"source": "notes", "content": "Lifetimes name how long a reference is valid."}),
    ] {
        let reply = source.ingest(&alice, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let exported = export(&source, &alice, "").await;
    let lines = records(&exported);
    assert_eq!(lines.len(), 3);

    let fresh = Fresh::create(&pool).await;
    {
        let target = TestApp::new(fresh.pool.clone()).await;
        let carol = target.user(Role::User).await;
        project(&target.pool, project_id, &carol).await;
        let body = String::from_utf8(exported.bytes.to_vec()).unwrap();
        let imported = import(&target, &carol, "", body.clone()).await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
        assert_eq!(
            imported.body,
            json!({"imported": 3, "unchanged": 0, "failed": 0, "projects_dropped": 0,
                   "errors": [], "notices": []})
        );
        // Pending until the indexer embeds them (woken by the import; run here by hand).
        assert_eq!(target.vectors().await, 0);
        let chunks: usize = lines
            .iter()
            .map(|l| l["chunks"].as_array().unwrap().len())
            .sum();
        let indexed = target.state.indexer.drain_pending(|_| {}).await.unwrap();
        assert_eq!(indexed, chunks);

        // The same records come out again: ids, fields, timestamps, chunk ids and texts.
        let again = records(&export(&target, &carol, "").await);
        assert_eq!(again, lines);
        let found = target
            .search(
                &carol,
                json!({"query": "how long a reference is valid", "limit": 1}),
            )
            .await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        assert_eq!(
            hit_documents(&found.body),
            [lines[2]["id"].as_str().unwrap()]
        );

        let repeated = import(&target, &carol, "", body).await;
        assert_eq!(repeated.body["imported"], 0);
        assert_eq!(repeated.body["unchanged"], 3, "{}", repeated.body);
        assert_eq!(target.vectors().await, chunks as u64);
    }
    fresh.drop().await;
}

/// A valid record: `n` makes its id, chunk id and text its own.
fn record(n: u128, text: &str) -> Value {
    json!({"id": Uuid::from_u128(0xd0c0_0000 + n), "source": "import",
           "chunks": [{"id": Uuid::from_u128(0xc4c0_0000 + n), "index": 0, "content": text}]})
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn each_bad_line_is_reported_and_the_others_import(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let bobs_document = app
        .ingest(
            &bob,
            json!({"source": "notes", "content": "Bob's own words."}),
        )
        .await;
    let shown = app
        .get_as(
            &format!(
                "/api/memory/documents/{}",
                bobs_document.body["document"]["id"].as_str().unwrap()
            ),
            &bob,
        )
        .await;
    let bobs_project = Uuid::now_v7();
    project(&app.pool, bobs_project, &bob).await;
    app.ingest(
        &alice,
        json!({"source": "notes", "external_id": "kept", "content": "Stored first."}),
    )
    .await;

    let first = record(1, "The first line imports.");
    let mut with_nul = record(3, "Text.");
    with_nul["title"] = json!("a\u{0}b");
    let mut without_chunks = record(4, "x");
    without_chunks["chunks"] = json!([]);
    let mut same_index = record(5, "One.");
    same_index["chunks"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": Uuid::now_v7(), "index": 0, "content": "Two."}));
    let mut bobs_id = record(6, "Taking Bob's id.");
    bobs_id["id"] = bobs_document.body["document"]["id"].clone();
    let mut bad_type = record(7, "Typed.");
    bad_type["type"] = json!("Code!");
    let mut in_bobs_project = record(9, "Filed under Bob's project.");
    in_bobs_project["project_id"] = json!(bobs_project);
    let mut unknown_field = record(10, "Extra.");
    unknown_field["owner_id"] = json!(bob.id);
    let mut bobs_chunk = record(11, "Taking Bob's chunk id.");
    bobs_chunk["chunks"][0]["id"] = shown.body["chunks"][0]["id"].clone();
    let mut copy = record(12, "The first line imports.");
    copy["content_hash"] = json!(memory::ingest::sha256_hex("The first line imports."));
    let mut first_hashed = first.clone();
    first_hashed["content_hash"] = copy["content_hash"].clone();
    let mut bad_hash = record(13, "Hashed.");
    bad_hash["content_hash"] = json!("ABC");
    let mut taken_key = record(14, "Another text under a stored key.");
    taken_key["source"] = json!("notes");
    taken_key["external_id"] = json!("kept");
    let mut ancient = record(17, "Before the calendar.");
    ancient["created_at"] = json!("0000-12-31T23:00:00Z");

    let body = [
        first_hashed.to_string(), // 1
        "{not json".into(),       // 2
        "  ".into(),              // 3: blank, skipped
        with_nul.to_string(),     // 4
        without_chunks.to_string(),
        same_index.to_string(),
        bobs_id.to_string(),
        bad_type.to_string(),
        "[1, 2]".into(),                 // 9
        in_bobs_project.to_string(),     // 10
        unknown_field.to_string(),       // 11
        bobs_chunk.to_string(),          // 12
        copy.to_string(),                // 13
        bad_hash.to_string(),            // 14
        taken_key.to_string(),           // 15
        ancient.to_string(),             // 16
        record(16, "Last.").to_string(), // 17, no newline after it
    ]
    .join("\r\n");
    let reply = import(&app, &alice, "", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let report = &reply.body;
    assert_eq!(report["imported"], 3, "{report}");
    assert_eq!(report["unchanged"], 1);
    assert_eq!(report["failed"], 12);
    assert_eq!(report["projects_dropped"], 1);
    let problems = |list: &str| -> Vec<(u64, String)> {
        report[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["line"].as_u64().unwrap(),
                    p["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let expected: Vec<(u64, String)> = [
        (2, "malformed_line"),
        (4, "invalid_text"),
        (5, "empty_content"),
        (6, "invalid_chunks"),
        (7, "document_id_taken"),
        (8, "invalid_type"),
        (9, "invalid_document"),
        (11, "invalid_document"),
        (12, "chunk_id_taken"),
        (14, "invalid_content_hash"),
        (15, "external_id_taken"),
        (16, "invalid_timestamp"),
    ]
    .into_iter()
    .map(|(line, code)| (line, code.to_owned()))
    .collect();
    assert_eq!(problems("errors"), expected);
    assert_eq!(
        problems("notices"),
        [
            (10, "project_dropped".to_owned()),
            (13, "duplicate_content".to_owned())
        ]
    );
    // Bob's document is untouched, and the answer says nothing about it.
    let taken = &report["errors"][4];
    assert!(
        !taken["message"]
            .as_str()
            .unwrap()
            .contains(&bob.id.to_string())
    );
    let bobs_now = app
        .get_as(
            &format!("/api/memory/documents/{}", bobs_id["id"].as_str().unwrap()),
            &bob,
        )
        .await;
    assert_eq!(bobs_now.body["owner_id"], bob.id.to_string());

    let listed = app
        .get_as("/api/memory/documents?source=import", &alice)
        .await;
    let mut ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut wanted = [1, 9, 16].map(|n| Uuid::from_u128(0xd0c0_0000 + n).to_string());
    wanted.sort_unstable();
    assert_eq!(ids, wanted);
    let filed = &listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == in_bobs_project["id"])
        .unwrap()["project_id"];
    assert_eq!(*filed, Value::Null, "dropped, not Bob's project");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn shared_imports_are_for_admins_and_bodies_must_be_ndjson_within_limits(pool: PgPool) {
    let dir = std::sync::Arc::new(tempfile::TempDir::new().unwrap());
    let mut settings = common::settings(&dir, 128);
    settings.memory.memory_max_document_bytes = 100;
    let app = TestApp::with_settings(pool, settings, dir).await;
    let alice = app.user(Role::User).await;
    let admin = app.user(Role::Admin).await;
    let body = ndjson(&[record(1, "Shared knowledge.")]);

    let refused = import(&app, &alice, "?scope=shared", body.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let shared = import(&app, &admin, "?scope=shared", body).await;
    assert_eq!(shared.body["imported"], 1, "{}", shared.body);
    let listed = app
        .get_as("/api/memory/documents?scope=shared", &alice)
        .await;
    assert_eq!(listed.body["items"][0]["shared"], true);

    let as_json = app
        .request(Method::POST, "/api/memory/import")
        .bearer(&alice)
        .header("content-type", "application/json")
        .body(ndjson(&[record(2, "x")]))
        .send()
        .await;
    assert_eq!(as_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(as_json.code(), "unsupported_media_type");
    let declared_too_large = app
        .request(Method::POST, "/api/memory/import")
        .bearer(&alice)
        .header("content-type", NDJSON)
        .header("content-length", &(300u64 << 20).to_string())
        .body("")
        .send()
        .await;
    assert_eq!(declared_too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(declared_too_large.code(), "payload_too_large");

    // A line past what a document under the limit takes is skipped without being held.
    let huge = record(3, &"a".repeat(2 << 20));
    let text_over = record(4, &"word ".repeat(50));
    let body = ndjson(&[huge, text_over, record(5, "Fits.")]);
    let reply = import(&app, &alice, "", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["imported"], 1);
    assert_eq!(reply.body["errors"][0]["line"], 1);
    assert_eq!(reply.body["errors"][0]["code"], "document_too_large");
    assert_eq!(reply.body["errors"][1]["line"], 2);
    assert_eq!(reply.body["errors"][1]["code"], "document_too_large");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_export_is_streamed_from_one_snapshot(pool: PgPool) {
    use futures::StreamExt;

    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let mut ids = Vec::new();
    for n in 0..40 {
        let reply = app
            .ingest(
                &alice,
                json!({"source": "notes", "content": format!("Note {n}.")}),
            )
            .await;
        ids.push(reply.body["document"]["id"].as_str().unwrap().to_owned());
    }
    let body = memory::transfer::export::export(&app.pool, Some(alice.id))
        .await
        .unwrap();
    let mut frames = body.into_data_stream();
    let first = frames.next().await.unwrap().unwrap();
    let first: Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(first["id"], ids[0], "oldest first, one line per frame");

    // Deleted while the export is under way: it still holds what was there when it began.
    let last = app
        .delete_as(&format!("/api/memory/documents/{}", ids[39]), &alice)
        .await;
    assert_eq!(last.status, StatusCode::NO_CONTENT);
    let mut exported = vec![first["id"].as_str().unwrap().to_owned()];
    while let Some(frame) = frames.next().await {
        let record: Value = serde_json::from_slice(&frame.unwrap()).unwrap();
        exported.push(record["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(exported, ids);
}
