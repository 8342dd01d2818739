//! The reverse proxy: each API prefix goes to its service, bodies stream through in both
//! directions, and only a missing answer becomes a gateway error.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::{Body, HttpBody},
    extract::{ConnectInfo, DefaultBodyLimit, Request, State},
    http::{Method, header, uri::PathAndQuery},
    response::Response,
    routing::{MethodRouter, any, post, post_service},
};
use platform::{ServiceError as _, client::TrustedProxies};
use tower::ServiceExt as _;

use crate::{
    error::GatewayError,
    headers::{self, Arrival},
    metrics,
    progress::Progress,
    upstream::{Upstream, Upstreams},
};

/// What one forwarding route needs.
#[derive(Clone)]
struct Target {
    upstream: Arc<Upstream>,
    /// The path the route matched on; the upstream URL must stay inside it.
    prefix: &'static str,
    client: reqwest::Client,
    trusted_proxies: TrustedProxies,
    /// For uploads: the upstream timeout, counted from the last body bytes the upstream
    /// took ([`Progress`]) because `client` has no read timeout.
    stall: Option<Duration>,
}

/// Options shared by every forwarding route.
#[derive(Clone)]
pub struct ProxyOptions {
    /// Built by [`crate::upstream::client`], whose read timeout is the upstream timeout.
    pub client: reqwest::Client,
    /// Built by [`crate::upstream::import_client`]: no read timeout, `import_timeout` in all.
    pub import_client: reqwest::Client,
    /// How long a forwarded import may take (`GATEWAY_IMPORT_TIMEOUT_SECS`).
    pub import_timeout: Duration,
    /// Built by [`crate::upstream::upload_client`]: no read timeout, `upload_timeout` in all.
    pub upload_client: reqwest::Client,
    /// How long a forwarded project file upload may take (`GATEWAY_UPLOAD_TIMEOUT_SECS`).
    pub upload_timeout: Duration,
    /// `UPSTREAM_TIMEOUT_SECS`; for uploads counted from the last body bytes sent.
    pub upstream_timeout: Duration,
    /// Peers whose `X-Forwarded-*` headers are extended rather than replaced.
    pub trusted_proxies: TrustedProxies,
}

/// The routes each service owns. A prefix matches itself and everything below it, never a
/// longer word (`/api/projectsX` is the platform's 404).
pub fn router(upstreams: &Upstreams, options: &ProxyOptions) -> Router {
    let target = |upstream: &Upstream, prefix: &'static str, client: &reqwest::Client| Target {
        upstream: Arc::new(upstream.clone()),
        prefix,
        client: client.clone(),
        trusted_proxies: options.trusted_proxies.clone(),
        stall: None,
    };
    let uploads = Target {
        stall: Some(options.upstream_timeout),
        ..target(&upstreams.project, "/api/projects", &options.upload_client)
    };
    let to = |upstream: &Upstream, prefix: &'static str| -> MethodRouter {
        any(forward).with_state(target(upstream, prefix, &options.client))
    };
    let (auth, project, memory) = (
        to(&upstreams.auth, "/api/auth"),
        to(&upstreams.project, "/api/projects"),
        to(&upstreams.memory, "/api/memory"),
    );
    Router::new()
        .route("/api/auth", auth.clone())
        .route("/api/auth/{*rest}", auth)
        .route(
            "/.well-known/jwks.json",
            to(&upstreams.auth, "/.well-known/jwks.json"),
        )
        .route("/api/projects", project.clone())
        .route(
            "/api/projects/{*rest}",
            uploads_or(uploads, options, project),
        )
        .route("/api/memory", memory.clone())
        .route(
            IMPORT,
            import(
                target(&upstreams.memory, "/api/memory", &options.import_client),
                options.import_timeout,
                memory.clone(),
            ),
        )
        .route("/api/memory/{*rest}", memory)
        // Bodies are streamed, never collected, and each service enforces its own limit
        // (project uploads: 10 MiB); the platform's JSON limit must not apply here.
        .layer(DefaultBodyLimit::disable())
}

/// The memory service's import: its answer comes only once the whole body is imported.
const IMPORT: &str = "/api/memory/import";

/// `POST` [`IMPORT`] forwarded with the import client and allowed `import_timeout` (plus a
/// margin, so the client's 504 comes before the platform's 503) instead of the gateway's
/// request timeout; any other method is forwarded as `others` are.
fn import(target: Target, import_timeout: Duration, others: MethodRouter) -> MethodRouter {
    let long = post(forward)
        .with_state(target)
        .layer(platform::http::allow_up_to(import_timeout + IMPORT_MARGIN));
    post_service(long).fallback_service(others)
}

/// What the gateway's own deadline for an import adds to `import_timeout`.
const IMPORT_MARGIN: Duration = Duration::from_secs(5);

