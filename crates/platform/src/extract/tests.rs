//! The extractors' rejections, over a tiny router: the shared error shape, and NUL refused
//! wherever text comes in.

use axum::{
    Router,
    body::Body,
    http::Request,
    routing::{get, post},
};
use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
struct Greeting {
    #[allow(dead_code)]
    name: String,
}

#[derive(Deserialize)]
struct Search {
    #[allow(dead_code)]
    q: Option<String>,
}

fn app() -> Router {
    Router::new()
        .route("/", post(|Json(_): Json<Greeting>| async { "ok" }))
        .route("/items/{name}", get(|Path(_): Path<String>| async { "ok" }))
        .route("/search", get(|Query(_): Query<Search>| async { "ok" }))
}

/// Status and body; the body is `null` unless it is JSON (successes answer "ok").
async fn send(request: Request<Body>) -> (StatusCode, serde_json::Value) {
    crate::test_support::send(app(), request).await
}

async fn call(body: &'static str, content_type: &str) -> (StatusCode, serde_json::Value) {
    let request = Request::post("/")
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("request");
    send(request).await
}

async fn get_uri(uri: &str) -> (StatusCode, serde_json::Value) {
    send(Request::get(uri).body(Body::empty()).expect("request")).await
}

fn refused_as_invalid_text(answer: &(StatusCode, serde_json::Value), what: &str) {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_text", "{body}");
    assert_eq!(
        body["error"]["message"],
        format!(r"{what} cannot contain NUL (\u0000) characters")
    );
}

/// Each refused body answers with the shared error shape, its status and a code saying why.
#[tokio::test]
async fn refused_bodies_get_the_shared_error_shape() {
    let json = "application/json";
    let malformed = (StatusCode::BAD_REQUEST, "malformed_json");
    let invalid_body = (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let unsupported = (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    for (body, content_type, (status, code)) in [
        ("{not json", json, malformed),
        (r#"{"nom":"x"}"#, json, invalid_body),
        // Found by schemathesis: `PATCH /api/auth/me` with `[null, null]` was a 200.
        (r#"["x"]"#, json, invalid_body),
        (" \n [null]", json, invalid_body),
        // A NUL escape in invalid JSON is a syntax error, not invalid text.
        (r#"{"name":"\u0000""#, json, malformed),
        (r#"{"name":"x"}"#, "text/plain", unsupported),
    ] {
        let (answered, error) = call(body, content_type).await;
        assert_eq!(answered, status, "{body} as {content_type}: {error}");
        assert_eq!(error["error"]["code"], code, "{body} as {content_type}");
        let message = error["error"]["message"].as_str();
        assert!(message.is_some_and(|m| !m.is_empty()), "{error}");
    }
}

#[tokio::test]
async fn json_content_types_are_those_axum_accepts() {
    for accepted in [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=utf-8",
        "Application/JSON",
        "application/cloudevents+json",
    ] {
        let (status, _) = call(r#"{"name":"x"}"#, accepted).await;
        assert_eq!(status, StatusCode::OK, "{accepted}");
    }
    for refused in ["text/json", "application/+json", "application", "json"] {
        let (status, _) = call(r#"{"name":"x"}"#, refused).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{refused}");
    }
}

#[tokio::test]
async fn nul_in_a_body_string_is_invalid_text_naming_the_field() {
    let answer = call(r#"{"name":"a\u0000b"}"#, "application/json").await;
    refused_as_invalid_text(&answer, "name");
    // Fields the target type ignores are refused too: nothing with NUL gets in.
    let answer = call(
        r#"{"name":"x","extra":{"note":["\u0000"]}}"#,
        "application/json",
    )
    .await;
    refused_as_invalid_text(&answer, "extra.note[0]");
    let answer = call(r#"{"name":"x","k\u0000":1}"#, "application/json").await;
    refused_as_invalid_text(&answer, "a key in the body");
}

#[tokio::test]
async fn an_escaped_backslash_before_u0000_is_text() {
    let (status, body) = call(r#"{"name":"C:\\u0000"}"#, "application/json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = call(r#"{"name":"\\\u0000"}"#, "application/json").await;
    refused_as_invalid_text(&answer, "name");
}

#[tokio::test]
async fn nul_in_a_path_parameter_is_invalid_text() {
    refused_as_invalid_text(&get_uri("/items/a%00b").await, "path parameter `name`");
    let (status, _) = get_uri("/items/a%2500b").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn nul_in_a_query_parameter_is_invalid_text() {
    refused_as_invalid_text(&get_uri("/search?q=a%00").await, "query parameter `q`");
    refused_as_invalid_text(&get_uri("/search?q%00=a").await, "a query parameter name");
    let (status, _) = get_uri("/search?q=%2500").await;
    assert_eq!(status, StatusCode::OK);
}
