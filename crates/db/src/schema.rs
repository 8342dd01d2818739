//! What the database's migration history says, compared with the migrations in this build.
//!
//! Services call [`verify`] at start and from `/health/ready`; the migrator uses
//! [`compare`] for `status` and `verify`.

use std::fmt;

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, migrate::Migrator};

use crate::{MIGRATOR, rollout::Rollout};

/// One row of `_sqlx_migrations`, the history sqlx keeps.
#[derive(Debug, Clone)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
    pub installed_on: DateTime<Utc>,
    pub success: bool,
    pub checksum: Vec<u8>,
}

/// The applied history; empty when the history table does not exist yet.
/// Reads only: services must never create tables, not even sqlx's own.
pub async fn applied_migrations(
    conn: &mut sqlx::PgConnection,
) -> sqlx::Result<Vec<AppliedMigration>> {
    if !history_table_exists(&mut *conn).await? {
        return Ok(Vec::new());
    }
    sqlx::query_as!(
        AppliedMigration,
        r#"SELECT version, description, installed_on, success, checksum
           FROM _sqlx_migrations ORDER BY version"#
    )
    .fetch_all(conn)
    .await
}

async fn history_table_exists(executor: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT to_regclass('_sqlx_migrations') IS NOT NULL AS "exists!""#)
        .fetch_one(executor)
        .await
}

/// A way in which the database's history disagrees with this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// Applied, but the file in this build has different contents.
    Modified { version: i64, description: String },
    /// Applied, but this build has no such migration.
    Unknown { version: i64, description: String },
    /// In this build and older than the newest applied one, yet never applied.
    Missing { version: i64, description: String },
    /// Recorded as started but failed (only possible for no-transaction migrations).
    Failed { version: i64, description: String },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Modified {
                version,
                description,
            } => write!(
                f,
                "migration {version} ({description}) was modified after it was applied"
            ),
            Drift::Unknown {
                version,
                description,
            } => write!(
                f,
                "migration {version} ({description}) is applied but not part of this build"
            ),
            Drift::Missing {
                version,
                description,
            } => write!(
                f,
                "migration {version} ({description}) was skipped: newer ones are applied"
            ),
            Drift::Failed {
                version,
                description,
            } => write!(
                f,
                "migration {version} ({description}) failed part-way and needs manual repair"
            ),
        }
    }
}

/// The state of each migration, for `migrator status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Applied,
    Pending,
    Modified,
    Unknown,
    Missing,
    Failed,
}

/// One line of `migrator status`.
#[derive(Debug, Clone)]
pub struct StatusLine {
    pub version: i64,
    pub description: String,
    pub state: State,
    pub installed_on: Option<DateTime<Utc>>,
}

/// The database's history held against a build's migrations.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub lines: Vec<StatusLine>,
    /// The newest successfully applied version; 0 for an empty database.
    pub current_version: i64,
    /// The newest version in the build.
    pub expected_version: i64,
}

impl Comparison {
    pub fn drift(&self) -> Vec<Drift> {
        self.lines
            .iter()
            .filter_map(|line| {
                let (version, description) = (line.version, line.description.clone());
                match line.state {
                    State::Modified => Some(Drift::Modified {
                        version,
                        description,
                    }),
                    State::Unknown => Some(Drift::Unknown {
                        version,
                        description,
                    }),
                    State::Missing => Some(Drift::Missing {
                        version,
                        description,
                    }),
                    State::Failed => Some(Drift::Failed {
                        version,
                        description,
                    }),
                    State::Applied | State::Pending => None,
                }
            })
            .collect()
    }

    pub fn pending(&self) -> impl Iterator<Item = &StatusLine> {
        self.lines
            .iter()
            .filter(|line| line.state == State::Pending)
    }

    pub fn is_applied(&self, version: i64) -> bool {
        self.lines
            .iter()
            .any(|line| line.version == version && line.state == State::Applied)
    }
}