/// The project service's routes, with its file uploads (`POST /api/projects/{id}/files`,
/// `PUT /api/projects/{id}/files/{path}`) forwarded to `uploads`: a slow client's body takes
/// minutes, so both the upstream timeout and the gateway's request timeout count from the
/// last body bytes instead of from the start, within `upload_timeout` (plus the margin, so
/// the upstream's answer or the client's 504 comes first). An upstream that stops taking the
/// body, or does not answer once it has it, still gets the 504 after
/// `UPSTREAM_TIMEOUT_SECS`. Everything else is forwarded as `others` are. One route with a
/// choice inside, because the router cannot hold upload routes beside `/api/projects/{*rest}`.
fn uploads_or(uploads: Target, options: &ProxyOptions, others: MethodRouter) -> MethodRouter {
    let allowance = options.upload_timeout + IMPORT_MARGIN;
    let upload: MethodRouter = any(forward)
        .with_state(uploads)
        .layer(platform::http::allow_while_receiving(allowance));
    any(move |request: Request| {
        let chosen = if is_upload(request.method(), request.uri().path()) {
            upload.clone()
        } else {
            others.clone()
        };
        chosen.oneshot(request)
    })
}

/// Whether `method` on `path` is a project file upload: `POST /api/projects/{id}/files` or
/// `PUT /api/projects/{id}/files/{path}`.
fn is_upload(method: &Method, path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/projects/") else {
        return false;
    };
    let Some((_project, below)) = rest.split_once('/') else {
        return false;
    };
    match below.strip_prefix("files") {
        Some("") => method == Method::POST,
        Some(file) => method == Method::PUT && file.len() > 1 && file.starts_with('/'),
        None => false,
    }
}

async fn forward(State(target): State<Target>, request: Request) -> Result<Response, GatewayError> {
    let service = target.upstream.name;
    // Canonical, so an IPv4 client on a dual-stack listener is `10.0.0.1` in the chain and
    // in the trusted-proxy check, not `::ffff:10.0.0.1`.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_canonical());
    let (parts, body) = request.into_parts();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| parts.uri.authority().map(|authority| authority.as_str()));
    let arrival = Arrival {
        peer,
        host,
        from_trusted_proxy: peer.is_some_and(|ip| target.trusted_proxies.contains(ip)),
    };
    let path = parts.uri.path_and_query().map_or("/", PathAndQuery::as_str);
    // `crate::paths` already refused dot segments; this holds even if a form it missed
    // would make the URL parser resolve the path to somewhere else.
    let url = target
        .upstream
        .url_within(path, target.prefix)
        .ok_or(GatewayError::InvalidPath)?;

    let mut outgoing = target
        .client
        .request(parts.method, url)
        .headers(headers::to_upstream(&parts.headers, arrival));
    let progress = Progress::starting_now();
    // An empty body is sent as none at all, not as an empty chunked stream.
    if !body.is_end_stream() {
        let stream = progress.watch(body.into_data_stream());
        outgoing = outgoing.body(reqwest::Body::wrap_stream(stream));
    }

    // The client's read timeout bounds the wait for the response head (and later, for each
    // body chunk); it surfaces as a timeout error, which becomes the 504. An upload's client
    // has none; `stall` does that job from the last body bytes sent.
    let started = Instant::now();
    let sent = match target.stall {
        Some(stall) => progress.unless_stalled(outgoing.send(), stall).await,
        None => Some(outgoing.send().await),
    };
    let Some(sent) = sent else {
        tracing::warn!(service, "upstream took no body and gave no answer in time");
        metrics::failed(service, "upstream_timeout", started.elapsed());
        return Err(GatewayError::Timeout { service });
    };
    let answer = sent.map_err(|error| {
        let failure = GatewayError::from_client_error(service, &error, progress.client_fault());
        let (status, code) = failure.status_and_code();
        if status.is_server_error() {
            tracing::warn!(service, error = %error_chain(&error), "upstream request failed");
        } else {
            tracing::info!(service, code, error = %error_chain(&error), "the client's body failed");
        }
        metrics::failed(service, code, started.elapsed());
        failure
    })?;
    metrics::answered(service, answer.status(), started.elapsed());
    Ok(into_response(answer))
}

/// The upstream's status, end-to-end headers and body stream, as the client's response.
fn into_response(answer: reqwest::Response) -> Response {
    let status = answer.status();
    let headers = headers::end_to_end(answer.headers());
    let mut response = Response::new(Body::from_stream(answer.bytes_stream()));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// reqwest's top-level message is generic ("error sending request"); the cause says why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_file_uploads_get_the_upload_allowance() {
        let upload = [
            (Method::POST, "/api/projects/p1/files"),
            (Method::PUT, "/api/projects/p1/files/a.txt"),
            (Method::PUT, "/api/projects/p1/files/docs/a.txt"),
        ];
        for (method, path) in upload {
            assert!(is_upload(&method, path), "{method} {path}");
        }
        let others = [
            (Method::GET, "/api/projects/p1/files"),
            (Method::PUT, "/api/projects/p1/files"),
            (Method::PUT, "/api/projects/p1/files/"),
            (Method::POST, "/api/projects/p1/files/a.txt"),
            (Method::GET, "/api/projects/p1/files/a.txt"),
            (Method::POST, "/api/projects/p1/filesx"),
            (Method::PUT, "/api/projects/p1/tasks/1"),
            (Method::POST, "/api/projects/files"),
            (Method::POST, "/api/memory/p1/files"),
        ];
        for (method, path) in others {
            assert!(!is_upload(&method, path), "{method} {path}");
        }
    }
}
