//! The migration engine behind the `migrator` binary: up/down to a version, redo, dry runs.
//!
//! Every change runs under PostgreSQL's advisory lock (sqlx's `Migrate::lock`), and the
//! history is read only after the lock is held, so concurrent migrators never race: the
//! second one waits, then finds nothing left to do.

use std::time::Duration;

use sqlx::{
    PgConnection,
    migrate::{Migrate, MigrateError, Migration, Migrator},
};

use crate::schema::{self, Comparison, Drift, describe};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// Whether to change the database or only say what would run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    DryRun,
}

/// Where `down` should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownTarget {
    /// Revert only the newest applied migration.
    OneStep,
    /// Revert everything newer than this version (0 reverts all).
    To(i64),
}

/// One migration run (or, in a dry run, planned), reported as it happens.
#[derive(Debug, Clone)]
pub struct Step<'m> {
    pub version: i64,
    pub description: &'m str,
    pub direction: Direction,
    pub sql: &'m str,
    /// `None` in a dry run.
    pub elapsed: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("the database does not match this build's migrations: {}", describe(.0))]
    Drift(Vec<Drift>),
    #[error("unknown migration version {version}; this build has versions {known}")]
    UnknownVersion { version: i64, known: String },
    #[error(
        "the database is at version {current}, already past {target}: use `down --to {target}`"
    )]
    AlreadyPast { current: i64, target: i64 },
    #[error("the database is at version {current}, below {target}: use `up --to {target}`")]
    NotYetAt { current: i64, target: i64 },
    #[error("migration {version} has no down script, so it cannot be reverted")]
    Irreversible { version: i64 },
    #[error("migration {version} ({description}) failed and was rolled back: {source}")]
    Failed {
        version: i64,
        description: String,
        source: MigrateError,
    },
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Reads the history without taking the lock or creating anything.
pub async fn status(
    conn: &mut PgConnection,
    migrator: &Migrator,
) -> Result<Comparison, MigrationError> {
    let applied = schema::applied_migrations(conn).await?;
    Ok(schema::compare(&applied, migrator))
}

/// Applies pending migrations up to `to` (all when `None`), oldest first.
pub async fn up<'m>(
    conn: &mut PgConnection,
    migrator: &'m Migrator,
    to: Option<i64>,
    mode: Mode,
    on_step: &mut dyn FnMut(&Step<'m>),
) -> Result<Vec<i64>, MigrationError> {
    if let Some(target) = to {
        known_version(migrator, target)?;
    }
    execute(conn, migrator, mode, on_step, |comparison| {
        let target = to.unwrap_or(comparison.expected_version);
        if target < comparison.current_version {
            return Err(MigrationError::AlreadyPast {
                current: comparison.current_version,
                target,
            });
        }
        Ok(ups(migrator)
            .filter(|migration| migration.version <= target)
            .filter(|migration| !comparison.is_applied(migration.version))
            .map(|migration| (Direction::Up, migration))
            .collect())
    })
    .await
}

/// Reverts applied migrations, newest first.
pub async fn down<'m>(
    conn: &mut PgConnection,
    migrator: &'m Migrator,
    target: DownTarget,
    mode: Mode,
    on_step: &mut dyn FnMut(&Step<'m>),
) -> Result<Vec<i64>, MigrationError> {
    if let DownTarget::To(version) = target
        && version != 0
    {
        known_version(migrator, version)?;
    }
    execute(conn, migrator, mode, on_step, |comparison| {
        let current = comparison.current_version;
        let target = match target {
            DownTarget::OneStep => applied_versions(migrator, comparison)
                .filter(|version| *version < current)
                .max()
                .unwrap_or(0),
            DownTarget::To(version) => version,
        };
        if target > current {
            return Err(MigrationError::NotYetAt { current, target });
        }
        let mut plan = Vec::new();
        for version in applied_versions(migrator, comparison).filter(|v| *v > target) {
            plan.push((Direction::Down, down_script(migrator, version)?));
        }
        plan.reverse();
        Ok(plan)
    })
    .await
}

