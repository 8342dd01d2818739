//! Bytes in and out: uploads (raw and form) and downloads (whole, ranges, revalidation,
//! streamed in bounded chunks), the 10 MiB limit, cancelled uploads, uploads whose row is
//! refused, restore and deletes.

use std::time::Duration;

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use super::StorageApp;
use crate::common::{FormPart, form};

const MIB: usize = 1024 * 1024;

/// Bytes that differ from chunk to chunk, so a misplaced range or part shows.
fn patterned(length: usize) -> Vec<u8> {
    (0..length)
        .map(|at| (at % 251) as u8 ^ (at / 65_536) as u8)
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn key_of(project: &str, reply: &testkit::Reply) -> String {
    format!("{project}/{}", reply.body["id"].as_str().expect("id"))
}

pub async fn raw_and_form_uploads_round_trip(app: &StorageApp) {
    let alice = app.user("alice").await;
    let id = app.project_id("Files", &alice).await;
    // More than one S3 part (5 MiB), so a multipart upload on either backend.
    let big = patterned(6 * MIB + 123);
    let mut keys = Vec::new();
    for (path, bytes) in [
        ("docs/readme.md", b"# hello".to_vec()),
        ("empty.txt", Vec::new()),
        ("data/big.bin", big.clone()),
    ] {
        let reply = app.upload(&id, path, bytes.clone(), &alice).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
        assert_eq!(reply.body["sha256"], sha256(&bytes), "{path}");
        assert_eq!(reply.body["size_bytes"], bytes.len(), "{path}");
        keys.push(key_of(&id, &reply));
        let back = app.download(&id, path, &[], &alice).await;
        assert_eq!(back.status, StatusCode::OK, "{path}");
        assert!(back.bytes[..] == bytes[..], "{path} comes back intact");
        let etag = back.headers["etag"].to_str().expect("ASCII");
        assert!(
            etag.starts_with(&format!("\"{}-", sha256(&bytes))),
            "{etag}"
        );
        assert_eq!(back.headers["content-length"], bytes.len().to_string());
    }
    let body = form(&[
        FormPart::text("path", "forms/big.bin"),
        FormPart::file("big.bin", "application/x-demo", big.clone()),
    ]);
    let formed = app.upload_form(&id, body, &alice).await;
    assert_eq!(formed.status, StatusCode::CREATED, "{}", formed.body);
    assert_eq!(formed.body["sha256"], sha256(&big));
    keys.push(key_of(&id, &formed));
    let back = app.download(&id, "forms/big.bin", &[], &alice).await;
    assert!(
        back.bytes[..] == big[..],
        "the form's file comes back intact"
    );
    assert_eq!(back.headers["content-type"], "application/x-demo");
    // One object per version, under its key: nothing staged, nothing pending.
    app.wait_until_stored(&keys).await;
}

pub async fn ranges_and_revalidation_are_served_from_the_store(app: &StorageApp) {
    let alice = app.user("alice").await;
    let id = app.project_id("Ranges", &alice).await;
    let bytes = patterned(MIB);
    let reply = app.upload(&id, "r.bin", bytes.clone(), &alice).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let etag = app.download(&id, "r.bin", &[], &alice).await.headers["etag"].clone();
    let etag = etag.to_str().expect("ASCII");

    let part = app
        .download(&id, "r.bin", &[("range", "bytes=1000-70999")], &alice)
        .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers["content-range"], "bytes 1000-70999/1048576");
    assert!(part.bytes[..] == bytes[1000..71_000]);
    let tail = app
        .download(&id, "r.bin", &[("range", "bytes=-100")], &alice)
        .await;
    assert!(tail.bytes[..] == bytes[MIB - 100..]);
    let beyond = app
        .download(&id, "r.bin", &[("range", "bytes=1048576-")], &alice)
        .await;
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(beyond.code(), "range_not_satisfiable");

    let unchanged = app
        .download(&id, "r.bin", &[("if-none-match", etag)], &alice)
        .await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
    assert!(unchanged.bytes.is_empty());
    let current = [("range", "bytes=0-9"), ("if-range", etag)];
    let resumed = app.download(&id, "r.bin", &current, &alice).await;
    assert_eq!(resumed.status, StatusCode::PARTIAL_CONTENT);
    assert!(resumed.bytes[..] == bytes[..10]);
    let stale = [("range", "bytes=0-9"), ("if-range", "\"stale\"")];
    let whole = app.download(&id, "r.bin", &stale, &alice).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.bytes.len(), MIB);
}

