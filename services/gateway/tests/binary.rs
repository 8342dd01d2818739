//! The real `gateway` binary: starts without a database, answers health, stops on SIGTERM.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::process::{Child, Command};

/// Starts the binary with every service pointing at a closed port.
fn spawn_gateway(port: u16, extra_env: &[(&str, &str)]) -> Child {
    let nowhere = format!("http://127.0.0.1:{}", testkit::free_port());
    Command::new(env!("CARGO_BIN_EXE_gateway"))
        // No `.env` in a temporary directory, and no database: the gateway needs none.
        .current_dir(std::env::temp_dir())
        .env_remove("DATABASE_URL")
        .env("APP_ENV", "test")
        .env("RUST_LOG", "warn")
        .env("GATEWAY_HOST", "127.0.0.1")
        .env("GATEWAY_PORT", port.to_string())
        .env("AUTH_SERVICE_URL", &nowhere)
        .env("PROJECT_SERVICE_URL", &nowhere)
        .env("MEMORY_SERVICE_URL", &nowhere)
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the gateway binary")
}

/// Polls `url` until it answers 200; fails with the child's stderr if the child exits.
async fn wait_until_live(client: &reqwest::Client, url: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status() == 200
        {
            return;
        }
        if let Some(status) = child.try_wait().expect("child status") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                use tokio::io::AsyncReadExt;
                let _ = pipe.read_to_string(&mut stderr).await;
            }
            panic!("gateway exited with {status} before {url} answered: {stderr}");
        }
        assert!(Instant::now() < deadline, "{url} did not answer in 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn serves_health_without_a_database_and_stops_on_sigterm() {
    let port = testkit::free_port();
    let mut child = spawn_gateway(port, &[]);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");

    wait_until_live(&client, &format!("{base}/health/live"), &mut child).await;
    let live: serde_json::Value = client
        .get(format!("{base}/health/live"))
        .send()
        .await
        .expect("live")
        .json()
        .await
        .expect("json");
    assert_eq!(live["service"], "gateway");
    let ready = client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .expect("ready answers");
    assert_eq!(ready.status(), 503, "no service is running");
    let missing = client
        .get(format!("{base}/no-such-endpoint"))
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), 404);

    let pid = child.id().expect("child is running") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("send SIGTERM");
    let (status, stderr) = testkit::wait_for_exit(child, Duration::from_secs(30)).await;
    assert!(
        status.success(),
        "graceful stop exits 0, got {status}: {stderr}"
    );
}

#[tokio::test]
async fn refuses_to_start_with_a_wildcard_cors_origin() {
    let child = spawn_gateway(testkit::free_port(), &[("CORS_ALLOWED_ORIGINS", "*")]);
    let (status, stderr) = testkit::wait_for_exit(child, Duration::from_secs(30)).await;
    assert!(!status.success());
    assert_eq!(
        stderr.trim_end(),
        "gateway: error: invalid configuration: CORS_ALLOWED_ORIGINS cannot be `*`: \
         credentials are allowed"
    );
}

#[tokio::test]
async fn refuses_to_start_with_the_retired_trust_flag() {
    let child = spawn_gateway(
        testkit::free_port(),
        &[("GATEWAY_TRUST_FORWARDED_HEADERS", "true")],
    );
    let (status, stderr) = testkit::wait_for_exit(child, Duration::from_secs(30)).await;
    assert!(!status.success());
    assert!(
        stderr.contains("list the proxies in front of the gateway in GATEWAY_TRUSTED_PROXIES"),
        "{stderr}"
    );
}
