//! Prometheus metrics: one recorder per process, the request counter and latency histogram
//! every service router records, gauges read at scrape time, and `GET /metrics` in the text
//! exposition format. Requests are labelled by route template, never by raw path, so ids
//! cannot multiply the series. The gateway forwards only `/api/...` prefixes, so `/metrics`
//! answers on each service's own port and nowhere else.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{Method, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use metrics::{Gauge, IntoLabels, Key, Label, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Counter: `{service, method, route, status}`.
pub const HTTP_REQUESTS: &str = "http_requests_total";
/// Histogram: `{service, method, route, status}`, from the request's arrival to its
/// response head (a streamed body's transfer is not included).
pub const HTTP_REQUEST_DURATION: &str = "http_request_duration_seconds";
/// Gauge: `{service, state = "in_use" | "idle"}`, read when scraped.
pub const DB_POOL_CONNECTIONS: &str = "db_pool_connections";

/// The `route` label of a request no route matched (404s for unknown paths): one series
/// for every scanner probe rather than one per path it tried.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Upper bounds, in seconds, of every histogram whose name ends in `_seconds`: from a
/// cached answer (1 ms) to well past the default request timeout (10 s).
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Without a scrape, histogram samples accumulate in the recorder until upkeep folds them
/// into buckets; this bounds that memory.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Prometheus text exposition format 0.0.4.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder on the first call and returns its handle. Later calls
/// (a second router in one process, as in tests and benchmarks) get the same handle.
/// Metrics recorded before this runs are lost, so [`router`], [`record_requests`] and
/// [`gauge_fn`] all call it; a service that describes its own metrics calls it first.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        match metrics::set_global_recorder(recorder) {
            Ok(()) => describe(),
            Err(error) => {
                tracing::warn!(%error, "another metrics recorder is installed; /metrics stays empty")
            }
        }
        spawn_upkeep(handle.clone());
        handle
    })
}

fn describe() {
    metrics::describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by service, method, route template and status"
    );
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to its response head, by service, method, route template and status"
    );
    metrics::describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database pool connections by state (in_use, idle), read at scrape time"
    );
}

/// A thread rather than a task: the recorder outlives any one tokio runtime (each test
/// has its own).
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start metrics upkeep; histograms fold only when scraped");
    }
}

/// `GET /metrics`: reads the [`gauge_fn`] gauges, then renders everything recorded in
/// this process.
pub fn router() -> Router {
    install();
    Router::new().route("/metrics", get(render))
}

async fn render() -> Response {
    let handle = install();
    read_gauges();
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], handle.render()).into_response()
}

/// Records every request `router` answers as [`HTTP_REQUESTS`] and
/// [`HTTP_REQUEST_DURATION`], labelled with `service`. Applied around the standard layers,
/// it counts their answers too: 404s, 413s, timeouts and panics.
pub fn record_requests(router: Router, service: &'static str) -> Router {
    install();
    router.layer(middleware::from_fn_with_state(service, record))
}

async fn record(State(service): State<&'static str>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = vec![
        Label::new("service", service),
        Label::new("method", method),
        Label::new("route", route),
        Label::new("status", response.status().as_str().to_owned()),
    ];
    metrics::histogram!(HTTP_REQUEST_DURATION, labels.clone()).record(started.elapsed());
    metrics::counter!(HTTP_REQUESTS, labels).increment(1);
    response
}

/// Made-up methods would each be a series of their own: they share `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

type Reader = Box<dyn Fn() -> f64 + Send + Sync>;

/// Gauges read at scrape time, by series. Keyed so that registering a series again (an app
/// built twice in one process) replaces its reader instead of adding one.
static READ_AT_SCRAPE: LazyLock<Mutex<HashMap<Key, (Gauge, Reader)>>> =
    LazyLock::new(Default::default);

/// Registers the gauge `name{labels}`, set from `read` whenever `/metrics` is scraped: for
/// values another crate owns and reports on demand, such as a pool's connection counts.
/// `read` runs under a lock on every scrape, so it must be quick and must not block.
pub fn gauge_fn(
    name: &'static str,
    labels: impl IntoLabels,
    read: impl Fn() -> f64 + Send + Sync + 'static,
) {
    install();
    let labels = labels.into_labels();
    let key = Key::from_parts(name, labels.clone());
    let gauge = metrics::gauge!(name, labels);
    READ_AT_SCRAPE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, (gauge, Box::new(read)));
}

fn read_gauges() {
    let gauges = READ_AT_SCRAPE
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for (gauge, read) in gauges.values() {
        gauge.set(read());
    }
}

/// What a connection pool reports: connections open (in use or idle), and how many of
/// them are idle. With sqlx: `PoolUsage { open: pool.size(), idle: pool.num_idle() }`.
#[derive(Debug, Clone, Copy)]
pub struct PoolUsage {
    pub open: u32,
    pub idle: usize,
}

