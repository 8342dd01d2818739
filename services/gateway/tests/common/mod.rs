//! Real HTTP servers on ephemeral ports: small axum upstreams standing in for the services,
//! and the gateway's router pointed at them.

#![allow(dead_code, unused_imports)] // each test binary uses a different subset

mod calls;

pub use calls::{
    get_json, json_answer, raw_get, raw_json_body, raw_request, raw_status, status_and_json,
};

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::StreamExt;
use gateway::config::Settings;
use platform::config::CommonConfig;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use testkit::http_client;
use tokio::{net::TcpListener, sync::Notify};
use url::Url;

/// What a stand-in service remembers, so tests can see what reached it.
pub struct Upstream {
    pub name: &'static str,
    pub url: Url,
    /// Requests that reached the service, `/openapi.json` excluded.
    pub requests: AtomicUsize,
    pub openapi_fetches: AtomicUsize,
    pub ready_checks: AtomicUsize,
    /// `?wait=1` responses send their first chunk, then wait for this.
    pub release: Notify,
    pub spec: Option<Value>,
    pub ready: bool,
}

impl Upstream {
    /// Every request that reached the service, whatever its path.
    pub fn all_requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
            + self.openapi_fetches.load(Ordering::SeqCst)
            + self.ready_checks.load(Ordering::SeqCst)
    }
}

/// Starts a stand-in service that echoes every request as JSON (see [`echo`]).
pub async fn upstream(name: &'static str, spec: Option<Value>, ready: bool) -> Arc<Upstream> {
    // The router needs the state and the state its URL: bind first, then serve.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let state = Arc::new(Upstream {
        name,
        url: Url::parse(&format!("http://{address}")).expect("url"),
        requests: AtomicUsize::new(0),
        openapi_fetches: AtomicUsize::new(0),
        ready_checks: AtomicUsize::new(0),
        release: Notify::new(),
        spec,
        ready,
    });
    let router = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/health/ready", get(ready_check))
        .fallback(echo)
        .with_state(state.clone());
    tokio::spawn(async move {
        axum::serve(listener, router)
            .await
            .expect("upstream serves")
    });
    state
}

/// An address nothing listens on: the port was free a moment ago and is closed again.
pub fn dead_url() -> Url {
    Url::parse(&format!("http://127.0.0.1:{}", testkit::free_port())).expect("url")
}

async fn openapi(State(state): State<Arc<Upstream>>) -> Response {
    state.openapi_fetches.fetch_add(1, Ordering::SeqCst);
    match &state.spec {
        Some(spec) => Json(spec.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn ready_check(State(state): State<Arc<Upstream>>) -> Response {
    state.ready_checks.fetch_add(1, Ordering::SeqCst);
    if state.ready {
        Json(json!({"status": "ready", "checks": [{"name": "postgres", "ok": true}]}))
            .into_response()
    } else {
        let report = json!({"status": "not_ready", "checks": [{"name": "postgres", "ok": false}]});
        (StatusCode::SERVICE_UNAVAILABLE, Json(report)).into_response()
    }
}

/// Behaviour chosen by query parameters:
/// - default: 200 with `{service, method, path, query, headers, body_len, body_sha256}`;
/// - `status=N`: status N with a JSON error body and an `x-upstream-header`;
/// - `download=N`: N bytes of [`pattern`], streamed in chunks of unknown total length;
/// - `hop=1`: the echo plus hop-by-hop response headers;
/// - `wait=1`: a first chunk, then the rest once the test calls `release.notify_one()`;
/// - `hang=1`: never answers;
/// - `delay=MS`: as the default, once the body is read and then MS milliseconds passed.
async fn echo(State(state): State<Arc<Upstream>>, request: Request) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let query = request.uri().query().unwrap_or("").to_owned();
    let param = |key: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
    };
    if param("hang").is_some() {
        std::future::pending::<()>().await;
    }
    if let Some(status) = param("status") {
        let status = StatusCode::from_u16(status.parse().expect("number")).expect("status");
        let body = json!({"error": {"code": "upstream_says_no", "message": "from upstream"}});
        return (status, [("x-upstream-header", "kept")], Json(body)).into_response();
    }
    if let Some(length) = param("download") {
        let length: usize = length.parse().expect("number");
        return Response::new(Body::from_stream(pattern_stream(length)));
    }
    if param("wait").is_some() {
        let state = state.clone();
        let chunks =
            futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from("first;")) }).chain(
                futures::stream::once(async move {
                    state.release.notified().await;
                    Ok(Bytes::from("second"))
                }),
            );
        return Response::new(Body::from_stream(chunks));
    }

    let delay = param("delay").map(|ms| Duration::from_millis(ms.parse().expect("number")));
    let (parts, body) = request.into_parts();
    let mut hasher = Sha256::new();
    let mut body_len = 0usize;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("request body chunk");
        body_len += chunk.len();
        hasher.update(&chunk);
    }
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let report = json!({
        "service": state.name,
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers_as_json(&parts.headers),
        "body_len": body_len,
        "body_sha256": hex(&hasher.finalize()),
    });
    let mut response = Json(report).into_response();
    if param("hop").is_some() {
        let headers = response.headers_mut();
        headers.insert("keep-alive", "timeout=5".parse().unwrap());
        headers.insert("proxy-authenticate", "Basic".parse().unwrap());
        headers.insert("x-end-to-end", "kept".parse().unwrap());
        headers.insert("trailer", "x-checksum".parse().unwrap());
    }
    response
}

