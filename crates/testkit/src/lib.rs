//! Test helpers shared by the workspace's integration tests. Never a dependency of a binary.
//! Services run in the background ([`spawn_service`]); one-shot commands run to completion
//! ([`run_binary`]).
//!
//! Panicking is how these helpers fail a test, so they `expect` freely.

use std::{
    net::TcpListener,
    process::{ExitStatus, Stdio},
    time::{Duration, Instant},
};

use sqlx::{PgConnection, PgPool};
use tokio::process::{Child, Command};

mod answers;
mod binary;
pub mod catalog;
mod keys;
mod logs;
mod sessions;

pub use answers::assert_invalid_text;
pub use binary::{BinaryRun, run_binary};
pub use keys::SigningKeyFile;
pub use logs::CapturedLogs;
pub use sessions::open_session;

/// The URL of the database behind a `#[sqlx::test]` pool, so a child process can use it.
pub fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL must be set for tests");
    let name = pool
        .connect_options()
        .get_database()
        .expect("test pools name their database")
        .to_owned();
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// A service binary started against a test database.
pub struct ServiceProcess {
    pub child: Child,
    pub base_url: String,
}

/// Starts `binary` with `DATABASE_URL` pointing at `pool`'s database and a fresh port.
pub fn spawn_service(
    binary: &str,
    env_prefix: &str,
    pool: &PgPool,
    extra_env: &[(&str, &str)],
) -> ServiceProcess {
    let port = free_port();
    let child = Command::new(binary)
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
    let client = reqwest::Client::new();
    let ready_url = format!("{}/health/ready", service.base_url);
    let ready = poll_until_ok(&client, &ready_url, &mut service.child).await;
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

    let pid = service.child.id().expect("child is running") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("send SIGTERM");
    let (status, stderr) = wait_for_exit(service.child, Duration::from_secs(30)).await;
    assert!(
        status.success(),
        "graceful stop exits 0, got {status}: {stderr}"
    );
}

/// Polls `url` until it answers 2xx; fails fast, with the child's stderr, if the child exits.
async fn poll_until_ok(
    client: &reqwest::Client,
    url: &str,
    child: &mut Child,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
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
            panic!("service exited with {status} before {url} was ready: {stderr}");
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not become ready in 60 s; last: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens a fresh connection to the same database as `pool` (for locks and sessions).
pub async fn connect(pool: &PgPool) -> PgConnection {
    use sqlx::Connection;
    PgConnection::connect(&database_url(pool))
        .await
        .expect("connect")
}
