//! Each service's `/metrics` is for the scraper on the internal network: the gateway
//! forwards only its API prefixes, so no path through it reaches a service's metrics.

mod common;

use common::{Stack, raw_get, stack};
use testkit::http_client;

fn reached(stack: &Stack) -> usize {
    [&stack.auth, &stack.project, &stack.memory]
        .iter()
        .map(|upstream| upstream.all_requests())
        .sum()
}

/// Raw HTTP/1.1, so dot segments arrive as written: the status and the error code.
async fn raw_status(gateway: &str, path: &str) -> (u16, String) {
    let (status, body) = raw_get(gateway, path).await;
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, code)
}

#[tokio::test]
async fn metrics_is_not_served_or_forwarded_by_the_gateway() {
    let stack = stack().await;
    let response = http_client()
        .get(format!("{}/metrics", stack.gateway))
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(response.status(), 404);

    for path in [
        "/api/projects/../../metrics",
        "/api/auth/%2e%2e/%2e%2e/metrics",
        "/api/memory/..%2f..%2fmetrics",
    ] {
        let (status, code) = raw_status(&stack.gateway, path).await;
        assert_eq!((status, code.as_str()), (400, "invalid_path"), "{path}");
    }
    assert_eq!(reached(&stack), 0, "a /metrics probe reached a service");
}