/// Reverts the newest applied migration and applies it again, under one lock.
pub async fn redo<'m>(
    conn: &mut PgConnection,
    migrator: &'m Migrator,
    mode: Mode,
    on_step: &mut dyn FnMut(&Step<'m>),
) -> Result<Vec<i64>, MigrationError> {
    let mut done = execute(conn, migrator, mode, on_step, |comparison| {
        let Some(newest) = applied_versions(migrator, comparison).max() else {
            return Ok(Vec::new());
        };
        let down = down_script(migrator, newest)?;
        let up = ups(migrator)
            .find(|migration| migration.version == newest)
            .ok_or(MigrationError::Irreversible { version: newest })?;
        Ok(vec![(Direction::Down, down), (Direction::Up, up)])
    })
    .await?;
    // Reverted, then applied: one version redone.
    done.dedup();
    Ok(done)
}

/// The migrations a command runs, in order, each up or down.
type Plan<'m> = Vec<(Direction, &'m Migration)>;

/// What every command does: under the lock, read the history, refuse drift, let `plan`
/// decide from the history what to run, and run it.
async fn execute<'m>(
    conn: &mut PgConnection,
    migrator: &'m Migrator,
    mode: Mode,
    on_step: &mut dyn FnMut(&Step<'m>),
    plan: impl FnOnce(&Comparison) -> Result<Plan<'m>, MigrationError>,
) -> Result<Vec<i64>, MigrationError> {
    with_lock(conn, mode, async move |conn| {
        let comparison = checked_status(conn, migrator).await?;
        run(conn, plan(&comparison)?, mode, on_step).await
    })
    .await
}

/// Runs `work` holding the advisory lock, releasing it whatever `work` returns.
/// Dry runs change nothing, so they neither lock nor create the history table.
async fn with_lock<T>(
    conn: &mut PgConnection,
    mode: Mode,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, MigrationError>,
) -> Result<T, MigrationError> {
    if mode == Mode::DryRun {
        return work(conn).await;
    }
    conn.lock().await?;
    let result = match conn.ensure_migrations_table().await {
        Ok(()) => work(&mut *conn).await,
        Err(error) => Err(error.into()),
    };
    let unlocked = conn.unlock().await;
    let value = result?;
    unlocked?;
    Ok(value)
}

async fn checked_status(
    conn: &mut PgConnection,
    migrator: &Migrator,
) -> Result<Comparison, MigrationError> {
    let comparison = status(conn, migrator).await?;
    let drift = comparison.drift();
    if drift.is_empty() {
        Ok(comparison)
    } else {
        Err(MigrationError::Drift(drift))
    }
}

async fn run<'m>(
    conn: &mut PgConnection,
    plan: Plan<'m>,
    mode: Mode,
    on_step: &mut dyn FnMut(&Step<'m>),
) -> Result<Vec<i64>, MigrationError> {
    let mut done = Vec::with_capacity(plan.len());
    for (direction, migration) in plan {
        let elapsed = match mode {
            Mode::DryRun => None,
            Mode::Apply => {
                let outcome = match direction {
                    Direction::Up => conn.apply(migration).await,
                    Direction::Down => conn.revert(migration).await,
                };
                Some(outcome.map_err(|source| MigrationError::Failed {
                    version: migration.version,
                    description: migration.description.to_string(),
                    source,
                })?)
            }
        };
        on_step(&Step {
            version: migration.version,
            description: &migration.description,
            direction,
            sql: &migration.sql,
            elapsed,
        });
        done.push(migration.version);
    }
    Ok(done)
}

fn ups(migrator: &Migrator) -> impl Iterator<Item = &Migration> {
    migrator
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
}

fn applied_versions<'a>(
    migrator: &'a Migrator,
    comparison: &'a Comparison,
) -> impl Iterator<Item = i64> + 'a {
    ups(migrator)
        .map(|migration| migration.version)
        .filter(|version| comparison.is_applied(*version))
}

fn known_version(migrator: &Migrator, version: i64) -> Result<i64, MigrationError> {
    if ups(migrator).any(|migration| migration.version == version) {
        return Ok(version);
    }
    let known = ups(migrator)
        .map(|migration| migration.version.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Err(MigrationError::UnknownVersion { version, known })
}

fn down_script(migrator: &Migrator, version: i64) -> Result<&Migration, MigrationError> {
    migrator
        .iter()
        .find(|m| m.version == version && m.migration_type.is_down_migration())
        .ok_or(MigrationError::Irreversible { version })
}
