//! `<binary> healthcheck [--live]`: the service binary asks the copy of itself running beside
//! it whether it is ready (or, with `--live`, alive), so a container health check needs no
//! curl in the image. It reads the same `<PREFIX>HOST` / `<PREFIX>PORT` the service binds.

use std::{ffi::OsString, net::IpAddr, process::ExitCode, time::Duration};

use serde::Deserialize;

use crate::config::{self, ListenConfig, ServiceSpec};

/// The first argument that turns a service binary into its own health check.
pub const SUBCOMMAND: &str = "healthcheck";

/// Longer than `/health/ready`'s own 3 s per-dependency timeout, so a slow dependency is
/// named by the service's answer instead of ending here as a bare timeout.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The longest failure detail printed: the line must stay readable in `docker ps` output.
const MAX_DETAIL_CHARS: usize = 300;

/// Which health endpoint to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/health/ready`: the service and everything it needs answer (the default).
    Ready,
    /// `/health/live`: the process answers HTTP at all.
    Live,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Ready => "/health/ready",
            Endpoint::Live => "/health/live",
        }
    }

    /// From the arguments after `healthcheck`: nothing, or `--live`.
    pub fn from_args<I, S>(args: I) -> Result<Self, HealthcheckError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut endpoint = Endpoint::Ready;
        for arg in args {
            match arg.as_ref() {
                "--live" => endpoint = Endpoint::Live,
                other => return Err(HealthcheckError::Usage(other.to_owned())),
            }
        }
        Ok(endpoint)
    }
}

/// Why the service is not healthy, as the one line printed on stderr.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("unexpected argument `{0}`; usage: healthcheck [--live]")]
    Usage(String),
    #[error("{0}")]
    Config(String),
    #[error("{url}: no answer: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered {status}{detail}")]
    Unhealthy {
        url: String,
        status: reqwest::StatusCode,
        detail: String,
    },
}

/// `run_service`'s branch for `<binary> healthcheck ...`: `args` are those after the
/// subcommand. A binary with its own command line calls [`run`] instead.
pub(crate) async fn run_from_args(
    spec: ServiceSpec,
    args: impl Iterator<Item = OsString>,
) -> ExitCode {
    let args: Vec<String> = args.map(|arg| arg.to_string_lossy().into_owned()).collect();
    match Endpoint::from_args(args) {
        Ok(endpoint) => run(spec, endpoint).await,
        Err(error) => report(spec, Err(error)),
    }
}

/// Asks the service described by `spec`, listening where its settings say, and returns the
/// process exit code: 0 when it answered 2xx, 1 (after one line on stderr) otherwise.
pub async fn run(spec: ServiceSpec, endpoint: Endpoint) -> ExitCode {
    config::load_dotenv();
    let outcome = match config::from_env_prefixed::<ListenConfig>(spec.env_prefix) {
        Ok(listen) => check(&url(&listen, spec.default_port, endpoint), TIMEOUT).await,
        Err(error) => Err(HealthcheckError::Config(error.to_string())),
    };
    report(spec, outcome)
}

fn report(spec: ServiceSpec, outcome: Result<(), HealthcheckError>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{} {SUBCOMMAND}: {error}", spec.name);
            ExitCode::FAILURE
        }
    }
}

/// The URL the check asks: the service's port on loopback when it listens on every
/// interface (`0.0.0.0`, `::`), else on the address it listens on.
pub fn url(listen: &ListenConfig, default_port: u16, endpoint: Endpoint) -> String {
    let port = listen.port.unwrap_or(default_port);
    let host = listen.host.trim_start_matches('[').trim_end_matches(']');
    let host = match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        Ok(ip) if ip.is_unspecified() => "[::1]".to_owned(),
        Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
        Ok(IpAddr::V4(ip)) => ip.to_string(),
        Err(_) => host.to_owned(),
    };
    format!("http://{host}:{port}{}", endpoint.path())
}

