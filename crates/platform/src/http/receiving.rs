//! A deadline for uploads that counts from the last body bytes received rather than from
//! the request's arrival: see [`allow_while_receiving`].

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::body::{Body, Bytes};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tower::{Layer, Service};

use super::Deadline;

/// A route layer for uploads: while the request body is arriving, each chunk gives the
/// request the service-wide `REQUEST_TIMEOUT_SECS` again from that moment, and so does the
/// body's end (for the work done with it), never beyond `cap` after arrival. A slow but
/// steady upload then finishes however slow the link, while one that stops sending for
/// `REQUEST_TIMEOUT_SECS` is cancelled with a 408 `request_body_timeout`; `cap` bounds how
/// long a trickle of bytes can hold a connection and a handler. Use on the route's
/// `MethodRouter` or handler: `put(upload).layer(allow_while_receiving(cap))`. Without the
/// standard layers' timeout in front it does nothing.
pub fn allow_while_receiving(cap: Duration) -> AllowWhileReceiving {
    AllowWhileReceiving { cap }
}

/// See [`allow_while_receiving`].
#[derive(Debug, Clone, Copy)]
pub struct AllowWhileReceiving {
    cap: Duration,
}

impl<S> Layer<S> for AllowWhileReceiving {
    type Service = AllowWhileReceivingService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AllowWhileReceivingService {
            inner,
            cap: self.cap,
        }
    }
}

/// The service [`AllowWhileReceiving`] wraps a route in.
#[derive(Debug, Clone)]
pub struct AllowWhileReceivingService<S> {
    inner: S,
    cap: Duration,
}

impl<S> Service<axum::http::Request<Body>> for AllowWhileReceivingService<S>
where
    S: Service<axum::http::Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<Body>) -> Self::Future {
        let deadline = request.extensions().get::<Deadline>().cloned();
        let request = match deadline {
            Some(deadline) if !request.body().is_end_stream() => {
                deadline.set_awaiting_body(true);
                let cap = self.cap;
                request.map(|body| {
                    Body::new(Receiving {
                        inner: body,
                        deadline,
                        cap,
                    })
                })
            }
            _ => request,
        };
        self.inner.call(request)
    }
}

/// The request body, moving the deadline on as it arrives.
struct Receiving {
    inner: Body,
    deadline: Deadline,
    cap: Duration,
}

impl HttpBody for Receiving {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(frame) = &polled {
            self.deadline.progressed(self.cap);
            if !matches!(frame, Some(Ok(_))) || self.inner.is_end_stream() {
                self.deadline.set_awaiting_body(false);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A handler that answers without reading the whole body is not waiting for it any more.
impl Drop for Receiving {
    fn drop(&mut self) {
        self.deadline.set_awaiting_body(false);
    }
}

#[cfg(test)]
mod tests {
    use axum::{Router, http::StatusCode, routing::put};

    use super::*;
    use crate::{config::CommonConfig, http::with_standard_layers, test_support::send};

    /// The standard layers with a one-second request timeout around `PUT /`, which reads
    /// the whole body and answers with its length.
    fn app(cap: Duration) -> Router {
        let upload = put(|body: Bytes| async move { body.len().to_string() })
            .layer(allow_while_receiving(cap));
        let config = CommonConfig {
            request_timeout_secs: 1,
            ..CommonConfig::default()
        };
        with_standard_layers(Router::new().route("/", upload), &config)
    }

    /// `chunks` bytes, one every 300 ms, then nothing ever again when `stall`.
    fn trickle(chunks: usize, stall: bool) -> Body {
        let sent = futures::stream::unfold(0, move |n| async move {
            if n == chunks {
                if stall {
                    std::future::pending::<()>().await;
                }
                return None;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), n + 1))
        });
        Body::from_stream(sent)
    }

    async fn put_body(router: Router, body: Body) -> (StatusCode, serde_json::Value) {
        let request = axum::http::Request::put("/").body(body).expect("request");
        send(router, request).await
    }

    #[tokio::test]
    async fn a_steady_body_outlasts_the_request_timeout() {
        let (status, body) = put_body(app(Duration::from_secs(10)), trickle(6, false)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    #[tokio::test]
    async fn a_stalled_body_is_a_json_408() {
        let (status, body) = put_body(app(Duration::from_secs(10)), trickle(2, true)).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body["error"]["code"], "request_body_timeout");
    }

    #[tokio::test]
    async fn a_steady_body_is_still_cut_at_the_cap() {
        let (status, body) = put_body(app(Duration::from_millis(1500)), trickle(10, false)).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body["error"]["code"], "request_body_timeout");
    }
}
