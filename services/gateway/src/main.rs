//! The gateway binary: everything it does lives in the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    platform::run_service(gateway::SPEC, gateway::build).await
}
