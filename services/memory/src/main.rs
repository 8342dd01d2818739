//! The memory service binary: everything it does lives in the library.

// The allocator every DevMentor process runs on (see the workspace Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    memory::cli::main().await
}