/// Compares an applied history with a build's migrations. Pure: no database access.
pub fn compare(applied: &[AppliedMigration], migrator: &Migrator) -> Comparison {
    let build: Vec<_> = migrator
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
        .collect();
    let current_version = applied
        .iter()
        .filter(|row| row.success)
        .map(|row| row.version)
        .max()
        .unwrap_or(0);

    let mut lines: Vec<StatusLine> = build
        .iter()
        .map(|migration| {
            let row = applied.iter().find(|row| row.version == migration.version);
            let state = match row {
                Some(row) if !row.success => State::Failed,
                Some(row) if *row.checksum != *migration.checksum => State::Modified,
                Some(_) => State::Applied,
                None if migration.version < current_version => State::Missing,
                None => State::Pending,
            };
            StatusLine {
                version: migration.version,
                description: migration.description.to_string(),
                state,
                installed_on: row.map(|row| row.installed_on),
            }
        })
        .collect();
    lines.extend(
        applied
            .iter()
            .filter(|row| {
                !build
                    .iter()
                    .any(|migration| migration.version == row.version)
            })
            .map(|row| StatusLine {
                version: row.version,
                description: row.description.clone(),
                state: State::Unknown,
                installed_on: Some(row.installed_on),
            }),
    );
    lines.sort_by_key(|line| line.version);

    Comparison {
        lines,
        current_version,
        expected_version: build.iter().map(|m| m.version).max().unwrap_or(0),
    }
}

/// Why a service must not start on this database.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("schema is at version {current}, this build needs {expected}: run the migrator")]
    Behind { current: i64, expected: i64 },
    #[error(
        "schema is at version {current}, newer than this build ({expected}) and not only by expand-only migrations: deploy the matching build, or migrate down with it"
    )]
    Ahead { current: i64, expected: i64 },
    #[error("schema does not match this build: {}; run `migrator verify` for details", describe(.0))]
    Drift(Vec<Drift>),
    #[error("cannot read the schema version: {0}")]
    Database(#[from] sqlx::Error),
}

/// Every disagreement on one line, for error messages.
pub(crate) fn describe(drift: &[Drift]) -> String {
    drift
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks that exactly this build's migrations are applied, with matching checksums.
/// Returns the schema version.
pub async fn verify(conn: &mut sqlx::PgConnection) -> Result<i64, SchemaError> {
    let comparison = compare(&applied_migrations(conn).await?, &MIGRATOR);
    check(&comparison)
}

/// Connects and refuses to go on unless the database is at this build's schema: what a
/// service does first at start. The error is one readable line.
pub async fn open_verified(config: &crate::DbConfig) -> Result<sqlx::PgPool, String> {
    let pool = crate::connect(config)
        .await
        .map_err(|error| error.to_string())?;
    let mut conn = pool.acquire().await.map_err(|error| error.to_string())?;
    let version = verify(&mut conn).await.map_err(|error| error.to_string())?;
    drop(conn);
    tracing::info!(version, "schema verified");
    Ok(pool)
}

/// PostgreSQL answers and its schema matches this build: `/health/ready`'s check, as
/// `Ok("schema version N")` or the reason it is not ready.
pub async fn readiness(pool: sqlx::PgPool) -> Result<String, String> {
    let mut conn = pool.acquire().await.map_err(|error| error.to_string())?;
    verify(&mut conn)
        .await
        .map(|version| format!("schema version {version}"))
        .map_err(|error| error.to_string())
}

/// The decision behind [`verify`], separate so it can be tested without a database.
///
/// Besides exactly this build's history, two rolling-deploy states are accepted (see
/// [`crate::rollout`]): newer migrations this build does not know, when every one of them
/// is expand-only, and this build's own pending migrations, when every one of them is a
/// contract that only removes what this build no longer uses.
pub fn check(comparison: &Comparison) -> Result<i64, SchemaError> {
    let Comparison {
        current_version: current,
        expected_version: expected,
        ..
    } = *comparison;
    let drift: Vec<Drift> = comparison
        .drift()
        .into_iter()
        .filter(|d| {
            !matches!(d, Drift::Unknown { version, description }
            if *version > expected && Rollout::of(description) == Rollout::Expand)
        })
        .collect();
    let only_newer_unknowns = drift
        .iter()
        .all(|d| matches!(d, Drift::Unknown { version, .. } if *version > expected));
    if !drift.is_empty() && only_newer_unknowns {
        return Err(SchemaError::Ahead { current, expected });
    }
    if !drift.is_empty() {
        return Err(SchemaError::Drift(drift));
    }
    let mut pending = comparison.pending();
    if pending.any(|line| Rollout::of(&line.description) != Rollout::Contract) {
        return Err(SchemaError::Behind { current, expected });
    }
    Ok(current)
}
