//! An import whose body takes longer to arrive than `REQUEST_TIMEOUT_SECS` is answered in
//! full: the route allows itself `MEMORY_IMPORT_TIMEOUT_SECS`. Every other route is still
//! cut at the service-wide timeout.

use std::{convert::Infallible, sync::Arc, time::Duration};

use authn::Role;
use axum::{
    body::{Body, Bytes},
    http::{Method, StatusCode},
};
use platform::config::CommonConfig;
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::{
    common::TestApp,
    support::{NDJSON, record},
};

/// The app with a one-second request timeout.
async fn impatient_app(pool: PgPool) -> TestApp {
    let mut app = TestApp::new(pool).await;
    app.state.common = Arc::new(CommonConfig {
        request_timeout_secs: 1,
        ..CommonConfig::default()
    });
    app.rebuild();
    app
}

/// A body of `parts` sent one every half second: the last arrives after ~`parts / 2` s.
fn trickling(parts: Vec<String>) -> Body {
    let (sender, receiver) = mpsc::channel::<Result<Bytes, Infallible>>(1);
    tokio::spawn(async move {
        for part in parts {
            if sender.send(Ok(Bytes::from(part))).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    Body::from_stream(futures::stream::unfold(receiver, |mut receiver| async {
        receiver.recv().await.map(|part| (part, receiver))
    }))
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_import_arriving_slower_than_the_request_timeout_is_answered_in_full(pool: PgPool) {
    let app = impatient_app(pool).await;
    let alice = app.user(Role::User).await;
    let lines: Vec<String> = (1..=6)
        .map(|n| format!("{}\n", record(100 + n, &format!("Line {n} arrives late."))))
        .collect();

    let reply = app
        .request(Method::POST, "/api/memory/import")
        .bearer(&alice)
        .header("content-type", NDJSON)
        .body(trickling(lines))
        .send()
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["imported"], 6, "{}", reply.body);
    assert_eq!(reply.body["failed"], 0, "{}", reply.body);
    assert_eq!(app.documents().await, 6);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn other_routes_are_still_cut_at_the_request_timeout(pool: PgPool) {
    let app = impatient_app(pool).await;
    let alice = app.user(Role::User).await;
    let json = r#"{"source": "notes", "content": "Slowly sent."}"#;
    let parts = json
        .as_bytes()
        .chunks(8)
        .map(|part| String::from_utf8(part.to_vec()).expect("ASCII"))
        .collect();

    let reply = app
        .request(Method::POST, "/api/memory/documents")
        .bearer(&alice)
        .header("content-type", "application/json")
        .body(trickling(parts))
        .send()
        .await;

    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.code(), "timeout");
    assert_eq!(app.documents().await, 0);
}
