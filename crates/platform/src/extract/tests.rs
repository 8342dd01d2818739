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
#[serde(deny_unknown_fields)]
struct Search {
    #[allow(dead_code)]
    q: Option<String>,
    #[allow(dead_code)]
    status: Option<Status>,
}

/// A required enum, as a task's status is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Task {
    #[allow(dead_code)]
    status: Status,
    #[allow(dead_code)]
    metadata: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Todo,
    Done,
}

fn app() -> Router {
    Router::new()
        .route("/", post(|Json(_): Json<Greeting>| async { "ok" }))
        .route("/tasks", post(|Json(_): Json<Task>| async { "ok" }))
        .route("/items/{name}", get(|Path(_): Path<String>| async { "ok" }))
        .route(
            "/tasks/{id}",
            get(|Path(_): Path<uuid::Uuid>| async { "ok" }),
        )
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

async fn post_task(body: String) -> (StatusCode, serde_json::Value) {
    let request = Request::post("/tasks")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    send(request).await
}

/// serde_json calls a value of the wrong JSON type for an enum "expected value", a syntax
/// error; the document is valid JSON all the same, so it is the body's shape that is wrong.
#[tokio::test]
async fn a_wrong_type_for_a_required_enum_is_invalid_body() {
    for body in [
        r#"{"status": null}"#,
        r#"{"status": 5}"#,
        r#"{"status": true}"#,
        r#"{"status": ["todo"]}"#,
    ] {
        let (status, error) = post_task(body.to_owned()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["error"]["code"], "invalid_body", "{body}");
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("status: "), "{body}: {message}");
    }
    // Invalid JSON after the wrong type or value is still invalid JSON.
    for body in [
        r#"{"status": null, "metadata": }"#,
        r#"{"status": "someday", "metadata": }"#,
    ] {
        let (status, error) = post_task(body.to_owned()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["error"]["code"], "malformed_json");
    }
    let (status, _) = post_task(r#"{"status": "done"}"#.to_owned()).await;
    assert_eq!(status, StatusCode::OK);
}

/// The body of an answer to hostile input stays small, whatever the input's size.
fn small(answer: &(StatusCode, serde_json::Value), status: StatusCode, code: &str) -> String {
    let (answered, body) = answer;
    let size = body.to_string().len();
    assert!(size < 1024, "{answered} answer of {size} bytes");
    assert_eq!(*answered, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned()
}

#[tokio::test]
async fn echoed_input_is_a_short_marked_excerpt() {
    let huge = "x".repeat(60_000);
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    let bad_request = StatusCode::BAD_REQUEST;
    for (answer, status, code) in [
        (
            post_task(format!(r#"{{"status": "{huge}"}}"#)).await,
            invalid,
            "invalid_body",
        ),
        (
            post_task(format!(r#"{{"{huge}": 1}}"#)).await,
            invalid,
            "invalid_body",
        ),
        (
            get_uri(&format!("/tasks/{huge}")).await,
            bad_request,
            "invalid_path",
        ),
        (
            get_uri(&format!("/search?status={huge}")).await,
            bad_request,
            "invalid_query",
        ),
        (
            get_uri(&format!("/search?{huge}=1")).await,
            bad_request,
            "invalid_query",
        ),
    ] {
        let message = small(&answer, status, code);
        assert!(
            message.contains(&format!("{}…", "x".repeat(64))),
            "{message}"
        );
        assert!(!message.contains(&"x".repeat(65)), "{message}");
    }
}

#[tokio::test]
async fn deep_nesting_is_malformed_json_with_a_short_message() {
    let depth = 3000;
    let deep = format!(
        r#"{{"status": "todo", "metadata": {}1{}}}"#,
        // Long keys, as a client probing us sent: the path to the failure is 128 of them.
        format!(r#"{{"{}":"#, "k".repeat(40)).repeat(depth),
        "}".repeat(depth)
    );
    let message = small(
        &post_task(deep).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    assert!(message.contains("recursion limit"), "{message}");
}

#[tokio::test]
async fn control_characters_in_echoed_input_are_escaped() {
    let (status, error) = post_task("{\"status\": \"\\u001b[31mred\"}".to_owned()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    for answer in [
        error,
        get_uri("/tasks/%1b%5b31m").await.1,
        get_uri("/search?status=%1b%5b31m").await.1,
    ] {
        let message = answer["error"]["message"].as_str().expect("a message");
        assert!(!message.chars().any(char::is_control), "{message:?}");
        assert!(message.contains(r"\u001b[31m"), "{message}");
    }
}

#[test]
fn a_patch_field_tells_null_from_absent() {
    #[derive(Deserialize)]
    struct Patch {
        #[serde(default, deserialize_with = "present")]
        title: Option<Option<String>>,
    }
    let title = |body: &str| serde_json::from_str::<Patch>(body).expect("a patch").title;
    assert_eq!(title("{}"), None, "absent: keep");
    assert_eq!(title(r#"{"title": null}"#), Some(None), "null: clear");
    assert_eq!(title(r#"{"title": "x"}"#), Some(Some("x".to_owned())));
}
