//! A document's version through export and import: kept, so that an edit based on the
//! exported version applies to the imported document as it did to the original.

use authn::Role;
use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::{
    common::TestApp,
    support::{LONG, export, import, ndjson, record, records},
};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_edited_document_keeps_its_version_through_export_and_import(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let ingested = app
        .ingest(&alice, json!({"source": "notes", "content": LONG}))
        .await;
    let id = ingested.body["document"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/memory/documents/{id}");
    let edited = app
        .patch_as(&path, json!({"version": 1, "tags": ["edited"]}), &alice)
        .await;
    assert_eq!(edited.body["version"], 2, "{}", edited.body);

    let exported = records(&export(&app, &alice, "").await);
    assert_eq!(exported[0]["version"], 2, "{}", exported[0]);
    assert_eq!(
        app.delete_as(&path, &alice).await.status,
        StatusCode::NO_CONTENT
    );
    let imported = import(&app, &alice, "", ndjson(&exported)).await;
    assert_eq!(imported.body["imported"], 1, "{}", imported.body);
    let shown = app.get_as(&path, &alice).await;
    assert_eq!(shown.body["version"], 2, "{}", shown.body);
    let stale = app
        .patch_as(&path, json!({"version": 1, "title": "x"}), &alice)
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    let current = app
        .patch_as(&path, json!({"version": 2, "title": "x"}), &alice)
        .await;
    assert_eq!(current.body["version"], 3, "{}", current.body);

    // Absent, a record starts at 1; below 1 is refused, line by line.
    let mut bad = record(1, "Version zero.");
    bad["version"] = json!(0);
    let reply = import(&app, &alice, "", ndjson(&[bad, record(2, "No version.")])).await;
    assert_eq!(reply.body["imported"], 1, "{}", reply.body);
    assert_eq!(
        reply.body["errors"][0]["code"], "invalid_version",
        "{}",
        reply.body
    );
    let listed = app
        .get_as("/api/memory/documents?source=import", &alice)
        .await;
    assert_eq!(listed.body["items"][0]["version"], 1, "{}", listed.body);
}
