//! The reverse proxy over real HTTP: routing, headers, streaming bodies, error answers.

mod common;

use std::{sync::atomic::Ordering, time::Duration};

use common::{
    get_json, json_answer, pattern, pattern_stream, raw_json_body, raw_request, sha256_of, stack,
    stack_with,
};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Large enough to exceed the 10 MiB project upload limit the gateway must not cut.
const BIG: usize = 12 * 1024 * 1024 + 7;

#[tokio::test]
async fn each_prefix_reaches_its_own_service() {
    let stack = stack().await;
    let cases = [
        ("/api/auth/login", "auth"),
        ("/.well-known/jwks.json", "auth"),
        ("/api/projects", "project"),
        ("/api/projects/p1/tasks/7", "project"),
        ("/api/memory/search", "memory"),
    ];
    for (path, service) in cases {
        let (status, echo) = get_json(&format!("{}{path}", stack.gateway)).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(echo["service"], service, "{path}");
        assert_eq!(echo["path"], path);
    }
    assert_eq!(stack.auth.requests.load(Ordering::SeqCst), 2);
    assert_eq!(stack.project.requests.load(Ordering::SeqCst), 2);
    assert_eq!(stack.memory.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unknown_paths_get_the_platform_404_without_reaching_a_service() {
    let stack = stack().await;
    for path in ["/api/nope", "/api/projectsX", "/api", "/"] {
        let (status, body) = get_json(&format!("{}{path}", stack.gateway)).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    assert_eq!(stack.requests_reached(), 0);
}

#[tokio::test]
async fn method_query_and_headers_are_preserved() {
    let stack = stack().await;
    let response = stack
        .request(Method::PATCH, "/api/projects/p1?x=1&y=a%20b&x=2")
        .header("authorization", "Bearer token-123")
        .header("x-custom", "one")
        .header("x-custom", "two")
        .header("x-request-id", "req-abc")
        .json(&json!({"name": "renamed"}))
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-abc");
    let echo: Value = response.json().await.expect("json");
    assert_eq!(echo["method"], "PATCH");
    assert_eq!(echo["query"], "x=1&y=a%20b&x=2");
    let headers = &echo["headers"];
    assert_eq!(headers["authorization"], json!(["Bearer token-123"]));
    assert_eq!(headers["x-custom"], json!(["one", "two"]));
    assert_eq!(headers["x-request-id"], json!(["req-abc"]));
    assert_eq!(headers["content-type"], json!(["application/json"]));
    assert_eq!(echo["body_len"], r#"{"name":"renamed"}"#.len());
}

#[tokio::test]
async fn a_request_id_is_generated_and_forwarded_when_the_client_sends_none() {
    let stack = stack().await;
    let response = stack.get("/api/memory/documents").await;
    let returned = response.headers()["x-request-id"].clone();
    let echo: Value = response.json().await.expect("json");
    assert_eq!(
        echo["headers"]["x-request-id"],
        json!([returned.to_str().unwrap()])
    );
}

#[tokio::test]
async fn hop_by_hop_request_headers_are_dropped() {
    let stack = stack().await;
    let answer = raw_request(
        &stack.gateway,
        "GET /api/projects HTTP/1.1\r\n\
         Host: app.example\r\n\
         Connection: close, x-per-hop\r\n\
         Keep-Alive: timeout=5\r\n\
         X-Per-Hop: 1\r\n\
         TE: trailers\r\n\
         Trailer: x-checksum\r\n\
         Upgrade: websocket\r\n\
         Proxy-Authorization: Basic c2VjcmV0\r\n\
         X-End-To-End: yes\r\n\
         \r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let echo = raw_json_body(&answer);
    let headers = echo["headers"].as_object().expect("headers");
    for dropped in [
        "keep-alive",
        "x-per-hop",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
    ] {
        assert!(
            !headers.contains_key(dropped),
            "{dropped} leaked: {headers:?}"
        );
    }
    // Whatever `connection` the client library adds is its own, never the caller's.
    assert_ne!(
        headers.get("connection"),
        Some(&json!(["close, x-per-hop"]))
    );
    assert_eq!(headers["x-end-to-end"], json!(["yes"]));
    assert_eq!(headers["x-forwarded-host"], json!(["app.example"]));
    assert_eq!(headers["x-forwarded-proto"], json!(["http"]));
}

#[tokio::test]
async fn hop_by_hop_response_headers_are_dropped() {
    let stack = stack().await;
    let response = stack.get("/api/auth/me?hop=1").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["x-end-to-end"], "kept");
    for dropped in ["keep-alive", "proxy-authenticate", "trailer"] {
        assert!(
            !headers.contains_key(dropped),
            "{dropped} leaked: {headers:?}"
        );
    }
}

/// What the upstream receives when a client sends `X-Forwarded-For: forwarded_for` and
/// `X-Forwarded-Proto: https` to a gateway trusting `trusted_proxies` (empty: none, the
/// gateway is the edge): those two headers.
async fn forwarded_headers_seen(trusted_proxies: &str, forwarded_for: &str) -> (Value, Value) {
    let stack = stack_with(|settings| {
        settings.trusted_proxies = trusted_proxies.parse().expect("proxies");
    })
    .await;
    let echo = json_answer(
        stack
            .request(Method::GET, "/api/auth/session")
            .header("x-forwarded-for", forwarded_for)
            .header("x-forwarded-proto", "https"),
    )
    .await;
    let headers = &echo["headers"];
    (
        headers["x-forwarded-for"].clone(),
        headers["x-forwarded-proto"].clone(),
    )
}

#[tokio::test]
async fn the_peer_address_is_the_forwarded_for_at_the_edge() {
    let seen = forwarded_headers_seen("", "6.6.6.6").await;
    assert_eq!(seen, (json!(["127.0.0.1"]), json!(["http"])));
}

#[tokio::test]
async fn a_peer_outside_the_trusted_proxies_has_its_forwarded_headers_replaced() {
    let seen = forwarded_headers_seen("10.0.0.0/8, 127.0.0.2", "6.6.6.6").await;
    assert_eq!(seen, (json!(["127.0.0.1"]), json!(["http"])));
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_peer_is_appended_to_forwarded_for() {
    let seen = forwarded_headers_seen("127.0.0.1/32", "203.0.113.7, 10.1.1.1").await;
    let appended = json!(["203.0.113.7, 10.1.1.1, 127.0.0.1"]);
    assert_eq!(seen, (appended, json!(["https"])));
}

#[tokio::test]
async fn a_large_streamed_upload_arrives_intact() {
    let stack = stack().await;
    let echo = json_answer(
        stack
            .request(Method::POST, "/api/projects/p1/files")
            .header("content-type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(pattern_stream(BIG))),
    )
    .await;
    assert_eq!(echo["body_len"], BIG);
    assert_eq!(echo["body_sha256"], sha256_of(pattern(BIG)));
}

#[tokio::test]
async fn a_large_upload_with_content_length_keeps_it() {
    let stack = stack().await;
    let echo = json_answer(
        stack
            .request(Method::PUT, "/api/projects/p1/files/a.bin")
            .body(pattern(BIG).collect::<Vec<u8>>()),
    )
    .await;
    assert_eq!(echo["headers"]["content-length"], json!([BIG.to_string()]));
    assert_eq!(echo["body_sha256"], sha256_of(pattern(BIG)));
}

#[tokio::test]
async fn a_large_download_arrives_intact() {
    let stack = stack().await;
    let response = stack
        .get(&format!("/api/projects/p1/files/a.bin?download={BIG}"))
        .await;
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.expect("body");
    assert_eq!(body.len(), BIG);
    assert_eq!(sha256_of(body.iter().copied()), sha256_of(pattern(BIG)));
}

#[tokio::test]
async fn response_chunks_pass_through_before_the_upstream_finishes() {
    let stack = stack().await;
    let mut response = stack.get("/api/memory/export?wait=1").await;
    // A buffering proxy would wait for "second", which the upstream only sends after the
    // test has seen "first": the guard turns that deadlock into a failure.
    let first = tokio::time::timeout(Duration::from_secs(30), response.chunk())
        .await
        .expect("first chunk arrives while the upstream is still waiting")
        .expect("chunk")
        .expect("not the end");
    assert_eq!(first, "first;");
    stack.memory.release.notify_one();
    let rest = response.bytes().await.expect("rest");
    assert_eq!(rest, "second");
}

#[tokio::test]
async fn upstream_errors_pass_through_unchanged() {
    let stack = stack().await;
    for status in [400u16, 401, 404, 409, 422, 429, 500, 503] {
        let response = stack
            .request(Method::POST, &format!("/api/projects?status={status}"))
            .send()
            .await
            .expect("gateway answers");
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.headers()["x-upstream-header"], "kept");
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            body,
            json!({"error": {"code": "upstream_says_no", "message": "from upstream"}})
        );
    }
}

#[tokio::test]
async fn a_dead_upstream_is_a_502_naming_it() {
    let stack = stack_with(|settings| settings.project_url = common::dead_url()).await;
    let (status, body) = get_json(&format!("{}/api/projects", stack.gateway)).await;
    assert_eq!(status, 502);
    assert_eq!(
        body,
        json!({"error": {
            "code": "upstream_unavailable",
            "message": "the project service is unreachable"
        }})
    );
    // The other services are unaffected.
    let (status, _) = get_json(&format!("{}/api/memory/search", stack.gateway)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_slow_upstream_is_a_504_naming_it() {
    let stack = stack_with(|settings| settings.upstream_timeout = Duration::from_millis(200)).await;
    let (status, body) = get_json(&format!("{}/api/memory/search?hang=1", stack.gateway)).await;
    assert_eq!(status, 504);
    assert_eq!(
        body,
        json!({"error": {
            "code": "upstream_timeout",
            "message": "the memory service did not answer in time"
        }})
    );
}

#[tokio::test]
async fn an_upload_announced_with_expect_continue_goes_through() {
    // What curl does for bodies over 1 MiB: send the head, wait for `100 Continue`.
    let stack = stack().await;
    let body = pattern(BIG).collect::<Vec<u8>>();
    let address = stack.gateway.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/projects/p1/files HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\
         Content-Length: {BIG}\r\nExpect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    let mut interim = [0u8; 25];
    tokio::time::timeout(Duration::from_secs(30), stream.read_exact(&mut interim))
        .await
        .expect("the gateway asks for the body instead of waiting for it")
        .expect("read");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(&body).await.expect("write body");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let echo = raw_json_body(&answer);
    assert_eq!(echo["body_sha256"], sha256_of(pattern(BIG)));
    assert!(echo["headers"].get("expect").is_none(), "{echo}");
}
