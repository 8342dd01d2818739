//! The `migrator` binary as a user runs it: exit codes, what it prints, what it changes.

use sqlx::{PgPool, Postgres, migrate::MigrateDatabase};
use testkit::{BinaryRun, catalog};

/// Runs `migrator ARGS` with only `vars` in its environment, so neither our environment
/// nor a `.env` file can set APP_ENV or DATABASE_URL behind the test's back.
async fn migrator(vars: &[(&str, &str)], args: &[&str]) -> BinaryRun {
    testkit::run_binary(env!("CARGO_BIN_EXE_migrator"), args, vars).await
}

/// Runs `migrator --database-url <pool's database> ARGS`, with APP_ENV set only if given.
async fn migrate(pool: &PgPool, app_env: Option<&str>, args: &[&str]) -> BinaryRun {
    let url = testkit::database_url(pool);
    let vars: Vec<_> = app_env.map(|env| ("APP_ENV", env)).into_iter().collect();
    let all_args = [&["--database-url", url.as_str()], args].concat();
    migrator(&vars, &all_args).await
}

/// Every migration version in this build, oldest first, so adding a migration needs no edit here.
fn build_versions() -> Vec<i64> {
    db::MIGRATOR
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
        .map(|migration| migration.version)
        .collect()
}

/// The line a change ends with once the schema is at this build's newest version.
fn at_newest() -> String {
    let newest = db::expected_version();
    format!("schema is at version {newest} (this build: {newest})\n")
}

/// The (version, state) rows `status` should print, given each version's state.
fn expected_states(state: impl Fn(i64) -> &'static str) -> Vec<(i64, &'static str)> {
    build_versions()
        .into_iter()
        .map(|v| (v, state(v)))
        .collect()
}

/// `_sqlx_migrations` as (version, installed_on, checksum), oldest first.
async fn history(pool: &PgPool) -> Vec<(i64, String, Vec<u8>)> {
    sqlx::query!("SELECT version, installed_on, checksum FROM _sqlx_migrations ORDER BY version")
        .fetch_all(pool)
        .await
        .expect("read history")
        .into_iter()
        .map(|row| (row.version, row.installed_on.to_rfc3339(), row.checksum))
        .collect()
}

async fn versions(pool: &PgPool) -> Vec<i64> {
    history(pool).await.into_iter().map(|row| row.0).collect()
}

async fn user_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM auth.users"#)
        .fetch_one(pool)
        .await
        .expect("count users")
}

/// The (version, state) rows of `migrator status`, skipping its header and summary.
fn states(status: &str) -> Vec<(i64, &str)> {
    status
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let version = words.next()?.parse().ok()?;
            Some((version, words.next()?))
        })
        .collect()
}

#[sqlx::test(migrations = false)]
async fn up_applies_every_migration_and_a_second_up_has_nothing_to_do(pool: PgPool) {
    let out = migrate(&pool, None, &["up"]).await;
    let stdout = out.ok();
    let applied = stdout.lines().filter(|l| l.starts_with("  up")).count();
    assert_eq!(applied, build_versions().len(), "{stdout}");
    assert!(stdout.ends_with(&at_newest()), "{stdout}");
    let before = history(&pool).await;
    assert_eq!(versions(&pool).await, build_versions());

    let again = migrate(&pool, None, &["up"]).await;
    assert_eq!(again.ok(), format!("nothing to do: {}", at_newest()));
    assert_eq!(history(&pool).await, before, "history untouched");
}

#[sqlx::test(migrations = false)]
async fn down_to_2_lands_on_version_2_and_plain_down_reverts_one_step(pool: PgPool) {
    migrate(&pool, None, &["up"]).await.ok();

    let newest = db::expected_version();
    let above_2 = build_versions().iter().filter(|v| **v > 2).count();
    let out = migrate(&pool, None, &["down", "--to", "2"]).await;
    let reverted = out.ok().lines().filter(|l| l.starts_with("down")).count();
    assert_eq!(reverted, above_2, "{out:#?}");
    assert_eq!(versions(&pool).await, vec![1, 2]);
    let status = migrate(&pool, None, &["status"]).await;
    let expected = expected_states(|v| if v <= 2 { "applied" } else { "pending" });
    assert_eq!(states(status.ok()), expected);
    let summary = format!("schema is at version 2 of {newest}; {above_2} pending, 0 drifted");
    assert!(status.ok().contains(&summary), "{status:#?}");

    let out = migrate(&pool, None, &["down"]).await;
    let summary = format!("schema is at version 1 (this build: {newest})");
    assert!(out.ok().contains(&summary), "{out:#?}");
    assert_eq!(versions(&pool).await, vec![1]);
}

