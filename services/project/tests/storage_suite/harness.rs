//! `StorageApp`: the project service's `app()` over a fresh database with its file store on
//! one backend, and a view of that store that does not go through the code under test (the
//! directory itself; moto's S3 API over plain HTTP).

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use axum::body::Body;
use project::{
    AppState,
    storage::{FileStore, StorageLocation, StorageSettings},
};
use sqlx::PgPool;
use testkit::{Reply, Tokens, User};
use uuid::Uuid;

use super::moto;
use crate::common::TestApp;

/// Which store the service writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    S3,
}

enum Place {
    Local { dir: PathBuf },
    S3 { endpoint: String, bucket: String },
}

/// The key prefix the S3 runs use: objects outside it are not the service's.
pub const S3_PREFIX: &str = "devmentor/files";

/// The project app (see `common::TestApp`, which it derefs to) on one backend's store.
pub struct StorageApp {
    app: TestApp,
    pub state: AppState,
    place: Place,
}

impl std::ops::Deref for StorageApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl StorageApp {
    pub async fn start(pool: PgPool, backend: Backend) -> Self {
        let place = match backend {
            Backend::Local => Place::Local {
                dir: std::env::temp_dir().join(format!("project-storage-{}", Uuid::new_v4())),
            },
            Backend::S3 => {
                let endpoint = moto::server().endpoint.clone();
                let bucket = format!("devmentor-{}", Uuid::new_v4().simple());
                let made = http().put(format!("{endpoint}/{bucket}")).send().await;
                let made = made.expect("moto answers");
                assert!(
                    made.status().is_success(),
                    "create bucket: {}",
                    made.status()
                );
                Place::S3 { endpoint, bucket }
            }
        };
        // Through the settings, as `build` opens it.
        let env = env_of(&place);
        let setting = |name: &str| {
            env.iter()
                .find(|(key, _)| key == name)
                .map(|(_, v)| v.as_str())
        };
        let secret = setting("STORAGE_S3_SECRET_ACCESS_KEY").map(secrecy::SecretString::from);
        let settings = StorageSettings {
            url: setting("STORAGE_URL"),
            endpoint: setting("STORAGE_S3_ENDPOINT"),
            region: setting("STORAGE_S3_REGION"),
            access_key_id: setting("STORAGE_S3_ACCESS_KEY_ID"),
            secret_access_key: secret.as_ref(),
            allow_http: setting("STORAGE_S3_ALLOW_HTTP") == Some("true"),
        };
        let projects_dir = PathBuf::from(setting("PROJECTS_DIR").expect("always set"));
        let location =
            StorageLocation::from_settings(projects_dir.clone(), settings).expect("settings");
        let files = FileStore::connect(&location, true).await.expect("store");
        let tokens = Tokens::new();
        let state =
            AppState::with_files(pool.clone(), tokens.verifier(), files, Default::default());
        // A local store's directory goes with the app; an S3 run's PROJECTS_DIR never exists.
        let app = TestApp::from_state(pool, tokens, state.clone(), projects_dir);
        Self { app, state, place }
    }

    /// The settings a spawned `project` binary needs to use the same store.
    pub fn env(&self) -> Vec<(String, String)> {
        env_of(&self.place)
    }

    /// `PUT /api/projects/{project}/files/{path}` of raw bytes.
    pub async fn upload(
        &self,
        project: &str,
        path: &str,
        bytes: impl Into<Body>,
        user: &User,
    ) -> Reply {
        let octets = "application/octet-stream";
        self.app.upload(project, path, octets, bytes, user).await
    }

    /// Every object (and local staging file) in the store, relative to its root, sorted.
    pub async fn stored(&self) -> Vec<String> {
        let mut found = match &self.place {
            // The directory is the app's `files_dir`.
            Place::Local { .. } => self.stored_files(),
            Place::S3 { .. } => self
                .raw_keys(&format!("{S3_PREFIX}/"))
                .await
                .into_iter()
                .map(|key| key[S3_PREFIX.len() + 1..].to_owned())
                .collect(),
        };
        found.sort();
        found
    }

    /// Uploads begun and neither completed nor aborted: local staging files, S3 multipart
    /// uploads (which no object listing shows).
    pub async fn pending_uploads(&self) -> usize {
        match &self.place {
            Place::Local { .. } => self
                .stored()
                .await
                .iter()
                .filter(|name| name.contains('#'))
                .count(),
            Place::S3 { endpoint, bucket } => {
                let listing = http()
                    .get(format!("{endpoint}/{bucket}?uploads"))
                    .send()
                    .await;
                let text = listing.expect("list uploads").text().await.expect("text");
                text.matches("<UploadId>").count()
            }
        }
    }

