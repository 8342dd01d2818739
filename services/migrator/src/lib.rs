//! The migrator: a thin command line over `db::migrations`.

mod cli;
mod legacy;

use std::process::ExitCode;

use db::{
    DbConfig, MIGRATOR,
    migrations::{self, DownTarget, Mode, Step},
    rollout::Rollout,
    schema::{Comparison, State},
};
use platform::config::{self, AppEnv, CommonConfig};
use secrecy::ExposeSecret;
use sqlx::{Connection, PgConnection, Postgres, migrate::MigrateDatabase};

pub use cli::{Cli, Command, LegacyCommand};

/// A failure the migrator reports as one line on stderr.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(String);

fn fail(message: impl std::fmt::Display) -> CliError {
    CliError(message.to_string())
}

/// Runs one command; prints results on stdout and a single `error:` line on failure.
pub async fn run(cli: Cli) -> ExitCode {
    match execute(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("migrator: error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> Result<ExitCode, CliError> {
    config::load_dotenv();
    let common: CommonConfig = config::from_env().map_err(fail)?;
    let db_config = database_config(cli.database_url)?;
    let options = db_config.connect_options().map_err(fail)?;
    let target = db::pool::describe_target(&options);

    if matches!(cli.command, Command::Reset { .. } | Command::Seed) {
        require_development(&common, &cli.command)?;
    }
    if cli.create_db {
        create_database(db_config.database_url.expose_secret(), &target).await?;
    }
    let mut conn = PgConnection::connect_with(&options)
        .await
        .map_err(|error| fail(format!("cannot connect to PostgreSQL at {target}: {error}")))?;
    let outcome = dispatch(&mut conn, cli.command).await;
    // Closing politely releases the advisory lock at once rather than at the server's timeout.
    let _ = conn.close().await;
    outcome
}

/// The connection settings: `--database-url` wins over `DATABASE_URL`; `DB_SSL_MODE` applies.
fn database_config(url_flag: Option<String>) -> Result<DbConfig, CliError> {
    #[derive(serde::Deserialize)]
    struct Env {
        database_url: Option<secrecy::SecretString>,
        db_ssl_mode: Option<db::SslMode>,
    }
    let env: Env = config::from_env().map_err(fail)?;
    let database_url = url_flag
        .map(Into::into)
        .or(env.database_url)
        .ok_or_else(|| {
            fail("no database: set DATABASE_URL (see .env.example) or pass --database-url")
        })?;
    Ok(DbConfig {
        database_url,
        db_pool_size: 1,
        db_ssl_mode: env.db_ssl_mode,
    })
}

fn require_development(common: &CommonConfig, command: &Command) -> Result<(), CliError> {
    if common.app_env == AppEnv::Development {
        return Ok(());
    }
    let what = match command {
        Command::Reset { .. } => "reset drops every table and row",
        _ => "seed loads accounts with published passwords",
    };
    Err(fail(format!(
        "refusing to {}: APP_ENV is {} (unset means production); {what}, so it runs only with APP_ENV=development",
        match command {
            Command::Reset { .. } => "reset",
            _ => "seed",
        },
        common.app_env,
    )))
}

async fn create_database(url: &str, target: &str) -> Result<(), CliError> {
    let exists = Postgres::database_exists(url)
        .await
        .map_err(|error| fail(format!("cannot check whether {target} exists: {error}")))?;
    if !exists {
        Postgres::create_database(url)
            .await
            .map_err(|error| fail(format!("cannot create database {target}: {error}")))?;
        println!("created database {target}");
    }
    Ok(())
}

async fn dispatch(conn: &mut PgConnection, command: Command) -> Result<ExitCode, CliError> {
    let mode = |dry_run: bool| if dry_run { Mode::DryRun } else { Mode::Apply };
    match command {
        Command::Up { to, dry_run } => {
            let done = migrations::up(conn, &MIGRATOR, to, mode(dry_run), &mut print_step(dry_run))
                .await
                .map_err(fail)?;
            report_done(conn, done.len(), dry_run).await?;
        }
        Command::Down { to, dry_run } => {
            let target = to.map_or(DownTarget::OneStep, DownTarget::To);
            let done = migrations::down(
                conn,
                &MIGRATOR,
                target,
                mode(dry_run),
                &mut print_step(dry_run),
            )
            .await
            .map_err(fail)?;
            report_done(conn, done.len(), dry_run).await?;
        }
        Command::Redo { dry_run } => {
            let done = migrations::redo(conn, &MIGRATOR, mode(dry_run), &mut print_step(dry_run))
                .await
                .map_err(fail)?;
            report_done(conn, done.len(), dry_run).await?;
        }
        Command::Status => print_status(&migrations::status(conn, &MIGRATOR).await.map_err(fail)?),
        Command::Verify => return verify(conn).await,
        Command::Reset { seed } => {
            let mut printer = print_step(false);
            migrations::down(
                conn,
                &MIGRATOR,
                DownTarget::To(0),
                Mode::Apply,
                &mut printer,
            )
            .await
            .map_err(fail)?;
            migrations::up(conn, &MIGRATOR, None, Mode::Apply, &mut printer)
                .await
                .map_err(fail)?;
            if seed {
                load_seeds(conn).await?;
            }
            report_done(conn, 1, false).await?;
        }
        Command::Seed => load_seeds(conn).await?,
        Command::Legacy {
            command: LegacyCommand::ImportUsers { dry_run, time_zone },
        } => legacy::import_users(conn, dry_run, &time_zone).await?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print_step(dry_run: bool) -> impl FnMut(&Step<'_>) {
    move |step| {
        let arrow = match step.direction {
            migrations::Direction::Up => "up",
            migrations::Direction::Down => "down",
        };
        if dry_run {
            println!(
                "-- would run {arrow} {} ({})",
                step.version, step.description
            );
            println!("{}", step.sql.trim_end());
        } else {
            let ms = step.elapsed.map_or(0, |elapsed| elapsed.as_millis());
            println!(
                "{arrow:>4} {:>4}  {}  ({ms} ms)",
                step.version, step.description
            );
        }
    }
}

async fn report_done(conn: &mut PgConnection, steps: usize, dry_run: bool) -> Result<(), CliError> {
    let comparison = migrations::status(conn, &MIGRATOR).await.map_err(fail)?;
    let version = comparison.current_version;
    let expected = comparison.expected_version;
    match (steps, dry_run) {
        (0, _) => {
            println!("nothing to do: schema is at version {version} (this build: {expected})")
        }
        (_, true) => println!("-- dry run: nothing was changed; schema is at version {version}"),
        (_, false) => println!("schema is at version {version} (this build: {expected})"),
    }
    Ok(())
}

async fn verify(conn: &mut PgConnection) -> Result<ExitCode, CliError> {
    let comparison = migrations::status(conn, &MIGRATOR).await.map_err(fail)?;
    let drift = comparison.drift();
    for problem in &drift {
        println!("drift: {problem}");
    }
    let pending = comparison.pending().count();
    if drift.is_empty() {
        println!(
            "ok: history matches this build; schema at version {}, {pending} pending",
            comparison.current_version
        );
        Ok(ExitCode::SUCCESS)
    } else {
        Err(fail(format!(
            "{} migration(s) differ from this build",
            drift.len()
        )))
    }
}

fn print_status(comparison: &Comparison) {
    println!(
        "{:>7}  {:<8}  {:<20}  {:<8}  DESCRIPTION",
        "VERSION", "STATE", "INSTALLED (UTC)", "ROLLOUT"
    );
    for line in &comparison.lines {
        let state = match line.state {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Modified => "MODIFIED",
            State::Unknown => "UNKNOWN",
            State::Missing => "MISSING",
            State::Failed => "FAILED",
        };
        let installed = line.installed_on.map_or_else(
            || "-".to_owned(),
            |at| at.format("%Y-%m-%d %H:%M:%S").to_string(),
        );
        let rollout = Rollout::of(&line.description);
        println!(
            "{:>7}  {state:<8}  {installed:<20}  {rollout:<8}  {}",
            line.version, line.description
        );
    }
    println!(
        "schema is at version {} of {}; {} pending, {} drifted",
        comparison.current_version,
        comparison.expected_version,
        comparison.pending().count(),
        comparison.drift().len()
    );
}

async fn load_seeds(conn: &mut PgConnection) -> Result<(), CliError> {
    db::schema::verify(conn).await.map_err(fail)?;
    db::seeds::load_development(conn)
        .await
        .map_err(|error| fail(format!("seeding failed, nothing was loaded: {error}")))?;
    println!("loaded development seeds (database/seeds/development.sql)");
    Ok(())
}
