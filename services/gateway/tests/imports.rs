//! Imports (`POST /api/memory/import`) answer only once the whole body is imported, minutes
//! for a large one: the gateway forwards them without the per-read upstream timeout and
//! past its own request timeout, bounded by `GATEWAY_IMPORT_TIMEOUT_SECS` instead. Every
//! other route keeps both timeouts.

mod common;

use std::time::Duration;

use common::{Stack, impatient_stack, status_and_json};
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn post(stack: &Stack, path: &str) -> (StatusCode, Value) {
    let request = stack
        .request(Method::POST, path)
        .header("content-type", "application/x-ndjson")
        .body("{}\n");
    status_and_json(request).await
}

#[tokio::test]
async fn an_import_answered_after_both_timeouts_still_gets_through() {
    let stack = impatient_stack(|_| {}).await;
    let (status, body) = post(&stack, "/api/memory/import?delay=1500").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["service"], "memory");
    assert_eq!(body["path"], "/api/memory/import");
    assert_eq!(body["body_len"], 3);
}

#[tokio::test]
async fn other_routes_keep_the_upstream_timeout() {
    let stack = impatient_stack(|_| {}).await;
    for path in [
        "/api/memory/documents?delay=800",
        "/api/memory/import/more?delay=800",
        "/api/projects?delay=800",
    ] {
        let (status, body) = post(&stack, path).await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{path}: {body}");
        assert_eq!(body["error"]["code"], "upstream_timeout", "{path}");
    }
}

#[tokio::test]
async fn other_methods_on_the_import_path_keep_the_upstream_timeout() {
    let stack = impatient_stack(|_| {}).await;
    let response = stack
        .request(Method::GET, "/api/memory/import?delay=800")
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
}

#[tokio::test]
async fn an_import_is_still_cut_at_the_import_timeout() {
    let stack = impatient_stack(|settings| settings.import_timeout = Duration::from_secs(1)).await;
    let (status, body) = post(&stack, "/api/memory/import?delay=3000").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["error"]["code"], "upstream_timeout");
    assert_eq!(
        body["error"]["message"],
        "the memory service did not answer in time"
    );
}
