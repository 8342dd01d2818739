//! What an export holds: the caller's documents (or, for admins, the shared ones) with every
//! field and chunk, read from one snapshot while it streams.

use authn::Role;
use axum::http::{Method, StatusCode, header};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

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
    let slot = app.state.exports.try_take().unwrap();
    let stall_limit = Duration::from_secs(30);
    let body = memory::transfer::export::export(&app.pool, Some(alice.id), stall_limit, slot)
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
    let slot = app.state.exports.try_take().unwrap();
    let stall_limit = Duration::from_secs(1);
    let body = memory::transfer::export::export(&app.pool, Some(alice.id), stall_limit, slot)
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

/// Exports run at once up to a quarter of the pool (two of eight connections here); one
/// more is turned away at once with `503 export_busy` and `Retry-After`, while searches and
/// reads still get a connection; an export given up frees its place. Before, nothing bounded
/// them: a few exports nobody read took every connection, and every other request of the
/// service waited for one until it timed out.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn exports_beyond_a_quarter_of_the_pool_are_turned_away_while_other_requests_answer(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = db::pool::pool_options(8)
        .connect_with(options)
        .await
        .unwrap();
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let mut first = None;
    for n in 0..40 {
        let reply = app
            .ingest(
                &alice,
                json!({"source": "notes", "content": format!("Note {n} on borrowing.")}),
            )
            .await;
        first.get_or_insert(reply.body["document"]["id"].as_str().unwrap().to_owned());
    }
    // More lines than the export reads ahead: each task waits on its reader, snapshot open.
    let mut held = Vec::new();
    for _ in 0..2 {
        let response = app
            .request(Method::GET, "/api/memory/export")
            .bearer(&alice)
            .open()
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        held.push(response);
    }

    let busy = export(&app, &alice, "").await;
    assert_eq!(
        busy.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a third export while two are open"
    );
    assert_eq!(busy.code(), "export_busy");
    assert!(
        busy.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("retry"),
        "{}",
        busy.body
    );
    assert!(busy.headers.contains_key(header::RETRY_AFTER));

    let started = Instant::now();
    let found = app
        .search(&alice, json!({"query": "borrowing", "scope": "mine"}))
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let shown = app
        .get_as(&format!("/api/memory/documents/{}", first.unwrap()), &alice)
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // The reader that goes away ends its export, and with it the export's hold on a place.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    let again = loop {
        let reply = export(&app, &alice, "").await;
        if reply.status != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(records(&again).len(), 40);
}
