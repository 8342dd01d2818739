//! A failing embedding provider is reported as a generic 503: its URL, status and error
//! text go to the log (with the request id), never to the user.

mod common;

use std::sync::Arc;

use authn::Role;
use axum::{Router, http::StatusCode, routing::post};
use common::TestApp;
use serde_json::json;
use sqlx::PgPool;
use tempfile::TempDir;
use testkit::{CapturedLogs, Reply, User};
use tracing::Level;

/// What the provider puts in its refusal: must never reach the user.
const PROVIDER_SECRET: &str = "Incorrect API key provided: sk-live-0123SECRET";
const GENERIC: &str = "the embedding service is unavailable; nothing was stored: try again later";

/// An OpenAI-compatible provider on loopback that refuses every request with `status`.
async fn refusing_provider(status: StatusCode) -> String {
    let app = Router::new().route(
        "/v1/embeddings",
        post(move || async move {
            let body =
                json!({ "error": { "message": PROVIDER_SECRET, "type": "invalid_request_error" } });
            (status, axum::Json(body))
        }),
    );
    format!("http://{}/v1", testkit::serve_on_loopback(app).await)
}

async fn app_with_provider(pool: PgPool, url: &str) -> TestApp {
    let dir = TempDir::new().expect("temp dir");
    let settings = common::settings_with_provider(&dir, url);
    TestApp::with_settings(pool, settings, Arc::new(dir)).await
}

/// The answer is the generic one, and carries nothing of the provider's.
fn assert_generic(reply: &Reply, url: &str) {
    let body = &reply.body;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(reply.code(), "embedding_unavailable", "{body}");
    assert_eq!(body["error"]["message"], GENERIC, "{body}");
    let text = body.to_string();
    let port = url
        .rsplit(':')
        .next()
        .expect("port")
        .trim_end_matches("/v1");
    for leak in [
        "sk-live",
        "API key",
        "127.0.0.1",
        port,
        "401",
        "500",
        "http",
    ] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
}

/// A new user whose first ingestion got the generic answer.
async fn user_refused_at_ingestion(app: &TestApp, url: &str) -> User {
    let alice = app.user(Role::User).await;
    let note = json!({"source": "notes", "content": "Never stored."});
    assert_generic(&app.ingest(&alice, note).await, url);
    alice
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_refusing_provider_is_not_echoed_to_users(pool: PgPool) {
    for refusal in [StatusCode::UNAUTHORIZED, StatusCode::INTERNAL_SERVER_ERROR] {
        let url = refusing_provider(refusal).await;
        let app = app_with_provider(pool.clone(), &url).await;
        let alice = user_refused_at_ingestion(&app, &url).await;
        // Searches degrade to a lexical answer (tests/degraded.rs): nothing of the provider's.
        let searched = app.search(&alice, json!({"query": "anything"})).await;
        assert_eq!(searched.status, StatusCode::OK, "{}", searched.body);
        assert_eq!(searched.body["degraded"], true);
        assert!(
            !searched.body.to_string().contains("sk-live"),
            "{}",
            searched.body
        );
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_unreachable_provider_url_is_not_echoed_to_users(pool: PgPool) {
    let url = format!("http://127.0.0.1:{}/v1", testkit::free_port());
    let app = app_with_provider(pool, &url).await;
    user_refused_at_ingestion(&app, &url).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_provider_detail_is_logged_for_operators(pool: PgPool) {
    let url = refusing_provider(StatusCode::UNAUTHORIZED).await;
    let app = app_with_provider(pool, &url).await;
    let alice = app.user(Role::User).await;
    let captured = CapturedLogs::default();
    let searched = {
        // The request runs on this thread (no spawned task), so a thread-local subscriber sees it.
        let _guard = tracing::subscriber::set_default(captured.clone());
        app.search(&alice, json!({"query": "anything"})).await
    };
    assert_eq!(searched.body["degraded"], true, "{}", searched.body);
    let lines = captured.lines();
    assert!(
        lines.iter().any(|(level, line)| *level == Level::WARN
            && line.contains("embedding provider failed")
            && line.contains("401")),
        "{lines:?}"
    );
}
