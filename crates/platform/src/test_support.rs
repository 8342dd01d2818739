//! What this crate's unit tests share: sending one request through a router in-process.
//! (The workspace's tests use `testkit`, which builds on this crate and so cannot serve it.)

use axum::{Router, body::Body, http::Request, http::StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Sends `request` through `router`; the status and the body as JSON (`null` when the body
/// is not JSON, e.g. a plain "ok").
pub async fn send(router: Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}
