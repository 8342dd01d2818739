//! Running a command-line binary to completion, sealed off from the test's own environment.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::process::Command;

/// Longer than any one-shot command of ours takes, even on a loaded CI machine.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// How one run of a binary ended.
#[derive(Debug)]
pub struct BinaryRun {
    /// The binary's file name, which starts its error line.
    pub program: String,
    /// `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl BinaryRun {
    /// Asserts exit 0 and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        &self.stdout
    }

    /// Asserts exit 1 with exactly one `PROGRAM: error: MESSAGE` line on stderr, the way our
    /// binaries report a fatal error; returns MESSAGE.
    pub fn error(&self) -> &str {
        assert_eq!(self.code, Some(1), "expected failure: {self:#?}");
        assert_eq!(self.stderr.lines().count(), 1, "one line: {self:#?}");
        let prefix = format!("{}: error: ", self.program);
        self.stderr
            .trim_end()
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("stderr lacks {prefix:?}: {self:#?}"))
    }
}

/// Runs `binary ARGS` to completion with only `env` in its environment, from a directory
/// with no `.env` in or above it: our binaries load a `.env`, and neither it nor the test's
/// environment (a developer's DATABASE_URL or APP_ENV) may change what the test sees.
/// Fails the test if the binary runs longer than a minute.
pub async fn run_binary(binary: &str, args: &[&str], env: &[(&str, &str)]) -> BinaryRun {
    let child = Command::new(binary)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir_without_dotenv())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("spawn {binary}: {error}"));
    let output = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{binary} did not exit within {RUN_LIMIT:?}"))
        .expect("collect output");
    BinaryRun {
        program: Path::new(binary)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| binary.to_owned()),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The current build of the workspace binary `name` (its package's name too), for a test of
/// another package. `CARGO_BIN_EXE_*` names only the test's own package's binaries; a
/// workspace test run (`scripts/test`) builds the others beside the test's executable in the
/// same invocation, so that one is current (asking cargo again there would rebuild shared
/// dependencies with that package's own feature set). When it is missing, cargo builds it
/// and says where it is. After changing that package alone, `cargo build -p NAME` first.
pub async fn workspace_binary(name: &str) -> PathBuf {
    let beside_the_test = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join(name)))
        .filter(|path| path.is_file());
    if let Some(path) = beside_the_test {
        return path;
    }
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(workspace)
        .args(["build", "-p", name, "--bin", name])
        .arg("--message-format=json-render-diagnostics");
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command.output().await.expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build -p {name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == name)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo names the {name} executable"))
}

/// The system's temporary directory, checked to have no `.env` in it or above it.
pub(crate) fn dir_without_dotenv() -> PathBuf {
    let dir = std::env::temp_dir();
    assert!(
        dir.ancestors()
            .all(|ancestor| !ancestor.join(".env").exists()),
        "{} or a parent holds a .env file",
        dir.display()
    );
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_binary_sees_only_the_environment_it_is_given() {
        let run = run_binary("/usr/bin/env", &[], &[("ONLY", "this")]).await;
        assert_eq!(run.ok(), "ONLY=this\n");
    }

    #[tokio::test]
    async fn error_returns_the_message_of_the_one_error_line() {
        let script = "echo 'sh: error: no database' >&2; exit 1";
        let run = run_binary("/bin/sh", &["-c", script], &[]).await;
        assert_eq!(run.error(), "no database");
        assert_eq!(run.stdout, "");
    }
}
