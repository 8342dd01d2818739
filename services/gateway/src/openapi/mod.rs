//! `GET /openapi.json`: the services' documents merged into one ("Swagger aggregation"),
//! fetched concurrently and kept in memory briefly so doc browsing does not fan out.

mod merge;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};
use futures::future::join_all;
use serde_json::Value;
use tokio::sync::Mutex;

pub use merge::{ServiceSpec, merge};

use crate::upstream::{Upstream, Upstreams};

/// A document missing a service is kept for at most this long, so the gap closes soon
/// after the service comes back.
const INCOMPLETE_TTL: Duration = Duration::from_secs(5);

pub struct Aggregator {
    upstreams: Upstreams,
    client: reqwest::Client,
    fetch_timeout: Duration,
    ttl: Duration,
    /// Held while refreshing, so concurrent requests wait for one fetch instead of each
    /// starting their own.
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    document: Bytes,
    expires: Instant,
}

impl Aggregator {
    pub fn new(
        upstreams: Upstreams,
        client: reqwest::Client,
        fetch_timeout: Duration,
        ttl: Duration,
    ) -> Self {
        Self {
            upstreams,
            client,
            fetch_timeout,
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// The merged document as JSON bytes, from memory when fresh.
    pub async fn document(&self) -> Bytes {
        let mut cached = self.cached.lock().await;
        if let Some(entry) = cached.as_ref()
            && Instant::now() < entry.expires
        {
            return entry.document.clone();
        }
        let specs = join_all(self.upstreams.all().map(|upstream| self.fetch(upstream))).await;
        let complete = specs.iter().all(|spec| spec.document.is_ok());
        let merged = merge(specs);
        let document = Bytes::from(serde_json::to_vec(&merged).unwrap_or_default());
        let ttl = if complete {
            self.ttl
        } else {
            self.ttl.min(INCOMPLETE_TTL)
        };
        *cached = Some(Cached {
            document: document.clone(),
            expires: Instant::now() + ttl,
        });
        document
    }

    async fn fetch(&self, upstream: &Upstream) -> ServiceSpec {
        let document = async {
            let answer = self
                .client
                .get(upstream.url("/openapi.json"))
                .timeout(self.fetch_timeout)
                .send()
                .await
                .map_err(|error| {
                    if error.is_timeout() {
                        format!("no answer within {:?}", self.fetch_timeout)
                    } else {
                        "unreachable".to_owned()
                    }
                })?;
            if !answer.status().is_success() {
                return Err(format!("answered {}", answer.status()));
            }
            let document: Value = answer
                .json()
                .await
                .map_err(|_| "answered with something other than JSON".to_owned())?;
            if !document["paths"].is_object() {
                return Err("answered with a document that has no paths".to_owned());
            }
            Ok(document)
        }
        .await;
        if let Err(reason) = &document {
            tracing::warn!(service = upstream.name, reason, "OpenAPI document left out");
        }
        ServiceSpec {
            service: upstream.name,
            document,
        }
    }
}

pub fn router(aggregator: Arc<Aggregator>) -> Router {
    Router::new()
        .route("/openapi.json", get(serve))
        .with_state(aggregator)
}

async fn serve(State(aggregator): State<Arc<Aggregator>>) -> Response {
    let document = aggregator.document().await;
    ([(header::CONTENT_TYPE, "application/json")], document).into_response()
}
