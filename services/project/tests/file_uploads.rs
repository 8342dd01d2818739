//! Form uploads (`POST .../files`, `multipart/form-data`): the same versions, limit and
//! checks as the raw `PUT`, and a clear JSON 4xx for every malformed form; and what a raw
//! `PUT` refuses from its head alone.

mod common;

use std::time::Duration;

use axum::{
    body::Body,
    http::{Method, StatusCode},
};
use common::{FORM_BOUNDARY, FormPart, TestApp, form};
use sqlx::PgPool;

const MIB: usize = 1024 * 1024;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_form_upload_adds_a_version_like_a_raw_upload(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Forms", &alice).await;
    let body = form(&[
        FormPart::text("path", "docs/readme.md"),
        FormPart::file("ignored-name.md", "text/markdown", "# hello"),
    ]);
    let first = app.upload_form(&id, body, &alice).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["path"], "docs/readme.md");
    assert_eq!(first.body["version"], 1);
    assert_eq!(first.body["size_bytes"], 7);
    assert_eq!(first.body["mime_type"], "text/markdown");
    assert_eq!(
        first.body["sha256"],
        "ea67f39f2a707e536439ee31e49fdd586b4a8437d3408f0466112d040cd06681"
    );
    assert_eq!(first.body["uploaded_by"], alice.id.to_string());

    // The raw PUT and the form share the path's versions.
    let second = app
        .upload(&id, "docs/readme.md", "text/markdown", "# two", &alice)
        .await;
    assert_eq!(second.body["version"], 2);
    let third = app
        .upload_form(
            &id,
            form(&[
                FormPart::text("path", "docs/readme.md"),
                FormPart::file("x", "text/markdown", "# three"),
            ]),
            &alice,
        )
        .await;
    assert_eq!(third.body["version"], 3);

    let old = app
        .get_as(
            &format!("/api/projects/{id}/files/docs/readme.md?version=1"),
            &alice,
        )
        .await;
    assert_eq!(&old.bytes[..], b"# hello");
    assert_eq!(old.headers["content-type"], "text/markdown");
    let actions = app.actions(&id, &alice).await;
    assert_eq!(actions[actions.len() - 3..], ["file.uploaded"; 3]);
    assert_eq!(app.stored_files().len(), 3);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn without_a_path_field_the_file_name_is_the_path(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Names", &alice).await;
    let part = FormPart {
        name: "file",
        file_name: Some("notes.txt"),
        content_type: None,
        bytes: b"plain".to_vec(),
    };
    let reply = app.upload_form(&id, form(&[part]), &alice).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["path"], "notes.txt");
    assert_eq!(reply.body["mime_type"], "application/octet-stream");

    // The path field may also come after the file, and other fields are read past.
    let reply = app
        .upload_form(
            &id,
            form(&[
                FormPart::text("submit", "Upload"),
                FormPart::file("ignored.txt", "text/plain", "later"),
                FormPart::text("path", "src/later.txt"),
            ]),
            &alice,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["path"], "src/later.txt");
    let download = app
        .get_as(&format!("/api/projects/{id}/files/src/later.txt"), &alice)
        .await;
    assert_eq!(&download.bytes[..], b"later");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn form_files_are_limited_to_ten_mib(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Big forms", &alice).await;
    let exact = form(&[FormPart::file(
        "max.bin",
        "application/octet-stream",
        vec![7u8; 10 * MIB],
    )]);
    let reply = app.upload_form(&id, exact, &alice).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["size_bytes"], 10 * MIB);

    let over = form(&[FormPart::file(
        "big.bin",
        "application/octet-stream",
        vec![7u8; 10 * MIB + 1],
    )]);
    // Not a file but a form too large all the same: the form's own limit.
    let padded = form(&[
        FormPart::text("padding", &"x".repeat(10 * MIB + 100 * 1024)),
        FormPart::file("small.txt", "text/plain", "small"),
    ]);
    for (case, body) in [("file over 10 MiB", over), ("padded form", padded)] {
        let reply = app.upload_form(&id, body, &alice).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{case}");
        assert_eq!(reply.code(), "payload_too_large", "{case}: {}", reply.body);
    }

    // A declared length over the form's limit is refused before any byte is read.
    let declared = app
        .request(Method::POST, &format!("/api/projects/{id}/files"))
        .bearer(&alice)
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={FORM_BOUNDARY}"),
        )
        .header("content-length", &(11 * MIB).to_string())
        .send()
        .await;
    assert_eq!(declared.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(declared.code(), "payload_too_large");

    assert_eq!(app.stored_files().len(), 1, "{:?}", app.stored_files());
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn malformed_forms_are_refused_with_json_errors(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Bad forms", &alice).await;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let bad_request = StatusCode::BAD_REQUEST;
    let one_file = || FormPart::file("a.txt", "text/plain", "one");
    let nameless_file = FormPart {
        name: "file",
        file_name: None,
        content_type: Some("text/plain"),
        bytes: b"one".to_vec(),
    };
    // A body that ends inside the file part: the upload was cut off.
    let mut cut_off = form(&[one_file()]);
    cut_off.truncate(cut_off.len() - 12);

    let cases: [(&str, Vec<u8>, StatusCode, &str); 9] = [
        (
            "no file",
            form(&[FormPart::text("path", "a.txt")]),
            unprocessable,
            "missing_file",
        ),
        (
            "two files",
            form(&[one_file(), FormPart::file("b.txt", "text/plain", "two")]),
            unprocessable,
            "duplicate_field",
        ),
        (
            "two paths",
            form(&[
                FormPart::text("path", "a.txt"),
                FormPart::text("path", "b.txt"),
                one_file(),
            ]),
            unprocessable,
            "duplicate_field",
        ),
        (
            "traversal",
            form(&[one_file(), FormPart::text("path", "../etc/passwd")]),
            unprocessable,
            "invalid_file_path",
        ),
        (
            "bad file name",
            form(&[FormPart::file("..", "text/plain", "one")]),
            unprocessable,
            "invalid_file_path",
        ),
        (
            "no file name",
            form(&[nameless_file]),
            unprocessable,
            "invalid_file_path",
        ),
        // Checked by the same rule as the PUT's Content-Type: after the bytes are on disk.
        (
            "bad media type",
            form(&[FormPart::file("a.txt", "not a media type", "one")]),
            unprocessable,
            "invalid_content_type",
        ),
        ("cut off", cut_off, bad_request, "upload_interrupted"),
        (
            "not a form",
            b"no boundary anywhere".to_vec(),
            bad_request,
            "malformed_multipart",
        ),
    ];
    for (case, body, status, code) in cases {
        let reply = app.upload_form(&id, body, &alice).await;
        assert_eq!(reply.status, status, "{case}: {}", reply.body);
        assert_eq!(reply.code(), code, "{case}: {}", reply.body);
        // Nothing of a refused form stays behind.
        assert!(
            app.stored_files().is_empty(),
            "{case}: {:?}",
            app.stored_files()
        );
    }

    let path = format!("/api/projects/{id}/files");
    for (content_type, status, code) in [
        (
            "application/json",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "application/octet-stream",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "multipart/form-data",
            StatusCode::BAD_REQUEST,
            "malformed_multipart",
        ),
    ] {
        let reply = app
            .request(Method::POST, &path)
            .bearer(&alice)
            .header("content-type", content_type)
            .body("{}")
            .send()
            .await;
        assert_eq!(reply.status, status, "{content_type}: {}", reply.body);
        assert_eq!(reply.code(), code, "{content_type}");
    }
    let untyped = app.request(Method::POST, &path).bearer(&alice).send().await;
    assert_eq!(untyped.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let listed = app.get_as(&path, &alice).await;
    assert_eq!(listed.body["items"], serde_json::json!([]));
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn others_cannot_upload_forms(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let id = app.project_id("Private", &alice).await;
    let body = form(&[FormPart::file("x.txt", "text/plain", "intruder")]);
    let reply = app.upload_form(&id, body.clone(), &mallory).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "not_found");
    let anonymous = app
        .request(Method::POST, &format!("/api/projects/{id}/files"))
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={FORM_BOUNDARY}"),
        )
        .body(body)
        .send()
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(app.stored_files().is_empty());
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn openapi_documents_the_form_upload_restore_and_ranges(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let doc = app.get("/openapi.json").await.body;
    let files = &doc["paths"]["/api/projects/{project_id}/files"];
    assert!(
        files["post"]["requestBody"]["content"]["multipart/form-data"].is_object(),
        "{files}"
    );
    for status in ["201", "413", "415", "422"] {
        assert!(files["post"]["responses"][status].is_object(), "{status}");
    }
    let restore = &doc["paths"]["/api/projects/{project_id}/restore-file"]["post"];
    assert!(
        restore["requestBody"]["content"]["application/json"].is_object(),
        "{restore}"
    );
    assert!(restore["responses"]["201"].is_object(), "{restore}");
    let download = &doc["paths"]["/api/projects/{project_id}/files/{path}"]["get"];
    for status in ["200", "206", "304", "416"] {
        assert!(download["responses"][status].is_object(), "{status}");
    }
    let headers: Vec<&str> = download["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter(|parameter| parameter["in"] == "header")
        .map(|parameter| parameter["name"].as_str().expect("name"))
        .collect();
    assert_eq!(headers, ["Range", "If-None-Match", "If-Range"]);
}

/// A declared type the store would refuse is refused from the request's head: the client
/// that announced 5 MiB and never sends them still gets its answer (after the service's
/// few seconds of draining), not the request timeout's 408 half a minute later.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_refused_content_type_is_answered_before_the_body_is_read(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Types", &alice).await;
    let never_sent = futures::stream::pending::<Result<Vec<u8>, std::io::Error>>();
    let upload = app
        .request(Method::PUT, &format!("/api/projects/{id}/files/big.bin"))
        .bearer(&alice)
        .header("content-type", "not a media type")
        .header("content-length", &(5 * 1024 * 1024).to_string())
        .body(Body::from_stream(never_sent))
        .send();
    let reply = tokio::time::timeout(Duration::from_secs(15), upload)
        .await
        .expect("an answer without the body (the request timeout is 30 s)");
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert_eq!(reply.code(), "invalid_content_type");
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
}
