//! Request bodies a service answered without reading: drained, so the connection survives.
//!
//! A service may answer before reading a body (401 before an upload, 415, 413 while
//! streaming). With bytes of the request still unread, hyper can only close the connection,
//! and a client still writing its body — the gateway streams every body it forwards — sees
//! the connection reset instead of the answer: a 401 becomes the gateway's 502. So, as
//! nginx's lingering close does, the rest of such a body is read and discarded (within
//! [`DRAIN_LIMIT`] and [`DRAIN_TIME`]) before the answer goes out. A body too large or too
//! slow to drain, or still held by a task, gets `Connection: close` on the answer instead,
//! which at least keeps a pooling client from reusing the connection.

use std::{
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::Request,
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};
use futures::StreamExt as _;
use http_body::{Frame, SizeHint};

/// Above the largest body any route accepts (project uploads: 10 MiB), so a refused upload
/// still leaves a usable connection.
pub const DRAIN_LIMIT: usize = 12 * 1024 * 1024;
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

pub async fn drain_unread_body(request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let read_to_end = Arc::new(AtomicBool::new(false));
    let unread = Arc::new(Mutex::new(None));
    let request = request.map(|body| {
        Body::new(Watched {
            inner: Some(body),
            read_to_end: read_to_end.clone(),
            unread: unread.clone(),
        })
    });
    let mut response = next.run(request).await;
    // An answer that closes the connection anyway (a stalled upload's 408) has no use for
    // the rest of the body, and waiting for it would only hold the answer back.
    let closes = response
        .headers()
        .get(header::CONNECTION)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
    if read_to_end.load(Ordering::Acquire) || closes {
        return response;
    }
    let rest = unread.lock().unwrap_or_else(PoisonError::into_inner).take();
    let drained = match rest {
        Some(rest) => drain(rest).await,
        None => false,
    };
    if !drained {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Reads `rest` to its end, discarding it; `false` when it is too large, too slow or broken.
async fn drain(rest: Body) -> bool {
    let mut chunks = rest.into_data_stream();
    let reading = async {
        let mut total = 0usize;
        while let Some(chunk) = chunks.next().await {
            let Ok(chunk) = chunk else { return false };
            total += chunk.len();
            if total > DRAIN_LIMIT {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIME, reading)
        .await
        .unwrap_or(false)
}

/// The request body, noting when its last frame has been taken, and handing back what is
/// left of it when dropped before that.
struct Watched {
    inner: Option<Body>,
    read_to_end: Arc<AtomicBool>,
    unread: Arc<Mutex<Option<Body>>>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(&mut *inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || inner.is_end_stream() {
            self.read_to_end.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if !self.read_to_end.load(Ordering::Acquire) {
            *self.unread.lock().unwrap_or_else(PoisonError::into_inner) = self.inner.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::{Router, http::StatusCode, routing::post};
    use futures::stream;
    use tower::ServiceExt;

    use super::*;

    fn app() -> Router {
        Router::new()
            .route("/ignore", post(|| async { StatusCode::UNAUTHORIZED }))
            .route(
                "/read",
                post(|body: Bytes| async move { body.len().to_string() }),
            )
            .layer(axum::middleware::from_fn(drain_unread_body))
    }

    async fn post_to(path: &str, body: Body) -> Response {
        let request = axum::http::Request::post(path).body(body).expect("request");
        app().oneshot(request).await.expect("infallible")
    }

    fn streamed(chunks: usize) -> Body {
        let chunks = (0..chunks).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"chunk")));
        Body::from_stream(stream::iter(chunks.collect::<Vec<_>>()))
    }

    #[tokio::test]
    async fn the_unread_rest_of_a_body_is_drained_and_the_connection_kept() {
        for body in [Body::from("sized body"), streamed(3)] {
            let response = post_to("/ignore", body).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert!(!response.headers().contains_key(header::CONNECTION));
        }
    }

    #[tokio::test]
    async fn a_body_too_large_to_drain_closes_the_connection() {
        let chunk = Bytes::from(vec![b'x'; 1024 * 1024]);
        let chunks =
            (0..DRAIN_LIMIT / chunk.len() + 2).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
        let response = post_to(
            "/ignore",
            Body::from_stream(stream::iter(chunks.collect::<Vec<_>>())),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::CONNECTION], "close");
    }

    #[tokio::test]
    async fn an_answer_after_the_whole_body_is_untouched() {
        for body in [Body::from("sized body"), streamed(3), Body::empty()] {
            let response = post_to("/read", body).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert!(!response.headers().contains_key(header::CONNECTION));
        }
    }
}
