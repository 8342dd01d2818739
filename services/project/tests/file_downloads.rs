//! Downloads browsers and tools can resume and revalidate: `Range` (206/416), `If-None-Match`
//! (304), `If-Range`, `HEAD`, always `Accept-Ranges: bytes` and an `ETag` (what it names, and
//! downloads racing changes: `file_changes.rs`).

mod common;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use common::TestApp;
use futures::StreamExt;
use project::AppState;
use sqlx::PgPool;
use testkit::{Reply, User};
use tower::ServiceExt;

const DIGITS: &str = "0123456789";

/// A project holding `data.txt` = [`DIGITS`]; returns its id, owner and the quoted ETag.
async fn digits(app: &TestApp) -> (String, User, String) {
    let alice = app.user("alice").await;
    let id = app.project_id("Downloads", &alice).await;
    let reply = app
        .upload(&id, "data.txt", "text/plain", DIGITS, &alice)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let head = app.download(&id, "data.txt", &[], &alice).await;
    let etag = header(&head, "etag").to_owned();
    (id, alice, etag)
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", reply.headers))
        .to_str()
        .expect("ASCII")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_whole_download_carries_its_validators(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice, etag) = digits(&app).await;
    let reply = app.download(&id, "data.txt", &[], &alice).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(&reply.bytes[..], DIGITS.as_bytes());
    assert_eq!(header(&reply, "etag"), etag);
    assert_eq!(
        etag,
        "\"84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882-dc23933049d8b068\"",
        "the bytes' SHA-256, then a digest of text/plain"
    );
    assert_eq!(header(&reply, "accept-ranges"), "bytes");
    assert_eq!(header(&reply, "content-length"), "10");
    assert_eq!(header(&reply, "content-type"), "text/plain");
    assert_eq!(header(&reply, "x-file-version"), "1");
    assert!(!reply.headers.contains_key("content-range"));
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn byte_ranges_are_answered_with_206_and_their_content_range(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice, etag) = digits(&app).await;
    for (range, content_range, bytes) in [
        ("bytes=0-3", "bytes 0-3/10", "0123"),
        ("bytes=0-0", "bytes 0-0/10", "0"),
        // The last byte, asked for three ways.
        ("bytes=9-9", "bytes 9-9/10", "9"),
        ("bytes=9-", "bytes 9-9/10", "9"),
        ("bytes=-1", "bytes 9-9/10", "9"),
        ("bytes=7-", "bytes 7-9/10", "789"),
        ("bytes=-3", "bytes 7-9/10", "789"),
        // A suffix longer than the file is the whole file; an end beyond it is the end.
        ("bytes=-30", "bytes 0-9/10", DIGITS),
        ("bytes=5-100", "bytes 5-9/10", "56789"),
        // One satisfiable range among unsatisfiable ones.
        ("bytes=2-3, 50-60", "bytes 2-3/10", "23"),
    ] {
        let reply = app
            .download(&id, "data.txt", &[("range", range)], &alice)
            .await;
        assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(header(&reply, "content-range"), content_range, "{range}");
        assert_eq!(&reply.bytes[..], bytes.as_bytes(), "{range}");
        assert_eq!(
            header(&reply, "content-length"),
            bytes.len().to_string(),
            "{range}"
        );
        assert_eq!(header(&reply, "etag"), etag, "{range}");
        assert_eq!(header(&reply, "accept-ranges"), "bytes", "{range}");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn ranges_starting_beyond_the_end_are_416_with_the_size(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice, _) = digits(&app).await;
    for range in ["bytes=10-", "bytes=10-20", "bytes=50-60, 70-"] {
        let reply = app
            .download(&id, "data.txt", &[("range", range)], &alice)
            .await;
        assert_eq!(reply.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(reply.code(), "range_not_satisfiable", "{range}");
        assert_eq!(header(&reply, "content-range"), "bytes */10", "{range}");
        assert_eq!(header(&reply, "accept-ranges"), "bytes", "{range}");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn malformed_and_multiple_ranges_get_the_whole_file(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice, _) = digits(&app).await;
    for range in [
        "bytes=abc",
        "bytes=5-2",
        "bytes=-",
        "bytes 0-3",
        "lines=0-3",
        "",
        // Several ranges: the whole file rather than multipart/byteranges.
        "bytes=0-1, 5-6",
    ] {
        let reply = app
            .download(&id, "data.txt", &[("range", range)], &alice)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{range:?}");
        assert_eq!(&reply.bytes[..], DIGITS.as_bytes(), "{range:?}");
        assert_eq!(header(&reply, "content-length"), "10", "{range:?}");
        assert!(!reply.headers.contains_key("content-range"), "{range:?}");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_zero_length_file_has_no_byte_to_point_at(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Empty", &alice).await;
    let reply = app
        .upload(&id, "empty.bin", "application/octet-stream", "", &alice)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);

    let whole = app.download(&id, "empty.bin", &[], &alice).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(header(&whole, "content-length"), "0");
    assert!(whole.bytes.is_empty());
    let start = app
        .download(&id, "empty.bin", &[("range", "bytes=0-")], &alice)
        .await;
    assert_eq!(start.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&start, "content-range"), "bytes */0");
    // A suffix of an empty file selects all of it, which no Content-Range can name.
    let suffix = app
        .download(&id, "empty.bin", &[("range", "bytes=-5")], &alice)
        .await;
    assert_eq!(suffix.status, StatusCode::OK);
    assert!(suffix.bytes.is_empty());
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_matching_if_none_match_is_304_without_a_body(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice, etag) = digits(&app).await;
    let weak = format!("W/{etag}");
    let listed = format!("\"other\", {etag}");
    for if_none_match in [etag.as_str(), weak.as_str(), listed.as_str(), "*"] {
        let reply = app
            .download(&id, "data.txt", &[("if-none-match", if_none_match)], &alice)
            .await;
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{if_none_match}");
        assert!(reply.bytes.is_empty(), "{if_none_match}");
        assert_eq!(header(&reply, "etag"), etag, "{if_none_match}");
        // Never a zero length: only the length a 200 would have may be sent.
        assert_eq!(header(&reply, "content-length"), "10", "{if_none_match}");
    }
    // 304 wins over a range (RFC 9110 §13.2.2: If-None-Match is evaluated first).
    let reply = app
        .download(
            &id,
            "data.txt",
            &[("if-none-match", etag.as_str()), ("range", "bytes=0-1")],
            &alice,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);

    let stale = app
        .download(&id, "data.txt", &[("if-none-match", "\"other\"")], &alice)
        .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(&stale.bytes[..], DIGITS.as_bytes());

    // A new version has a new ETag: the old one no longer matches the latest.
    app.upload(&id, "data.txt", "text/plain", "changed", &alice)
        .await;
    let changed = app
        .download(&id, "data.txt", &[("if-none-match", etag.as_str())], &alice)
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(&changed.bytes[..], b"changed");
    let first = app
        .download(
            &id,
            "data.txt?version=1",
            &[("if-none-match", etag.as_str())],
            &alice,
        )
        .await;
    assert_eq!(first.status, StatusCode::NOT_MODIFIED);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn if_range_serves_the_range_only_while_the_etag_is_current(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice, etag) = digits(&app).await;
    let matching = app
        .download(
            &id,
            "data.txt",
            &[("range", "bytes=4-5"), ("if-range", etag.as_str())],
            &alice,
        )
        .await;
    assert_eq!(matching.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&matching.bytes[..], b"45");

    let weak = format!("W/{etag}");
    for if_range in ["\"some-older-version\"", weak.as_str(), "not an etag"] {
        let reply = app
            .download(
                &id,
                "data.txt",
                &[("range", "bytes=4-5"), ("if-range", if_range)],
                &alice,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{if_range}");
        assert_eq!(&reply.bytes[..], DIGITS.as_bytes(), "{if_range}");
    }

    // The client resumes after the file changed under it: it gets the new file whole.
    app.upload(&id, "data.txt", "text/plain", "abcdefghij-new", &alice)
        .await;
    let resumed = app
        .download(
            &id,
            "data.txt",
            &[("range", "bytes=4-"), ("if-range", etag.as_str())],
            &alice,
        )
        .await;
    assert_eq!(resumed.status, StatusCode::OK);
    assert_eq!(&resumed.bytes[..], b"abcdefghij-new");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn head_answers_with_the_headers_only(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, alice, etag) = digits(&app).await;
    let path = format!("/api/projects/{id}/files/data.txt");
    let whole = app.request(Method::HEAD, &path).bearer(&alice).send().await;
    assert_eq!(whole.status, StatusCode::OK);
    assert!(whole.bytes.is_empty());
    assert_eq!(header(&whole, "content-length"), "10");
    assert_eq!(header(&whole, "etag"), etag);
    assert_eq!(header(&whole, "accept-ranges"), "bytes");
    let part = app
        .request(Method::HEAD, &path)
        .bearer(&alice)
        .header("range", "bytes=-4")
        .send()
        .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert!(part.bytes.is_empty());
    assert_eq!(header(&part, "content-length"), "4");
    assert_eq!(header(&part, "content-range"), "bytes 6-9/10");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn large_files_stream_intact_across_read_chunks(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Large", &alice).await;
    // Not one repeated byte, so a chunk served twice or out of order would show.
    let bytes: Vec<u8> = (0..10 * 1024 * 1024u32).map(|n| (n % 251) as u8).collect();
    let reply = app
        .upload(
            &id,
            "big.bin",
            "application/octet-stream",
            bytes.clone(),
            &alice,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);

    let whole = app.download(&id, "big.bin", &[], &alice).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.bytes.len(), bytes.len());
    assert!(
        whole.bytes[..] == bytes[..],
        "the whole file comes back intact"
    );
    // Across the 64 KiB read size, and the very end.
    for (first, last) in [
        (65_530, 65_545),
        (1_000_000, 3_000_000),
        (10_485_750, 10_485_759),
    ] {
        let range = format!("bytes={first}-{last}");
        let reply = app
            .download(&id, "big.bin", &[("range", range.as_str())], &alice)
            .await;
        assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert!(reply.bytes[..] == bytes[first..=last], "{range}");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn others_cannot_probe_files_with_conditional_requests(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, _, etag) = digits(&app).await;
    let mallory = app.user("mallory").await;
    for headers in [[("if-none-match", etag.as_str())], [("range", "bytes=0-1")]] {
        let reply = app.download(&id, "data.txt", &headers, &mallory).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{headers:?}");
        assert_eq!(reply.code(), "not_found");
    }
}

/// The body is read from disk as the client takes it: no chunk is larger than the 64 KiB
/// read size, so a download never holds the whole file (10 MiB here) in memory.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn downloads_stream_in_bounded_chunks(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id("Streams", &alice).await;
    let size = 10 * 1024 * 1024;
    let reply = app
        .upload(
            &id,
            "big.bin",
            "application/octet-stream",
            vec![3u8; size],
            &alice,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    // The router itself, so the body can be read chunk by chunk (the test client collects it).
    let state = AppState::new(
        app.pool.clone(),
        app.tokens.verifier(),
        &app.files_dir,
        Default::default(),
    );
    for (range, expected) in [(None, size), (Some("bytes=1000-"), size - 1000)] {
        let mut request = Request::get(format!("/api/projects/{id}/files/big.bin"))
            .header("authorization", format!("Bearer {}", alice.token));
        if let Some(range) = range {
            request = request.header("range", range);
        }
        let request = request.body(Body::empty()).expect("request");
        let Ok(response) = project::app(state.clone()).oneshot(request).await;
        let mut chunks = response.into_body().into_data_stream();
        let (mut total, mut largest, mut count) = (0, 0, 0);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.expect("chunk");
            total += chunk.len();
            largest = largest.max(chunk.len());
            count += 1;
        }
        assert_eq!(total, expected, "{range:?}");
        assert!(largest <= 64 * 1024, "{range:?}: a {largest}-byte chunk");
        assert!(count >= expected / (64 * 1024), "{range:?}: {count} chunks");
    }
}
