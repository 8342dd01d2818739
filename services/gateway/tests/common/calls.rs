//! Calling the gateway from a test: through an HTTP client, or over raw HTTP/1.1 for
//! requests a client library would not send as written.

use axum::http::StatusCode;
use serde_json::Value;
use testkit::http_client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `head` (and nothing more) to the gateway over raw HTTP/1.1 and reads the whole
/// answer: for requests an HTTP client library would not send as written.
pub async fn raw_request(gateway: &str, head: &str) -> String {
    let address = gateway.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
}

/// `GET path` over raw HTTP/1.1: client libraries resolve `..` and `%2e%2e` before sending,
/// so they could never send such probes. The status and the JSON body.
pub async fn raw_get(gateway: &str, path: &str) -> (u16, Value) {
    let head = format!("GET {path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
    let answer = raw_request(gateway, &head).await;
    (raw_status(&answer), raw_json_body(&answer))
}

/// The status code of a raw HTTP answer.
pub fn raw_status(answer: &str) -> u16 {
    answer
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer}"))
}

/// The body of a raw HTTP answer, parsed as JSON (`null` when it is not JSON).
pub fn raw_json_body(answer: &str) -> Value {
    let body = &answer[answer.find("\r\n\r\n").expect("head ends") + 4..];
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// Sends `request` and returns the JSON it is answered with, such as an upstream's echo.
pub async fn json_answer(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("gateway answers");
    response.json().await.expect("json body")
}

/// `GET url` through a fresh client; the status and the JSON body.
pub async fn get_json(url: &str) -> (StatusCode, Value) {
    status_and_json(http_client().get(url)).await
}

/// Sends `request`; the status and the JSON body it is answered with.
pub async fn status_and_json(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("gateway answers");
    let status = response.status();
    (status, response.json().await.expect("json body"))
}
