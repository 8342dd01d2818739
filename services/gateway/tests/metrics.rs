//! Each service's `/metrics` is for the scraper on the internal network: the gateway
//! forwards only its API prefixes, so no path through it reaches a service's metrics.

mod common;

use common::{Stack, raw_json_body, raw_request, stack};
use testkit::http_client;

fn reached(stack: &Stack) -> usize {
    [&stack.auth, &stack.project, &stack.memory]
        .iter()
        .map(|upstream| upstream.all_requests())
        .sum()
}

/// Raw HTTP/1.1, so dot segments arrive as written.
async fn raw_status(gateway: &str, path: &str) -> (u16, String) {
    let head = format!("GET {path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
    let answer = raw_request(gateway, &head).await;
    let status = answer
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer}"));
    let code = raw_json_body(&answer)["error"]["code"]
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
