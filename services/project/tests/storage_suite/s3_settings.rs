//! Start-up and `verify-files` refuse S3 settings they cannot use, and a bucket that does not
//! answer, with one line naming the setting; neither creates anything.

use sqlx::PgPool;
use testkit::BinaryRun;
use uuid::Uuid;

use super::moto;

const BINARY: &str = env!("CARGO_BIN_EXE_project");

/// The service (`serve`) or `verify-files`, with the storage settings `storage` and
/// everything else it needs to start.
async fn run(pool: &PgPool, args: &[&str], storage: &[(&str, &str)]) -> BinaryRun {
    let key = testkit::SigningKeyFile::new();
    let url = testkit::database_url(pool);
    let port = testkit::free_port().to_string();
    let mut env = vec![
        ("APP_ENV", "test"),
        ("DATABASE_URL", url.as_str()),
        ("JWT_PRIVATE_KEY_FILE", key.path()),
        ("PROJECT_HOST", "127.0.0.1"),
        ("PROJECT_PORT", port.as_str()),
        ("PROJECTS_DIR", "/nonexistent/projects"),
        ("RUST_LOG", "off"),
    ];
    env.extend_from_slice(storage);
    testkit::run_binary(BINARY, args, &env).await
}

/// Exit `code`, and `expected` in the one error line on stderr.
fn refused(run: &BinaryRun, code: i32, expected: &str) {
    assert_eq!(run.code, Some(code), "{run:#?}");
    let line = run.stderr.trim_end();
    assert_eq!(line.lines().count(), 1, "one line: {run:#?}");
    assert!(line.contains(expected), "{expected:?} missing: {run:#?}");
    assert!(!line.contains("s3cr3t"), "no secret in messages: {run:#?}");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn malformed_storage_settings_stop_start_up_and_verify_files(pool: PgPool) {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("STORAGE_URL", "https://s3.example.com/files")],
            "STORAGE_URL must be s3://bucket or s3://bucket/prefix",
        ),
        (
            &[("STORAGE_URL", "s3://key:s3cr3t@files/p")],
            "STORAGE_URL takes no user, password",
        ),
        (
            &[
                ("STORAGE_URL", "s3://files/p"),
                ("STORAGE_S3_ENDPOINT", "http://127.0.0.1:9"),
            ],
            "set STORAGE_S3_ALLOW_HTTP=true",
        ),
        (
            &[("STORAGE_S3_SECRET_ACCESS_KEY", "s3cr3t")],
            "STORAGE_S3_SECRET_ACCESS_KEY is set but STORAGE_URL is not",
        ),
    ];
    for (storage, expected) in cases {
        refused(&run(&pool, &[], storage).await, 1, expected);
        refused(&run(&pool, &["verify-files"], storage).await, 2, expected);
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_bucket_that_does_not_answer_stops_start_up_and_verify_files(pool: PgPool) {
    let missing_bucket = format!("s3://devmentor-missing-{}/p", Uuid::new_v4().simple());
    let moto = moto::server().endpoint.clone();
    // Nothing listens there: bound, then released.
    let closed = format!("http://127.0.0.1:{}", testkit::free_port());
    for (url, endpoint) in [
        (missing_bucket.as_str(), moto.as_str()),
        ("s3://devmentor-files/p", closed.as_str()),
    ] {
        let storage = [
            ("STORAGE_URL", url),
            ("STORAGE_S3_ENDPOINT", endpoint),
            ("STORAGE_S3_ALLOW_HTTP", "true"),
            ("STORAGE_S3_ACCESS_KEY_ID", "devmentor-test"),
            ("STORAGE_S3_SECRET_ACCESS_KEY", "s3cr3t"),
        ];
        let expected = format!("STORAGE_URL {} does not answer", url.trim_end_matches('/'));
        refused(&run(&pool, &[], &storage).await, 1, &expected);
        refused(&run(&pool, &["verify-files"], &storage).await, 2, &expected);
    }
}
