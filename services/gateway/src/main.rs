//! The gateway binary: everything it does lives in the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    gateway::run().await
}
