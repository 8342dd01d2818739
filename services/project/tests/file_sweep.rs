//! The service's orphan sweep on files uploaded through the app: old orphans (strays, old
//! temporaries, old bytes without a row) go; referenced files, however old, and anything an
//! upload in flight could still own stay, also with two sweeps at once.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{
    TestApp,
    disk::{TWO_HOURS, backdate, plant, project_with_kept_file, sorted, storage_key},
};
use sqlx::PgPool;
use uuid::Uuid;

const BINARY: &str = env!("CARGO_BIN_EXE_project");

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_service_sweeps_old_orphans_and_keeps_referenced_and_young_files(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (project, kept) = project_with_kept_file(&app).await;
    let root = app.files_dir.clone();
    // Old, but referenced: never an orphan.
    backdate(&root.join(&kept), TWO_HOURS);
    let fresh_temp = format!("{project}/.{}.partial", Uuid::new_v4());
    plant(&root, &fresh_temp, b"half", Duration::ZERO);
    let fresh_blob = format!("{project}/{}", Uuid::new_v4());
    plant(&root, &fresh_blob, b"soon", Duration::ZERO);
    plant(&root, "stray.txt", b"?", Duration::ZERO);
    plant(
        &root,
        &format!("{project}/.{}.partial", Uuid::new_v4()),
        b"h",
        TWO_HOURS,
    );
    plant(
        &root,
        &format!("{project}/{}", Uuid::new_v4()),
        b"gone",
        TWO_HOURS,
    );

    let key = testkit::SigningKeyFile::new();
    let dir = root.to_string_lossy();
    let env = [
        ("JWT_PRIVATE_KEY_FILE", key.path()),
        ("PROJECTS_DIR", &dir),
        ("PROJECT_SWEEP_INTERVAL_SECS", "1"),
    ];
    let mut service = testkit::spawn_service(BINARY, "PROJECT_", &pool, &env);
    let ready = format!("{}/health/ready", service.base_url);
    testkit::wait_until_ok(&ready, &mut service.child).await;
    let expected = sorted(&[kept, fresh_temp, fresh_blob]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.stored_files() != expected {
        assert!(
            Instant::now() < deadline,
            "swept to {expected:?}, found {:?}",
            app.stored_files()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Still so after more sweeps.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.stored_files(), expected);
    testkit::stop_gracefully(service.child).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn two_sweeps_at_once_both_finish_and_remove_only_orphans(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let project = app.project_id("Files", &alice).await;
    let mut referenced = Vec::new();
    for index in 0..10 {
        let path = format!("kept-{index}.txt");
        let reply = app
            .upload(&project, &path, "text/plain", "kept", &alice)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let key = storage_key(&app, &project, &path).await;
        backdate(&app.files_dir.join(&key), TWO_HOURS);
        referenced.push(key);
    }
    for _ in 0..200 {
        plant(
            &app.files_dir,
            &format!("{project}/{}", Uuid::new_v4()),
            b"x",
            TWO_HOURS,
        );
    }
    let store = project::storage::FileStore::new(&app.files_dir);
    let grace = project::cleanup::ORPHAN_GRACE;
    let (first, second) = tokio::join!(
        project::cleanup::sweep::sweep_once(&app.pool, &store, grace),
        project::cleanup::sweep::sweep_once(&app.pool, &store, grace),
    );
    let removed = first.expect("first sweep") + second.expect("second sweep");
    assert!(removed >= 200, "{removed}");
    assert_eq!(app.stored_files(), sorted(&referenced));
}
