//! Service binaries running in the background for a test: started against a test database,
//! polled until they answer, stopped the way an orchestrator stops them.

use std::{
    process::{ExitStatus, Stdio},
    time::{Duration, Instant},
};

use sqlx::PgPool;
use tokio::process::{Child, Command};

use crate::{catalog, database_url, free_port, loopback::http_client};

/// How long a service may take to start, stop or fail, even on a loaded CI machine.
const PROCESS_LIMIT: Duration = Duration::from_secs(60);

/// A service binary started against a test database.
pub struct ServiceProcess {
    pub child: Child,
    pub base_url: String,
}

/// Starts `binary` with `DATABASE_URL` pointing at `pool`'s database and a fresh port, from
/// a directory with no `.env` in or above it, and with none of the test's own environment
/// but `PATH`: `scripts/dev` leaves a `.env` in the checkout, `#[sqlx::test]` loads it into
/// the test process, and its settings (a relative `JWT_PUBLIC_KEYS_FILE`, say) must not
/// reach a test's service.
pub fn spawn_service(
    binary: &str,
    env_prefix: &str,
    pool: &PgPool,
    extra_env: &[(&str, &str)],
) -> ServiceProcess {
    let port = free_port();
    let child = Command::new(binary)
        .env_clear()
        .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
        .current_dir(crate::binary::dir_without_dotenv())
        // Never production (which would demand SMTP and real keys): tests bring their own
        // keys (`SigningKeyFile`); the committed development key is refused here too.
        .env("APP_ENV", "test")
        .envs(extra_env.iter().copied())
        .env("DATABASE_URL", database_url(pool))
        .env(format!("{env_prefix}HOST"), "127.0.0.1")
        .env(format!("{env_prefix}PORT"), port.to_string())
        .env("DB_POOL_SIZE", "2")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn service binary");
    ServiceProcess {
        child,
        base_url: format!("http://127.0.0.1:{port}"),
    }
}

/// Waits for a child to exit, failing the test after `limit`. Returns status and stderr.
pub async fn wait_for_exit(child: Child, limit: Duration) -> (ExitStatus, String) {
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .expect("process exits in time")
        .expect("collect output");
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Polls `url` until it answers 2xx and returns its JSON body; fails fast, with the child's
/// stderr, if the child exits first, and after a minute if it never answers.
pub async fn wait_until_ok(url: &str, child: &mut Child) -> serde_json::Value {
    let client = http_client();
    let deadline = Instant::now() + PROCESS_LIMIT;
    loop {
        let last = match client.get(url).send().await {
            Ok(response) if response.status().is_success() => {
                return response.json().await.expect("json body");
            }
            Ok(response) => format!(
                "{}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            ),
            Err(error) => error.to_string(),
        };
        if let Some(status) = child.try_wait().expect("child status") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                use tokio::io::AsyncReadExt;
                let _ = pipe.read_to_string(&mut stderr).await;
            }
            panic!("exited with {status} before {url} answered: {stderr}");
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer in {PROCESS_LIMIT:?}; last: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends SIGTERM, as an orchestrator does, and asserts a graceful exit 0.
pub async fn stop_gracefully(child: Child) {
    let pid = child.id().expect("child is running") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("send SIGTERM");
    let (status, stderr) = wait_for_exit(child, PROCESS_LIMIT).await;
    assert!(
        status.success(),
        "graceful stop exits 0, got {status}: {stderr}"
    );
}

/// A service must exit non-zero with one clear line on an empty database, creating nothing.
pub async fn assert_refuses_unmigrated_database(
    binary: &str,
    env_prefix: &str,
    pool: &PgPool,
    extra_env: &[(&str, &str)],
) {
    let service = spawn_service(binary, env_prefix, pool, extra_env);
    let (status, stderr) = wait_for_exit(service.child, Duration::from_secs(30)).await;
    assert!(!status.success(), "must exit non-zero, stderr: {stderr}");
    let expected = "schema is at version 0, this build needs";
    assert!(
        stderr.contains(expected),
        "stderr lacks {expected:?}: {stderr}"
    );
    assert!(
        stderr.trim_end().ends_with("run the migrator"),
        "stderr: {stderr}"
    );
    let mut conn = pool.acquire().await.expect("connection");
    assert_eq!(
        catalog::user_relations(&mut conn).await,
        Vec::<String>::new(),
        "a service must never create tables"
    );
}

/// A service on a migrated database answers health checks and exits 0 on SIGTERM.
pub async fn assert_serves_health_and_stops(
    binary: &str,
    env_prefix: &str,
    pool: &PgPool,
    extra_env: &[(&str, &str)],
) {
    let mut service = spawn_service(binary, env_prefix, pool, extra_env);
    let client = http_client();
    let ready_url = format!("{}/health/ready", service.base_url);
    let ready = wait_until_ok(&ready_url, &mut service.child).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["checks"][0]["name"], "postgres", "{ready}");
    let live = client
        .get(format!("{}/health/live", service.base_url))
        .send()
        .await
        .expect("live answers");
    assert_eq!(live.status(), 200);
    let missing = client
        .get(format!("{}/no-such-endpoint", service.base_url))
        .send()
        .await
        .expect("server answers");
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.expect("json 404");
    assert_eq!(body["error"]["code"], "not_found");
    stop_gracefully(service.child).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test]
    async fn a_service_starts_where_no_dotenv_can_reach_it(pool: PgPool) {
        let service = spawn_service("/bin/pwd", "UNUSED_", &pool, &[]);
        let output = service.child.wait_with_output().await.expect("pwd runs");
        let dir = String::from_utf8(output.stdout).expect("utf-8");
        let dir = std::path::Path::new(dir.trim());
        assert!(
            dir.ancestors()
                .all(|ancestor| !ancestor.join(".env").exists()),
            "{} or a parent holds a .env file",
            dir.display()
        );
        let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let checkout = crate_dir.ancestors().nth(2).expect("the workspace root");
        assert!(!dir.starts_with(checkout), "{}", dir.display());
    }

    /// What the test process holds (cargo's variables here; a `.env` that `#[sqlx::test]`
    /// loaded, on a developer's machine) does not reach the service.
    #[sqlx::test]
    async fn a_service_sees_only_the_environment_it_is_given(pool: PgPool) {
        assert!(
            std::env::var_os("CARGO_PKG_NAME").is_some(),
            "cargo sets it"
        );
        let service = spawn_service("/usr/bin/env", "SERVICE_", &pool, &[("GIVEN", "yes")]);
        let output = service.child.wait_with_output().await.expect("env runs");
        let env = String::from_utf8(output.stdout).expect("utf-8");
        let names: Vec<&str> = env
            .lines()
            .filter_map(|line| line.split('=').next())
            .collect();
        assert!(
            names.contains(&"GIVEN") && names.contains(&"APP_ENV"),
            "{env}"
        );
        assert!(!names.contains(&"CARGO_PKG_NAME"), "inherited: {env}");
    }
}
