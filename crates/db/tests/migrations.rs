//! The migration engine against real PostgreSQL: every test starts from an empty database.

use std::path::Path;

use db::{
    MIGRATOR,
    migrations::{self, DownTarget, MigrationError, Mode},
    rollout::Rollout,
    schema::{self, Drift, SchemaError},
};
use sqlx::{PgConnection, PgPool, Postgres, migrate::Migrator, pool::PoolConnection};
use testkit::catalog;

fn newest() -> i64 {
    db::expected_version()
}

/// Every version in this build, oldest first.
fn all_versions() -> Vec<i64> {
    (1..=newest()).collect()
}

/// The newest migration that is not expand-only: a build that lacks it (and what follows) must
/// refuse the database, while one that lacks only expand-only migrations may run on it.
fn newest_lockstep() -> i64 {
    MIGRATOR
        .iter()
        .filter(|migration| Rollout::of(&migration.description) != Rollout::Expand)
        .map(|migration| migration.version)
        .max()
        .expect("a lockstep migration")
}

fn all_versions_newest_first() -> Vec<i64> {
    all_versions().into_iter().rev().collect()
}

async fn conn(pool: &PgPool) -> PoolConnection<Postgres> {
    pool.acquire().await.expect("connection")
}

async fn up(conn: &mut PgConnection, to: Option<i64>) -> Vec<i64> {
    migrations::up(conn, &MIGRATOR, to, Mode::Apply, &mut |_| {})
        .await
        .expect("up succeeds")
}

async fn down(conn: &mut PgConnection, target: DownTarget) -> Vec<i64> {
    migrations::down(conn, &MIGRATOR, target, Mode::Apply, &mut |_| {})
        .await
        .expect("down succeeds")
}

async fn history(conn: &mut PgConnection) -> Vec<(i64, String)> {
    schema::applied_migrations(conn)
        .await
        .expect("history")
        .into_iter()
        .map(|row| (row.version, row.installed_on.to_rfc3339()))
        .collect()
}

/// A copy of database/migrations in a temporary folder, for simulating edited files.
fn copied_migrations() -> tempfile::TempDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../database/migrations");
    let copy = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(source).expect("migrations folder") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).expect("copy");
    }
    copy
}

#[sqlx::test(migrations = false)]
async fn up_applies_every_migration_and_a_second_up_is_a_no_op(pool: PgPool) {
    let mut conn = conn(&pool).await;
    assert_eq!(up(&mut conn, None).await, all_versions());
    let before = history(&mut conn).await;
    let catalog_before = catalog::snapshot(&mut conn).await;

    assert_eq!(up(&mut conn, None).await, Vec::<i64>::new());
    assert_eq!(history(&mut conn).await, before, "history untouched");
    assert_eq!(catalog::snapshot(&mut conn).await, catalog_before);
    assert_eq!(schema::verify(&mut conn).await.expect("verified"), newest());
}

#[sqlx::test(migrations = false)]
async fn down_to_zero_then_up_leaves_an_identical_catalog(pool: PgPool) {
    let mut conn = conn(&pool).await;
    let empty = catalog::snapshot(&mut conn).await;
    up(&mut conn, None).await;
    let migrated = catalog::snapshot(&mut conn).await;
    assert!(
        migrated.len() > empty.len() + 100,
        "migrations create a real schema"
    );

    assert_eq!(
        down(&mut conn, DownTarget::To(0)).await,
        all_versions_newest_first()
    );
    assert_eq!(
        catalog::snapshot(&mut conn).await,
        empty,
        "down to 0 removes everything"
    );

    up(&mut conn, None).await;
    assert_eq!(catalog::snapshot(&mut conn).await, migrated);
}

#[sqlx::test(migrations = false)]
async fn down_to_each_version_restores_exactly_the_state_after_up_to_it(pool: PgPool) {
    let mut conn = conn(&pool).await;
    let mut after_up_to = vec![catalog::snapshot(&mut conn).await];
    for version in 1..=newest() {
        assert_eq!(up(&mut conn, Some(version)).await, vec![version]);
        after_up_to.push(catalog::snapshot(&mut conn).await);
    }
    for version in (0..newest()).rev() {
        assert_eq!(
            down(&mut conn, DownTarget::To(version)).await,
            vec![version + 1]
        );
        let status = migrations::status(&mut conn, &MIGRATOR)
            .await
            .expect("status");
        assert_eq!(status.current_version, version);
        assert_eq!(
            catalog::snapshot(&mut conn).await,
            after_up_to[version as usize],
            "down --to {version} differs from up --to {version}"
        );
    }
}

