//! `scripts/backup` and `scripts/restore` as an operator runs them: a backup of a seeded
//! database and its project files, restored after the schemas and the files are gone, gives
//! back every row and every byte, and the memory service searches the rebuilt vector index.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use authn::{Role, SigningKey, TokenIssuer};
use db::{
    ids::{FileId, ProjectId, UserId},
    projects::files::NewFileVersion,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tempfile::TempDir;
use testkit::BinaryRun;
use uuid::Uuid;

const BACKUP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/backup");
const RESTORE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/restore");
/// From `database/seeds/development.sql`: alice (admin), her project, and a shared document.
const ALICE: Uuid = Uuid::from_u128(0x10000000_0000_4000_8000_000000000001);
const ALICES_PROJECT: Uuid = Uuid::from_u128(0x20000000_0000_4000_8000_000000000001);
const OWNERSHIP_DOCUMENT: Uuid = Uuid::from_u128(0x60000000_0000_4000_8000_000000000001);

/// Everything the scripts and the memory binary read, and nothing from the test's own
/// environment (a developer's DATABASE_URL must never be the one restored over).
struct Setup {
    dir: TempDir,
    database_url: String,
    memory: PathBuf,
    key: testkit::SigningKeyFile,
}

impl Setup {
    fn projects_dir(&self) -> PathBuf {
        self.dir.path().join("projects")
    }

    fn backup_dir(&self) -> PathBuf {
        self.dir.path().join("backup")
    }

    /// The variables every run gets; `index` is the embedded vector index's directory.
    fn env(&self, index: &str) -> Vec<(&'static str, String)> {
        vec![
            ("PATH", std::env::var("PATH").expect("PATH is set")),
            ("APP_ENV", "test".into()),
            ("RUST_LOG", "warn".into()),
            ("DATABASE_URL", self.database_url.clone()),
            ("PROJECTS_DIR", self.projects_dir().display().to_string()),
            ("MEMORY_BIN", self.memory.display().to_string()),
            (
                "VECTOR_DATA_DIR",
                self.dir.path().join(index).display().to_string(),
            ),
            ("EMBEDDING_DIM", "64".into()),
            ("JWT_PRIVATE_KEY_FILE", self.key.path().to_owned()),
        ]
    }

    async fn run(&self, program: &str, args: &[&str], index: &str) -> BinaryRun {
        let env = self.env(index);
        let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        testkit::run_binary(program, args, &vars).await
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_restore_brings_back_every_row_and_file_and_a_searchable_index(pool: PgPool) {
    let dir = TempDir::new().expect("temp dir");
    let setup = Setup {
        database_url: testkit::database_url(&pool),
        memory: testkit::workspace_binary("memory").await,
        key: testkit::SigningKeyFile::new(),
        dir,
    };
    seed(&setup, &pool).await;
    // Index the chunks before the backup: the restored rows then say "indexed", so only the
    // restore's rebuild can fill the new, empty index the service starts on below.
    let memory = setup.memory.to_str().expect("UTF-8 path");
    setup.run(memory, &["reindex"], "index-before").await.ok();
    let tables = table_digests(&pool).await;
    assert!(tables["auth.users"].starts_with("3 rows"), "{tables:#?}");
    assert!(
        tables["projects.project_files"].starts_with("2 rows"),
        "{tables:#?}"
    );
    assert!(tables["memory.chunks"].starts_with("5 rows"), "{tables:#?}");
    let files = file_digests(&setup.projects_dir());
    assert_eq!(files.len(), 2);

    let backup_dir = setup.backup_dir();
    let backup = backup_dir.to_str().expect("UTF-8 path");
    let out = setup.run(BACKUP, &[backup], "unused").await;
    assert!(out.ok().contains("schema version"), "{out:#?}");

    sqlx::query("DROP SCHEMA auth, projects, memory CASCADE")
        .execute(&pool)
        .await
        .expect("drop the schemas");
    std::fs::remove_dir_all(setup.projects_dir()).expect("delete the files");

    // A damaged backup is refused before anything changes.
    let tampered = backup_dir
        .join("files")
        .join(files.keys().next().expect("a file"));
    let original = std::fs::read(&tampered).expect("read the backed-up file");
    std::fs::write(&tampered, b"tampered").expect("tamper");
    let refused = setup
        .run(RESTORE, &["--force", backup], "index-after")
        .await;
    assert!(
        refused.error().contains("checksum mismatch"),
        "{refused:#?}"
    );
    std::fs::write(&tampered, original).expect("undo the tampering");

    // The migration history outlives the dropped schemas: not an empty database.
    let refused = setup.run(RESTORE, &[backup], "index-after").await;
    assert!(
        refused.error().contains("public._sqlx_migrations"),
        "{refused:#?}"
    );
    assert!(!setup.projects_dir().exists(), "a refusal changes nothing");

    let restored = setup
        .run(RESTORE, &["--force", backup], "index-after")
        .await;
    assert!(
        restored.ok().contains("reindexed 5 chunks"),
        "{restored:#?}"
    );
    assert_eq!(table_digests(&pool).await, tables);
    assert_eq!(file_digests(&setup.projects_dir()), files);

    let hits = search_after_restore(&setup, &pool).await;
    let first = &hits["results"][0];
    assert_eq!(
        first["document"]["id"],
        OWNERSHIP_DOCUMENT.to_string(),
        "{hits}"
    );
    assert_eq!(
        first["chunk"]["content"], "When the owner goes out of scope, the value is dropped.",
        "{hits}"
    );
}

/// The development seed (users, projects, memory documents and chunks) plus two project
/// files, bytes on disk and rows as the project service writes them.
async fn seed(setup: &Setup, pool: &PgPool) {
    let env = [("APP_ENV", "development")];
    let args = ["--database-url", setup.database_url.as_str(), "seed"];
    testkit::run_binary(env!("CARGO_BIN_EXE_migrator"), &args, &env)
        .await
        .ok();
    let mut conn = pool.acquire().await.expect("connection");
    for (path, bytes) in [
        ("README.md", b"# DevMentor API\n".as_slice()),
        ("src/main.rs", b"fn main() {}\n".as_slice()),
    ] {
        let id = Uuid::new_v4();
        let storage_key = format!("{ALICES_PROJECT}/{id}");
        let on_disk = setup.projects_dir().join(&storage_key);
        std::fs::create_dir_all(on_disk.parent().expect("a parent")).expect("project dir");
        std::fs::write(&on_disk, bytes).expect("write file");
        let sha256 = format!("{:x}", Sha256::digest(bytes));
        let file = NewFileVersion {
            id: FileId(id),
            project_id: ProjectId(ALICES_PROJECT),
            path,
            size_bytes: bytes.len() as i64,
            sha256: &sha256,
            mime_type: "text/plain",
            storage_key: &storage_key,
            uploaded_by: UserId(ALICE),
        };
        db::projects::files::insert_version(&mut conn, &file)
            .await
            .expect("insert file row");
    }
}

/// Row count and a digest of the contents of every table the migrations make, by name.
async fn table_digests(pool: &PgPool) -> BTreeMap<String, String> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        r#"
        SELECT format('%s.%s', table_schema, table_name),
               (xpath('/row/summary/text()', query_to_xml(format(
                   'SELECT count(*) || '' rows, md5 '' || md5(coalesce(string_agg(t::text, '','' ORDER BY t::text), '''')) AS summary FROM %I.%I t',
                   table_schema, table_name), false, true, '')))[1]::text
        FROM information_schema.tables
        WHERE table_type = 'BASE TABLE'
          AND (table_schema IN ('auth', 'projects', 'memory')
               OR (table_schema = 'public' AND table_name = '_sqlx_migrations'))
        "#,
    )
    .fetch_all(pool)
    .await
    .expect("digest the tables");
    rows.into_iter().collect()
}

/// SHA-256 of every file under `root`, by path relative to it.
fn file_digests(root: &Path) -> BTreeMap<String, String> {
    let mut digests = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                let name = path.strip_prefix(root).expect("under root");
                digests.insert(
                    name.display().to_string(),
                    format!("{:x}", Sha256::digest(bytes)),
                );
            }
        }
    }
    digests
}

/// Starts the memory service on the index the restore rebuilt and searches as alice.
async fn search_after_restore(setup: &Setup, pool: &PgPool) -> Value {
    let env = setup.env("index-after");
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let memory = setup.memory.to_str().expect("UTF-8 path");
    let mut service = testkit::spawn_service(memory, "MEMORY_", pool, &vars);
    let ready = format!("{}/health/ready", service.base_url);
    testkit::wait_until_ok(&ready, &mut service.child).await;

    let pem = std::fs::read_to_string(setup.key.path()).expect("read key");
    let issuer = TokenIssuer::new(
        SigningKey::from_pem(&pem).expect("key"),
        testkit::audience(),
        Duration::from_secs(300),
    );
    let session = testkit::open_session(pool, ALICE).await;
    let token = issuer
        .issue(ALICE, session, Role::Admin)
        .expect("token")
        .token;
    let answer = testkit::http_client()
        .post(format!("{}/api/memory/search", service.base_url))
        .bearer_auth(token)
        .json(&json!({"query": "owner out of scope dropped", "limit": 3}))
        .send()
        .await
        .expect("search answers");
    assert_eq!(answer.status(), 200);
    answer.json().await.expect("json")
}
