//! A failing embedding provider is reported as a generic 503: its URL, status and error
//! text go to the log (with the request id), never to the user.

mod common;

use std::sync::Arc;

use authn::Role;
use axum::{Router, http::StatusCode, routing::post};
use common::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;
use tempfile::TempDir;
use testkit::CapturedLogs;
use tracing::Level;

/// What the provider puts in its refusal: must never reach the user.
const PROVIDER_SECRET: &str = "Incorrect API key provided: sk-live-0123SECRET";
const GENERIC: &str = "the embedding service is unavailable; nothing was stored: try again later";

/// An OpenAI-compatible provider on loopback that refuses every request with `status`.
async fn refusing_provider(status: StatusCode) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("addr");
    let app = Router::new().route(
        "/v1/embeddings",
        post(move || async move {
            let body =
                json!({ "error": { "message": PROVIDER_SECRET, "type": "invalid_request_error" } });
            (status, axum::Json(body))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/v1")
}

async fn app_with_provider(pool: PgPool, url: &str) -> TestApp {
    let dir = TempDir::new().expect("temp dir");
    let mut settings = common::settings(&dir, 8);
    settings.embedding = embed::EmbeddingConfig {
        embedding_provider: Some(embed::Provider::Openai),
        embedding_model: Some("text-embedding-test".into()),
        embedding_url: Some(url.to_owned()),
        embedding_dim: Some(8),
        embedding_max_retries: Some(0),
        embedding_timeout_secs: Some(2),
        ..Default::default()
    };
    TestApp::with_settings(pool, settings, Arc::new(dir)).await
}

/// The answer is the generic one, and carries nothing of the provider's.
fn assert_generic(status: StatusCode, body: &Value, url: &str) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "embedding_unavailable", "{body}");
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

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_refusing_provider_is_not_echoed_to_users(pool: PgPool) {
    for refusal in [StatusCode::UNAUTHORIZED, StatusCode::INTERNAL_SERVER_ERROR] {
        let url = refusing_provider(refusal).await;
        let app = app_with_provider(pool.clone(), &url).await;
        let alice = app.user(Role::User).await;

        let (status, body) = app
            .ingest(
                &alice,
                json!({"source": "notes", "content": "Never stored."}),
            )
            .await;
        assert_generic(status, &body, &url);
        let (status, body) = app.search(&alice, json!({"query": "anything"})).await;
        assert_generic(status, &body, &url);
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_unreachable_provider_url_is_not_echoed_to_users(pool: PgPool) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let app = app_with_provider(pool, &url).await;
    let alice = app.user(Role::User).await;
    let (status, body) = app
        .ingest(
            &alice,
            json!({"source": "notes", "content": "Never stored."}),
        )
        .await;
    assert_generic(status, &body, &url);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_provider_detail_is_logged_for_operators(pool: PgPool) {
    let url = refusing_provider(StatusCode::UNAUTHORIZED).await;
    let app = app_with_provider(pool, &url).await;
    let alice = app.user(Role::User).await;
    let captured = CapturedLogs::default();
    let (status, _) = {
        // The request runs on this thread (no spawned task), so a thread-local subscriber sees it.
        let _guard = tracing::subscriber::set_default(captured.clone());
        app.search(&alice, json!({"query": "anything"})).await
    };
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let lines = captured.lines();
    assert!(
        lines.iter().any(|(level, line)| *level == Level::WARN
            && line.contains("embedding provider failed")
            && line.contains("401")),
        "{lines:?}"
    );
}
