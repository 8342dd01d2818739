//! The project binary refuses an unmigrated database and serves health on a migrated one.

use sqlx::PgPool;

const BINARY: &str = env!("CARGO_BIN_EXE_project");

#[sqlx::test(migrations = false)]
async fn refuses_to_start_on_an_unmigrated_database(pool: PgPool) {
    testkit::assert_refuses_unmigrated_database(BINARY, "PROJECT_", &pool, &[]).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn serves_health_on_a_migrated_database_and_stops_on_sigterm(pool: PgPool) {
    let files = std::env::temp_dir().join(format!("project-startup-{}", uuid::Uuid::new_v4()));
    let files_env = files.to_string_lossy().into_owned();
    let key = testkit::SigningKeyFile::new();
    let env = [
        ("JWT_PRIVATE_KEY_FILE", key.path()),
        ("PROJECTS_DIR", files_env.as_str()),
    ];
    testkit::assert_serves_health_and_stops(BINARY, "PROJECT_", &pool, &env).await;
    assert!(files.is_dir(), "PROJECTS_DIR is created at start-up");
    std::fs::remove_dir_all(files).expect("cleanup");
}
