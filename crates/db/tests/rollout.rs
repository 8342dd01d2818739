//! Rolling deploys against real PostgreSQL: a build keeps running (and ready) when the
//! database is ahead of it only by expand-only migrations, or behind it only by its own
//! contract migrations; anything else stops it with one clear line.

use std::path::Path;

use db::{
    MIGRATOR,
    migrations::{self, Mode},
    rollout::{self, Rollout},
    schema::{self, SchemaError},
};
use sqlx::{PgConnection, PgPool, migrate::Migrator};
use tempfile::TempDir;

/// One migration a later release adds: its name, `up` and `down` SQL.
type Added<'a> = (&'a str, &'a str, &'a str);

/// A later release: this build's migrations plus `added`, numbered after the newest one.
async fn release(added: &[Added<'_>]) -> (TempDir, Migrator) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../database/migrations");
    let folder = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(source).expect("migrations folder") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), folder.path().join(entry.file_name())).expect("copy");
    }
    for (offset, (name, up, down)) in (1..).zip(added) {
        let version = db::expected_version() + offset;
        for (direction, sql) in [("up", up), ("down", down)] {
            let file = folder
                .path()
                .join(format!("{version:04}_{name}.{direction}.sql"));
            std::fs::write(file, sql).expect("write migration");
        }
    }
    let migrator = Migrator::new(folder.path()).await.expect("load migrations");
    (folder, migrator)
}

async fn migrate(conn: &mut PgConnection, migrator: &Migrator) {
    migrations::up(conn, migrator, None, Mode::Apply, &mut |_| {})
        .await
        .expect("up succeeds");
}

const ADD_WATCHERS: &str = "CREATE TABLE projects.task_watchers (
        task_id UUID NOT NULL REFERENCES projects.tasks (id) ON DELETE CASCADE,
        user_id UUID NOT NULL,
        CONSTRAINT task_watchers_pkey PRIMARY KEY (task_id, user_id));
    ALTER TABLE projects.tasks ADD COLUMN watch_count INTEGER;";
const DROP_WATCHERS: &str = "ALTER TABLE projects.tasks DROP COLUMN watch_count;
    DROP TABLE projects.task_watchers;";
const EXPAND: Added = ("expand_add_task_watchers", ADD_WATCHERS, DROP_WATCHERS);

#[sqlx::test(migrations = false)]
async fn the_running_build_stays_ready_after_an_expand_only_migration(pool: PgPool) {
    let mut conn = pool.acquire().await.expect("connection");
    let (_folder, next) = release(&[EXPAND]).await;
    migrate(&mut conn, &next).await;

    // This build is the previous release: it has never seen the new migration.
    let version = schema::verify(&mut conn).await.expect("still verified");
    assert_eq!(version, db::expected_version() + 1);
    let ready = schema::readiness(pool.clone()).await.expect("still ready");
    assert_eq!(ready, format!("schema version {version}"));
    let status = migrations::status(&mut conn, &MIGRATOR)
        .await
        .expect("status");
    assert_eq!(
        status.drift().len(),
        1,
        "the migrator still reports the unknown version"
    );
}

#[sqlx::test(migrations = false)]
async fn the_running_build_stops_after_a_lockstep_migration_it_does_not_know(pool: PgPool) {
    let mut conn = pool.acquire().await.expect("connection");
    let (_folder, next) = release(&[("add_task_watchers", ADD_WATCHERS, DROP_WATCHERS)]).await;
    migrate(&mut conn, &next).await;

    let error = schema::verify(&mut conn).await.expect_err("not compatible");
    assert!(matches!(error, SchemaError::Ahead { .. }), "{error}");
    let not_ready = schema::readiness(pool.clone())
        .await
        .expect_err("not ready");
    assert!(
        not_ready.contains("not only by expand-only migrations"),
        "{not_ready}"
    );
}

#[sqlx::test(migrations = false)]
async fn a_build_runs_before_its_own_contract_migration_is_applied(pool: PgPool) {
    let mut conn = pool.acquire().await.expect("connection");
    let (_expand, with_watchers) = release(&[EXPAND]).await;
    migrate(&mut conn, &with_watchers).await;

    // The release after drops the watchers again; it rolls out before its migration runs.
    let (_contract, contract_build) = release(&[
        EXPAND,
        ("contract_drop_task_watchers", DROP_WATCHERS, ADD_WATCHERS),
    ])
    .await;
    let comparison = migrations::status(&mut conn, &contract_build)
        .await
        .expect("status");
    assert_eq!(comparison.pending().count(), 1);
    assert!(
        schema::check(&comparison).is_ok(),
        "only a contract is pending"
    );

    let (_lockstep, lockstep_build) =
        release(&[EXPAND, ("drop_task_watchers", DROP_WATCHERS, ADD_WATCHERS)]).await;
    let comparison = migrations::status(&mut conn, &lockstep_build)
        .await
        .expect("status");
    assert!(matches!(
        schema::check(&comparison),
        Err(SchemaError::Behind { .. })
    ));
}

/// The guard behind the marking, over every migration this build ships: a migration named
/// expand or contract keeps to what its name promises.
#[test]
fn every_marked_migration_in_the_build_keeps_its_promise() {
    for migration in MIGRATOR.iter() {
        if migration.migration_type.is_down_migration() {
            continue;
        }
        let rollout = Rollout::of(&migration.description);
        let broken = rollout::violations(rollout, &migration.sql);
        assert!(
            broken.is_empty(),
            "{} ({rollout}): {broken:?}",
            migration.version
        );
    }
}