fn headers_as_json(headers: &HeaderMap) -> Value {
    let mut map = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<Value> = headers
            .get_all(name)
            .iter()
            .map(|value| Value::from(value.to_str().unwrap_or("<binary>")))
            .collect();
        map.insert(name.as_str().to_owned(), Value::Array(values));
    }
    Value::Object(map)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Byte `i` of every test body: not all one value, so reordered or lost chunks show.
pub fn pattern(length: usize) -> impl Iterator<Item = u8> {
    (0..length).map(|i| (i % 251) as u8)
}

/// [`pattern`] in 64 KiB chunks.
pub fn pattern_stream(
    length: usize,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    const CHUNK: usize = 64 * 1024;
    futures::stream::iter((0..length).step_by(CHUNK).map(move |start| {
        let end = (start + CHUNK).min(length);
        Ok(Bytes::from(
            (start..end).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
        ))
    }))
}

pub fn sha256_of(bytes: impl Iterator<Item = u8>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(bytes.collect::<Vec<_>>());
    hex(&hasher.finalize())
}

pub fn settings(auth: &Url, project: &Url, memory: &Url) -> Settings {
    let mut settings = Settings::new(auth.clone(), project.clone(), memory.clone());
    // Keeps the dead-upstream tests quick; unrelated to what they assert.
    settings.probe_timeout = Duration::from_secs(5);
    settings
}

pub fn common_config() -> CommonConfig {
    CommonConfig {
        app_env: Default::default(),
        log_format: Default::default(),
        request_timeout_secs: 30,
        // As in production: far below the uploads that must pass through.
        body_limit_bytes: 1024 * 1024,
        shutdown_grace_secs: 1,
        ..CommonConfig::default()
    }
}

/// Serves `routes` as a service would (the platform's standard layers, `common_config`'s
/// 1 MiB body limit) on an ephemeral port; returns its base URL.
pub async fn service_with_standard_layers(routes: Router) -> Url {
    let router = platform::http::with_standard_layers(routes, &common_config());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serves") });
    Url::parse(&format!("http://{address}")).expect("url")
}

/// Serves the gateway's router on an ephemeral port; returns its base URL.
pub async fn gateway(settings: &Settings) -> String {
    gateway_with(settings, &common_config()).await
}

/// [`gateway`] with its own platform settings (e.g. a shorter request timeout).
pub async fn gateway_with(settings: &Settings, common: &CommonConfig) -> String {
    let router = gateway::app(settings, common).expect("gateway builds");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(platform::service::serve(
        listener,
        router,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    format!("http://{address}")
}

/// Three echoing services and a gateway in front of them.
pub struct Stack {
    pub auth: Arc<Upstream>,
    pub project: Arc<Upstream>,
    pub memory: Arc<Upstream>,
    pub gateway: String,
}

impl Stack {
    /// A request through the gateway to `path`, to finish and send.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        http_client().request(method, format!("{}{path}", self.gateway))
    }

    /// Requests of any kind that reached any of the stand-in services.
    pub fn requests_reached(&self) -> usize {
        [&self.auth, &self.project, &self.memory]
            .iter()
            .map(|upstream| upstream.all_requests())
            .sum()
    }

    /// `GET path` through the gateway.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("gateway answers")
    }
}

pub async fn stack_with(adjust: impl FnOnce(&mut Settings)) -> Stack {
    let auth = upstream("auth", None, true).await;
    let project = upstream("project", None, true).await;
    let memory = upstream("memory", None, true).await;
    let mut settings = settings(&auth.url, &project.url, &memory.url);
    adjust(&mut settings);
    let gateway = gateway(&settings).await;
    Stack {
        auth,
        project,
        memory,
        gateway,
    }
}

pub async fn stack() -> Stack {
    stack_with(|_| {}).await
}

/// Stand-ins behind a gateway whose upstream timeout is 300 ms and whose own request
/// timeout is 1 s; `adjust` changes the rest.
pub async fn impatient_stack(adjust: impl FnOnce(&mut Settings)) -> Stack {
    let auth = upstream("auth", None, true).await;
    let project = upstream("project", None, true).await;
    let memory = upstream("memory", None, true).await;
    let mut settings = settings(&auth.url, &project.url, &memory.url);
    settings.upstream_timeout = Duration::from_millis(300);
    adjust(&mut settings);
    let common = CommonConfig {
        request_timeout_secs: 1,
        ..common_config()
    };
    let gateway = gateway_with(&settings, &common).await;
    Stack {
        auth,
        project,
        memory,
        gateway,
    }
}