    /// Polls until the store holds exactly `expected` (removals after a dropped request run
    /// in the background; on a loaded CI machine an S3 abort once took over 30 s) and no
    /// upload is pending.
    pub async fn wait_until_stored(&self, expected: &[String]) {
        let mut expected = expected.to_vec();
        expected.sort();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (stored, pending) = (self.stored().await, self.pending_uploads().await);
            if stored == expected && pending == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "expected {expected:?}, stored {stored:?}, {pending} pending uploads"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Writes `bytes` at `relative` behind the service's back.
    pub async fn plant(&self, relative: &str, bytes: &[u8]) {
        match &self.place {
            Place::Local { dir } => {
                let path = dir.join(relative);
                std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
                std::fs::write(&path, bytes).expect("write");
            }
            Place::S3 { endpoint, bucket } => {
                let url = format!("{endpoint}/{bucket}/{S3_PREFIX}/{relative}");
                let put = http()
                    .put(url)
                    .body(bytes.to_vec())
                    .send()
                    .await
                    .expect("put");
                assert!(
                    put.status().is_success(),
                    "plant {relative}: {}",
                    put.status()
                );
            }
        }
    }

    /// Removes `relative` behind the service's back.
    pub async fn unplant(&self, relative: &str) {
        match &self.place {
            Place::Local { dir } => std::fs::remove_file(dir.join(relative)).expect("remove"),
            Place::S3 { endpoint, bucket } => {
                let url = format!("{endpoint}/{bucket}/{S3_PREFIX}/{relative}");
                let deleted = http().delete(url).send().await.expect("delete");
                assert!(deleted.status().is_success(), "{}", deleted.status());
            }
        }
    }

    /// Something beside the store's root (a sibling file; a key outside the prefix), which
    /// nothing of the service may touch. Returns a check that it is still there.
    pub async fn plant_outside(&self) -> Outside {
        match &self.place {
            Place::Local { dir } => {
                let sibling = dir.with_extension("outside");
                std::fs::write(&sibling, b"not ours").expect("write");
                Outside::File(sibling)
            }
            Place::S3 { endpoint, bucket } => {
                let key = format!("other-app/{}", Uuid::new_v4());
                let url = format!("{endpoint}/{bucket}/{key}");
                let put = http().put(url).body("not ours").send().await.expect("put");
                assert!(put.status().is_success());
                Outside::Key(key)
            }
        }
    }

    pub async fn still_there(&self, outside: &Outside) -> bool {
        match outside {
            Outside::File(path) => path.exists(),
            Outside::Key(key) => self.raw_keys(key).await.contains(key),
        }
    }

    /// Keys under `prefix` in the bucket, by `ListObjectsV2` over plain HTTP (one page: the
    /// tests store far fewer than 1,000 objects).
    async fn raw_keys(&self, prefix: &str) -> Vec<String> {
        let Place::S3 { endpoint, bucket } = &self.place else {
            panic!("an S3 run only");
        };
        let url = format!("{endpoint}/{bucket}?list-type=2&prefix={prefix}");
        let text = http()
            .get(url)
            .send()
            .await
            .expect("list")
            .text()
            .await
            .expect("text");
        assert!(!text.contains("<IsTruncated>true"), "more than one page");
        text.split("<Key>")
            .skip(1)
            .map(|rest| rest.split("</Key>").next().expect("closing tag").to_owned())
            .collect()
    }
}

pub enum Outside {
    File(PathBuf),
    Key(String),
}

impl Drop for Outside {
    fn drop(&mut self) {
        if let Outside::File(path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn env_of(place: &Place) -> Vec<(String, String)> {
    let pairs: Vec<(&str, String)> = match place {
        Place::Local { dir } => vec![("PROJECTS_DIR", dir.to_string_lossy().into_owned())],
        Place::S3 { endpoint, bucket } => vec![
            ("STORAGE_URL", format!("s3://{bucket}/{S3_PREFIX}")),
            ("STORAGE_S3_ENDPOINT", endpoint.clone()),
            ("STORAGE_S3_REGION", "us-east-1".to_owned()),
            ("STORAGE_S3_ACCESS_KEY_ID", "devmentor-test".to_owned()),
            (
                "STORAGE_S3_SECRET_ACCESS_KEY",
                "devmentor-test-secret".to_owned(),
            ),
            ("STORAGE_S3_ALLOW_HTTP", "true".to_owned()),
            // Must not be used: the bucket holds the files.
            ("PROJECTS_DIR", "/nonexistent/projects".to_owned()),
        ],
    };
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

/// moto checks no signature, so the tests' own view of the bucket needs no S3 client; it
/// does refuse some anonymous requests (deletes), hence an `Authorization` it never checks.
fn http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let unchecked = "AWS4-HMAC-SHA256 Credential=devmentor-test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
    headers.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_static(unchecked),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}