#[sqlx::test(migrations = false)]
async fn down_without_target_reverts_one_step_and_redo_reapplies_it(pool: PgPool) {
    let mut conn = conn(&pool).await;
    up(&mut conn, None).await;
    let migrated = catalog::snapshot(&mut conn).await;

    assert_eq!(down(&mut conn, DownTarget::OneStep).await, vec![newest()]);
    let status = migrations::status(&mut conn, &MIGRATOR)
        .await
        .expect("status");
    assert_eq!(status.current_version, newest() - 1);

    up(&mut conn, None).await;
    let redone = migrations::redo(&mut conn, &MIGRATOR, Mode::Apply, &mut |_| {})
        .await
        .expect("redo");
    assert_eq!(redone, vec![newest()]);
    assert_eq!(catalog::snapshot(&mut conn).await, migrated);
    assert_eq!(schema::verify(&mut conn).await.expect("verified"), newest());
}

#[sqlx::test(migrations = false)]
async fn dry_runs_print_the_plan_and_change_nothing(pool: PgPool) {
    let mut conn = conn(&pool).await;
    let mut planned = Vec::new();
    let versions = migrations::up(&mut conn, &MIGRATOR, None, Mode::DryRun, &mut |step| {
        assert!(step.elapsed.is_none());
        planned.push((step.version, !step.sql.trim().is_empty()));
    })
    .await
    .expect("dry run");
    assert_eq!(versions, all_versions());
    assert!(planned.iter().all(|(_, has_sql)| *has_sql), "{planned:?}");
    assert_eq!(
        catalog::user_relations(&mut conn).await,
        Vec::<String>::new()
    );

    up(&mut conn, None).await;
    let before = catalog::snapshot(&mut conn).await;
    let reverted = migrations::down(
        &mut conn,
        &MIGRATOR,
        DownTarget::To(0),
        Mode::DryRun,
        &mut |_| {},
    )
    .await
    .expect("dry run down");
    assert_eq!(reverted, all_versions_newest_first());
    assert_eq!(catalog::snapshot(&mut conn).await, before);
}

#[sqlx::test(migrations = false)]
async fn targets_must_be_known_versions_on_the_right_side_of_the_current_one(pool: PgPool) {
    let mut conn = conn(&pool).await;
    let error = migrations::up(&mut conn, &MIGRATOR, Some(42), Mode::Apply, &mut |_| {})
        .await
        .expect_err("unknown version");
    assert!(matches!(
        error,
        MigrationError::UnknownVersion { version: 42, .. }
    ));
    let known = all_versions()
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    assert_eq!(
        error.to_string(),
        format!("unknown migration version 42; this build has versions {known}")
    );

    up(&mut conn, Some(3)).await;
    let error = migrations::up(&mut conn, &MIGRATOR, Some(2), Mode::Apply, &mut |_| {})
        .await
        .expect_err("already past");
    assert!(
        matches!(
            error,
            MigrationError::AlreadyPast {
                current: 3,
                target: 2
            }
        ),
        "{error}"
    );
    let error = migrations::down(
        &mut conn,
        &MIGRATOR,
        DownTarget::To(4),
        Mode::Apply,
        &mut |_| {},
    )
    .await
    .expect_err("not yet there");
    assert!(
        matches!(
            error,
            MigrationError::NotYetAt {
                current: 3,
                target: 4
            }
        ),
        "{error}"
    );
}

