//! `/metrics`: uploads show up under their route template, stored bytes and refusals are
//! counted, and the pool is reported. The recorder is shared by every test in this binary,
//! so each test compares a scrape before with one after and owns the series it checks.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use sqlx::PgPool;
use testkit::metrics::sample;

const UPLOAD_ROUTE: &str = "/api/projects/{project_id}/files/{*path}";
const MIB: usize = 1024 * 1024;

async fn scrape(app: &TestApp) -> String {
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    let content_type = reply.headers["content-type"].to_str().expect("ascii");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    String::from_utf8(reply.bytes.to_vec()).expect("utf-8")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_upload_is_counted_by_route_template_with_its_bytes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Metrics", &alice).await;
    let created = [
        ("service", "project"),
        ("method", "PUT"),
        ("route", UPLOAD_ROUTE),
        ("status", "201"),
    ];
    let before = scrape(&app).await;

    let reply = app
        .upload(&id, "docs/readme.md", "text/markdown", "0123456789", &alice)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);

    let after = scrape(&app).await;
    let counted = |text: &str| sample(text, "http_requests_total", &created);
    assert_eq!(counted(&after) - counted(&before), 1.0, "{after}");
    let stored = |text: &str| sample(text, "project_file_bytes_stored_total", &[]);
    assert_eq!(stored(&after) - stored(&before), 10.0, "{after}");
    assert!(
        !after.contains(&id) && !after.contains("readme.md"),
        "a raw path became a label: {after}"
    );
    let idle = [("service", "project"), ("state", "idle")];
    assert!(
        after
            .lines()
            .any(|line| line.starts_with("db_pool_connections{")
                && idle
                    .iter()
                    .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))),
        "{after}"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn oversized_uploads_are_counted_whether_declared_or_streamed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Big", &alice).await;
    let refused = |text: &str| sample(text, "project_file_uploads_too_large_total", &[]);
    let before = scrape(&app).await;

    let declared = app
        .request(
            Method::PUT,
            &format!("/api/projects/{id}/files/declared.bin"),
        )
        .bearer(&alice)
        .header("content-length", &(11 * MIB).to_string())
        .body("short")
        .send()
        .await;
    assert_eq!(declared.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Without Content-Length, the limit is found while streaming.
    let streamed = app.upload_streamed(&id, "streamed.bin", 11, &alice).await;
    assert_eq!(streamed.status, StatusCode::PAYLOAD_TOO_LARGE);

    let after = scrape(&app).await;
    assert_eq!(refused(&after) - refused(&before), 2.0, "{after}");
    let answered_413 = [("route", UPLOAD_ROUTE), ("status", "413")];
    assert_eq!(
        sample(&after, "http_requests_total", &answered_413)
            - sample(&before, "http_requests_total", &answered_413),
        2.0
    );
}
