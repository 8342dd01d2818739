//! `GET .../files` pages like every other list once asked to (`limit`, `cursor`): the latest
//! version of each file in path order, or one path's versions newest first, each row once.
//! Asked for neither, it still answers every file as one page, as it did before it paged,
//! so a client written then still sees them all.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::Value;
use sqlx::PgPool;
use testkit::{User, assert_error};

/// alice's project "Pages" with `paths` uploaded once each (their own path as the bytes).
async fn project_with_files(app: &TestApp, paths: &[String]) -> (String, User) {
    let alice = app.user("alice").await;
    let project = app.project_id("Pages", &alice).await;
    for path in paths {
        let reply = app
            .upload(&project, path, "text/plain", path.clone(), &alice)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    (project, alice)
}

/// `(path, version)` of each item of a list answer.
fn rows(reply: &testkit::Reply) -> Vec<(String, i64)> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let items = reply.body["items"].as_array().expect("items");
    items
        .iter()
        .map(|file| {
            let path = file["path"].as_str().expect("path").to_owned();
            (path, file["version"].as_i64().expect("version"))
        })
        .collect()
}

/// Follows `next_cursor` from `first` (a list URL with `limit`), returning each page's rows.
async fn every_page(app: &TestApp, first: &str, alice: &User) -> Vec<Vec<(String, i64)>> {
    let mut pages = Vec::new();
    let mut url = first.to_owned();
    loop {
        let reply = app.get_as(&url, alice).await;
        pages.push(rows(&reply));
        let Some(cursor) = reply.body["next_cursor"].as_str() else {
            return pages;
        };
        url = format!("{first}&cursor={cursor}");
        assert!(pages.len() < 20, "the pages never end");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn files_page_in_path_order_and_versions_newest_first_each_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let paths: Vec<String> = ["e.txt", "a.txt", "docs/b.md", "c.txt", "docs.md"]
        .map(str::to_owned)
        .into();
    let (project, alice) = project_with_files(&app, &paths).await;
    for _ in 0..2 {
        let again = app
            .upload(&project, "c.txt", "text/plain", "again", &alice)
            .await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    }
    let list = format!("/api/projects/{project}/files");
    let whole = rows(&app.get_as(&list, &alice).await);
    assert_eq!(whole.len(), 5, "{whole:?}");
    assert!(whole.contains(&("c.txt".to_owned(), 3)), "{whole:?}");

    let pages = every_page(&app, &format!("{list}?limit=2"), &alice).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(pages.concat(), whole, "the same rows in the same order");

    let versions = every_page(&app, &format!("{list}?path=c.txt&limit=2"), &alice).await;
    let c = |version| ("c.txt".to_owned(), version);
    assert_eq!(versions, [vec![c(3), c(2)], vec![c(1)]]);
    let all = every_page(&app, &format!("{list}?path=c.txt&limit=3"), &alice).await;
    assert_eq!(
        all,
        [vec![c(3), c(2), c(1)]],
        "no empty page after a full one"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn without_limit_or_cursor_every_file_comes_as_one_page(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let paths: Vec<String> = (0..51).map(|n| format!("f{n:02}.txt")).collect();
    let (project, alice) = project_with_files(&app, &paths).await;
    let list = format!("/api/projects/{project}/files");

    let whole = app.get_as(&list, &alice).await;
    assert_eq!(rows(&whole).len(), 51);
    assert_eq!(whole.body["next_cursor"], Value::Null);
    // A cursor alone pages at the default size, as everywhere.
    let first = app.get_as(&format!("{list}?limit=1"), &alice).await;
    let cursor = first.body["next_cursor"].as_str().expect("a next page");
    let rest = app.get_as(&format!("{list}?cursor={cursor}"), &alice).await;
    assert_eq!(rows(&rest).len(), 50);
    assert_eq!(rest.body["next_cursor"], Value::Null);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn bad_limits_and_cursors_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (project, alice) = project_with_files(&app, &["a.txt".to_owned()]).await;
    let list = format!("/api/projects/{project}/files");
    for limit in ["0", "101", "-1"] {
        let reply = app.get_as(&format!("{list}?limit={limit}"), &alice).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_limit");
    }
    // Made up, another list's (board order; creation order), and one that would read as
    // this list's but is not spelled as it writes them.
    let creation = platform::pagination::encode_cursor(chrono::Utc::now(), uuid::Uuid::nil());
    let board = "b1.4090000000000000.1";
    for cursor in ["made-up", board, &creation, "f1.YS50eHQ.01", "f1.YS50eHQ.0"] {
        let reply = app.get_as(&format!("{list}?cursor={cursor}"), &alice).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_cursor");
    }
}
