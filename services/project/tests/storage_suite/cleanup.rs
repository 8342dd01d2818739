//! The store against the rows: `project verify-files [--fix]` (the real binary, pointed at
//! the same store) and the orphan sweep (in the service, and two at once). Objects cannot be
//! backdated on S3, so "old" here is a few seconds, and the grace period shorter than that.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use db::ids::ProjectId;
use testkit::BinaryRun;
use uuid::Uuid;

use super::StorageApp;

const BINARY: &str = env!("CARGO_BIN_EXE_project");
/// How much older "old" orphans are than the ones planted just before a check.
const AGE_GAP: Duration = Duration::from_secs(4);
/// Shorter than [`AGE_GAP`], longer than a binary's start-up.
const GRACE_SECS: &str = "3";

async fn verify(app: &StorageApp, args: &[&str]) -> BinaryRun {
    let mut env = app.env();
    env.push(("DATABASE_URL".to_owned(), testkit::database_url(&app.pool)));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args = [&["verify-files"], args].concat();
    testkit::run_binary(BINARY, &args, &env).await
}

/// The problem lines, sorted, and the summary line.
fn report(run: &BinaryRun) -> (Vec<String>, String) {
    let mut lines: Vec<String> = run.stdout.lines().map(str::to_owned).collect();
    let summary = lines.pop().unwrap_or_default();
    lines.sort();
    (lines, summary)
}

fn sorted(lines: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut lines: Vec<String> = lines.into_iter().collect();
    lines.sort();
    lines
}

async fn uploaded(
    app: &StorageApp,
    project: &str,
    path: &str,
    bytes: &str,
    user: &testkit::User,
) -> String {
    let reply = app.upload(project, path, bytes.to_owned(), user).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    format!("{project}/{}", reply.body["id"].as_str().expect("id"))
}

pub async fn verify_files_reports_missing_corrupt_and_orphans_and_fix_removes_only_orphans(
    app: &StorageApp,
) {
    let alice = app.user("alice").await;
    let project = app.project_id("Files", &alice).await;
    let a = uploaded(app, &project, "a.txt", "alpha", &alice).await;
    let b = uploaded(app, &project, "b.txt", "bravo", &alice).await;
    let c = uploaded(app, &project, "c.txt", "charlie", &alice).await;
    let restore = serde_json::json!({ "path": "a.txt", "version": 1 });
    let path = format!("/api/projects/{project}/restore-file");
    assert_eq!(
        app.post_as(&path, restore, &alice).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        verify(app, &[]).await.ok(),
        "checked 4 rows, 3 files: 0 problems\n"
    );

    app.unplant(&b).await;
    app.plant(&c, b"CHARLIE").await;
    let old_blob = format!("{project}/{}", Uuid::new_v4());
    let old_partial = format!("{project}/.{}.partial", Uuid::new_v4());
    for orphan in [
        "stray.txt",
        &format!("{project}/notes.txt"),
        &old_blob,
        &old_partial,
    ] {
        app.plant(orphan, b"?").await;
    }
    tokio::time::sleep(AGE_GAP).await;
    // What an upload in flight has stored: its bytes before their row commits.
    let fresh_blob = format!("{project}/{}", Uuid::new_v4());
    app.plant(&fresh_blob, b"soon").await;
    let outside = app.plant_outside().await;

    let damaged = vec![
        format!("missing {project} b.txt v1 {b}"),
        format!("corrupt {project} c.txt v1 {c}"),
    ];
    let orphans = [
        "stray.txt".to_owned(),
        format!("{project}/notes.txt"),
        old_blob,
        old_partial,
    ];
    let found = verify(app, &["--grace-secs", GRACE_SECS]).await;
    assert_eq!(found.code, Some(1), "{found:#?}");
    let lines = damaged
        .iter()
        .cloned()
        .chain(orphans.iter().map(|o| format!("orphan {o}")));
    let summary = "checked 4 rows, 7 files: 6 problems".to_owned();
    assert_eq!(report(&found), (sorted(lines), summary.clone()));

    let fixed = verify(app, &["--fix", "--grace-secs", GRACE_SECS]).await;
    assert_eq!(fixed.code, Some(1), "{fixed:#?}");
    let removed = orphans.iter().map(|o| format!("orphan {o} (removed)"));
    let lines = damaged.iter().cloned().chain(removed);
    assert_eq!(report(&fixed), (sorted(lines), summary));
    // Never a row's bytes, corrupt or not; never what was too young; never what is not ours.
    app.wait_until_stored(&[a, c, fresh_blob]).await;
    assert!(
        app.still_there(&outside).await,
        "outside the store: untouched"
    );
    let again = verify(app, &["--grace-secs", GRACE_SECS]).await;
    let summary = "checked 4 rows, 3 files: 2 problems".to_owned();
    assert_eq!(report(&again), (sorted(damaged), summary));
}

pub async fn two_sweeps_at_once_remove_only_orphans_older_than_the_grace(app: &StorageApp) {
    let alice = app.user("alice").await;
    let project = app.project_id("Files", &alice).await;
    let mut kept = Vec::new();
    for index in 0..5 {
        kept.push(uploaded(app, &project, &format!("kept-{index}.txt"), "kept", &alice).await);
    }
    for _ in 0..30 {
        app.plant(&format!("{project}/{}", Uuid::new_v4()), b"x")
            .await;
    }
    tokio::time::sleep(AGE_GAP).await;
    let young = format!("{project}/{}", Uuid::new_v4());
    app.plant(&young, b"soon").await;
    kept.push(young);
    let store = &app.state.files;
    let grace = Duration::from_secs(GRACE_SECS.parse().expect("seconds"));
    let (first, second) = tokio::join!(
        project::cleanup::sweep::sweep_once(&app.pool, store, grace),
        project::cleanup::sweep::sweep_once(&app.pool, store, grace),
    );
    let removed = first.expect("first sweep") + second.expect("second sweep");
    assert!(removed >= 30, "{removed}");
    app.wait_until_stored(&kept).await;
}

/// The service started on the store sweeps it: strays go at any age, referenced and young
/// objects stay (its grace period is an hour); `/health/ready` reports the store.
pub async fn the_service_sweeps_the_store_it_serves(app: &StorageApp) {
    let alice = app.user("alice").await;
    let project = app.project_id("Files", &alice).await;
    let kept = uploaded(app, &project, "kept.txt", "kept", &alice).await;
    let young = format!("{project}/{}", Uuid::new_v4());
    app.plant(&young, b"soon").await;
    app.plant("stray.txt", b"?").await;
    app.plant(&format!("{}/notes.txt", ProjectId::new()), b"?")
        .await;

    let key = testkit::SigningKeyFile::new();
    let mut env = app.env();
    env.push(("JWT_PRIVATE_KEY_FILE".to_owned(), key.path().to_owned()));
    env.push(("PROJECT_SWEEP_INTERVAL_SECS".to_owned(), "1".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut service = testkit::spawn_service(BINARY, "PROJECT_", &app.pool, &env);
    let ready = format!("{}/health/ready", service.base_url);
    let ready = testkit::wait_until_ok(&ready, &mut service.child).await;
    assert_eq!(ready["checks"][1]["name"], "storage", "{ready}");
    assert_eq!(ready["checks"][1]["ok"], true, "{ready}");
    let expected = sorted([kept, young]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.stored().await != expected {
        assert!(
            Instant::now() < deadline,
            "swept to {expected:?}, found {:?}",
            app.stored().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Still so after more sweeps.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.stored().await, expected);
    testkit::stop_gracefully(service.child).await;
}
