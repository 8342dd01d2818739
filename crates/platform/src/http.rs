//! The middleware stack every service router is wrapped in.

mod deadline;
mod receiving;

pub use deadline::{AllowUpTo, AllowUpToService, Deadline, allow_up_to};
pub use receiving::{AllowWhileReceiving, AllowWhileReceivingService, allow_while_receiving};

use std::{any::Any, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath, Request},
    http::HeaderName,
    middleware::{self, Next},
    response::Response,
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    trace::TraceLayer,
};
use tracing::{Span, field};

use crate::{config::CommonConfig, error};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Adds, outermost first: draining request bodies a handler left unread
/// ([`crate::unread_body`]), sensitive-header redaction, request ids (kept from the client or
/// generated, echoed in the response), a trace span per request, panic-to-500, the request
/// timeout (a [`Deadline`] a route may move later with [`allow_up_to`] or
/// [`allow_while_receiving`]) and the body limit. Unknown paths and methods get the JSON error shape.
pub fn with_standard_layers(router: Router, config: &CommonConfig) -> Router {
    let timeout = config.request_timeout();
    router
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            deadline::enforce(timeout, request, next)
        }))
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(crate::unread_body::drain_unread_body))
                .layer(SetSensitiveRequestHeadersLayer::new([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::COOKIE,
                ]))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(record_status),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(panic_response)),
        )
}

fn request_span(request: &Request) -> Span {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path(), MatchedPath::as_str);
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path,
        request_id,
        status = field::Empty,
    )
}

fn record_status<B>(response: &axum::http::Response<B>, latency: Duration, span: &Span) {
    span.record("status", response.status().as_u16());
    tracing::info!(latency_ms = latency.as_millis() as u64, "finished");
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(detail, "handler panicked");
    error::internal_error_response()
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::StatusCode, routing::get};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    fn config(timeout_secs: u64) -> CommonConfig {
        CommonConfig {
            app_env: Default::default(),
            log_format: Default::default(),
            request_timeout_secs: timeout_secs,
            body_limit_bytes: 16,
            shutdown_grace_secs: 1,
            ..CommonConfig::default()
        }
    }

    async fn send(
        router: Router,
        request: axum::http::Request<Body>,
    ) -> (Response<()>, serde_json::Value) {
        let response = router.oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (Response::from_parts(parts, ()), json)
    }

    fn get_request(path: &str) -> axum::http::Request<Body> {
        axum::http::Request::get(path)
            .body(Body::empty())
            .expect("request")
    }

    #[tokio::test]
    async fn unknown_path_is_a_json_404_with_a_request_id() {
        let router = with_standard_layers(Router::new(), &config(5));
        let (response, body) = send(router, get_request("/nope")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
        assert!(response.headers().contains_key(REQUEST_ID));
    }

    #[tokio::test]
    async fn client_request_id_is_echoed() {
        let router =
            with_standard_layers(Router::new().route("/", get(|| async { "hi" })), &config(5));
        let request = axum::http::Request::get("/")
            .header(REQUEST_ID, "abc-123")
            .body(Body::empty())
            .expect("request");
        let (response, _) = send(router, request).await;
        assert_eq!(response.headers()[REQUEST_ID], "abc-123");
    }

    #[tokio::test]
    async fn wrong_method_is_a_json_405() {
        let router =
            with_standard_layers(Router::new().route("/", get(|| async { "hi" })), &config(5));
        let request = axum::http::Request::delete("/")
            .body(Body::empty())
            .expect("request");
        let (response, body) = send(router, request).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }

    #[tokio::test]
    async fn slow_requests_time_out_with_json() {
        let slow = get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        });
        let router = with_standard_layers(Router::new().route("/", slow), &config(0));
        let (response, body) = send(router, get_request("/")).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "timeout");
    }

    #[tokio::test]
    async fn panics_become_json_500_without_details() {
        let router = with_standard_layers(
            Router::new().route(
                "/",
                get(|| async {
                    if true {
                        panic!("secret detail");
                    }
                    "unreachable"
                }),
            ),
            &config(5),
        );
        let (response, body) = send(router, get_request("/")).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("secret detail"));
    }

    #[tokio::test]
    async fn oversized_json_bodies_are_rejected() {
        let router = with_standard_layers(
            Router::new().route(
                "/",
                axum::routing::post(
                    |crate::extract::Json(v): crate::extract::Json<serde_json::Value>| async move {
                        v.to_string()
                    },
                ),
            ),
            &config(5),
        );
        let request = axum::http::Request::post("/")
            .header("content-type", "application/json")
            .body(Body::from(format!("\"{}\"", "x".repeat(64))))
            .expect("request");
        let (response, body) = send(router, request).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error"]["code"], "payload_too_large");
    }
}
