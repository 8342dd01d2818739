//! A request body the client breaks or stops sending is the client's fault, and the gateway
//! says so: it must not blame the service it was forwarding to with a 502 or 504.

mod common;

use common::{impatient_stack, raw_json_body, raw_request, raw_status, stack};

#[tokio::test]
async fn a_malformed_chunked_body_is_the_clients_400_not_a_502() {
    let stack = stack().await;
    let answer = raw_request(
        &stack.gateway,
        "POST /api/auth/login HTTP/1.1\r\n\
         Host: gw\r\n\
         Content-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\
         Connection: close\r\n\
         \r\n\
         zz\r\n{}\r\n0\r\n\r\n",
    )
    .await;
    let body = raw_json_body(&answer);
    assert_eq!(raw_status(&answer), 400, "{answer}");
    assert_eq!(body["error"]["code"], "unreadable_body", "{answer}");
}

#[tokio::test]
async fn a_client_that_stops_sending_its_body_gets_408_not_504() {
    // Upstream timeout 300 ms: the client promises 100 bytes, sends 2 and goes quiet.
    let stack = impatient_stack(|_| {}).await;
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        raw_request(
            &stack.gateway,
            "POST /api/memory/search HTTP/1.1\r\n\
             Host: gw\r\n\
             Content-Type: application/json\r\n\
             Content-Length: 100\r\n\
             \r\n\
             {}",
        ),
    )
    .await
    .expect("the gateway answers and closes the connection");
    let body = raw_json_body(&answer);
    assert_eq!(raw_status(&answer), 408, "{answer}");
    assert_eq!(body["error"]["code"], "request_body_timeout", "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}
