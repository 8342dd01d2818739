//! The gateway's Prometheus series, served on their own port (`GATEWAY_METRICS_ADDR`), never
//! on the public one: the gateway is the edge, and its scrape must not be.
//! (`::metrics` below is the crate.)

use std::{net::SocketAddr, time::Duration};

use axum::http::StatusCode;
use platform::service::StartError;
use tokio::net::TcpListener;

/// Counter, by `upstream` and `outcome`: forwarded requests. The outcome is the upstream's
/// status class (`2xx` … `5xx`) or, when no answer came, the gateway's error code
/// (`upstream_unavailable`, `upstream_timeout`, `upstream_failed`).
pub const UPSTREAM_REQUESTS: &str = "gateway_upstream_requests_total";
/// Histogram, by `upstream`: from forwarding a request to the upstream's response head.
pub const UPSTREAM_DURATION: &str = "gateway_upstream_duration_seconds";

/// Gives the series their `# HELP` lines; needs the recorder, so installs it first.
pub fn describe() {
    platform::metrics::install();
    ::metrics::describe_counter!(
        UPSTREAM_REQUESTS,
        "Requests forwarded to a service, by upstream and outcome"
    );
    ::metrics::describe_histogram!(
        UPSTREAM_DURATION,
        ::metrics::Unit::Seconds,
        "Time from forwarding a request to the service's response head"
    );
}

/// The upstream answered (any status: a 4xx is the service's answer, not a gateway fault).
pub fn answered(upstream: &'static str, status: StatusCode, waited: Duration) {
    let outcome = match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    record(upstream, outcome, waited);
}

/// No answer came; `code` is the gateway error the client got.
pub fn failed(upstream: &'static str, code: &'static str, waited: Duration) {
    record(upstream, code, waited);
}

fn record(upstream: &'static str, outcome: &'static str, waited: Duration) {
    ::metrics::counter!(UPSTREAM_REQUESTS, "upstream" => upstream, "outcome" => outcome)
        .increment(1);
    ::metrics::histogram!(UPSTREAM_DURATION, "upstream" => upstream).record(waited);
}

/// Binds `address` and serves `/metrics` there in the background for the process's life.
pub async fn serve(address: SocketAddr) -> Result<SocketAddr, StartError> {
    let listener = TcpListener::bind(address).await.map_err(|error| {
        StartError::new(format!(
            "cannot listen on GATEWAY_METRICS_ADDR {address}: {error}"
        ))
    })?;
    let bound = listener
        .local_addr()
        .map_err(|error| StartError::new(format!("metrics listener: {error}")))?;
    // The same server loop as the public port (header timeout, connection cap): this port is
    // not public, but anything that can reach it could otherwise hold connections forever.
    let options = platform::service::ServeOptions::new(Duration::ZERO);
    tokio::spawn(async move {
        let forever = std::future::pending();
        let router = platform::metrics::router();
        if let Err(error) = platform::service::serve_with(listener, router, forever, options).await
        {
            tracing::error!(%error, "the metrics listener stopped");
        }
    });
    Ok(bound)
}
