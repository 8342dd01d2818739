//! What an export holds: the caller's documents (or, for admins, the shared ones) with every
//! field and chunk, read from one snapshot while it streams.

use authn::Role;
use axum::http::StatusCode;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{
    common::TestApp,
    support::{LONG, export, records},
};

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
async fn an_export_is_streamed_from_one_snapshot(pool: PgPool) {
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
    let body = memory::transfer::export::export(&app.pool, Some(alice.id), Duration::from_secs(30))
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

/// A client that stops reading an export gives its snapshot back once it has taken no line
/// for the stall limit (`REQUEST_TIMEOUT_SECS` in the service), and the body it has left
/// ends in an error, never as if the export were complete. Before, the export's transaction
/// (and its pooled connection) stayed open for as long as the client kept the connection:
/// a few clients reading nothing could take every connection of the pool.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_export_nobody_reads_gives_its_connection_back(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    for n in 0..40 {
        app.ingest(
            &alice,
            json!({"source": "notes", "content": format!("Note {n}.")}),
        )
        .await;
    }
    let in_transaction = "SELECT count(*) FROM pg_stat_activity \
                          WHERE datname = current_database() AND state = 'idle in transaction'";
    let body = memory::transfer::export::export(&app.pool, Some(alice.id), Duration::from_secs(1))
        .await
        .unwrap();
    let mut frames = body.into_data_stream();
    assert!(frames.next().await.unwrap().is_ok());
    assert_eq!(app.count(in_transaction).await, 1, "the snapshot is open");

    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        app.count(in_transaction).await,
        0,
        "the snapshot is given back"
    );
    let mut lines = 1;
    let mut broken = false;
    while let Some(frame) = frames.next().await {
        match frame {
            Ok(_) => lines += 1,
            Err(_) => broken = true,
        }
    }
    assert!(lines < 40, "{lines} lines");
    assert!(broken, "the body ends in an error after {lines} lines");
}
