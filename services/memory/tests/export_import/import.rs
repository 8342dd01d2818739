//! Importing lines: each bad one reported with its line number while the rest import, shared
//! imports for admins only, and the limits on bodies and lines.

use authn::Role;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    common::{self, TestApp},
    support::{NDJSON, import, ndjson, project, record},
};

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
    assert_eq!(report["imported"], 5, "{report}");
    assert_eq!(report["unchanged"], 1);
    assert_eq!(report["failed"], 10);
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
        (8, "invalid_type"),
        (9, "invalid_document"),
        (11, "invalid_document"),
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
            (7, "stored_under_new_id".to_owned()),
            (10, "project_dropped".to_owned()),
            (12, "stored_under_new_id".to_owned()),
            (13, "duplicate_content".to_owned())
        ]
    );
    // Bob's document is untouched, and the answer says nothing about it: Alice's copies
    // of the lines holding its ids are her own documents.
    let copied = &report["notices"][0];
    assert!(
        !copied["message"]
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
    let copy = |line: &Value| {
        let id = line["id"].as_str().unwrap().parse().unwrap();
        memory::transfer::copies::copy_id(Some(alice.id), id)
    };
    let mut wanted: Vec<String> = [1, 9, 16]
        .map(|n| Uuid::from_u128(0xd0c0_0000 + n))
        .into_iter()
        .chain([copy(&bobs_id), copy(&bobs_chunk)])
        .map(|id| id.to_string())
        .collect();
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
    let message = declared_too_large.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.ends_with("nothing was read: send at most that much per request"),
        "{message}"
    );

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

/// The same lines imported twice at once: every document lands once, and neither answer
/// calls a line failed (one imports it, the other finds it unchanged). Before, a batch that
/// committed between the other's two reads made its chunks look like another document's.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn two_identical_imports_at_once_each_answer_every_line(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let user = app.user(Role::User).await;
    let lines: Vec<Value> = (0..1_200)
        .map(|n| record(n, &format!("race text {n}")))
        .collect();
    let body = ndjson(&lines);
    let (first, second) = tokio::join!(
        import(&app, &user, "", body.clone()),
        import(&app, &user, "", body)
    );
    let mut imported = 0;
    for reply in [&first, &second] {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["failed"], 0, "{}", reply.body["errors"]);
        imported += reply.body["imported"].as_u64().expect("imported");
    }
    assert_eq!(imported, 1_200, "each line imported by one of the two");
    assert_eq!(app.documents().await, 1_200);
}

/// A record of one chunk without `content_hash` gets the hash ingestion gives the same text
/// (its chunk is its text), so ingesting that text afterwards finds it instead of storing a
/// second copy. Before, it was stored without a hash and the later ingestion created a
/// duplicate.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_record_without_a_content_hash_is_found_by_a_later_ingestion_of_its_text(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let text = "Written by hand, without a hash.";
    let reply = import(&app, &alice, "", ndjson(&[record(1, text)])).await;
    assert_eq!(reply.body["imported"], 1, "{}", reply.body);
    let again = app
        .ingest(&alice, json!({"source": "import", "content": text}))
        .await;
    assert_eq!(again.body["status"], "unchanged", "{}", again.body);
    assert_eq!(again.body["document"]["id"], record(1, text)["id"]);
    assert_eq!(app.documents().await, 1);
}

/// Re-ingestion keys belong to their owner: a line with the source and external_id of Bob's
/// document (as a file of his would have) becomes Alice's own document, and Bob's keeps its
/// text; importing it again is unchanged. Pins a guarantee that had no test (it held).
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_line_with_another_users_key_never_touches_their_document(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let bobs = app
        .ingest(
            &bob,
            json!({"source": "notes", "external_id": "k", "content": "Bob's words."}),
        )
        .await;
    let mut line = record(1, "Alice's words.");
    line["source"] = json!("notes");
    line["external_id"] = json!("k");
    for imported in [1, 0] {
        let reply = import(&app, &alice, "", ndjson(&[line.clone()])).await;
        assert_eq!(reply.body["imported"], imported, "{}", reply.body);
        assert_eq!(reply.body["failed"], 0, "{}", reply.body);
    }
    let id = bobs.body["document"]["id"].as_str().unwrap();
    let shown = app
        .get_as(&format!("/api/memory/documents/{id}"), &bob)
        .await;
    assert_eq!(shown.body["chunks"][0]["content"], "Bob's words.");
    let alices = app
        .get_as(
            &format!("/api/memory/documents/{}", line["id"].as_str().unwrap()),
            &alice,
        )
        .await;
    assert_eq!(alices.body["owner_id"], alice.id.to_string());
    assert_eq!(app.documents().await, 2);
}
