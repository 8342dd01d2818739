//! The command line, as `migrator --help` shows it.

use clap::{Parser, Subcommand};

/// Applies, reverts and checks the DevMentor database migrations (database/migrations).
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// PostgreSQL URL; overrides DATABASE_URL from the environment or .env.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Create the target database first if it does not exist.
    #[arg(long, global = true)]
    pub create_db: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations (all, or up to --to).
    Up {
        /// Stop after this version.
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// Print the SQL that would run; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Revert the newest migration, or every migration newer than --to.
    Down {
        /// Revert down to this version (0 reverts everything).
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// Print the SQL that would run; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Revert the newest migration and apply it again.
    Redo {
        /// Print the SQL that would run; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show each migration: applied, pending, modified, missing or unknown.
    Status,
    /// Exit non-zero if the database's history differs from this build's migrations.
    Verify,
    /// Revert everything and apply everything again. Development only: destroys all data.
    Reset {
        /// Load the development seeds afterwards.
        #[arg(long)]
        seed: bool,
    },
    /// Load the development seed data (database/seeds). Development only.
    Seed,
    /// Import data left by the old Node services.
    Legacy {
        #[command(subcommand)]
        command: LegacyCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum LegacyCommand {
    /// Copy the old auth service's public.users into auth.users, in one transaction; reruns
    /// skip rows already imported. Prints every row skipped or changed.
    ImportUsers {
        /// Print the report, then roll back: change nothing.
        #[arg(long)]
        dry_run: bool,
        /// The time zone public.users.created_at (a TIMESTAMP without zone) was written in.
        #[arg(long, value_name = "TZ", default_value = "UTC")]
        time_zone: String,
    },
}
