//! Requests to the two routes, their bodies, and the records and projects the tests use.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Reply, User};
use uuid::Uuid;

use crate::common::TestApp;
pub use crate::common::project;

pub const NDJSON: &str = "application/x-ndjson";

/// `GET /api/memory/export{query}` as `user`.
pub async fn export(app: &TestApp, user: &User, query: &str) -> Reply {
    app.get_as(&format!("/api/memory/export{query}"), user)
        .await
}

/// The records of an export, one per line.
pub fn records(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["content-type"], NDJSON);
    let text = std::str::from_utf8(&reply.bytes).expect("UTF-8");
    assert!(text.is_empty() || text.ends_with('\n'), "whole lines");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// `POST /api/memory/import{query}` of `body` as NDJSON, as `user`.
pub async fn import(app: &TestApp, user: &User, query: &str, body: String) -> Reply {
    app.request(Method::POST, &format!("/api/memory/import{query}"))
        .bearer(user)
        .header("content-type", NDJSON)
        .body(body)
        .send()
        .await
}

/// `records` one per line, as an export writes them.
pub fn ndjson(records: &[Value]) -> String {
    records.iter().map(|record| format!("{record}\n")).collect()
}

/// A text long enough for several chunks.
pub const LONG: &str = "Ownership: every value in Rust has exactly one owner. When the owner goes out \
    of scope, the value is dropped. Moving a value transfers ownership; cloning copies it. \
    Borrowing lets code use a value without taking ownership, through shared references or \
    one mutable reference at a time. The borrow checker enforces these rules at compile time.";

/// A valid record: `n` makes its id, chunk id and text its own.
pub fn record(n: u128, text: &str) -> Value {
    json!({"id": Uuid::from_u128(0xd0c0_0000 + n), "source": "import",
           "chunks": [{"id": Uuid::from_u128(0xc4c0_0000 + n), "index": 0, "content": text}]})
}
