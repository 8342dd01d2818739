//! File names that look alike: one name in NFC and NFD is one file, stored in NFC; names
//! that only look like another (bidi controls, invisible format characters, a trailing dot
//! or space) are refused; case twins stay two files.

mod common;

use axum::http::StatusCode;
use common::{FormPart, TestApp, form};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{Reply, User};

/// `café` composed (`é` is U+00E9) and decomposed (`e` + U+0301).
const CAFE_NFC: &str = "docs/caf\u{e9}.md";
const CAFE_NFD: &str = "docs/cafe\u{301}.md";

/// `path` as a URL path: each non-ASCII byte (and space) percent-encoded, `/` kept.
fn url_path(path: &str) -> String {
    path.bytes()
        .map(|byte| match byte {
            b'!'..=b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A test app and alice's project `name`: who uploads, and where.
async fn alices_project(pool: PgPool, name: &str) -> (TestApp, User, String) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let id = app.project_id(name, &alice).await;
    (app, alice, id)
}

/// `PUT` of `bytes` at `path` (any characters: percent-encoded here).
async fn put(app: &TestApp, id: &str, path: &str, bytes: &'static str, alice: &User) -> Reply {
    app.upload(id, &url_path(path), "text/plain", bytes, alice)
        .await
}

/// `path` (already NFC) is accepted and stored as sent.
async fn assert_stored_as_sent(app: &TestApp, id: &str, path: &str, alice: &User) {
    let reply = put(app, id, path, "x", alice).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{path:?}: {}",
        reply.body
    );
    assert_eq!(reply.body["path"], path);
}

fn paths_of(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|file| file["path"].as_str().expect("path"))
        .collect()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn nfc_and_nfd_spellings_are_one_file_stored_in_nfc(pool: PgPool) {
    let (app, alice, id) = alices_project(pool, "Menu").await;

    let first = put(&app, &id, CAFE_NFD, "one", &alice).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["path"], CAFE_NFC, "stored in NFC");
    let second = put(&app, &id, CAFE_NFC, "two", &alice).await;
    assert_eq!(second.body["version"], 2, "{}", second.body);

    let listed = app
        .get_as(&format!("/api/projects/{id}/files"), &alice)
        .await;
    assert_eq!(paths_of(&listed.body), [CAFE_NFC]);
    let versions = app
        .get_as(
            &format!("/api/projects/{id}/files?path={}", url_path(CAFE_NFD)),
            &alice,
        )
        .await;
    assert_eq!(paths_of(&versions.body), [CAFE_NFC, CAFE_NFC]);

    // A client that sends NFD finds the NFC file, on every route that takes a path.
    let download = app.download(&id, &url_path(CAFE_NFD), &[], &alice).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(&download.bytes[..], b"two");
    let restored = app
        .post_as(
            &format!("/api/projects/{id}/restore-file"),
            json!({ "path": CAFE_NFD, "version": 1 }),
            &alice,
        )
        .await;
    assert_eq!(restored.status, StatusCode::CREATED, "{}", restored.body);
    assert_eq!(restored.body["path"], CAFE_NFC);
    let deleted = app
        .delete_as(
            &format!("/api/projects/{id}/files/{}", url_path(CAFE_NFD)),
            &alice,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert!(app.stored_files().is_empty());
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_form_upload_stores_its_path_or_filename_in_nfc(pool: PgPool) {
    let (app, alice, id) = alices_project(pool, "Menu").await;

    // macOS hands browsers decomposed file names.
    let by_name = form(&[FormPart::file("cafe\u{301}.md", "text/plain", "a")]);
    let reply = app.upload_form(&id, by_name, &alice).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["path"], "caf\u{e9}.md");

    let by_field = form(&[
        FormPart::text("path", CAFE_NFD),
        FormPart::file("ignored.md", "text/plain", "b"),
    ]);
    let reply = app.upload_form(&id, by_field, &alice).await;
    assert_eq!(reply.body["path"], CAFE_NFC, "{}", reply.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn segments_ending_in_a_dot_or_space_are_refused(pool: PgPool) {
    let (app, alice, id) = alices_project(pool, "Trail").await;

    // Windows and many sync tools drop these, turning each into `a.md` or `dir/a.md`.
    for path in ["a.md.", "a.md ", "dir./a.md", "dir /a.md", "a.md\u{a0}"] {
        let reply = put(&app, &id, path, "x", &alice).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path:?}: {}",
            reply.body
        );
        assert_eq!(reply.code(), "invalid_file_path", "{path:?}");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("end with a dot or a space"), "{message}");
    }
    let form_reply = app
        .upload_form(
            &id,
            form(&[FormPart::file("a.md.", "text/plain", "x")]),
            &alice,
        )
        .await;
    assert_eq!(
        form_reply.code(),
        "invalid_file_path",
        "{}",
        form_reply.body
    );
    assert!(app.stored_files().is_empty());
    // Names that merely hold dots and spaces are fine.
    for path in ["a b.md", ".env", "v1.2/notes..md"] {
        assert_stored_as_sent(&app, &id, path, &alice).await;
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn bidi_and_invisible_format_characters_are_refused(pool: PgPool) {
    let (app, alice, id) = alices_project(pool, "Bidi").await;

    let format_characters = [
        '\u{202A}',
        '\u{202B}',
        '\u{202C}',
        '\u{202D}',
        '\u{202E}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{200E}',
        '\u{200F}',
        '\u{061C}',
        '\u{200B}',
        '\u{2060}',
        '\u{FEFF}',
        '\u{00AD}',
        '\u{E0041}',
    ];
    for character in format_characters {
        // `invoice{U+202E}fdp.exe` shows as `invoiceexe.pdf`.
        let path = format!("docs/invoice{character}fdp.exe");
        let reply = put(&app, &id, &path, "x", &alice).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{:04X}: {}",
            character as u32,
            reply.body
        );
        assert_eq!(reply.code(), "invalid_file_path");
        let message = reply.body["error"]["message"].as_str().unwrap();
        let named = format!("U+{:04X}", character as u32);
        assert!(message.contains(&named), "{message}");
    }
    let restore = app
        .post_as(
            &format!("/api/projects/{id}/restore-file"),
            json!({ "path": "a\u{202E}b", "version": 1 }),
            &alice,
        )
        .await;
    assert_eq!(restore.code(), "invalid_file_path");
    assert!(app.stored_files().is_empty());
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn joiners_some_scripts_and_emoji_need_are_kept(pool: PgPool) {
    let (app, alice, id) = alices_project(pool, "Joiners").await;

    // Persian writes some words with a zero-width non-joiner; emoji sequences use the joiner.
    for path in [
        "\u{645}\u{6CC}\u{200C}\u{62E}\u{648}\u{627}\u{647}\u{645}.md",
        "\u{1F469}\u{200D}\u{1F4BB}.md",
    ] {
        assert_stored_as_sent(&app, &id, path, &alice).await;
    }
}

/// Paths are case-sensitive, as on Linux and in S3: `A.md` and `a.md` are two files. (Folding
/// case would need a locale's rules and would rename what users uploaded; a client on a
/// case-insensitive disk syncs both names as it does any such pair.)
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn case_twins_stay_two_files(pool: PgPool) {
    let (app, alice, id) = alices_project(pool, "Case").await;

    for path in ["A.md", "a.md"] {
        let reply = app.upload(&id, path, "text/plain", path, &alice).await;
        assert_eq!(reply.body["version"], 1, "{path}: {}", reply.body);
    }
    let listed = app
        .get_as(&format!("/api/projects/{id}/files"), &alice)
        .await;
    assert_eq!(paths_of(&listed.body), ["A.md", "a.md"]);
}