/// GETs `url`, giving up after `timeout`: `Ok` for a 2xx answer.
pub async fn check(url: &str, timeout: Duration) -> Result<(), HealthcheckError> {
    let unreachable = |reason: String| HealthcheckError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    // No proxy: HTTP_PROXY in a container's environment must not reroute a loopback call.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .map_err(|error| unreachable(innermost_cause(&error)))?;
    let response = client.get(url).send().await.map_err(|error| {
        if error.is_timeout() {
            unreachable(format!("none within {timeout:?}"))
        } else {
            unreachable(innermost_cause(&error))
        }
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(HealthcheckError::Unhealthy {
        url: url.to_owned(),
        status,
        detail: failed_checks(&body),
    })
}

/// reqwest's own message repeats the URL; the last cause says what went wrong
/// ("Connection refused (os error 111)").
fn innermost_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// The readiness body's failed checks, as `: database: connection refused; ...`, or nothing
/// when the body is not the health endpoint's JSON.
fn failed_checks(body: &str) -> String {
    #[derive(Deserialize)]
    struct Ready {
        checks: Vec<Check>,
    }
    #[derive(Deserialize)]
    struct Check {
        name: String,
        ok: bool,
        detail: String,
    }
    let Ok(ready) = serde_json::from_str::<Ready>(body) else {
        return String::new();
    };
    let failed: Vec<String> = ready
        .checks
        .iter()
        .filter(|check| !check.ok)
        .map(|check| format!("{}: {}", check.name, check.detail))
        .collect();
    if failed.is_empty() {
        return String::new();
    }
    let line = failed.join("; ").replace(['\n', '\r'], " ");
    let mut detail: String = line.chars().take(MAX_DETAIL_CHARS).collect();
    if detail.len() < line.len() {
        detail.push('…');
    }
    format!(": {detail}")
}

#[cfg(test)]
mod tests {
    use axum::{Router, http::StatusCode, routing::get};
    use tokio::net::TcpListener;

    use super::*;
    use crate::health::{self, CheckProbe};

    /// Serves `router` on a free loopback port until the test ends; returns its base URL.
    async fn serve(router: Router) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}")
    }

    fn listen(host: &str, port: Option<u16>) -> ListenConfig {
        ListenConfig {
            host: host.to_owned(),
            port,
        }
    }

    #[tokio::test]
    async fn a_ready_service_passes() {
        let probes = vec![CheckProbe::boxed("database", || async {
            Ok("version 7".to_owned())
        })];
        let base = serve(health::router("auth", probes)).await;

        check(&format!("{base}/health/ready"), TIMEOUT)
            .await
            .expect("ready");
    }

    #[tokio::test]
    async fn an_unready_service_fails_naming_the_failed_dependency() {
        let probes = vec![
            CheckProbe::boxed("database", || async { Ok("version 7".to_owned()) }),
            CheckProbe::boxed("redis", || async { Err("connection refused".to_owned()) }),
        ];
        let base = serve(health::router("auth", probes)).await;
        let url = format!("{base}/health/ready");

        let error = check(&url, TIMEOUT).await.expect_err("not ready");

        assert!(
            matches!(error, HealthcheckError::Unhealthy { .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("{url} answered 503 Service Unavailable: redis: connection refused")
        );
    }

    #[tokio::test]
    async fn a_non_json_error_answer_fails_with_its_status() {
        let base = serve(Router::new().route(
            "/health/live",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        ))
        .await;
        let url = format!("{base}/health/live");

        let error = check(&url, TIMEOUT).await.expect_err("500");

        assert_eq!(
            error.to_string(),
            format!("{url} answered 500 Internal Server Error")
        );
    }

    #[tokio::test]
    async fn nothing_listening_fails_as_unreachable() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        drop(listener);
        let url = format!("http://{address}/health/ready");

        let error = check(&url, TIMEOUT).await.expect_err("nothing there");

        let HealthcheckError::Unreachable { reason, .. } = &error else {
            panic!("expected unreachable, got {error:?}");
        };
        assert!(reason.contains("refused"), "{reason}");
        assert!(!error.to_string().contains('\n'), "one line: {error}");
    }

    #[tokio::test]
    async fn a_service_that_never_answers_fails_after_the_timeout() {
        // Accepts connections (the kernel's backlog) but never reads or answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/health/ready",
            listener.local_addr().expect("address")
        );
        let started = std::time::Instant::now();

        let error = check(&url, Duration::from_millis(300))
            .await
            .expect_err("no answer");

        assert!(
            started.elapsed() < Duration::from_secs(3),
            "gave up in time"
        );
        assert_eq!(
            error.to_string(),
            format!("{url}: no answer: none within 300ms")
        );
        drop(listener);
    }

    #[test]
    fn asks_loopback_when_the_service_listens_everywhere() {
        assert_eq!(
            url(&listen("0.0.0.0", Some(3002)), 1, Endpoint::Ready),
            "http://127.0.0.1:3002/health/ready"
        );
        assert_eq!(
            url(&listen("[::]", None), 3005, Endpoint::Live),
            "http://[::1]:3005/health/live"
        );
    }

    #[test]
    fn asks_the_listen_address_when_it_is_a_specific_one() {
        assert_eq!(
            url(&listen("127.0.0.1", None), 3003, Endpoint::Ready),
            "http://127.0.0.1:3003/health/ready"
        );
        assert_eq!(
            url(&listen("::1", Some(4000)), 1, Endpoint::Ready),
            "http://[::1]:4000/health/ready"
        );
        assert_eq!(
            url(&listen("localhost", Some(3000)), 1, Endpoint::Live),
            "http://localhost:3000/health/live"
        );
    }

    #[test]
    fn arguments_choose_the_endpoint_and_refuse_anything_else() {
        assert_eq!(
            Endpoint::from_args(Vec::<String>::new()).unwrap(),
            Endpoint::Ready
        );
        assert_eq!(Endpoint::from_args(["--live"]).unwrap(), Endpoint::Live);
        let error = Endpoint::from_args(["--verbose"]).expect_err("unknown flag");
        assert_eq!(
            error.to_string(),
            "unexpected argument `--verbose`; usage: healthcheck [--live]"
        );
    }

    #[test]
    fn long_failure_details_are_cut_to_one_short_line() {
        let body = serde_json::json!({
            "status": "not_ready",
            "checks": [{ "name": "qdrant", "ok": false, "detail": "x\n".repeat(400) }],
        })
        .to_string();

        let detail = failed_checks(&body);

        assert!(!detail.contains('\n'));
        assert!(detail.ends_with('…'), "{detail}");
        assert!(detail.chars().count() < MAX_DETAIL_CHARS + 10, "{detail}");
    }
}
