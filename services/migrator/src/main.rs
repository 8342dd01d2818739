//! `migrator`: the only program that changes the database schema.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    migrator::run(migrator::Cli::parse()).await
}