/// The router itself, so the body can be read chunk by chunk: a 10 MiB file never passes
/// whole through memory, and arrives intact.
pub async fn a_ten_mib_file_streams_in_and_out_in_bounded_chunks(app: &StorageApp) {
    let alice = app.user("alice").await;
    let id = app.project_id("Streams", &alice).await;
    let bytes = patterned(10 * MIB);
    // Chunked, without a Content-Length: the limit is met while streaming, not declared.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(MIB).map(|chunk| Ok(chunk.to_vec())).collect();
    let streamed = Body::from_stream(futures::stream::iter(chunks));
    let reply = app.upload(&id, "big.bin", streamed, &alice).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    for (range, from) in [(None, 0), (Some("bytes=1000-"), 1000)] {
        let mut request = Request::get(format!("/api/projects/{id}/files/big.bin"))
            .header("authorization", format!("Bearer {}", alice.token));
        if let Some(range) = range {
            request = request.header("range", range);
        }
        let request = request.body(Body::empty()).expect("request");
        let Ok(response) = project::app(app.state.clone()).oneshot(request).await;
        let mut chunks = response.into_body().into_data_stream();
        let (mut hasher, mut total, mut largest) = (Sha256::new(), 0, 0);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.expect("chunk");
            total += chunk.len();
            largest = largest.max(chunk.len());
            hasher.update(&chunk);
        }
        assert_eq!(total, bytes.len() - from, "{range:?}");
        assert!(largest <= 64 * 1024, "{range:?}: a {largest}-byte chunk");
        assert_eq!(format!("{:x}", hasher.finalize()), sha256(&bytes[from..]));
    }
}

