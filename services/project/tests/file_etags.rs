//! What a file download's `ETag` names: everything a GET answers with that can change
//! between versions, so a client revalidating with `If-None-Match` never keeps a stale copy.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use sqlx::PgPool;
use testkit::Reply;

fn header(reply: &Reply, name: &str) -> String {
    let value = reply.headers.get(name);
    let value = value.unwrap_or_else(|| panic!("no {name} in {:?}", reply.headers));
    value.to_str().expect("ASCII").to_owned()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_same_bytes_under_another_content_type_get_another_etag(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Types", &alice).await;
    let bytes = r#"{"a":1}"#;
    app.upload(&id, "data", "text/plain", bytes, &alice).await;
    let first = app.download(&id, "data", &[], &alice).await;
    assert_eq!(first.status, StatusCode::OK);
    let old_etag = header(&first, "etag");

    let again = app
        .upload(&id, "data", "application/json", bytes, &alice)
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    let revalidated = app
        .download(&id, "data", &[("if-none-match", old_etag.as_str())], &alice)
        .await;
    assert_eq!(
        revalidated.status,
        StatusCode::OK,
        "the copy the client holds has the old type: {:?}",
        revalidated.headers
    );
    assert_eq!(header(&revalidated, "content-type"), "application/json");
    assert_eq!(&revalidated.bytes[..], bytes.as_bytes());
    let new_etag = header(&revalidated, "etag");
    assert_ne!(new_etag, old_etag);
    assert!(
        new_etag.starts_with('"') && new_etag.ends_with('"') && new_etag.len() > 2,
        "a strong, quoted entity tag: {new_etag}"
    );

    let unchanged = app
        .download(&id, "data", &[("if-none-match", new_etag.as_str())], &alice)
        .await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
    let first_version = app
        .download(
            &id,
            "data?version=1",
            &[("if-none-match", old_etag.as_str())],
            &alice,
        )
        .await;
    assert_eq!(
        first_version.status,
        StatusCode::NOT_MODIFIED,
        "version 1 is still what it was"
    );
}
