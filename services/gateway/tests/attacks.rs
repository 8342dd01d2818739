//! The gateway probed as an attacker would: forged forwarding headers, hop-by-hop tricks,
//! ambiguous framing, malformed heads, oversized requests and broken upstreams.

mod common;

use std::time::Duration;

use axum::{Json, Router, routing::post};
use common::{
    dead_url, gateway, raw_json_body, raw_request, service_with_standard_layers, settings, stack,
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

fn echoed_headers(answer: &str) -> serde_json::Map<String, Value> {
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    raw_json_body(answer)["headers"]
        .as_object()
        .expect("echoed headers")
        .clone()
}

#[tokio::test]
async fn forged_client_address_headers_never_reach_a_service() {
    let stack = stack().await;
    let answer = raw_request(
        &stack.gateway,
        "GET /api/auth/me HTTP/1.1\r\n\
         Host: gw\r\n\
         Connection: close\r\n\
         X-Forwarded-For: 6.6.6.6\r\n\
         X-Real-IP: 6.6.6.6\r\n\
         Forwarded: for=6.6.6.6;proto=https\r\n\
         X-Forwarded-Host: evil.example\r\n\
         X-Forwarded-Proto: https\r\n\
         \r\n",
    )
    .await;
    let headers = echoed_headers(&answer);
    assert_eq!(headers["x-forwarded-for"], json!(["127.0.0.1"]));
    assert_eq!(headers["x-forwarded-host"], json!(["gw"]));
    assert_eq!(headers["x-forwarded-proto"], json!(["http"]));
    for forged in ["x-real-ip", "forwarded"] {
        assert!(
            !headers.contains_key(forged),
            "{forged} passed on: {headers:?}"
        );
    }
}

#[tokio::test]
async fn connection_cannot_strip_what_the_gateway_adds() {
    let stack = stack().await;
    let answer = raw_request(
        &stack.gateway,
        "GET /api/auth/me HTTP/1.1\r\n\
         Host: gw\r\n\
         Connection: close, x-forwarded-for, x-forwarded-host, x-request-id\r\n\
         X-Request-Id: mine-123\r\n\
         \r\n",
    )
    .await;
    let headers = echoed_headers(&answer);
    assert_eq!(headers["x-forwarded-for"], json!(["127.0.0.1"]));
    assert_eq!(headers["x-forwarded-host"], json!(["gw"]));
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("x-request-id: mine-123"),
        "{answer}"
    );
    assert_eq!(
        headers.get("x-request-id"),
        Some(&json!(["mine-123"])),
        "{headers:?}"
    );
}

#[tokio::test]
async fn content_length_beside_chunked_smuggles_nothing_upstream() {
    let stack = stack().await;
    let answer = raw_request(
        &stack.gateway,
        "POST /api/projects/p HTTP/1.1\r\n\
         Host: gw\r\n\
         Content-Length: 50\r\n\
         Transfer-Encoding: chunked\r\n\
         \r\n\
         0\r\n\r\n\
         GET /api/auth/smuggled HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
    )
    .await;
    // Framed by `chunked` alone, and the connection closed after the ambiguous message:
    // the service sees one empty body, never both framings, and the tail is not a request.
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
    let headers = echoed_headers(&answer);
    assert!(!headers.contains_key("content-length"), "{headers:?}");
    assert_eq!(raw_json_body(&answer)["body_len"], 0);
    assert_eq!(stack.requests_reached(), 1);
}

#[tokio::test]
async fn nul_or_cr_in_a_header_is_refused_before_any_service() {
    let stack = stack().await;
    for bad in ["a\0b", "a\rb"] {
        let head = format!(
            "GET /api/auth/me HTTP/1.1\r\nHost: gw\r\nX-Bad: {bad}\r\nConnection: close\r\n\r\n"
        );
        let answer = raw_request(&stack.gateway, &head).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{bad:?}: {answer}");
    }
    assert_eq!(stack.requests_reached(), 0);
}

#[tokio::test]
async fn a_very_long_url_or_header_list_is_refused_before_any_service() {
    let stack = stack().await;
    let long = "a".repeat(80 * 1024);
    let answer = raw_request(
        &stack.gateway,
        &format!("GET /api/auth/{long} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer}");
    let many: String = (0..200).map(|n| format!("X-H{n}: v\r\n")).collect();
    let answer = raw_request(
        &stack.gateway,
        &format!("GET /api/auth/me HTTP/1.1\r\nHost: gw\r\n{many}Connection: close\r\n\r\n"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(stack.requests_reached(), 0);
}

/// A service with the platform's layers (1 MiB body limit) and a JSON route.
async fn limited_service() -> url::Url {
    let routes =
        Router::new().route(
            "/api/auth/{*rest}",
            post(
                |platform::extract::Json(value): platform::extract::Json<Value>| async move {
                    Json(value)
                },
            ),
        );
    service_with_standard_layers(routes).await
}

#[tokio::test]
async fn a_body_over_the_service_limit_is_a_json_413() {
    let auth = limited_service().await;
    let gateway = gateway(&settings(&auth, &dead_url(), &dead_url())).await;
    let body = format!("\"{}\"", "x".repeat(3 * 1024 * 1024));
    for chunked in [false, true] {
        let request = testkit::http_client().post(format!("{gateway}/api/auth/x"));
        let request = if chunked {
            let chunks = futures::stream::iter(
                body.clone()
                    .into_bytes()
                    .chunks(64 * 1024)
                    .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                    .collect::<Vec<_>>(),
            );
            request.body(reqwest::Body::wrap_stream(chunks))
        } else {
            request.body(body.clone())
        }
        .header("content-type", "application/json");
        let response = request.send().await.expect("answer");
        let status = response.status();
        let json: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 413, "chunked={chunked} status={status} {json}");
        assert!(
            json["error"]["code"].is_string(),
            "chunked={chunked} {json}"
        );
    }
}

/// A service that accepts a connection, reads the head, then answers `reply` and closes.
async fn broken_service(reply: &'static [u8]) -> url::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.expect("accept");
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let _ = socket.write_all(reply).await;
            });
        }
    });
    url::Url::parse(&format!("http://{address}")).expect("url")
}

#[tokio::test]
async fn a_broken_upstream_is_a_json_502() {
    for reply in [
        &b""[..],
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Len",
    ] {
        let memory = broken_service(reply).await;
        let gateway = gateway(&settings(&dead_url(), &dead_url(), &memory)).await;
        let response = tokio::time::timeout(
            Duration::from_secs(20),
            testkit::http_client()
                .get(format!("{gateway}/api/memory/x"))
                .send(),
        )
        .await
        .expect("in time")
        .expect("answer");
        let status = response.status();
        let json: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 502, "{reply:?} {json}");
        assert_eq!(json["error"]["code"], "upstream_failed", "{reply:?} {json}");
    }
}
