//! CORS: the gateway answers preflights itself and marks allowed origins on every answer.

mod common;

use std::sync::atomic::Ordering;

use common::stack;
use reqwest::Method;

const FRONTEND: &str = "http://localhost:5173";

#[tokio::test]
async fn preflight_from_an_allowed_origin_is_answered_by_the_gateway() {
    let stack = stack().await;
    let response = stack
        .request(Method::OPTIONS, "/api/projects/p1/files")
        .header("origin", FRONTEND)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("gateway answers");
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], FRONTEND);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("authorization"), "{allowed}");
    assert_eq!(stack.project.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn preflight_from_another_origin_gets_no_permission() {
    let stack = stack().await;
    let response = stack
        .request(Method::OPTIONS, "/api/projects")
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "DELETE")
        .send()
        .await
        .expect("gateway answers");
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    assert_eq!(stack.project.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn simple_requests_carry_cors_headers_only_for_allowed_origins() {
    let stack = stack().await;
    let allowed = stack
        .request(Method::GET, "/api/memory/documents")
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    let exposed = allowed.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    for name in [
        "x-request-id",
        "etag",
        "accept-ranges",
        "content-range",
        "x-file-version",
    ] {
        assert!(exposed.contains(name), "{name} not in {exposed}");
    }

    let denied = stack
        .request(Method::GET, "/api/memory/documents")
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("gateway answers");
    assert!(!denied.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn gateway_errors_carry_cors_headers_so_the_browser_can_read_them() {
    let stack = stack().await;
    let response = stack
        .request(Method::GET, "/api/unknown")
        .header("origin", FRONTEND)
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["access-control-allow-origin"], FRONTEND);
}
