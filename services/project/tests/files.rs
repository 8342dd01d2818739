//! Files: raw-body upload with versions, the 10 MiB limit, traversal-proof storage, cleanup.

mod common;

use axum::http::{Method, StatusCode};
use common::{FORM_BOUNDARY, FormPart, TestApp, form};
use serde_json::Value;
use sqlx::PgPool;

const MIB: usize = 1024 * 1024;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn uploading_a_path_again_adds_a_version_and_both_download(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Docs", &alice).await;

    let first = app
        .upload(&id, "docs/readme.md", "text/markdown", "# v1", &alice)
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["version"], 1);
    assert_eq!(first.body["size_bytes"], 4);
    let second = app
        .upload(
            &id,
            "docs/readme.md",
            "text/markdown",
            "# version two",
            &alice,
        )
        .await;
    assert_eq!(second.body["version"], 2);
    assert_ne!(second.body["sha256"], first.body["sha256"]);

    let latest = app
        .get_as(&format!("/api/projects/{id}/files/docs/readme.md"), &alice)
        .await;
    assert_eq!(latest.status, StatusCode::OK);
    assert_eq!(&latest.bytes[..], b"# version two");
    assert_eq!(latest.headers["content-type"], "text/markdown");
    assert_eq!(latest.headers["content-length"], "13");
    assert_eq!(latest.headers["x-file-version"], "2");
    assert_eq!(latest.headers["x-content-type-options"], "nosniff");
    let old = app
        .get_as(
            &format!("/api/projects/{id}/files/docs/readme.md?version=1"),
            &alice,
        )
        .await;
    assert_eq!(&old.bytes[..], b"# v1");
    let missing = app
        .get_as(
            &format!("/api/projects/{id}/files/docs/readme.md?version=9"),
            &alice,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    app.upload(
        &id,
        "a.bin",
        "application/octet-stream",
        vec![0u8, 1, 2],
        &alice,
    )
    .await;
    let listed = app
        .get_as(&format!("/api/projects/{id}/files"), &alice)
        .await;
    let paths: Vec<(Value, Value)> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].clone(), f["version"].clone()))
        .collect();
    assert_eq!(
        paths,
        [
            ("a.bin".into(), 1.into()),
            ("docs/readme.md".into(), 2.into())
        ]
    );
    let versions = app
        .get_as(
            &format!("/api/projects/{id}/files?path=docs/readme.md"),
            &alice,
        )
        .await;
    let numbers: Vec<Value> = versions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["version"].clone())
        .collect();
    assert_eq!(numbers, [Value::from(2), Value::from(1)]);
    assert_eq!(app.stored_files().len(), 3, "one stored blob per version");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_sha256_is_of_the_uploaded_bytes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Hash", &alice).await;
    let reply = app
        .upload(&id, "hello.txt", "text/plain", "hello", &alice)
        .await;
    assert_eq!(
        reply.body["sha256"],
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn uploads_over_ten_mib_are_refused_with_json_413(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Big", &alice).await;

    let exact = app
        .upload(
            &id,
            "max.bin",
            "application/octet-stream",
            vec![7u8; 10 * MIB],
            &alice,
        )
        .await;
    assert_eq!(exact.status, StatusCode::CREATED, "{}", exact.body);

    let over = app
        .upload(
            &id,
            "big.bin",
            "application/octet-stream",
            vec![7u8; 10 * MIB + 1],
            &alice,
        )
        .await;
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(over.code(), "payload_too_large");

    // Without Content-Length (chunked), the limit is enforced while streaming.
    let streamed = app.upload_streamed(&id, "streamed.bin", 11, &alice).await;
    assert_eq!(streamed.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(streamed.code(), "payload_too_large");

    assert_eq!(
        app.stored_files().len(),
        1,
        "only the 10 MiB file is kept: {:?}",
        app.stored_files()
    );
    let listed = app
        .get_as(&format!("/api/projects/{id}/files"), &alice)
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

/// A content coding the service does not undo would be stored as the file and served back
/// without it (a gzip member labelled `text/plain`): refused, and nothing is kept.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn uploads_with_a_content_coding_are_refused_with_json_415(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Coded", &alice).await;
    let gzip_member = vec![
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let form_body = form(&[FormPart::file("notes.txt", "text/plain", "hello")]);
    let form_type = format!("multipart/form-data; boundary={FORM_BOUNDARY}");
    for coding in ["gzip", "br", "identity, gzip"] {
        let raw = app
            .request(Method::PUT, &format!("/api/projects/{id}/files/notes.txt"))
            .bearer(&alice)
            .header("content-type", "text/plain")
            .header("content-encoding", coding)
            .body(gzip_member.clone())
            .send()
            .await;
        let form = app
            .request(Method::POST, &format!("/api/projects/{id}/files"))
            .bearer(&alice)
            .header("content-type", &form_type)
            .header("content-encoding", coding)
            .body(form_body.clone())
            .send()
            .await;
        for reply in [raw, form] {
            assert_eq!(
                reply.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{coding}: {}",
                reply.body
            );
            assert_eq!(reply.code(), "unsupported_content_encoding", "{coding}");
            assert_eq!(reply.headers["accept-encoding"], "identity", "{coding}");
        }
    }
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());

    // `identity` is no coding at all.
    let plain = app
        .request(Method::PUT, &format!("/api/projects/{id}/files/notes.txt"))
        .bearer(&alice)
        .header("content-type", "text/plain")
        .header("content-encoding", "Identity")
        .body("hello")
        .send()
        .await;
    assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn traversal_paths_are_rejected_and_bytes_are_stored_by_key(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Safe", &alice).await;

    for path in [
        "..%2F..%2Fetc%2Fpasswd",
        "a/../../b",
        "%2Fetc%2Fpasswd",
        "a/./b",
        "a//b",
        "a%5Cb",
    ] {
        let reply = app.upload(&id, path, "text/plain", "x", &alice).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            reply.body
        );
        assert_eq!(reply.code(), "invalid_file_path", "{path}");
    }
    assert!(app.stored_files().is_empty());

    let reply = app
        .upload(&id, "src/main.rs", "text/plain", "fn main() {}", &alice)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let stored = app.stored_files();
    assert_eq!(
        stored,
        [format!("{id}/{}", reply.body["id"].as_str().unwrap())]
    );
    assert!(
        !stored[0].contains("main.rs"),
        "the user's path never reaches the disk"
    );
}

/// A row refused after its bytes were stored: `storage_suite::transfer::
/// bytes_whose_row_is_refused_are_removed_before_the_answer`, on both backends.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_upload_refused_from_its_head_stores_no_bytes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Clean", &alice).await;
    // Refused from the request's head (the CHECK at INSERT is the backstop), so its bytes
    // are never written.
    let reply = app
        .upload(&id, "x.txt", "not a media type", "data", &alice)
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.code(), "invalid_content_type");
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn deleting_files_and_projects_removes_their_bytes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Gone", &alice).await;
    let keep = app.project_id("Kept", &alice).await;
    app.upload(&id, "a.txt", "text/plain", "1", &alice).await;
    app.upload(&id, "a.txt", "text/plain", "2", &alice).await;
    app.upload(&id, "b.txt", "text/plain", "3", &alice).await;
    app.upload(&keep, "c.txt", "text/plain", "4", &alice).await;
    assert_eq!(app.stored_files().len(), 4);

    let reply = app
        .delete_as(&format!("/api/projects/{id}/files/a.txt"), &alice)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.stored_files().len(),
        2,
        "both versions of a.txt removed"
    );
    let reply = app
        .get_as(&format!("/api/projects/{id}/files/a.txt"), &alice)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = app
        .delete_as(&format!("/api/projects/{id}/files/a.txt"), &alice)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    assert_eq!(
        app.delete_as(&format!("/api/projects/{id}"), &alice)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let left = app.stored_files();
    assert_eq!(left.len(), 1);
    assert!(
        left[0].starts_with(&keep),
        "the other project's file stays: {left:?}"
    );
    assert!(!app.files_dir.join(&id).exists());
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn other_users_cannot_read_or_write_files(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let id = app.project_id("Private", &alice).await;
    app.upload(&id, "secret.txt", "text/plain", "s3cr3t", &alice)
        .await;

    assert_eq!(
        app.get_as(&format!("/api/projects/{id}/files/secret.txt"), &mallory)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get_as(&format!("/api/projects/{id}/files"), &mallory)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let reply = app
        .upload(&id, "secret.txt", "text/plain", "overwritten", &mallory)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.delete_as(&format!("/api/projects/{id}/files/secret.txt"), &mallory)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.stored_files().len(), 1);
    let reply = app
        .get_as(&format!("/api/projects/{id}/files/secret.txt"), &alice)
        .await;
    assert_eq!(&reply.bytes[..], b"s3cr3t");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn concurrent_uploads_of_one_path_get_consecutive_versions(pool: PgPool) {
    let app = std::sync::Arc::new(TestApp::new(pool).await);
    let alice = app.user("alice").await;
    let id = app.project_id("Race", &alice).await;
    let mut handles = Vec::new();
    for n in 0..6 {
        let (app, alice, id) = (app.clone(), alice.clone(), id.clone());
        handles.push(tokio::spawn(async move {
            let reply = app
                .upload(&id, "log.txt", "text/plain", format!("v{n}"), &alice)
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            reply.body["version"].as_i64().expect("version")
        }));
    }
    let mut versions = Vec::new();
    for handle in handles {
        versions.push(handle.await.expect("upload"));
    }
    versions.sort();
    assert_eq!(versions, (1..=6).collect::<Vec<_>>());
    let listed = app
        .get_as(&format!("/api/projects/{id}/files"), &alice)
        .await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "one latest version"
    );
    assert_eq!(listed.body["items"][0]["version"], 6);
    assert_eq!(app.stored_files().len(), 6);
}
