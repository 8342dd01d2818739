//! What the gateway answers itself from all services: readiness and the merged OpenAPI.

mod common;

use std::sync::atomic::Ordering;

use common::{dead_url, gateway, get_json, settings, upstream};
use serde_json::{Value, json};

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check named {name}: {report}"))
}

#[tokio::test]
async fn ready_when_every_service_is_ready() {
    let auth = upstream("auth", None, true).await;
    let project = upstream("project", None, true).await;
    let memory = upstream("memory", None, true).await;
    let gateway = gateway(&settings(&auth.url, &project.url, &memory.url)).await;

    let (status, report) = get_json(&format!("{gateway}/health/ready")).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "ready");
    assert_eq!(report["service"], "gateway");
    for name in ["auth", "project", "memory"] {
        assert_eq!(check(&report, name)["ok"], true, "{report}");
    }
}

#[tokio::test]
async fn not_ready_names_the_services_that_are_not() {
    let auth = upstream("auth", None, true).await;
    let project = upstream("project", None, false).await;
    let gateway = gateway(&settings(&auth.url, &project.url, &dead_url())).await;

    let (status, report) = get_json(&format!("{gateway}/health/ready")).await;
    assert_eq!(status, 503, "{report}");
    assert_eq!(report["status"], "not_ready");
    assert_eq!(check(&report, "auth")["ok"], true);
    let project = check(&report, "project");
    assert_eq!(project["ok"], false);
    assert_eq!(
        project["detail"],
        "answered 503 Service Unavailable; not ready: postgres"
    );
    let memory = check(&report, "memory");
    assert_eq!(memory["ok"], false);
    assert_eq!(memory["detail"], "unreachable");
}

#[tokio::test]
async fn live_needs_no_service() {
    let gateway = gateway(&settings(&dead_url(), &dead_url(), &dead_url())).await;
    let (status, body) = get_json(&format!("{gateway}/health/live")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["service"], "gateway");
}

fn auth_spec() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "DevMentor auth", "version": "0.1.0"},
        "servers": [{"url": "http://localhost:3002"}],
        "paths": {
            "/api/auth/login": {"post": {
                "tags": ["auth"],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/LoginInput"}}}},
                "responses": {"401": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiErrorBody"}}}}}
            }}
        },
        "components": {
            "schemas": {
                "ApiErrorBody": {"type": "object", "properties": {"error": {"type": "object"}}},
                "LoginInput": {"type": "object"},
                "View": {"type": "object", "description": "a session"}
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        },
        "tags": [{"name": "auth", "description": "Accounts and sessions"}]
    })
}

fn project_spec() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "DevMentor projects", "version": "0.1.0"},
        "paths": {
            "/api/projects": {"get": {
                "tags": ["projects"],
                "security": [{"bearer": []}],
                "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/View"}}}}}
            }}
        },
        "components": {
            "schemas": {
                "ApiErrorBody": {"type": "object", "properties": {"error": {"type": "object"}}},
                "View": {"type": "object", "description": "a project"}
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        },
        "tags": [{"name": "projects", "description": "The caller's projects"}]
    })
}

#[tokio::test]
async fn openapi_merges_the_services_and_names_the_missing_one() {
    let auth = upstream("auth", Some(auth_spec()), true).await;
    let project = upstream("project", Some(project_spec()), true).await;
    let gateway = gateway(&settings(&auth.url, &project.url, &dead_url())).await;

    let (status, doc) = get_json(&format!("{gateway}/openapi.json")).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "DevMentor API");
    assert!(
        doc.get("servers").is_none(),
        "the gateway is the only origin"
    );
    let paths: Vec<&String> = doc["paths"].as_object().expect("paths").keys().collect();
    assert_eq!(paths, ["/api/auth/login", "/api/projects"]);

    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut names: Vec<&String> = schemas.keys().collect();
    names.sort();
    assert_eq!(
        names,
        ["ApiErrorBody", "LoginInput", "View", "project_View"],
        "identical schemas are shared, clashing ones renamed"
    );
    assert_eq!(schemas["project_View"]["description"], "a project");
    assert_eq!(
        doc["paths"]["/api/projects"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/project_View"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|tag| tag["name"].as_str())
        .collect();
    assert_eq!(tags, ["auth", "projects"]);
    assert_eq!(
        doc["x-unavailable"],
        json!([{"service": "memory", "reason": "unreachable"}])
    );
}

#[tokio::test]
async fn openapi_with_every_service_up_has_no_unavailable_list() {
    let auth = upstream("auth", Some(auth_spec()), true).await;
    let project = upstream("project", Some(project_spec()), true).await;
    let memory_spec = json!({"openapi": "3.1.0", "paths": {"/api/memory/search": {"post": {}}}});
    let memory = upstream("memory", Some(memory_spec), true).await;
    let gateway = gateway(&settings(&auth.url, &project.url, &memory.url)).await;

    let (_, doc) = get_json(&format!("{gateway}/openapi.json")).await;
    assert!(doc.get("x-unavailable").is_none(), "{doc}");
    assert!(doc["paths"]["/api/memory/search"]["post"].is_object());
}

#[tokio::test]
async fn openapi_leaves_out_a_service_that_serves_no_document() {
    let auth = upstream("auth", Some(auth_spec()), true).await;
    let project = upstream("project", None, true).await;
    let memory = upstream("memory", None, true).await;
    let gateway = gateway(&settings(&auth.url, &project.url, &memory.url)).await;

    let (_, doc) = get_json(&format!("{gateway}/openapi.json")).await;
    assert_eq!(
        doc["x-unavailable"][0],
        json!({"service": "project", "reason": "answered 404 Not Found"})
    );
    assert_eq!(doc["x-unavailable"][1]["service"], "memory");
}

#[tokio::test]
async fn the_merged_document_is_served_from_memory_while_fresh() {
    let auth = upstream("auth", Some(auth_spec()), true).await;
    let project = upstream("project", Some(project_spec()), true).await;
    let memory = upstream("memory", Some(json!({"paths": {}})), true).await;
    let gateway = gateway(&settings(&auth.url, &project.url, &memory.url)).await;

    let (_, first) = get_json(&format!("{gateway}/openapi.json")).await;
    let (_, second) = get_json(&format!("{gateway}/openapi.json")).await;
    assert_eq!(first, second);
    for service in [&auth, &project, &memory] {
        assert_eq!(
            service.openapi_fetches.load(Ordering::SeqCst),
            1,
            "{}",
            service.name
        );
    }
}