#[sqlx::test(migrations = false)]
async fn up_to_an_unknown_version_fails_naming_it_and_applies_nothing(pool: PgPool) {
    let out = migrate(&pool, None, &["up", "--to", "42"]).await;
    let known: Vec<_> = build_versions().iter().map(i64::to_string).collect();
    assert_eq!(
        out.error(),
        format!(
            "unknown migration version 42; this build has versions {}",
            known.join(", ")
        )
    );
    let mut conn = pool.acquire().await.expect("connection");
    assert_eq!(
        catalog::user_relations(&mut conn).await,
        Vec::<String>::new(),
        "a refused target creates nothing, not even the history table"
    );
}

#[sqlx::test(migrations = false)]
async fn status_and_verify_report_an_edited_migration(pool: PgPool) {
    migrate(&pool, None, &["up"]).await.ok();
    let verified = migrate(&pool, None, &["verify"]).await;
    assert_eq!(
        verified.ok(),
        format!(
            "ok: history matches this build; schema at version {}, 0 pending\n",
            db::expected_version()
        )
    );

    sqlx::query!("UPDATE _sqlx_migrations SET checksum = '\\x00' WHERE version = 3")
        .execute(&pool)
        .await
        .expect("edit history");
    let status = migrate(&pool, None, &["status"]).await;
    let expected = expected_states(|v| if v == 3 { "MODIFIED" } else { "applied" });
    assert_eq!(states(status.ok()), expected);
    assert!(status.ok().contains("0 pending, 1 drifted"), "{status:#?}");

    let out = migrate(&pool, None, &["verify"]).await;
    assert_eq!(out.error(), "1 migration(s) differ from this build");
    assert_eq!(
        out.stdout,
        "drift: migration 3 (create projects schema) was modified after it was applied\n"
    );
}

/// A newer release's expand-only migration, recorded in the history this build reads:
/// `status` names its rollout rule so an operator can see why services stay ready.
#[sqlx::test(migrations = false)]
async fn status_shows_each_migrations_rollout_rule(pool: PgPool) {
    migrate(&pool, None, &["up"]).await.ok();
    let next = db::expected_version() + 1;
    sqlx::query!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, 'expand add task watchers', true, '\\x01', 1)",
        next
    )
    .execute(&pool)
    .await
    .expect("record a newer migration");

    let status = migrate(&pool, None, &["status"]).await;
    let rows: Vec<&str> = status.ok().lines().collect();
    assert!(rows[0].contains("ROLLOUT"), "{rows:?}");
    let newer = rows
        .iter()
        .find(|row| row.trim_start().starts_with(&next.to_string()))
        .expect("the newer migration is listed");
    assert!(
        newer.contains("UNKNOWN") && newer.contains("expand"),
        "{newer}"
    );
    let first = rows
        .iter()
        .find(|row| row.trim_start().starts_with("1 "))
        .expect("row 1");
    assert!(first.contains("lockstep"), "{first}");
}

#[sqlx::test(migrations = false)]
async fn seed_in_development_loads_three_users_and_can_run_twice(pool: PgPool) {
    let out = migrate(&pool, Some("development"), &["seed"]).await;
    assert_eq!(
        out.error(),
        format!(
            "schema is at version 0, this build needs {}: run the migrator",
            db::expected_version()
        )
    );

    migrate(&pool, None, &["up"]).await.ok();
    for _ in 0..2 {
        let out = migrate(&pool, Some("development"), &["seed"]).await;
        assert!(out.ok().contains("loaded development seeds"), "{out:#?}");
        assert_eq!(user_count(&pool).await, 3);
    }
}

