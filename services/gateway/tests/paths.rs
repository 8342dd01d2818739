//! Paths that could leave the route they matched are refused before any service sees them;
//! ordinary paths, dots and escapes inside names included, still pass.

mod common;

use common::{raw_get, raw_request, stack};
use serde_json::Value;

#[tokio::test]
async fn dot_segment_probes_are_refused_and_never_forwarded() {
    let stack = stack().await;
    for path in [
        // The two probes of the report: both reached the memory service's own routes.
        "/api/memory/%2e%2e/%2e%2e/health/ready",
        "/api/memory/../../openapi.json",
        "/api/memory/%2E%2E/%2E%2E/api/projects",
        "/api/memory/.%2e/.%2E/api/auth/login",
        "/api/memory/./x",
        "/api/projects/p1/files/..%2f..%2f..%2fopenapi.json",
        "/api/projects/p1/files/..%5C..%5Copenapi.json",
        "/api/projects/p1/files/..\\..\\..\\openapi.json",
        "/api/auth/me%00",
        "/.well-known/../api/memory/x",
        "/nowhere/../api/memory/x",
    ] {
        let (status, body) = raw_get(&stack.gateway, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_path", "{path}: {body}");
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
    }
    assert_eq!(stack.requests_reached(), 0, "a probe reached a service");
}

#[tokio::test]
async fn ordinary_paths_with_dots_and_escapes_are_forwarded_unchanged() {
    let stack = stack().await;
    let cases = [
        ("/api/projects/x/files/readme.md", "project"),
        ("/api/projects/x/files/my%20notes.txt", "project"),
        ("/api/projects/x/files/.env", "project"),
        ("/api/memory/documents/...", "memory"),
        ("/api/memory/documents/..hidden", "memory"),
        ("/.well-known/jwks.json", "auth"),
    ];
    for (path, service) in cases {
        let response = stack.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let echo: Value = response.json().await.expect("json");
        assert_eq!(echo["service"], service, "{path}");
        assert_eq!(echo["path"], path);
    }
    // The same over raw HTTP, so nothing was tidied on the way in.
    let (status, echo) = raw_get(&stack.gateway, "/api/projects/x/files/a.b%20c").await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["path"], "/api/projects/x/files/a.b%20c");
}

#[tokio::test]
async fn a_refused_path_still_carries_a_request_id() {
    let stack = stack().await;
    let answer = raw_request(
        &stack.gateway,
        "GET /api/memory/%2e%2e/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("\r\nx-request-id: "),
        "{answer}"
    );
    let kept = raw_request(
        &stack.gateway,
        "GET /api/memory/%2e%2e/x HTTP/1.1\r\nHost: gw\r\nX-Request-Id: probe-7\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        kept.to_ascii_lowercase()
            .contains("\r\nx-request-id: probe-7\r\n"),
        "{kept}"
    );
}