/// [`DB_POOL_CONNECTIONS`] for `service`, both states read from `usage` at each scrape.
pub fn pool_gauges(service: &'static str, usage: impl Fn() -> PoolUsage + Send + Sync + 'static) {
    let usage = Arc::new(usage);
    let labels =
        |state: &'static str| vec![Label::new("service", service), Label::new("state", state)];
    let in_use = Arc::clone(&usage);
    gauge_fn(DB_POOL_CONNECTIONS, labels("in_use"), move || {
        let now = in_use();
        (now.open as usize).saturating_sub(now.idle) as f64
    });
    gauge_fn(DB_POOL_CONNECTIONS, labels("idle"), move || {
        usage().idle as f64
    });
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::{body::Body, http::StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::{config::CommonConfig, service::assemble};

    /// A service as `assemble` builds it, with one templated route. Each test names its
    /// own service: the recorder, like in production, is shared by the whole process.
    fn service(name: &'static str) -> Router {
        let routes = Router::new().route("/items/{id}", get(|| async { "item" }));
        assemble(name, routes, Vec::new(), &CommonConfig::default())
    }

    async fn call(router: &Router, method: Method, path: &str) -> Response {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        router.clone().oneshot(request).await.expect("infallible")
    }

    async fn scrape(router: &Router) -> String {
        let response = call(router, Method::GET, "/metrics").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], TEXT_FORMAT);
        let body = response.into_body().collect().await.expect("body");
        String::from_utf8(body.to_bytes().to_vec()).expect("utf-8")
    }

    /// The value of the one series `name{..}` whose labels include every `labels` pair.
    fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = text.lines().filter_map(|line| {
            let (series, value) = line
                .strip_prefix(name)?
                .strip_prefix('{')?
                .rsplit_once("} ")?;
            let series_labels: Vec<&str> = series.split(',').collect();
            labels
                .iter()
                .all(|(key, value)| series_labels.contains(&format!("{key}=\"{value}\"").as_str()))
                .then(|| value.parse().expect("a number"))
        });
        let value = found.next();
        assert!(
            found.next().is_none(),
            "several {name} series match {labels:?}"
        );
        value
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_template_not_path() {
        let router = service("metrics-test-template");
        for id in ["1", "2", "3"] {
            let response = call(&router, Method::GET, &format!("/items/{id}")).await;
            assert_eq!(response.status(), StatusCode::OK);
        }
        let text = scrape(&router).await;
        let labels = [
            ("service", "metrics-test-template"),
            ("method", "GET"),
            ("route", "/items/{id}"),
            ("status", "200"),
        ];
        assert_eq!(sample(&text, HTTP_REQUESTS, &labels), Some(3.0), "{text}");
        assert!(
            !text.contains("/items/1"),
            "a raw path became a label: {text}"
        );
    }

    #[tokio::test]
    async fn unknown_paths_and_methods_share_one_series_each() {
        let router = service("metrics-test-unmatched");
        for path in ["/nope", "/wp-admin", "/items"] {
            let response = call(&router, Method::GET, path).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
        }
        let made_up = Method::from_bytes(b"BREW").expect("method");
        call(&router, made_up, "/items/1").await;
        let text = scrape(&router).await;
        let unmatched = [
            ("service", "metrics-test-unmatched"),
            ("route", UNMATCHED_ROUTE),
            ("status", "404"),
        ];
        assert_eq!(
            sample(&text, HTTP_REQUESTS, &unmatched),
            Some(3.0),
            "{text}"
        );
        let other = [("service", "metrics-test-unmatched"), ("method", "other")];
        assert_eq!(sample(&text, HTTP_REQUESTS, &other), Some(1.0), "{text}");
        assert!(
            !text.contains("BREW") && !text.contains("wp-admin"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn metrics_serves_the_latency_histogram_in_text_format() {
        let router = service("metrics-test-histogram");
        call(&router, Method::GET, "/items/7").await;
        let text = scrape(&router).await;
        assert!(
            text.contains("# TYPE http_request_duration_seconds histogram"),
            "{text}"
        );
        let series = [
            ("service", "metrics-test-histogram"),
            ("route", "/items/{id}"),
        ];
        let bucket = |le: &'static str| {
            let mut labels = series.to_vec();
            labels.push(("le", le));
            sample(&text, "http_request_duration_seconds_bucket", &labels)
        };
        assert_eq!(bucket("10"), Some(1.0), "{text}");
        assert_eq!(bucket("+Inf"), Some(1.0), "{text}");
        assert!(bucket("0.001").is_some(), "1 ms bucket: {text}");
        assert_eq!(
            sample(&text, "http_request_duration_seconds_count", &series),
            Some(1.0)
        );
    }

    #[tokio::test]
    async fn two_services_in_one_process_share_the_recorder() {
        let first = service("metrics-test-first");
        let second = service("metrics-test-second");
        call(&first, Method::GET, "/items/1").await;
        call(&second, Method::GET, "/items/1").await;
        let text = scrape(&second).await;
        for name in ["metrics-test-first", "metrics-test-second"] {
            let labels = [("service", name), ("route", "/items/{id}")];
            assert_eq!(
                sample(&text, HTTP_REQUESTS, &labels),
                Some(1.0),
                "{name}: {text}"
            );
        }
    }

    #[tokio::test]
    async fn pool_gauges_are_read_at_each_scrape() {
        let open = Arc::new(AtomicU32::new(5));
        let reported = Arc::clone(&open);
        pool_gauges("metrics-test-pool", move || PoolUsage {
            open: reported.load(Ordering::SeqCst),
            idle: 2,
        });
        let router = service("metrics-test-pool");
        let in_use = [("service", "metrics-test-pool"), ("state", "in_use")];
        let idle = [("service", "metrics-test-pool"), ("state", "idle")];
        let text = scrape(&router).await;
        assert_eq!(
            sample(&text, DB_POOL_CONNECTIONS, &in_use),
            Some(3.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, DB_POOL_CONNECTIONS, &idle),
            Some(2.0),
            "{text}"
        );
        open.store(9, Ordering::SeqCst);
        let text = scrape(&router).await;
        assert_eq!(
            sample(&text, DB_POOL_CONNECTIONS, &in_use),
            Some(7.0),
            "{text}"
        );
    }
}
