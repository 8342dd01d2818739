//! Files on disk for the cleanup tests: planted with an age, looked up by their row, and the
//! project most of them start from.

use std::{
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use axum::http::StatusCode;
use db::ids::ProjectId;

use super::TestApp;

/// Older than any grace period the service gives an upload in flight.
pub const TWO_HOURS: Duration = Duration::from_secs(2 * 60 * 60);

/// `lines` in sorted order, as the reports and [`TestApp::stored_files`] list them.
pub fn sorted(lines: &[String]) -> Vec<String> {
    let mut lines = lines.to_vec();
    lines.sort();
    lines
}

/// Writes `bytes` at `relative` under `root`, last modified `age` ago.
pub fn plant(root: &Path, relative: &str, bytes: &[u8], age: Duration) -> PathBuf {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(&path, bytes).expect("write");
    backdate(&path, age);
    path
}

pub fn backdate(path: &Path, age: Duration) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open");
    file.set_modified(SystemTime::now() - age)
        .expect("set mtime");
}

pub async fn storage_key(app: &TestApp, project: &str, path: &str) -> String {
    let project = ProjectId(project.parse().expect("uuid"));
    db::projects::files::find(&app.pool, project, path, None)
        .await
        .expect("query")
        .expect("row")
        .storage_key
}

/// alice's project "Files" with `kept.txt` uploaded: the project's id and the file's
/// storage key.
pub async fn project_with_kept_file(app: &TestApp) -> (String, String) {
    let alice = app.user("alice").await;
    let project = app.project_id("Files", &alice).await;
    let reply = app
        .upload(&project, "kept.txt", "text/plain", "kept", &alice)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let kept = storage_key(app, &project, "kept.txt").await;
    (project, kept)
}
