//! The memory binary refuses an unmigrated database and serves health on a migrated one.

use sqlx::PgPool;

const BINARY: &str = env!("CARGO_BIN_EXE_memory");

#[sqlx::test(migrations = false)]
async fn refuses_to_start_on_an_unmigrated_database(pool: PgPool) {
    testkit::assert_refuses_unmigrated_database(BINARY, "MEMORY_", &pool, &[]).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn serves_health_on_a_migrated_database_and_stops_on_sigterm(pool: PgPool) {
    testkit::assert_serves_health_and_stops(BINARY, "MEMORY_", &pool, &[]).await;
}
