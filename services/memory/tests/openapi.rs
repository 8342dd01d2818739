//! `/openapi.json` documents exactly the routes the router serves, and every list answers
//! with the one page shape of `docs/api.md`.

mod common;

use authn::Role;
use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;
use sqlx::PgPool;

/// Every route the router serves, besides `/openapi.json`, `/docs`, health and metrics.
const ROUTED: &[(&str, &str)] = &[
    ("post", "/api/memory/documents"),
    ("get", "/api/memory/documents"),
    ("post", "/api/memory/documents/batch"),
    ("get", "/api/memory/documents/{id}"),
    ("delete", "/api/memory/documents/{id}"),
    ("patch", "/api/memory/documents/{id}"),
    ("post", "/api/memory/search"),
    ("get", "/api/memory/status"),
    ("get", "/api/memory/export"),
    ("post", "/api/memory/import"),
];

/// The list routes: each answers `{ "items": [...], "next_cursor" }`.
const LISTS: &[&str] = &["/api/memory/documents"];

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn every_route_is_documented_and_every_documented_operation_is_routed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let spec = app.get("/openapi.json").await;
    assert_eq!(spec.status, StatusCode::OK);
    let paths = spec.body["paths"].as_object().expect("paths");
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, operations)| {
            let methods = operations.as_object().expect("operations").keys();
            methods.map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut routed: Vec<(String, String)> = ROUTED
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    routed.sort();
    assert_eq!(documented, routed, "documented operations != routed ones");

    for (method, path) in ROUTED {
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        let method: Method = method.to_uppercase().parse().expect("method");
        // Without a token: anything but the router's own 404/405 fallbacks means routed.
        let reply = app.call(method.clone(), &concrete, None, None).await;
        assert_ne!(reply.code(), "not_found", "{method} {path} is not routed");
        assert_ne!(
            reply.code(),
            "method_not_allowed",
            "{method} {path} is not routed"
        );
        let operation = &paths[*path][method.as_str().to_lowercase()];
        for status in ["401", "503"] {
            assert!(
                operation["responses"][status].is_object(),
                "{method} {path} does not document {status}"
            );
        }
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn every_list_answers_a_page_and_refuses_a_foreign_cursor_with_400(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    for i in 0..3 {
        let reply = app
            .ingest(
                &alice,
                json!({"source": "s", "content": format!("text {i}")}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    for list in LISTS {
        let page = app.get_as(&format!("{list}?limit=2"), &alice).await;
        assert_eq!(page.status, StatusCode::OK, "{list}: {}", page.body);
        let fields: Vec<&String> = page.body.as_object().expect("object").keys().collect();
        assert_eq!(fields, ["items", "next_cursor"], "{list}");
        assert_eq!(page.body["items"].as_array().expect("items").len(), 2);
        let cursor = page.body["next_cursor"].as_str().expect("a next page");
        let last = app
            .get_as(&format!("{list}?limit=2&cursor={cursor}"), &alice)
            .await;
        assert_eq!(last.body["items"].as_array().expect("items").len(), 1);
        assert!(last.body["next_cursor"].is_null(), "{list}");

        for bad in ["cursor=garbage", "limit=0", "limit=101"] {
            let reply = app.get_as(&format!("{list}?{bad}"), &alice).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{list}?{bad}");
        }
    }
}
