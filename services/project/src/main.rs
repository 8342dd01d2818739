//! The project service binary: everything it does lives in the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    project::cli::main().await
}
