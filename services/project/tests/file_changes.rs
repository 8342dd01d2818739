//! Downloads of a file that changes: its `ETag` names everything a GET answers with that can
//! change between versions, so a client revalidating with `If-None-Match` never keeps a stale
//! copy; a download racing the file's delete gets the file or a 404, never a 5xx.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use sqlx::PgPool;
use testkit::Reply;

const DATA: &str = "0123456789";

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

/// A download racing the delete of its file gets the file or 404, never a 5xx: the row it
/// reads first may name bytes the delete removes before the download opens them.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_download_racing_the_delete_of_its_file_gets_the_file_or_not_found(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Races", &alice).await;
    let path = format!("/api/projects/{id}/files/data.txt");
    for round in 0..100 {
        let uploaded = app
            .upload(&id, "data.txt", "text/plain", DATA, &alice)
            .await;
        assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
        let downloads = (0..4).map(|_| app.download(&id, "data.txt", &[], &alice));
        let (downloads, deleted) = tokio::join!(
            futures::future::join_all(downloads),
            app.delete_as(&path, &alice)
        );
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
        for reply in downloads {
            match reply.status {
                StatusCode::OK => assert_eq!(&reply.bytes[..], DATA.as_bytes()),
                StatusCode::NOT_FOUND => assert_eq!(reply.code(), "not_found"),
                status => panic!("round {round}: {status}: {}", reply.body),
            }
        }
    }
}
