//! The project binary killed with SIGKILL in the middle of concurrent uploads: every upload
//! that was answered 201 is listed with whole bytes, nothing references missing or changed
//! bytes, and `verify-files --fix` clears whatever the crash left behind.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use db::ids::ProjectId;
use futures::StreamExt;
use project::storage::FileStore;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use testkit::SigningKeyFile;
use uuid::Uuid;

const BINARY: &str = env!("CARGO_BIN_EXE_project");
const UPLOADS: usize = 40;
const UPLOAD_BYTES: usize = 256 * 1024;
const CONNECTIONS: usize = 4;
/// Answered uploads before the kill: well before the end, with uploads still in flight.
const KILL_AFTER: usize = 10;

/// A `PROJECTS_DIR` of its own, removed when the test ends.
struct FilesDir(std::path::PathBuf);

impl FilesDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("project-crash-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("files dir");
        Self(dir)
    }
}

impl Drop for FilesDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn content(index: usize) -> Vec<u8> {
    (0..UPLOAD_BYTES)
        .map(|at| (at.wrapping_mul(31) ^ index.wrapping_mul(7919)) as u8)
        .collect()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn uploads_cut_by_kill_9_keep_answered_files_whole_and_fix_leaves_no_orphan(pool: PgPool) {
    let key = SigningKeyFile::new();
    let token = key.token_for_new_user(&pool).await;
    let files = FilesDir::new();
    let dir = files.0.to_string_lossy().into_owned();
    let env = [
        ("JWT_PRIVATE_KEY_FILE", key.path()),
        ("PROJECTS_DIR", dir.as_str()),
        // Off, so that only `verify-files` removes anything here.
        ("PROJECT_SWEEP_INTERVAL_SECS", "0"),
    ];
    let mut service = testkit::spawn_service(BINARY, "PROJECT_", &pool, &env);
    let base = service.base_url.clone();
    testkit::wait_until_ok(&format!("{base}/health/ready"), &mut service.child).await;
    let client = testkit::http_client();
    let created: Value = client
        .post(format!("{base}/api/projects"))
        .bearer_auth(&token)
        .json(&json!({ "name": "Crash" }))
        .send()
        .await
        .expect("create project")
        .json()
        .await
        .expect("json");
    let project = created["id"].as_str().expect("id").to_owned();

    let answered = Arc::new(AtomicUsize::new(0));
    let uploads = tokio::spawn({
        let (client, token, answered) = (client.clone(), token.clone(), answered.clone());
        let url = format!("{base}/api/projects/{project}/files");
        futures::stream::iter(0..UPLOADS)
            .map(move |index| {
                let (client, token, answered) = (client.clone(), token.clone(), answered.clone());
                let url = format!("{url}/upload-{index}.bin");
                async move {
                    let bytes = content(index);
                    let sent = client.put(url).bearer_auth(token).body(bytes).send().await;
                    let created = match sent {
                        Ok(reply) if reply.status() == StatusCode::CREATED => {
                            Some(reply.json::<Value>().await.expect("json"))
                        }
                        Ok(reply) => panic!("upload {index}: {}", reply.status()),
                        Err(_) => None,
                    };
                    if created.is_some() {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    (index, created)
                }
            })
            .buffer_unordered(CONNECTIONS)
            .collect::<Vec<_>>()
    });
    while answered.load(Ordering::SeqCst) < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    service.child.start_kill().expect("SIGKILL");
    service.child.wait().await.expect("reaped");
    let outcomes = uploads.await.expect("uploads");

    let answered: Vec<(usize, Value)> = outcomes
        .into_iter()
        .filter_map(|(index, created)| Some((index, created?)))
        .collect();
    assert!(answered.len() >= KILL_AFTER, "{}", answered.len());
    assert!(
        answered.len() < UPLOADS,
        "the kill came after every upload was answered"
    );
    let project_id = ProjectId(project.parse().expect("uuid"));
    let rows = db::projects::files::list_latest(&pool, project_id)
        .await
        .expect("rows");
    let store = FileStore::new(&files.0);
    for (index, created) in &answered {
        let expected = format!("{:x}", Sha256::digest(content(*index)));
        assert_eq!(created["sha256"], expected.as_str(), "upload {index}");
        let path = format!("upload-{index}.bin");
        let row = rows
            .iter()
            .find(|row| row.path == path)
            .unwrap_or_else(|| panic!("{path} answered 201 but not listed"));
        assert_eq!(row.sha256, expected, "{path}");
        let on_disk = store
            .hash(&row.storage_key)
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{path}: bytes missing"));
        assert_eq!(
            (on_disk.sha256, on_disk.size_bytes),
            (expected, UPLOAD_BYTES as u64)
        );
    }

    let url = testkit::database_url(&pool);
    let verify_env = [
        ("DATABASE_URL", url.as_str()),
        ("PROJECTS_DIR", dir.as_str()),
    ];
    let fix = testkit::run_binary(
        BINARY,
        &["verify-files", "--fix", "--grace-secs", "0"],
        &verify_env,
    )
    .await;
    assert!(matches!(fix.code, Some(0 | 1)), "{fix:#?}");
    let mut lines: Vec<&str> = fix.stdout.lines().collect();
    let summary = lines.pop().expect("summary");
    for line in lines {
        assert!(
            line.starts_with("orphan ") && line.ends_with(" (removed)"),
            "only orphans, all removed: {fix:#?}"
        );
    }
    assert!(
        summary.starts_with(&format!("checked {} rows", rows.len())),
        "{summary}"
    );
    let clean = testkit::run_binary(BINARY, &["verify-files"], &verify_env).await;
    assert!(clean.ok().ends_with(": 0 problems\n"), "{clean:#?}");
    // Nothing else is left on disk either: no staging file of a cut-off upload.
    let mut on_disk = Vec::new();
    for project_dir in std::fs::read_dir(&files.0).expect("files dir") {
        let project_dir = project_dir.expect("entry").path();
        for file in std::fs::read_dir(&project_dir).expect("project dir") {
            let file = file.expect("entry").path();
            let relative = file.strip_prefix(&files.0).expect("under the root");
            on_disk.push(relative.to_string_lossy().into_owned());
        }
    }
    let mut referenced: Vec<String> = db::projects::files::list_latest(&pool, project_id)
        .await
        .expect("rows")
        .into_iter()
        .map(|row| row.storage_key)
        .collect();
    on_disk.sort();
    referenced.sort();
    assert_eq!(on_disk, referenced);
}
