//! Input built to hurt: values of 60 KB, JSON nested 3,000 deep, control characters, values
//! of the wrong JSON type. Each is refused with its usual code, and an answer that quotes
//! the input quotes a short, marked excerpt of it, control characters escaped.

mod common;

use authn::Role;
use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::Reply;

/// Far more than any answer to a refusal needs, far less than the input it quotes.
const MAX_ANSWER_BYTES: usize = 2048;

fn huge() -> String {
    "x".repeat(60_000)
}

/// The refusal's message, after checking its status, code and size, and that it quotes
/// no more of [`huge`] than an excerpt.
fn refused(reply: &Reply, status: StatusCode, code: &str) -> String {
    assert!(
        reply.bytes.len() < MAX_ANSWER_BYTES,
        "{} answer of {} bytes",
        reply.status,
        reply.bytes.len()
    );
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.code(), code, "{}", reply.body);
    let message = reply.body["error"]["message"].as_str().expect("a message");
    assert!(!message.contains(&"x".repeat(65)), "{message}");
    message.to_owned()
}

async fn post_raw(app: &TestApp, user: &testkit::User, path: &str, body: String) -> Reply {
    app.request(Method::POST, path)
        .bearer(user)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn refusals_quote_a_huge_value_as_a_short_excerpt(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let huge = huge();
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    let bad_request = StatusCode::BAD_REQUEST;
    let document = |key: &str, value: Value| {
        let mut body = json!({"source": "notes", "content": "text"});
        body[key] = value;
        body
    };
    for (reply, status, code) in [
        (
            app.get_as(&format!("/api/memory/documents/{huge}"), &alice)
                .await,
            bad_request,
            "invalid_path",
        ),
        (
            app.get_as(&format!("/api/memory/documents?scope={huge}"), &alice)
                .await,
            bad_request,
            "invalid_query",
        ),
        (
            app.get_as(&format!("/api/memory/documents?{huge}=1"), &alice)
                .await,
            bad_request,
            "invalid_query",
        ),
        (
            app.ingest(&alice, document("format", json!(huge))).await,
            invalid,
            "invalid_body",
        ),
        (
            app.ingest(&alice, document(&huge, json!(1))).await,
            invalid,
            "invalid_body",
        ),
        (
            app.search(&alice, json!({"query": "q", "mode": huge}))
                .await,
            invalid,
            "invalid_body",
        ),
    ] {
        let message = refused(&reply, status, code);
        assert!(
            message.contains(&format!("{}…", "x".repeat(64))),
            "{message}"
        );
    }
    assert_eq!(app.documents().await, 0);
}

/// Found by a probe through the gateway: the refusal listed the path to the failure, 128
/// keys long (about 6 KB).
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn metadata_nested_3000_deep_is_malformed_json_with_a_short_message(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let depth = 3000;
    let key = format!(r#"{{"{}":"#, "a".repeat(40));
    let body = format!(
        r#"{{"source":"notes","content":"text","metadata":{}1{}}}"#,
        key.repeat(depth),
        "}".repeat(depth)
    );
    let reply = post_raw(&app, &alice, "/api/memory/documents", body).await;
    let message = refused(&reply, StatusCode::BAD_REQUEST, "malformed_json");
    assert!(message.contains("recursion limit"), "{message}");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn control_characters_in_quoted_input_are_escaped(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let red = "\u{1b}[31mred";
    for reply in [
        app.get_as("/api/memory/documents/%1b%5b31mred", &alice)
            .await,
        app.get_as("/api/memory/documents?scope=%1b%5b31mred", &alice)
            .await,
        app.search(&alice, json!({"query": "q", "mode": red})).await,
    ] {
        let message = reply.body["error"]["message"].as_str().expect("a message");
        assert!(!message.chars().any(char::is_control), "{message:?}");
        assert!(message.contains(r"\u001b[31mred"), "{message}");
    }
}

/// serde_json calls a value of the wrong JSON type for an enum a syntax error ("expected
/// value"); the body is valid JSON all the same, so it is a 422 like any other wrong type.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_wrong_type_for_an_enum_field_is_invalid_body(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    for reply in [
        app.search(&alice, json!({"query": "q", "mode": 5})).await,
        app.search(&alice, json!({"query": "q", "scope": ["mine"]}))
            .await,
        app.ingest(
            &alice,
            json!({"source": "s", "content": "text", "format": true}),
        )
        .await,
    ] {
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.body
        );
        assert_eq!(reply.code(), "invalid_body", "{}", reply.body);
    }
    let reply = post_raw(
        &app,
        &alice,
        "/api/memory/search",
        r#"{"query": "q", "mode": 5"#.into(),
    )
    .await;
    assert_eq!(reply.code(), "malformed_json", "{}", reply.body);
}

/// A batch answers each item in its own `error`: the same excerpt rule holds there.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn batch_item_errors_quote_a_huge_value_as_a_short_excerpt(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let huge = huge();
    let documents = json!([
        {"source": "notes", "content": "text", "format": huge},
        {"source": "notes", "content": "text", huge.clone(): 1},
    ]);
    let reply = app
        .post_as(
            "/api/memory/documents/batch",
            json!({"documents": documents}),
            &alice,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.bytes.len() < 2 * MAX_ANSWER_BYTES,
        "{} bytes",
        reply.bytes.len()
    );
    for item in reply.body["items"].as_array().expect("items") {
        assert_eq!(item["error"]["code"], "invalid_document", "{item}");
        let message = item["error"]["message"].as_str().expect("a message");
        assert!(
            message.contains(&format!("{}…", "x".repeat(64))),
            "{message}"
        );
    }
}
