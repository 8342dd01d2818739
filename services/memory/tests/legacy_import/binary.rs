//! The `memory import-legacy` command as an operator runs it.

use authn::Role;
use serde_json::Value;
use sqlx::PgPool;
use tempfile::TempDir;

use crate::support::{CRAB_ID, fixture};

/// The binary's settings: the embedded index in `dir`, the hashing embedder.
fn binary_env(pool: &PgPool, dir: &TempDir) -> Vec<(&'static str, String)> {
    vec![
        ("APP_ENV", "test".into()),
        ("DATABASE_URL", testkit::database_url(pool)),
        ("RUST_LOG", "warn".into()),
        ("VECTOR_DATA_DIR", dir.path().display().to_string()),
        ("EMBEDDING_DIM", "64".into()),
    ]
}

/// The message of the one error line a failed import prints (exit 1), as `reindex` does.
fn failure(run: &testkit::BinaryRun) -> &str {
    assert_eq!(run.code, Some(1), "expected failure: {run:#?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:#?}");
    run.stderr
        .trim_end()
        .strip_prefix("memory import-legacy: error: ")
        .unwrap_or_else(|| panic!("the error line: {run:#?}"))
}

async fn run(env: &[(&'static str, String)], args: &[&str]) -> testkit::BinaryRun {
    let vars: Vec<(&str, &str)> = env
        .iter()
        .map(|(key, value)| (*key, value.as_str()))
        .collect();
    testkit::run_binary(env!("CARGO_BIN_EXE_memory"), args, &vars).await
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_binary_imports_a_file_reports_and_writes_the_mapping(pool: PgPool) {
    let dir = TempDir::new().unwrap();
    let env = binary_env(&pool, &dir);
    let user = testkit::create_user(&pool, &testkit::Tokens::new(), "ada", Role::User).await;
    let file = fixture("mixed.json").display().to_string();
    let mapping = dir.path().join("mapping.json");
    let mapping_arg = mapping.display().to_string();
    let args = [
        "import-legacy",
        "--json",
        &file,
        "--owner",
        "ADA@example.com",
        "--mapping",
        &mapping_arg,
    ];

    let first = run(&env, &args).await;
    let report = first.ok();
    assert!(
        report.contains("imported:      7 (7 new, 0 changed since an earlier import)"),
        "{report}"
    );
    assert!(report.contains("no text: 2 (lines 5, 10)"), "{report}");
    assert!(
        report.contains("(a JSON array), owner ada@example.com"),
        "{report}"
    );
    let rows: Vec<Value> = serde_json::from_slice(&std::fs::read(&mapping).unwrap()).unwrap();
    assert_eq!(rows.len(), 7);
    let crab = rows
        .iter()
        .find(|row| row["legacy_id"] == CRAB_ID)
        .expect("mapped");
    assert_eq!(crab["chunk_id"], CRAB_ID);
    let (documents, pending): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM memory.documents WHERE owner_id = $1),
                (SELECT count(*) FROM memory.chunks WHERE qdrant_point_id IS NULL)",
    )
    .bind(user.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((documents, pending), (7, 0));

    let second = run(&env, &args).await;
    assert!(second.ok().contains("unchanged:     7"), "{second:#?}");
    let ndjson = fixture("broken-line.ndjson").display().to_string();
    let dry = run(
        &env,
        &[
            "import-legacy",
            "--json",
            &ndjson,
            "--owner",
            "shared",
            "--dry-run",
        ],
    )
    .await;
    let dry = dry.ok();
    assert!(
        dry.contains("would import:  3") && dry.contains("dry run: nothing was written"),
        "{dry}"
    );
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM memory.documents")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, 7);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_binary_fails_with_one_readable_line(pool: PgPool) {
    let dir = TempDir::new().unwrap();
    let env = binary_env(&pool, &dir);
    let invalid = fixture("invalid.json").display().to_string();
    let broken = run(
        &env,
        &["import-legacy", "--json", &invalid, "--owner", "shared"],
    )
    .await;
    assert_eq!(
        failure(&broken),
        format!("{invalid}: invalid JSON at line 3, column 24: expected `,` or `}}`")
    );

    let missing = dir.path().join("missing.json").display().to_string();
    let unreadable = run(
        &env,
        &["import-legacy", "--json", &missing, "--owner", "shared"],
    )
    .await;
    assert!(
        failure(&unreadable).starts_with(&format!("{missing}: cannot read: ")),
        "{unreadable:#?}"
    );

    let mixed = fixture("mixed.json").display().to_string();
    let nobody = run(
        &env,
        &[
            "import-legacy",
            "--json",
            &mixed,
            "--owner",
            "nobody@example.com",
        ],
    )
    .await;
    assert_eq!(
        failure(&nobody),
        "no account has the email nobody@example.com: create it first, or import with --owner shared"
    );

    let args = [
        "import-legacy",
        "--qdrant-url",
        "localhost:6334",
        "--collection",
        "notes",
        "--owner",
        "shared",
    ];
    let bad_url = run(&env, &args).await;
    assert!(
        failure(&bad_url).contains("is not an http(s) URL with a host"),
        "{bad_url:#?}"
    );
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM memory.documents")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, 0);
}
