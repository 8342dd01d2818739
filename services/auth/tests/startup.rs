//! The auth binary refuses an unmigrated database and serves health on a migrated one.

use sqlx::PgPool;

const BINARY: &str = env!("CARGO_BIN_EXE_auth");

/// The committed development key, by absolute path (the binary's working directory varies).
const DEVELOPMENT_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/dev-keys/jwt-ed25519.pem"
);

#[sqlx::test(migrations = false)]
async fn refuses_to_start_on_an_unmigrated_database(pool: PgPool) {
    let key = testkit::SigningKeyFile::new();
    let env = [("JWT_PRIVATE_KEY_FILE", key.path())];
    testkit::assert_refuses_unmigrated_database(BINARY, "AUTH_", &pool, &env).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn serves_health_on_a_migrated_database_and_stops_on_sigterm(pool: PgPool) {
    let key = testkit::SigningKeyFile::new();
    let env = [("JWT_PRIVATE_KEY_FILE", key.path())];
    testkit::assert_serves_health_and_stops(BINARY, "AUTH_", &pool, &env).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn refuses_the_development_key_outside_development(pool: PgPool) {
    let env = [
        ("JWT_PRIVATE_KEY_FILE", DEVELOPMENT_KEY),
        ("APP_ENV", "staging"),
    ];
    let service = testkit::spawn_service(BINARY, "AUTH_", &pool, &env);
    let (status, stderr) =
        testkit::wait_for_exit(service.child, std::time::Duration::from_secs(30)).await;
    assert!(!status.success());
    assert!(
        stderr.contains("holds the committed development key"),
        "{stderr}"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn refuses_to_start_without_a_signing_key(pool: PgPool) {
    let service = testkit::spawn_service(
        BINARY,
        "AUTH_",
        &pool,
        &[("JWT_PRIVATE_KEY_FILE", "/nonexistent/key.pem")],
    );
    let (status, stderr) =
        testkit::wait_for_exit(service.child, std::time::Duration::from_secs(30)).await;
    assert!(!status.success());
    assert!(
        stderr.contains("cannot read /nonexistent/key.pem"),
        "{stderr}"
    );
}