#[sqlx::test(migrations = false)]
async fn reset_and_seed_refuse_unless_app_env_is_development(pool: PgPool) {
    migrate(&pool, None, &["up"]).await.ok();
    migrate(&pool, Some("development"), &["seed"]).await.ok();
    let mut conn = pool.acquire().await.expect("connection");
    let catalog_before = catalog::snapshot(&mut conn).await;
    let history_before = history(&pool).await;

    for app_env in [None, Some("production")] {
        for command in ["reset", "seed"] {
            let out = migrate(&pool, app_env, &[command]).await;
            let message = out.error();
            assert!(
                message.starts_with(&format!("refusing to {command}: APP_ENV is "))
                    && message.ends_with("so it runs only with APP_ENV=development"),
                "{out:#?}"
            );
        }
    }
    assert_eq!(catalog::snapshot(&mut conn).await, catalog_before);
    assert_eq!(history(&pool).await, history_before);
    assert_eq!(user_count(&pool).await, 3, "seeded rows survive");

    let out = migrate(&pool, Some("development"), &["reset"]).await;
    assert!(out.ok().ends_with(&at_newest()), "{out:#?}");
    assert_eq!(versions(&pool).await, build_versions());
    assert_eq!(user_count(&pool).await, 0, "reset drops the data");
}

#[sqlx::test(migrations = false)]
async fn dry_run_up_prints_the_sql_and_creates_nothing(pool: PgPool) {
    let out = migrate(&pool, None, &["up", "--dry-run"]).await;
    let stdout = out.ok();
    for expected in [
        "-- would run up 2 (create auth schema)\n",
        "CREATE SCHEMA auth;\n",
        "-- dry run: nothing was changed; schema is at version 0\n",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing: {stdout}");
    }
    let mut conn = pool.acquire().await.expect("connection");
    assert_eq!(
        catalog::user_relations(&mut conn).await,
        Vec::<String>::new(),
        "not even _sqlx_migrations"
    );
}

#[sqlx::test(migrations = false)]
async fn create_db_creates_a_missing_database_and_migrates_it(pool: PgPool) {
    let options = pool.connect_options();
    let test_db = options.get_database().expect("named").to_owned();
    // Test database names are 63 characters, PostgreSQL's limit: swap the prefix, keep the hash.
    let name = test_db.replacen("_sqlx_test_", "cli_new_", 1);
    let url = testkit::database_url(&pool).replacen(&test_db, &name, 1);
    // A run that failed before its clean-up leaves the database behind.
    Postgres::force_drop_database(&url)
        .await
        .expect("drop leftover");

    let out = migrator(&[], &["--database-url", &url, "--create-db", "up"]).await;
    let stdout = out.ok();
    assert!(
        stdout.starts_with(&format!(
            "created database {}:{}/{name}\n",
            options.get_host(),
            options.get_port()
        )),
        "{stdout}"
    );
    assert!(stdout.ends_with(&at_newest()), "{stdout}");
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS "exists!""#,
        name
    )
    .fetch_one(&pool)
    .await
    .expect("look up database");
    assert!(exists);

    let again = migrator(&[], &["--database-url", &url, "--create-db", "status"]).await;
    assert!(!again.ok().contains("created database"), "{again:#?}");
    let newest = db::expected_version();
    let summary = format!("schema is at version {newest} of {newest}");
    assert!(again.ok().contains(&summary), "{again:#?}");

    Postgres::force_drop_database(&url).await.expect("drop");
}

#[tokio::test]
async fn connection_problems_fail_with_one_line_saying_what_is_wrong() {
    for (url, problem) in [
        (
            "postgres://devmentor:hunter2@127.0.0.1:1/x",
            "cannot connect to PostgreSQL at 127.0.0.1:1/x",
        ),
        ("mysql://x", "DATABASE_URL is not a valid PostgreSQL URL"),
    ] {
        let out = migrator(&[], &["--database-url", url, "status"]).await;
        assert!(out.error().starts_with(problem), "{out:#?}");
        assert!(!out.stderr.contains("hunter2"), "password shown: {out:#?}");
    }

    let out = migrator(&[], &["status"]).await;
    assert_eq!(
        out.error(),
        "no database: set DATABASE_URL (see .env.example) or pass --database-url"
    );

    // The flag wins over the environment.
    let env = [("DATABASE_URL", "postgres://devmentor@127.0.0.1:5432/x")];
    let out = migrator(&env, &["--database-url", "mysql://x", "status"]).await;
    assert!(out.error().starts_with("DATABASE_URL is not a valid"));
}
