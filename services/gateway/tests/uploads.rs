//! Project file uploads (`PUT /api/projects/{id}/files/{path}`, form `POST .../files`) take
//! as long as the client's link needs: the gateway forwards them with the upstream timeout
//! counted from the last body bytes it passed on, not from the start, and with its own
//! request timeout counted the same way, within `GATEWAY_UPLOAD_TIMEOUT_SECS`. An upstream
//! that does not answer once the body is through still gets 504.

mod common;

use std::time::Duration;

use common::{Stack, impatient_stack, status_and_json};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// 12 chunks of 1 KiB, one every 200 ms: 2.4 s, past both timeouts.
fn trickle() -> reqwest::Body {
    let sent = futures::stream::unfold(0, |n| async move {
        if n == 12 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((Ok::<_, std::io::Error>(vec![b'x'; 1024]), n + 1))
    });
    reqwest::Body::wrap_stream(sent)
}

async fn send(
    stack: &Stack,
    method: Method,
    path: &str,
    body: reqwest::Body,
) -> (StatusCode, Value) {
    let request = stack
        .request(method, path)
        .header("content-type", "application/octet-stream")
        .body(body);
    status_and_json(request).await
}

#[tokio::test]
async fn a_slow_but_steady_upload_gets_through() {
    let stack = impatient_stack(|_| {}).await;
    for (method, path) in [
        (Method::PUT, "/api/projects/p1/files/docs/slow.bin"),
        (Method::POST, "/api/projects/p1/files"),
    ] {
        let (status, body) = send(&stack, method, path, trickle()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["service"], "project");
        assert_eq!(body["path"], path);
        assert_eq!(body["body_len"], 12 * 1024);
    }
}

#[tokio::test]
async fn an_upstream_silent_after_the_upload_still_times_out() {
    let stack = impatient_stack(|_| {}).await;
    let (status, body) = send(
        &stack,
        Method::PUT,
        "/api/projects/p1/files/late.bin?delay=2000",
        reqwest::Body::from("small"),
    )
    .await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["error"]["code"], "upstream_timeout");
}

#[tokio::test]
async fn other_project_routes_keep_the_upstream_timeout() {
    let stack = impatient_stack(|_| {}).await;
    let (status, body) = send(
        &stack,
        Method::PUT,
        "/api/projects/p1/tasks/t1?delay=800",
        reqwest::Body::from("{}"),
    )
    .await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
}
