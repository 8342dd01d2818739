//! The memory binary: refuses an unmigrated database, serves health on a migrated one, and
//! its `reindex` command rebuilds the collection.

use std::time::Duration;

use sqlx::PgPool;
use tempfile::TempDir;
use testkit::BinaryRun;

const BINARY: &str = env!("CARGO_BIN_EXE_memory");

/// The service's settings, with a fresh token key kept in `dir` (the committed development
/// key is refused under the tests' `APP_ENV=test`).
fn env(dir: &TempDir) -> Vec<(&'static str, String)> {
    let key = dir.path().join("jwt-key.pem");
    if !key.exists() {
        std::fs::write(&key, authn::SigningKey::generate_pem().expect("key")).expect("write key");
    }
    vec![
        ("VECTOR_DATA_DIR", dir.path().display().to_string()),
        ("JWT_PRIVATE_KEY_FILE", key.display().to_string()),
        ("EMBEDDING_DIM", "64".to_owned()),
    ]
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter()
        .map(|(key, value)| (*key, value.as_str()))
        .collect()
}

#[sqlx::test(migrations = false)]
async fn refuses_to_start_on_an_unmigrated_database(pool: PgPool) {
    let dir = TempDir::new().unwrap();
    let env = env(&dir);
    testkit::assert_refuses_unmigrated_database(BINARY, "MEMORY_", &pool, &borrowed(&env)).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn serves_health_on_a_migrated_database_and_stops_on_sigterm(pool: PgPool) {
    let dir = TempDir::new().unwrap();
    let env = env(&dir);
    testkit::assert_serves_health_and_stops(BINARY, "MEMORY_", &pool, &borrowed(&env)).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_changed_embedding_dimension_refuses_to_start_until_reindexed(pool: PgPool) {
    let dir = TempDir::new().unwrap();
    let mut env = env(&dir);
    // Creates the collection with 64 dimensions.
    let first = run(&pool, &env, &["reindex"]).await;
    assert!(first.ok().contains("reindexed 0 chunks"), "{first:#?}");

    env.retain(|(key, _)| *key != "EMBEDDING_DIM");
    env.push(("EMBEDDING_DIM", "32".to_owned()));
    let service = testkit::spawn_service(BINARY, "MEMORY_", &pool, &borrowed(&env));
    let (status, stderr) = testkit::wait_for_exit(service.child, Duration::from_secs(30)).await;
    assert!(!status.success());
    assert!(stderr.contains("just reindex"), "names the fix: {stderr}");

    let second = run(&pool, &env, &["reindex"]).await;
    assert!(second.ok().contains("(32 dimensions)"), "{second:#?}");
}

/// Runs the binary with `args` to completion, with the test settings and `env` as its whole
/// environment.
async fn run(pool: &PgPool, env: &[(&'static str, String)], args: &[&str]) -> BinaryRun {
    let database_url = testkit::database_url(pool);
    let mut vars = vec![
        ("APP_ENV", "test"),
        ("DATABASE_URL", database_url.as_str()),
        ("RUST_LOG", "warn"),
    ];
    vars.extend(borrowed(env));
    testkit::run_binary(BINARY, args, &vars).await
}

/// `memory healthcheck` is the container's healthcheck: exit 0 while the service on
/// `MEMORY_PORT` is ready, 1 with one line once nothing answers there.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_healthcheck_command_reports_whether_the_service_is_ready(pool: PgPool) {
    let dir = TempDir::new().unwrap();
    let env = env(&dir);
    let mut service = testkit::spawn_service(BINARY, "MEMORY_", &pool, &borrowed(&env));
    let ready_url = format!("{}/health/ready", service.base_url);
    testkit::wait_until_ok(&ready_url, &mut service.child).await;
    let port = service
        .base_url
        .rsplit(':')
        .next()
        .expect("a port")
        .to_owned();
    let check = |port: String| async move {
        let vars = [("MEMORY_PORT", port.as_str()), ("RUST_LOG", "warn")];
        testkit::run_binary(BINARY, &["healthcheck"], &vars).await
    };

    check(port.clone()).await.ok();

    drop(service);
    let dead = check(testkit::free_port().to_string()).await;
    assert_eq!(dead.code, Some(1), "{dead:#?}");
    assert_eq!(dead.stderr.trim().lines().count(), 1, "{dead:#?}");
    assert!(dead.stderr.contains("healthcheck"), "{dead:#?}");
}