pub async fn uploads_over_ten_mib_are_refused_and_leave_nothing(app: &StorageApp) {
    let alice = app.user("alice").await;
    let id = app.project_id("Big", &alice).await;
    // Declared too large: refused before a byte is stored.
    let declared = app
        .upload(&id, "a.bin", vec![1u8; 10 * MIB + 1], &alice)
        .await;
    assert_eq!(declared.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(declared.code(), "payload_too_large");
    // Undeclared: past 10 MiB while streaming, after a part has gone to the store.
    let chunks = (0..11).map(|_| Ok::<_, std::io::Error>(vec![2u8; MIB]));
    let streamed = Body::from_stream(futures::stream::iter(chunks));
    let reply = app.upload(&id, "b.bin", streamed, &alice).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let body = form(&[FormPart::file(
        "c.bin",
        "application/octet-stream",
        vec![3u8; 10 * MIB + 1],
    )]);
    let reply = app.upload_form(&id, body, &alice).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // A form whose file is stored, then refused for what follows it.
    let body = form(&[
        FormPart::file("d.bin", "application/octet-stream", vec![4u8; 6 * MIB]),
        FormPart::file("e.bin", "application/octet-stream", b"again".to_vec()),
    ]);
    let reply = app.upload_form(&id, body, &alice).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert_eq!(reply.code(), "duplicate_field");
    app.wait_until_stored(&[]).await;
    let listed = app
        .get_as(&format!("/api/projects/{id}/files"), &alice)
        .await;
    assert_eq!(listed.body["items"], serde_json::json!([]));
}

/// A client gone mid-body (the request future dropped) leaves neither an object nor, on S3,
/// an unfinished multipart upload.
pub async fn an_upload_cut_off_mid_body_leaves_nothing(app: &StorageApp) {
    let alice = app.user("alice").await;
    let id = app.project_id("Cut", &alice).await;
    // Enough for a part to be sent on either backend, then nothing more.
    let first = futures::stream::iter([Ok::<_, std::io::Error>(vec![5u8; 6 * MIB])]);
    let body = Body::from_stream(first.chain(futures::stream::pending()));
    let request = Request::put(format!("/api/projects/{id}/files/cut.bin"))
        .header("authorization", format!("Bearer {}", alice.token))
        .body(body)
        .expect("request");
    let router = project::app(app.state.clone());
    let upload = tokio::spawn(async move { router.oneshot(request).await });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.pending_uploads().await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    upload.abort();
    assert!(upload.await.expect_err("aborted").is_cancelled());
    app.wait_until_stored(&[]).await;
}

/// Bytes stored whole whose row the database then refuses leave nothing behind: removed
/// before the answer, raw or form, one `put` or a completed multipart upload. The refusal is
/// a trigger raising what a lost race on the path's next version raises (the project lock
/// makes the real race rare; a refused CHECK would take the same path).
pub async fn bytes_whose_row_is_refused_are_removed_before_the_answer(app: &StorageApp) {
    sqlx::raw_sql(
        "CREATE FUNCTION projects.refuse_raced() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.path LIKE 'raced/%' THEN
                 RAISE EXCEPTION 'another upload took this version'
                     USING ERRCODE = 'unique_violation',
                           CONSTRAINT = 'project_files_project_id_path_version_key';
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_raced BEFORE INSERT ON projects.project_files
             FOR EACH ROW EXECUTE FUNCTION projects.refuse_raced();",
    )
    .execute(&app.pool)
    .await
    .expect("refusing trigger");
    let alice = app.user("alice").await;
    let id = app.project_id("Raced", &alice).await;
    let kept = app.upload(&id, "kept.txt", "kept", &alice).await;
    assert_eq!(kept.status, StatusCode::CREATED, "{}", kept.body);
    let kept = vec![key_of(&id, &kept)];

    for bytes in [b"small".to_vec(), patterned(6 * MIB)] {
        let raw = app
            .upload(&id, "raced/raw.bin", bytes.clone(), &alice)
            .await;
        let body = form(&[
            FormPart::text("path", "raced/form.bin"),
            FormPart::file("form.bin", "application/octet-stream", bytes.clone()),
        ]);
        let formed = app.upload_form(&id, body, &alice).await;
        for reply in [raw, formed] {
            testkit::assert_error(&reply, StatusCode::CONFLICT, "upload_conflict");
            assert_eq!(
                (app.stored().await, app.pending_uploads().await),
                (kept.clone(), 0),
                "{} bytes left behind",
                bytes.len()
            );
        }
    }
    let listed = app
        .get_as(&format!("/api/projects/{id}/files"), &alice)
        .await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
}

pub async fn restore_shares_bytes_and_deletes_remove_only_unreferenced(app: &StorageApp) {
    let alice = app.user("alice").await;
    let id = app.project_id("Restore", &alice).await;
    let other = app.project_id("Other", &alice).await;
    let first = app.upload(&id, "a.txt", "one", &alice).await;
    let second = app.upload(&id, "a.txt", "two", &alice).await;
    let kept = app.upload(&other, "b.txt", "kept", &alice).await;
    let restore = serde_json::json!({ "path": "a.txt", "version": 1 });
    let path = format!("/api/projects/{id}/restore-file");
    let restored = app.post_as(&path, restore, &alice).await;
    assert_eq!(restored.status, StatusCode::CREATED, "{}", restored.body);
    assert_eq!(restored.body["version"], 3);
    let latest = app.download(&id, "a.txt", &[], &alice).await;
    assert_eq!(&latest.bytes[..], b"one");
    let all = [
        key_of(&id, &first),
        key_of(&id, &second),
        key_of(&other, &kept),
    ];
    app.wait_until_stored(&all).await;

    // Every version of the path goes, so both objects do (version 3 shares version 1's).
    let deleted = app
        .delete_as(&format!("/api/projects/{id}/files/a.txt"), &alice)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.wait_until_stored(&[key_of(&other, &kept)]).await;

    app.upload(&id, "c.txt", "gone soon", &alice).await;
    let gone = app.delete_as(&format!("/api/projects/{id}"), &alice).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    app.wait_until_stored(&[key_of(&other, &kept)]).await;
    let still = app.download(&other, "b.txt", &[], &alice).await;
    assert_eq!(&still.bytes[..], b"kept");
}
