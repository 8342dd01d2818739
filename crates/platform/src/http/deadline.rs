//! The request deadline: when the timeout middleware of [`super::with_standard_layers`]
//! cancels a request, and how one route allows itself longer ([`allow_up_to`], or
//! [`super::allow_while_receiving`] for uploads) without giving up a deadline altogether.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{extract::Request, http::StatusCode, response::Response};
use tokio::time::Instant;
use tower::{Layer, Service};

use crate::error;

/// When the request in hand is cancelled. The timeout middleware puts one into the request's
/// extensions; a route moves it later with [`allow_up_to`] (or a handler with
/// [`Deadline::allow_up_to`]), and the middleware honours the moved deadline.
#[derive(Debug, Clone)]
pub struct Deadline {
    started: Instant,
    /// The service-wide `REQUEST_TIMEOUT_SECS`.
    timeout: Duration,
    at: Arc<Mutex<Instant>>,
    /// Set while a route watching its body ([`super::allow_while_receiving`]) still waits
    /// for the rest of it: cancelled then, the client is the slow side, and is told so.
    awaiting_body: Arc<AtomicBool>,
}

impl Deadline {
    fn starting_now(timeout: Duration) -> Self {
        let started = Instant::now();
        Self {
            started,
            timeout,
            at: Arc::new(Mutex::new(started + timeout)),
            awaiting_body: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Something happened just now (body bytes arrived, or the body ended): the request
    /// gets the service-wide timeout again from now, but never beyond `cap` after arrival.
    pub(super) fn progressed(&self, cap: Duration) {
        let now = Instant::now();
        let mut at = self
            .at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *at = (*at).max((now + self.timeout).min(self.started + cap));
    }

    pub(super) fn set_awaiting_body(&self, awaiting: bool) {
        self.awaiting_body.store(awaiting, Ordering::Release);
    }

    /// The request may run until `limit` after it arrived, if that is later than its
    /// deadline now. Only ever lengthens: a route cannot cut the service-wide timeout short.
    pub fn allow_up_to(&self, limit: Duration) {
        let mut at = self
            .at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *at = (*at).max(self.started + limit);
    }

    /// When the request is cancelled, as things stand.
    pub fn at(&self) -> Instant {
        *self
            .at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long the request may run in all, as things stand.
    pub fn allowed(&self) -> Duration {
        self.at() - self.started
    }
}

/// Runs `request` against a deadline `timeout` from now, which the route may move later
/// (see [`Deadline`]); past the deadline, the handler's future is dropped and the client
/// gets a 503 `timeout`.
pub(super) async fn enforce(
    timeout: Duration,
    mut request: Request,
    next: axum::middleware::Next,
) -> Response {
    let deadline = Deadline::starting_now(timeout);
    request.extensions_mut().insert(deadline.clone());
    let mut running = std::pin::pin!(next.run(request));
    loop {
        let at = deadline.at();
        match tokio::time::timeout_at(at, &mut running).await {
            Ok(response) => return response,
            // Moved while we waited: wait on until the new deadline.
            Err(_) if deadline.at() > at => continue,
            Err(_) if deadline.awaiting_body.load(Ordering::Acquire) => {
                tracing::warn!(allowed = ?deadline.allowed(), "request body stalled");
                let mut response = error::error_response(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_body_timeout",
                    "the request body stopped arriving (or came too slowly) and the request was cancelled",
                );
                // The rest of the body is not worth waiting for (the drain would only wait
                // for it again); the connection goes.
                response.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
                return response;
            }
            Err(_) => {
                tracing::warn!(allowed = ?deadline.allowed(), "request timed out");
                return error::error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    "the request took too long and was cancelled",
                );
            }
        }
    }
}

/// A route layer allowing the requests it wraps up to `limit` from their arrival instead of
/// the service-wide `REQUEST_TIMEOUT_SECS` (never less): for routes such as bulk imports
/// whose work grows with the body. Use on the route's `MethodRouter`:
/// `post(import).layer(allow_up_to(limit))`. Without the standard layers' timeout in front
/// it does nothing.
pub fn allow_up_to(limit: Duration) -> AllowUpTo {
    AllowUpTo { limit }
}

/// See [`allow_up_to`].
#[derive(Debug, Clone, Copy)]
pub struct AllowUpTo {
    limit: Duration,
}

impl<S> Layer<S> for AllowUpTo {
    type Service = AllowUpToService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AllowUpToService {
            inner,
            limit: self.limit,
        }
    }
}

/// The service [`AllowUpTo`] wraps a route in.
#[derive(Debug, Clone)]
pub struct AllowUpToService<S> {
    inner: S,
    limit: Duration,
}

impl<S, B> Service<axum::http::Request<B>> for AllowUpToService<S>
where
    S: Service<axum::http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        if let Some(deadline) = request.extensions().get::<Deadline>() {
            deadline.allow_up_to(self.limit);
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::{Router, body::Body, http::StatusCode, routing::get};
    use tokio::time::Instant;

    use super::allow_up_to;
    use crate::{config::CommonConfig, http::with_standard_layers, test_support::send};

    /// The standard layers with a one-second request timeout around one route at `/` that
    /// answers after `work`, allowed `limit` when given.
    fn app(work: Duration, limit: Option<Duration>) -> Router {
        let slow = get(move || async move {
            tokio::time::sleep(work).await;
            "done"
        });
        let route = match limit {
            Some(limit) => slow.layer(allow_up_to(limit)),
            None => slow,
        };
        let config = CommonConfig {
            request_timeout_secs: 1,
            ..CommonConfig::default()
        };
        with_standard_layers(Router::new().route("/", route), &config)
    }

    /// The status of a `GET /` and how long it took.
    async fn timed(router: Router) -> (StatusCode, serde_json::Value, Duration) {
        let started = Instant::now();
        let request = axum::http::Request::get("/")
            .body(Body::empty())
            .expect("request");
        let (status, body) = send(router, request).await;
        (status, body, started.elapsed())
    }

    #[tokio::test]
    async fn a_slow_route_is_cut_at_the_service_timeout_without_its_own() {
        let (status, body, took) = timed(app(Duration::from_millis(1800), None)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "timeout");
        assert!(took < Duration::from_millis(1600), "{took:?}");
    }

    #[tokio::test]
    async fn a_route_allowed_longer_is_answered_after_the_service_timeout() {
        let work = Duration::from_millis(1800);
        let (status, _, took) = timed(app(work, Some(Duration::from_secs(4)))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(took >= work, "{took:?}");
    }

    #[tokio::test]
    async fn a_route_allowed_longer_is_still_cut_at_its_own_deadline() {
        let limit = Duration::from_secs(2);
        let (status, body, took) = timed(app(Duration::from_secs(10), Some(limit))).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "timeout");
        assert!(
            took >= limit && took < limit + Duration::from_millis(800),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn a_shorter_route_limit_does_not_cut_the_service_timeout_short() {
        let work = Duration::from_millis(500);
        let (status, _, _) = timed(app(work, Some(Duration::from_millis(100)))).await;
        assert_eq!(status, StatusCode::OK);
    }
}
