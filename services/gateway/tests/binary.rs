//! The real `gateway` binary: starts without a database, answers health, stops on SIGTERM.

use std::{process::Stdio, time::Duration};

use tokio::process::{Child, Command};

/// Starts the binary with every service pointing at a closed port, and its metrics on a
/// free port of their own (read it back with [`metrics_addr`]).
fn spawn_gateway(port: u16, extra_env: &[(&str, &str)]) -> Child {
    let nowhere = format!("http://127.0.0.1:{}", testkit::free_port());
    let metrics = metrics_addr(port);
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
        .env("GATEWAY_METRICS_ADDR", &metrics)
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the gateway binary")
}

/// Where the gateway on `port` serves its metrics in these tests: the next port up, which
/// the test claims together with `port`.
fn metrics_addr(port: u16) -> String {
    format!("127.0.0.1:{}", port + 1)
}

/// A port whose successor is free too, for the gateway and its metrics.
fn free_port_pair() -> u16 {
    loop {
        let port = testkit::free_port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

#[tokio::test]
async fn serves_health_without_a_database_and_stops_on_sigterm() {
    let port = free_port_pair();
    let mut child = spawn_gateway(port, &[]);
    let base = format!("http://127.0.0.1:{port}");

    let live = testkit::wait_until_ok(&format!("{base}/health/live"), &mut child).await;
    assert_eq!(live["service"], "gateway");
    let client = testkit::http_client();
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
    testkit::stop_gracefully(child).await;
}

/// Runs `gateway healthcheck ARGS` against the gateway listening on `port`.
async fn healthcheck(port: u16, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gateway"))
        .current_dir(std::env::temp_dir())
        .arg("healthcheck")
        .args(args)
        .env("GATEWAY_HOST", "0.0.0.0")
        .env("GATEWAY_PORT", port.to_string())
        .output()
        .await
        .expect("run gateway healthcheck")
}

#[tokio::test]
async fn healthcheck_subcommand_reports_the_running_gateway() {
    let port = free_port_pair();
    let mut child = spawn_gateway(port, &[]);
    testkit::wait_until_ok(&format!("http://127.0.0.1:{port}/health/live"), &mut child).await;

    let live = healthcheck(port, &["--live"]).await;
    assert!(
        live.status.success(),
        "live gateway passes: {}",
        String::from_utf8_lossy(&live.stderr)
    );
    assert!(live.stderr.is_empty());

    // No upstream service runs, so the gateway is alive but not ready.
    let ready = healthcheck(port, &[]).await;
    assert_eq!(ready.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&ready.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "gateway healthcheck: http://127.0.0.1:{port}/health/ready answered 503"
        )),
        "{stderr}"
    );

    child.kill().await.expect("stop the gateway");
    let gone = healthcheck(port, &["--live"]).await;
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("no answer"),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
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

/// Upstream outcomes are counted on the metrics port, which is not the public one.
#[tokio::test]
async fn metrics_are_served_on_their_own_port_only() {
    let port = free_port_pair();
    let mut child = spawn_gateway(port, &[]);
    let base = format!("http://127.0.0.1:{port}");
    testkit::wait_until_ok(&format!("{base}/health/live"), &mut child).await;
    let client = testkit::http_client();

    let forwarded = client
        .get(format!("{base}/api/projects"))
        .send()
        .await
        .expect("answers");
    assert_eq!(
        forwarded.status(),
        502,
        "the project service is not running"
    );
    let public = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("answers");
    assert_eq!(public.status(), 404);

    let scrape = client
        .get(format!("http://{}/metrics", metrics_addr(port)))
        .send()
        .await
        .expect("the metrics port answers")
        .text()
        .await
        .expect("text");
    let failed = [("upstream", "project"), ("outcome", "upstream_unavailable")];
    let count = testkit::metrics::sample(&scrape, "gateway_upstream_requests_total", &failed);
    assert_eq!(count, 1.0, "{scrape}");
    let answered = [
        ("service", "gateway"),
        ("route", "/api/projects"),
        ("status", "502"),
    ];
    assert_eq!(
        testkit::metrics::sample(&scrape, "http_requests_total", &answered),
        1.0
    );
    testkit::stop_gracefully(child).await;
}
