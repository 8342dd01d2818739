//! `project verify-files [--fix]`, run as the real binary against files uploaded through the
//! app: missing and corrupt bytes are reported and never "fixed"; orphans (strays, old
//! temporaries, old bytes without a row) are reported and removed; anything an upload in
//! flight could still own is left alone. The service's own periodic sweep: `file_sweep.rs`.

mod common;

use std::{path::PathBuf, time::Duration};

use axum::http::StatusCode;
use common::{
    TestApp,
    disk::{TWO_HOURS, plant, project_with_kept_file, sorted, storage_key},
};
use db::ids::ProjectId;
use serde_json::json;
use sqlx::PgPool;
use testkit::BinaryRun;
use uuid::Uuid;

const BINARY: &str = env!("CARGO_BIN_EXE_project");

async fn verify(app: &TestApp, args: &[&str]) -> BinaryRun {
    let url = testkit::database_url(&app.pool);
    let dir = app.files_dir.to_string_lossy();
    let args = [&["verify-files"], args].concat();
    testkit::run_binary(
        BINARY,
        &args,
        &[("DATABASE_URL", &url), ("PROJECTS_DIR", &dir)],
    )
    .await
}

/// The problem lines, sorted, and the summary line.
fn report(run: &BinaryRun) -> (Vec<String>, String) {
    let mut lines: Vec<String> = run.stdout.lines().map(str::to_owned).collect();
    let summary = lines.pop().unwrap_or_default();
    lines.sort();
    (lines, summary)
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn verify_reports_missing_corrupt_and_orphans_and_fix_removes_only_orphans(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let project = app.project_id("Files", &alice).await;
    for (path, bytes) in [
        ("a.txt", "alpha"),
        ("b.txt", "bravo"),
        ("c.txt", "charlie"),
        ("a.txt", "alpha two"),
    ] {
        let reply = app
            .upload(&project, path, "text/plain", bytes, &alice)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    // Version 3 of a.txt shares version 1's bytes: 5 rows, 4 files.
    let restore = json!({ "path": "a.txt", "version": 1 });
    let reply = app
        .post_as(
            &format!("/api/projects/{project}/restore-file"),
            restore,
            &alice,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let clean = verify(&app, &[]).await;
    assert_eq!(clean.ok(), "checked 5 rows, 4 files: 0 problems\n");

    let root = app.files_dir.clone();
    let b_key = storage_key(&app, &project, "b.txt").await;
    let c_key = storage_key(&app, &project, "c.txt").await;
    std::fs::remove_file(root.join(&b_key)).expect("remove b");
    std::fs::write(root.join(&c_key), "CHARLIE").expect("change c");
    let (old_temp, fresh_temp) = (Uuid::new_v4(), Uuid::new_v4());
    let (old_blob, fresh_blob) = (Uuid::new_v4(), Uuid::new_v4());
    plant(&root, "stray.txt", b"?", Duration::ZERO);
    plant(&root, &format!("{project}/notes.txt"), b"?", Duration::ZERO);
    plant(
        &root,
        &format!("{project}/.{old_temp}.partial"),
        b"half",
        TWO_HOURS,
    );
    plant(
        &root,
        &format!("{project}/{old_blob}"),
        b"no row",
        TWO_HOURS,
    );
    // What an upload in flight has on disk: its temporary, or its bytes before the commit.
    plant(
        &root,
        &format!("{project}/.{fresh_temp}.partial"),
        b"half",
        Duration::ZERO,
    );
    plant(
        &root,
        &format!("{project}/{fresh_blob}"),
        b"soon",
        Duration::ZERO,
    );

    let damaged = vec![
        format!("missing {project} b.txt v1 {b_key}"),
        format!("corrupt {project} c.txt v1 {c_key}"),
    ];
    let orphans = vec![
        "orphan stray.txt".to_owned(),
        format!("orphan {project}/notes.txt"),
        format!("orphan {project}/.{old_temp}.partial"),
        format!("orphan {project}/{old_blob}"),
    ];
    let found = verify(&app, &[]).await;
    assert_eq!(found.code, Some(1), "{found:#?}");
    let expected = sorted(&[damaged.clone(), orphans.clone()].concat());
    let summary = "checked 5 rows, 9 files: 6 problems".to_owned();
    assert_eq!(report(&found), (expected, summary.clone()));

    let fixed = verify(&app, &["--fix"]).await;
    assert_eq!(fixed.code, Some(1), "{fixed:#?}");
    let removed: Vec<String> = orphans
        .iter()
        .map(|line| format!("{line} (removed)"))
        .collect();
    let expected = sorted(&[damaged.clone(), removed].concat());
    assert_eq!(report(&fixed), (expected, summary));
    let a_v1 = db::projects::files::find(
        &app.pool,
        ProjectId(project.parse().expect("uuid")),
        "a.txt",
        Some(1),
    )
    .await
    .expect("query")
    .expect("row");
    let a_latest = storage_key(&app, &project, "a.txt").await;
    assert_eq!(
        a_latest, a_v1.storage_key,
        "the restore shares version 1's bytes"
    );
    let kept = sorted(&[
        a_v1.storage_key,
        c_key,
        format!("{project}/.{fresh_temp}.partial"),
        format!("{project}/{fresh_blob}"),
    ]);
    let stored = app.stored_files();
    assert_eq!(stored.len(), 5, "{stored:?}");
    for key in &kept {
        assert!(stored.contains(key), "{key} kept: {stored:?}");
    }

    let again = verify(&app, &[]).await;
    assert_eq!(again.code, Some(1), "{again:#?}");
    let summary = "checked 5 rows, 5 files: 2 problems".to_owned();
    assert_eq!(report(&again), (sorted(&damaged), summary));

    // Without a grace period the upload-in-flight files count too (for a stopped service).
    let no_grace = verify(&app, &["--grace-secs", "0"]).await;
    let young = vec![
        format!("orphan {project}/.{fresh_temp}.partial"),
        format!("orphan {project}/{fresh_blob}"),
    ];
    let expected = sorted(&[damaged, young].concat());
    let summary = "checked 5 rows, 5 files: 4 problems".to_owned();
    assert_eq!(report(&no_grace), (expected, summary));
}

/// What a crash mid-upload leaves locally: object_store's staging file `<key>#<n>`, hidden
/// from its own listing. It is an upload in flight until the grace period has passed.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_crashed_uploads_staging_file_is_an_orphan_once_the_grace_has_passed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (project, kept) = project_with_kept_file(&app).await;
    let (old, fresh) = (Uuid::new_v4(), Uuid::new_v4());
    let old = format!("{project}/{old}#1");
    let fresh = format!("{project}/{fresh}#2");
    plant(&app.files_dir, &old, b"half", TWO_HOURS);
    plant(&app.files_dir, &fresh, b"half", Duration::ZERO);

    let found = verify(&app, &[]).await;
    let expected = (
        vec![format!("orphan {old}")],
        "checked 1 rows, 3 files: 1 problems".to_owned(),
    );
    assert_eq!(report(&found), expected, "{found:#?}");
    let fixed = verify(&app, &["--fix"]).await;
    assert_eq!(report(&fixed).0, [format!("orphan {old} (removed)")]);
    assert_eq!(app.stored_files(), sorted(&[kept.clone(), fresh.clone()]));

    let store = project::storage::FileStore::new(&app.files_dir);
    let removed = project::cleanup::sweep::sweep_once(&app.pool, &store, Duration::ZERO)
        .await
        .expect("sweep");
    assert_eq!(removed, 1, "the stale staging file");
    assert_eq!(app.stored_files(), [kept]);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn verify_on_an_empty_store_is_clean(pool: PgPool) {
    let app = TestApp::new(pool).await;
    std::fs::create_dir_all(&app.files_dir).expect("dir");
    assert_eq!(
        verify(&app, &[]).await.ok(),
        "checked 0 rows, 0 files: 0 problems\n"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn verify_refuses_bad_usage_and_a_missing_projects_dir_with_exit_2(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for (args, message) in [
        (&["--fxi"][..], "unexpected argument `--fxi`"),
        (&["--grace-secs", "soon"], "not `soon`"),
    ] {
        let run = verify(&app, args).await;
        assert_eq!(run.code, Some(2), "{run:#?}");
        assert_eq!(run.stdout, "");
        assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
        assert!(run.stderr.contains(message), "{run:#?}");
        assert!(
            run.stderr.contains("usage: project verify-files"),
            "{run:#?}"
        );
    }
    // Never created: every row would look missing, so it does not check at all.
    let run = verify(&app, &[]).await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(
        run.stderr
            .starts_with("project verify-files: error: PROJECTS_DIR"),
        "{run:#?}"
    );
}

#[sqlx::test(migrations = false)]
async fn verify_refuses_an_unmigrated_database_with_exit_2(pool: PgPool) {
    let dir = tempfile_dir();
    let url = testkit::database_url(&pool);
    let dir_env = dir.to_string_lossy();
    let env = [("DATABASE_URL", url.as_str()), ("PROJECTS_DIR", &dir_env)];
    let run = testkit::run_binary(BINARY, &["verify-files"], &env).await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("schema is at version 0"), "{run:#?}");
    std::fs::remove_dir_all(dir).expect("cleanup");
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("project-verify-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn rows_are_paged_by_storage_key_each_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let project = app.project_id("Files", &alice).await;
    for index in 0..5 {
        let path = format!("f{index}.txt");
        let reply = app
            .upload(&project, &path, "text/plain", "same", &alice)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let mut seen = Vec::new();
    let mut after: Option<(String, db::ids::FileId)> = None;
    loop {
        let cursor = after.as_ref().map(|(key, id)| (key.as_str(), *id));
        let page = db::projects::files::page_by_storage_key(&app.pool, cursor, 2)
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        after = Some((last.storage_key.clone(), last.id));
        seen.extend(
            page.iter()
                .map(|row| (row.storage_key.clone(), row.path.clone())),
        );
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(
        seen.windows(2).all(|pair| pair[0] < pair[1]),
        "ordered once each: {seen:?}"
    );
}