#[sqlx::test(migrations = false)]
async fn an_edited_migration_is_drift_that_blocks_services_and_migrations(pool: PgPool) {
    let mut conn = conn(&pool).await;
    up(&mut conn, None).await;

    let edited = copied_migrations();
    let file = edited.path().join("0003_create_projects_schema.up.sql");
    let mut sql = std::fs::read_to_string(&file).expect("read");
    sql.push_str("\n-- an innocent-looking edit after the migration landed\n");
    std::fs::write(&file, sql).expect("write");
    let edited_build = Migrator::new(edited.path())
        .await
        .expect("load edited copy");

    let comparison = migrations::status(&mut conn, &edited_build)
        .await
        .expect("status");
    assert_eq!(
        comparison.drift(),
        vec![Drift::Modified {
            version: 3,
            description: "create projects schema".into()
        }]
    );
    assert!(matches!(
        schema::check(&comparison),
        Err(SchemaError::Drift(_))
    ));
    let error = migrations::up(&mut conn, &edited_build, None, Mode::Apply, &mut |_| {})
        .await
        .expect_err("refuses to migrate a drifted database");
    assert!(
        error
            .to_string()
            .contains("migration 3 (create projects schema) was modified"),
        "{error}"
    );
}

#[sqlx::test(migrations = false)]
async fn a_database_ahead_of_the_build_is_reported_as_ahead(pool: PgPool) {
    let mut conn = conn(&pool).await;
    up(&mut conn, None).await;
    // The older build stops before the newest lockstep migration.
    let older = copied_migrations();
    for entry in std::fs::read_dir(older.path()).expect("copy") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let version: i64 = name[..4].parse().expect("NNNN_ prefix");
        if version >= newest_lockstep() {
            std::fs::remove_file(path).expect("rm");
        }
    }
    let older_build = Migrator::new(older.path()).await.expect("load older copy");

    let comparison = migrations::status(&mut conn, &older_build)
        .await
        .expect("status");
    let error = schema::check(&comparison).expect_err("ahead");
    assert_eq!(
        error.to_string(),
        format!(
            "schema is at version {}, newer than this build ({}) and not only by expand-only migrations: deploy the matching build, or migrate down with it",
            newest(),
            newest_lockstep() - 1
        )
    );
}

#[sqlx::test(migrations = false)]
async fn a_skipped_migration_is_reported_missing(pool: PgPool) {
    let mut conn = conn(&pool).await;
    up(&mut conn, None).await;
    sqlx::query!("DELETE FROM _sqlx_migrations WHERE version = 2")
        .execute(&mut *conn)
        .await
        .expect("forget version 2");
    let comparison = migrations::status(&mut conn, &MIGRATOR)
        .await
        .expect("status");
    assert_eq!(
        comparison.drift(),
        vec![Drift::Missing {
            version: 2,
            description: "create auth schema".into()
        }]
    );
}

#[sqlx::test(migrations = false)]
async fn services_see_the_version_gap_in_one_clear_line(pool: PgPool) {
    let mut conn = conn(&pool).await;
    let error = schema::verify(&mut conn).await.expect_err("empty database");
    assert_eq!(
        error.to_string(),
        format!(
            "schema is at version 0, this build needs {}: run the migrator",
            newest()
        )
    );
    assert_eq!(
        catalog::user_relations(&mut conn).await,
        Vec::<String>::new(),
        "verify creates nothing"
    );

    up(&mut conn, Some(3)).await;
    let error = schema::verify(&mut conn).await.expect_err("behind");
    assert_eq!(
        error.to_string(),
        format!(
            "schema is at version 3, this build needs {}: run the migrator",
            newest()
        )
    );
}

#[sqlx::test(migrations = false)]
async fn concurrent_migrators_apply_each_migration_exactly_once(pool: PgPool) {
    let mut first = testkit::connect(&pool).await;
    let mut second = testkit::connect(&pool).await;
    let (mut quiet_a, mut quiet_b) = (|_: &_| {}, |_: &_| {});
    let (a, b) = tokio::join!(
        migrations::up(&mut first, &MIGRATOR, None, Mode::Apply, &mut quiet_a),
        migrations::up(&mut second, &MIGRATOR, None, Mode::Apply, &mut quiet_b),
    );
    let mut applied: Vec<i64> = a
        .expect("first")
        .into_iter()
        .chain(b.expect("second"))
        .collect();
    applied.sort_unstable();
    assert_eq!(applied, all_versions());
    let mut conn = conn(&pool).await;
    assert_eq!(schema::verify(&mut conn).await.expect("verified"), newest());
}
